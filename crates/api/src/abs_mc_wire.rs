//! Monte Carlo of tranche losses on the wire: loans with default probabilities and losses
//! given default, correlated by a one-factor Gaussian copula (`abs::simulate`).

use crate::abs_wire::parse_decimal;
use crate::FieldError;
use abs::{CopulaLoan, Tranche, TrancheLossStats};
use money::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Loans of one simulation.
pub const MC_LOANS_MAX: usize = 100_000;
/// Scenarios of one simulation.
pub const MC_SCENARIOS_MAX: u32 = 10_000;
/// Loans × scenarios of one request: about two seconds of one core.
pub const MC_DRAWS_MAX: u64 = 20_000_000;
const TRANCHES_MAX: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct McLoanWire {
    /// Probability of default over the horizon, e.g. "0.025" (a risk model's PD).
    pub default_probability: String,
    /// What the pool loses if the loan defaults (exposure × LGD).
    pub loss_given_default_minor: i64,
}

/// A tranche as the slice `[attach_minor, detach_minor)` of pool losses it absorbs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct McTrancheWire {
    pub name: String,
    pub attach_minor: i64,
    pub detach_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonteCarloRequest {
    #[schema(example = "CNY")]
    pub currency: String,
    pub loans: Vec<McLoanWire>,
    /// Asset correlation ρ in [0, 1), e.g. "0.15".
    pub correlation: String,
    pub scenarios: u32,
    /// The generator's seed: the same request gives the same answer.
    #[serde(default)]
    pub seed: u64,
    pub tranches: Vec<McTrancheWire>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct LossDistribution {
    /// Mean pool loss, 2 places of a minor unit.
    pub mean_minor: String,
    pub p50_minor: i64,
    pub p90_minor: i64,
    pub p99_minor: i64,
    pub p999_minor: i64,
    pub max_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct TrancheLoss {
    pub name: String,
    pub attach_minor: i64,
    pub detach_minor: i64,
    /// 2 places of a minor unit.
    pub expected_loss_minor: String,
    /// Share of scenarios in which the tranche loses anything.
    pub probability_of_loss: String,
    /// 99th percentile loss.
    pub var_99_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct MonteCarloResponse {
    pub currency: String,
    pub scenarios: u32,
    pub loans: usize,
    pub seed: u64,
    pub pool_loss: LossDistribution,
    pub tranches: Vec<TrancheLoss>,
}

/// A checked simulation, ready to run.
pub struct McInput {
    pub loans: Vec<CopulaLoan>,
    pub correlation: f64,
    pub scenarios: u64,
    pub seed: u64,
    pub tranches: Vec<Tranche>,
}

impl MonteCarloRequest {
    pub fn parse(&self) -> Result<McInput, FieldError> {
        if self.currency.parse::<money::Currency>().is_err() {
            return Err(FieldError::new("currency", "unknown ISO 4217 currency"));
        }
        if self.loans.is_empty() || self.loans.len() > MC_LOANS_MAX {
            return Err(FieldError::new(
                "loans",
                format!("1 to {MC_LOANS_MAX} loans"),
            ));
        }
        if self.scenarios == 0 || self.scenarios > MC_SCENARIOS_MAX {
            return Err(FieldError::new(
                "scenarios",
                format!("1 to {MC_SCENARIOS_MAX} scenarios"),
            ));
        }
        let draws = self.loans.len() as u64 * u64::from(self.scenarios);
        if draws > MC_DRAWS_MAX {
            return Err(FieldError::refused(
                "scenarios",
                format!(
                    "loans × scenarios is {draws}, at most {MC_DRAWS_MAX} a request (`cargo bench -p abs` runs larger ones)"
                ),
                "too_large",
            ));
        }
        let correlation = parse_decimal("correlation", &self.correlation)?;
        if correlation < Decimal::ZERO || correlation >= Decimal::ONE {
            return Err(FieldError::refused(
                "correlation",
                "must be at least 0 and below 1",
                "out_of_range",
            ));
        }
        let loans = self
            .loans
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let field = format!("loans[{i}].default_probability");
                let pd = parse_decimal(&field, &l.default_probability)?;
                if pd < Decimal::ZERO || pd > Decimal::ONE {
                    return Err(FieldError::refused(
                        field,
                        "must be between 0 and 1",
                        "out_of_range",
                    ));
                }
                if !(0..=crate::abs_wire::DEAL_AMOUNT_MINOR_MAX)
                    .contains(&l.loss_given_default_minor)
                {
                    return Err(FieldError::new(
                        format!("loans[{i}].loss_given_default_minor"),
                        "must be between 0 and 10^15",
                    ));
                }
                Ok(CopulaLoan {
                    default_probability: to_f64(pd),
                    loss_given_default_minor: l.loss_given_default_minor,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // A scenario's loss is a sum of these; kept within the amounts a deal may state.
        let exposure: i128 = loans
            .iter()
            .map(|l| i128::from(l.loss_given_default_minor))
            .sum();
        if exposure > i128::from(crate::abs_wire::DEAL_AMOUNT_MINOR_MAX) {
            return Err(FieldError::refused(
                "loans",
                "the losses given default add up to more than 10^15",
                "out_of_range",
            ));
        }
        if self.tranches.is_empty() || self.tranches.len() > TRANCHES_MAX {
            return Err(FieldError::new(
                "tranches",
                format!("1 to {TRANCHES_MAX} tranches"),
            ));
        }
        let tranches = self
            .tranches
            .iter()
            .enumerate()
            .map(|(i, t)| {
                crate::check_name(&format!("tranches[{i}].name"), &t.name, 200)?;
                if t.attach_minor < 0 || t.attach_minor >= t.detach_minor {
                    return Err(FieldError::refused(
                        format!("tranches[{i}].detach_minor"),
                        "attach_minor must be at least 0 and below detach_minor",
                        "out_of_order",
                    ));
                }
                Ok(Tranche {
                    attach_minor: t.attach_minor,
                    detach_minor: t.detach_minor,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(McInput {
            loans,
            correlation: to_f64(correlation),
            scenarios: u64::from(self.scenarios),
            seed: self.seed,
            tranches,
        })
    }

    /// The answer from the scenarios' pool losses (in scenario order).
    pub fn response(
        &self,
        pool_losses_minor: &[i64],
        stats: &[TrancheLossStats],
    ) -> MonteCarloResponse {
        let mut sorted = pool_losses_minor.to_vec();
        sorted.sort_unstable();
        let q = |p: u64| -> i64 {
            let n = sorted.len() as u64;
            let i = (n * p)
                .div_ceil(1000)
                .saturating_sub(1)
                .min(n.saturating_sub(1));
            sorted.get(i as usize).copied().unwrap_or(0)
        };
        let total: i128 = sorted.iter().map(|&l| i128::from(l)).sum();
        let mean =
            Decimal::from_i128_with_scale(total, 0) / Decimal::from(sorted.len().max(1) as u64);
        MonteCarloResponse {
            currency: self.currency.clone(),
            scenarios: self.scenarios,
            loans: self.loans.len(),
            seed: self.seed,
            pool_loss: LossDistribution {
                mean_minor: mean.round_dp(2).to_string(),
                p50_minor: q(500),
                p90_minor: q(900),
                p99_minor: q(990),
                p999_minor: q(999),
                max_minor: sorted.last().copied().unwrap_or(0),
            },
            tranches: self
                .tranches
                .iter()
                .zip(stats)
                .map(|(t, s)| TrancheLoss {
                    name: t.name.clone(),
                    attach_minor: t.attach_minor,
                    detach_minor: t.detach_minor,
                    expected_loss_minor: s.expected_loss_minor.round_dp(2).to_string(),
                    probability_of_loss: s.probability_of_loss.round_dp(6).to_string(),
                    var_99_minor: s.var_99_minor,
                })
                .collect(),
        }
    }
}

/// Probabilities are not money: the copula works in `f64`.
fn to_f64(d: Decimal) -> f64 {
    d.to_string().parse().expect("a decimal's text is a float")
}
