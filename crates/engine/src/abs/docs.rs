//! The deal document (one per deal: its file, pool, closing, state and periods), the pool
//! membership document (one per pooled loan: what makes "one pool per loan" a unique key),
//! and the ids of the accounts and entries a deal causes.

use super::AbsError;
use crate::Engine;
use abs::{BondState, DealState, FeeState};
use ledger::{AccountId, EntryId, Side};
use money::{BusinessDate, Currency, Decimal};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use store::{DocRow, DomainWrite};
use uuid::Uuid;

pub const DEAL: &str = "abs_deal";
/// A pooled loan's membership: its id is derived from the loan's alone, so a second pool
/// cannot insert it.
pub const POOL_LOAN: &str = "abs_pool_loan";

/// Namespace of every id derived here.
pub(crate) const NS: Uuid = Uuid::from_u128(0x3b8e_61c4_0d27_4a9f_b512_e7c0_95a3_1d6e);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealStatus {
    /// Stored and valid; no pool yet.
    Draft,
    /// Loans selected; nothing sold.
    Pooled,
    /// Sold to the SPV; periods run.
    Closed,
}

/// Eligibility of a loan for a pool. Absent bounds do not restrict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolCriteria {
    /// Days past due at most (the rule is DPD = 0, the default).
    #[serde(default)]
    pub dpd_max: u32,
    pub remaining_term_months_min: Option<u32>,
    pub remaining_term_months_max: Option<u32>,
    /// Days since disbursement at least.
    pub seasoning_days_min: Option<u32>,
    /// Products allowed; empty: any.
    #[serde(default)]
    pub product_ids: Vec<Uuid>,
    /// A borrower's share of the pool's sold principal at most (a fraction).
    pub borrower_share_max: Option<Decimal>,
    /// A region's share of the pool's sold principal at most (a fraction): the borrower's
    /// profile `region_code`; loans of borrowers without one count together as region "".
    #[serde(default)]
    pub region_share_max: Option<Decimal>,
    /// Exactly these loans (each must pass every rule); absent: every eligible loan of the
    /// tenant in the deal's currency not already pooled.
    pub loan_ids: Option<Vec<Uuid>>,
}

/// One loan of a pool: the share of its principal that is sold and what it holds now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PooledLoan {
    pub loan_id: Uuid,
    pub borrower: String,
    /// The borrower's region when pooled ("" when it has none).
    #[serde(default)]
    pub region: String,
    pub product_id: Uuid,
    /// The loan's outstanding principal when pooled.
    pub principal_at_pool_minor: i64,
    /// Sold principal / outstanding principal when pooled (1 when not co-lent).
    pub share: Decimal,
    /// The sold principal now (after the last period run).
    pub sold_minor: i64,
    /// Principal and interest the loan had been paid when last measured.
    pub principal_paid_minor: i64,
    pub interest_paid_minor: i64,
    pub written_off: bool,
    /// Bought back by the platform for a broken warranty.
    #[serde(default)]
    pub repurchased: bool,
    /// Recovered on the whole loan after its write-off, when last measured.
    #[serde(default)]
    pub recovered_minor: i64,
    pub annual_rate: Decimal,
    pub remaining_term_months: u32,
    pub age_months: u32,
    /// `level_payment`, `equal_principal` or `bullet` (the tape's names).
    pub amortization: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolDoc {
    pub criteria: PoolCriteria,
    /// The business day the loans were measured; collections count from the next day.
    pub as_of: BusinessDate,
    pub total_minor: i64,
    pub loans: Vec<PooledLoan>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosingDoc {
    pub key: Uuid,
    pub closed_on: BusinessDate,
    /// Purchase price per unit of sold principal.
    pub price: Decimal,
    pub sold_minor: i64,
    pub price_minor: i64,
    pub entry_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BondStateDoc {
    pub balance_minor: i64,
    pub coupon: Decimal,
    pub interest_shortfall_minor: i64,
}

/// `abs::DealState`, kept between period runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDoc {
    pub periods_run: u32,
    pub accrual_start: BusinessDate,
    pub pool_balance_minor: i64,
    pub cumulative_default_minor: i64,
    pub bonds: Vec<BondStateDoc>,
    /// Per fee: (arrears, paid in total).
    pub fees: Vec<(i64, i64)>,
    pub accounts_minor: Vec<i64>,
    pub triggers: Vec<bool>,
    pub called: bool,
}

impl From<&DealState> for StateDoc {
    fn from(s: &DealState) -> StateDoc {
        StateDoc {
            periods_run: s.periods_run,
            accrual_start: s.accrual_start,
            pool_balance_minor: s.pool_balance_minor,
            cumulative_default_minor: s.cumulative_default_minor,
            bonds: s
                .bonds
                .iter()
                .map(|b| BondStateDoc {
                    balance_minor: b.balance_minor,
                    coupon: b.coupon,
                    interest_shortfall_minor: b.interest_shortfall_minor,
                })
                .collect(),
            fees: s
                .fees
                .iter()
                .map(|f| (f.arrears_minor, f.paid_total_minor))
                .collect(),
            accounts_minor: s.accounts_minor.clone(),
            triggers: s.triggers.clone(),
            called: s.called,
        }
    }
}

impl StateDoc {
    pub fn to_domain(&self) -> DealState {
        DealState {
            periods_run: self.periods_run,
            accrual_start: self.accrual_start,
            pool_balance_minor: self.pool_balance_minor,
            cumulative_default_minor: self.cumulative_default_minor,
            bonds: self
                .bonds
                .iter()
                .map(|b| BondState {
                    balance_minor: b.balance_minor,
                    coupon: b.coupon,
                    interest_shortfall_minor: b.interest_shortfall_minor,
                })
                .collect(),
            fees: self
                .fees
                .iter()
                .map(|&(arrears_minor, paid_total_minor)| FeeState {
                    arrears_minor,
                    paid_total_minor,
                })
                .collect(),
            accounts_minor: self.accounts_minor.clone(),
            triggers: self.triggers.clone(),
            called: self.called,
        }
    }
}

/// The period's collections on the sold share, as computed from the loans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionsDoc {
    pub interest_minor: i64,
    pub principal_minor: i64,
    pub recovery_minor: i64,
    pub new_default_minor: i64,
}

/// One period run as posted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodDoc {
    pub n: u32,
    pub key: Uuid,
    /// The fixings the run was given (index, rate), to tell a retry from another request.
    pub index_rates: Vec<(String, Decimal)>,
    /// Collections are those of the days after `from` up to `payment_date`.
    pub from: BusinessDate,
    pub payment_date: BusinessDate,
    pub collections: CollectionsDoc,
    /// `normal`, `accelerated` or `clean_up`.
    pub waterfall: String,
    pub revolving: bool,
    pub fees_paid_minor: Vec<i64>,
    pub interest_paid_minor: Vec<i64>,
    pub principal_paid_minor: Vec<i64>,
    pub residual_paid_minor: Vec<i64>,
    pub purchase_paid_minor: i64,
    pub accounts_closing_minor: Vec<i64>,
    pub bond_balances_minor: Vec<i64>,
    pub triggers: Vec<bool>,
    pub pool_balance_minor: i64,
    /// The waterfall's entry.
    pub entry_id: Uuid,
    /// The entries that moved cash into the collection account for this period: the
    /// remittance of the period's collections, then the repurchases it takes in.
    #[serde(default)]
    pub collection_entry_ids: Vec<Uuid>,
    /// The revolving purchase's entry, when receivables were bought.
    #[serde(default)]
    pub purchase_entry_id: Option<Uuid>,
    /// Sold principal of the receivables bought, and how many loans.
    #[serde(default)]
    pub purchased_balance_minor: i64,
    #[serde(default)]
    pub purchased_loans: u32,
    /// Principal of repurchased loans taken in as principal collections.
    #[serde(default)]
    pub repurchased_minor: i64,
    /// Principal collected above the schedule's principal due in the period.
    #[serde(default)]
    pub prepayment_minor: i64,
    /// The clean-up call was exercised in this period: the platform bought back the pool
    /// left, at par of its sold principal.
    #[serde(default)]
    pub called: bool,
    #[serde(default)]
    pub call_proceeds_minor: i64,
    /// The sold principal by days past due at the payment date.
    #[serde(default)]
    pub delinquency: DelinquencyDoc,
    /// Each bond's annual coupon over the period.
    #[serde(default)]
    pub coupons: Vec<Decimal>,
}

/// Sold principal of the pool's loans after the period's collections, by days past due at
/// the payment date (written-off loans hold none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelinquencyDoc {
    pub current_minor: i64,
    pub dpd_1_30_minor: i64,
    pub dpd_31_60_minor: i64,
    pub dpd_61_90_minor: i64,
    pub dpd_91_plus_minor: i64,
}

impl DelinquencyDoc {
    pub fn add(&mut self, dpd: u32, amount_minor: i64) {
        let bucket = match dpd {
            0 => &mut self.current_minor,
            1..=30 => &mut self.dpd_1_30_minor,
            31..=60 => &mut self.dpd_31_60_minor,
            61..=90 => &mut self.dpd_61_90_minor,
            _ => &mut self.dpd_91_plus_minor,
        };
        *bucket += amount_minor;
    }
}

/// A loan bought back by the platform for a broken warranty: its sold principal returns to
/// the SPV's collection account as cash and joins the next period's principal collections.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepurchaseDoc {
    pub id: Uuid,
    pub loan_id: Uuid,
    pub reason: String,
    pub on: BusinessDate,
    pub amount_minor: i64,
    pub entry_id: Uuid,
    /// The period whose collections took it in; None until that period runs.
    pub period: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealDoc {
    pub id: Uuid,
    pub tenant: String,
    pub name: String,
    pub currency: Currency,
    /// The deal file as received.
    pub file: serde_json::Value,
    pub status: DealStatus,
    pub created_on: BusinessDate,
    pub pool: Option<PoolDoc>,
    pub closing: Option<ClosingDoc>,
    /// After the last period run (at closing first).
    pub state: Option<StateDoc>,
    pub periods: Vec<PeriodDoc>,
    /// Investor parties that may read this deal's reports (keys bound to `investor:<id>`).
    #[serde(default)]
    pub investors: Vec<String>,
    #[serde(default)]
    pub repurchases: Vec<RepurchaseDoc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolLoanDoc {
    pub loan_id: Uuid,
    pub deal_id: Uuid,
}

pub fn pool_loan_doc_id(loan_id: Uuid) -> Uuid {
    Uuid::new_v5(&NS, format!("pool_loan:{loan_id}").as_bytes())
}

/// A deal's ledger account. `name` is `spv:…` for the SPV's books, `platform:…` for the
/// platform's accounts about this deal.
pub fn deal_account(deal_id: Uuid, name: &str) -> AccountId {
    AccountId(Uuid::new_v5(
        &NS,
        format!("account:{deal_id}:{name}").as_bytes(),
    ))
}

/// Debit-normal: the SPV's assets and expenses and the platform's remittances; the rest
/// (bonds, income, the platform's sold-receivable contra and sale result) credit-normal.
pub fn account_side(name: &str) -> Side {
    let debit = name.starts_with("spv:account:")
        || name.starts_with("spv:bond_interest:")
        || name.starts_with("spv:residual:")
        || name.starts_with("spv:fee:")
        || matches!(
            name,
            "spv:pool_receivable"
                | "spv:cash"
                | "spv:credit_loss"
                | "spv:purchases"
                | "platform:collections_remitted"
        );
    if debit {
        Side::Debit
    } else {
        Side::Credit
    }
}

pub fn closing_entry_id(deal_id: Uuid) -> EntryId {
    EntryId(Uuid::new_v5(&NS, format!("close:{deal_id}").as_bytes()))
}

pub fn period_entry_id(deal_id: Uuid, n: u32) -> EntryId {
    EntryId(Uuid::new_v5(
        &NS,
        format!("period:{deal_id}:{n}").as_bytes(),
    ))
}

/// The remittance of period `n`'s collections to the SPV.
pub fn collection_entry_id(deal_id: Uuid, n: u32) -> EntryId {
    EntryId(Uuid::new_v5(
        &NS,
        format!("collections:{deal_id}:{n}").as_bytes(),
    ))
}

/// The revolving purchase of period `n`.
pub fn purchase_entry_id(deal_id: Uuid, n: u32) -> EntryId {
    EntryId(Uuid::new_v5(
        &NS,
        format!("purchase:{deal_id}:{n}").as_bytes(),
    ))
}

/// The clean-up call's entry: the platform buys back what is left of the pool.
pub fn call_entry_id(deal_id: Uuid, n: u32) -> EntryId {
    EntryId(Uuid::new_v5(&NS, format!("call:{deal_id}:{n}").as_bytes()))
}

pub fn repurchase_entry_id(deal_id: Uuid, repurchase: Uuid) -> EntryId {
    EntryId(Uuid::new_v5(
        &NS,
        format!("repurchase:{deal_id}:{repurchase}").as_bytes(),
    ))
}

pub(crate) fn encode<T: Serialize>(doc: &T) -> Vec<u8> {
    serde_json::to_vec(doc).expect("documents serialize")
}

pub(crate) fn decode<T: DeserializeOwned>(row: &DocRow) -> anyhow::Result<T> {
    serde_json::from_slice(&row.body)
        .map_err(|e| anyhow::anyhow!("stored {} {} does not decode: {e}", row.kind, row.id))
}

/// The deal `id` of `tenant` (any tenant's for `*`) and the version read.
pub async fn load(engine: &Engine, id: Uuid, tenant: &str) -> Result<(DealDoc, i64), AbsError> {
    let row = engine
        .store()
        .doc(id)
        .await?
        .filter(|r| r.kind == DEAL && (tenant == "*" || r.tenant == tenant))
        .ok_or(AbsError::NotFound("deal"))?;
    Ok((decode(&row)?, row.version))
}

pub(crate) fn deal_write(doc: &DealDoc, day: BusinessDate, read: Option<i64>) -> DomainWrite {
    DomainWrite::Doc {
        row: DocRow {
            kind: DEAL.into(),
            id: doc.id,
            tenant: doc.tenant.clone(),
            parent: None,
            open: doc.status != DealStatus::Closed || doc.state.as_ref().is_some_and(|s| !s.called),
            day: day.to_epoch_days(),
            version: read.map_or(1, |v| v + 1),
            body: encode(doc),
        },
        expected_version: read,
    }
}

pub(crate) fn pool_loan_write(doc: &PoolLoanDoc, tenant: &str, day: BusinessDate) -> DomainWrite {
    DomainWrite::Doc {
        row: DocRow {
            kind: POOL_LOAN.into(),
            id: pool_loan_doc_id(doc.loan_id),
            tenant: tenant.into(),
            parent: Some(doc.deal_id),
            open: false,
            day: day.to_epoch_days(),
            version: 1,
            body: encode(doc),
        },
        expected_version: None,
    }
}

pub(crate) fn open_account(deal: &DealDoc, name: &str) -> crate::Command {
    crate::Command::OpenAccount {
        id: deal_account(deal.id, name),
        tenant: deal.tenant.clone(),
        owner: match name.strip_prefix("platform:") {
            Some(_) => "platform".into(),
            None => format!("spv:{}", deal.id),
        },
        purpose: format!("abs:{name}"),
        currency: deal.currency,
        normal_side: account_side(name),
        constraint: None,
    }
}
