//! The copula simulation against closed forms.

use abs::*;

fn pool(n: usize, pd: f64, lgd_minor: i64) -> Vec<CopulaLoan> {
    (0..n)
        .map(|_| CopulaLoan {
            default_probability: pd,
            loss_given_default_minor: lgd_minor,
        })
        .collect()
}

#[test]
fn inverse_normal_has_its_known_points() {
    assert_eq!(inverse_normal_cdf(0.5), 0.0);
    assert!((inverse_normal_cdf(0.975) - 1.959_963_985).abs() < 1e-8);
    assert!((inverse_normal_cdf(0.01) + 2.326_347_874).abs() < 1e-8);
    assert_eq!(inverse_normal_cdf(0.0), f64::NEG_INFINITY);
}

#[test]
fn expected_pool_loss_is_pd_times_lgd_and_runs_repeat() {
    // 2,000 loans, PD 5%, loss 1,000 each: E[loss] = 100,000 whatever the correlation.
    let loans = pool(2_000, 0.05, 1_000);
    for rho in [0.0, 0.3] {
        let sim = simulate(
            &loans,
            rho,
            2_000,
            11,
            &[Tranche {
                attach_minor: 0,
                detach_minor: 2_000_000,
            }],
        )
        .unwrap();
        let mean = sim.pool_losses_minor.iter().sum::<i64>() as f64 / 2_000.0;
        // Standard error of the mean: at most √(n·p(1−p))·1000/√2000 ≈ 220 without
        // correlation; with ρ = 0.3 about 1,700. Five standard errors:
        let tolerance = if rho == 0.0 { 1_100.0 } else { 8_500.0 };
        assert!(
            (mean - 100_000.0).abs() < tolerance,
            "rho {rho}: mean {mean}"
        );
        assert_eq!(
            simulate(&loans, rho, 2_000, 11, &[])
                .unwrap()
                .pool_losses_minor,
            sim.pool_losses_minor
        );
    }
}

#[test]
fn correlation_fattens_the_tail_and_splitting_scenarios_changes_nothing() {
    let loans = pool(1_000, 0.02, 1_000);
    let senior = Tranche {
        attach_minor: 60_000,
        detach_minor: 1_000_000,
    };
    let low = simulate(&loans, 0.0, 1_000, 5, &[senior]).unwrap();
    let high = simulate(&loans, 0.4, 1_000, 5, &[senior]).unwrap();
    // Independent: 60 or more defaults of 1,000 at 2% is > 8 standard deviations away.
    assert_eq!(low.tranches[0].probability_of_loss, 0.into());
    assert!(high.tranches[0].probability_of_loss > 0.into());
    assert!(high.tranches[0].var_99_minor > 0);
    let mut split = simulate_range(&loans, 0.4, 5, 0..400).unwrap();
    split.extend(simulate_range(&loans, 0.4, 5, 400..1_000).unwrap());
    assert_eq!(split, high.pool_losses_minor);
}

#[test]
fn tranche_losses_are_slices_of_the_pool_loss() {
    let t = Tranche {
        attach_minor: 100,
        detach_minor: 300,
    };
    assert_eq!(
        [50, 100, 150, 300, 999].map(|l| t.loss_minor(l)),
        [0, 0, 50, 200, 200]
    );
    let stats = tranche_stats(&[0, 0, 150, 400], &[t]);
    assert_eq!(
        stats[0].expected_loss_minor,
        rust_decimal::Decimal::from(250) / rust_decimal::Decimal::from(4)
    );
    assert_eq!(
        stats[0].probability_of_loss,
        rust_decimal::Decimal::new(5, 1)
    );
    assert_eq!(stats[0].var_99_minor, 200);
    assert_eq!(
        simulate(&pool(1, 0.5, 1), 1.0, 1, 0, &[]),
        Err(SimulationError::Correlation)
    );
    assert_eq!(
        simulate(&pool(1, 1.5, 1), 0.1, 1, 0, &[]),
        Err(SimulationError::Probability(0))
    );
}
