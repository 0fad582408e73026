//! Single waterfall steps by hand: pro-rata splits, arrears and shortfalls carried, and a
//! target-balance fee paid over several periods.

mod common;

use abs::*;
use common::*;
use rust_decimal_macros::dec;

#[test]
fn pro_rata_splits_by_balance_with_the_largest_remainder() {
    let deal = base_deal(
        100_000_000,
        vec![
            bond("A1", 60_000_001, dec!(0), BondKind::Amortizing),
            bond("A2", 39_999_999, dec!(0), BondKind::Amortizing),
        ],
        vec![Step::PayPrincipal {
            bonds: names(&["A1", "A2"]),
            mode: PrincipalMode::ProRata,
            limit: PrincipalLimit::PrincipalAmount,
        }],
    );
    deal.validate().unwrap();
    // 10,000,000 × 60,000,001 / 100,000,000 = 6,000,000.1 and 3,999,999.9: the floors leave
    // one unit, which goes to the larger remainder (A2).
    let (s1, p) = run_period(
        &deal,
        &DealState::at_closing(&deal),
        &collections(0, 10_000_000, 0),
        &on(date(2026, 2, 1)),
    )
    .unwrap();
    assert_eq!(p.principal_paid_minor, [6_000_000, 4_000_000]);
    assert_eq!(s1.bonds[0].balance_minor, 54_000_001);
}

#[test]
fn unpaid_fees_and_interest_are_carried_and_paid_first_next_time() {
    let deal = senior_equity_deal();
    let s0 = DealState::at_closing(&deal);
    // No cash at all in January: everything due is carried.
    let (s1, p1) = run_period(&deal, &s0, &collections(0, 0, 0), &on(date(2026, 2, 1))).unwrap();
    assert_eq!(p1.fees_paid_minor, [0, 0]);
    assert_eq!(s1.fees[0].arrears_minor, 10_000);
    assert_eq!(s1.fees[1].arrears_minor, 84_932);
    assert_eq!(s1.bonds[0].interest_shortfall_minor, 339_726);
    // February (28 days): trustee 10,000 + 10,000; servicer 100,000,000 × 1% × 28/365 =
    // 76,712.33 → 76,712, + 84,932 = 161,644; A 80,000,000 × 5% × 28/365 = 306,849.32 →
    // 306,849, + 339,726 = 646,575. Left: 2,000,000 − 828,219 = 1,171,781, to E.
    let (s2, p2) = run_period(
        &deal,
        &s1,
        &collections(2_000_000, 0, 0),
        &on(date(2026, 3, 1)),
    )
    .unwrap();
    assert_eq!(p2.fees_due_minor, [20_000, 161_644]);
    assert_eq!(p2.fees_paid_minor, [20_000, 161_644]);
    assert_eq!(p2.interest_paid_minor, [646_575, 0]);
    assert_eq!(p2.residual_paid_minor, [0, 1_171_781]);
    assert_eq!(s2.fees[0].arrears_minor, 0);
    assert_eq!(s2.bonds[0].interest_shortfall_minor, 0);
}

#[test]
fn a_target_fee_is_due_until_its_total_is_paid() {
    let mut deal = base_deal(
        10_000_000,
        vec![bond("E", 10_000_000, dec!(0), BondKind::Equity)],
        vec![fee("arranger"), Step::PayResidual { bond: "E".into() }],
    );
    deal.fees = vec![Fee {
        name: "arranger".into(),
        kind: FeeKind::TargetMinor(150_000),
    }];
    deal.validate().unwrap();
    let s0 = DealState::at_closing(&deal);
    let (s1, p1) = run_period(
        &deal,
        &s0,
        &collections(100_000, 0, 0),
        &on(date(2026, 2, 1)),
    )
    .unwrap();
    assert_eq!(p1.fees_paid_minor, [100_000]);
    let (s2, p2) = run_period(
        &deal,
        &s1,
        &collections(100_000, 0, 0),
        &on(date(2026, 3, 1)),
    )
    .unwrap();
    assert_eq!(p2.fees_due_minor, [50_000]);
    assert_eq!(p2.fees_paid_minor, [50_000]);
    assert_eq!(p2.residual_paid_minor, [50_000]);
    let (s3, p3) = run_period(
        &deal,
        &s2,
        &collections(100_000, 0, 0),
        &on(date(2026, 4, 1)),
    )
    .unwrap();
    assert_eq!(p3.fees_due_minor, [0]);
    assert_eq!(s3.fees[0].paid_total_minor, 150_000);
}

#[test]
fn a_pool_fraction_per_period_fee_ignores_the_period_length_and_carries_arrears() {
    let mut deal = senior_equity_deal();
    deal.fees[1].kind = FeeKind::PoolFractionPerPeriod(dec!(0.001));
    deal.validate().unwrap();
    // 31 days: 100,000,000 × 0.1% = 100,000, whatever the days.
    let (s1, p1) = run_period(
        &deal,
        &DealState::at_closing(&deal),
        &collections(1_000_000, 5_000_000, 0),
        &on(date(2026, 2, 1)),
    )
    .unwrap();
    assert_eq!(p1.fees_paid_minor, [10_000, 100_000]);
    // 28 days, no cash: 95,000,000 × 0.1% = 95,000 due and carried.
    let (s2, p2) = run_period(&deal, &s1, &collections(0, 0, 0), &on(date(2026, 3, 1))).unwrap();
    assert_eq!(p2.fees_due_minor, [10_000, 95_000]);
    assert_eq!(s2.fees[1].arrears_minor, 95_000);
    let mut bad = deal.clone();
    bad.fees[1].kind = FeeKind::PoolFractionPerPeriod(dec!(1.5));
    assert_eq!(
        bad.validate().unwrap_err()[0].field,
        "fees[1].pool_fraction"
    );
}
