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

use crate::{Command, Engine, EngineError};
use anyhow::Context;
use ledger::{AccountId, EntryId, EntryRequest, Posting, Side};
use lending::codec::{decode_loan, encode_loan};
use lending::loan::{self, AccountPurpose, Loan, LoanStatus, PayeeAccount, PostingIntent};
use money::{BusinessDate, Currency, Money};
use std::collections::BTreeMap;
use store::{DomainWrite, LoanEvent, LoanRow};
use uuid::Uuid;

/// Namespace of every id derived here.
const NS: Uuid = Uuid::from_u128(0x6f1d_5e0a_93b4_4c55_a7a2_1e0c_52d9_8b31);
const BUSINESS_DATE_KEY: &str = "business_date";
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
    #[error(transparent)]
    Loan(#[from] loan::LoanError),
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

fn purpose_name(p: AccountPurpose) -> &'static str {
    match p {
        AccountPurpose::PrincipalReceivable => "principal_receivable",
        AccountPurpose::InterestReceivable => "interest_receivable",
        AccountPurpose::FeeReceivable => "fee_receivable",
        AccountPurpose::PenaltyReceivable => "penalty_receivable",
        AccountPurpose::InterestIncome => "interest_income",
        AccountPurpose::FeeIncome => "fee_income",
        AccountPurpose::PenaltyIncome => "penalty_income",
        AccountPurpose::BorrowerCash => "cash_clearing",
        AccountPurpose::PayeeSettlement => "payee_settlement",
        AccountPurpose::Suspense => "suspense",
        AccountPurpose::WriteOffExpense => "write_off_expense",
        AccountPurpose::Overpayment => "overpayment_liability",
        AccountPurpose::AccruedInterest => "accrued_interest",
    }
}

pub const RECEIVABLES: [AccountPurpose; 4] = [
    AccountPurpose::PrincipalReceivable,
    AccountPurpose::InterestReceivable,
    AccountPurpose::FeeReceivable,
    AccountPurpose::PenaltyReceivable,
];

const SHARED: [AccountPurpose; 8] = [
    AccountPurpose::AccruedInterest,
    AccountPurpose::InterestIncome,
    AccountPurpose::FeeIncome,
    AccountPurpose::PenaltyIncome,
    AccountPurpose::BorrowerCash,
    AccountPurpose::PayeeSettlement,
    AccountPurpose::Suspense,
    AccountPurpose::WriteOffExpense,
];

fn per_loan(p: AccountPurpose) -> bool {
    RECEIVABLES.contains(&p) || p == AccountPurpose::Overpayment
}

fn normal_side(p: AccountPurpose) -> Side {
    match p {
        AccountPurpose::PrincipalReceivable
        | AccountPurpose::InterestReceivable
        | AccountPurpose::FeeReceivable
        | AccountPurpose::PenaltyReceivable
        | AccountPurpose::AccruedInterest
        | AccountPurpose::BorrowerCash
        | AccountPurpose::WriteOffExpense => Side::Debit,
        _ => Side::Credit,
    }
}

/// The ledger account of `purpose` for loan `loan_id` (or the shared one of its tenant).
///
/// A loan's own accounts get ids that sort by partition: `[partition, 14 bytes of
/// UUIDv5(loan, "accounts"), purpose]`. Close of business works one partition at a time,
/// so the balance rows and posting-index entries a group writes stay within one
/// partition's stretch of the tables instead of all over them. (Were two loans' 112-bit
/// hashes ever equal, the second opening would be refused as an id conflict, not merged.)
pub fn account_id(
    loan_id: Uuid,
    tenant: &str,
    currency: Currency,
    purpose: AccountPurpose,
) -> AccountId {
    let name = purpose_name(purpose);
    AccountId(if per_loan(purpose) {
        let mut b = [0u8; 16];
        b[0] = store::loan_partition(loan_id) as u8;
        b[1..15].copy_from_slice(&Uuid::new_v5(&loan_id, b"accounts").as_bytes()[..14]);
        b[15] = purpose as u8;
        Uuid::from_bytes(b)
    } else {
        Uuid::new_v5(
            &NS,
            format!("gl:{tenant}:{}:{name}", currency.code()).as_bytes(),
        )
    })
}

fn open_account(row: &LoanRow, currency: Currency, p: AccountPurpose) -> Command {
    Command::OpenAccount {
        id: account_id(row.id, &row.tenant, currency, p),
        tenant: row.tenant.clone(),
        owner: if per_loan(p) {
            format!("loan:{}", row.id)
        } else {
            "platform".to_string()
        },
        purpose: purpose_name(p).to_string(),
        currency,
        normal_side: normal_side(p),
        constraint: None,
    }
}

/// The entry of one loan's business day: `[day (4 bytes, big-endian), partition, 11 bytes
/// of UUIDv5(loan, day)]`, so a day's entries sort together, in the order close of
/// business writes them, and the entry-id index grows at its end instead of everywhere.
pub fn day_entry_id(loan_id: Uuid, day: BusinessDate) -> EntryId {
    dated_entry_id(loan_id, day, "day")
}

fn dated_entry_id(loan_id: Uuid, day: BusinessDate, name: &str) -> EntryId {
    let hash = Uuid::new_v5(&loan_id, format!("{name}:{day}").as_bytes());
    day_partition_id(day, store::loan_partition(loan_id), hash)
}

/// `[day (u32 BE), partition, 11 bytes of hash]`.
fn day_partition_id(day: BusinessDate, partition: i32, hash: Uuid) -> EntryId {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&(day.to_epoch_days() as u32).to_be_bytes());
    b[4] = partition as u8;
    b[5..].copy_from_slice(&hash.as_bytes()[..11]);
    EntryId(Uuid::from_bytes(b))
}

pub fn event_entry_id(loan_id: Uuid, seq: i32) -> EntryId {
    EntryId(Uuid::new_v5(&loan_id, format!("event:{seq}").as_bytes()))
}

fn entry(
    row: &LoanRow,
    currency: Currency,
    id: EntryId,
    intents: &[PostingIntent],
    memo: String,
) -> Option<EntryRequest> {
    if intents.is_empty() {
        return None;
    }
    let account = |p| account_id(row.id, &row.tenant, currency, p);
    let mut postings = Vec::with_capacity(intents.len() * 2);
    for i in intents {
        assert!(
            i.amount_minor > 0,
            "the state machine posts positive amounts"
        );
        postings.push(Posting {
            account_id: account(i.debit),
            direction: Side::Debit,
            amount_minor: i.amount_minor,
        });
        postings.push(Posting {
            account_id: account(i.credit),
            direction: Side::Credit,
            amount_minor: i.amount_minor,
        });
    }
    Some(EntryRequest {
        id,
        currency,
        postings,
        memo,
    })
}

pub fn stage_of(loan: &Loan, pre_disbursement_stage: &str) -> String {
    match loan.status {
        LoanStatus::Signed => pre_disbursement_stage.to_string(),
        LoanStatus::Active => "active".into(),
        LoanStatus::PaidOff => "paid_off".into(),
        LoanStatus::WrittenOff => "written_off".into(),
    }
}

fn next_row(old: &LoanRow, loan: &Loan) -> LoanRow {
    LoanRow {
        stage: stage_of(loan, &old.stage),
        day: loan.business_date.to_epoch_days(),
        open: loan.status == LoanStatus::Active,
        version: old.version + 1,
        state: encode_loan(loan),
        ..old.clone()
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

// ---------------------------------------------------------------------------------------
// Business date

pub async fn business_date(engine: &Engine) -> anyhow::Result<Option<BusinessDate>> {
    if let Some(day) = engine.cached_open_day() {
        return Ok(BusinessDate::from_epoch_days(day));
    }
    match engine.store().meta(BUSINESS_DATE_KEY).await? {
        None => Ok(None),
        Some(raw) => {
            let date = parse_business_date(raw)?;
            engine.cache_open_day(date.to_epoch_days());
            Ok(Some(date))
        }
    }
}

fn parse_business_date(raw: Vec<u8>) -> anyhow::Result<BusinessDate> {
    String::from_utf8(raw)?
        .parse()
        .map_err(|e| anyhow::anyhow!("stored business date: {e:?}"))
}

/// Sets the first business date of a new installation; later calls leave it alone.
pub async fn init_business_date(
    engine: &Engine,
    date: BusinessDate,
) -> anyhow::Result<BusinessDate> {
    let raw = engine
        .store()
        .meta_init(BUSINESS_DATE_KEY, date.to_string().into_bytes())
        .await?;
    let open = parse_business_date(raw)?;
    engine.cache_open_day(open.to_epoch_days());
    Ok(open)
}

async fn open_day(engine: &Engine) -> Result<BusinessDate, LoanUseError> {
    business_date(engine)
        .await?
        .ok_or_else(|| LoanUseError::Refused("no business date is open yet".into()))
}

// ---------------------------------------------------------------------------------------
// Applications

pub struct Application {
    pub id: Uuid,
    pub tenant: String,
    pub borrower: String,
    pub product_id: Uuid,
    pub product_version: i32,
    pub config: loan::LoanConfig,
}

/// Records an application (no money moves). Retrying the same id returns the stored loan.
pub async fn apply_for_loan(
    engine: &Engine,
    a: Application,
) -> Result<(LoanView, bool), LoanUseError> {
    if let Some(row) = engine.store().loan(a.id).await? {
        let view = LoanView::decode(row)?;
        let same = view.row.borrower == a.borrower
            && view.row.product_id == a.product_id
            && view.loan.config == a.config;
        if !same {
            return Err(LoanUseError::Refused(format!(
                "loan {} exists with other terms",
                a.id
            )));
        }
        return Ok((view, true));
    }
    let today = open_day(engine).await?;
    let signed = Loan::signed(a.config, today);
    let state = encode_loan(&signed);
    let row = LoanRow {
        id: a.id,
        partition: store::loan_partition(a.id),
        tenant: a.tenant,
        borrower: a.borrower,
        product_id: a.product_id,
        product_version: a.product_version,
        stage: "applied".into(),
        day: today.to_epoch_days(),
        open: false,
        version: 1,
        state: state.clone(),
    };
    let event = LoanEvent {
        loan_id: a.id,
        seq: 0,
        day: row.day,
        kind: "signed".into(),
        body: state,
    };
    let domain = vec![
        DomainWrite::Loan {
            row: row.clone(),
            expected_version: None,
        },
        DomainWrite::LoanEvent(event),
    ];
    engine.submit_with(Vec::new(), domain).await?;
    Ok((LoanView { row, loan: signed }, false))
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
    let _day = enter_loan_day(engine).await?;
    // A loan disbursed on an earlier day would start with days no close of business saw.
    let open = open_day(engine).await?;
    if date != open {
        return Err(LoanUseError::NotOpenDay { got: date, open });
    }
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
    engine.submit_waiting(commands, domain).await?;
    Ok(after)
}

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
fn catch_up_quietly(loan: &mut Loan, to: BusinessDate) -> anyhow::Result<()> {
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
    let guard = engine.loan_day_shared().await;
    let mut state = engine.loan_day_state();
    if state == crate::DAY_UNKNOWN {
        let open = open_day(engine).await?;
        let closed = engine.store().cob_done(open.succ().to_epoch_days()).await?;
        state = match closed.is_empty() {
            true => crate::DAY_WHOLE,
            false => crate::DAY_PART_WAY,
        };
        engine.set_loan_day_state(state);
    }
    match state {
        crate::DAY_WHOLE => Ok(guard),
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
}

impl Action {
    fn kind(&self) -> &'static str {
        match self {
            Action::Disburse { .. } => "disburse",
            Action::Repay { .. } => "repay",
            Action::PrepayFull { .. } => "prepay_full",
            Action::PrepayPartial { .. } => "prepay_partial",
            Action::Refund { .. } => "refund",
        }
    }

    fn encode(&self, key: Uuid) -> Vec<u8> {
        let mut b = key.as_bytes().to_vec();
        match self {
            Action::Disburse { payee } => b.extend(payee.as_deref().unwrap_or("").as_bytes()),
            Action::Repay { amount }
            | Action::PrepayFull { amount }
            | Action::PrepayPartial { amount }
            | Action::Refund { amount } => b.extend(amount.amount_minor().to_le_bytes()),
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
            | Action::Refund { amount } => Some(amount.currency()),
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
        match (view.row.stage.as_str(), needs_approved) {
            ("approved", true) => {}
            // What is left of the credit goes back to the borrower whenever asked.
            ("active" | "paid_off" | "written_off", false) if refund => {}
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
        let (commands, domain, after) = plan_action(&view, &events, &action, date, key)?;
        match engine.submit_with(commands, domain).await {
            Ok(_) => return Ok((after, false)),
            Err(EngineError::StaleLoan { .. }) => continue,
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
    let touched: Vec<AccountPurpose> = intents
        .iter()
        .flat_map(|i| [i.debit, i.credit])
        .filter(|p| *p == AccountPurpose::Overpayment)
        .take(1)
        .collect();
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

// ---------------------------------------------------------------------------------------
// Replay and reversal

/// Where a replayed posting came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Day(BusinessDate),
    Event(i32),
}

pub struct Replay {
    pub loan: Loan,
    pub journal: Vec<(Source, Vec<PostingIntent>)>,
}

/// Events that were reversed, by seq.
fn reversed_seqs(events: &[LoanEvent]) -> Vec<i32> {
    events
        .iter()
        .filter(|e| e.kind == "reversal")
        .filter_map(|e| {
            e.body
                .get(16..20)
                .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")))
        })
        .collect()
}

/// Rebuilds a loan from its events, skipping reversed ones and `skip`, up to `until`.
pub fn replay(
    events: &[LoanEvent],
    until: BusinessDate,
    skip: Option<i32>,
) -> anyhow::Result<Replay> {
    let first = events
        .first()
        .filter(|e| e.kind == "signed")
        .ok_or_else(|| anyhow::anyhow!("a loan's first event is its signing"))?;
    let mut loan = decode_loan(&first.body)?;
    anyhow::ensure!(
        until >= loan.business_date,
        "{until} is before the loan was signed"
    );
    let currency = loan.config.principal.currency();
    let reversed = reversed_seqs(events);
    let mut journal = Vec::new();
    for e in &events[1..] {
        let day =
            BusinessDate::from_epoch_days(e.day).ok_or_else(|| anyhow::anyhow!("event day"))?;
        if day > until {
            break;
        }
        if e.kind == "reversal" || reversed.contains(&e.seq) || skip == Some(e.seq) {
            continue;
        }
        let (state, days) = advance_to(loan, day)?;
        journal.extend(days.into_iter().map(|(d, i)| (Source::Day(d), i)));
        let action = Action::decode(&e.kind, &e.body, currency)?;
        let (state, intents) = loan::apply(&state, &action.command(), day)?;
        journal.push((Source::Event(e.seq), intents));
        loan = state;
    }
    let (loan, days) = advance_to(loan, until)?;
    journal.extend(days.into_iter().map(|(d, i)| (Source::Day(d), i)));
    Ok(Replay { loan, journal })
}

/// Net debit-minus-credit per purpose of a journal.
pub fn net(
    journal: &[(Source, Vec<PostingIntent>)],
    skip: Option<Source>,
) -> BTreeMap<AccountPurpose, i64> {
    let mut out = BTreeMap::new();
    for (source, intents) in journal {
        if Some(*source) == skip {
            continue;
        }
        for i in intents {
            *out.entry(i.debit).or_insert(0) += i.amount_minor;
            *out.entry(i.credit).or_insert(0) -= i.amount_minor;
        }
    }
    out
}

/// The state of a loan at a past (or the current) business date, rebuilt from its events.
pub async fn state_as_of(
    engine: &Engine,
    id: Uuid,
    as_of: BusinessDate,
) -> Result<LoanView, LoanUseError> {
    let view = load(engine, id).await?;
    if as_of > view.loan.business_date.max(open_day(engine).await?) {
        return Err(LoanUseError::Refused(format!(
            "{as_of} is after the open business day"
        )));
    }
    let events = engine.store().loan_events(id).await?;
    let signed_day = events.first().map_or(view.row.day, |e| e.day);
    if as_of.to_epoch_days() < signed_day {
        return Err(LoanUseError::Refused(format!(
            "{as_of} is before the loan was signed"
        )));
    }
    let replayed = replay(&events, as_of, None)?;
    let mut row = view.row;
    // The row's stage is today's; a loan not yet disbursed then was at least approved.
    if replayed.loan.status == LoanStatus::Signed
        && !matches!(row.stage.as_str(), "applied" | "approved" | "declined")
    {
        row.stage = "approved".into();
    }
    Ok(LoanView {
        row,
        loan: replayed.loan,
    })
}

fn reversal_body(key: Uuid, seq: i32) -> Vec<u8> {
    let mut body = key.as_bytes().to_vec();
    body.extend(seq.to_le_bytes());
    body
}

/// Reverses repayment `seq`: its entry is reversed and everything after it is recomputed
/// as if it had never been paid (allocation, penalty, late fees, DPD); the difference is
/// posted as one adjustment entry.
pub async fn reverse_repayment(
    engine: &Engine,
    id: Uuid,
    seq: i32,
    key: Uuid,
) -> Result<(LoanView, bool), LoanUseError> {
    let _day = enter_loan_day(engine).await?;
    for _ in 0..STALE_RETRIES_MAX {
        let view = load(engine, id).await?;
        let events = engine.store().loan_events(id).await?;
        if let Some(e) = events.iter().find(|e| event_key(e) == Some(key)) {
            if e.kind != "reversal" || e.body != reversal_body(key, seq) {
                return Err(key_reused(key, e));
            }
            return Ok((view, true));
        }
        let target = events
            .iter()
            .find(|e| e.seq == seq && e.kind == "repay")
            .ok_or_else(|| LoanUseError::Refused(format!("no repayment {seq} on this loan")))?;
        if reversed_seqs(&events).contains(&target.seq) {
            return Err(LoanUseError::Refused(format!(
                "repayment {seq} is already reversed"
            )));
        }
        // A paid-off loan's row stops at its payoff; reopened by the reversal, it must come
        // back at the open day, since close of business did not visit it on the days between
        // (an open loan's row may only lag over quiet days).
        let today = open_day(engine).await?.max(view.loan.business_date);
        let old = replay(&events, today, None)?;
        let (current, _) = advance_to(view.loan.clone(), today)?;
        assert_eq!(old.loan, current, "stored loan state equals its replay");
        // Later events may need the reversed money: a refund of the credit it made.
        let new = replay(&events, today, Some(seq)).map_err(|e| {
            LoanUseError::Refused(format!(
                "repayment {seq} cannot be reversed: later events need it ({e:#})"
            ))
        })?;
        let old_net = net(&old.journal, Some(Source::Event(seq)));
        let new_net = net(&new.journal, None);
        let currency = view.currency();
        let account = |p| account_id(id, &view.row.tenant, currency, p);
        let mut postings = Vec::new();
        let purposes: std::collections::BTreeSet<_> =
            old_net.keys().chain(new_net.keys()).copied().collect();
        for p in purposes {
            let delta =
                new_net.get(&p).copied().unwrap_or(0) - old_net.get(&p).copied().unwrap_or(0);
            if delta != 0 {
                postings.push(Posting {
                    account_id: account(p),
                    direction: if delta > 0 { Side::Debit } else { Side::Credit },
                    amount_minor: delta.abs(),
                });
            }
        }
        let next_seq = events.last().map_or(0, |e| e.seq) + 1;
        let mut commands = vec![Command::Reverse {
            original: event_entry_id(id, seq),
            reversal_id: EntryId(Uuid::new_v5(&id, format!("reversal:{seq}").as_bytes())),
            memo: format!("loan {id} repayment {seq} reversed"),
        }];
        if !postings.is_empty() {
            commands.push(Command::Entry(EntryRequest {
                id: event_entry_id(id, next_seq),
                currency,
                postings,
                memo: format!("loan {id} recomputed after reversing repayment {seq}"),
            }));
        }
        let new_row = next_row(&view.row, &new.loan);
        let body = reversal_body(key, seq);
        let domain = vec![
            DomainWrite::Loan {
                row: new_row.clone(),
                expected_version: Some(view.row.version),
            },
            DomainWrite::LoanEvent(LoanEvent {
                loan_id: id,
                seq: next_seq,
                day: today.to_epoch_days(),
                kind: "reversal".into(),
                body,
            }),
        ];
        match engine.submit_with(commands, domain).await {
            Ok(_) => {
                return Ok((
                    LoanView {
                        row: new_row,
                        loan: new.loan,
                    },
                    false,
                ))
            }
            Err(EngineError::StaleLoan { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(EngineError::StaleLoan { id }.into())
}

// ---------------------------------------------------------------------------------------
// Close of business

#[derive(Clone, Copy, Debug, Default)]
pub struct CobReport {
    /// Loans moved to the next day: written, or quiet (booked in their partition's sum).
    pub loans_advanced: u64,
    /// Loans whose day only accrued interest: their rows were left alone.
    pub loans_quiet: u64,
    pub entries_posted: u64,
    pub partitions_done: u32,
    /// Of `partitions_done`, those whose loans a worker process read (PostgreSQL).
    pub partitions_from_workers: u32,
    pub partitions_skipped: u32,
    /// Revolving credit lines moved to the next day, and statements they issued.
    pub lines_advanced: u64,
    pub statements_issued: u64,
    pub merchants_settled: u64,
}

/// How close of business runs: loans read per query and loans in flight to the writer.
#[derive(Clone, Copy, Debug)]
pub struct CobConfig {
    pub chunk_loans: u32,
    /// Stop after this many partitions (to test resuming); None runs them all.
    pub partitions_max: Option<u32>,
}

impl Default for CobConfig {
    fn default() -> Self {
        CobConfig {
            chunk_loans: 4096,
            partitions_max: None,
        }
    }
}

/// Closes the open business day: every open loan moves to the next day (accrual, billing,
/// late fees, penalty, DPD, write-off), partition by partition; then the next day opens.
///
/// A loan whose day only accrues interest (see `loan::quiet_through`) is left alone: its
/// accrual is added to its partition's sum, booked as one entry per tenant and currency
/// (`AccruedInterest ← InterestIncome`) in the same transaction as the partition's mark.
/// Every other loan commits its row and postings in a batch. A crash leaves each written
/// loan before or after the day and each partition's sums with its mark, so a re-run
/// picks up exactly the loans and sums still missing. Loan commands wait meanwhile: the
/// sums are taken from the loans as read here.
pub async fn close_business_day(
    engine: &Engine,
    config: CobConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<(BusinessDate, CobReport)> {
    let _day = engine.loan_day_exclusive().await;
    let today = business_date(engine)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no business date is open"))?;
    // Until the next day opens, whatever happens to this run.
    engine.set_loan_day_state(crate::DAY_PART_WAY);
    let next = today.succ();
    let day = next.to_epoch_days();
    let done = engine.store().cob_done(day).await?;
    let todo: Vec<i32> = (0..store::LOAN_PARTITIONS as i32)
        .filter(|p| !done.contains(p))
        .collect();
    let mut c = Closing {
        engine,
        config,
        next,
        pipe: Pipeline::default(),
        report: CobReport {
            partitions_skipped: store::LOAN_PARTITIONS - todo.len() as u32,
            ..CobReport::default()
        },
        progress,
    };
    let mut partitions = Partitions::publish(engine.store(), day, todo).await?;
    while config
        .partitions_max
        .is_none_or(|m| c.report.partitions_done < m)
    {
        let (partition, sums) = match partitions.next().await? {
            None => break,
            Some(Work::Own(partition)) => (partition, c.read_partition(partition).await?),
            Some(Work::Planned(partition, plan)) => {
                c.report.partitions_from_workers += 1;
                (partition, c.write_planned(plan).await?)
            }
        };
        // The mark follows the partition's chunks through the pipeline, so it is sent only
        // once every written loan of the partition is committed.
        let accruals = accrual_entries(partition, next, sums);
        c.report.entries_posted += accruals.len() as u64;
        c.pipe.push(Stage::Mark(
            accruals,
            DomainWrite::CobDone {
                day,
                partition,
                done_at_ms: crate::now_ms(),
            },
        ));
        c.report.partitions_done += 1;
    }
    let Closing {
        mut pipe,
        mut report,
        ..
    } = c;
    pipe.drain(engine, &mut report, 0, progress).await?;
    for m in pipe.marks.drain(..) {
        m.await??;
    }
    if report.partitions_done + report.partitions_skipped < store::LOAN_PARTITIONS {
        return Ok((today, report));
    }
    let rc = crate::revolving::close_day(engine, today, next).await?;
    report.lines_advanced = rc.lines_advanced;
    report.statements_issued = rc.statements_issued;
    report.merchants_settled = rc.merchants_settled;
    let open = DomainWrite::Meta {
        key: BUSINESS_DATE_KEY.into(),
        value: next.to_string().into_bytes(),
    };
    engine.submit_waiting(Vec::new(), vec![open]).await?;
    engine.cache_open_day(day);
    engine.set_loan_day_state(crate::DAY_WHOLE);
    Ok((next, report))
}

/// A partition to close: one this process reads itself, or one a worker process has read.
enum Work {
    Own(i32),
    Planned(i32, crate::cob_workers::WorkerPlan),
}

/// Where the partitions of a day come from: a list in this process (SQLite), or the
/// database's queue that worker processes share (PostgreSQL).
enum Partitions {
    Local(std::collections::VecDeque<i32>),
    Shared {
        queue: store::CobQueue,
        day: i32,
        run: [u8; 16],
        left: usize,
        planned: std::collections::VecDeque<(i32, Vec<u8>)>,
    },
}

/// How often the writer looks for partitions that workers have planned, when it has none
/// of its own left to read.
const WORKER_POLL: std::time::Duration = std::time::Duration::from_millis(10);

impl Partitions {
    async fn publish(store: &store::Store, day: i32, todo: Vec<i32>) -> anyhow::Result<Partitions> {
        let Some(queue) = store.cob_queue() else {
            return Ok(Partitions::Local(todo.into()));
        };
        let run = *Uuid::now_v7().as_bytes();
        queue.publish(day, &run, &todo).await?;
        Ok(Partitions::Shared {
            queue,
            day,
            run,
            left: todo.len(),
            planned: Default::default(),
        })
    }

    /// The next partition: planned ones first (their reading is done), then one of our
    /// own; waits while workers hold the rest.
    async fn next(&mut self) -> anyhow::Result<Option<Work>> {
        let (queue, day, run, left, planned) = match self {
            Partitions::Local(todo) => return Ok(todo.pop_front().map(Work::Own)),
            Partitions::Shared {
                queue,
                day,
                run,
                left,
                planned,
            } => (queue, *day, &*run, left, planned),
        };
        loop {
            if *left == 0 {
                return Ok(None);
            }
            if let Some((partition, bytes)) = planned.pop_front() {
                *left -= 1;
                let plan = crate::cob_workers::WorkerPlan::decode(&bytes)
                    .with_context(|| format!("plan of partition {partition}"))?;
                return Ok(Some(Work::Planned(partition, plan)));
            }
            planned.extend(queue.take_planned(day, run).await?);
            if !planned.is_empty() {
                continue;
            }
            if let Some(partition) = queue.claim_own(day, run).await? {
                *left -= 1;
                return Ok(Some(Work::Own(partition)));
            }
            tokio::time::sleep(WORKER_POLL).await;
        }
    }
}

/// One close-of-business day in progress: where its chunks go and what it has done.
struct Closing<'a> {
    engine: &'a Engine,
    config: CobConfig,
    next: BusinessDate,
    pipe: Pipeline,
    report: CobReport,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl Closing<'_> {
    /// Reads a partition and sends its written loans down the pipeline; returns the quiet
    /// loans' sums.
    async fn read_partition(&mut self, partition: i32) -> anyhow::Result<AccrualSums> {
        let mut sums = AccrualSums::new();
        let mut after = None;
        loop {
            let rows = self
                .engine
                .store()
                .loans_for_cob(
                    partition,
                    self.next.to_epoch_days(),
                    after,
                    self.config.chunk_loans,
                )
                .await?;
            let Some(last) = rows.last() else {
                return Ok(sums);
            };
            after = Some(last.id);
            self.send_chunk(rows, &mut sums).await?;
        }
    }

    /// Advances the loans a worker listed; returns the partition's sums (the worker's, and
    /// those of any listed loan that turns out quiet).
    async fn write_planned(
        &mut self,
        plan: crate::cob_workers::WorkerPlan,
    ) -> anyhow::Result<AccrualSums> {
        let queue =
            (self.engine.store().cob_queue()).expect("planned partitions come from the queue");
        let mut sums = plan.sums;
        self.report.loans_quiet += plan.quiet;
        self.report.loans_advanced += plan.quiet;
        let day = self.next.to_epoch_days();
        for ids in plan.write.chunks(self.config.chunk_loans as usize) {
            let mut rows = queue.loans(ids).await?;
            // Only loans still before the day: the plan was made from these rows, under
            // the loan-day gate, so this drops nothing unless storage changed behind us.
            rows.retain(|r| r.open && r.day < day);
            self.send_chunk(rows, &mut sums).await?;
        }
        (self.progress)(self.report.loans_advanced);
        Ok(sums)
    }

    /// Plans a chunk off the async workers (so the writer is never starved) and submits it.
    async fn send_chunk(
        &mut self,
        rows: Vec<LoanRow>,
        sums: &mut AccrualSums,
    ) -> anyhow::Result<()> {
        let next = self.next;
        let plan = tokio::task::spawn_blocking(move || plan_chunk(rows, next))
            .await
            .context("join close-of-business planner")??;
        self.report.entries_posted += plan.entries;
        self.report.loans_quiet += plan.quiet;
        for ((tenant, currency), amount_minor) in plan.sums {
            add_accrual(sums, &tenant, currency, amount_minor);
        }
        self.pipe.push(Stage::Chunk(tokio::spawn(submit_chunk(
            self.engine.clone(),
            plan.batches,
            plan.quiet,
            next.to_epoch_days(),
        ))));
        self.pipe
            .drain(
                self.engine,
                &mut self.report,
                CHUNKS_IN_FLIGHT_MAX,
                self.progress,
            )
            .await
    }
}

/// Quiet loans' accrual of one partition-day, by tenant and currency (a handful of keys,
/// so a list: adding to it allocates nothing for a known key).
pub type AccrualSums = Vec<((String, Currency), i64)>;

pub(crate) fn add_accrual(
    sums: &mut AccrualSums,
    tenant: &str,
    currency: Currency,
    amount_minor: i64,
) {
    match sums
        .iter_mut()
        .find(|((t, c), _)| t == tenant && *c == currency)
    {
        Some((_, sum)) => *sum += amount_minor,
        None => sums.push(((tenant.to_string(), currency), amount_minor)),
    }
}

/// One entry per tenant and currency: the partition's quiet loans' accrual of the day.
fn accrual_entries(partition: i32, day: BusinessDate, sums: AccrualSums) -> Vec<Command> {
    sums.into_iter()
        .filter(|(_, amount_minor)| *amount_minor > 0)
        .map(|((tenant, currency), amount_minor)| {
            let account = |p| account_id(Uuid::nil(), &tenant, currency, p);
            Command::Entry(EntryRequest {
                id: accrual_entry_id(partition, &tenant, currency, day),
                currency,
                postings: vec![
                    Posting {
                        account_id: account(AccountPurpose::AccruedInterest),
                        direction: Side::Debit,
                        amount_minor,
                    },
                    Posting {
                        account_id: account(AccountPurpose::InterestIncome),
                        direction: Side::Credit,
                        amount_minor,
                    },
                ],
                memo: format!("accrued interest of partition {partition}'s quiet loans on {day}"),
            })
        })
        .collect()
}

/// `[day (u32 BE), partition, 11 bytes of UUIDv5(tenant, currency, partition, day)]`, laid
/// out like [`day_entry_id`]; one per partition-day, so a re-run cannot book it twice.
pub fn accrual_entry_id(
    partition: i32,
    tenant: &str,
    currency: Currency,
    day: BusinessDate,
) -> EntryId {
    let name = format!("accrual:{tenant}:{}:{partition}:{day}", currency.code());
    day_partition_id(day, partition, Uuid::new_v5(&NS, name.as_bytes()))
}

/// Chunks submitted but not yet confirmed: reading and planning the next chunk overlaps
/// with the writer committing the previous ones.
const CHUNKS_IN_FLIGHT_MAX: usize = 3;

/// Loans advanced (written or quiet).
type ChunkResult = anyhow::Result<u64>;

enum Stage {
    Chunk(tokio::task::JoinHandle<ChunkResult>),
    /// A partition's accrual sums and its mark.
    Mark(Vec<Command>, DomainWrite),
}

#[derive(Default)]
struct Pipeline {
    stages: std::collections::VecDeque<Stage>,
    chunks: usize,
    marks: Vec<tokio::task::JoinHandle<Result<Vec<crate::Outcome>, EngineError>>>,
}

impl Pipeline {
    fn push(&mut self, s: Stage) {
        if matches!(s, Stage::Chunk(_)) {
            self.chunks += 1;
        }
        self.stages.push_back(s);
    }

    /// Waits, oldest first, until at most `chunks_max` chunks are in flight; marks reached
    /// on the way are sent (their partitions' loans are all committed by then).
    async fn drain(
        &mut self,
        engine: &Engine,
        report: &mut CobReport,
        chunks_max: usize,
        progress: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<()> {
        while let Some(front) = self.stages.front() {
            if matches!(front, Stage::Chunk(_)) && self.chunks <= chunks_max {
                return Ok(());
            }
            match self.stages.pop_front().expect("front exists") {
                Stage::Chunk(h) => {
                    self.chunks -= 1;
                    report.loans_advanced += h.await??;
                    progress(report.loans_advanced);
                }
                Stage::Mark(accruals, m) => {
                    let engine = engine.clone();
                    self.marks.push(tokio::spawn(async move {
                        engine.submit_waiting(accruals, vec![m]).await
                    }));
                }
            }
        }
        Ok(())
    }
}

/// Loans whose day commits together: their rows and at most one entry carrying all their
/// postings (a loan's own accounts posting by posting, the shared income and expense
/// accounts summed). A day's accrual is one posting per loan this way instead of an entry
/// with two postings, which is most of what close of business writes.
struct Batch {
    ids: Vec<Uuid>,
    commands: Vec<Command>,
    domain: Vec<DomainWrite>,
}

/// Builds batches up to the ledger's postings limit.
#[derive(Default)]
struct BatchBuilder {
    ids: Vec<Uuid>,
    currency: Option<Currency>,
    own: Vec<Posting>,
    shared: Vec<Posting>,
    domain: Vec<DomainWrite>,
}

impl BatchBuilder {
    fn postings_with(&self, currency: Currency, own: usize, shared: &[Posting]) -> Option<usize> {
        if self.currency.is_some_and(|c| c != currency) {
            return None;
        }
        let new_shared = shared
            .iter()
            .filter(|p| !self.shared.iter().any(|q| same_side(p, q)))
            .count();
        Some(self.own.len() + own + self.shared.len() + new_shared)
    }

    fn add(&mut self, id: Uuid, currency: Currency, split: SplitPostings, row: DomainWrite) {
        self.ids.push(id);
        self.currency = Some(currency);
        self.own.extend(split.own);
        for p in split.shared {
            match self.shared.iter_mut().find(|q| same_side(&p, q)) {
                Some(q) => q.amount_minor += p.amount_minor,
                None => self.shared.push(p),
            }
        }
        self.domain.push(row);
    }

    fn finish(&mut self, next: BusinessDate) -> Option<Batch> {
        let b = std::mem::take(self);
        let first = *b.ids.first()?;
        let mut postings = b.own;
        postings.extend(b.shared);
        let commands = match b.currency {
            Some(currency) if !postings.is_empty() => vec![Command::Entry(EntryRequest {
                id: batch_entry_id(first, next),
                currency,
                postings,
                memo: String::new(),
            })],
            _ => Vec::new(),
        };
        Some(Batch {
            ids: b.ids,
            commands,
            domain: b.domain,
        })
    }
}

fn same_side(a: &Posting, b: &Posting) -> bool {
    a.account_id == b.account_id && a.direction == b.direction
}

/// One loan-day's postings: to the loan's own accounts, and to shared ones.
#[derive(Default)]
struct SplitPostings {
    own: Vec<Posting>,
    shared: Vec<Posting>,
}

fn split_postings(row: &LoanRow, currency: Currency, intents: &[PostingIntent]) -> SplitPostings {
    let mut out = SplitPostings::default();
    for i in intents {
        assert!(
            i.amount_minor > 0,
            "the state machine posts positive amounts"
        );
        for (purpose, direction) in [(i.debit, Side::Debit), (i.credit, Side::Credit)] {
            let posting = Posting {
                account_id: account_id(row.id, &row.tenant, currency, purpose),
                direction,
                amount_minor: i.amount_minor,
            };
            match per_loan(purpose) {
                true => out.own.push(posting),
                false => out.shared.push(posting),
            }
        }
    }
    out
}

/// The entry of a close-of-business batch, laid out like [`day_entry_id`] and named by the
/// batch's first loan: a loan-day is committed once, so no two batches share a first
/// loan-day.
pub fn batch_entry_id(first_loan_id: Uuid, day: BusinessDate) -> EntryId {
    dated_entry_id(first_loan_id, day, "cob")
}

/// The accrual of a loan's day `next` if that day is quiet (nothing but accrual), else
/// `None`: the loan must be advanced and written.
pub(crate) fn quiet_day_accrual(view: &LoanView, next: BusinessDate) -> Option<i64> {
    loan::quiet_through(&view.loan)
        .is_some_and(|q| q >= next)
        .then(|| loan::quiet_day_accrual_minor(&view.loan, next))
}

/// A chunk of loans planned: batches of the written ones, and the quiet ones' sums.
struct ChunkPlan {
    batches: Vec<Batch>,
    entries: u64,
    quiet: u64,
    sums: AccrualSums,
}

/// Plans a chunk of loans: a quiet loan adds its day's accrual to the sums; any other is
/// brought over the quiet days since its row was written, advanced one day and packed into
/// a batch.
fn plan_chunk(rows: Vec<LoanRow>, next: BusinessDate) -> anyhow::Result<ChunkPlan> {
    let postings_max = ledger::LIMITS.postings_max;
    let mut plan = ChunkPlan {
        batches: Vec::new(),
        entries: 0,
        quiet: 0,
        sums: AccrualSums::new(),
    };
    let mut builder = BatchBuilder::default();
    for row in rows {
        let mut view = LoanView::decode(row)?;
        let currency = view.currency();
        if let Some(accrued_minor) = quiet_day_accrual(&view, next) {
            add_accrual(&mut plan.sums, &view.row.tenant, currency, accrued_minor);
            plan.quiet += 1;
            continue;
        }
        catch_up_quietly(&mut view.loan, next.pred())?;
        let (after, days) = advance_to(view.loan.clone(), next)?;
        let split = match days.as_slice() {
            [] => SplitPostings::default(),
            [(_, intents)] => split_postings(&view.row, currency, intents),
            _ => unreachable!("a loan caught up to the day before moves one day"),
        };
        let fits = |b: &BatchBuilder| {
            b.postings_with(currency, split.own.len(), &split.shared)
                .is_some_and(|n| n <= postings_max)
        };
        if !fits(&builder) {
            let batch = builder.finish(next).expect("a full batch has loans");
            plan.entries += batch.commands.len() as u64;
            plan.batches.push(batch);
        }
        assert!(fits(&builder), "one loan-day fits in an entry");
        let row = DomainWrite::Loan {
            row: next_row(&view.row, &after),
            expected_version: Some(view.row.version),
        };
        builder.add(view.row.id, currency, split, row);
    }
    if let Some(batch) = builder.finish(next) {
        plan.entries += batch.commands.len() as u64;
        plan.batches.push(batch);
    }
    Ok(plan)
}

/// Submits the batches and waits for all; returns how many loans moved, `quiet` included.
/// Loan commands wait for close of business, so a stale batch means something outside
/// this process wrote a loan: the day stops with an error rather than guess.
async fn submit_chunk(engine: Engine, batches: Vec<Batch>, quiet: u64, day: i32) -> ChunkResult {
    let mut ids = Vec::with_capacity(batches.len());
    let mut envelopes = Vec::with_capacity(batches.len());
    for b in batches {
        ids.push(b.ids);
        envelopes.push((b.commands, b.domain));
    }
    let results = engine.submit_many(envelopes).await;
    let mut advanced = quiet;
    for (ids, result) in ids.into_iter().zip(results) {
        match result {
            Ok(_) => advanced += ids.len() as u64,
            Err(e) => anyhow::bail!("close day {day} for loans {ids:?}: {e}"),
        }
    }
    Ok(advanced)
}
