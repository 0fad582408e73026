//! Features from raw sources: an application, a bureau report and behaviour histories.
//!
//! A [`FeatureDef`] list is declarative (the shell deserializes it from TOML or JSON) and the
//! same [`compute`] runs in the training export and at decision time, so a model never sees a
//! feature computed two ways. Time windows are relative to the decision date, which is an
//! argument: nothing here reads a clock.

use money::BusinessDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bounds on what one applicant may send; a longer history is refused, not truncated.
pub const HISTORY_ROWS_MAX: usize = 5_000;
pub const ATTRIBUTES_MAX: usize = 200;
pub const TEXT_LEN_MAX: usize = 200;

/// A raw attribute value: a number or a category label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Number(f64),
    Text(String),
}

/// Everything a decision reads about one applicant. Field order is the canonical order the
/// shell hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    pub applicant_id: String,
    /// The decision date `YYYY-MM-DD`; windows count back from it.
    pub as_of: String,
    pub application: Application,
    pub bureau: Bureau,
    pub behaviour: Behaviour,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub age: u32,
    pub monthly_income_minor: i64,
    pub purpose: String,
    pub student: bool,
    pub requested_minor: i64,
    pub term_months: u32,
    /// Present for small-business applicants.
    pub enterprise: Option<Enterprise>,
    /// Further raw fields a model reads by name (e.g. German credit's checking account status).
    pub attributes: BTreeMap<String, Scalar>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enterprise {
    pub registered_on: String,
    pub employees: u32,
    pub industry: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bureau {
    pub open_loans: u32,
    pub inquiries_6m: u32,
    pub max_dpd_24m: u32,
    pub outstanding_minor: i64,
    pub blacklisted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    pub transactions: Vec<Transaction>,
    pub repayments: Vec<Repayment>,
    /// Monthly merchant sales, for small-business applicants.
    pub sales: Vec<MonthlySales>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    pub date: String,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repayment {
    pub due_date: String,
    pub dpd: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthlySales {
    /// First day of the month.
    pub month: String,
    pub revenue_minor: i64,
    pub refunds_minor: i64,
}

/// An input that cannot be used, with the JSON path of the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    pub field: String,
    pub message: String,
}

impl InputError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> InputError {
        InputError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A time series in the behaviour data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Series {
    TransactionAmount,
    RepaymentDpd,
    SalesRevenue,
    SalesRefunds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Count,
    Sum,
    Max,
    Mean,
}

/// Where a feature's value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A field by path: `application.age`, `bureau.open_loans`,
    /// `application.attributes.<name>`, `application.enterprise.employees`, …
    Field { path: String },
    /// An aggregate of a series over the `window_days` before the decision date (the
    /// decision date itself excluded, so a same-day event cannot leak into training rows).
    Window {
        series: Series,
        aggregate: Aggregate,
        window_days: u32,
    },
    /// Days from a date field to the decision date (e.g. enterprise tenure).
    DaysSince { path: String },
    /// `numerator / denominator`; missing when the denominator is 0.
    Ratio {
        numerator: Box<Source>,
        denominator: Box<Source>,
    },
    /// `source × factor` (e.g. minor units to the major units a model was trained on).
    Scale { source: Box<Source>, factor: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureDef {
    pub name: String,
    pub source: Source,
}

/// A computed feature value; `Missing` is a value (an empty window's mean), not an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Number(f64),
    Text(String),
    Missing,
}

pub fn parse_date(field: &str, text: &str) -> Result<BusinessDate, InputError> {
    text.parse::<BusinessDate>()
        .map_err(|_| InputError::new(field, format!("`{text}` is not a date YYYY-MM-DD")))
}

/// Checks the limits and dates of an input once, so feature code can trust it.
pub fn check_input(input: &DecisionInput) -> Result<BusinessDate, InputError> {
    let as_of = parse_date("as_of", &input.as_of)?;
    let texts = [
        ("applicant_id", &input.applicant_id),
        ("application.purpose", &input.application.purpose),
    ];
    for (field, text) in texts {
        if text.is_empty() || text.len() > TEXT_LEN_MAX {
            return Err(InputError::new(
                field,
                format!("must be 1 to {TEXT_LEN_MAX} bytes"),
            ));
        }
    }
    if input.application.attributes.len() > ATTRIBUTES_MAX {
        return Err(InputError::new(
            "application.attributes",
            format!("at most {ATTRIBUTES_MAX} attributes"),
        ));
    }
    let b = &input.behaviour;
    for (field, n) in [
        ("behaviour.transactions", b.transactions.len()),
        ("behaviour.repayments", b.repayments.len()),
        ("behaviour.sales", b.sales.len()),
    ] {
        if n > HISTORY_ROWS_MAX {
            return Err(InputError::new(
                field,
                format!("at most {HISTORY_ROWS_MAX} rows"),
            ));
        }
    }
    for (i, t) in b.transactions.iter().enumerate() {
        parse_date(&format!("behaviour.transactions[{i}].date"), &t.date)?;
    }
    for (i, r) in b.repayments.iter().enumerate() {
        parse_date(&format!("behaviour.repayments[{i}].due_date"), &r.due_date)?;
    }
    for (i, s) in b.sales.iter().enumerate() {
        parse_date(&format!("behaviour.sales[{i}].month"), &s.month)?;
    }
    if let Some(e) = &input.application.enterprise {
        parse_date("application.enterprise.registered_on", &e.registered_on)?;
    }
    Ok(as_of)
}

/// Computes every feature of `defs`, in order.
pub fn compute(defs: &[FeatureDef], input: &DecisionInput) -> Result<Vec<Value>, InputError> {
    let as_of = check_input(input)?;
    defs.iter().map(|d| eval(&d.source, input, as_of)).collect()
}

fn eval(source: &Source, input: &DecisionInput, as_of: BusinessDate) -> Result<Value, InputError> {
    match source {
        Source::Field { path } => field(input, path),
        Source::Window {
            series,
            aggregate,
            window_days,
        } => Ok(window(input, *series, *aggregate, *window_days, as_of)),
        Source::DaysSince { path } => match field(input, path)? {
            Value::Text(t) => {
                let d = parse_date(path, &t)?;
                Ok(Value::Number(d.days_until(as_of) as f64))
            }
            Value::Missing => Ok(Value::Missing),
            Value::Number(_) => Err(InputError::new(path, "expected a date")),
        },
        Source::Ratio {
            numerator,
            denominator,
        } => {
            let n = eval(numerator, input, as_of)?;
            let d = eval(denominator, input, as_of)?;
            Ok(match (n, d) {
                (Value::Number(n), Value::Number(d)) if d != 0.0 => Value::Number(n / d),
                _ => Value::Missing,
            })
        }
        Source::Scale { source, factor } => Ok(match eval(source, input, as_of)? {
            Value::Number(x) => Value::Number(x * factor),
            other => other,
        }),
    }
}

fn field(input: &DecisionInput, path: &str) -> Result<Value, InputError> {
    let a = &input.application;
    let b = &input.bureau;
    let num = |x: f64| Ok(Value::Number(x));
    if let Some(name) = path.strip_prefix("application.attributes.") {
        return match a.attributes.get(name) {
            Some(Scalar::Number(x)) => num(*x),
            Some(Scalar::Text(t)) => Ok(Value::Text(t.clone())),
            None => Err(InputError::new(
                path,
                "missing; the model reads this feature",
            )),
        };
    }
    if let Some(rest) = path.strip_prefix("application.enterprise.") {
        let Some(e) = &a.enterprise else {
            return Ok(Value::Missing);
        };
        return match rest {
            "registered_on" => Ok(Value::Text(e.registered_on.clone())),
            "employees" => num(f64::from(e.employees)),
            "industry" => Ok(Value::Text(e.industry.clone())),
            _ => Err(InputError::new(path, "no such input field")),
        };
    }
    match path {
        "application.age" => num(f64::from(a.age)),
        "application.monthly_income_minor" => num(a.monthly_income_minor as f64),
        "application.purpose" => Ok(Value::Text(a.purpose.clone())),
        "application.student" => num(f64::from(u8::from(a.student))),
        "application.requested_minor" => num(a.requested_minor as f64),
        "application.term_months" => num(f64::from(a.term_months)),
        "bureau.open_loans" => num(f64::from(b.open_loans)),
        "bureau.inquiries_6m" => num(f64::from(b.inquiries_6m)),
        "bureau.max_dpd_24m" => num(f64::from(b.max_dpd_24m)),
        "bureau.outstanding_minor" => num(b.outstanding_minor as f64),
        "bureau.blacklisted" => num(f64::from(u8::from(b.blacklisted))),
        _ => Err(InputError::new(path, "no such input field")),
    }
}

/// Whether a path names an input field (for validating a feature spec when it is loaded).
pub fn check_source(source: &Source) -> Result<(), String> {
    match source {
        Source::Field { path } | Source::DaysSince { path } => {
            let probe = DecisionInput::probe();
            match field(&probe, path) {
                Err(e) if e.message == "no such input field" => {
                    Err(format!("unknown path `{path}`"))
                }
                _ => Ok(()),
            }
        }
        Source::Window { window_days, .. } if *window_days == 0 || *window_days > 3_660 => {
            Err(format!("window_days {window_days} is outside 1..=3660"))
        }
        Source::Window { .. } => Ok(()),
        Source::Ratio {
            numerator,
            denominator,
        } => check_source(numerator).and(check_source(denominator)),
        Source::Scale { source, factor } if factor.is_finite() => check_source(source),
        Source::Scale { .. } => Err("scale factor must be finite".into()),
    }
}

impl DecisionInput {
    fn probe() -> DecisionInput {
        DecisionInput {
            applicant_id: "probe".into(),
            as_of: "2000-01-01".into(),
            application: Application {
                age: 0,
                monthly_income_minor: 0,
                purpose: String::new(),
                student: false,
                requested_minor: 0,
                term_months: 0,
                enterprise: None,
                attributes: BTreeMap::new(),
            },
            bureau: Bureau {
                open_loans: 0,
                inquiries_6m: 0,
                max_dpd_24m: 0,
                outstanding_minor: 0,
                blacklisted: false,
            },
            behaviour: Behaviour {
                transactions: vec![],
                repayments: vec![],
                sales: vec![],
            },
        }
    }
}

fn window(
    input: &DecisionInput,
    series: Series,
    aggregate: Aggregate,
    window_days: u32,
    as_of: BusinessDate,
) -> Value {
    let in_window = |date: &str| {
        // Dates were checked by `check_input`.
        let d: BusinessDate = date.parse().expect("checked date");
        let age = d.days_until(as_of);
        age >= 1 && age <= i64::from(window_days)
    };
    let b = &input.behaviour;
    let values: Vec<f64> = match series {
        Series::TransactionAmount => b
            .transactions
            .iter()
            .filter(|t| in_window(&t.date))
            .map(|t| t.amount_minor as f64)
            .collect(),
        Series::RepaymentDpd => b
            .repayments
            .iter()
            .filter(|r| in_window(&r.due_date))
            .map(|r| f64::from(r.dpd))
            .collect(),
        Series::SalesRevenue => b
            .sales
            .iter()
            .filter(|s| in_window(&s.month))
            .map(|s| s.revenue_minor as f64)
            .collect(),
        Series::SalesRefunds => b
            .sales
            .iter()
            .filter(|s| in_window(&s.month))
            .map(|s| s.refunds_minor as f64)
            .collect(),
    };
    match aggregate {
        Aggregate::Count => Value::Number(values.len() as f64),
        Aggregate::Sum => Value::Number(values.iter().sum()),
        Aggregate::Max if values.is_empty() => Value::Missing,
        Aggregate::Max => Value::Number(values.iter().copied().fold(f64::MIN, f64::max)),
        Aggregate::Mean if values.is_empty() => Value::Missing,
        Aggregate::Mean => Value::Number(values.iter().sum::<f64>() / values.len() as f64),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn input() -> DecisionInput {
        let mut i = DecisionInput::probe();
        i.applicant_id = "a-1".into();
        i.as_of = "2026-06-30".into();
        i.application.age = 35;
        i.application.monthly_income_minor = 1_200_000;
        i.application.purpose = "car (new)".into();
        i.application.requested_minor = 500_000;
        i.application.term_months = 12;
        i.behaviour.transactions = vec![
            Transaction {
                date: "2026-06-29".into(),
                amount_minor: 100,
            },
            Transaction {
                date: "2026-06-01".into(),
                amount_minor: 300,
            },
            Transaction {
                date: "2026-06-30".into(),
                amount_minor: 9_999,
            },
            Transaction {
                date: "2025-01-01".into(),
                amount_minor: 7,
            },
        ];
        i.behaviour.sales = vec![
            MonthlySales {
                month: "2026-05-01".into(),
                revenue_minor: 1_000,
                refunds_minor: 50,
            },
            MonthlySales {
                month: "2026-04-01".into(),
                revenue_minor: 3_000,
                refunds_minor: 150,
            },
        ];
        i
    }

    fn def(name: &str, json: &str) -> FeatureDef {
        FeatureDef {
            name: name.into(),
            source: serde_json::from_str(json).unwrap(),
        }
    }

    #[test]
    fn windows_exclude_the_decision_day_and_older_rows() {
        let defs = [
            def(
                "n30",
                r#"{"from":"window","series":"transaction_amount","aggregate":"count","window_days":30}"#,
            ),
            def(
                "s30",
                r#"{"from":"window","series":"transaction_amount","aggregate":"sum","window_days":30}"#,
            ),
            def(
                "max30",
                r#"{"from":"window","series":"transaction_amount","aggregate":"max","window_days":30}"#,
            ),
            def(
                "dpd",
                r#"{"from":"window","series":"repayment_dpd","aggregate":"max","window_days":365}"#,
            ),
            def(
                "refund_rate",
                r#"{"from":"ratio","numerator":{"from":"window","series":"sales_refunds","aggregate":"sum","window_days":90},"denominator":{"from":"window","series":"sales_revenue","aggregate":"sum","window_days":90}}"#,
            ),
            def(
                "income",
                r#"{"from":"scale","factor":0.01,"source":{"from":"field","path":"application.monthly_income_minor"}}"#,
            ),
        ];
        let v = compute(&defs, &input()).unwrap();
        assert_eq!(
            v,
            vec![
                Value::Number(2.0),
                Value::Number(400.0),
                Value::Number(300.0),
                Value::Missing,
                Value::Number(0.05),
                Value::Number(12_000.0),
            ]
        );
    }

    #[test]
    fn errors_name_the_field() {
        let defs = [def(
            "x",
            r#"{"from":"field","path":"application.attributes.savings"}"#,
        )];
        let e = compute(&defs, &input()).unwrap_err();
        assert_eq!(e.field, "application.attributes.savings");
        let mut bad = input();
        bad.behaviour.transactions[1].date = "2026-13-01".into();
        let e = compute(&[], &bad).unwrap_err();
        assert_eq!(e.field, "behaviour.transactions[1].date");
        assert!(check_source(&Source::Field {
            path: "application.nope".into()
        })
        .is_err());
        assert!(check_source(&Source::Field {
            path: "application.attributes.anything".into()
        })
        .is_ok());
    }
}
