//! Revolving purchases on the live book: the cash the waterfall set aside for purchases
//! buys the platform's share of newly eligible loans (the pool's criteria, none already in
//! a pool), at the deal's purchase price, until the balance it pays for is reached; the last
//! loan may be bought in part. When too few loans qualify, the unspent cash stays in the
//! collection account and the pool balance is what was bought.

use super::close::{platform_cash, Moves};
use super::docs::{
    deal_account, pool_loan_write, purchase_entry_id, DealDoc, PoolLoanDoc, PooledLoan,
};
use super::pool::{measure, pooled_elsewhere};
use super::AbsError;
use crate::loans::{self, LoanUseError};
use crate::Engine;
use ledger::EntryRequest;
use money::{BusinessDate, Decimal, RoundingMode};
use store::{DomainWrite, LoanFilter};

const PAGE: u32 = 500;
/// Rounding of a purchase's price to a minor unit.
pub const PURCHASE_ROUNDING: RoundingMode = RoundingMode::HalfEven;

/// What a period's revolving purchase bought.
pub struct Purchase {
    pub lines: Vec<PooledLoan>,
    /// Sold principal bought.
    pub balance_minor: i64,
    /// Cash paid for it.
    pub paid_minor: i64,
    pub entry: Option<EntryRequest>,
    pub writes: Vec<DomainWrite>,
}

/// Buys up to `balance_minor` of sold principal for at most `cash_minor` (the waterfall's
/// purchase: `cash = balance × price`). Loans are taken in id order.
pub async fn buy(
    engine: &Engine,
    doc: &DealDoc,
    n: u32,
    price: Decimal,
    balance_minor: i64,
    cash_minor: i64,
    today: BusinessDate,
) -> Result<Purchase, AbsError> {
    let pool = doc.pool.as_ref().expect("a closed deal has its pool");
    let mut criteria = pool.criteria.clone();
    criteria.loan_ids = None;
    let tenant = doc.tenant.as_str();
    let mut lines = Vec::new();
    let mut left = balance_minor;
    let mut after = None;
    'pages: while left > 0 {
        let rows = engine
            .store()
            .loans_page(LoanFilter {
                tenant: Some(tenant.into()),
                stage: Some("active".into()),
                dpd_max: Some(i32::try_from(criteria.dpd_max).unwrap_or(i32::MAX)),
                after,
                limit: PAGE,
                ..LoanFilter::default()
            })
            .await?;
        for row in &rows {
            if pooled_elsewhere(engine, row.id).await?.is_some() {
                continue;
            }
            let view = match loans::load(engine, row.id).await {
                Ok(v) if v.row.tenant == tenant => v,
                Ok(_) | Err(LoanUseError::NotFound) => continue,
                Err(e) => return Err(AbsError::Storage(anyhow::anyhow!("loan {}: {e}", row.id))),
            };
            let Ok(mut line) = measure(engine, &view, &criteria, doc.currency, today).await? else {
                continue;
            };
            if line.sold_minor > left {
                // The last loan in part: its share scales to the balance still wanted.
                line.share = line.share * Decimal::from(left) / Decimal::from(line.sold_minor);
                line.sold_minor = left;
            }
            left -= line.sold_minor;
            lines.push(line);
            if left == 0 {
                break 'pages;
            }
        }
        if rows.len() < PAGE as usize {
            break;
        }
        after = rows.last().map(|r| r.id);
    }
    let bought: i64 = lines.iter().map(|l| l.sold_minor).sum();
    let paid = if bought == balance_minor {
        cash_minor
    } else {
        PURCHASE_ROUNDING
            .round_minor(Decimal::from(bought) * price)
            .map_err(|_| AbsError::Storage(anyhow::anyhow!("a purchase price overflows")))?
            .min(cash_minor)
    };
    let writes = lines
        .iter()
        .map(|l| {
            let m = PoolLoanDoc {
                loan_id: l.loan_id,
                deal_id: doc.id,
            };
            pool_loan_write(&m, tenant, today)
        })
        .collect();
    let entry = (bought > 0).then(|| {
        let account = |name: &str| deal_account(doc.id, name);
        let mut moves = Moves::default();
        // Ownership of the bought principal, as at closing; the cash set aside pays it.
        moves.debit(account("spv:pool_receivable"), bought);
        moves.credit(account("platform:sold_receivable"), bought);
        moves.debit(platform_cash(doc), paid);
        moves.credit(account("spv:purchases"), paid);
        moves.credit(account("platform:sale_gain_loss"), paid - bought);
        moves.debit(account("spv:purchase_discount"), paid - bought);
        moves.entry(
            purchase_entry_id(doc.id, n),
            doc,
            format!(
                "abs deal {}: period {n} revolving purchase of {bought} ({} loans)",
                doc.id,
                lines.len()
            ),
        )
    });
    Ok(Purchase {
        lines,
        balance_minor: bought,
        paid_minor: paid,
        entry,
        writes,
    })
}
