//! Acceptance: the SIFMA/BMA Standard Formulas reference tables.
//!
//! - SF-28 "Cash Flow A" reproduced to within one currency unit per cell;
//! - SF-10 (PSA → one-month SMM) and SF-9 (SMM ↔ CPR ↔ PSA) exactly at their printed
//!   precision.

mod common;

use abs::*;
use common::*;
use rust_decimal::{Decimal, RoundingStrategy};
use rust_decimal_macros::dec;
use std::str::FromStr;

const MINOR_PER_UNIT: i64 = 100;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

fn printed(x: Decimal, dp: u32) -> Decimal {
    x.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

const COLUMNS: [&str; 17] = [
    "Month",
    "Performing Balance",
    "New Defaults",
    "In Foreclosure",
    "Amort Factor",
    "Expected Amortization",
    "Voluntary Prepayments",
    "Amort From Defaults",
    "Actual Amort",
    "Expected Interest",
    "Interest Lost",
    "Actual Interest",
    "Principal Recovery",
    "Principal Loss",
    "Amortized Default Bal In Recovery Month",
    "Monthly Default Rate",
    "Monthly Prepay Rate",
];

fn amounts(p: &PoolPeriod) -> [i64; 17] {
    [
        i64::from(p.period),
        p.performing_balance_minor,
        p.new_default_minor,
        p.in_recovery_minor,
        0,
        p.expected_amortization_minor,
        p.prepayment_minor,
        p.default_amortization_minor,
        p.scheduled_principal_minor,
        p.expected_interest_minor,
        p.interest_lost_minor,
        p.interest_minor,
        p.recovery_minor,
        p.loss_minor,
        p.liquidated_minor,
        0,
        0,
    ]
}

/// Checks a Standard Formulas cash-flow table: every amount column within one unit, the
/// lifetime totals within one unit, and the factor and rate columns at their printed places.
/// `rates` are the columns (after the 15 shared ones) and their printed decimals.
fn check_cash_flow(file: &str, assumptions: &Assumptions, rate_columns: &[&str], rate_dp: u32) {
    let Some(dir) = sifma_dir() else { return };
    let records = quoted_csv(&std::fs::read_to_string(dir.join(file)).unwrap());
    let mut expected_header: Vec<&str> = COLUMNS[..15].to_vec();
    expected_header.extend_from_slice(rate_columns);
    assert_eq!(
        records[0], expected_header,
        "the columns of {file} are the ones this test maps"
    );
    assert_eq!(records[1][1], "100000000", "the opening balance row");
    let rows: Vec<&Vec<String>> = records[2..]
        .iter()
        .filter(|r| r[0].chars().all(|c| c.is_ascii_digit()) && !r[0].is_empty())
        .collect();
    assert_eq!(rows.len(), 360);
    let totals = records
        .iter()
        .find(|r| r[0] == "Total")
        .expect("a Total row");

    let cohort = PoolCohort {
        balance_minor: 100_000_000 * MINOR_PER_UNIT,
        wac: dec!(0.08),
        remaining_term_months: 360,
        age_months: 0,
        amortization: Amortization::LevelPayment,
    };
    let projected = project(&cohort, assumptions, &Calendar::Monthly).unwrap();
    assert_eq!(projected.len(), 360);

    let unit = Decimal::from(MINOR_PER_UNIT);
    let mut max_diff = [Decimal::ZERO; 15];
    let mut sums = [0i64; 15];
    let n = rate_columns.len();
    for (row, p) in rows.iter().zip(&projected) {
        let mine = amounts(p);
        assert_eq!(mine[0].to_string(), row[0]);
        for col in 1..15 {
            if col == 4 {
                continue;
            }
            let table = if row[col].is_empty() {
                Decimal::ZERO
            } else {
                d(&row[col])
            };
            let diff = (Decimal::from(mine[col]) / unit - table).abs();
            max_diff[col] = max_diff[col].max(diff);
            sums[col] += mine[col];
            assert!(
                diff <= Decimal::ONE,
                "{file} month {} column {:?}: projected {} table {}",
                row[0],
                COLUMNS[col],
                Decimal::from(mine[col]) / unit,
                table
            );
        }
        assert_eq!(
            printed(p.schedule_factor, 4),
            d(&row[4]),
            "month {} factor",
            row[0]
        );
        // The last two columns are the monthly default and prepayment rates.
        assert_eq!(
            printed(p.mdr, rate_dp),
            d(&row[15 + n - 2]),
            "month {} MDR",
            row[0]
        );
        if p.period < 360 {
            assert_eq!(
                printed(p.smm, rate_dp),
                d(&row[15 + n - 1]),
                "month {} SMM",
                row[0]
            );
        }
        if n == 3 {
            // SDA's annual rate, zero where the end-of-life rule stops defaults.
            let cdr = if p.mdr.is_zero() {
                Decimal::ZERO
            } else {
                sda_cdr(Decimal::ONE, p.period)
            };
            assert_eq!(printed(cdr, rate_dp), d(&row[15]), "month {} CDR", row[0]);
        }
    }
    for col in [2, 5, 6, 7, 8, 12, 13, 14] {
        let table = d(&totals[col]);
        let diff = (Decimal::from(sums[col]) / unit - table).abs();
        eprintln!("{file} total {:?}: diff {diff}", COLUMNS[col]);
        assert!(diff <= Decimal::ONE, "{file} total {:?}", COLUMNS[col]);
    }
    for col in 1..15 {
        if col != 4 {
            eprintln!("{file} max |diff| {:<42} {}", COLUMNS[col], max_diff[col]);
        }
    }
}

#[test]
fn cash_flow_a_within_one_unit_per_cell() {
    // SF-28: 1% SMM, 1% MDR, 12-month lag, 20% severity, advanced.
    let assumptions = Assumptions {
        prepayment: Prepayment::Smm(dec!(0.01)),
        default: DefaultRate::Mdr(dec!(0.01)),
        severity: dec!(0.20),
        recovery_lag_months: 12,
        advanced: true,
    };
    check_cash_flow("bma_cashflow_a.csv", &assumptions, &COLUMNS[15..], 4);
}

#[test]
fn cash_flow_b_psa_and_sda_within_one_unit_per_cell() {
    // 150% PSA, 100% SDA, same lag, severity and advancing.
    let assumptions = Assumptions {
        prepayment: Prepayment::Psa(dec!(1.5)),
        default: DefaultRate::Sda(dec!(1)),
        severity: dec!(0.20),
        recovery_lag_months: 12,
        advanced: true,
    };
    check_cash_flow(
        "bma_cashflow_b.csv",
        &assumptions,
        &[
            "Annual Default Rate",
            "Monthly Default Rate",
            "Monthly Prepay Rate",
        ],
        6,
    );
}

#[test]
fn psa_to_smm_table_exactly() {
    let Some(dir) = sifma_dir() else { return };
    let (header, rows) =
        simple_csv(&std::fs::read_to_string(dir.join("1m_PSAtoSMM_conversion.csv")).unwrap());
    assert_eq!(header[0], "Month");
    assert_eq!(rows.len(), 30);
    let mut cells = 0;
    for row in &rows {
        let age: u32 = row[0].parse().unwrap();
        for (col, name) in header.iter().enumerate().skip(1) {
            let speed = d(name.strip_prefix("PSA").expect("a PSA column")) / dec!(100);
            let smm = annual_to_monthly(psa_cpr(speed, age)).unwrap() * dec!(100);
            assert_eq!(printed(smm, 2), d(&row[col]), "age {age} {name}");
            cells += 1;
        }
    }
    assert_eq!(cells, 30 * 19);
}

#[test]
fn smm_cpr_psa_conversion_table_exactly() {
    let Some(dir) = sifma_dir() else { return };
    let (header, rows) = simple_csv(
        &std::fs::read_to_string(dir.join("bma_prepay_rate_conversion_table.csv")).unwrap(),
    );
    assert_eq!(header, ["SMM", "CPR", "PSA30"]);
    assert!(rows.len() > 150);
    for row in &rows {
        let smm = d(&row[0]) / dec!(100);
        let cpr = monthly_to_annual(smm).unwrap();
        assert_eq!(printed(cpr * dec!(100), 1), d(&row[1]), "SMM {}", row[0]);
        // PSA30: the PSA speed whose flat (age ≥ 30) CPR is this CPR; 100% PSA = 6% CPR.
        let psa = cpr / dec!(0.06) * dec!(100);
        assert_eq!(printed(psa, 0), d(&row[2]), "SMM {} PSA", row[0]);
        // And back: the CPR gives the SMM again (to the table's precision).
        let smm_back = annual_to_monthly(cpr).unwrap();
        assert!(
            (smm_back - smm).abs() < dec!(0.0000000001),
            "SMM {}",
            row[0]
        );
    }
}

#[test]
fn cumulative_default_matrix_exactly() {
    // SF-20: lifetime defaults as a % of the original balance, by PSA and SDA speed.
    let Some(dir) = sifma_dir() else { return };
    let (header, rows) =
        simple_csv(&std::fs::read_to_string(dir.join("cumulative_default_matrix.csv")).unwrap());
    assert_eq!(header[0], "%PSA");
    assert_eq!(rows.len(), 9);
    let cohort = PoolCohort {
        balance_minor: 100_000_000 * MINOR_PER_UNIT,
        wac: dec!(0.08),
        remaining_term_months: 360,
        age_months: 0,
        amortization: Amortization::LevelPayment,
    };
    for row in &rows {
        let psa = d(&row[0]) / dec!(100);
        for (col, name) in header.iter().enumerate().skip(1) {
            let sda = d(name.strip_prefix("%SDA_").expect("an SDA column")) / dec!(100);
            let a = Assumptions {
                prepayment: Prepayment::Psa(psa),
                default: DefaultRate::Sda(sda),
                severity: dec!(0.20),
                recovery_lag_months: 12,
                advanced: true,
            };
            let p = project(&cohort, &a, &Calendar::Monthly).unwrap();
            let defaults: i64 = p.iter().map(|x| x.new_default_minor).sum();
            let percent = Decimal::from(defaults) / Decimal::from(cohort.balance_minor) * dec!(100);
            assert_eq!(printed(percent, 2), d(&row[col]), "{}% PSA, {name}", row[0]);
        }
    }
}
