//! Customers: the request that registers an individual or an enterprise, the response
//! (personal data masked unless revealed), pages and exposure.
//!
//! The request types hold personal data in plaintext: they derive no `Debug`, so that no
//! log line can print them.

use crate::FieldError;
use engine::customers::{
    CustomerView, Exposure, NewCustomer, NewEnterprise, NewIndividual, Profile,
};
use engine::revolving::BorrowerKind;
use money::Currency;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerRequest {
    /// Defaults to the Idempotency-Key.
    pub id: Option<Uuid>,
    /// `individual` or `enterprise`.
    pub kind: String,
    pub name: String,
    /// Six digits (GB/T 2260).
    pub region_code: String,
    /// Of the income, capital and revenue amounts.
    pub currency: String,
    /// Individual: the resident identity number (GB 11643, 18 characters, check character
    /// verified).
    pub id_number: Option<String>,
    /// Individual: a mobile or landline number.
    pub phone: Option<String>,
    /// Individual, optional: a bank card number for repayments.
    pub bank_card: Option<String>,
    /// Individual: `YYYY-MM-DD`, not after the business date, equal to the identity
    /// number's.
    pub birth_date: Option<String>,
    /// Individual.
    pub occupation: Option<String>,
    /// Individual: whether the customer is a student (no lending under the China pack).
    pub student: Option<bool>,
    /// Individual: declared annual income.
    pub annual_income_minor: Option<i64>,
    /// Enterprise: the unified social credit code (GB 32100, check character verified).
    pub credit_code: Option<String>,
    /// Enterprise: industry code (GB/T 4754).
    pub industry_code: Option<String>,
    pub registered_capital_minor: Option<i64>,
    pub annual_revenue_minor: Option<i64>,
    /// Enterprise: an individual customer of the same tenant.
    pub legal_representative_id: Option<Uuid>,
}

fn need<T: Clone>(field: &str, v: &Option<T>) -> Result<T, FieldError> {
    v.clone()
        .ok_or_else(|| FieldError::new(field, "is required for this kind of customer"))
}

fn refuse<T>(field: &str, v: &Option<T>) -> Result<(), FieldError> {
    match v {
        Some(_) => Err(FieldError::new(
            field,
            "does not apply to this kind of customer",
        )),
        None => Ok(()),
    }
}

impl CustomerRequest {
    pub fn parse(&self) -> Result<NewCustomer, FieldError> {
        crate::check_name("name", &self.name, 200)?;
        let currency: Currency = self
            .currency
            .parse()
            .map_err(|_| FieldError::new("currency", "must be an ISO 4217 code we support"))?;
        match self.kind.as_str() {
            "individual" => {
                refuse("credit_code", &self.credit_code)?;
                refuse("industry_code", &self.industry_code)?;
                refuse("registered_capital_minor", &self.registered_capital_minor)?;
                refuse("annual_revenue_minor", &self.annual_revenue_minor)?;
                refuse("legal_representative_id", &self.legal_representative_id)?;
                let birth = need("birth_date", &self.birth_date)?;
                Ok(NewCustomer::Individual(NewIndividual {
                    name: self.name.clone(),
                    id_number: need("id_number", &self.id_number)?,
                    phone: need("phone", &self.phone)?,
                    bank_card: self.bank_card.clone(),
                    birth_date: crate::parse_date("birth_date", &birth)?,
                    region_code: self.region_code.clone(),
                    occupation: need("occupation", &self.occupation)?,
                    student: need("student", &self.student)?,
                    currency,
                    annual_income_minor: need("annual_income_minor", &self.annual_income_minor)?,
                }))
            }
            "enterprise" => {
                refuse("id_number", &self.id_number)?;
                refuse("phone", &self.phone)?;
                refuse("bank_card", &self.bank_card)?;
                refuse("birth_date", &self.birth_date)?;
                refuse("occupation", &self.occupation)?;
                refuse("student", &self.student)?;
                refuse("annual_income_minor", &self.annual_income_minor)?;
                Ok(NewCustomer::Enterprise(NewEnterprise {
                    name: self.name.clone(),
                    credit_code: need("credit_code", &self.credit_code)?,
                    industry_code: need("industry_code", &self.industry_code)?,
                    region_code: self.region_code.clone(),
                    currency,
                    registered_capital_minor: need(
                        "registered_capital_minor",
                        &self.registered_capital_minor,
                    )?,
                    annual_revenue_minor: need("annual_revenue_minor", &self.annual_revenue_minor)?,
                    legal_representative_id: need(
                        "legal_representative_id",
                        &self.legal_representative_id,
                    )?,
                }))
            }
            _ => Err(FieldError::new("kind", "must be individual or enterprise")),
        }
    }
}

/// A customer. Name, identity number, phone and bank card are masked
/// (`110***********1234`) unless `revealed`.
#[derive(Clone, Serialize, ToSchema)]
pub struct CustomerResponse {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub created_on: String,
    /// False for a borrower registered through `/v1/borrowers`, which has a kind and a
    /// name only.
    pub verified: bool,
    /// Whether the personal data below is in plaintext (an audited read).
    pub revealed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_card: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occupation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annual_income_minor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_capital_minor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annual_revenue_minor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_representative_id: Option<Uuid>,
}

impl CustomerResponse {
    /// The response for `view`, with personal data in plaintext only when `reveal`.
    pub fn of(view: &CustomerView, reveal: bool) -> CustomerResponse {
        let show = |p: &Option<vault::Plaintext>| {
            p.as_ref().map(|p| {
                if reveal {
                    p.expose().to_owned()
                } else {
                    p.masked()
                }
            })
        };
        let d = &view.doc;
        let mut r = CustomerResponse {
            id: d.id,
            kind: match d.kind {
                BorrowerKind::Individual => "individual",
                BorrowerKind::Enterprise => "enterprise",
            }
            .into(),
            name: show(&view.name).unwrap_or_else(|| d.name.clone()),
            created_on: d.created_on.to_string(),
            verified: d.profile.is_some(),
            revealed: reveal && d.profile.is_some(),
            id_number: show(&view.id_number),
            phone: show(&view.phone),
            bank_card: show(&view.bank_card),
            birth_date: None,
            region_code: None,
            occupation: None,
            student: None,
            currency: None,
            annual_income_minor: None,
            credit_code: None,
            industry_code: None,
            registered_capital_minor: None,
            annual_revenue_minor: None,
            legal_representative_id: None,
        };
        match &d.profile {
            Some(Profile::Individual(p)) => {
                r.birth_date = Some(p.birth_date.to_string());
                r.region_code = Some(p.region_code.clone());
                r.occupation = Some(p.occupation.clone());
                r.student = Some(p.student);
                r.currency = Some(p.currency.code().into());
                r.annual_income_minor = Some(p.annual_income_minor);
            }
            Some(Profile::Enterprise(p)) => {
                r.credit_code = Some(p.credit_code.clone());
                r.industry_code = Some(p.industry_code.clone());
                r.region_code = Some(p.region_code.clone());
                r.currency = Some(p.currency.code().into());
                r.registered_capital_minor = Some(p.registered_capital_minor);
                r.annual_revenue_minor = Some(p.annual_revenue_minor);
                r.legal_representative_id = Some(p.legal_representative_id);
            }
            None => {}
        }
        r
    }
}

#[derive(Clone, Serialize, ToSchema)]
pub struct CustomerPage {
    pub items: Vec<CustomerResponse>,
    pub next_cursor: Option<String>,
}

/// `GET /v1/customers/{id}`: plaintext is for operators, with a reason, and is audited.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RevealQuery {
    /// `true` to read personal data in plaintext (operators only; audited).
    pub reveal: Option<bool>,
    /// Why the plaintext is needed (a ticket, a complaint number); required with `reveal`.
    pub reason: Option<String>,
}

/// `GET /v1/customers`: a page, or the customer with one identity number.
#[derive(Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CustomerListQuery {
    /// Finds the customer with this identity number by its blind index (no scan).
    pub id_number: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
}

#[derive(Clone, Serialize, ToSchema)]
pub struct ExposureItemResponse {
    /// `term_loan` or `credit_line`.
    pub product: String,
    pub id: Uuid,
    /// The funding partner holding this part; absent for the platform's own book.
    pub funder_id: Option<Uuid>,
    pub currency: String,
    pub principal_minor: i64,
    pub limit_minor: i64,
}

#[derive(Clone, Serialize, ToSchema)]
pub struct ExposureTotal {
    pub currency: String,
    /// Principal owed across every product and funder.
    pub principal_minor: i64,
    /// Credit lines' limits.
    pub limit_minor: i64,
}

#[derive(Clone, Serialize, ToSchema)]
pub struct ExposureResponse {
    pub customer_id: Uuid,
    pub totals: Vec<ExposureTotal>,
    pub items: Vec<ExposureItemResponse>,
}

impl ExposureResponse {
    pub fn of(customer_id: Uuid, e: &Exposure) -> ExposureResponse {
        let mut currencies: Vec<Currency> = e.items.iter().map(|i| i.currency).collect();
        currencies.sort_by_key(|c| c.code());
        currencies.dedup();
        ExposureResponse {
            customer_id,
            totals: currencies
                .into_iter()
                .map(|c| ExposureTotal {
                    currency: c.code().into(),
                    principal_minor: e.principal_minor(c),
                    limit_minor: e.limit_minor(c),
                })
                .collect(),
            items: e
                .items
                .iter()
                .map(|i| ExposureItemResponse {
                    product: i.product.into(),
                    id: i.id,
                    funder_id: i.funder_id,
                    currency: i.currency.code().into(),
                    principal_minor: i.principal_minor,
                    limit_minor: i.limit_minor,
                })
                .collect(),
        }
    }
}
