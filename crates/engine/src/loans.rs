//! Term-loan servicing: load a loan, run the pure state machine, and commit its postings,
//! its new state and its event in one envelope of the ledger writer, so money and loan
//! state never disagree in storage.
//!
//! - Ledger accounts: each loan has its own principal, interest, fee and penalty
//!   receivables (opened at disbursement) and an overpayment liability (opened on first
//!   use); income, cash, payee settlement, suspense and write-off expense are shared per
//!   tenant and currency, as a general ledger keeps them. Every id is a UUIDv5, so a loan's
//!   accounts are known without a lookup.
//! - Entry ids are UUIDv5 of the loan and what caused them (`day:<date>` for a closed
//!   business day, `event:<seq>` for a command), so a retried command or a re-run close of
//!   business can never post twice.
//! - Events (`loan_events`) keep what happened besides the calendar; replaying them with the
//!   days in between rebuilds the state at any business date.

pub(crate) mod accounts;
mod application;
mod history;
pub mod links;

pub use history::{net, replay, replay_as_of, reverse_repayment, state_as_of, Replay, Source};

pub use crate::business_day::{business_date, init_business_date};
pub use accounts::{account_id, day_entry_id, event_entry_id, stage_of, RECEIVABLES};
pub use application::{apply_for_loan, Application};

use crate::business_day::DayState;
use crate::colending::reserve;
use crate::{Command, Engine, EngineError};
use accounts::{entry, next_row, open_account, SHARED};
use ledger::{EntryId, EntryRequest, Posting, Side};
use lending::codec::{decode_loan, encode_loan};
use lending::loan::{self, AccountPurpose, Loan, LoanStatus, PayeeAccount, PostingIntent};
use money::{BusinessDate, Currency, Money};
use std::collections::BTreeMap;
use store::{DomainWrite, LoanEvent, LoanRow};
use uuid::Uuid;

const STALE_RETRIES_MAX: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum LoanUseError {
    #[error("no such loan")]
    NotFound,
    #[error("loan is {stage}; this needs {needs}")]
    Stage { stage: String, needs: &'static str },
    #[error("date {got} is not the open business day {open}")]
    NotOpenDay {
        got: BusinessDate,
        open: BusinessDate,
    },
    #[error("{0}")]
    Refused(String),
    /// The Idempotency-Key names an earlier request with another body.
    #[error("{0}")]
    KeyReused(String),
    #[error("close of business is part-way through the day; finish it (puhui cob) and retry")]
    DayClosing,
    /// A credit decision prices one loan only.
    #[error("decision {decision_id} was already used for loan {loan_id}")]
    DecisionUsed { decision_id: String, loan_id: Uuid },
    #[error(transparent)]
    Loan(#[from] loan::LoanError),
    /// Co-lending refused the command (a funder declined at disbursement; nothing booked).
    #[error(transparent)]
    Colending(#[from] crate::colending::ColendingError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

/// A loan as stored and decoded.
#[derive(Clone, Debug)]
pub struct LoanView {
    pub row: LoanRow,
    pub loan: Loan,
}

impl LoanView {
    pub(crate) fn decode(row: LoanRow) -> anyhow::Result<LoanView> {
        let loan = decode_loan(&row.state).map_err(|e| anyhow::anyhow!("loan {}: {e}", row.id))?;
        Ok(LoanView { row, loan })
    }

    pub fn currency(&self) -> Currency {
        self.loan.config.principal.currency()
    }
}

/// Postings of each business day that had any.
pub type DayPostings = Vec<(BusinessDate, Vec<PostingIntent>)>;

/// Moves a loan day by day to `to`, as close of business would, with each day's postings.
pub fn advance_to(
    mut loan: Loan,
    to: BusinessDate,
) -> Result<(Loan, DayPostings), loan::LoanError> {
    let mut days = Vec::new();
    while loan.business_date < to {
        let next = loan.business_date.succ();
        let (state, intents) = loan::apply(&loan, &loan::Command::AdvanceDay, next)?;
        loan = state;
        if !intents.is_empty() {
            days.push((next, intents));
        }
    }
    Ok((loan, days))
}

/// Early warning may have stopped the borrower from new loans (`monitor`).
pub(crate) async fn refuse_halted(engine: &Engine, borrower: &str) -> Result<(), LoanUseError> {
    let Ok(customer) = Uuid::parse_str(borrower) else {
        return Ok(());
    };
    if crate::monitor::halts::halted(engine, customer).await? {
        return Err(LoanUseError::Refused(crate::monitor::halts::refusal(
            customer,
        )));
    }
    Ok(())
}

async fn open_day(engine: &Engine) -> Result<BusinessDate, LoanUseError> {
    business_date(engine)
        .await?
        .ok_or_else(|| LoanUseError::Refused("no business date is open yet".into()))
}

/// Applies, approves and disburses in one envelope: for onboarding a book of loans decided
/// elsewhere (a migration, a partner's approved batch, benchmarks).
pub async fn originate(
    engine: &Engine,
    a: Application,
    payee: Option<String>,
    date: BusinessDate,
    key: Uuid,
) -> Result<LoanView, LoanUseError> {
    let _admitted = engine
        .admit(crate::controls::Admission::Loan {
            tenant: &a.tenant,
            product_id: a.product_id,
        })
        .await?;
    let _day = enter_loan_day(engine).await?;
    refuse_halted(engine, &a.borrower).await?;
    // A loan disbursed on an earlier day would start with days no close of business saw.
    let open = open_day(engine).await?;
    if date != open {
        return Err(LoanUseError::NotOpenDay { got: date, open });
    }
    // As when applying: a decision prices one loan, checked and linked in one step.
    let _uses = match &a.decision_id {
        Some(d) => {
            let uses = engine.decision_uses().lock().await;
            links::check_unused(engine, d, a.id).await?;
            Some(uses)
        }
        None => None,
    };
    let signed = Loan::signed(a.config, date);
    let state = encode_loan(&signed);
    let row = LoanRow {
        id: a.id,
        partition: store::loan_partition(a.id),
        tenant: a.tenant,
        borrower: a.borrower,
        product_id: a.product_id,
        product_version: a.product_version,
        stage: "approved".into(),
        day: date.to_epoch_days(),
        open: false,
        version: 0,
        dpd: 0,
        state: state.clone(),
    };
    let signed_event = LoanEvent {
        loan_id: a.id,
        seq: 0,
        day: row.day,
        kind: "signed".into(),
        body: state,
    };
    let view = LoanView { row, loan: signed };
    let (commands, mut domain, after) = plan_action(
        &view,
        std::slice::from_ref(&signed_event),
        &Action::Disburse { payee },
        date,
        key,
    )?;
    for w in &mut domain {
        if let DomainWrite::Loan {
            expected_version, ..
        } = w
        {
            *expected_version = None;
        }
    }
    domain.push(DomainWrite::LoanEvent(signed_event));
    if let Some(d) = &a.decision_id {
        domain.extend(links::link_writes(a.id, d));
    }
    // Co-lending hook: a co-lent loan's funders and positions join this submission. A
    // funder's day document written by an origination queued before this one that then
    // failed makes this one stale: it chooses again.
    let (mut commands, mut domain) = (commands, domain);
    let mut stale = None;
    for _ in 0..ORIGINATION_ATTEMPTS {
        let base = (commands.len(), domain.len());
        let reserved = crate::colending::loan_hook::attach(
            engine,
            &view.row,
            &after.loan,
            &[],
            date,
            &mut commands,
            &mut domain,
        )
        .await?;
        let Some(reserved) = reserved else {
            engine.submit_waiting(commands, domain).await?;
            return Ok(after);
        };
        // Only a co-lent origination can find a day document stale, so only it keeps its
        // writes as they were before the hook, to choose again.
        let again = (commands[..base.0].to_vec(), domain[..base.1].to_vec());
        match reserved.submit(engine, commands, domain, true).await {
            Ok(_) => return Ok(after),
            Err(e @ EngineError::StaleDoc { .. }) => {
                stale = Some(e);
                (commands, domain) = again;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(stale.expect("every attempt was stale").into())
}

/// Choices of funders an origination makes before giving up (each after a stale write).
const ORIGINATION_ATTEMPTS: usize = 8;

/// The loan at the open business day. An open loan's row may be older: close of business
/// leaves a loan's row alone on a day that only accrues interest, and books that day's
/// accrual in its partition's sum (`close_business_day`), so the days since the row was
/// written are quiet and have a closed form.
pub async fn load(engine: &Engine, id: Uuid) -> Result<LoanView, LoanUseError> {
    let row = engine
        .store()
        .loan(id)
        .await?
        .ok_or(LoanUseError::NotFound)?;
    let mut view = LoanView::decode(row)?;
    if view.loan.status == LoanStatus::Active {
        if let Some(open) = business_date(engine).await? {
            catch_up_quietly(&mut view.loan, open)?;
        }
    }
    Ok(view)
}

/// Moves an open loan over days that close of business booked in its partition's sums.
pub(crate) fn catch_up_quietly(loan: &mut Loan, to: BusinessDate) -> anyhow::Result<()> {
    let from = loan.business_date;
    loan::fast_forward(loan, to).ok_or_else(|| {
        anyhow::anyhow!(
            "a loan's row is at {from}, behind {to}, over a day that was not quiet: \
             close of business should have written it"
        )
    })
}

/// Loan commands wait while close of business runs in this process; after a crash part-way
/// through a day they are refused until the day is closed, because the closed partitions
/// booked their quiet loans' accrual for the next day from the loans as they were.
async fn enter_loan_day(
    engine: &Engine,
) -> Result<tokio::sync::RwLockReadGuard<'_, ()>, LoanUseError> {
    let guard = engine.loan_day().shared().await;
    let mut state = engine.loan_day().state();
    if state == DayState::Unknown {
        let open = open_day(engine).await?;
        let closed = engine.store().cob_done(open.succ().to_epoch_days()).await?;
        state = match closed.is_empty() {
            true => DayState::Whole,
            false => DayState::PartWay,
        };
        engine.loan_day().set_state(state);
    }
    match state {
        DayState::Whole => Ok(guard),
        _ => Err(LoanUseError::DayClosing),
    }
}

/// `applied` → `approved` or `declined`; repeating the same decision is a no-op.
pub async fn decide(engine: &Engine, id: Uuid, approve: bool) -> Result<LoanView, LoanUseError> {
    let to = if approve { "approved" } else { "declined" };
    for _ in 0..STALE_RETRIES_MAX {
        let view = load(engine, id).await?;
        if view.row.stage == to {
            return Ok(view);
        }
        if view.row.stage != "applied" {
            return Err(LoanUseError::Stage {
                stage: view.row.stage,
                needs: "applied",
            });
        }
        let row = LoanRow {
            stage: to.into(),
            version: view.row.version + 1,
            ..view.row.clone()
        };
        let write = DomainWrite::Loan {
            row: row.clone(),
            expected_version: Some(view.row.version),
        };
        match engine.submit_with(Vec::new(), vec![write]).await {
            Ok(_) => {
                return Ok(LoanView {
                    row,
                    loan: view.loan,
                })
            }
            Err(EngineError::StaleLoan { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(EngineError::StaleLoan { id }.into())
}

// ---------------------------------------------------------------------------------------
// Money-moving commands

/// A command from a borrower or an operator, with the request's idempotency key.
#[derive(Clone, Debug)]
pub enum Action {
    Disburse {
        payee: Option<String>,
    },
    Repay {
        amount: Money,
    },
    PrepayFull {
        amount: Money,
    },
    PrepayPartial {
        amount: Money,
    },
    /// Pays the overpayment credit back to the borrower.
    Refund {
        amount: Money,
    },
    /// Cash recovered on a written-off loan.
    Recover {
        amount: Money,
    },
}

impl Action {
    fn kind(&self) -> &'static str {
        match self {
            Action::Disburse { .. } => "disburse",
            Action::Repay { .. } => "repay",
            Action::PrepayFull { .. } => "prepay_full",
            Action::PrepayPartial { .. } => "prepay_partial",
            Action::Refund { .. } => "refund",
            Action::Recover { .. } => "recover",
        }
    }

    fn encode(&self, key: Uuid) -> Vec<u8> {
        let mut b = key.as_bytes().to_vec();
        match self {
            Action::Disburse { payee } => b.extend(payee.as_deref().unwrap_or("").as_bytes()),
            Action::Repay { amount }
            | Action::PrepayFull { amount }
            | Action::PrepayPartial { amount }
            | Action::Refund { amount }
            | Action::Recover { amount } => b.extend(amount.amount_minor().to_le_bytes()),
        }
        b
    }

    fn decode(kind: &str, body: &[u8], currency: Currency) -> anyhow::Result<Action> {
        anyhow::ensure!(body.len() >= 16, "event body too short");
        let rest = &body[16..];
        let amount = || -> anyhow::Result<Money> {
            let raw: [u8; 8] = rest.try_into().map_err(|_| anyhow::anyhow!("amount"))?;
            Ok(Money::from_minor(i64::from_le_bytes(raw), currency))
        };
        Ok(match kind {
            "disburse" => Action::Disburse {
                payee: Some(String::from_utf8(rest.to_vec())?).filter(|p| !p.is_empty()),
            },
            "repay" => Action::Repay { amount: amount()? },
            "prepay_full" => Action::PrepayFull { amount: amount()? },
            "prepay_partial" => Action::PrepayPartial { amount: amount()? },
            "refund" => Action::Refund { amount: amount()? },
            "recover" => Action::Recover { amount: amount()? },
            other => anyhow::bail!("unknown loan event kind {other}"),
        })
    }

    fn command(&self) -> loan::Command {
        match self {
            Action::Disburse { payee } => loan::Command::Disburse {
                payee: payee.clone().map(PayeeAccount),
            },
            Action::Repay { amount } => loan::Command::Repay { amount: *amount },
            Action::PrepayFull { amount } => loan::Command::PrepayFull { amount: *amount },
            Action::PrepayPartial { amount } => loan::Command::PrepayPartial { amount: *amount },
            Action::Refund { amount } => loan::Command::Refund { amount: *amount },
            Action::Recover { amount } => loan::Command::Recover { amount: *amount },
        }
    }

    /// The money of the request, to compare a retry's currency with the loan's (the event
    /// body keeps only the amount: a loan has one currency).
    fn currency(&self) -> Option<Currency> {
        match self {
            Action::Disburse { .. } => None,
            Action::Repay { amount }
            | Action::PrepayFull { amount }
            | Action::PrepayPartial { amount }
            | Action::Refund { amount }
            | Action::Recover { amount } => Some(amount.currency()),
        }
    }
}

/// Whether a request under an already used key is the same request: same kind and body
/// (amount, payee) and, for money, the loan's currency. Anything else is refused, since
/// answering with the first request's result would tell the client its new one was done.
fn same_request(stored: &LoanEvent, action: &Action, key: Uuid, currency: Currency) -> bool {
    stored.kind == action.kind()
        && stored.body == action.encode(key)
        && action.currency().is_none_or(|c| c == currency)
}

fn key_reused(key: Uuid, stored: &LoanEvent) -> LoanUseError {
    LoanUseError::KeyReused(format!(
        "Idempotency-Key {key} was used for another request on this loan (a {} with another \
         body); use a new key for a new request",
        stored.kind
    ))
}

fn event_key(e: &LoanEvent) -> Option<Uuid> {
    (e.kind != "signed")
        .then(|| e.body.get(..16).and_then(|b| Uuid::from_slice(b).ok()))
        .flatten()
}

/// Carries out `action` on the open business day `date`. Retrying with the same key
/// returns the loan without doing it again.
pub async fn execute(
    engine: &Engine,
    id: Uuid,
    action: Action,
    date: BusinessDate,
    key: Uuid,
) -> Result<(LoanView, bool), LoanUseError> {
    // A disbursement is an origination: checked against the halts before any other lock.
    let _admitted = match action {
        Action::Disburse { .. } => engine.admit_loan(id).await?,
        _ => None,
    };
    let _day = enter_loan_day(engine).await?;
    let open = open_day(engine).await?;
    for _ in 0..STALE_RETRIES_MAX {
        let view = load(engine, id).await?;
        let events = engine.store().loan_events(id).await?;
        if let Some(e) = events.iter().find(|e| event_key(e) == Some(key)) {
            if !same_request(e, &action, key, view.currency()) {
                return Err(key_reused(key, e));
            }
            return Ok((view, true));
        }
        if date != open {
            return Err(LoanUseError::NotOpenDay { got: date, open });
        }
        let needs_approved = matches!(action, Action::Disburse { .. });
        let refund = matches!(action, Action::Refund { .. });
        let recover = matches!(action, Action::Recover { .. });
        match (view.row.stage.as_str(), needs_approved) {
            ("approved", true) => {}
            // What is left of the credit goes back to the borrower whenever asked.
            ("active" | "paid_off" | "written_off", false) if refund => {}
            // Cash recovered after a write-off, as an operator books it.
            ("written_off", false) if recover => {}
            (_, false) if recover => {
                return Err(LoanUseError::Stage {
                    stage: view.row.stage.clone(),
                    needs: "a written-off loan",
                })
            }
            (_, true) => {
                return Err(LoanUseError::Stage {
                    stage: view.row.stage.clone(),
                    needs: "approved",
                })
            }
            ("active", false) => {}
            // Money for a closed loan is refused rather than parked: an operator decides
            // what a recovery settles, and a paid-off loan owes nothing.
            (_, false) => {
                return Err(LoanUseError::Stage {
                    stage: view.row.stage.clone(),
                    needs: "an active loan",
                })
            }
        }
        let (mut commands, mut domain, after) = plan_action(&view, &events, &action, date, key)?;
        // Co-lending hook: a co-lent loan's positions move in this same submission.
        let reserved = crate::colending::loan_hook::attach(
            engine,
            &view.row,
            &after.loan,
            &events,
            date,
            &mut commands,
            &mut domain,
        )
        .await?;
        match reserve::submit(engine, reserved, commands, domain, false).await {
            Ok(_) => return Ok((after, false)),
            Err(EngineError::StaleLoan { .. } | EngineError::StaleDoc { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(EngineError::StaleLoan { id }.into())
}

/// The event a request with `key` created on loan `id` (a repayment's id).
pub async fn event_seq_for_key(engine: &Engine, id: Uuid, key: Uuid) -> Result<i32, LoanUseError> {
    engine
        .store()
        .loan_events(id)
        .await?
        .iter()
        .find(|e| event_key(e) == Some(key))
        .map(|e| e.seq)
        .ok_or_else(|| LoanUseError::Refused(format!("no event with key {key}")))
}

type Plan = (Vec<Command>, Vec<DomainWrite>, LoanView);

fn plan_action(
    view: &LoanView,
    events: &[LoanEvent],
    action: &Action,
    date: BusinessDate,
    key: Uuid,
) -> Result<Plan, LoanUseError> {
    let row = &view.row;
    let currency = view.currency();
    // A closed loan is not visited by close of business; bring its calendar up to date
    // (an open one is already there, and the day entries' ids keep this idempotent).
    let (caught_up, days) = advance_to(view.loan.clone(), date)?;
    let (after, intents) = loan::apply(&caught_up, &action.command(), date)?;
    let seq = events.last().map_or(0, |e| e.seq) + 1;
    let mut commands = Vec::new();
    if matches!(action, Action::Disburse { .. }) {
        for p in RECEIVABLES.iter().chain(SHARED.iter()) {
            commands.push(open_account(row, currency, *p));
        }
    }
    // Accounts a loan needs only once it has such money, opened by the first command that
    // moves it (the opening is idempotent).
    let lazy = [AccountPurpose::Overpayment, AccountPurpose::RecoveryIncome];
    let touched = lazy
        .into_iter()
        .filter(|&p| intents.iter().any(|i| i.debit == p || i.credit == p));
    for p in touched {
        commands.push(open_account(row, currency, p));
    }
    for (day, day_intents) in &days {
        commands.extend(
            entry(
                row,
                currency,
                day_entry_id(row.id, *day),
                day_intents,
                format!("loan {} day {day}", row.id),
            )
            .map(Command::Entry),
        );
    }
    commands.extend(
        entry(
            row,
            currency,
            event_entry_id(row.id, seq),
            &intents,
            format!("loan {} {}", row.id, action.kind()),
        )
        .map(Command::Entry),
    );
    let new_row = next_row(row, &after);
    let domain = vec![
        DomainWrite::Loan {
            row: new_row.clone(),
            expected_version: Some(row.version),
        },
        DomainWrite::LoanEvent(LoanEvent {
            loan_id: row.id,
            seq,
            day: date.to_epoch_days(),
            kind: action.kind().into(),
            body: action.encode(key),
        }),
    ];
    Ok((
        commands,
        domain,
        LoanView {
            row: new_row,
            loan: after,
        },
    ))
}
