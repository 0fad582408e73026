//! Wire types of revolving credit: borrowers, merchants, credit lines, purchases, repayments,
//! installments and limit changes. Parsing names the field at fault.

use crate::{FieldError, ProofResponse};
use engine::revolving::{Borrower, BorrowerKind, LineView, Merchant, Purchase, PurchaseStatus};
use money::{Currency, Decimal, RateDaily};
use revolving::{Bucket, FeePayer, Terms};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use utoipa::ToSchema;
use uuid::Uuid;

fn currency(field: &str, code: &str) -> Result<Currency, FieldError> {
    code.parse()
        .map_err(|_| FieldError::new(field, format!("unknown currency {code:?}")))
}

fn decimal(field: &str, text: &str) -> Result<Decimal, FieldError> {
    Decimal::from_str(text.trim())
        .map_err(|_| FieldError::new(field, "must be a decimal number such as \"0.008\""))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BorrowerRequest {
    /// Defaults to the Idempotency-Key.
    pub id: Option<Uuid>,
    /// `individual` or `enterprise`.
    pub kind: String,
    pub name: String,
}

impl BorrowerRequest {
    pub fn parse(&self) -> Result<BorrowerKind, FieldError> {
        crate::check_name("name", &self.name, 200)?;
        match self.kind.as_str() {
            "individual" => Ok(BorrowerKind::Individual),
            "enterprise" => Ok(BorrowerKind::Enterprise),
            _ => Err(FieldError::new("kind", "must be individual or enterprise")),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BorrowerResponse {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub created_on: String,
}

impl From<&Borrower> for BorrowerResponse {
    fn from(b: &Borrower) -> Self {
        BorrowerResponse {
            id: b.id,
            kind: match b.kind {
                BorrowerKind::Individual => "individual",
                BorrowerKind::Enterprise => "enterprise",
            }
            .into(),
            name: b.name.clone(),
            created_on: b.created_on.to_string(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantRequest {
    pub id: Option<Uuid>,
    pub name: String,
    /// Merchant discount rate as a fraction, e.g. "0.008" for 0.8%.
    pub discount_rate: String,
    /// ISO 4217; default CNY.
    pub currency: Option<String>,
    /// Where settlements are paid (bank or wallet account reference).
    pub settlement_account: String,
}

impl MerchantRequest {
    pub fn parse(&self) -> Result<(Currency, Decimal), FieldError> {
        crate::check_name("name", &self.name, 200)?;
        crate::check_name("settlement_account", &self.settlement_account, 200)?;
        let c = currency("currency", self.currency.as_deref().unwrap_or("CNY"))?;
        Ok((c, decimal("discount_rate", &self.discount_rate)?))
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MerchantResponse {
    pub id: Uuid,
    pub name: String,
    pub currency: String,
    pub discount_rate: String,
    pub settlement_account: String,
    /// The ledger account the platform owes the merchant on.
    pub payable_account_id: Uuid,
}

impl From<&Merchant> for MerchantResponse {
    fn from(m: &Merchant) -> Self {
        MerchantResponse {
            id: m.id,
            name: m.name.clone(),
            currency: m.currency.code().into(),
            discount_rate: m.discount_rate.to_string(),
            settlement_account: m.settlement_account.clone(),
            payable_account_id: engine::revolving::merchant_payable(m.id, m.currency).0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallmentFeeWire {
    pub months: u32,
    /// Total fee as a fraction of the principal, e.g. "0.025".
    pub fee_rate: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditLineRequest {
    pub id: Option<Uuid>,
    pub borrower_id: Uuid,
    pub currency: String,
    pub limit_minor: i64,
    /// Default 1.
    pub statement_day: Option<u32>,
    /// Default 10.
    pub due_day: Option<u32>,
    /// Default "0.10".
    pub min_payment_rate: Option<String>,
    /// Per day, default "0.0005".
    pub revolving_rate_daily: Option<String>,
    /// Per day, default "0.0005".
    pub penalty_rate_daily: Option<String>,
    /// Default 3/0.025, 6/0.045, 12/0.088.
    pub installment_fee_rates: Option<Vec<InstallmentFeeWire>>,
    /// Default ["penalty", "interest", "fee", "principal"].
    pub allocation_order: Option<Vec<String>>,
}

impl CreditLineRequest {
    pub fn terms(&self) -> Result<Terms, FieldError> {
        let mut t = Terms::standard(currency("currency", &self.currency)?);
        if self.limit_minor < 0 {
            return Err(FieldError::new("limit_minor", "must be zero or more"));
        }
        if let Some(d) = self.statement_day {
            t.statement_day = d;
        }
        if let Some(d) = self.due_day {
            t.due_day = d;
        }
        if let Some(r) = &self.min_payment_rate {
            t.min_payment_rate = decimal("min_payment_rate", r)?;
        }
        let daily = |field: &str, text: &str| {
            RateDaily::from_fraction(decimal(field, text)?)
                .map_err(|e| FieldError::new(field, e.to_string()))
        };
        if let Some(r) = &self.revolving_rate_daily {
            t.revolving_rate_daily = daily("revolving_rate_daily", r)?;
        }
        if let Some(r) = &self.penalty_rate_daily {
            t.penalty_rate_daily = daily("penalty_rate_daily", r)?;
        }
        if let Some(fees) = &self.installment_fee_rates {
            t.installment_fee_rates = fees
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let field = format!("installment_fee_rates[{i}].fee_rate");
                    Ok((f.months, decimal(&field, &f.fee_rate)?))
                })
                .collect::<Result<_, FieldError>>()?;
        }
        if let Some(order) = &self.allocation_order {
            t.allocation_order = order
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    bucket(b).ok_or_else(|| {
                        FieldError::new(
                            format!("allocation_order[{i}]"),
                            "must be penalty, interest, fee or principal",
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        t.validate()
            .map_err(|e| FieldError::new(e.field, e.message))?;
        Ok(t)
    }
}

fn bucket(name: &str) -> Option<Bucket> {
    Some(match name {
        "penalty" => Bucket::Penalty,
        "interest" => Bucket::Interest,
        "fee" => Bucket::Fee,
        "principal" => Bucket::Principal,
        _ => return None,
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreditLineResponse {
    pub id: Uuid,
    pub borrower_id: Uuid,
    pub currency: String,
    /// active, frozen or closed.
    pub status: String,
    pub business_date: String,
    pub limit_minor: i64,
    pub temporary_limit_minor: i64,
    pub temporary_limit_expires_on: Option<String>,
    /// What a new authorization can still take (limit − used − held).
    pub available_minor: i64,
    /// Authorized, not yet captured.
    pub held_minor: i64,
    /// Captured principal not yet repaid.
    pub used_minor: i64,
    pub unbilled_principal_minor: i64,
    pub billed_principal_minor: i64,
    pub billed_installment_minor: i64,
    pub interest_minor: i64,
    pub penalty_minor: i64,
    pub fee_minor: i64,
    /// Paid beyond what was owed: pays the next statement at its cut, or goes back to the
    /// borrower by `POST /v1/credit-lines/{id}/refunds`.
    pub overpayment_minor: i64,
    /// Everything still owed on the line less the overpayment: revolving principal billed
    /// or not, installment parts not yet billed and their fees (owed as the plans run, not
    /// yet due), fees, interest and penalty. Negative when the line owes the borrower.
    pub payoff_minor: i64,
    pub days_past_due: u32,
    /// The statements not yet settled, and the latest one.
    #[schema(value_type = Vec<Object>)]
    pub statements: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub installment_plans: Vec<serde_json::Value>,
}

impl From<&LineView> for CreditLineResponse {
    fn from(v: &LineView) -> Self {
        let l = &v.doc.line;
        let temp = l.temp_limit.filter(|t| t.expires_on > l.business_date);
        CreditLineResponse {
            id: v.doc.id,
            borrower_id: v.doc.borrower_id,
            currency: l.terms.currency.code().into(),
            status: serde_json::to_value(l.status)
                .ok()
                .and_then(|s| s.as_str().map(str::to_string))
                .unwrap_or_default(),
            business_date: l.business_date.to_string(),
            limit_minor: l.limit_minor,
            temporary_limit_minor: temp.map_or(0, |t| t.amount_minor),
            temporary_limit_expires_on: temp.map(|t| t.expires_on.to_string()),
            available_minor: v.available_minor,
            held_minor: v.held_minor,
            used_minor: l.used_minor,
            unbilled_principal_minor: l.unbilled_principal_minor,
            billed_principal_minor: l.billed_principal_minor,
            billed_installment_minor: l.billed_installment_principal_minor,
            interest_minor: l.interest_minor,
            penalty_minor: l.penalty_minor,
            fee_minor: l.fee_minor,
            overpayment_minor: l.overpayment_minor,
            payoff_minor: l.payoff_minor(),
            days_past_due: l.dpd,
            statements: l
                .statements
                .iter()
                .filter_map(|s| serde_json::to_value(s).ok())
                .collect(),
            installment_plans: l
                .plans
                .iter()
                .filter_map(|p| {
                    let mut v = serde_json::to_value(p).ok()?;
                    v["id"] = serde_json::Value::String(Uuid::from_bytes(p.id).to_string());
                    Some(v)
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    pub id: Option<Uuid>,
    pub credit_line_id: Uuid,
    pub merchant_id: Uuid,
    pub amount_minor: i64,
    pub currency: String,
    /// Capture at once (a sale): the answer is the captured purchase.
    pub capture: Option<bool>,
}

impl PurchaseRequest {
    pub fn currency(&self) -> Result<Currency, FieldError> {
        currency("currency", &self.currency)
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    /// Default: the whole authorized amount.
    pub amount_minor: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    pub id: Option<Uuid>,
    pub amount_minor: i64,
}

/// A refund of the line's overpayment (credit balance) to the borrower.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRefundRequest {
    /// Client-chosen id; also the Idempotency-Key.
    pub id: Option<Uuid>,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRepaymentRequest {
    pub id: Option<Uuid>,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallmentRequest {
    /// 3, 6 or 12 (what the line's terms offer).
    pub months: u32,
    /// `borrower` (default) or `merchant` (interest-free to the borrower).
    pub fee_payer: Option<String>,
}

impl InstallmentRequest {
    pub fn fee_payer(&self) -> Result<FeePayer, FieldError> {
        match self.fee_payer.as_deref().unwrap_or("borrower") {
            "borrower" => Ok(FeePayer::Borrower),
            "merchant" => Ok(FeePayer::Merchant),
            _ => Err(FieldError::new("fee_payer", "must be borrower or merchant")),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstallmentQuote {
    pub months: u32,
    pub fee_rate: String,
    /// Nominal annual rate by IRR on the outstanding principal, in percent.
    pub apr_percent: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineChangeRequest {
    /// set_limit, temporary_limit, freeze, unfreeze, close or risk_signal.
    pub action: String,
    pub reason: String,
    /// For set_limit.
    pub limit_minor: Option<i64>,
    /// For temporary_limit.
    pub amount_minor: Option<i64>,
    /// For temporary_limit: the first day it no longer applies.
    pub expires_on: Option<String>,
    /// For risk_signal: lower the limit by this fraction ("0.5"); absent freezes.
    pub lower_fraction: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PurchaseResponse {
    pub id: Uuid,
    pub credit_line_id: Uuid,
    pub merchant_id: Uuid,
    pub currency: String,
    pub amount_minor: i64,
    /// authorized, captured or voided.
    pub status: String,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub authorized_on: String,
    pub captured_on: Option<String>,
    pub installment_months: Option<u32>,
}

impl From<&Purchase> for PurchaseResponse {
    fn from(p: &Purchase) -> Self {
        PurchaseResponse {
            id: p.id,
            credit_line_id: p.line_id,
            merchant_id: p.merchant_id,
            currency: p.currency.code().into(),
            amount_minor: p.amount_minor,
            status: match p.status {
                PurchaseStatus::Authorized => "authorized",
                PurchaseStatus::Captured => "captured",
                PurchaseStatus::Voided => "voided",
            }
            .into(),
            captured_minor: p.captured_minor,
            refunded_minor: p.refunded_minor,
            authorized_on: p.authorized_on.to_string(),
            captured_on: p.captured_on.map(|d| d.to_string()),
            installment_months: p.installment_months,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TracePosting {
    pub account_id: Uuid,
    /// Who the account belongs to: `line:<id>`, `merchant:<id>`, `platform`.
    pub owner: String,
    pub purpose: String,
    /// debit or credit.
    pub direction: String,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TraceStepResponse {
    /// limit_used, capture, merchant_settlement, installment_fee or refund.
    pub step: String,
    pub entry_id: Uuid,
    pub postings: Vec<TracePosting>,
    /// Inclusion proof of the entry in the signed tree.
    pub proof: ProofResponse,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TraceResponse {
    pub purchase: PurchaseResponse,
    pub merchant: MerchantResponse,
    pub steps: Vec<TraceStepResponse>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineEventResponse {
    pub seq: i32,
    pub day: String,
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}
