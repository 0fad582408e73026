//! What a loan is linked to beyond its own state: the credit decision it was priced by and
//! the payee its disbursement went to.
//!
//! A decision is an immutable audit record, so the link is kept beside it, as two `meta`
//! rows written in the envelope that creates the loan: `decision_loan:<decision id>` →
//! the loan id (a decision prices one loan only) and `loan_decision:<loan id>` → the
//! decision id (what the loan shows). The payee is the body of the loan's `disburse` event.

use super::{Action, LoanUseError};
use crate::Engine;
use money::Currency;
use store::DomainWrite;
use uuid::Uuid;

fn decision_key(decision_id: &str) -> String {
    format!("decision_loan:{decision_id}")
}

fn loan_key(loan_id: Uuid) -> String {
    format!("loan_decision:{loan_id}")
}

/// The decision loan `loan_id` was created with, if any.
pub async fn decision_of(engine: &Engine, loan_id: Uuid) -> anyhow::Result<Option<String>> {
    let Some(raw) = engine.store().meta(&loan_key(loan_id)).await? else {
        return Ok(None);
    };
    Ok(Some(String::from_utf8(raw).map_err(|_| {
        anyhow::anyhow!("decision link of loan {loan_id} is not text")
    })?))
}

/// The decision a loan is linked to by `writes` not yet committed (an origination's own).
pub(crate) fn pending_decision(writes: &[DomainWrite], loan_id: Uuid) -> Option<String> {
    let key = loan_key(loan_id);
    writes.iter().find_map(|w| match w {
        DomainWrite::Meta { key: k, value } if *k == key => String::from_utf8(value.clone()).ok(),
        _ => None,
    })
}

/// The loan decision `decision_id` was used for, if any.
pub async fn loan_of_decision(engine: &Engine, decision_id: &str) -> anyhow::Result<Option<Uuid>> {
    let Some(raw) = engine.store().meta(&decision_key(decision_id)).await? else {
        return Ok(None);
    };
    let id = Uuid::from_slice(&raw)
        .map_err(|_| anyhow::anyhow!("loan link of decision {decision_id} is not a UUID"))?;
    Ok(Some(id))
}

/// The writes that link a new loan and its decision, committed with the loan.
pub(crate) fn link_writes(loan_id: Uuid, decision_id: &str) -> [DomainWrite; 2] {
    [
        DomainWrite::Meta {
            key: decision_key(decision_id),
            value: loan_id.as_bytes().to_vec(),
        },
        DomainWrite::Meta {
            key: loan_key(loan_id),
            value: decision_id.as_bytes().to_vec(),
        },
    ]
}

/// Refuses a decision already used for another loan. Call with the engine's
/// `decision_uses` lock held until the loan is committed.
pub(crate) async fn check_unused(
    engine: &Engine,
    decision_id: &str,
    loan_id: Uuid,
) -> Result<(), LoanUseError> {
    match loan_of_decision(engine, decision_id).await? {
        Some(other) if other != loan_id => Err(LoanUseError::DecisionUsed {
            decision_id: decision_id.to_string(),
            loan_id: other,
        }),
        _ => Ok(()),
    }
}

/// The payee an entrusted payment went to: the one the loan's disbursement named.
pub async fn payee(
    engine: &Engine,
    loan_id: Uuid,
    currency: Currency,
) -> anyhow::Result<Option<String>> {
    let events = engine.store().loan_events(loan_id).await?;
    let Some(e) = events.iter().find(|e| e.kind == "disburse") else {
        return Ok(None);
    };
    match Action::decode(&e.kind, &e.body, currency)? {
        Action::Disburse { payee } => Ok(payee),
        _ => Ok(None),
    }
}
