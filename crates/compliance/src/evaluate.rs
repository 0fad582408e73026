//! Evaluating a pack against facts: the breaches of the rules in effect, of one scope, or
//! over a whole book.
//!
//! A rule fails closed: when the group of facts it reads is present but a fact it needs is
//! missing or cannot be compared (no declared income, exposure in another currency than the
//! limit), it is a breach whose observed value says so, never a pass.

use crate::facts::{Exposure, Facts};
use crate::pack::{
    Condition, CustomerKind, DisclosureField, Fraction, FundingKind, LenderKind, PackSet, Purpose,
    Rule, RulePack, Scope,
};
use money::apr::{
    within_disclosure_tolerance, IRREGULAR_TOLERANCE_PERCENT, REGULAR_TOLERANCE_PERCENT,
};
use money::{BusinessDate, Currency, Decimal, Money};
use rust_decimal::prelude::ToPrimitive;
use std::collections::BTreeMap;
use std::fmt;

/// An observed value or a limit, as a breach reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Money(Money),
    /// An annual rate in percent (24 = 24%).
    Percent(Decimal),
    /// A fraction (0.3 = 30%).
    Share(Decimal),
    Flag(bool),
    Purpose(Purpose),
    Purposes(Vec<Purpose>),
    Fields(Vec<DisclosureField>),
    /// Within `tolerance` percentage points of `centre` percent.
    PercentWithin {
        centre: Decimal,
        tolerance: Decimal,
    },
    /// `share` of the average declared annual income of the last `years` years.
    IncomeShare {
        share: Fraction,
        years: u32,
    },
    /// The fact at this path is needed and was not given.
    Missing(&'static str),
    /// The facts cannot be compared with the limit, for this reason.
    Invalid(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Money(money) => write!(f, "{money}"),
            Value::Percent(percent) => write!(f, "{percent}%"),
            Value::Share(share) => write!(f, "{share}"),
            Value::Flag(flag) => write!(f, "{flag}"),
            Value::Purpose(purpose) => write!(f, "{purpose:?}"),
            Value::Purposes(purposes) => write!(f, "{purposes:?}"),
            Value::Fields(fields) => write!(f, "{fields:?}"),
            Value::PercentWithin { centre, tolerance } => write!(f, "{centre}% ± {tolerance}"),
            Value::IncomeShare { share, years } => {
                write!(f, "{share} of the average income of {years} years")
            }
            Value::Missing(path) => write!(f, "{path} missing"),
            Value::Invalid(reason) => f.write_str(reason),
        }
    }
}

/// A rule the facts break: the rule id is a refused request's problem `code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    pub pack_id: String,
    pub pack_version: u32,
    pub rule_id: String,
    pub message: String,
    pub observed: Value,
    pub limit: Value,
}

enum Outcome {
    /// The group of facts the rule reads is absent.
    Skipped,
    Pass,
    Fail {
        observed: Value,
        limit: Value,
    },
}

fn fail(observed: Value, limit: Value) -> Outcome {
    Outcome::Fail { observed, limit }
}

fn rules_in(pack: &RulePack, scope: Scope, on: BusinessDate) -> impl Iterator<Item = &Rule> {
    let in_effect = pack.in_effect(on);
    pack.rules
        .iter()
        .filter(move |rule| in_effect && rule.scopes.contains(&scope))
}

/// The breaches of `pack`'s rules of `scope` by `facts`, when the pack is in effect on `on`
/// (none when it is not), in the pack's order of rules.
pub fn evaluate(pack: &RulePack, scope: Scope, facts: &Facts, on: BusinessDate) -> Vec<Breach> {
    rules_in(pack, scope, on)
        .filter_map(|rule| match check(&rule.condition, facts, on) {
            Outcome::Fail { observed, limit } => Some(Breach {
                pack_id: pack.id.clone(),
                pack_version: pack.version,
                rule_id: rule.id.clone(),
                message: rule.message.clone(),
                observed,
                limit,
            }),
            Outcome::Skipped | Outcome::Pass => None,
        })
        .collect()
}

/// The ids of `pack`'s rules of `scope` in effect on `on` that `facts` could not be checked
/// against because the group of facts they read is absent.
pub fn unevaluated<'a>(
    pack: &'a RulePack,
    scope: Scope,
    facts: &Facts,
    on: BusinessDate,
) -> Vec<&'a str> {
    rules_in(pack, scope, on)
        .filter(|rule| matches!(check(&rule.condition, facts, on), Outcome::Skipped))
        .map(|rule| rule.id.as_str())
        .collect()
}

/// One item's breach in a book report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding<S> {
    pub subject: S,
    pub breach: Breach,
}

/// The breaches of a book, listed by rule id; each rule's findings in the items' order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report<S> {
    pub items_checked: usize,
    pub by_rule: BTreeMap<String, Vec<Finding<S>>>,
}

impl<S> Report<S> {
    pub fn is_clean(&self) -> bool {
        self.by_rule.is_empty()
    }

    pub fn breach_count(&self) -> usize {
        self.by_rule.values().map(Vec::len).sum()
    }
}

fn report_packs<S: Clone>(
    packs: &[&RulePack],
    items: &[(S, Facts)],
    on: BusinessDate,
) -> Report<S> {
    let mut by_rule: BTreeMap<String, Vec<Finding<S>>> = BTreeMap::new();
    for (subject, facts) in items {
        for pack in packs {
            for breach in evaluate(pack, Scope::Book, facts, on) {
                by_rule
                    .entry(breach.rule_id.clone())
                    .or_default()
                    .push(Finding {
                        subject: subject.clone(),
                        breach,
                    });
            }
        }
    }
    Report {
        items_checked: items.len(),
        by_rule,
    }
}

/// The book report: every rule of scope `book` in effect on `on`, over every item (a
/// customer with its exposure, a loan, a co-lent loan, the lender's balance sheet…).
pub fn report<S: Clone>(pack: &RulePack, items: &[(S, Facts)], on: BusinessDate) -> Report<S> {
    report_packs(&[pack], items, on)
}

impl PackSet {
    /// [`evaluate`] with every pack version in effect on `on`.
    pub fn evaluate(&self, scope: Scope, facts: &Facts, on: BusinessDate) -> Vec<Breach> {
        self.in_effect(on)
            .flat_map(|pack| evaluate(pack, scope, facts, on))
            .collect()
    }

    /// [`unevaluated`] with every pack version in effect on `on`.
    pub fn unevaluated(&self, scope: Scope, facts: &Facts, on: BusinessDate) -> Vec<&str> {
        self.in_effect(on)
            .flat_map(|pack| unevaluated(pack, scope, facts, on))
            .collect()
    }

    /// [`report`] with every pack version in effect on `on`.
    pub fn report<S: Clone>(&self, items: &[(S, Facts)], on: BusinessDate) -> Report<S> {
        let packs: Vec<&RulePack> = self.in_effect(on).collect();
        report_packs(&packs, items, on)
    }
}

/// The sum of the exposures `keep` selects, in `currency`; an exposure in another currency
/// cannot be summed and is reported as such.
fn principal_sum(
    exposure: &[Exposure],
    currency: Currency,
    keep: impl Fn(&Exposure) -> bool,
) -> Result<Money, Value> {
    let mut total = Money::zero(currency);
    for item in exposure.iter().filter(|item| keep(item)) {
        if item.principal.currency() != currency {
            return Err(Value::Invalid(format!(
                "exposure {}/{} is in {}, the limit in {currency}",
                item.product_id,
                item.funder_id,
                item.principal.currency()
            )));
        }
        total = total
            .checked_add(item.principal)
            .map_err(|_| Value::Invalid("exposure overflows".to_string()))?;
    }
    Ok(total)
}

fn funded_by(funder_kind: Option<LenderKind>) -> impl Fn(&Exposure) -> bool {
    move |item| funder_kind.is_none_or(|kind| item.funder_kind == kind)
}

fn at_most(observed: Money, limit: Money) -> Outcome {
    if observed.amount_minor() > limit.amount_minor() {
        fail(Value::Money(observed), Value::Money(limit))
    } else {
        Outcome::Pass
    }
}

fn check(condition: &Condition, facts: &Facts, on: BusinessDate) -> Outcome {
    match condition {
        Condition::IndividualBalanceMax {
            limit,
            funder_kind,
            consumer_credit_only,
        } => {
            let Some(customer) = &facts.customer else {
                return Outcome::Skipped;
            };
            if customer.kind != CustomerKind::Individual {
                return Outcome::Pass;
            }
            let keep = |item: &Exposure| {
                funded_by(*funder_kind)(item) && (!consumer_credit_only || item.consumer_credit)
            };
            match principal_sum(&customer.exposure, limit.currency(), keep) {
                Ok(total) => at_most(total, *limit),
                Err(invalid) => fail(invalid, Value::Money(*limit)),
            }
        }
        Condition::EnterpriseBalanceMax { limit, funder_kind } => {
            let Some(customer) = &facts.customer else {
                return Outcome::Skipped;
            };
            if customer.kind != CustomerKind::Enterprise {
                return Outcome::Pass;
            }
            match principal_sum(
                &customer.exposure,
                limit.currency(),
                funded_by(*funder_kind),
            ) {
                Ok(total) => at_most(total, *limit),
                Err(invalid) => fail(invalid, Value::Money(*limit)),
            }
        }
        Condition::IncomeShareMax {
            share,
            years,
            funder_kind,
        } => {
            let Some(customer) = &facts.customer else {
                return Outcome::Skipped;
            };
            if customer.kind != CustomerKind::Individual {
                return Outcome::Pass;
            }
            let limit = match income_limit(&customer.income_history, *share, *years, on) {
                Ok(limit) => limit,
                Err(missing_or_invalid) => {
                    let limit = Value::IncomeShare {
                        share: *share,
                        years: *years,
                    };
                    return fail(missing_or_invalid, limit);
                }
            };
            match principal_sum(
                &customer.exposure,
                limit.currency(),
                funded_by(*funder_kind),
            ) {
                Ok(total) => at_most(total, limit),
                Err(invalid) => fail(invalid, Value::Money(limit)),
            }
        }
        Condition::AllInAprMax { percent } => {
            let Some(loan) = &facts.loan else {
                return Outcome::Skipped;
            };
            if loan.all_in_apr_percent > *percent {
                fail(
                    Value::Percent(loan.all_in_apr_percent),
                    Value::Percent(*percent),
                )
            } else {
                Outcome::Pass
            }
        }
        Condition::NoStudents => {
            let Some(customer) = &facts.customer else {
                return Outcome::Skipped;
            };
            if customer.kind == CustomerKind::Individual && customer.student {
                fail(Value::Flag(true), Value::Flag(false))
            } else {
                Outcome::Pass
            }
        }
        Condition::BannedPurposes { purposes } => {
            let Some(loan) = &facts.loan else {
                return Outcome::Skipped;
            };
            if purposes.contains(&loan.purpose) {
                fail(
                    Value::Purpose(loan.purpose),
                    Value::Purposes(purposes.clone()),
                )
            } else {
                Outcome::Pass
            }
        }
        Condition::PlatformShareMin { share } => {
            let Some(colending) = &facts.colending else {
                return Outcome::Skipped;
            };
            if colending.platform_share < *share {
                fail(Value::Share(colending.platform_share), Value::Share(*share))
            } else {
                Outcome::Pass
            }
        }
        Condition::LeverageMax { funding, multiple } => {
            let Some(lender) = &facts.lender else {
                return Outcome::Skipped;
            };
            let observed = match funding {
                FundingKind::Borrowing => lender.borrowing,
                FundingKind::BondsAndAbs => lender.bonds_and_abs,
            };
            let net = lender.net_assets;
            if observed.currency() != net.currency() {
                let reason = format!(
                    "funding in {} against net assets in {}",
                    observed.currency(),
                    net.currency()
                );
                return fail(Value::Invalid(reason), Value::Money(net));
            }
            // Rounded down, so the cap is never above the exact multiple; negative net
            // assets allow no funding at all, not a negative amount.
            let cap_minor = (Decimal::from(net.amount_minor()) * multiple)
                .floor()
                .to_i64()
                .unwrap_or(i64::MAX)
                .max(0);
            at_most(observed, Money::from_minor(cap_minor, net.currency()))
        }
        Condition::AprDisclosureAccuracy => {
            let Some(disclosure) = &facts.disclosure else {
                return Outcome::Skipped;
            };
            let Some(apr) = &disclosure.apr else {
                return fail(
                    Value::Missing("disclosure.apr"),
                    Value::Fields(vec![DisclosureField::AnnualPercentageRate]),
                );
            };
            if within_disclosure_tolerance(apr.disclosed_percent, apr.actual_percent, apr.regular) {
                Outcome::Pass
            } else {
                let tolerance = if apr.regular {
                    REGULAR_TOLERANCE_PERCENT
                } else {
                    IRREGULAR_TOLERANCE_PERCENT
                };
                fail(
                    Value::Percent(apr.disclosed_percent),
                    Value::PercentWithin {
                        centre: apr.actual_percent,
                        tolerance,
                    },
                )
            }
        }
        Condition::DisclosureFields { fields } => {
            let Some(disclosure) = &facts.disclosure else {
                return Outcome::Skipped;
            };
            let missing: Vec<DisclosureField> = fields
                .iter()
                .filter(|field| !disclosure.fields_shown.contains(field))
                .copied()
                .collect();
            if missing.is_empty() {
                Outcome::Pass
            } else {
                fail(Value::Fields(missing), Value::Fields(fields.clone()))
            }
        }
        Condition::AnnualRateProminence => {
            let Some(disclosure) = &facts.disclosure else {
                return Outcome::Skipped;
            };
            if disclosure.annual_rate_at_least_as_prominent {
                Outcome::Pass
            } else {
                fail(Value::Flag(false), Value::Flag(true))
            }
        }
    }
}

/// `share` of the average declared income of the most recent `years` years among the
/// calendar years `on.year() − years ..= on.year()` (so a declaration for the current year
/// counts), rounded down to the minor unit so that the limit is never above the exact
/// fraction. Fewer declared years are averaged over those declared.
fn income_limit(
    history: &[crate::facts::AnnualIncome],
    share: Fraction,
    years: u32,
    on: BusinessDate,
) -> Result<Money, Value> {
    let years_i32 = i32::try_from(years).unwrap_or(i32::MAX);
    let first_year = on.year().saturating_sub(years_i32);
    let mut window: Vec<_> = history
        .iter()
        .filter(|income| (first_year..=on.year()).contains(&income.year))
        .collect();
    window.sort_by_key(|income| std::cmp::Reverse(income.year));
    window.truncate(years as usize);
    let Some(first) = window.first() else {
        return Err(Value::Missing("customer.income_history"));
    };
    let currency = first.amount.currency();
    let mut sum: i128 = 0;
    for (index, income) in window.iter().enumerate() {
        if index > 0 && window[index - 1].year == income.year {
            return Err(Value::Invalid(format!(
                "income for {} declared twice",
                income.year
            )));
        }
        if income.amount.currency() != currency {
            return Err(Value::Invalid(format!(
                "incomes in {currency} and {}",
                income.amount.currency()
            )));
        }
        sum += i128::from(income.amount.amount_minor());
    }
    let numerator = sum * i128::from(share.numerator);
    let denominator = i128::from(share.denominator) * window.len() as i128;
    let limit_minor = numerator.div_euclid(denominator);
    let limit_minor =
        i64::try_from(limit_minor).unwrap_or(if limit_minor < 0 { i64::MIN } else { i64::MAX });
    Ok(Money::from_minor(limit_minor, currency))
}
