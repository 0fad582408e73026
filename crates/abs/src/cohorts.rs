//! Loan-level pools projected by cohort.
//!
//! A projection is linear in the balance of a cohort (every amount is balance × a rate that
//! depends only on the cohort's coupon, term, age and the assumptions), so loans with the same
//! coupon, remaining term, age and amortization are summed into one cohort and projected
//! once. The only difference from projecting loan by loan is rounding: one rounding per cohort
//! and cell instead of one per loan and cell (each within half a minor unit of the exact
//! value), which is the more exact of the two. A million consumer loans fall into a few
//! thousand cohorts at most.

use crate::projection::{
    project_cached, Assumptions, Calendar, PoolCohort, PoolPeriod, ProjectionError, RateCache,
};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Sums loans into cohorts of equal coupon, remaining term, age and amortization, in a
/// deterministic order.
pub fn group_cohorts(loans: &[PoolCohort]) -> Vec<PoolCohort> {
    let mut groups: BTreeMap<(Decimal, u32, u32, u8), PoolCohort> = BTreeMap::new();
    for loan in loans {
        let key = (
            loan.wac.normalize(),
            loan.remaining_term_months,
            loan.age_months,
            loan.amortization as u8,
        );
        groups
            .entry(key)
            .and_modify(|c| c.balance_minor += loan.balance_minor)
            .or_insert_with(|| loan.clone());
    }
    groups.into_values().collect()
}

/// Projects every cohort and adds them period by period. In the result, `schedule_factor`
/// is the performing balance over the opening balance, and `mdr` and `smm` are the effective
/// rates of the whole pool (new defaults / opening performing balance; prepayments /
/// opening performing balance), rounded to 10 places.
pub fn project_pool(
    cohorts: &[PoolCohort],
    assumptions: &Assumptions,
    calendar: &Calendar,
) -> Result<Vec<PoolPeriod>, ProjectionError> {
    let opening: i64 = cohorts.iter().map(|c| c.balance_minor).sum();
    let mut total: Vec<PoolPeriod> = Vec::new();
    let mut cache = RateCache::default();
    for cohort in cohorts {
        for p in project_cached(cohort, assumptions, calendar, &mut cache)? {
            let i = (p.period - 1) as usize;
            if total.len() <= i {
                total.resize_with(i + 1, || empty(i as u32 + 1));
            }
            add(&mut total[i], &p);
        }
    }
    let mut before = opening;
    let mut i = 0;
    while i < total.len() {
        let p = &mut total[i];
        if opening > 0 {
            p.schedule_factor = Decimal::from(p.performing_balance_minor) / Decimal::from(opening);
        }
        if before > 0 {
            p.mdr = (Decimal::from(p.new_default_minor) / Decimal::from(before)).round_dp(10);
            p.smm = (Decimal::from(p.prepayment_minor) / Decimal::from(before)).round_dp(10);
        }
        before = p.performing_balance_minor;
        i += 1;
    }
    Ok(total)
}

fn empty(period: u32) -> PoolPeriod {
    PoolPeriod {
        period,
        performing_balance_minor: 0,
        new_default_minor: 0,
        in_recovery_minor: 0,
        schedule_factor: Decimal::ZERO,
        expected_amortization_minor: 0,
        prepayment_minor: 0,
        default_amortization_minor: 0,
        scheduled_principal_minor: 0,
        expected_interest_minor: 0,
        interest_lost_minor: 0,
        interest_minor: 0,
        recovery_minor: 0,
        loss_minor: 0,
        liquidated_minor: 0,
        mdr: Decimal::ZERO,
        smm: Decimal::ZERO,
    }
}

fn add(t: &mut PoolPeriod, p: &PoolPeriod) {
    t.performing_balance_minor += p.performing_balance_minor;
    t.new_default_minor += p.new_default_minor;
    t.in_recovery_minor += p.in_recovery_minor;
    t.expected_amortization_minor += p.expected_amortization_minor;
    t.prepayment_minor += p.prepayment_minor;
    t.default_amortization_minor += p.default_amortization_minor;
    t.scheduled_principal_minor += p.scheduled_principal_minor;
    t.expected_interest_minor += p.expected_interest_minor;
    t.interest_lost_minor += p.interest_lost_minor;
    t.interest_minor += p.interest_minor;
    t.recovery_minor += p.recovery_minor;
    t.loss_minor += p.loss_minor;
    t.liquidated_minor += p.liquidated_minor;
}
