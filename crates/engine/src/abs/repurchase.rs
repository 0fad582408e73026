//! Repurchase of a loan that breaks a warranty: the platform buys the loan's sold share back
//! at par of its sold principal (as the last period run measured it). The cash goes into the
//! SPV's collection account and counts as principal collected in the next period; the loan
//! leaves the pool and cannot be pooled again.

use super::close::{platform_cash, Moves};
use super::docs::{deal_account, deal_write, load, repurchase_entry_id, DealStatus, RepurchaseDoc};
use super::{open_day, AbsError};
use crate::{Command, Engine, EngineError};
use uuid::Uuid;

pub const REASON_BYTES_MAX: usize = 500;

/// Repurchases `loan_id` under the idempotency key `id`; the same id again answers with the
/// repurchase as it was (`true`).
pub async fn repurchase(
    engine: &Engine,
    tenant: &str,
    deal_id: Uuid,
    id: Uuid,
    loan_id: Uuid,
    reason: String,
    deal: &abs::Deal,
) -> Result<(RepurchaseDoc, bool), AbsError> {
    if reason.trim().is_empty() || reason.len() > REASON_BYTES_MAX {
        return Err(AbsError::invalid(
            "reason",
            "out_of_range",
            format!("the broken warranty, 1 to {REASON_BYTES_MAX} bytes"),
        ));
    }
    let (mut doc, version) = load(engine, deal_id, tenant).await?;
    if let Some(r) = doc.repurchases.iter().find(|r| r.id == id) {
        return match r.loan_id == loan_id && r.reason == reason {
            true => Ok((r.clone(), true)),
            false => Err(AbsError::conflict(
                "key_reused",
                "this Idempotency-Key repurchased another loan",
            )),
        };
    }
    if doc.status != DealStatus::Closed {
        return Err(AbsError::conflict(
            "not_closed",
            "only a closed deal's loans can be repurchased",
        ));
    }
    if doc.state.as_ref().is_some_and(|s| s.called) {
        return Err(AbsError::conflict("deal_ended", "the deal has ended"));
    }
    let day = open_day(engine).await?;
    let pool = doc.pool.as_mut().expect("a closed deal has its pool");
    let line = pool
        .loans
        .iter_mut()
        .find(|l| l.loan_id == loan_id)
        .ok_or_else(|| {
            AbsError::invalid(
                "loan_id",
                "not_in_pool",
                format!("loan {loan_id} is not in the pool"),
            )
        })?;
    if line.repurchased || line.written_off || line.sold_minor == 0 {
        return Err(AbsError::invalid(
            "loan_id",
            "nothing_to_repurchase",
            format!("loan {loan_id} holds no sold principal (repaid, written off or repurchased)"),
        ));
    }
    let amount = line.sold_minor;
    line.sold_minor = 0;
    line.repurchased = true;
    let entry_id = repurchase_entry_id(deal_id, id);
    let coll = deal.collection_account();
    let account = |name: &str| deal_account(deal_id, name);
    let mut moves = Moves::default();
    moves.credit(platform_cash(&doc), amount);
    moves.debit(
        account(&format!("spv:account:{}", deal.accounts[coll].name)),
        amount,
    );
    moves.debit(account("platform:sold_receivable"), amount);
    moves.credit(account("spv:pool_receivable"), amount);
    let entry = moves.entry(
        entry_id,
        &doc,
        format!("abs deal {deal_id}: repurchase of loan {loan_id} for {amount}"),
    );
    let record = RepurchaseDoc {
        id,
        loan_id,
        reason,
        on: day,
        amount_minor: amount,
        entry_id: entry_id.0,
        period: None,
    };
    doc.repurchases.push(record.clone());
    match engine
        .submit_with(
            vec![Command::Entry(entry)],
            vec![deal_write(&doc, day, Some(version))],
        )
        .await
    {
        Ok(_) => Ok((record, false)),
        Err(EngineError::StaleDoc { .. }) => {
            let (now, _) = load(engine, deal_id, tenant).await?;
            match now.repurchases.iter().find(|r| r.id == id) {
                Some(r) if r.loan_id == record.loan_id && r.reason == record.reason => {
                    Ok((r.clone(), true))
                }
                _ => Err(AbsError::conflict(
                    "changed_meanwhile",
                    "the deal changed; retry",
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}
