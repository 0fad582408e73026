//! Borrowers, merchants and credit lines: opening, repaying and changing a line.

use super::accounts::*;
use super::docs::*;
use crate::{Command, Engine, EngineError, Outcome};
use ledger::{EntryId, LedgerError, Posting, Side};
use money::{BusinessDate, Currency, Decimal};
use revolving::{LimitRules, Line, Purpose};
use store::DomainWrite;
use uuid::Uuid;

pub async fn business_day(engine: &Engine) -> Result<BusinessDate, RevolvingError> {
    crate::business_day::business_date(engine)
        .await?
        .ok_or_else(|| conflict("no_business_date", "no business date is open yet"))
}

/// Creates a borrower, or returns the stored one when the same id comes again with the
/// same fields (`true` = replay).
pub async fn create_borrower(
    engine: &Engine,
    id: Uuid,
    tenant: &str,
    kind: BorrowerKind,
    name: String,
) -> Result<(Borrower, bool), RevolvingError> {
    if let Ok(b) = load::<Borrower>(engine, BORROWER, id, tenant).await {
        return same_or_conflict(b.doc, |b| b.kind == kind && b.name == name);
    }
    let day = business_day(engine).await?;
    let b = Borrower {
        id,
        tenant: tenant.into(),
        kind,
        name,
        created_on: day,
    };
    let w = doc_write(
        Place {
            kind: BORROWER,
            id,
            tenant,
            parent: None,
        },
        false,
        day,
        encode(&b),
        None,
    );
    submit_doc(engine, Vec::new(), vec![w]).await?;
    Ok((b, false))
}

pub(super) fn same_or_conflict<T>(
    stored: T,
    same: impl Fn(&T) -> bool,
) -> Result<(T, bool), RevolvingError> {
    if same(&stored) {
        Ok((stored, true))
    } else {
        Err(conflict(
            "id_reused",
            "this id was already used with different fields",
        ))
    }
}

/// A commit whose only versioned writes are inserts: a stale answer means the id was taken
/// meanwhile by the same request's twin.
pub(super) async fn submit_doc(
    engine: &Engine,
    commands: Vec<Command>,
    domain: Vec<DomainWrite>,
) -> Result<Vec<Outcome>, RevolvingError> {
    engine
        .submit_with(commands, domain)
        .await
        .map_err(|e| match e {
            EngineError::StaleDoc { .. } => {
                conflict("id_reused", "this id was taken meanwhile; retry")
            }
            other => other.into(),
        })
}

pub struct NewMerchant {
    pub id: Uuid,
    pub name: String,
    pub currency: Currency,
    pub discount_rate: Decimal,
    pub settlement_account: String,
}

pub async fn create_merchant(
    engine: &Engine,
    tenant: &str,
    m: NewMerchant,
) -> Result<(Merchant, bool), RevolvingError> {
    if m.discount_rate < Decimal::ZERO || m.discount_rate >= Decimal::new(1, 1) {
        return Err(invalid(
            "discount_rate",
            "must be at least 0 and below 0.1 (10%)",
        ));
    }
    if m.settlement_account.trim().is_empty() {
        return Err(invalid(
            "settlement_account",
            "must name the account settlements go to",
        ));
    }
    if let Ok(s) = load::<Merchant>(engine, MERCHANT, m.id, tenant).await {
        return same_or_conflict(s.doc, |s| {
            s.name == m.name
                && s.currency == m.currency
                && s.discount_rate == m.discount_rate
                && s.settlement_account == m.settlement_account
        });
    }
    let day = business_day(engine).await?;
    let doc = Merchant {
        id: m.id,
        tenant: tenant.into(),
        name: m.name,
        currency: m.currency,
        discount_rate: m.discount_rate.normalize(),
        settlement_account: m.settlement_account,
        created_on: day,
    };
    let mut commands = open_platform(tenant, m.currency);
    commands.push(Command::OpenAccount {
        id: merchant_payable(doc.id, doc.currency),
        tenant: tenant.into(),
        owner: format!("merchant:{}", doc.id),
        purpose: "rc_merchant_payable".into(),
        currency: doc.currency,
        normal_side: Side::Credit,
        constraint: None,
    });
    let w = doc_write(
        Place {
            kind: MERCHANT,
            id: doc.id,
            tenant,
            parent: None,
        },
        true,
        day,
        encode(&doc),
        None,
    );
    submit_doc(engine, commands, vec![w]).await?;
    Ok((doc, false))
}

pub async fn merchant(engine: &Engine, tenant: &str, id: Uuid) -> Result<Merchant, RevolvingError> {
    Ok(load::<Merchant>(engine, MERCHANT, id, tenant).await?.doc)
}

pub async fn borrower(engine: &Engine, tenant: &str, id: Uuid) -> Result<Borrower, RevolvingError> {
    Ok(load::<Borrower>(engine, BORROWER, id, tenant).await?.doc)
}

// ---------------------------------------------------------------------------------------
// Credit lines

pub struct NewLine {
    pub id: Uuid,
    pub borrower_id: Uuid,
    pub limit_minor: i64,
    pub terms: revolving::Terms,
    pub rules: LimitRules,
}

/// A line with its ledger figures.
#[derive(Clone, Debug)]
pub struct LineView {
    pub doc: LineDoc,
    pub version: i64,
    pub available_minor: i64,
    pub held_minor: i64,
}

pub async fn open_line(
    engine: &Engine,
    tenant: &str,
    n: NewLine,
) -> Result<(LineView, bool), RevolvingError> {
    if let Ok(v) = load::<LineDoc>(engine, LINE, n.id, tenant).await {
        let same = v.doc.borrower_id == n.borrower_id
            && v.doc.line.terms == n.terms
            && v.doc.rules == n.rules
            && opened_limit_minor(engine, &v.doc).await? == n.limit_minor;
        if !same {
            return Err(conflict(
                "id_reused",
                "this id was already used with different fields",
            ));
        }
        return Ok((line_view(engine, v).await?, true));
    }
    let _admitted = engine
        .admit(crate::controls::Admission::Line { tenant })
        .await?;
    borrower(engine, tenant, n.borrower_id)
        .await
        .map_err(|_| invalid("borrower_id", "no such borrower"))?;
    if crate::monitor::halts::halted(engine, n.borrower_id).await? {
        return Err(conflict(
            "customer_halted",
            crate::monitor::halts::refusal(n.borrower_id),
        ));
    }
    let day = business_day(engine).await?;
    let (line, intents, events) = Line::open(n.terms, n.limit_minor, day)?;
    let mut doc = LineDoc {
        id: n.id,
        tenant: tenant.into(),
        borrower_id: n.borrower_id,
        line,
        rules: n.rules,
        event_seq: 0,
        account_ids: LineAccountIds::Prefixed,
    };
    let mut commands = open_platform(tenant, doc.line.terms.currency);
    commands.extend(open_line_accounts(&doc));
    commands.extend(line_entry(
        &doc,
        None,
        (derived_entry(doc.id, "open"), Vec::new()),
        &intents,
        "line opened".into(),
    ));
    let mut domain = line_events(&mut doc, day, &events);
    domain.push(line_write(&doc, None));
    submit_doc(engine, commands, domain).await?;
    let version = 1;
    Ok((line_view(engine, Versioned { doc, version }).await?, false))
}

/// The limit a line was opened with: what its opening entry credited to `available` (the
/// line's limit may have changed since, so the document's limit cannot tell a retry).
async fn opened_limit_minor(engine: &Engine, doc: &LineDoc) -> Result<i64, RevolvingError> {
    let available = line_account(doc, Purpose::Available);
    let Some(e) = engine.entry(derived_entry(doc.id, "open")).await? else {
        return Ok(0);
    };
    Ok(e.postings
        .iter()
        .filter(|p| p.account_id == available && p.direction == Side::Credit)
        .map(|p| p.amount_minor)
        .sum())
}

pub(super) async fn line_view(
    engine: &Engine,
    v: Versioned<LineDoc>,
) -> Result<LineView, RevolvingError> {
    let a = account(engine, line_account(&v.doc, Purpose::Available)).await?;
    Ok(LineView {
        available_minor: free_minor(&a),
        held_minor: a.balances.debits_pending_minor,
        doc: v.doc,
        version: v.version,
    })
}

pub async fn line(engine: &Engine, tenant: &str, id: Uuid) -> Result<LineView, RevolvingError> {
    let v = load::<LineDoc>(engine, LINE, id, tenant).await?;
    line_view(engine, v).await
}

pub async fn line_history(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
) -> Result<Vec<(i32, BusinessDate, serde_json::Value)>, RevolvingError> {
    load::<LineDoc>(engine, LINE, id, tenant).await?;
    engine
        .store()
        .doc_events(id)
        .await?
        .into_iter()
        .map(|e| {
            let day = BusinessDate::from_epoch_days(e.day)
                .ok_or_else(|| anyhow::anyhow!("stored event day {} is out of range", e.day))?;
            let body = serde_json::from_slice(&e.body).map_err(anyhow::Error::from)?;
            Ok((e.seq, day, body))
        })
        .collect()
}

/// Runs a line command against the latest line, retrying when another change got there
/// first. `extra` adds the commands and writes of the use case (a purchase's hold post, its
/// document), built from the line as read.
pub(crate) async fn run_line<F>(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
    needs_free: bool,
    mut build: F,
) -> Result<LineDoc, RevolvingError>
where
    F: FnMut(&Versioned<LineDoc>, i64) -> Result<LinePlan, RevolvingError>,
{
    let _turn = engine.documents().turns.turn(id).await;
    for _ in 0..STALE_RETRIES_MAX {
        let v = cached_line(engine, id, tenant).await?;
        let free = if needs_free {
            line_free(engine, &v.doc).await?
        } else {
            0
        };
        let plan = build(&v, free)?;
        let as_of = match plan.command {
            revolving::Command::AdvanceDay { .. } => v.doc.line.business_date.succ(),
            _ => v.doc.line.business_date,
        };
        let outcome = revolving::apply(&v.doc.line, &plan.command, as_of)?;
        let mut doc = LineDoc {
            line: outcome.line,
            ..v.doc.clone()
        };
        let mut commands = plan.before;
        commands.extend(line_entry(
            &v.doc,
            plan.merchant,
            (plan.entry_id, plan.leading),
            &outcome.postings,
            plan.memo,
        ));
        let mut domain = line_events(&mut doc, as_of, &outcome.events);
        domain.push(line_write(&doc, Some(v.version)));
        domain.extend(plan.writes);
        match engine.submit_with(commands, domain).await {
            Ok(_) => {
                remember_line(engine, doc.clone(), v.version + 1);
                return Ok(doc);
            }
            // The line changed since it was read: read it again. Another document gone
            // stale is the caller's to handle (it may be a twin request's insert).
            Err(EngineError::StaleDoc { id: stale }) if stale == id => {
                engine.documents().lines.forget(id);
                tokio::task::yield_now().await
            }
            // A hold took limit between reading the free amount and the change.
            Err(EngineError::Rejected(LedgerError::ConstraintViolated { .. })) if needs_free => {
                tokio::task::yield_now().await
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(conflict(
        "changed_meanwhile",
        "the line kept changing; retry",
    ))
}

/// The line as this process last read or wrote it, else as stored. Only `run_line` uses
/// it: its write names the version, so a line another process changed is refused and read
/// again.
pub(super) async fn cached_line(
    engine: &Engine,
    id: Uuid,
    tenant: &str,
) -> Result<Versioned<LineDoc>, RevolvingError> {
    let hit = engine.documents().lines.get(id);
    match hit {
        Some((doc, version)) if tenant == "*" || doc.tenant == tenant => {
            Ok(Versioned { doc, version })
        }
        Some(_) => Err(RevolvingError::NotFound(LINE)),
        None => {
            let v = load::<LineDoc>(engine, LINE, id, tenant).await?;
            remember_line(engine, v.doc.clone(), v.version);
            Ok(v)
        }
    }
}

pub(super) fn remember_line(engine: &Engine, doc: LineDoc, version: i64) {
    engine.documents().lines.put(doc.id, (doc, version));
}

/// What a use case adds around one line command.
pub(crate) struct LinePlan {
    pub(super) command: revolving::Command,
    pub(super) entry_id: EntryId,
    pub(super) memo: String,
    pub(super) merchant: Option<Uuid>,
    /// Ledger commands before the line's entry (e.g. the authorization's hold post).
    pub(super) before: Vec<Command>,
    /// Postings that lead the line's entry (a sale's limit taken).
    pub(super) leading: Vec<Posting>,
    pub(super) writes: Vec<DomainWrite>,
}

impl LinePlan {
    pub(crate) fn new(
        command: revolving::Command,
        entry_id: EntryId,
        memo: impl Into<String>,
    ) -> Self {
        LinePlan {
            command,
            entry_id,
            memo: memo.into(),
            merchant: None,
            before: Vec::new(),
            leading: Vec::new(),
            writes: Vec::new(),
        }
    }
}

/// A repayment under the client's id; a retry answers with the line as it is.
pub async fn repay(
    engine: &Engine,
    tenant: &str,
    line_id: Uuid,
    repayment_id: Uuid,
    amount_minor: i64,
) -> Result<(LineDoc, bool), RevolvingError> {
    if amount_minor <= 0 {
        return Err(invalid("amount_minor", "must be positive"));
    }
    let entry_id = EntryId(repayment_id);
    if let Some(e) = engine.entry(entry_id).await? {
        let v = load::<LineDoc>(engine, LINE, line_id, tenant).await?;
        let cash = platform_account(tenant, v.doc.line.terms.currency, Platform::BorrowerCash);
        let received: i64 = e
            .postings
            .iter()
            .filter(|p| p.account_id == cash && p.direction == Side::Debit)
            .map(|p| p.amount_minor)
            .sum();
        let this_line = e.postings.iter().any(|p| {
            LINE_PURPOSES
                .iter()
                .any(|&q| p.account_id == line_account(&v.doc, q))
        });
        if !this_line || received != amount_minor {
            return Err(conflict(
                "id_reused",
                "this repayment id was used for another repayment",
            ));
        }
        return Ok((v.doc, true));
    }
    let doc = run_line(engine, tenant, line_id, false, |_, _| {
        Ok(LinePlan::new(
            revolving::Command::Repay { amount_minor },
            entry_id,
            "repayment",
        ))
    })
    .await?;
    Ok((doc, false))
}

pub enum LimitAction {
    Set {
        limit_minor: i64,
    },
    Temporary {
        amount_minor: i64,
        expires_on: BusinessDate,
    },
    Freeze,
    Unfreeze,
    Close,
    Signal(revolving::RiskSignal),
}

impl LimitAction {
    /// The request as stored with its key, to tell a retry from a reused key.
    fn describe(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            LimitAction::Set { limit_minor } => {
                json!({"action": "set_limit", "limit_minor": limit_minor})
            }
            LimitAction::Temporary {
                amount_minor,
                expires_on,
            } => json!({"action": "temporary_limit", "amount_minor": amount_minor,
                        "expires_on": expires_on.to_string()}),
            LimitAction::Freeze => json!({"action": "freeze"}),
            LimitAction::Unfreeze => json!({"action": "unfreeze"}),
            LimitAction::Close => json!({"action": "close"}),
            LimitAction::Signal(revolving::RiskSignal::Lower { fraction, reason }) => {
                json!({"action": "risk_signal", "lower_fraction": fraction.normalize().to_string(),
                       "signal_reason": reason})
            }
            LimitAction::Signal(revolving::RiskSignal::Freeze { reason }) => {
                json!({"action": "risk_signal", "signal_reason": reason})
            }
        }
    }
}

/// The line as it is when `key` already changed it with the same request; a conflict when
/// the key was used for another request; `None` when the key is new.
pub(super) async fn change_replay(
    engine: &Engine,
    tenant: &str,
    record_id: Uuid,
    request: &serde_json::Value,
) -> Result<Option<LineDoc>, RevolvingError> {
    let Ok(stored) = load::<serde_json::Value>(engine, LINE_CHANGE, record_id, tenant).await else {
        return Ok(None);
    };
    if &stored.doc != request {
        return Err(conflict(
            "id_reused",
            "this Idempotency-Key was used for another change",
        ));
    }
    let line_id = request["line_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| anyhow::anyhow!("stored line change {record_id} names no line"))?;
    Ok(Some(
        load::<LineDoc>(engine, LINE, line_id, tenant).await?.doc,
    ))
}

/// An operator's or a risk system's change of a line, logged with its reason. The change is
/// recorded under `key` with the line's update, so the same key again answers with the line
/// instead of changing it twice (a freeze retried is not refused; a limit set again logs no
/// second event; a reused key whose postings happen to match cannot move the line without
/// the ledger).
pub async fn change_line(
    engine: &Engine,
    tenant: &str,
    line_id: Uuid,
    key: Uuid,
    action: LimitAction,
    reason: String,
) -> Result<LineDoc, RevolvingError> {
    if reason.trim().is_empty() {
        return Err(invalid("reason", "say why the line changes"));
    }
    let record_id = Uuid::new_v5(&key, b"line-change");
    let request = serde_json::json!({
        "line_id": line_id.to_string(),
        "change": action.describe(),
        "reason": reason,
    });
    if let Some(line) = change_replay(engine, tenant, record_id, &request).await? {
        return Ok(line);
    }
    let changed = run_line(engine, tenant, line_id, true, |v, free| {
        let command = match &action {
            LimitAction::Set { limit_minor } => revolving::Command::ChangeLimit {
                limit_minor: *limit_minor,
                free_minor: free,
                reason: reason.clone(),
            },
            LimitAction::Temporary {
                amount_minor,
                expires_on,
            } => revolving::Command::GrantTemporary {
                amount_minor: *amount_minor,
                expires_on: *expires_on,
                free_minor: free,
                reason: reason.clone(),
            },
            LimitAction::Freeze => revolving::Command::Freeze {
                reason: reason.clone(),
            },
            LimitAction::Unfreeze => revolving::Command::Unfreeze {
                reason: reason.clone(),
            },
            LimitAction::Close => revolving::Command::Close {
                free_minor: free,
                reason: reason.clone(),
            },
            LimitAction::Signal(s) => revolving::limits::on_signal(&v.doc.line, s, free),
        };
        let mut plan = LinePlan::new(
            command,
            derived_entry(key, "line-change"),
            format!("line change: {reason}"),
        );
        plan.writes = vec![doc_write(
            Place {
                kind: LINE_CHANGE,
                id: record_id,
                tenant,
                parent: Some(line_id),
            },
            false,
            v.doc.line.business_date,
            encode(&request),
            None,
        )];
        Ok(plan)
    })
    .await;
    match changed {
        Ok(line) => Ok(line),
        // A twin with the same key committed first: answer as its retry would be answered.
        Err(e) => match change_replay(engine, tenant, record_id, &request).await? {
            Some(line) => Ok(line),
            None => Err(e),
        },
    }
}

/// Pays the borrower back out of the line's overpayment (`refund_id` names the entry, as a
/// repayment's id does). A retry with the same id and amount is answered with the line; the
/// same id with another amount or line is refused.
pub async fn refund_overpayment(
    engine: &Engine,
    tenant: &str,
    line_id: Uuid,
    refund_id: Uuid,
    amount_minor: i64,
) -> Result<(LineDoc, bool), RevolvingError> {
    if amount_minor <= 0 {
        return Err(invalid("amount_minor", "must be positive"));
    }
    let entry_id = EntryId(refund_id);
    if let Some(e) = engine.entry(entry_id).await? {
        let v = load::<LineDoc>(engine, LINE, line_id, tenant).await?;
        let cash = platform_account(tenant, v.doc.line.terms.currency, Platform::BorrowerCash);
        let paid_out: i64 = e
            .postings
            .iter()
            .filter(|p| p.account_id == cash && p.direction == Side::Credit)
            .map(|p| p.amount_minor)
            .sum();
        let overpayment = line_account(&v.doc, Purpose::Overpayment);
        let this_line = e.postings.iter().any(|p| p.account_id == overpayment);
        if !this_line || paid_out != amount_minor {
            return Err(conflict(
                "id_reused",
                "this refund id was used for another request",
            ));
        }
        return Ok((v.doc, true));
    }
    let doc = run_line(engine, tenant, line_id, false, |_, _| {
        Ok(LinePlan::new(
            revolving::Command::RefundOverpayment { amount_minor },
            entry_id,
            "overpayment refund",
        ))
    })
    .await?;
    Ok((doc, false))
}
