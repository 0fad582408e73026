//! Early-warning rules over a customer's risk state: a versioned pack of rules, each with
//! the dates it is in force, a condition over the state's facts and the actions it asks for.
//!
//! The shell keeps the state, parses pack files and runs the actions; this module only
//! says which rules hold. A rule acts when its condition turns true (edge-triggered, see
//! docs/monitoring.md): a condition that stays true does not act again on every event.

use crate::behaviour;
use money::BusinessDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An external signal about a customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A credit bureau reported a new delinquency, inquiry burst or default elsewhere.
    BureauAlert,
    /// The customer borrows from several lenders at once.
    MultiBorrowing,
    /// An SME customer's merchant revenue for a period (with an amount).
    MerchantRevenue,
}

impl SignalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::BureauAlert => "bureau_alert",
            SignalKind::MultiBorrowing => "multi_borrowing",
            SignalKind::MerchantRevenue => "merchant_revenue",
        }
    }
}

/// What the rules may look at: the customer's risk state reduced to numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    /// The largest days past due among the customer's term loans and lines.
    pub dpd_max: u32,
    /// Installments that fell due unpaid, over the customer's history.
    pub missed_payments: u32,
    /// Used over limit across the customer's open lines, `None` without a line.
    pub utilization: Option<Decimal>,
    /// Kinds of the signals received in the last 90 days.
    pub signals: Vec<SignalKind>,
    /// The behaviour score ([`behaviour::score`]), `None` before any history.
    pub behaviour_score: Option<Decimal>,
    /// New loans and purchases across products in the last 30 and 90 days.
    pub borrowings_30d: u32,
    pub borrowings_90d: u32,
}

/// Every field given must hold (and); at least one is given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpd_at_least: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed_payments_at_least: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization_at_least: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<SignalKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behaviour_score_below: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borrowings_30d_at_least: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borrowings_90d_at_least: Option<u32>,
}

impl Condition {
    pub fn holds(&self, f: &Facts) -> bool {
        self.dpd_at_least.is_none_or(|n| f.dpd_max >= n)
            && self
                .missed_payments_at_least
                .is_none_or(|n| f.missed_payments >= n)
            && self
                .utilization_at_least
                .is_none_or(|x| f.utilization.is_some_and(|u| u >= x))
            && self.signal.is_none_or(|k| f.signals.contains(&k))
            && self
                .behaviour_score_below
                .is_none_or(|s| f.behaviour_score.is_some_and(|b| b < s))
            && self
                .borrowings_30d_at_least
                .is_none_or(|n| f.borrowings_30d >= n)
            && self
                .borrowings_90d_at_least
                .is_none_or(|n| f.borrowings_90d >= n)
    }

    fn is_empty(&self) -> bool {
        *self == Condition::default()
    }
}

/// What a rule asks for when its condition turns true.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Freeze every open credit line of the customer.
    FreezeLine,
    /// Lower every open line's limit, by a fraction of it or to an amount (never raised).
    LowerLimit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by_fraction: Option<Decimal>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_minor: Option<i64>,
    },
    /// No new loan, line or purchase for the customer.
    HaltNewLoans,
    /// Mark the customer for collections.
    ReferToCollections,
    /// Tell each funding partner of the customer's co-lent loans (an event).
    NotifyFunders,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::FreezeLine => "freeze_line",
            Action::LowerLimit { .. } => "lower_limit",
            Action::HaltNewLoans => "halt_new_loans",
            Action::ReferToCollections => "refer_to_collections",
            Action::NotifyFunders => "notify_funders",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique in the pack; recorded with every action the rule takes.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// First business date the rule is in force.
    pub effective_from: BusinessDate,
    /// Last business date it is in force; open-ended when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_to: Option<BusinessDate>,
    pub when: Condition,
    pub actions: Vec<Action>,
}

impl Rule {
    pub fn in_force(&self, day: BusinessDate) -> bool {
        self.effective_from <= day && self.effective_to.is_none_or(|to| day <= to)
    }
}

/// A versioned set of rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulePack {
    pub version: String,
    pub rules: Vec<Rule>,
}

/// A pack that does not make sense; `field` is its path in the file (`rules[1].actions[0]`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    pub field: String,
    pub message: String,
}

fn err(field: String, message: impl Into<String>) -> RuleError {
    RuleError {
        field,
        message: message.into(),
    }
}

impl RulePack {
    /// Checks what the file's types cannot: non-empty and unique ids, date order, a
    /// condition and actions per rule, thresholds and fractions in range.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.version.trim().is_empty() {
            return Err(err("version".into(), "must name the pack's version"));
        }
        if self.rules.is_empty() {
            return Err(err("rules".into(), "must hold at least one rule"));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let at = |f: &str| format!("rules[{i}].{f}");
            let id_ok = !r.id.is_empty()
                && r.id.len() <= 64
                && r.id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
            if !id_ok {
                return Err(err(
                    at("id"),
                    "must be 1 to 64 characters of letters, digits, '_', '-' or '.'",
                ));
            }
            if self.rules[..i].iter().any(|o| o.id == r.id) {
                return Err(err(at("id"), format!("`{}` is used by another rule", r.id)));
            }
            if r.effective_to.is_some_and(|to| to < r.effective_from) {
                return Err(err(at("effective_to"), "is before effective_from"));
            }
            validate_condition(&r.when, &at("when"))?;
            if r.actions.is_empty() {
                return Err(err(at("actions"), "must hold at least one action"));
            }
            for (j, a) in r.actions.iter().enumerate() {
                if r.actions[..j].iter().any(|o| o.name() == a.name()) {
                    return Err(err(
                        at(&format!("actions[{j}]")),
                        format!("{} is already an action of this rule", a.name()),
                    ));
                }
                if let Action::LowerLimit {
                    by_fraction,
                    to_minor,
                } = a
                {
                    let f = at(&format!("actions[{j}]"));
                    match (by_fraction, to_minor) {
                        (Some(x), None) if *x > Decimal::ZERO && *x < Decimal::ONE => {}
                        (Some(_), None) => {
                            return Err(err(f + ".by_fraction", "must be above 0 and below 1"))
                        }
                        (None, Some(n)) if *n >= 0 => {}
                        (None, Some(_)) => {
                            return Err(err(f + ".to_minor", "must not be negative"))
                        }
                        _ => return Err(err(f, "give exactly one of by_fraction and to_minor")),
                    }
                }
            }
        }
        Ok(())
    }

    /// The rules in force on `day`, in file order.
    pub fn in_force(&self, day: BusinessDate) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(move |r| r.in_force(day))
    }
}

fn validate_condition(c: &Condition, at: &str) -> Result<(), RuleError> {
    if c.is_empty() {
        return Err(err(at.into(), "must test at least one fact"));
    }
    let positive = [
        ("dpd_at_least", c.dpd_at_least),
        ("missed_payments_at_least", c.missed_payments_at_least),
        ("borrowings_30d_at_least", c.borrowings_30d_at_least),
        ("borrowings_90d_at_least", c.borrowings_90d_at_least),
    ];
    for (name, v) in positive {
        if v == Some(0) {
            return Err(err(
                format!("{at}.{name}"),
                "must be at least 1 (0 would always hold)",
            ));
        }
    }
    if let Some(u) = c.utilization_at_least {
        if u <= Decimal::ZERO || u > Decimal::from(10) {
            return Err(err(
                format!("{at}.utilization_at_least"),
                "must be above 0 and at most 10 (a fraction of the limit)",
            ));
        }
    }
    if let Some(s) = c.behaviour_score_below {
        let (lo, hi) = behaviour::SCORE_RANGE;
        if s <= Decimal::from(lo) || s > Decimal::from(hi) {
            return Err(err(
                format!("{at}.behaviour_score_below"),
                format!("must be above {lo} and at most {hi}, the behaviour score's range"),
            ));
        }
    }
    Ok(())
}

/// The pack the server uses without `--early-warning-rules` (docs/monitoring.md).
pub fn default_pack() -> RulePack {
    let from = BusinessDate::from_ymd(2000, 1, 1).expect("a valid date");
    let rule = |id: &str, description: &str, when: Condition, actions: Vec<Action>| Rule {
        id: id.into(),
        description: Some(description.into()),
        effective_from: from,
        effective_to: None,
        when,
        actions,
    };
    RulePack {
        version: "builtin-2026-12".into(),
        rules: vec![
            rule(
                "missed_payment",
                "a first missed installment halves the lines' limits and tells the funders",
                Condition {
                    missed_payments_at_least: Some(1),
                    ..Condition::default()
                },
                vec![
                    Action::LowerLimit {
                        by_fraction: Some(Decimal::new(5, 1)),
                        to_minor: None,
                    },
                    Action::NotifyFunders,
                ],
            ),
            rule(
                "dpd_30",
                "thirty days past due: freeze, stop new credit, collections, funders told",
                Condition {
                    dpd_at_least: Some(30),
                    ..Condition::default()
                },
                vec![
                    Action::FreezeLine,
                    Action::HaltNewLoans,
                    Action::ReferToCollections,
                    Action::NotifyFunders,
                ],
            ),
            rule(
                "bureau_alert",
                "a bureau alert freezes the lines and stops new credit",
                Condition {
                    signal: Some(SignalKind::BureauAlert),
                    ..Condition::default()
                },
                vec![Action::FreezeLine, Action::HaltNewLoans],
            ),
            rule(
                "multi_borrowing",
                "borrowing elsewhere at once cuts the lines' limits by 30%",
                Condition {
                    signal: Some(SignalKind::MultiBorrowing),
                    ..Condition::default()
                },
                vec![Action::LowerLimit {
                    by_fraction: Some(Decimal::new(3, 1)),
                    to_minor: None,
                }],
            ),
            rule(
                "low_behaviour_score",
                "a behaviour score below 500 stops new credit",
                Condition {
                    behaviour_score_below: Some(Decimal::from(500)),
                    ..Condition::default()
                },
                vec![Action::HaltNewLoans],
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pack_is_valid() {
        default_pack().validate().unwrap();
    }

    #[test]
    fn conditions_and_together() {
        let c = Condition {
            missed_payments_at_least: Some(1),
            utilization_at_least: Some(Decimal::new(9, 1)),
            ..Condition::default()
        };
        let mut f = Facts {
            missed_payments: 1,
            ..Facts::default()
        };
        assert!(!c.holds(&f), "no line: utilization cannot hold");
        f.utilization = Some(Decimal::new(95, 2));
        assert!(c.holds(&f));
        f.missed_payments = 0;
        assert!(!c.holds(&f));
    }

    #[test]
    fn bad_packs_name_the_field() {
        let mut p = default_pack();
        p.rules[1].id = p.rules[0].id.clone();
        assert_eq!(p.validate().unwrap_err().field, "rules[1].id");
        let mut p = default_pack();
        p.rules[0].actions[0] = Action::LowerLimit {
            by_fraction: Some(Decimal::ONE),
            to_minor: None,
        };
        assert_eq!(
            p.validate().unwrap_err().field,
            "rules[0].actions[0].by_fraction"
        );
        let mut p = default_pack();
        p.rules[2].when = Condition::default();
        assert_eq!(p.validate().unwrap_err().field, "rules[2].when");
        let mut p = default_pack();
        p.rules[0].effective_to = BusinessDate::from_ymd(1999, 1, 1).ok();
        assert_eq!(p.validate().unwrap_err().field, "rules[0].effective_to");
        let mut p = default_pack();
        p.rules[0].when.dpd_at_least = Some(0);
        assert_eq!(
            p.validate().unwrap_err().field,
            "rules[0].when.dpd_at_least"
        );
    }

    #[test]
    fn in_force_by_dates() {
        let mut r = default_pack().rules[0].clone();
        r.effective_from = BusinessDate::from_ymd(2026, 1, 1).unwrap();
        r.effective_to = BusinessDate::from_ymd(2026, 6, 30).ok();
        assert!(!r.in_force(BusinessDate::from_ymd(2025, 12, 31).unwrap()));
        assert!(r.in_force(BusinessDate::from_ymd(2026, 6, 30).unwrap()));
        assert!(!r.in_force(BusinessDate::from_ymd(2026, 7, 1).unwrap()));
    }
}
