//! Policy and decision: hard-decline rules, score cut-offs with a champion/challenger split,
//! reason codes, a risk-based price under the regulatory rate cap, and a credit limit.
//!
//! Exact money: limits and amounts are `i64` minor units, rates `Decimal`. The probability
//! of bad is an `f64` statistic; it enters money arithmetic once, rounded to 6 decimals.

use crate::data::FeatureKind;
use crate::features::{self, DecisionInput, FeatureDef, InputError, Value};
use crate::model::Model;
use money::apr::apr_from_periodic_cash_flows_at_most;
use money::{apr_from_periodic_cash_flows, Currency, Money};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, MathematicalOps, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The policy file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    pub currency: String,
    /// How every model input is computed from the raw input.
    pub features: Vec<FeatureDef>,
    pub rules: Rules,
    pub champion: Cutoffs,
    pub challenger: Option<Challenger>,
    pub pricing: Pricing,
    pub limits: Limits,
    /// Reason codes returned with each outcome (at most this many adverse factors).
    pub max_reasons: usize,
    /// Score scale for models that have no points of their own (PD → score).
    pub score_scale: ScoreScale,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub min_age: u32,
    pub max_age: u32,
    pub decline_students: bool,
    pub banned_purposes: Vec<String>,
    pub blacklist: Vec<String>,
    pub max_open_loans: u32,
    pub max_inquiries_6m: u32,
    pub max_dpd_24m: u32,
    /// Regulatory ceiling on one borrower's outstanding balance across lenders.
    pub max_outstanding_per_borrower_minor: i64,
    pub max_term_months: u32,
}

/// Approve at `approve_min_score` or above, decline below `decline_below_score`, refer between.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cutoffs {
    pub approve_min_score: f64,
    pub decline_below_score: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenger {
    /// Percent of applicants (by a hash of the applicant id) routed to the challenger.
    pub share_percent: u32,
    pub cutoffs: Cutoffs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    pub cost_of_funds: Decimal,
    pub lgd: Decimal,
    pub operating_cost: Decimal,
    pub margin: Decimal,
    /// Upfront fee as a fraction of the amount, deducted at disbursement (counted in the APR).
    pub origination_fee: Decimal,
    /// Regulatory cap on the IRR APR, in percent (e.g. 24).
    pub max_apr_percent: Decimal,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Limit before risk adjustment = monthly income × this.
    pub income_multiple: Decimal,
    /// The PD at which the risk-adjusted limit reaches zero (linear in between).
    pub pd_zero_limit: Decimal,
    pub min_limit_minor: i64,
    pub max_limit_minor: i64,
    /// Limits are rounded down to a multiple of this.
    pub step_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreScale {
    pub pdo: f64,
    pub base_points: f64,
    pub base_odds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approve,
    Refer,
    Decline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    Champion,
    Challenger,
}

/// One adverse factor: how much this feature cost the applicant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub feature: String,
    pub value: Value,
    /// Scorecards: points below the feature's best bin. Trees: log-odds added compared with
    /// the feature being missing.
    pub impact: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub annual_rate: Decimal,
    pub apr_percent: Decimal,
    pub amount_minor: i64,
    pub term_months: u32,
    pub fee_minor: i64,
    pub installments_minor: Vec<i64>,
}

/// Everything a decision outputs; its serialization is what replay compares byte for byte.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub arm: Arm,
    pub probability_bad: f64,
    pub score: f64,
    pub rules_fired: Vec<String>,
    pub reasons: Vec<Reason>,
    pub limit_minor: i64,
    pub price: Option<Price>,
    pub features: BTreeMap<String, Value>,
}

/// A model and a policy checked against each other, ready to decide.
pub struct Decider {
    pub model: Model,
    pub policy: Policy,
    currency: Currency,
    /// For each model input, the index of its definition in `policy.features`.
    inputs: Vec<usize>,
    /// Scorecards: best points per card feature (the reference for reason codes).
    best_points: Vec<f64>,
}

impl Decider {
    /// Checks that the policy computes every input the model reads and that its numbers are
    /// sane; the error names the problem.
    pub fn new(model: Model, policy: Policy) -> Result<Decider, String> {
        model.validate().map_err(|e| e.to_string())?;
        let currency: Currency = policy
            .currency
            .parse()
            .map_err(|_| format!("policy currency `{}` is unknown", policy.currency))?;
        for (i, d) in policy.features.iter().enumerate() {
            features::check_source(&d.source)
                .map_err(|e| format!("policy features[{i}] `{}`: {e}", d.name))?;
        }
        let inputs = model
            .schema()
            .features
            .iter()
            .map(|f| {
                policy
                    .features
                    .iter()
                    .position(|d| d.name == f.name)
                    .ok_or_else(|| {
                        format!(
                            "policy has no feature definition for model input `{}`",
                            f.name
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_policy(&policy)?;
        let best_points = match &model {
            Model::Scorecard { card, .. } => card
                .features
                .iter()
                .map(|f| {
                    f.binning
                        .bins
                        .iter()
                        .map(|b| b.points)
                        .fold(f64::MIN, f64::max)
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Decider {
            model,
            policy,
            currency,
            inputs,
            best_points,
        })
    }

    /// Decides one application. Errors are inputs the model cannot read, naming the field.
    pub fn decide(&self, input: &DecisionInput) -> Result<Decision, InputError> {
        let values = features::compute(&self.policy.features, input)?;
        let row = self.encode(&values)?;
        let (pd, card_score) = self.model.predict(&row);
        assert!((0.0..=1.0).contains(&pd), "probability out of range: {pd}");
        let score = card_score.unwrap_or_else(|| self.scale_score(pd));
        let arm = self.arm(&input.applicant_id);
        let cutoffs = match (arm, &self.policy.challenger) {
            (Arm::Challenger, Some(c)) => &c.cutoffs,
            _ => &self.policy.champion,
        };
        let mut rules_fired = hard_rules(&self.policy.rules, input);
        let mut outcome = if !rules_fired.is_empty() || score < cutoffs.decline_below_score {
            if rules_fired.is_empty() {
                rules_fired.push("score_below_decline_cutoff".into());
            }
            Outcome::Decline
        } else if score >= cutoffs.approve_min_score {
            Outcome::Approve
        } else {
            rules_fired.push("score_in_refer_band".into());
            Outcome::Refer
        };
        let pd_dec = Decimal::from_f64(pd)
            .expect("finite probability")
            .round_dp_with_strategy(6, RoundingStrategy::MidpointNearestEven);
        let limit_minor = if outcome == Outcome::Decline {
            0
        } else {
            self.limit(input, pd_dec, &mut rules_fired)
        };
        if outcome != Outcome::Decline && limit_minor < self.policy.limits.min_limit_minor {
            rules_fired.push("limit_below_minimum".into());
            outcome = Outcome::Decline;
        }
        let price = match outcome {
            Outcome::Decline => None,
            _ => match self.price(input, pd_dec, limit_minor, &mut rules_fired) {
                Some(p) => Some(p),
                None => {
                    outcome = Outcome::Decline;
                    None
                }
            },
        };
        let features = self
            .policy
            .features
            .iter()
            .zip(values)
            .map(|(d, v)| (d.name.clone(), v))
            .collect();
        Ok(Decision {
            outcome,
            arm,
            probability_bad: pd,
            score,
            reasons: self.reasons(&row),
            rules_fired,
            limit_minor: if outcome == Outcome::Decline {
                0
            } else {
                limit_minor
            },
            price: if outcome == Outcome::Decline {
                None
            } else {
                price
            },
            features,
        })
    }

    /// The model row; a value of the wrong type or an unknown category is an error.
    fn encode(&self, values: &[Value]) -> Result<Vec<f64>, InputError> {
        let schema = self.model.schema();
        let mut row = Vec::with_capacity(schema.features.len());
        for (spec, &i) in schema.features.iter().zip(&self.inputs) {
            let def = &self.policy.features[i];
            let field = || field_of(def);
            let x = match (&spec.kind, &values[i]) {
                (_, Value::Missing) => f64::NAN,
                (FeatureKind::Numeric, Value::Number(x)) if x.is_finite() => *x,
                (FeatureKind::Numeric, _) => {
                    return Err(InputError::new(field(), "expected a finite number"))
                }
                (FeatureKind::Categorical { levels }, Value::Text(t)) => {
                    match levels.iter().position(|l| l == t.trim()) {
                        Some(code) => code as f64,
                        None => {
                            return Err(InputError::new(
                                field(),
                                format!("unknown category `{t}`; known: {}", levels.join(" | ")),
                            ))
                        }
                    }
                }
                (FeatureKind::Categorical { .. }, Value::Number(_)) => {
                    return Err(InputError::new(field(), "expected a category label"))
                }
            };
            row.push(x);
        }
        Ok(row)
    }

    fn scale_score(&self, pd: f64) -> f64 {
        let s = &self.policy.score_scale;
        let factor = s.pdo / std::f64::consts::LN_2;
        let odds_good = ((1.0 - pd) / pd.max(1e-12)).max(1e-12);
        s.base_points + factor * (odds_good / s.base_odds).ln()
    }

    fn arm(&self, applicant_id: &str) -> Arm {
        match &self.policy.challenger {
            Some(c) if (fnv1a(applicant_id.as_bytes()) % 100) < u64::from(c.share_percent) => {
                Arm::Challenger
            }
            _ => Arm::Champion,
        }
    }

    /// Top adverse factors, largest first; ties by feature name so the order is stable.
    fn reasons(&self, row: &[f64]) -> Vec<Reason> {
        let schema = self.model.schema();
        let mut impacts: Vec<(usize, f64)> = match &self.model {
            Model::Scorecard { card, .. } => card
                .features
                .iter()
                .zip(&self.best_points)
                .map(|(f, best)| {
                    let b = &f.binning;
                    (b.feature, best - b.bins[b.bin_of(row[b.feature])].points)
                })
                .collect(),
            Model::Gbm { gbm, .. } => missing_substitution(&gbm.forest, row),
            Model::Imported { forest, .. } => missing_substitution(forest, row),
        };
        impacts.retain(|&(_, impact)| impact > 1e-9);
        impacts.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| schema.features[a.0].name.cmp(&schema.features[b.0].name))
        });
        impacts.truncate(self.policy.max_reasons);
        impacts
            .into_iter()
            .map(|(j, impact)| {
                let name = &schema.features[j].name;
                let value = match (&schema.features[j].kind, row[j]) {
                    (_, x) if x.is_nan() => Value::Missing,
                    (FeatureKind::Categorical { levels }, x) => {
                        Value::Text(levels[x as usize].clone())
                    }
                    (FeatureKind::Numeric, x) => Value::Number(x),
                };
                Reason {
                    code: format!("ADVERSE_{}", name.to_ascii_uppercase()),
                    feature: name.clone(),
                    value,
                    impact: (impact * 1e4).round() / 1e4,
                }
            })
            .collect()
    }

    /// Monthly income × multiple × (1 − PD / PD at zero), within the product bounds and the
    /// borrower's remaining regulatory headroom, rounded down to the step.
    fn limit(&self, input: &DecisionInput, pd: Decimal, fired: &mut Vec<String>) -> i64 {
        let l = &self.policy.limits;
        let income = Decimal::from(input.application.monthly_income_minor.max(0));
        let risk_factor = (Decimal::ONE - pd / l.pd_zero_limit).max(Decimal::ZERO);
        let by_income = income
            .checked_mul(l.income_multiple)
            .and_then(|x| x.checked_mul(risk_factor))
            .and_then(|x| x.floor().to_i64())
            .unwrap_or(i64::MAX);
        let headroom = self
            .policy
            .rules
            .max_outstanding_per_borrower_minor
            .saturating_sub(input.bureau.outstanding_minor.max(0))
            .max(0);
        let mut limit = by_income.min(l.max_limit_minor);
        if headroom < limit {
            fired.push("limit_capped_by_borrower_outstanding".into());
            limit = headroom;
        }
        let limit = limit - limit.rem_euclid(l.step_minor);
        assert!(limit >= 0 && limit <= l.max_limit_minor);
        limit
    }

    /// Risk-based rate for the offered amount, capped so the IRR APR (fee included) stays
    /// within the regulatory cap. `None` when no rate fits under the cap.
    fn price(
        &self,
        input: &DecisionInput,
        pd: Decimal,
        limit_minor: i64,
        fired: &mut Vec<String>,
    ) -> Option<Price> {
        let p = &self.policy.pricing;
        let amount = input.application.requested_minor.min(limit_minor);
        let term = input.application.term_months;
        if amount <= 0 || term == 0 {
            fired.push("nothing_to_price".into());
            return None;
        }
        let raw = p.cost_of_funds + pd * p.lgd + p.operating_cost + p.margin;
        let bp = Decimal::new(1, 4);
        let rate = (raw / bp).ceil() * bp;
        let mut priced = self.quote(amount, term, rate)?.priced()?;
        if priced.apr_percent > p.max_apr_percent {
            fired.push("rate_capped_by_apr_limit".into());
            // Largest whole-basis-point rate whose APR is within the cap. APR moves almost one
            // for one with the rate, so start from the rate lowered by the overshoot and step;
            // this takes two or three probes where bisection took a dozen.
            let overshoot = (priced.apr_percent - p.max_apr_percent) / Decimal::ONE_HUNDRED;
            let top = (rate / bp).to_i64().expect("rate in range");
            let mut lo = ((rate - overshoot) / bp)
                .floor()
                .to_i64()
                .unwrap_or(0)
                .clamp(0, top);
            // A probe builds the installments and tests them against the cap by the sign of a
            // present value; only the quote kept has its APR solved.
            let probe = |bps: i64| self.quote(amount, term, Decimal::from(bps) * bp);
            let cap = p.max_apr_percent;
            let mut best = probe(lo)?;
            let mut steps = 0;
            while !best.within(cap)? {
                if lo == 0 {
                    fired.push("fee_alone_exceeds_apr_limit".into());
                    return None;
                }
                lo -= 1;
                best = probe(lo)?;
                steps += 1;
                assert!(steps <= 10_000, "APR search does not converge");
            }
            while lo + 1 < top {
                let next = probe(lo + 1)?;
                if !next.within(cap)? {
                    break;
                }
                lo += 1;
                best = next;
                steps += 1;
                assert!(steps <= 10_000, "APR search does not converge");
            }
            priced = best.priced()?;
        }
        assert!(priced.apr_percent <= p.max_apr_percent);
        Some(priced)
    }

    /// Equal monthly installments at `annual_rate / 12`, rounded half-up to the minor unit,
    /// the last one absorbing the residue, and the fee deducted at disbursement.
    fn quote(&self, amount_minor: i64, term: u32, annual_rate: Decimal) -> Option<Quote> {
        let installments = try_annuity(amount_minor, term, annual_rate / Decimal::from(12))?;
        let fee_minor = (Decimal::from(amount_minor) * self.policy.pricing.origination_fee)
            .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
            .to_i64()?;
        let pays = installments
            .iter()
            .map(|&m| Money::from_minor(m, self.currency))
            .collect();
        Some(Quote {
            annual_rate,
            amount_minor,
            term_months: term,
            fee_minor,
            installments_minor: installments,
            net: Money::from_minor(amount_minor - fee_minor, self.currency),
            pays,
        })
    }
}

/// A price before its APR: the APR is the IRR of the net disbursement against the
/// installments, monthly, annualised ×12.
struct Quote {
    annual_rate: Decimal,
    amount_minor: i64,
    term_months: u32,
    fee_minor: i64,
    installments_minor: Vec<i64>,
    net: Money,
    pays: Vec<Money>,
}

impl Quote {
    /// Whether the rounded APR is at most `cap_percent`; `None` when there is no APR.
    fn within(&self, cap_percent: Decimal) -> Option<bool> {
        apr_from_periodic_cash_flows_at_most(self.net, &self.pays, 12, cap_percent).ok()
    }

    fn priced(self) -> Option<Price> {
        let apr = apr_from_periodic_cash_flows(self.net, &self.pays, 12).ok()?;
        Some(Price {
            annual_rate: self.annual_rate,
            apr_percent: apr,
            amount_minor: self.amount_minor,
            term_months: self.term_months,
            fee_minor: self.fee_minor,
            installments_minor: self.installments_minor,
        })
    }
}

fn field_of(def: &FeatureDef) -> String {
    match &def.source {
        features::Source::Field { path } | features::Source::DaysSince { path } => path.clone(),
        _ => format!("features.{}", def.name),
    }
}

fn check_policy(p: &Policy) -> Result<(), String> {
    let checks = [
        (
            p.rules.min_age <= p.rules.max_age,
            "rules.min_age exceeds rules.max_age",
        ),
        (
            p.champion.decline_below_score <= p.champion.approve_min_score,
            "champion: decline cut-off above approve cut-off",
        ),
        (
            p.challenger.as_ref().is_none_or(|c| {
                c.share_percent <= 100
                    && c.cutoffs.decline_below_score <= c.cutoffs.approve_min_score
            }),
            "challenger: share over 100 or cut-offs reversed",
        ),
        (
            p.limits.step_minor > 0,
            "limits.step_minor must be positive",
        ),
        (
            (Decimal::ZERO..=Decimal::ONE_THOUSAND).contains(&p.limits.income_multiple),
            "limits.income_multiple must be in [0, 1000]",
        ),
        (
            p.limits.pd_zero_limit > Decimal::ZERO,
            "limits.pd_zero_limit must be positive",
        ),
        (
            0 <= p.limits.min_limit_minor && p.limits.min_limit_minor <= p.limits.max_limit_minor,
            "limits: min above max",
        ),
        (
            p.pricing.max_apr_percent > Decimal::ZERO
                && p.pricing.max_apr_percent <= Decimal::ONE_THOUSAND
                && p.pricing.origination_fee >= Decimal::ZERO
                && p.pricing.origination_fee < Decimal::ONE,
            "pricing: cap must be in (0, 1000] percent and the fee in [0, 1)",
        ),
        (
            [
                p.pricing.cost_of_funds,
                p.pricing.lgd,
                p.pricing.operating_cost,
                p.pricing.margin,
            ]
            .iter()
            .all(|r| (Decimal::ZERO..=Decimal::ONE).contains(r)),
            "pricing: cost_of_funds, lgd, operating_cost and margin must each be in [0, 1]",
        ),
        (
            p.score_scale.pdo > 0.0 && p.score_scale.base_odds > 0.0,
            "score_scale: pdo and base_odds must be positive",
        ),
    ];
    match checks.iter().find(|(ok, _)| !ok) {
        Some((_, why)) => Err(format!("policy: {why}")),
        None => Ok(()),
    }
}

/// Hard declines, in a fixed order, by stable code.
fn hard_rules(r: &Rules, input: &DecisionInput) -> Vec<String> {
    let a = &input.application;
    let b = &input.bureau;
    let mut fired = Vec::new();
    let mut fire = |cond: bool, code: &str| {
        if cond {
            fired.push(code.to_string());
        }
    };
    fire(a.age < r.min_age, "age_below_minimum");
    fire(a.age > r.max_age, "age_above_maximum");
    fire(a.student && r.decline_students, "student");
    fire(
        r.banned_purposes.iter().any(|p| p == &a.purpose),
        "banned_purpose",
    );
    fire(
        b.blacklisted || r.blacklist.iter().any(|id| id == &input.applicant_id),
        "blacklisted",
    );
    fire(b.open_loans > r.max_open_loans, "multi_lending");
    fire(b.inquiries_6m > r.max_inquiries_6m, "too_many_inquiries");
    fire(b.max_dpd_24m > r.max_dpd_24m, "past_delinquency");
    fire(
        b.outstanding_minor >= r.max_outstanding_per_borrower_minor,
        "borrower_outstanding_at_regulatory_limit",
    );
    fire(
        a.term_months == 0 || a.term_months > r.max_term_months,
        "term_out_of_range",
    );
    fire(a.requested_minor <= 0, "nothing_requested");
    fired
}

/// Installments of an amortising loan, exact to the minor unit.
///
/// # Panics
/// When `term` is 0 or over [`ANNUITY_TERM_MAX_MONTHS`], `amount_minor` is not positive, or
/// an installment would not fit `i64` (see [`try_annuity`]).
pub fn annuity(amount_minor: i64, term: u32, monthly_rate: Decimal) -> Vec<i64> {
    try_annuity(amount_minor, term, monthly_rate).expect("annuity in range")
}

/// The longest term [`try_annuity`] schedules: a hundred years.
pub const ANNUITY_TERM_MAX_MONTHS: u32 = 1_200;

/// As [`annuity`], `None` where the arithmetic would overflow or the term is out of range (a
/// rate or term far outside any loan), so that a policy or an application cannot crash a
/// decision.
pub fn try_annuity(amount_minor: i64, term: u32, monthly_rate: Decimal) -> Option<Vec<i64>> {
    if !(1..=ANNUITY_TERM_MAX_MONTHS).contains(&term) || amount_minor <= 0 {
        return None;
    }
    let p = Decimal::from(amount_minor);
    let n = term as usize;
    let payment = if monthly_rate.is_zero() {
        p / Decimal::from(term)
    } else {
        let growth = (Decimal::ONE + monthly_rate).checked_powu(u64::from(term))?;
        p.checked_mul(monthly_rate)?
            .checked_mul(growth)?
            .checked_div(growth - Decimal::ONE)?
    }
    .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    let mut balance = p;
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let interest = balance
            .checked_mul(monthly_rate)?
            .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        let pay = if k + 1 == n {
            balance.checked_add(interest)?
        } else {
            payment
        };
        balance = balance.checked_add(interest)?.checked_sub(pay)?;
        out.push(pay.to_i64()?);
    }
    assert!(balance.is_zero());
    Some(out)
}

/// Contribution of each feature: margin with the row as is minus margin with that feature
/// missing. Positive values raise the probability of bad.
fn missing_substitution(forest: &crate::forest::Forest, row: &[f64]) -> Vec<(usize, f64)> {
    let full = forest.margin(row);
    let mut probe = row.to_vec();
    (0..row.len())
        .filter(|&j| !row[j].is_nan())
        .map(|j| {
            probe[j] = f64::NAN;
            let without = forest.margin(&probe);
            probe[j] = row[j];
            (j, full - without)
        })
        .collect()
}

/// FNV-1a, 64-bit: a stable hash for the champion/challenger split (std's hasher is not
/// stable across releases).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
