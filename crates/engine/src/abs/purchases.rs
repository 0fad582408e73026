//! Revolving purchases on the live book: the cash the waterfall set aside for purchases
//! buys the platform's share of newly eligible loans (the pool's criteria, none already in
//! a pool), at the deal's purchase price, until the balance it pays for is reached; the last
//! loan may be bought in part. When too few loans qualify, the unspent cash stays in the
//! collection account and the pool balance is what was bought. The criteria's borrower and
//! region share limits hold for the pool after the purchase: a borrower (a region) is
//! bought only up to the room its loans still in the pool leave it.

use super::close::{platform_cash, Moves};
use super::docs::{
    deal_account, pool_loan_write, purchase_entry_id, DealDoc, PoolLoanDoc, PooledLoan,
};
use super::pool::{limits, measure, pooled_elsewhere, Group};
use super::AbsError;
use crate::loans::{self, LoanUseError};
use crate::Engine;
use ledger::EntryRequest;
use money::{BusinessDate, Decimal, RoundingMode};
use std::collections::HashMap;
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

/// What a purchase wants: at most `balance_minor` of sold principal for at most `cash_minor`
/// (the waterfall's purchase: `cash = balance × price`).
pub struct Wanted {
    pub price: Decimal,
    pub balance_minor: i64,
    pub cash_minor: i64,
}

/// Buys what is `wanted` for period `n`; `held` is the pool after the period's collections.
/// Loans are taken in id order.
pub async fn buy(
    engine: &Engine,
    doc: &DealDoc,
    n: u32,
    wanted: Wanted,
    held: &[PooledLoan],
    today: BusinessDate,
) -> Result<Purchase, AbsError> {
    let Wanted {
        price,
        balance_minor,
        cash_minor,
    } = wanted;
    let pool = doc.pool.as_ref().expect("a closed deal has its pool");
    let mut criteria = pool.criteria.clone();
    criteria.loan_ids = None;
    let tenant = doc.tenant.as_str();
    let mut lines = Vec::new();
    let mut left = balance_minor;
    let mut limits: Vec<Concentration> = limits(&criteria)
        .into_iter()
        .map(|(group, max)| Concentration::new(held, group, max, balance_minor))
        .collect();
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
            let room = limits
                .iter()
                .map(|l| l.room(&line))
                .min()
                .unwrap_or(i64::MAX);
            let take = line.sold_minor.min(left).min(room);
            if take <= 0 {
                continue;
            }
            if line.sold_minor > take {
                // A loan in part (the last one, or a borrower at its limit): its share
                // scales to the balance taken.
                line.share = line.share * Decimal::from(take) / Decimal::from(line.sold_minor);
                line.sold_minor = take;
            }
            for l in &mut limits {
                l.add(&line, take);
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
    // Rooms were measured against the pool the full purchase would make; a short one
    // makes a smaller pool, in which a group may stand above its limit.
    trim_short(&limits, held, &mut lines);
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

/// One share limit during a purchase: what each group (borrower or region) holds in the
/// pool, loans kept and bought, against the pool the purchase aims for.
struct Concentration {
    group: Group,
    max: Decimal,
    by_group: HashMap<String, i64>,
    /// The pool's balance if the whole purchase is made.
    target_minor: i64,
}

impl Concentration {
    fn new(held: &[PooledLoan], group: Group, max: Decimal, balance_minor: i64) -> Self {
        let mut by_group = HashMap::new();
        for l in held {
            *by_group.entry(group.of(l).to_string()).or_insert(0) += l.sold_minor;
        }
        let kept: i64 = held.iter().map(|l| l.sold_minor).sum();
        Concentration {
            group,
            max,
            by_group,
            target_minor: kept + balance_minor,
        }
    }

    fn cap(&self, total_minor: i64) -> i64 {
        // Rounded down: the limit is "at most".
        (self.max * Decimal::from(total_minor))
            .floor()
            .try_into()
            .unwrap_or(i64::MAX)
    }

    /// How much more of the loan's group the pool may take.
    fn room(&self, line: &PooledLoan) -> i64 {
        let has = self.by_group.get(self.group.of(line)).copied().unwrap_or(0);
        self.cap(self.target_minor) - has
    }

    fn add(&mut self, line: &PooledLoan, amount_minor: i64) {
        let key = self.group.of(line).to_string();
        *self.by_group.entry(key).or_insert(0) += amount_minor;
    }

    /// The largest bought loan of a group above the limit of the pool `held` and `lines`
    /// make.
    fn over(&self, held: &[PooledLoan], lines: &[PooledLoan]) -> Option<usize> {
        let total: i64 = held.iter().chain(lines).map(|l| l.sold_minor).sum();
        let cap = self.cap(total);
        let mut by_group: HashMap<&str, i64> = HashMap::new();
        for l in held.iter().chain(lines) {
            *by_group.entry(self.group.of(l)).or_insert(0) += l.sold_minor;
        }
        lines
            .iter()
            .enumerate()
            .filter(|(_, l)| by_group[self.group.of(l)] > cap)
            .max_by_key(|(_, l)| l.sold_minor)
            .map(|(i, _)| i)
    }
}

/// After a short purchase: drops bought loans of groups above their limit of the pool
/// actually made, largest first, until none is (each drop shrinks the pool, so all limits
/// are checked again).
fn trim_short(limits: &[Concentration], held: &[PooledLoan], lines: &mut Vec<PooledLoan>) {
    while let Some(i) = limits.iter().find_map(|l| l.over(held, lines)) {
        lines.remove(i);
    }
}
