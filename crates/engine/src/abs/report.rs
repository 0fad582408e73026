//! An investor report's evidence: the period as run, and inclusion proofs of every entry
//! that moved cash into the SPV's collection account for it, all against one signed tree
//! head, so the collections can be checked without trusting the operator.

use super::docs::{load, DealDoc, PeriodDoc};
use super::AbsError;
use crate::{Engine, EntryProof};
use ledger::{EntryId, SignedTreeHead};
use uuid::Uuid;

pub struct PeriodEvidence {
    pub deal: DealDoc,
    pub period: PeriodDoc,
    pub proofs: Vec<EntryProof>,
    pub tree_head: SignedTreeHead,
}

/// Period `n` of the deal with its collection entries proven.
pub async fn period_evidence(
    engine: &Engine,
    tenant: &str,
    deal_id: Uuid,
    n: u32,
) -> Result<PeriodEvidence, AbsError> {
    let (deal, _) = load(engine, deal_id, tenant).await?;
    let period = deal
        .periods
        .iter()
        .find(|p| p.n == n)
        .cloned()
        .ok_or(AbsError::NotFound("period"))?;
    let ids: Vec<EntryId> = period
        .collection_entry_ids
        .iter()
        .map(|&id| EntryId(id))
        .collect();
    let (proofs, tree_head) = engine.proofs(&ids).await?.ok_or_else(|| {
        AbsError::Storage(anyhow::anyhow!(
            "a collection entry of deal {deal_id} period {n} is not stored"
        ))
    })?;
    Ok(PeriodEvidence {
        deal,
        period,
        proofs,
        tree_head,
    })
}
