//! Projection invariants beyond the SIFMA table.

use abs::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn cohort(balance_minor: i64, term: u32, amortization: Amortization) -> PoolCohort {
    PoolCohort {
        balance_minor,
        wac: dec!(0.12),
        remaining_term_months: term,
        age_months: 0,
        amortization,
    }
}

fn conserved(start_minor: i64, periods: &[PoolPeriod]) {
    let last = periods.last().unwrap();
    let out: i64 = periods
        .iter()
        .map(|p| {
            p.scheduled_principal_minor
                + p.prepayment_minor
                + p.default_amortization_minor
                + p.liquidated_minor
        })
        .sum();
    assert_eq!(
        start_minor,
        out + last.performing_balance_minor + last.in_recovery_minor,
        "every minor unit of the opening balance is accounted for"
    );
    for p in periods {
        assert_eq!(p.liquidated_minor, p.recovery_minor + p.loss_minor);
        assert!(p.recovery_minor >= 0 && p.loss_minor >= 0);
        assert_eq!(
            p.interest_minor,
            p.expected_interest_minor - p.interest_lost_minor
        );
    }
}

#[test]
fn not_advanced_defaults_keep_their_balance_until_liquidation() {
    let a = Assumptions {
        prepayment: Prepayment::Cpr(dec!(0)),
        default: DefaultRate::Mdr(dec!(0.1)),
        severity: dec!(0.4),
        recovery_lag_months: 3,
        advanced: false,
    };
    let p = project(
        &cohort(1_000_000, 12, Amortization::EqualPrincipal),
        &a,
        &Calendar::Monthly,
    )
    .unwrap();
    // Month 1: 10% of 1,000,000 defaults; 1/12 of the other 900,000 is scheduled.
    assert_eq!(p[0].new_default_minor, 100_000);
    assert_eq!(p[0].scheduled_principal_minor, 75_000);
    assert_eq!(p[0].default_amortization_minor, 0);
    assert_eq!(p[0].in_recovery_minor, 100_000);
    // Liquidated in month 4 at 60%: 60,000 recovered, 40,000 lost.
    assert_eq!(p[3].liquidated_minor, 100_000);
    assert_eq!(p[3].recovery_minor, 60_000);
    assert_eq!(p[3].loss_minor, 40_000);
    // No defaults in the last three months, so nothing is left in recovery at the end.
    assert!(p[9..].iter().all(|x| x.new_default_minor == 0));
    assert_eq!(p.last().unwrap().in_recovery_minor, 0);
    conserved(1_000_000, &p);
}

#[test]
fn a_day_count_calendar_converts_annual_rates_by_days() {
    let a = Assumptions {
        prepayment: Prepayment::Cpr(dec!(0.2)),
        default: DefaultRate::Cdr(dec!(0.05)),
        severity: dec!(1),
        recovery_lag_months: 0,
        advanced: false,
    };
    let days = vec![31, 28, 31];
    let p = project(
        &cohort(10_000_000, 12, Amortization::Bullet),
        &a,
        &Calendar::Days(days),
    )
    .unwrap();
    assert_eq!(p.len(), 3);
    let smm_feb = annual_to_period(dec!(0.2), 28).unwrap();
    assert_eq!(p[1].smm, smm_feb);
    assert!(p[0].smm > p[1].smm, "a longer period prepays more");
    // Lag 0 and severity 100%: every default is lost in its own period.
    assert_eq!(p[0].loss_minor, p[0].new_default_minor);
    assert_eq!(p[0].in_recovery_minor, 0);
}

#[test]
fn out_of_range_rates_are_refused() {
    let mut a = Assumptions {
        prepayment: Prepayment::Cpr(dec!(1.2)),
        default: DefaultRate::Mdr(dec!(0)),
        severity: dec!(0.2),
        recovery_lag_months: 0,
        advanced: true,
    };
    let c = cohort(1000, 12, Amortization::LevelPayment);
    assert!(project(&c, &a, &Calendar::Monthly).is_err());
    a.prepayment = Prepayment::Smm(dec!(0));
    a.severity = dec!(-0.1);
    assert!(project(&c, &a, &Calendar::Monthly).is_err());
}

proptest! {
    #[test]
    fn every_minor_unit_is_accounted_for(
        balance in 0i64..10_000_000_000,
        term in 1u32..120,
        smm_bp in 0u32..=10_000,
        mdr_bp in 0u32..=10_000,
        severity_pct in 0u32..=100,
        lag in 0u32..18,
        advanced: bool,
        kind in 0usize..3,
        psa in proptest::option::of(0u32..800),
    ) {
        let amortization = [Amortization::LevelPayment, Amortization::EqualPrincipal, Amortization::Bullet][kind];
        let a = Assumptions {
            prepayment: match psa {
                Some(s) => Prepayment::Psa(Decimal::from(s) / dec!(100)),
                None => Prepayment::Smm(Decimal::from(smm_bp) / dec!(10000)),
            },
            default: DefaultRate::Mdr(Decimal::from(mdr_bp) / dec!(10000)),
            severity: Decimal::from(severity_pct) / dec!(100),
            recovery_lag_months: lag,
            advanced,
        };
        let p = project(&cohort(balance, term, amortization), &a, &Calendar::Monthly).unwrap();
        if balance > 0 {
            conserved(balance, &p);
            let last = p.last().unwrap();
            prop_assert_eq!(last.performing_balance_minor, 0);
            prop_assert_eq!(last.in_recovery_minor, 0);
        }
        for x in &p {
            prop_assert!(x.performing_balance_minor >= 0 && x.scheduled_principal_minor >= 0);
            prop_assert!(x.prepayment_minor >= 0 && x.default_amortization_minor >= 0);
        }
    }
}

#[test]
fn cohorts_sum_loans_and_match_loan_by_loan_projection_to_rounding() {
    let mk = |balance_minor: i64, wac: Decimal, term: u32, age: u32| PoolCohort {
        balance_minor,
        wac,
        remaining_term_months: term,
        age_months: age,
        amortization: Amortization::LevelPayment,
    };
    let loans = vec![
        mk(1_000_001, dec!(0.18), 12, 2),
        mk(2_500_000, dec!(0.24), 6, 0),
        mk(3_333_333, dec!(0.180), 12, 2),
        mk(777_777, dec!(0.24), 6, 0),
        mk(5_000_000, dec!(0.12), 24, 5),
    ];
    let cohorts = group_cohorts(&loans);
    assert_eq!(cohorts.len(), 3);
    assert_eq!(
        cohorts.iter().map(|c| c.balance_minor).sum::<i64>(),
        loans.iter().map(|l| l.balance_minor).sum::<i64>()
    );
    let a = Assumptions {
        prepayment: Prepayment::Psa(dec!(2)),
        default: DefaultRate::Sda(dec!(3)),
        severity: dec!(0.5),
        recovery_lag_months: 2,
        advanced: true,
    };
    let pooled = project_pool(&cohorts, &a, &Calendar::Monthly).unwrap();
    let one_by_one = project_pool(&loans, &a, &Calendar::Monthly).unwrap();
    assert_eq!(pooled.len(), one_by_one.len());
    let tolerance = loans.len() as i64;
    for (p, q) in pooled.iter().zip(&one_by_one) {
        for (x, y) in [
            (p.performing_balance_minor, q.performing_balance_minor),
            (p.new_default_minor, q.new_default_minor),
            (p.prepayment_minor, q.prepayment_minor),
            (p.interest_minor, q.interest_minor),
            (p.loss_minor, q.loss_minor),
        ] {
            assert!(
                (x - y).abs() <= tolerance,
                "period {}: {x} vs {y}",
                p.period
            );
        }
    }
    let total = loans.iter().map(|l| l.balance_minor).sum::<i64>();
    conserved(total, &pooled);
}
