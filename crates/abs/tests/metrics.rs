//! Tranche metrics, by hand and over a projected deal.

mod common;

use abs::*;
use common::*;
use rust_decimal::{Decimal, MathematicalOps};
use rust_decimal_macros::dec;

fn flow(date: money::BusinessDate, interest_minor: i64, principal_minor: i64) -> TrancheFlow {
    TrancheFlow {
        date,
        interest_minor,
        principal_minor,
        residual_minor: 0,
    }
}

#[test]
fn wal_yield_and_loss_by_hand() {
    let settle = date(2026, 1, 1);
    // 10,000 bought at par; 1,000 interest and 10,000 principal after 365 days: 10%.
    let one = tranche_metrics(
        10_000,
        10_000,
        settle,
        &[flow(date(2027, 1, 1), 1_000, 10_000)],
    );
    assert_eq!(one.yield_annual, Some(dec!(0.1)));
    assert_eq!(one.wal_years, Some(dec!(1)));
    assert_eq!(one.duration_years, Some(dec!(1)));
    assert_eq!(one.loss_minor, 0);

    // Half the principal after 365 days, half after 730: WAL 1.5 years. 400 of 1,000 never
    // repaid: loss 40%.
    let two = tranche_metrics(
        1_000,
        1_000,
        settle,
        &[
            flow(date(2027, 1, 1), 0, 300),
            flow(date(2028, 1, 1), 0, 300),
        ],
    );
    assert_eq!(two.wal_years, Some(dec!(1.5)));
    assert_eq!(two.loss_minor, 400);
    assert_eq!(two.loss_fraction, dec!(0.4));
    // Paying 1,000 for 600 back: the yield is negative; PV at it equals the price.
    let y = two.yield_annual.unwrap();
    assert!(y < Decimal::ZERO);
    // 300x + 300x² = 1000 with x = 1/(1+y) ⇒ x = (−300 + sqrt(300² + 4·300·1000)) / 600.
    let x = (dec!(-300) + (dec!(90000) + dec!(1200000)).sqrt().unwrap()) / dec!(600);
    let expected = Decimal::ONE / x - Decimal::ONE;
    assert!(
        (y - expected).abs() < dec!(0.000000001),
        "{y} vs {expected}"
    );
}

#[test]
fn a_projected_deal_keeps_its_pool_equal_to_the_performing_balance() {
    // Pool of 1,000,000.00 at 12%, 24 months, 1% SMM, 0.5% MDR, 6-month lag, 40% severity.
    let cohort = PoolCohort {
        balance_minor: 100_000_000,
        wac: dec!(0.12),
        remaining_term_months: 24,
        age_months: 0,
        amortization: Amortization::LevelPayment,
    };
    let a = Assumptions {
        prepayment: Prepayment::Smm(dec!(0.01)),
        default: DefaultRate::Mdr(dec!(0.005)),
        severity: dec!(0.4),
        recovery_lag_months: 6,
        advanced: true,
    };
    let pool = project(&cohort, &a, &Calendar::Monthly).unwrap();
    let deal = senior_equity_deal();
    let (_, payments) = run_projection(&deal, &pool, false, |_| Vec::new()).unwrap();
    assert_eq!(payments.len(), pool.len());
    let mut state = DealState::at_closing(&deal);
    for (p, pp) in payments.iter().zip(&pool) {
        assert_eq!(p.sources_minor(), p.uses_minor());
        state.pool_balance_minor -= p.collections.principal_minor + p.collections.new_default_minor;
        assert_eq!(state.pool_balance_minor, pp.performing_balance_minor);
    }
    let senior = tranche_metrics(
        80_000_000,
        80_000_000,
        deal.dates.closing,
        &bond_flows(&payments, 0),
    );
    assert_eq!(senior.loss_minor, 0, "20% subordination covers the losses");
    let wal = senior.wal_years.unwrap();
    assert!(wal > dec!(0.3) && wal < dec!(1), "{wal}");
    // Bought at par, a 5% ACT/365 coupon paid monthly: about 5.1% effective.
    let y = senior.yield_annual.unwrap();
    assert!(y > dec!(0.050) && y < dec!(0.052), "{y}");
    let equity = tranche_metrics(
        20_000_000,
        20_000_000,
        deal.dates.closing,
        &bond_flows(&payments, 1),
    );
    assert!(
        equity.yield_annual.unwrap() > y,
        "the equity earns the excess spread"
    );
}

#[test]
fn long_dated_flows_have_a_yield_and_do_not_overflow() {
    // 30 years of annual coupons at 5% on 1,000,000 bought at par: yield 5%. Discounting at
    // the search's lower end (−99%) over 30 years is 100^30, beyond `Decimal`'s range, which
    // the search reads as "far above the price" instead of failing.
    let settle = date(2026, 1, 1);
    let flows: Vec<TrancheFlow> = (1..=30)
        .map(|y| {
            let principal = if y == 30 { 1_000_000 } else { 0 };
            // 365 days a year, so each year is exactly 1 in ACT/365F.
            let d = settle.add_days(365 * y).unwrap();
            flow(d, 50_000, principal)
        })
        .collect();
    let m = tranche_metrics(1_000_000, 1_000_000, settle, &flows);
    let y = m.yield_annual.expect("a yield");
    assert!((y - dec!(0.05)).abs() < dec!(0.000001), "{y}");
    assert!(m.duration_years.is_some());
}
