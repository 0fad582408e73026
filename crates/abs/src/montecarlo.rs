//! Monte Carlo of pool and tranche losses under a one-factor Gaussian copula.
//!
//! Loan `i` defaults in a scenario when `√ρ·Z + √(1−ρ)·εᵢ < Φ⁻¹(PDᵢ)`, with `Z` the
//! scenario's common factor and `εᵢ` the loan's own draw, all standard normal. Probabilities
//! and draws are `f64` (they are not money); a default loses the loan's
//! `loss_given_default_minor`, so losses are exact integer minor units. Each scenario draws
//! from its own generator seeded by `(seed, scenario)`, so the result does not depend on how
//! scenarios are split across threads ([`simulate_range`]).

use rust_decimal::Decimal;

#[derive(Clone, Debug, PartialEq)]
pub struct CopulaLoan {
    /// Probability of default over the horizon, in `[0, 1]`.
    pub default_probability: f64,
    /// Loss if it defaults: exposure × LGD, already in minor units.
    pub loss_given_default_minor: i64,
}

/// A tranche as the slice `[attach, detach)` of pool losses it absorbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tranche {
    pub attach_minor: i64,
    pub detach_minor: i64,
}

impl Tranche {
    pub fn loss_minor(&self, pool_loss_minor: i64) -> i64 {
        (pool_loss_minor - self.attach_minor).clamp(0, self.detach_minor - self.attach_minor)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrancheLossStats {
    pub expected_loss_minor: Decimal,
    /// Share of scenarios in which the tranche loses anything.
    pub probability_of_loss: Decimal,
    /// 99th percentile loss.
    pub var_99_minor: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Simulation {
    /// Pool loss of every scenario, in scenario order.
    pub pool_losses_minor: Vec<i64>,
    pub tranches: Vec<TrancheLossStats>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimulationError {
    #[error("loans[{0}].default_probability must be between 0 and 1")]
    Probability(usize),
    #[error("loans[{0}].loss_given_default_minor must not be negative")]
    Loss(usize),
    #[error("correlation must be in [0, 1)")]
    Correlation,
    #[error("tranches[{0}]: attach_minor must be at least 0 and below detach_minor")]
    Tranche(usize),
    #[error("scenarios must be at least 1")]
    NoScenarios,
}

/// xoshiro256** seeded through SplitMix64.
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut x = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Two independent standard normals (Box–Muller).
    fn normal_pair(&mut self) -> (f64, f64) {
        let r = (-2.0 * self.uniform().ln()).sqrt();
        let theta = std::f64::consts::TAU * self.uniform();
        (r * theta.cos(), r * theta.sin())
    }
}

/// Φ⁻¹(p) by Acklam's rational approximation (relative error below 1.2e-9); ±∞ at 0 and 1.
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let low = 0.02425;
    if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -inverse_normal_cdf(1.0 - p)
    }
}

fn check(loans: &[CopulaLoan], correlation: f64) -> Result<(), SimulationError> {
    if !(0.0..1.0).contains(&correlation) {
        return Err(SimulationError::Correlation);
    }
    for (i, l) in loans.iter().enumerate() {
        if !(0.0..=1.0).contains(&l.default_probability) {
            return Err(SimulationError::Probability(i));
        }
        if l.loss_given_default_minor < 0 {
            return Err(SimulationError::Loss(i));
        }
    }
    Ok(())
}

/// Pool losses of scenarios `range` (each from its own generator).
pub fn simulate_range(
    loans: &[CopulaLoan],
    correlation: f64,
    seed: u64,
    range: std::ops::Range<u64>,
) -> Result<Vec<i64>, SimulationError> {
    check(loans, correlation)?;
    let thresholds: Vec<f64> = loans
        .iter()
        .map(|l| inverse_normal_cdf(l.default_probability))
        .collect();
    let (a, b) = (correlation.sqrt(), (1.0 - correlation).sqrt());
    Ok(range
        .map(|scenario| {
            let mut rng = Rng::new(seed, scenario);
            let z = a * rng.normal_pair().0;
            let mut loss = 0i64;
            let mut spare: Option<f64> = None;
            for (loan, &t) in loans.iter().zip(&thresholds) {
                let e = match spare.take() {
                    Some(e) => e,
                    None => {
                        let (x, y) = rng.normal_pair();
                        spare = Some(y);
                        x
                    }
                };
                if z + b * e < t {
                    loss += loan.loss_given_default_minor;
                }
            }
            loss
        })
        .collect())
}

/// Loss statistics of each tranche over the scenarios' pool losses.
pub fn tranche_stats(pool_losses_minor: &[i64], tranches: &[Tranche]) -> Vec<TrancheLossStats> {
    let n = pool_losses_minor.len().max(1);
    tranches
        .iter()
        .map(|t| {
            let mut losses: Vec<i64> = pool_losses_minor.iter().map(|&l| t.loss_minor(l)).collect();
            losses.sort_unstable();
            let total: i128 = losses.iter().map(|&l| i128::from(l)).sum();
            let hit = losses.iter().filter(|&&l| l > 0).count();
            let var_index = (n * 99)
                .div_ceil(100)
                .saturating_sub(1)
                .min(losses.len().saturating_sub(1));
            TrancheLossStats {
                expected_loss_minor: Decimal::from_i128_with_scale(total, 0)
                    / Decimal::from(n as u64),
                probability_of_loss: Decimal::from(hit as u64) / Decimal::from(n as u64),
                var_99_minor: losses.get(var_index).copied().unwrap_or(0),
            }
        })
        .collect()
}

/// Runs `scenarios` scenarios and the tranche statistics.
pub fn simulate(
    loans: &[CopulaLoan],
    correlation: f64,
    scenarios: u64,
    seed: u64,
    tranches: &[Tranche],
) -> Result<Simulation, SimulationError> {
    if scenarios == 0 {
        return Err(SimulationError::NoScenarios);
    }
    for (i, t) in tranches.iter().enumerate() {
        if t.attach_minor < 0 || t.attach_minor >= t.detach_minor {
            return Err(SimulationError::Tranche(i));
        }
    }
    let pool_losses_minor = simulate_range(loans, correlation, seed, 0..scenarios)?;
    let tranches = tranche_stats(&pool_losses_minor, tranches);
    Ok(Simulation {
        pool_losses_minor,
        tranches,
    })
}
