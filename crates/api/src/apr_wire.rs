use crate::FieldError;
use money::{apr, BusinessDate, Currency, Decimal, Money, UnitPeriod};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashFlowWire {
    #[schema(example = "1978-01-10")]
    pub date: String,
    pub amount_minor: i64,
}

/// Cash flows of a credit, for its APR by the actuarial method of US Regulation Z
/// Appendix J (the IRR the PBOC also prescribes for annualized rate disclosure).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AprRequest {
    #[schema(example = "CNY")]
    pub currency: String,
    pub advances: Vec<CashFlowWire>,
    pub payments: Vec<CashFlowWire>,
    /// `month` (default), `semi_month`, `week`, `day`, `year` or `days:N`. With one advance
    /// and one payment the default is the term itself, as Appendix J (b)(4)(iii) says.
    pub unit_period: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AprResponse {
    /// Rounded half-up to two decimals, e.g. "9.69".
    pub apr_percent: String,
    pub apr_percent_unrounded: String,
    pub unit_period: String,
    pub method: String,
}

pub fn parse_unit_period(field: &str, s: &str) -> Result<UnitPeriod, FieldError> {
    Ok(match s {
        "month" => UnitPeriod::Month,
        "semi_month" => UnitPeriod::SemiMonth,
        "week" => UnitPeriod::Week,
        "day" => UnitPeriod::Day,
        "year" => UnitPeriod::Year,
        other => match other
            .strip_prefix("days:")
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(n) if (1..=365).contains(&n) => UnitPeriod::Days(n),
            _ => {
                return Err(FieldError::new(
                    field,
                    "must be month, semi_month, week, day, year or days:N (1–365)",
                ))
            }
        },
    })
}

fn unit_name(u: UnitPeriod) -> String {
    match u {
        UnitPeriod::Month => "month".into(),
        UnitPeriod::SemiMonth => "semi_month".into(),
        UnitPeriod::Week => "week".into(),
        UnitPeriod::Day => "day".into(),
        UnitPeriod::Year => "year".into(),
        UnitPeriod::Days(n) => format!("days:{n}"),
    }
}

pub type Flows = Vec<(BusinessDate, Money)>;

fn flows(field: &str, list: &[CashFlowWire], currency: Currency) -> Result<Flows, FieldError> {
    list.iter()
        .enumerate()
        .map(|(i, f)| {
            let date = f
                .date
                .parse::<BusinessDate>()
                .map_err(|e| FieldError::new(format!("{field}[{i}].date"), e.to_string()))?;
            if f.amount_minor <= 0 {
                return Err(FieldError::new(
                    format!("{field}[{i}].amount_minor"),
                    "must be positive",
                ));
            }
            Ok((date, Money::from_minor(f.amount_minor, currency)))
        })
        .collect()
}

impl AprRequest {
    pub fn parse(&self) -> Result<(Flows, Flows, Option<UnitPeriod>), FieldError> {
        let currency: Currency = self
            .currency
            .parse()
            .map_err(|_| FieldError::new("currency", "unknown ISO 4217 code"))?;
        let unit = self
            .unit_period
            .as_deref()
            .map(|u| parse_unit_period("unit_period", u))
            .transpose()?;
        Ok((
            flows("advances", &self.advances, currency)?,
            flows("payments", &self.payments, currency)?,
            unit,
        ))
    }
}

/// Computes the APR; the unit period defaults as [`AprRequest::unit_period`] says.
pub fn compute_apr(
    advances: &Flows,
    payments: &Flows,
    unit: Option<UnitPeriod>,
) -> Result<AprResponse, FieldError> {
    let unit = unit.unwrap_or_else(|| match (advances.as_slice(), payments.as_slice()) {
        ([(a, _)], [(p, _)]) => UnitPeriod::single_payment_term(*a, *p),
        _ => UnitPeriod::Month,
    });
    let unrounded: Decimal = apr::apr_percent_unrounded(advances, payments, unit)
        .map_err(|e| FieldError::new("payments", e.to_string()))?;
    let rounded = apr::apr_percent(advances, payments, unit)
        .map_err(|e| FieldError::new("payments", e.to_string()))?;
    Ok(AprResponse {
        apr_percent: format!("{rounded:.2}"),
        apr_percent_unrounded: unrounded.round_dp(6).to_string(),
        unit_period: unit_name(unit),
        method: "Regulation Z Appendix J actuarial".into(),
    })
}
