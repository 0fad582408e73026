//! The true sale at closing: one balanced entry moves the pool's sold principal from the
//! platform's books to the SPV's at the purchase price, and the bonds are issued, in the
//! same submission as the deal's change to `closed` (docs/securitization.md, "Money flows").

use super::docs::{
    closing_entry_id, deal_account, deal_write, load, open_account, ClosingDoc, DealDoc,
    DealStatus, StateDoc,
};
use super::{open_day, AbsError};
use crate::{Command, Engine, EngineError};
use ledger::{AccountId, EntryId, EntryRequest, Posting, Side};
use lending::loan::AccountPurpose;
use money::{Decimal, RoundingMode};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Rounding of the purchase price to a minor unit.
pub const PRICE_ROUNDING: RoundingMode = RoundingMode::HalfEven;

/// The platform's cash (the account loan repayments arrive in).
pub fn platform_cash(deal: &DealDoc) -> AccountId {
    crate::loans::account_id(
        Uuid::nil(),
        &deal.tenant,
        deal.currency,
        AccountPurpose::BorrowerCash,
    )
}

/// Signed amounts per account (debit positive), netted into one entry's postings.
#[derive(Default)]
pub(crate) struct Moves(BTreeMap<AccountId, i64>);

impl Moves {
    pub fn debit(&mut self, account: AccountId, amount_minor: i64) {
        *self.0.entry(account).or_insert(0) += amount_minor;
    }

    pub fn credit(&mut self, account: AccountId, amount_minor: i64) {
        self.debit(account, -amount_minor);
    }

    /// Whether every account nets to zero (nothing to post).
    pub fn is_empty(&self) -> bool {
        self.0.values().all(|&v| v == 0)
    }

    pub fn entry(self, id: EntryId, deal: &DealDoc, memo: String) -> EntryRequest {
        let postings: Vec<Posting> = self
            .0
            .into_iter()
            .filter(|&(_, v)| v != 0)
            .map(|(account_id, v)| Posting {
                account_id,
                direction: if v > 0 { Side::Debit } else { Side::Credit },
                amount_minor: v.abs(),
            })
            .collect();
        let sum: i64 = postings
            .iter()
            .map(|p| match p.direction {
                Side::Debit => p.amount_minor,
                Side::Credit => -p.amount_minor,
            })
            .sum();
        assert_eq!(sum, 0, "a deal's entry balances");
        EntryRequest {
            id,
            currency: deal.currency,
            postings,
            memo,
        }
    }
}

/// Every account a deal posts to, opened at closing so period runs only post.
pub(crate) fn account_names(deal: &abs::Deal) -> Vec<String> {
    let mut names: Vec<String> = [
        "spv:pool_receivable",
        "spv:cash",
        "spv:purchase_discount",
        "spv:interest_income",
        "spv:recovery_income",
        "spv:credit_loss",
        "spv:purchases",
        "platform:sold_receivable",
        "platform:sale_gain_loss",
        "platform:collections_remitted",
        "platform:loss_transferred",
    ]
    .map(String::from)
    .to_vec();
    names.extend(
        deal.accounts
            .iter()
            .map(|a| format!("spv:account:{}", a.name)),
    );
    names.extend(deal.fees.iter().map(|f| format!("spv:fee:{}", f.name)));
    for b in &deal.bonds {
        names.push(format!("spv:bond:{}", b.name));
        names.push(format!("spv:bond_interest:{}", b.name));
        names.push(format!("spv:residual:{}", b.name));
    }
    names
}

pub struct Closing {
    pub deal: DealDoc,
    pub replayed: bool,
}

fn replay_or_conflict(doc: DealDoc, key: Uuid, price: Decimal) -> Result<Closing, AbsError> {
    match &doc.closing {
        Some(c) if c.key == key && c.price == price => Ok(Closing {
            deal: doc,
            replayed: true,
        }),
        Some(c) if c.key == key => Err(AbsError::conflict(
            "key_reused",
            "this Idempotency-Key closed the deal at another price",
        )),
        _ => Err(AbsError::conflict(
            "already_closed",
            "the deal was closed under another Idempotency-Key",
        )),
    }
}

/// Sells the pool to the SPV at `price` per unit of sold principal (1 = par). The same key
/// again answers with the closing as it was; another key is refused.
pub async fn close_deal(
    engine: &Engine,
    tenant: &str,
    deal_id: Uuid,
    key: Uuid,
    price: Decimal,
    deal: &abs::Deal,
) -> Result<Closing, AbsError> {
    if price <= Decimal::ZERO || price > Decimal::TWO {
        return Err(AbsError::invalid(
            "price",
            "out_of_range",
            "a price per unit of principal above 0 and at most 2",
        ));
    }
    let (mut doc, version) = load(engine, deal_id, tenant).await?;
    match doc.status {
        DealStatus::Closed => return replay_or_conflict(doc, key, price),
        DealStatus::Draft => {
            return Err(AbsError::conflict(
                "no_pool",
                "pool the deal before closing it",
            ))
        }
        DealStatus::Pooled => {}
    }
    let day = open_day(engine).await?;
    let pool = doc.pool.as_ref().expect("a pooled deal has its pool");
    let sold = pool.total_minor;
    let price_minor = PRICE_ROUNDING
        .round_minor(Decimal::from(sold) * price)
        .map_err(|_| AbsError::invalid("price", "out_of_range", "the price overflows"))?;
    let account = |name: &str| deal_account(deal_id, name);
    let mut moves = Moves::default();
    // Ownership of the sold principal: off the platform's books (a contra to the loans'
    // receivables, which keep servicing the whole loan), onto the SPV's.
    moves.debit(account("spv:pool_receivable"), sold);
    moves.credit(account("platform:sold_receivable"), sold);
    // The price: SPV cash to platform cash; each side books its difference from par.
    moves.debit(platform_cash(&doc), price_minor);
    moves.credit(account("spv:cash"), price_minor);
    moves.credit(account("platform:sale_gain_loss"), price_minor - sold);
    moves.debit(account("spv:purchase_discount"), price_minor - sold);
    // Bonds issued for cash, and the deal's accounts funded from it.
    for b in &deal.bonds {
        moves.credit(account(&format!("spv:bond:{}", b.name)), b.balance_minor);
        moves.debit(account("spv:cash"), b.balance_minor);
    }
    for a in &deal.accounts {
        moves.debit(
            account(&format!("spv:account:{}", a.name)),
            a.opening_balance_minor,
        );
        moves.credit(account("spv:cash"), a.opening_balance_minor);
    }
    let entry_id = closing_entry_id(deal_id);
    let entry = moves.entry(
        entry_id,
        &doc,
        format!("abs deal {deal_id}: true sale of {sold} at {price}"),
    );
    let mut commands: Vec<Command> = account_names(deal)
        .iter()
        .map(|n| open_account(&doc, n))
        .collect();
    commands.push(Command::Entry(entry));
    let mut state = abs::DealState::at_closing(deal);
    state.pool_balance_minor = sold;
    doc.status = DealStatus::Closed;
    doc.state = Some(StateDoc::from(&state));
    doc.closing = Some(ClosingDoc {
        key,
        closed_on: day,
        price,
        sold_minor: sold,
        price_minor,
        entry_id: entry_id.0,
    });
    match engine
        .submit_with(commands, vec![deal_write(&doc, day, Some(version))])
        .await
    {
        Ok(_) => Ok(Closing {
            deal: doc,
            replayed: false,
        }),
        Err(EngineError::StaleDoc { .. }) => {
            let (now, _) = load(engine, deal_id, tenant).await?;
            if now.status == DealStatus::Closed {
                replay_or_conflict(now, key, price)
            } else {
                Err(AbsError::conflict(
                    "changed_meanwhile",
                    "the deal changed; retry",
                ))
            }
        }
        Err(e) => Err(e.into()),
    }
}
