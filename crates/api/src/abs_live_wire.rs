//! Securitization on the live book: stored deals, their pools, closing and period runs.

use crate::{parse_decimal, DealFile, FieldError, IndexRateWire};
use engine::abs::{DealDoc, DealStatus, PeriodDoc, PoolCriteria, PoolDoc, PooledLoan};
use money::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A deal to keep: its file, validated as `POST /v1/abs/deals/validate` does.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealCreateRequest {
    /// Defaults to the Idempotency-Key.
    pub id: Option<Uuid>,
    pub deal: DealFile,
    /// Investor parties whose keys (`investor` role bound to `investor` party with this id)
    /// may read the deal's reports; at most 50, each 1 to 128 bytes.
    #[serde(default)]
    pub investors: Vec<String>,
}

impl DealCreateRequest {
    pub fn investors(&self) -> Result<Vec<String>, FieldError> {
        if self.investors.len() > 50 {
            return Err(FieldError::new("investors", "at most 50 investors"));
        }
        for (i, id) in self.investors.iter().enumerate() {
            if id.trim().is_empty() || id.len() > 128 {
                return Err(FieldError::new(
                    format!("investors[{i}]"),
                    "must be 1 to 128 bytes",
                ));
            }
        }
        Ok(self.investors.clone())
    }
}

/// A repurchase for a broken warranty.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepurchaseRequest {
    pub loan_id: Uuid,
    /// The warranty broken, 1 to 500 bytes.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RepurchaseWire {
    /// The Idempotency-Key it was made under.
    pub id: Uuid,
    pub loan_id: Uuid,
    pub reason: String,
    pub on: String,
    pub currency: String,
    pub amount_minor: i64,
    pub entry_id: Uuid,
    /// The period whose principal collections took it in; null until that period runs.
    pub period: Option<u32>,
}

impl RepurchaseWire {
    pub fn new(r: &engine::abs::RepurchaseDoc, currency: &str) -> Self {
        RepurchaseWire {
            id: r.id,
            loan_id: r.loan_id,
            reason: r.reason.clone(),
            on: r.on.to_string(),
            currency: currency.into(),
            amount_minor: r.amount_minor,
            entry_id: r.entry_id,
            period: r.period,
        }
    }
}

/// Which term loans a pool takes. Absent bounds do not restrict.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolRequest {
    /// Days past due at most; default 0.
    #[serde(default)]
    pub dpd_max: u32,
    pub remaining_term_months_min: Option<u32>,
    pub remaining_term_months_max: Option<u32>,
    pub seasoning_days_min: Option<u32>,
    #[serde(default)]
    pub product_ids: Vec<Uuid>,
    /// A borrower's share of the pool at most, e.g. "0.05".
    pub borrower_share_max: Option<String>,
    /// A region's share of the pool at most, e.g. "0.3" (the borrower's profile
    /// `region_code`; borrowers without one count together).
    pub region_share_max: Option<String>,
    /// Exactly these loans, each of which must pass every rule.
    pub loan_ids: Option<Vec<Uuid>>,
}

impl PoolRequest {
    pub fn parse(&self) -> Result<PoolCriteria, FieldError> {
        let share = self
            .borrower_share_max
            .as_deref()
            .map(|s| parse_decimal("criteria.borrower_share_max", s))
            .transpose()?;
        let region = self
            .region_share_max
            .as_deref()
            .map(|s| parse_decimal("criteria.region_share_max", s))
            .transpose()?;
        Ok(PoolCriteria {
            dpd_max: self.dpd_max,
            remaining_term_months_min: self.remaining_term_months_min,
            remaining_term_months_max: self.remaining_term_months_max,
            seasoning_days_min: self.seasoning_days_min,
            product_ids: self.product_ids.clone(),
            borrower_share_max: share,
            region_share_max: region,
            loan_ids: self.loan_ids.clone(),
        })
    }
}

/// The true sale.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// Purchase price per unit of sold principal, e.g. "0.99"; default "1" (par).
    pub price: Option<String>,
}

impl CloseRequest {
    pub fn price(&self) -> Result<Decimal, FieldError> {
        self.price
            .as_deref()
            .map_or(Ok(Decimal::ONE), |p| parse_decimal("price", p))
    }
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodRunRequest {
    /// Fixings of the floating bonds that reset on this payment date.
    #[serde(default)]
    pub index_rates: Vec<IndexRateWire>,
    /// Exercise the deal's clean-up call in this period: the platform buys back the pool
    /// left at par of its sold principal and the clean-up waterfall pays out (422 with
    /// `field` `exercise_call` when the pool is above the call's threshold or the deal has no
    /// call). Default false.
    #[serde(default)]
    pub exercise_call: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PooledLoanWire {
    pub loan_id: Uuid,
    pub borrower: String,
    /// The borrower's region code when pooled; empty when it has none.
    pub region: String,
    pub product_id: Uuid,
    pub principal_at_pool_minor: i64,
    /// Sold principal / outstanding principal when pooled.
    pub share: String,
    pub sold_minor: i64,
    pub written_off: bool,
}

impl From<&PooledLoan> for PooledLoanWire {
    fn from(l: &PooledLoan) -> Self {
        PooledLoanWire {
            loan_id: l.loan_id,
            borrower: l.borrower.clone(),
            region: l.region.clone(),
            product_id: l.product_id,
            principal_at_pool_minor: l.principal_at_pool_minor,
            share: l.share.normalize().to_string(),
            sold_minor: l.sold_minor,
            written_off: l.written_off,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PoolWireResponse {
    pub as_of: String,
    pub currency: String,
    pub total_minor: i64,
    pub loans: Vec<PooledLoanWire>,
}

impl PoolWireResponse {
    pub fn new(pool: &PoolDoc, currency: &str) -> Self {
        PoolWireResponse {
            as_of: pool.as_of.to_string(),
            currency: currency.into(),
            total_minor: pool.total_minor,
            loans: pool.loans.iter().map(PooledLoanWire::from).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClosingWire {
    pub closed_on: String,
    pub price: String,
    pub sold_minor: i64,
    pub price_minor: i64,
    pub entry_id: Uuid,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PeriodWire {
    pub n: u32,
    pub from: String,
    pub payment_date: String,
    pub currency: String,
    pub interest_collected_minor: i64,
    pub principal_collected_minor: i64,
    pub recovery_collected_minor: i64,
    pub new_default_minor: i64,
    /// `normal`, `accelerated` or `clean_up`.
    pub waterfall: String,
    pub revolving: bool,
    pub fees_paid_minor: Vec<i64>,
    pub interest_paid_minor: Vec<i64>,
    pub principal_paid_minor: Vec<i64>,
    pub residual_paid_minor: Vec<i64>,
    pub purchase_paid_minor: i64,
    /// The clean-up call's proceeds when it was exercised in this period (the deal has
    /// ended), else 0.
    pub call_proceeds_minor: i64,
    pub accounts_closing_minor: Vec<i64>,
    pub bond_balances_minor: Vec<i64>,
    /// Trigger states after the period, in the deal's order.
    pub triggers: Vec<bool>,
    pub pool_balance_minor: i64,
    /// The waterfall's entry; a period whose waterfall moved nothing (no cash collected,
    /// nothing paid) posts none, and no entry has this id.
    pub entry_id: Uuid,
    /// The entries that moved cash into the collection account for this period.
    pub collection_entry_ids: Vec<Uuid>,
    pub purchase_entry_id: Option<Uuid>,
    pub purchased_balance_minor: i64,
    pub purchased_loans: u32,
    pub repurchased_minor: i64,
}

impl PeriodWire {
    pub fn new(p: &PeriodDoc, currency: &str) -> Self {
        PeriodWire {
            n: p.n,
            from: p.from.to_string(),
            payment_date: p.payment_date.to_string(),
            currency: currency.into(),
            interest_collected_minor: p.collections.interest_minor,
            principal_collected_minor: p.collections.principal_minor,
            recovery_collected_minor: p.collections.recovery_minor,
            new_default_minor: p.collections.new_default_minor,
            waterfall: p.waterfall.clone(),
            revolving: p.revolving,
            fees_paid_minor: p.fees_paid_minor.clone(),
            interest_paid_minor: p.interest_paid_minor.clone(),
            principal_paid_minor: p.principal_paid_minor.clone(),
            residual_paid_minor: p.residual_paid_minor.clone(),
            purchase_paid_minor: p.purchase_paid_minor,
            call_proceeds_minor: p.call_proceeds_minor,
            accounts_closing_minor: p.accounts_closing_minor.clone(),
            bond_balances_minor: p.bond_balances_minor.clone(),
            triggers: p.triggers.clone(),
            pool_balance_minor: p.pool_balance_minor,
            entry_id: p.entry_id,
            collection_entry_ids: p.collection_entry_ids.clone(),
            purchase_entry_id: p.purchase_entry_id,
            purchased_balance_minor: p.purchased_balance_minor,
            purchased_loans: p.purchased_loans,
            repurchased_minor: p.repurchased_minor,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoredDealResponse {
    pub id: Uuid,
    pub name: String,
    pub currency: String,
    /// `draft`, `pooled` or `closed`.
    pub status: String,
    pub created_on: String,
    /// The deal file as stored.
    #[schema(value_type = Object)]
    pub deal: serde_json::Value,
    pub pool_total_minor: Option<i64>,
    pub pool_loans: Option<usize>,
    pub closing: Option<ClosingWire>,
    pub periods_run: usize,
    pub investors: Vec<String>,
}

impl From<&DealDoc> for StoredDealResponse {
    fn from(d: &DealDoc) -> Self {
        StoredDealResponse {
            id: d.id,
            name: d.name.clone(),
            currency: d.currency.code().into(),
            status: match d.status {
                DealStatus::Draft => "draft",
                DealStatus::Pooled => "pooled",
                DealStatus::Closed => "closed",
            }
            .into(),
            created_on: d.created_on.to_string(),
            deal: d.file.clone(),
            pool_total_minor: d.pool.as_ref().map(|p| p.total_minor),
            pool_loans: d.pool.as_ref().map(|p| p.loans.len()),
            closing: d.closing.as_ref().map(|c| ClosingWire {
                closed_on: c.closed_on.to_string(),
                price: c.price.normalize().to_string(),
                sold_minor: c.sold_minor,
                price_minor: c.price_minor,
                entry_id: c.entry_id,
            }),
            periods_run: d.periods.len(),
            investors: d.investors.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoredDealPage {
    pub items: Vec<StoredDealResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PeriodPage {
    pub items: Vec<PeriodWire>,
}
