//! A purchase's fund flow, entry by entry.

use super::accounts::*;
use super::docs::*;
use super::lines::*;
use super::purchases::*;
use crate::Engine;
use ledger::EntryId;
use uuid::Uuid;

/// One hop of a purchase's money: the ledger entry and what it moved.
#[derive(Clone, Debug)]
pub struct TraceStep {
    pub step: &'static str,
    pub entry_id: EntryId,
}

/// The entries that moved a purchase's money, in order: the limit taken, the capture
/// (receivable ← merchant payable; a one-step sale's single entry is both), the merchant's settlement from the funder's cash (when
/// close of business has run), and refunds.
pub async fn trace(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
) -> Result<(Purchase, Merchant, Vec<TraceStep>), RevolvingError> {
    let p = purchase(engine, tenant, id).await?;
    let m = merchant(engine, tenant, p.merchant_id).await?;
    let mut steps = Vec::new();
    if p.status == PurchaseStatus::Captured {
        // A capture posts its authorization's hold; a one-step sale takes the limit in
        // its capture entry (and sales stored before that, in an entry of their own).
        let limit = capture_limit_entry(id);
        let limit = match engine.entry(limit).await? {
            Some(_) => limit,
            None => capture_entry(id),
        };
        steps.push(TraceStep {
            step: "limit_used",
            entry_id: limit,
        });
        steps.push(TraceStep {
            step: "capture",
            entry_id: capture_entry(id),
        });
        if let Some(day) = p.captured_on {
            let settle = settlement_entry(m.id, m.currency, day);
            if engine.entry(settle).await?.is_some() {
                steps.push(TraceStep {
                    step: "merchant_settlement",
                    entry_id: settle,
                });
            }
        }
    }
    if let Some(plan) = p.installment_months {
        let e = derived_entry(id, "installments");
        if plan > 0 && engine.entry(e).await?.is_some() {
            steps.push(TraceStep {
                step: "installment_fee",
                entry_id: e,
            });
        }
    }
    for r in &p.refunds {
        steps.push(TraceStep {
            step: "refund",
            entry_id: EntryId(r.entry_id),
        });
    }
    Ok((p, m, steps))
}
