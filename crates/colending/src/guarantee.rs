//! Credit enhancement: a guarantor that pays funders' overdue amounts (代偿) and takes over
//! the claim, and a first-loss deposit capped at a percentage of a named portfolio.
//!
//! Each is a pure function over a loan's positions. A claim carries an id chosen by the
//! caller (derived from the loan and the date, say); an id already settled moves nothing
//! and answers [`ClaimOutcome::AlreadySettled`], so a retried claim never pays twice.

use crate::event::{period_amount, EventError, Outcome, Work};
use crate::partner::PartnerId;
use crate::position::{Balance, LoanFunding};
use crate::split::{reduce_toward_shares, split_by_weights};
use money::{DayCount, Decimal, RateAnnual, RoundingMode};
use std::collections::BTreeSet;

/// A claim's idempotency key (the shell derives it, e.g. a UUIDv5 of loan and date).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClaimId(pub u128);

/// A guarantee (融资担保) attached to a funding plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuaranteeTerms {
    pub guarantor_id: PartnerId,
    /// Days past due at which the guarantor pays the funders.
    pub trigger_dpd: u32,
    /// The guarantee fee, charged to the borrower on outstanding principal.
    pub fee_rate_annual: RateAnnual,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuaranteeError {
    #[error("the loan's funding has no guarantor")]
    NoGuarantee,
    #[error("days past due {dpd} is below the trigger {trigger_dpd}")]
    NotDue { dpd: u32, trigger_dpd: u32 },
    #[error("the loan is written off; its losses go to a first-loss deposit, not a guarantee")]
    WrittenOff,
    #[error("the loan has nothing written off to cover")]
    NotWrittenOff,
    #[error("{field}: {reason}")]
    Field {
        field: &'static str,
        reason: &'static str,
    },
    #[error(transparent)]
    Event(#[from] EventError),
}

/// The loan's overdue principal as its state machine reports it on the claim date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuaranteeClaim {
    pub claim_id: ClaimId,
    pub days_past_due: u32,
    pub overdue_principal_minor: i64,
}

/// What the guarantor paid one funder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimPayment {
    pub partner_id: PartnerId,
    pub principal_minor: i64,
    pub interest_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    Paid {
        /// Boxed: a loan's positions are large beside `AlreadySettled`.
        outcome: Box<Outcome>,
        payments: Vec<ClaimPayment>,
    },
    /// This claim id was paid before; nothing moves.
    AlreadySettled,
}

/// The guarantee fee for a period: `principal × rate × year fraction`, rounded as named.
pub fn guarantee_fee_minor(
    terms: &GuaranteeTerms,
    principal_outstanding_minor: i64,
    from: money::BusinessDate,
    to: money::BusinessDate,
    day_count: DayCount,
    rounding: RoundingMode,
) -> Result<i64, GuaranteeError> {
    let overflow = GuaranteeError::Event(EventError::Overflow);
    let rate = terms.fee_rate_annual.fraction();
    let exact = period_amount(principal_outstanding_minor, rate, day_count, from, to)
        .ok_or(overflow.clone())?;
    rounding.round_minor(exact).map_err(|_| overflow)
}

/// Pays each funder its part of the loan's overdue principal that the guarantor does not
/// already hold, and all of its billed unpaid interest; the guarantor takes those claims
/// over (the loan's totals do not change: the borrower still owes them, now to the
/// guarantor). The principal comes off the funders so each stays nearest its share.
pub fn claim_guarantee(
    funding: &LoanFunding,
    claim: &GuaranteeClaim,
) -> Result<ClaimOutcome, GuaranteeError> {
    let terms = funding
        .agreement
        .guarantee
        .ok_or(GuaranteeError::NoGuarantee)?;
    if funding.settled_claims.contains(&claim.claim_id) {
        return Ok(ClaimOutcome::AlreadySettled);
    }
    if !funding.disbursed {
        return Err(EventError::NotDisbursed.into());
    }
    if funding.written_off {
        return Err(GuaranteeError::WrittenOff);
    }
    if claim.days_past_due < terms.trigger_dpd {
        return Err(GuaranteeError::NotDue {
            dpd: claim.days_past_due,
            trigger_dpd: terms.trigger_dpd,
        });
    }
    let total_principal = funding.totals.principal_outstanding_minor;
    if !(0..=total_principal).contains(&claim.overdue_principal_minor) {
        return Err(GuaranteeError::Field {
            field: "overdue_principal_minor",
            reason: "must be between 0 and the loan's outstanding principal",
        });
    }
    let mut work = Work::new(funding);
    let g = funding
        .guarantor_index()
        .expect("a guarantee has a guarantor");
    let held = funding.held(g).principal_outstanding_minor;
    let new_principal = (claim.overdue_principal_minor - held).max(0);
    let n = funding.funders.len();
    let principal: Vec<i64> = funding
        .funders
        .iter()
        .map(|f| f.held.principal_outstanding_minor)
        .collect();
    let parts = reduce_toward_shares(
        &principal,
        &funding.shares(),
        funding.currency(),
        new_principal,
    );
    let mut payments = Vec::with_capacity(n);
    for (index, &principal_minor) in parts.iter().enumerate() {
        let interest_minor = funding.funders[index].held.interest_receivable_minor;
        for (balance, amount) in [
            (Balance::Principal, principal_minor),
            (Balance::Interest, interest_minor),
        ] {
            work.add(index, balance, -amount);
            work.add(g, balance, amount);
        }
        work.funding.funders[index].compensated_minor += principal_minor + interest_minor;
        payments.push(ClaimPayment {
            partner_id: funding.funders[index].partner_id,
            principal_minor,
            interest_minor,
        });
    }
    work.funding.settled_claims.insert(claim.claim_id);
    Ok(ClaimOutcome::Paid {
        outcome: Box::new(work.finish()),
        payments,
    })
}

/// A first-loss deposit: money put up (by the platform) to bear the funders' first losses
/// on a named portfolio, drawn at most up to `cap_fraction` of the portfolio's principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstLossDeposit {
    pub portfolio: String,
    pub cap_fraction: Decimal,
    /// The portfolio's principal the cap is a percentage of (fixed when the deposit is set).
    pub portfolio_principal_minor: i64,
    pub deposited_minor: i64,
    pub drawn_minor: i64,
    pub settled_claims: BTreeSet<ClaimId>,
}

impl FirstLossDeposit {
    pub fn new(
        portfolio: String,
        cap_fraction: Decimal,
        portfolio_principal_minor: i64,
        deposited_minor: i64,
    ) -> Result<FirstLossDeposit, GuaranteeError> {
        let field = |field, reason| Err(GuaranteeError::Field { field, reason });
        if portfolio.trim().is_empty() {
            return field("portfolio", "must not be empty");
        }
        if cap_fraction <= Decimal::ZERO || cap_fraction > Decimal::ONE {
            return field("cap_fraction", "must be above 0 and at most 1");
        }
        if portfolio_principal_minor <= 0 {
            return field("portfolio_principal_minor", "must be positive");
        }
        if deposited_minor < 0 {
            return field("deposited_minor", "must not be negative");
        }
        Ok(FirstLossDeposit {
            portfolio,
            cap_fraction,
            portfolio_principal_minor,
            deposited_minor,
            drawn_minor: 0,
            settled_claims: BTreeSet::new(),
        })
    }

    /// The most the deposit can ever pay: the deposit, and no more than the cap (rounded
    /// toward zero).
    pub fn cap_minor(&self) -> i64 {
        let cap = (self.cap_fraction * Decimal::from(self.portfolio_principal_minor)).floor();
        i64::try_from(cap)
            .unwrap_or(i64::MAX)
            .min(self.deposited_minor)
    }

    pub fn available_minor(&self) -> i64 {
        (self.cap_minor() - self.drawn_minor).max(0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FirstLossOutcome {
    Drawn {
        deposit: FirstLossDeposit,
        outcome: Box<Outcome>,
        /// What the deposit paid each funder.
        payments: Vec<(PartnerId, i64)>,
    },
    AlreadySettled,
}

/// Pays the funders' written-off claims of a loan from the deposit, up to what is left
/// under the cap, in proportion to each funder's claim; the claims paid pass to the
/// platform, which put up the deposit (so later recoveries on them are the platform's).
/// The funder position of `depositor_id` (the platform funding its own share) is not
/// covered: it would pay itself.
pub fn draw_first_loss(
    deposit: &FirstLossDeposit,
    funding: &LoanFunding,
    depositor_id: PartnerId,
    claim_id: ClaimId,
) -> Result<FirstLossOutcome, GuaranteeError> {
    if deposit.settled_claims.contains(&claim_id) {
        return Ok(FirstLossOutcome::AlreadySettled);
    }
    if !funding.written_off {
        return Err(GuaranteeError::NotWrittenOff);
    }
    let covered: Vec<usize> = (0..funding.funders.len())
        .filter(|&i| funding.funders[i].partner_id != depositor_id)
        .collect();
    let claims: Vec<i64> = covered
        .iter()
        .map(|&i| funding.funders[i].held.written_off_minor)
        .collect();
    let amount_minor = deposit.available_minor().min(claims.iter().sum());
    let mut work = Work::new(funding);
    let mut payments = Vec::with_capacity(covered.len());
    if amount_minor > 0 {
        let fallback = vec![Decimal::ONE; covered.len()];
        let parts = split_by_weights(amount_minor, funding.currency(), &claims, &fallback);
        let platform = funding.platform_index();
        for (&index, &part) in covered.iter().zip(&parts) {
            work.add(index, Balance::WrittenOff, -part);
            work.add(platform, Balance::WrittenOff, part);
            payments.push((funding.funders[index].partner_id, part));
        }
    }
    let mut deposit = deposit.clone();
    deposit.drawn_minor += amount_minor;
    deposit.settled_claims.insert(claim_id);
    Ok(FirstLossOutcome::Drawn {
        deposit,
        outcome: Box::new(work.finish()),
        payments,
    })
}
