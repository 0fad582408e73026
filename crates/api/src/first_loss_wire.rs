//! First-loss deposits: money the platform puts up to bear its co-lending funders' first
//! losses on a named portfolio, up to a percentage of its principal.

use crate::colending_wire::decimal;
use crate::FieldError;
use engine::colending::{DepositDoc, DepositSpec, PositionsDoc, Versioned};
use money::Currency;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A deposit. Its `id` defaults to the Idempotency-Key.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstLossDepositRequest {
    pub id: Option<Uuid>,
    /// The portfolio the deposit covers, by name.
    pub portfolio: String,
    pub currency: String,
    /// The most the deposit pays, as a fraction of `portfolio_principal_minor`, in (0, 1].
    pub cap_fraction: String,
    /// The portfolio's principal the cap is a fraction of.
    pub portfolio_principal_minor: i64,
    /// What the platform deposited; the deposit pays no more than this either.
    pub deposited_minor: i64,
}

impl FirstLossDepositRequest {
    pub fn parse(&self) -> Result<DepositSpec, FieldError> {
        let currency: Currency = self.currency.parse().map_err(|_| {
            FieldError::new("currency", format!("unknown currency {:?}", self.currency))
        })?;
        if self.portfolio.len() > 200 {
            return Err(FieldError::new("portfolio", "at most 200 bytes"));
        }
        Ok(DepositSpec {
            portfolio: self.portfolio.clone(),
            currency,
            cap_fraction: decimal("cap_fraction", &self.cap_fraction)?,
            portfolio_principal_minor: self.portfolio_principal_minor,
            deposited_minor: self.deposited_minor,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FirstLossDepositResponse {
    pub id: Uuid,
    pub version: i64,
    pub portfolio: String,
    pub currency: String,
    pub cap_fraction: String,
    pub portfolio_principal_minor: i64,
    pub deposited_minor: i64,
    /// The most it can pay: the cap, and no more than what was deposited.
    pub cap_minor: i64,
    pub drawn_minor: i64,
    pub available_minor: i64,
    /// Co-lent loans written off under a plan naming the deposit (a draw of 0 counts).
    pub loans_drawn: u64,
    pub created_on: String,
}

impl From<&Versioned<DepositDoc>> for FirstLossDepositResponse {
    fn from(v: &Versioned<DepositDoc>) -> Self {
        let d = &v.doc;
        FirstLossDepositResponse {
            id: d.id,
            version: v.version,
            portfolio: d.spec.portfolio.clone(),
            currency: d.spec.currency.code().into(),
            cap_fraction: d.spec.cap_fraction.normalize().to_string(),
            portfolio_principal_minor: d.spec.portfolio_principal_minor,
            deposited_minor: d.spec.deposited_minor,
            cap_minor: d.cap_minor(),
            drawn_minor: d.drawn_minor,
            available_minor: d.available_minor(),
            loans_drawn: d.loans_drawn,
            created_on: d.created_on.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FirstLossDepositPage {
    pub items: Vec<FirstLossDepositResponse>,
    pub next_cursor: Option<String>,
}

/// A co-lent loan's first-loss deposit and what it paid the funders when the loan was
/// written off.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoanFirstLossWire {
    pub deposit_id: Uuid,
    /// The business day it was drawn (the day the loan was written off); absent before.
    pub drawn_on: Option<String>,
    /// What it paid the funders (0 when the deposit had nothing left).
    pub paid_minor: i64,
}

pub fn loan_first_loss_wire(doc: &PositionsDoc) -> Option<LoanFirstLossWire> {
    let f = doc.first_loss?;
    Some(LoanFirstLossWire {
        deposit_id: f.deposit_id,
        drawn_on: doc.draw.map(|d| d.day.to_string()),
        paid_minor: doc.draw.map_or(0, |d| d.amount_minor),
    })
}
