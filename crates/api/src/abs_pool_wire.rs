//! A deal's pool on the wire: loans (a loan tape's rows), or a projected collection table;
//! and the CPR/CDR/severity/lag scenario a pool of loans is projected under.

use crate::abs_wire::parse_decimal;
use crate::FieldError;
use abs::{Amortization, Assumptions, Collections, DefaultRate, IndexRate, PoolCohort, Prepayment};
use money::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Loans of a pool in one request or tape.
pub const POOL_LOANS_MAX: usize = 1_000_000;
/// Rows of a collection table, periods of a projection.
pub const PERIODS_MAX: usize = 720;
/// Index fixings given for one period.
const FIXINGS_MAX: usize = 50;
/// The longest remaining term a loan may have, in months.
pub const TERM_MONTHS_MAX: u32 = 600;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AmortizationWire {
    /// 等额本息, the default.
    #[default]
    LevelPayment,
    /// 等额本金.
    EqualPrincipal,
    /// Interest only, principal at maturity.
    Bullet,
}

impl AmortizationWire {
    pub fn domain(self) -> Amortization {
        match self {
            AmortizationWire::LevelPayment => Amortization::LevelPayment,
            AmortizationWire::EqualPrincipal => Amortization::EqualPrincipal,
            AmortizationWire::Bullet => Amortization::Bullet,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AmortizationWire::LevelPayment => "level_payment",
            AmortizationWire::EqualPrincipal => "equal_principal",
            AmortizationWire::Bullet => "bullet",
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<AmortizationWire, FieldError> {
        match text.trim() {
            "" | "level_payment" => Ok(AmortizationWire::LevelPayment),
            "equal_principal" => Ok(AmortizationWire::EqualPrincipal),
            "bullet" => Ok(AmortizationWire::Bullet),
            other => Err(FieldError::new(
                field,
                format!("must be level_payment, equal_principal or bullet, got {other:?}"),
            )),
        }
    }
}

/// One loan of the pool (or several equal loans summed).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PoolLoanWire {
    pub loan_id: Option<String>,
    /// Outstanding principal at the cut-off date.
    pub balance_minor: i64,
    /// The annual interest rate, e.g. "0.1499".
    pub annual_rate: String,
    pub remaining_term_months: u32,
    /// Months since origination (seasoning).
    #[serde(default)]
    pub age_months: u32,
    #[serde(default)]
    pub amortization: AmortizationWire,
}

/// An index fixing, e.g. `{"index": "LPR1Y", "rate": "0.031"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IndexRateWire {
    pub index: String,
    pub rate: String,
}

/// What the pool produced in one payment period.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CollectionsWire {
    /// The period's payment date; default the deal's next one.
    pub payment_date: Option<String>,
    pub interest_minor: i64,
    /// Scheduled and prepaid principal of performing loans.
    pub principal_minor: i64,
    /// Cash recovered on loans that defaulted earlier.
    #[serde(default)]
    pub recovery_minor: i64,
    /// Balance of loans that defaulted in the period.
    #[serde(default)]
    pub new_default_minor: i64,
    /// Exercise the clean-up call on this date.
    #[serde(default)]
    pub exercise_call: bool,
    /// Fixings for the floating bonds that reset on this date.
    #[serde(default)]
    pub index_rates: Vec<IndexRateWire>,
}

/// A pool: `loans` (projected under the scenario) or `collections` (a projected or
/// observed collection table, one row per payment period), not both.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolWire {
    #[serde(default)]
    pub loans: Vec<PoolLoanWire>,
    #[serde(default)]
    pub collections: Vec<CollectionsWire>,
}

/// Prepayment (at most one of `cpr`, `smm`, `psa`) and default (at most one of `cdr`,
/// `mdr`, `sda`) assumptions; rates are fractions ("0.1" is 10 %), PSA and SDA speeds
/// multiples of the standard curve ("1.5" is 150 %). Annual rates become per-period rates
/// as `1 − (1 − r)^(days/365)`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioWire {
    pub cpr: Option<String>,
    pub smm: Option<String>,
    pub psa: Option<String>,
    pub cdr: Option<String>,
    pub mdr: Option<String>,
    pub sda: Option<String>,
    /// Fraction of a defaulted balance lost at liquidation (default "0").
    pub severity: Option<String>,
    /// Months from default to liquidation.
    #[serde(default)]
    pub recovery_lag_months: u32,
    /// Whether the servicer advances principal and interest on defaulted loans.
    #[serde(default)]
    pub advanced: bool,
}

fn fraction(field: &str, text: &str) -> Result<Decimal, FieldError> {
    let d = parse_decimal(field, text)?;
    if d < Decimal::ZERO || d > Decimal::ONE {
        return Err(FieldError::refused(
            field,
            format!("{d} is not between 0 and 1 (a fraction: \"0.1\" is 10 %)"),
            "out_of_range",
        ));
    }
    Ok(d)
}

fn speed(field: &str, text: &str) -> Result<Decimal, FieldError> {
    let d = parse_decimal(field, text)?;
    if d < Decimal::ZERO || d > Decimal::from(100) {
        return Err(FieldError::refused(
            field,
            format!("{d} is not a speed between 0 and 100"),
            "out_of_range",
        ));
    }
    Ok(d)
}

fn one_of<'a>(
    prefix: &str,
    options: [(&'static str, &'a Option<String>); 3],
) -> Result<Option<(&'static str, &'a str)>, FieldError> {
    let given: Vec<(&'static str, &'a str)> = options
        .iter()
        .filter_map(|(n, v)| v.as_deref().map(|v| (*n, v)))
        .collect();
    if given.len() > 1 {
        return Err(FieldError::new(
            format!("{prefix}{}", given[1].0),
            format!("give at most one of {}", options.map(|o| o.0).join(", ")),
        ));
    }
    Ok(given.first().copied())
}

impl ScenarioWire {
    /// The domain's assumptions; `prefix` is the scenario's JSON path with its dot.
    pub fn parse(&self, prefix: &str) -> Result<Assumptions, FieldError> {
        let f = |name: &str| format!("{prefix}{name}");
        let prepayment = match one_of(
            prefix,
            [("cpr", &self.cpr), ("smm", &self.smm), ("psa", &self.psa)],
        )? {
            None => Prepayment::Smm(Decimal::ZERO),
            Some(("cpr", v)) => Prepayment::Cpr(fraction(&f("cpr"), v)?),
            Some(("smm", v)) => Prepayment::Smm(fraction(&f("smm"), v)?),
            Some((_, v)) => Prepayment::Psa(speed(&f("psa"), v)?),
        };
        let default = match one_of(
            prefix,
            [("cdr", &self.cdr), ("mdr", &self.mdr), ("sda", &self.sda)],
        )? {
            None => DefaultRate::Mdr(Decimal::ZERO),
            Some(("cdr", v)) => DefaultRate::Cdr(fraction(&f("cdr"), v)?),
            Some(("mdr", v)) => DefaultRate::Mdr(fraction(&f("mdr"), v)?),
            Some((_, v)) => DefaultRate::Sda(speed(&f("sda"), v)?),
        };
        let severity = match &self.severity {
            Some(s) => fraction(&f("severity"), s)?,
            None => Decimal::ZERO,
        };
        if self.recovery_lag_months > TERM_MONTHS_MAX {
            return Err(FieldError::new(
                f("recovery_lag_months"),
                format!("at most {TERM_MONTHS_MAX}"),
            ));
        }
        Ok(Assumptions {
            prepayment,
            default,
            severity,
            recovery_lag_months: self.recovery_lag_months,
            advanced: self.advanced,
        })
    }
}

impl PoolLoanWire {
    /// The loan as a one-loan cohort; `at` is its JSON path with a trailing dot.
    pub fn cohort(&self, at: &str) -> Result<PoolCohort, FieldError> {
        if self.balance_minor < 0 || self.balance_minor > crate::abs_wire::DEAL_AMOUNT_MINOR_MAX {
            return Err(FieldError::new(
                format!("{at}balance_minor"),
                "must be between 0 and 10^15",
            ));
        }
        if self.remaining_term_months == 0 || self.remaining_term_months > TERM_MONTHS_MAX {
            return Err(FieldError::new(
                format!("{at}remaining_term_months"),
                format!("must be 1 to {TERM_MONTHS_MAX}"),
            ));
        }
        if self.age_months > TERM_MONTHS_MAX {
            return Err(FieldError::new(
                format!("{at}age_months"),
                format!("at most {TERM_MONTHS_MAX}"),
            ));
        }
        Ok(PoolCohort {
            balance_minor: self.balance_minor,
            wac: fraction(&format!("{at}annual_rate"), &self.annual_rate)?,
            remaining_term_months: self.remaining_term_months,
            age_months: self.age_months,
            amortization: self.amortization.domain(),
        })
    }
}

/// One row of a collection table as the domain takes it.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectionRow {
    pub payment_date: Option<money::BusinessDate>,
    pub collections: Collections,
    pub exercise_call: bool,
    pub index_rates: Vec<IndexRate>,
}

impl CollectionsWire {
    pub fn parse(&self, at: &str) -> Result<CollectionRow, FieldError> {
        for (name, v) in [
            ("interest_minor", self.interest_minor),
            ("principal_minor", self.principal_minor),
            ("recovery_minor", self.recovery_minor),
            ("new_default_minor", self.new_default_minor),
        ] {
            if !(0..=crate::abs_wire::DEAL_AMOUNT_MINOR_MAX).contains(&v) {
                return Err(FieldError::new(
                    format!("{at}{name}"),
                    "must be between 0 and 10^15",
                ));
            }
        }
        Ok(CollectionRow {
            payment_date: self
                .payment_date
                .as_deref()
                .map(|d| crate::abs_wire::parse_deal_date(&format!("{at}payment_date"), d))
                .transpose()?,
            collections: Collections {
                interest_minor: self.interest_minor,
                principal_minor: self.principal_minor,
                recovery_minor: self.recovery_minor,
                new_default_minor: self.new_default_minor,
            },
            exercise_call: self.exercise_call,
            index_rates: index_rates(&format!("{at}index_rates"), &self.index_rates)?,
        })
    }
}

/// Fixings, each rate a decimal string.
pub fn index_rates(field: &str, list: &[IndexRateWire]) -> Result<Vec<IndexRate>, FieldError> {
    if list.len() > FIXINGS_MAX {
        return Err(FieldError::new(
            field,
            format!("at most {FIXINGS_MAX} fixings"),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(k, r)| {
            let rate = parse_decimal(&format!("{field}[{k}].rate"), &r.rate)?;
            if rate.abs() > Decimal::ONE {
                return Err(FieldError::refused(
                    format!("{field}[{k}].rate"),
                    "an index rate must be between -1 and 1",
                    "out_of_range",
                ));
            }
            Ok(IndexRate {
                index: r.index.clone(),
                rate,
            })
        })
        .collect()
}

/// The pool's input to a run.
#[derive(Clone, Debug, PartialEq)]
pub enum PoolInput {
    Loans(Vec<PoolCohort>),
    Collections(Vec<CollectionRow>),
}

impl PoolWire {
    /// `prefix` is the pool's JSON path with its dot (`pool.`).
    pub fn parse(&self, prefix: &str) -> Result<PoolInput, FieldError> {
        match (self.loans.is_empty(), self.collections.is_empty()) {
            (false, true) => {
                if self.loans.len() > POOL_LOANS_MAX {
                    return Err(FieldError::new(
                        format!("{prefix}loans"),
                        format!("at most {POOL_LOANS_MAX} loans"),
                    ));
                }
                let cohorts = self
                    .loans
                    .iter()
                    .enumerate()
                    .map(|(i, l)| l.cohort(&format!("{prefix}loans[{i}].")))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(PoolInput::Loans(cohorts))
            }
            (true, false) => {
                if self.collections.len() > PERIODS_MAX {
                    return Err(FieldError::new(
                        format!("{prefix}collections"),
                        format!("at most {PERIODS_MAX} periods"),
                    ));
                }
                let rows = self
                    .collections
                    .iter()
                    .enumerate()
                    .map(|(i, c)| c.parse(&format!("{prefix}collections[{i}].")))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(PoolInput::Collections(rows))
            }
            _ => Err(FieldError::new(
                prefix.trim_end_matches('.'),
                "give either loans or collections, not both or neither",
            )),
        }
    }
}
