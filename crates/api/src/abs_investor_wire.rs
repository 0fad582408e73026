//! The investor report of a live deal's period: the pool, tranches, fees and triggers as
//! the period ran, with inclusion proofs of every entry that moved cash into the SPV's
//! collection account for it, all against one signed tree head.

use crate::{ProofResponse, TreeHeadResponse};
use engine::abs::{DealDoc, PeriodDoc, PeriodEvidence};
use money::Decimal;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvestorPoolWire {
    pub opening_balance_minor: i64,
    pub closing_balance_minor: i64,
    pub interest_collected_minor: i64,
    /// Principal collected on the loans (scheduled and prepaid), repurchases excluded.
    pub principal_collected_minor: i64,
    /// Principal collected above the schedule's principal due in the period.
    pub prepayment_minor: i64,
    pub recovery_minor: i64,
    /// Sold principal of loans written off in the period.
    pub defaults_minor: i64,
    pub cumulative_defaults_minor: i64,
    /// Cash paid for revolving purchases, the sold principal bought and how many loans.
    pub purchase_paid_minor: i64,
    pub purchased_balance_minor: i64,
    pub purchased_loans: u32,
    /// Principal of loans repurchased for a broken warranty, taken in as principal.
    pub repurchased_minor: i64,
}

/// Sold principal by days past due at the payment date.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DelinquencyWire {
    pub current_minor: i64,
    pub dpd_1_30_minor: i64,
    pub dpd_31_60_minor: i64,
    pub dpd_61_90_minor: i64,
    pub dpd_91_plus_minor: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvestorTrancheWire {
    pub name: String,
    pub original_balance_minor: i64,
    pub opening_balance_minor: i64,
    /// Annual coupon over the period, a decimal string.
    pub coupon: String,
    pub interest_paid_minor: i64,
    pub principal_paid_minor: i64,
    pub residual_paid_minor: i64,
    pub closing_balance_minor: i64,
    /// Closing balance / original balance, 10 decimal places (half to even).
    pub factor: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NamedAmountWire {
    pub name: String,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TriggerStateWire {
    pub name: String,
    pub tripped: bool,
}

/// The collection entries behind the period, each with its inclusion proof.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CollectionProofsWire {
    /// The name of the deal's collection account.
    pub collection_account: String,
    /// Its ledger id (derived from the deal id and the name; docs/securitization.md):
    /// debits to it in these entries are the collections.
    pub collection_account_id: Uuid,
    /// Interest + principal + recoveries collected + repurchases: what the entries' debits
    /// to the collection account add up to.
    pub total_minor: i64,
    pub entries: Vec<ProofResponse>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvestorReport {
    pub deal_id: Uuid,
    pub deal: String,
    pub currency: String,
    pub period: u32,
    /// Collections are those of the days after `from` up to `payment_date`.
    pub from: String,
    pub payment_date: String,
    /// `normal`, `accelerated` or `clean_up`.
    pub waterfall: String,
    pub revolving: bool,
    pub pool: InvestorPoolWire,
    pub delinquency: DelinquencyWire,
    pub tranches: Vec<InvestorTrancheWire>,
    pub fees: Vec<NamedAmountWire>,
    /// Each deal account's balance after the period.
    pub accounts: Vec<NamedAmountWire>,
    pub triggers: Vec<TriggerStateWire>,
    /// The waterfall's entry (not a collection).
    pub waterfall_entry_id: Uuid,
    pub collections: CollectionProofsWire,
    /// The head every proof of `collections` leads to.
    pub tree_head: TreeHeadResponse,
}

fn factor(balance_minor: i64, original_minor: i64) -> String {
    if original_minor == 0 {
        return "0".into();
    }
    let f = Decimal::from(balance_minor) / Decimal::from(original_minor);
    // `round_dp` rounds half to even.
    f.round_dp(10).normalize().to_string()
}

fn previous(doc: &DealDoc, n: u32) -> Option<&PeriodDoc> {
    doc.periods.iter().find(|p| p.n + 1 == n)
}

impl InvestorReport {
    /// `deal` is the deal file parsed (for the names of its lists).
    pub fn new(e: &PeriodEvidence, deal: &abs::Deal) -> Self {
        let (doc, p) = (&e.deal, &e.period);
        let prev = previous(doc, p.n);
        let opening_pool = prev.map_or_else(
            || doc.closing.as_ref().map_or(0, |c| c.sold_minor),
            |q| q.pool_balance_minor,
        );
        let cumulative = doc
            .periods
            .iter()
            .filter(|q| q.n <= p.n)
            .map(|q| q.collections.new_default_minor)
            .sum();
        let tranches = deal
            .bonds
            .iter()
            .enumerate()
            .map(|(j, b)| {
                let opening = prev.map_or(b.balance_minor, |q| q.bond_balances_minor[j]);
                let closing = p.bond_balances_minor[j];
                InvestorTrancheWire {
                    name: b.name.clone(),
                    original_balance_minor: b.balance_minor,
                    opening_balance_minor: opening,
                    coupon: p
                        .coupons
                        .get(j)
                        .copied()
                        .unwrap_or(b.coupon)
                        .normalize()
                        .to_string(),
                    interest_paid_minor: p.interest_paid_minor[j],
                    principal_paid_minor: p.principal_paid_minor[j],
                    residual_paid_minor: p.residual_paid_minor[j],
                    closing_balance_minor: closing,
                    factor: factor(closing, b.balance_minor),
                }
            })
            .collect();
        let c = &p.collections;
        let d = &p.delinquency;
        let coll = deal.collection_account();
        InvestorReport {
            deal_id: doc.id,
            deal: doc.name.clone(),
            currency: doc.currency.code().into(),
            period: p.n,
            from: p.from.to_string(),
            payment_date: p.payment_date.to_string(),
            waterfall: p.waterfall.clone(),
            revolving: p.revolving,
            pool: InvestorPoolWire {
                opening_balance_minor: opening_pool,
                closing_balance_minor: p.pool_balance_minor,
                interest_collected_minor: c.interest_minor,
                principal_collected_minor: c.principal_minor,
                prepayment_minor: p.prepayment_minor,
                recovery_minor: c.recovery_minor,
                defaults_minor: c.new_default_minor,
                cumulative_defaults_minor: cumulative,
                purchase_paid_minor: p.purchase_paid_minor,
                purchased_balance_minor: p.purchased_balance_minor,
                purchased_loans: p.purchased_loans,
                repurchased_minor: p.repurchased_minor,
            },
            delinquency: DelinquencyWire {
                current_minor: d.current_minor,
                dpd_1_30_minor: d.dpd_1_30_minor,
                dpd_31_60_minor: d.dpd_31_60_minor,
                dpd_61_90_minor: d.dpd_61_90_minor,
                dpd_91_plus_minor: d.dpd_91_plus_minor,
            },
            tranches,
            fees: deal
                .fees
                .iter()
                .zip(&p.fees_paid_minor)
                .map(|(f, &amount_minor)| NamedAmountWire {
                    name: f.name.clone(),
                    amount_minor,
                })
                .collect(),
            accounts: deal
                .accounts
                .iter()
                .zip(&p.accounts_closing_minor)
                .map(|(a, &amount_minor)| NamedAmountWire {
                    name: a.name.clone(),
                    amount_minor,
                })
                .collect(),
            triggers: deal
                .triggers
                .iter()
                .zip(&p.triggers)
                .map(|(t, &tripped)| TriggerStateWire {
                    name: t.name.clone(),
                    tripped,
                })
                .collect(),
            waterfall_entry_id: p.entry_id,
            collections: CollectionProofsWire {
                collection_account: deal.accounts[coll].name.clone(),
                collection_account_id: engine::abs::docs::deal_account(
                    doc.id,
                    &format!("spv:account:{}", deal.accounts[coll].name),
                )
                .0,
                total_minor: c.interest_minor
                    + c.principal_minor
                    + c.recovery_minor
                    + p.repurchased_minor,
                entries: e.proofs.iter().map(ProofResponse::from).collect(),
            },
            tree_head: TreeHeadResponse::from(&e.tree_head),
        }
    }
}
