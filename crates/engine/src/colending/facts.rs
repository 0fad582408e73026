//! What a funder learns of a loan beyond its terms: the credit score of the decision the
//! loan was applied for with, and its borrower's region. Eligibility checks them
//! (`score_min`, `regions`) and callback funders are sent them.

use super::docs::{ApprovalDoc, PartnerDoc, Versioned};
use crate::customers::{self, CustomerError, Profile};
use crate::loans::links;
use crate::Engine;
use rust_decimal::{Decimal, RoundingStrategy};
use store::{DomainWrite, LoanRow};
use uuid::Uuid;

/// Decimal places a model score keeps when it is compared with a partner's cut-off.
const SCORE_DP: u32 = 6;

/// A loan's score and region; None where the loan has none (no decision, a borrower who is
/// not a customer). A partner with a cut-off or a region list declines such a loan.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LoanFacts {
    pub score: Option<Decimal>,
    pub region: Option<String>,
}

/// The facts of `row`, read only when one of the plan's partners uses them.
pub(crate) async fn loan_facts(
    engine: &Engine,
    row: &LoanRow,
    partners: &[Versioned<PartnerDoc>],
    pending: &[DomainWrite],
) -> anyhow::Result<LoanFacts> {
    let used = partners.iter().any(|p| {
        let e = &p.doc.spec.eligibility;
        e.score_min.is_some()
            || !e.regions.is_empty()
            || matches!(p.doc.spec.approval, ApprovalDoc::Callback { .. })
    });
    if !used {
        return Ok(LoanFacts::default());
    }
    Ok(LoanFacts {
        score: score_of(engine, row.id, pending).await?,
        region: region_of(engine, row).await?,
    })
}

/// The score of the stored decision the loan was applied for with (linked when it was
/// applied for, or by `pending` when it is originated in one step).
async fn score_of(
    engine: &Engine,
    loan_id: Uuid,
    pending: &[DomainWrite],
) -> anyhow::Result<Option<Decimal>> {
    let decision_id = match links::pending_decision(pending, loan_id) {
        Some(d) => d,
        None => match links::decision_of(engine, loan_id).await? {
            Some(d) => d,
            None => return Ok(None),
        },
    };
    let Some(row) = engine.store().decision(&decision_id).await? else {
        return Ok(None);
    };
    let decision = crate::stored_decision(&row.output_json)
        .map_err(|e| anyhow::anyhow!("decision {decision_id} does not decode: {e}"))?;
    // A model's score is a float; compared with a cut-off it is a decimal, rounded once.
    Ok(Decimal::from_f64_retain(decision.score)
        .map(|s| s.round_dp_with_strategy(SCORE_DP, RoundingStrategy::MidpointNearestEven)))
}

/// The region of the borrower's customer profile.
async fn region_of(engine: &Engine, row: &LoanRow) -> anyhow::Result<Option<String>> {
    let Ok(id) = Uuid::parse_str(&row.borrower) else {
        return Ok(None);
    };
    match customers::customer_doc(engine, &row.tenant, id).await {
        Ok(doc) => Ok(match doc.profile {
            Some(Profile::Individual(p)) => Some(p.region_code),
            Some(Profile::Enterprise(p)) => Some(p.region_code),
            None => None,
        }),
        Err(CustomerError::NotFound) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("borrower of loan {}: {e}", row.id)),
    }
}
