//! Deals run period by period against hand-computed figures.
//!
//! Accruals are `balance × coupon × days / 365` rounded half to even; each expected figure
//! below is worked out in the comment beside it.

mod common;

use abs::*;
use common::*;

fn run(
    deal: &Deal,
    state: &DealState,
    c: Collections,
    d: money::BusinessDate,
) -> (DealState, Payments) {
    let (next, p) = run_period(deal, state, &c, &on(d)).expect("the period runs");
    assert_eq!(p.sources_minor(), p.uses_minor(), "sources = uses on {d}");
    (next, p)
}

#[test]
fn static_pool_with_a_senior_and_an_equity_tranche() {
    let deal = senior_equity_deal();
    deal.validate().unwrap();
    let s0 = DealState::at_closing(&deal);

    // Period 1, 31 days. Servicer 100,000,000 × 1% × 31/365 = 84,931.51 → 84,932;
    // A interest 80,000,000 × 5% × 31/365 = 339,726.03 → 339,726.
    // Cash 6,000,000 − 10,000 − 84,932 − 339,726 = 5,565,342; principal amount 5,000,000 to A;
    // residual 565,342 to E.
    let (s1, p1) = run(
        &deal,
        &s0,
        collections(1_000_000, 5_000_000, 0),
        date(2026, 2, 1),
    );
    assert_eq!(p1.days, 31);
    assert_eq!(p1.waterfall, WaterfallKind::Normal);
    assert_eq!(p1.fees_paid_minor, [10_000, 84_932]);
    assert_eq!(p1.interest_paid_minor, [339_726, 0]);
    assert_eq!(p1.principal_paid_minor, [5_000_000, 0]);
    assert_eq!(p1.residual_paid_minor, [0, 565_342]);
    assert_eq!(s1.bonds[0].balance_minor, 75_000_000);
    assert_eq!(s1.pool_balance_minor, 95_000_000);
    assert_eq!(s1.accounts_minor, [0]);

    // Period 2, 28 days, 1,000,000 defaults. Servicer 95,000,000 × 1% × 28/365 = 72,876.71 →
    // 72,877; A 75,000,000 × 5% × 28/365 = 287,671.23 → 287,671. Cash 4,950,000 − 10,000 −
    // 72,877 − 287,671 = 4,579,452, short of the principal amount 4,000,000 + 1,000,000: all
    // of it to A (70,420,548 left); nothing to E.
    let (s2, p2) = run(
        &deal,
        &s1,
        collections(950_000, 4_000_000, 1_000_000),
        date(2026, 3, 1),
    );
    assert_eq!(p2.fees_paid_minor, [10_000, 72_877]);
    assert_eq!(p2.interest_paid_minor, [287_671, 0]);
    assert_eq!(p2.principal_paid_minor, [4_579_452, 0]);
    assert_eq!(p2.residual_paid_minor, [0, 0]);
    assert_eq!(s2.bonds[0].balance_minor, 70_420_548);
    assert_eq!(s2.pool_balance_minor, 90_000_000);
    assert_eq!(s2.cumulative_default_minor, 1_000_000);

    // Period 3, 31 days, 85,000,000 principal. Servicer 90,000,000 × 1% × 31/365 = 76,438.36
    // → 76,438; A 70,420,548 × 5% × 31/365 = 299,046.16 → 299,046. Cash 85,900,000 − 10,000 −
    // 76,438 − 299,046 = 85,514,516. Principal 85,000,000: A's 70,420,548 in full, then
    // 14,579,452 to E; residual 514,516.
    let (s3, p3) = run(
        &deal,
        &s2,
        collections(900_000, 85_000_000, 0),
        date(2026, 4, 1),
    );
    assert_eq!(p3.fees_paid_minor, [10_000, 76_438]);
    assert_eq!(p3.interest_paid_minor, [299_046, 0]);
    assert_eq!(p3.principal_paid_minor, [70_420_548, 14_579_452]);
    assert_eq!(p3.residual_paid_minor, [0, 514_516]);
    assert_eq!(s3.bonds[0].balance_minor, 0);
    assert_eq!(s3.bonds[1].balance_minor, 5_420_548);
    assert_eq!(s3.pool_balance_minor, 5_000_000);
}

#[test]
fn three_sequential_seniors() {
    let deal = three_seniors_deal();
    deal.validate().unwrap();
    let s0 = DealState::at_closing(&deal);

    // 30 days. A 50,000,000 × 4% × 30/365 = 164,383.56 → 164,384; B 30,000,000 × 5% ×
    // 30/365 = 123,287.67 → 123,288; C 20,000,000 × 6% × 30/365 = 98,630.14 → 98,630.
    // Cash 60,800,000 − 386,302 = 60,413,698; principal 60,000,000: A 50,000,000 in full,
    // B 10,000,000, C nothing; 413,698 stays in the collection account.
    let (s1, p1) = run(
        &deal,
        &s0,
        collections(800_000, 60_000_000, 0),
        date(2026, 5, 1),
    );
    assert_eq!(p1.interest_paid_minor, [164_384, 123_288, 98_630]);
    assert_eq!(p1.principal_paid_minor, [50_000_000, 10_000_000, 0]);
    assert_eq!(s1.accounts_minor, [413_698]);
    let balances: Vec<i64> = s1.bonds.iter().map(|b| b.balance_minor).collect();
    assert_eq!(balances, [0, 20_000_000, 20_000_000]);

    // 31 days; the carried 413,698 is available. B 20,000,000 × 5% × 31/365 = 84,931.51 →
    // 84,932; C 20,000,000 × 6% × 31/365 = 101,917.81 → 101,918. Cash 413,698 + 400,000 −
    // 186,850 = 626,848; principal amount is the 500,000 default: all to B; 126,848 kept.
    let (s2, p2) = run(
        &deal,
        &s1,
        collections(400_000, 0, 500_000),
        date(2026, 6, 1),
    );
    assert_eq!(p2.interest_paid_minor, [0, 84_932, 101_918]);
    assert_eq!(p2.principal_paid_minor, [0, 500_000, 0]);
    assert_eq!(s2.accounts_minor, [126_848]);
    assert_eq!(s2.bonds[1].balance_minor, 19_500_000);
}

#[test]
fn cumulative_default_trigger_on_a_stepped_curve_switches_to_the_accelerated_waterfall() {
    let deal = cumulative_default_deal();
    deal.validate().unwrap();
    let s0 = DealState::at_closing(&deal);

    // Feb: 1,000,000 defaults = 1.0% of the cut-off pool, not above February's 1%.
    // A 90,000,000 × 4.8% × 31/365 = 366,904.11 → 366,904; cash 2,400,000 − 366,904 =
    // 2,033,096, short of the 3,000,000 principal amount: all to A.
    let (s1, p1) = run(
        &deal,
        &s0,
        collections(400_000, 2_000_000, 1_000_000),
        date(2026, 2, 1),
    );
    assert_eq!(p1.waterfall, WaterfallKind::Normal);
    assert_eq!(p1.triggers, [false]);
    assert_eq!(p1.principal_paid_minor, [2_033_096, 0]);

    // Mar: 1.5% cumulative — above February's 1%, but March's step is 2%: still normal.
    // A 87,966,904 × 4.8% × 28/365 = 323,911.03 → 323,911; cash 2,600,000 − 323,911 =
    // 2,276,089 against a principal amount of 2,500,000: all to A.
    let (s2, p2) = run(
        &deal,
        &s1,
        collections(600_000, 2_000_000, 500_000),
        date(2026, 3, 1),
    );
    assert_eq!(p2.waterfall, WaterfallKind::Normal);
    assert_eq!(p2.interest_paid_minor, [323_911, 0]);
    assert_eq!(s2.bonds[0].balance_minor, 85_690_815);

    // Apr: 2.6% cumulative, above April's 2.5%: accelerated from this period. A 85,690,815 ×
    // 4.8% × 31/365 = 349,337.02 → 349,337; every remaining unit (2,600,000 − 349,337 =
    // 2,250,663) pays A down, although the principal amount (3,100,000) is larger.
    let (s3, p3) = run(
        &deal,
        &s2,
        collections(600_000, 2_000_000, 1_100_000),
        date(2026, 4, 1),
    );
    assert_eq!(p3.triggers, [true]);
    assert_eq!(p3.waterfall, WaterfallKind::Accelerated);
    assert_eq!(p3.principal_paid_minor, [2_250_663, 0]);
    assert_eq!(p3.residual_paid_minor, [0, 0]);
    assert_eq!(s3.bonds[0].balance_minor, 83_440_152);

    // May: no new defaults, but the trigger is not curable: still accelerated, and the
    // excess cash that the normal waterfall would release to E turbo-pays A.
    // A 83,440,152 × 4.8% × 30/365 = 329,189.20 → 329,189; 1,600,000 − 329,189 = 1,270,811.
    let (s4, p4) = run(
        &deal,
        &s3,
        collections(600_000, 1_000_000, 0),
        date(2026, 5, 1),
    );
    assert_eq!(p4.waterfall, WaterfallKind::Accelerated);
    assert_eq!(p4.principal_paid_minor, [1_270_811, 0]);
    assert_eq!(s4.bonds[0].balance_minor, 82_169_341);
}

#[test]
fn revolving_deal_buys_receivables_keeps_a_reserve_and_is_cleaned_up() {
    let deal = revolving_deal();
    deal.validate().unwrap();
    let s0 = DealState::at_closing(&deal);

    // Feb (31 days, revolving): servicer 84,932; A 85,000,000 × 4% × 31/365 = 288,767.12 →
    // 288,767. Cash 1,000,000 (reserve) + 11,500,000 − 373,699 = 12,126,301. The principal
    // amount 10,000,000 + 200,000 defaults buys receivables at par: the pool is back at
    // 100,000,000; the reserve is refilled to 1% of it (1,000,000); 926,301 goes to E.
    let (s1, p1) = run(
        &deal,
        &s0,
        collections(1_500_000, 10_000_000, 200_000),
        date(2026, 2, 1),
    );
    assert!(p1.revolving);
    assert_eq!(p1.purchase_paid_minor, 10_200_000);
    assert_eq!(p1.purchased_balance_minor, 10_200_000);
    assert_eq!(p1.principal_paid_minor, [0, 0]);
    assert_eq!(p1.residual_paid_minor, [0, 926_301]);
    assert_eq!(s1.pool_balance_minor, 100_000_000);
    assert_eq!(s1.accounts_minor, [0, 1_000_000]);

    // Mar 1 is the revolving end (inclusive): servicer 76,712, A 260,822; purchase 9,000,000.
    let (s2, p2) = run(
        &deal,
        &s1,
        collections(1_400_000, 9_000_000, 0),
        date(2026, 3, 1),
    );
    assert!(p2.revolving);
    assert_eq!(p2.fees_paid_minor, [76_712]);
    assert_eq!(p2.interest_paid_minor, [260_822, 0]);
    assert_eq!(p2.purchase_paid_minor, 9_000_000);
    assert_eq!(p2.residual_paid_minor, [0, 1_062_466]);

    // Apr: amortizing. Pool 80,000,000, reserve target 800,000 (200,000 released);
    // cash 1,000,000 + 21,300,000 − 84,932 − 288,767 − 800,000 = 21,126,301: 20,000,000 to A,
    // 1,126,301 to E.
    let (s3, p3) = run(
        &deal,
        &s2,
        collections(1_300_000, 20_000_000, 0),
        date(2026, 4, 1),
    );
    assert!(!p3.revolving);
    assert_eq!(p3.purchase_paid_minor, 0);
    assert_eq!(p3.principal_paid_minor, [20_000_000, 0]);
    assert_eq!(p3.residual_paid_minor, [0, 1_126_301]);
    assert_eq!(s3.accounts_minor, [0, 800_000]);

    // May: the pool falls to 9,000,000 ≤ 10% of 100,000,000. Not calling is allowed; calling
    // when the pool is above the threshold is refused.
    let c4 = collections(500_000, 71_000_000, 0);
    let too_early = collections(500_000, 69_000_000, 0);
    let call = Period {
        exercise_call: true,
        ..on(date(2026, 5, 1))
    };
    assert_eq!(
        run_period(&deal, &s3, &too_early, &call),
        Err(RunError::CallNotExercisable)
    );
    assert!(call_exercisable(&deal, 10_000_000), "at the threshold");
    assert!(!call_exercisable(&deal, 10_000_001), "one unit above");
    // Called: the pool is bought at its 9,000,000 balance; the clean-up waterfall pays A's
    // interest (65,000,000 × 4% × 30/365 = 213,698.63 → 213,699), A and E in full, and the
    // rest (800,000 + 80,500,000 − 213,699 − 80,000,000 = 1,086,301) to E.
    let (s4, p4) = run_period(&deal, &s3, &c4, &call).unwrap();
    assert_eq!(p4.sources_minor(), p4.uses_minor());
    assert_eq!(p4.waterfall, WaterfallKind::CleanUp);
    assert_eq!(p4.call_proceeds_minor, 9_000_000);
    assert_eq!(p4.principal_paid_minor, [65_000_000, 15_000_000]);
    assert_eq!(p4.residual_paid_minor, [0, 1_086_301]);
    assert_eq!(s4.pool_balance_minor, 0);
    assert_eq!(s4.accounts_minor, [0, 0]);
    assert_eq!(
        run_period(&deal, &s4, &collections(0, 0, 0), &on(date(2026, 6, 1))),
        Err(RunError::Ended)
    );
}

#[test]
fn a_period_cannot_run_twice_or_backwards() {
    let deal = senior_equity_deal();
    let s0 = DealState::at_closing(&deal);
    let (s1, _) = run(&deal, &s0, collections(1, 1, 0), date(2026, 2, 1));
    assert_eq!(
        run_period(&deal, &s1, &collections(1, 1, 0), &on(date(2026, 2, 1))),
        Err(RunError::DateNotAfter(date(2026, 2, 1)))
    );
    assert_eq!(
        run_period(
            &deal,
            &s1,
            &collections(0, 200_000_000, 0),
            &on(date(2026, 3, 1))
        ),
        Err(RunError::ExceedsPool)
    );
    assert_eq!(
        run_period(&deal, &s1, &collections(-1, 0, 0), &on(date(2026, 3, 1))),
        Err(RunError::NegativeCollection("interest_minor"))
    );
    let mut broken = deal.clone();
    broken.waterfalls.normal.push(fee("nobody"));
    assert!(matches!(
        run_period(&broken, &s1, &collections(1, 1, 0), &on(date(2026, 3, 1))),
        Err(RunError::InvalidDeal(e)) if e[0].field == "waterfalls.normal[5].fee"
    ));
    assert_eq!(
        run_period(
            &three_seniors_deal(),
            &s1,
            &collections(1, 1, 0),
            &on(date(2026, 5, 1))
        ),
        Err(RunError::StateMismatch)
    );
}

#[test]
fn three_sequential_seniors_with_a_floating_rate_middle_tranche() {
    // B floats at LPR1Y + 1%, first coupon 5%, reset on 2026-05-01.
    let mut deal = three_seniors_deal();
    deal.bonds[1].floating = Some(Floating {
        index: "LPR1Y".into(),
        spread: rust_decimal_macros::dec!(0.01),
        reset_dates: vec![date(2026, 5, 1)],
    });
    deal.validate().unwrap();
    let s0 = DealState::at_closing(&deal);
    let c1 = collections(800_000, 60_000_000, 0);
    // Without the fixing for its reset, the run is refused.
    assert_eq!(
        run_period(&deal, &s0, &c1, &on(date(2026, 5, 1))),
        Err(RunError::MissingIndexRate("LPR1Y".into(), 1))
    );
    let fixing = Period {
        index_rates: vec![IndexRate {
            index: "LPR1Y".into(),
            rate: rust_decimal_macros::dec!(0.031),
        }],
        ..on(date(2026, 5, 1))
    };
    // The first period accrues at the first coupon: the same as the fixed deal.
    let (s1, p1) = run_period(&deal, &s0, &c1, &fixing).unwrap();
    assert_eq!(p1.interest_paid_minor, [164_384, 123_288, 98_630]);
    assert_eq!(s1.bonds[1].coupon, rust_decimal_macros::dec!(0.041));
    // June, 31 days: B 20,000,000 × 4.1% × 31/365 = 69,643.84 → 69,644; C 101,918.
    // Cash 413,698 + 400,000 − 171,562 = 642,136; 500,000 to B; 142,136 kept.
    let (s2, p2) = run(
        &deal,
        &s1,
        collections(400_000, 0, 500_000),
        date(2026, 6, 1),
    );
    assert_eq!(p2.interest_paid_minor, [0, 69_644, 101_918]);
    assert_eq!(p2.principal_paid_minor, [0, 500_000, 0]);
    assert_eq!(s2.accounts_minor, [142_136]);
}
