//! The deal files under `examples/deals/`, run over their collection tables (and one loan
//! tape) through the same path as `POST /v1/abs/projections` and `puhui abs run`, against
//! hand-computed periods. Accruals are `balance × coupon × days / 365` rounded half to even.

use api::{abs_tape, DealFile, DealReport, PoolWire, ProjectionRequest, ScenarioWire};
use std::path::PathBuf;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/deals")
        .join(name)
}

fn deal(name: &str) -> DealFile {
    let text = std::fs::read_to_string(example(&format!("{name}.json"))).unwrap();
    let file: DealFile = serde_json::from_str(&text).unwrap();
    file.parse().unwrap_or_else(|e| panic!("{name}: {e:?}"));
    file
}

fn run(name: &str) -> DealReport {
    let table = std::fs::read_to_string(example(&format!("{name}.collections.csv"))).unwrap();
    let req = ProjectionRequest {
        deal: deal(name),
        pool: PoolWire {
            loans: Vec::new(),
            collections: abs_tape::read_collection_table(&table).unwrap(),
        },
        scenario: None,
        call_when_exercisable: false,
        index_rates: Vec::new(),
        prices: Vec::new(),
    };
    let report = req.run().unwrap_or_else(|e| panic!("{name}: {e:?}"));
    for p in &report.periods {
        assert_eq!(p.sources_minor, p.uses_minor, "{name} period {}", p.period);
    }
    report
}

fn paid(r: &DealReport, period: usize, what: fn(&api::BondPeriod) -> i64) -> Vec<i64> {
    r.periods[period].bonds.iter().map(what).collect()
}

fn interest(r: &DealReport, p: usize) -> Vec<i64> {
    paid(r, p, |b| b.interest_paid_minor)
}
fn principal(r: &DealReport, p: usize) -> Vec<i64> {
    paid(r, p, |b| b.principal_paid_minor)
}
fn residual(r: &DealReport, p: usize) -> Vec<i64> {
    paid(r, p, |b| b.residual_paid_minor)
}
fn balances(r: &DealReport, p: usize) -> Vec<i64> {
    paid(r, p, |b| b.balance_minor)
}
fn fees(r: &DealReport, p: usize) -> Vec<i64> {
    r.periods[p].fees.iter().map(|f| f.paid_minor).collect()
}
fn accounts(r: &DealReport, p: usize) -> Vec<i64> {
    r.periods[p]
        .accounts
        .iter()
        .map(|a| a.closing_minor)
        .collect()
}

#[test]
fn every_example_deal_file_is_valid() {
    let dir = example("");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_stem().unwrap().to_str().unwrap().to_string();
            deal(&name);
            n += 1;
        }
    }
    assert_eq!(n, 5);
}

#[test]
fn static_pool_with_a_senior_and_an_equity_tranche() {
    let r = run("static-senior-equity");
    // Feb (31 days): trustee 10,000; servicer 100,000,000 × 1% × 31/365 = 84,931.51 → 84,932;
    // A 80,000,000 × 5% × 31/365 = 339,726.03 → 339,726. Cash 6,000,000 − 434,658 = 5,565,342;
    // the principal amount 5,000,000 to A; 565,342 residual to E.
    assert_eq!(fees(&r, 0), [10_000, 84_932]);
    assert_eq!(interest(&r, 0), [339_726, 0]);
    assert_eq!(principal(&r, 0), [5_000_000, 0]);
    assert_eq!(residual(&r, 0), [0, 565_342]);
    assert_eq!(r.periods[0].pool_balance_minor, 95_000_000);
    // Mar (28 days, 1,000,000 defaults): servicer 95,000,000 × 1% × 28/365 = 72,876.71 →
    // 72,877; A 75,000,000 × 5% × 28/365 = 287,671.23 → 287,671. Cash 4,950,000 − 370,548 =
    // 4,579,452 < principal amount 5,000,000: all to A; nothing to E.
    assert_eq!(fees(&r, 1), [10_000, 72_877]);
    assert_eq!(interest(&r, 1), [287_671, 0]);
    assert_eq!(principal(&r, 1), [4_579_452, 0]);
    assert_eq!(residual(&r, 1), [0, 0]);
    assert_eq!(balances(&r, 1), [70_420_548, 20_000_000]);
    // Apr (31 days): servicer 90,000,000 × 1% × 31/365 = 76,438.36 → 76,438; A 70,420,548 ×
    // 5% × 31/365 = 299,046.16 → 299,046. Cash 85,900,000 − 385,484 = 85,514,516; principal
    // 85,000,000: A's 70,420,548, then 14,579,452 to E; 514,516 residual.
    assert_eq!(principal(&r, 2), [70_420_548, 14_579_452]);
    assert_eq!(residual(&r, 2), [0, 514_516]);
    assert_eq!(balances(&r, 2), [0, 5_420_548]);
    assert_eq!(r.periods[2].bonds[1].factor, "0.271027");
    // A was paid at par: its loss is nil and its yield is near its 5 % coupon.
    assert_eq!(r.tranches[0].loss_minor, 0);
    assert_eq!(r.tranches[0].principal_minor, 80_000_000);
}

#[test]
fn three_sequential_seniors_with_a_floating_middle_tranche() {
    let r = run("three-sequential-seniors");
    // May (30 days): A 50,000,000 × 4% × 30/365 = 164,383.56 → 164,384; B at its first 5%:
    // 123,287.67 → 123,288; C 20,000,000 × 6% × 30/365 = 98,630.14 → 98,630. Cash
    // 60,800,000 − 386,302 = 60,413,698; principal 60,000,000: A in full, B 10,000,000, C
    // nothing; 413,698 stays in the collection account. B resets to LPR1Y 3.1% + 1% = 4.1%.
    assert_eq!(interest(&r, 0), [164_384, 123_288, 98_630]);
    assert_eq!(principal(&r, 0), [50_000_000, 10_000_000, 0]);
    assert_eq!(accounts(&r, 0), [413_698]);
    assert_eq!(r.periods[0].bonds[1].coupon, "0.041");
    // Jun (31 days): B 20,000,000 × 4.1% × 31/365 = 69,643.84 → 69,644; C 20,000,000 × 6% ×
    // 31/365 = 101,917.81 → 101,918. Cash 413,698 + 400,000 − 171,562 = 642,136; principal
    // amount = the 500,000 default: to B; 142,136 kept.
    assert_eq!(interest(&r, 1), [0, 69_644, 101_918]);
    assert_eq!(principal(&r, 1), [0, 500_000, 0]);
    assert_eq!(accounts(&r, 1), [142_136]);
    assert_eq!(balances(&r, 1), [0, 19_500_000, 20_000_000]);
}

#[test]
fn the_level_payment_loan_tape_projects_through_the_same_deal() {
    let tape = std::fs::read_to_string(example("three-sequential-seniors.tape.csv")).unwrap();
    let req = ProjectionRequest {
        deal: deal("three-sequential-seniors"),
        pool: PoolWire {
            loans: abs_tape::read_loan_tape(&tape, Some("CNY")).unwrap(),
            collections: Vec::new(),
        },
        scenario: Some(ScenarioWire::default()),
        call_when_exercisable: false,
        index_rates: vec![api::IndexRateWire {
            index: "LPR1Y".into(),
            rate: "0.031".into(),
        }],
        prices: Vec::new(),
    };
    let r = req.run().unwrap();
    // No prepayments or defaults. Month 1 of a 12-month level-payment pool at 1% a month:
    // interest 100,000,000 × 1% = 1,000,000; principal 100,000,000 × 0.01 / (1.01^12 − 1) =
    // 100,000,000 × 0.0788487887 = 7,884,878.87 → 7,884,879 (the three loans share coupon,
    // term and age, so they are one cohort and rounded once).
    let p = &r.periods[0];
    assert_eq!(p.interest_collected_minor, 1_000_000);
    assert_eq!(p.principal_collected_minor, 7_884_879);
    // The bonds' interest is that of the collection table's first period; the principal
    // amount 7,884,879 goes to A; 8,884,879 − 386,302 − 7,884,879 = 613,698 stays.
    assert_eq!(interest(&r, 0), [164_384, 123_288, 98_630]);
    assert_eq!(principal(&r, 0), [7_884_879, 0, 0]);
    assert_eq!(accounts(&r, 0), [613_698]);
    // The pool amortizes in 12 payments; every bond is repaid by then.
    assert_eq!(r.periods[11].pool_balance_minor, 0);
    assert!(
        r.tranches.iter().all(|t| t.loss_minor == 0),
        "{:?}",
        r.tranches
    );
    assert_eq!(r.pool.len(), r.periods.len());
}

#[test]
fn a_target_balance_trigger_switches_to_the_accelerated_waterfall() {
    let r = run("target-balance-trigger");
    // Aug (31 days): the one-off issuance fee 50,000; A 80,000,000 × 4% × 31/365 =
    // 271,780.82 → 271,781. Pool 90,000,000, A's target 80% = 72,000,000: A is paid
    // 8,000,000 of the 10,000,000 principal amount, E the other 2,000,000; cash 10,800,000 −
    // 50,000 − 271,781 − 10,000,000 = 478,219 residual to E. A is at its target: no trigger.
    assert_eq!(fees(&r, 0), [50_000]);
    assert_eq!(interest(&r, 0), [271_781, 0]);
    assert_eq!(principal(&r, 0), [8_000_000, 2_000_000]);
    assert_eq!(residual(&r, 0), [0, 478_219]);
    assert!(!r.periods[0].triggers[0].tripped);
    // Sep (31 days, 6,000,000 defaults): the fee was paid, nothing is due. A 72,000,000 × 4%
    // × 31/365 = 244,602.74 → 244,603. Pool 80,000,000, target 64,000,000, but cash is only
    // 4,700,000 − 244,603 = 4,455,397: all to A (67,544,603 left, above its target), nothing
    // to E. The trigger holds after the waterfall and acts from the next period.
    assert_eq!(fees(&r, 1), [0]);
    assert_eq!(interest(&r, 1), [244_603, 0]);
    assert_eq!(principal(&r, 1), [4_455_397, 0]);
    assert_eq!(residual(&r, 1), [0, 0]);
    assert_eq!(r.periods[1].waterfall, "normal");
    assert!(r.periods[1].triggers[0].tripped);
    // Oct (30 days), accelerated: A 67,544,603 × 4% × 30/365 = 222,064.45 → 222,064; all
    // the rest, 5,650,000 − 222,064 = 5,427,936, pays A down to 62,116,667; no residual,
    // and E keeps the 18,000,000 it was paid down to in August.
    assert_eq!(r.periods[2].waterfall, "accelerated");
    assert_eq!(interest(&r, 2), [222_064, 0]);
    assert_eq!(principal(&r, 2), [5_427_936, 0]);
    assert_eq!(balances(&r, 2), [62_116_667, 18_000_000]);
    // Nov (31 days): A is at its target again (75,000,000 × 80% = 60,000,000 is below it),
    // but the trigger is not curable. A 62,116,667 × 4% × 31/365 = 211,026.49 → 211,026;
    // 20,600,000 − 211,026 = 20,388,974 to A, although the principal amount is 20,000,000.
    assert_eq!(r.periods[3].waterfall, "accelerated");
    assert_eq!(interest(&r, 3), [211_026, 0]);
    assert_eq!(principal(&r, 3), [20_388_974, 0]);
    assert_eq!(balances(&r, 3), [41_727_693, 18_000_000]);
}

#[test]
fn a_cumulative_default_trigger_on_a_stepped_curve() {
    let r = run("cumulative-default-trigger");
    // Feb: 1,000,000 defaults = 1.0% of the cut-off pool, not above February's 1%. A
    // 90,000,000 × 4.8% × 31/365 = 366,904.11 → 366,904; cash 2,400,000 − 366,904 =
    // 2,033,096, short of the 3,000,000 principal amount: all to A.
    assert_eq!(r.periods[0].waterfall, "normal");
    assert_eq!(principal(&r, 0), [2_033_096, 0]);
    // Mar: 1.5% cumulative, above February's step but not March's 2%. A 87,966,904 × 4.8% ×
    // 28/365 = 323,911.03 → 323,911; 2,600,000 − 323,911 = 2,276,089 to A.
    assert_eq!(r.periods[1].waterfall, "normal");
    assert_eq!(interest(&r, 1), [323_911, 0]);
    assert_eq!(balances(&r, 1), [85_690_815, 10_000_000]);
    // Apr: 2.6% cumulative, above April's 2.5%: accelerated at once. A 85,690,815 × 4.8% ×
    // 31/365 = 349,337.02 → 349,337; 2,600,000 − 349,337 = 2,250,663 to A.
    assert_eq!(r.periods[2].waterfall, "accelerated");
    assert!(r.periods[2].triggers[0].tripped);
    assert_eq!(principal(&r, 2), [2_250_663, 0]);
    // May: no new defaults but not curable. A 83,440,152 × 4.8% × 30/365 = 329,189.20 →
    // 329,189; 1,600,000 − 329,189 = 1,270,811 to A (turbo), nothing to E.
    assert_eq!(r.periods[3].waterfall, "accelerated");
    assert_eq!(principal(&r, 3), [1_270_811, 0]);
    assert_eq!(residual(&r, 3), [0, 0]);
    assert_eq!(r.periods[3].cumulative_default_minor, 2_600_000);
}

#[test]
fn a_revolving_deal_with_a_reserve_and_a_clean_up_call() {
    let r = run("revolving-consumer");
    // Feb (31 days, revolving): servicer 84,932; A 85,000,000 × 4% × 31/365 = 288,767.12 →
    // 288,767. Cash 1,000,000 (reserve) + 11,500,000 − 373,699 = 12,126,301. The principal
    // amount 10,200,000 buys receivables at par (pool back to 100,000,000); the reserve is
    // refilled to 1% of it, 1,000,000; 926,301 to E.
    assert!(r.periods[0].revolving);
    assert_eq!(r.periods[0].purchase_paid_minor, 10_200_000);
    assert_eq!(r.periods[0].pool_balance_minor, 100_000_000);
    assert_eq!(residual(&r, 0), [0, 926_301]);
    assert_eq!(accounts(&r, 0), [0, 1_000_000]);
    // Mar 1, the revolving end (inclusive), 28 days: servicer 100,000,000 × 1% × 28/365 =
    // 76,712.33 → 76,712; A 85,000,000 × 4% × 28/365 = 260,821.92 → 260,822; 9,000,000 buys
    // receivables; 1,000,000 + 10,400,000 − 337,534 − 9,000,000 − 1,000,000 = 1,062,466 to E.
    assert!(r.periods[1].revolving);
    assert_eq!(fees(&r, 1), [76_712]);
    assert_eq!(interest(&r, 1), [260_822, 0]);
    assert_eq!(residual(&r, 1), [0, 1_062_466]);
    // Apr: amortizing. Pool 80,000,000, reserve target 800,000; cash 1,000,000 + 21,300,000
    // − 84,932 − 288,767 − 800,000 = 21,126,301: 20,000,000 to A, 1,126,301 to E.
    assert!(!r.periods[2].revolving);
    assert_eq!(principal(&r, 2), [20_000_000, 0]);
    assert_eq!(residual(&r, 2), [0, 1_126_301]);
    assert_eq!(accounts(&r, 2), [0, 800_000]);
    // May: the pool is 9,000,000, at or below 10% of 100,000,000, and the call is exercised:
    // A's interest 65,000,000 × 4% × 30/365 = 213,698.63 → 213,699; A and E repaid; the rest
    // (800,000 + 80,500,000 − 213,699 − 80,000,000 = 1,086,301) to E.
    assert_eq!(r.periods[3].waterfall, "cleanup");
    assert_eq!(r.periods[3].call_proceeds_minor, 9_000_000);
    assert_eq!(principal(&r, 3), [65_000_000, 15_000_000]);
    assert_eq!(residual(&r, 3), [0, 1_086_301]);
    assert_eq!(r.periods[3].pool_balance_minor, 0);
}
