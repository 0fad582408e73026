use crate::FieldError;
use money::{apr, BusinessDate, Currency, Money, UnitPeriod};
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
    /// The unit-period to use, overriding the one Appendix J (b)(4) infers from the dates
    /// (the most frequent common period, the smaller of a tie; the term itself for one
    /// advance and one payment): `day`, `week`, `2week` … `52week`, `semimonth`, `month`,
    /// `2month`, `quarter`, `4month`, `5month`, `halfyear`, `7month` … `11month`, `year`, or
    /// `Nday` (2–365) for a term of N days. `semi_month` and `days:N` are read as well.
    #[schema(example = "2week")]
    pub unit_period: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AprResponse {
    /// Rounded half-up to two decimals, e.g. "9.69".
    pub apr_percent: String,
    pub apr_percent_unrounded: String,
    /// The unit-period used, in the names `unit_period` takes, e.g. `month` or `2week`.
    pub unit_period: String,
    /// True when the unit-period was inferred from the dates, false when it was given.
    pub unit_period_inferred: bool,
    /// Unit-periods in a year (12 for a month, 26 for two weeks, 365/N for N days).
    pub unit_periods_per_year: String,
    pub method: String,
}

pub fn parse_unit_period(field: &str, s: &str) -> Result<UnitPeriod, FieldError> {
    s.parse::<UnitPeriod>()
        .map_err(|e| FieldError::new(field, e.to_string()))
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

/// Computes the APR with the given unit-period, or the one Appendix J (b)(4) infers.
pub fn compute_apr(
    advances: &Flows,
    payments: &Flows,
    unit: Option<UnitPeriod>,
) -> Result<AprResponse, FieldError> {
    let field = if unit.is_some() {
        "unit_period"
    } else {
        "payments"
    };
    let result = apr::annual_percentage_rate(advances, payments, unit).map_err(|e| match e {
        apr::AprError::BadUnitPeriod(_) => FieldError::new(field, e.to_string()),
        _ => FieldError::new("payments", e.to_string()),
    })?;
    let per_year = result
        .unit_period
        .periods_per_year()
        .map_err(|e| FieldError::new(field, e.to_string()))?;
    Ok(AprResponse {
        apr_percent: format!("{:.2}", result.percent),
        apr_percent_unrounded: result.percent_unrounded.round_dp(6).to_string(),
        unit_period: result.unit_period.to_string(),
        unit_period_inferred: unit.is_none(),
        unit_periods_per_year: per_year.round_dp(6).normalize().to_string(),
        method: "Regulation Z Appendix J actuarial".into(),
    })
}
