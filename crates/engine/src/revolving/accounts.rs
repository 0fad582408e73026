//! A line's ledger accounts, the platform's, and the ids of the entries and holds they get.

use super::docs::*;
use crate::{Command, Engine};
use ledger::{Account, AccountId, Constraint, EntryId, EntryRequest, HoldId, Posting, Side};
use money::{BusinessDate, Currency};
use revolving::{PostingIntent, Purpose};
use uuid::Uuid;

/// Accounts shared by a tenant's lines in one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    LimitPool,
    InterestIncome,
    FeeIncome,
    PenaltyIncome,
    DiscountIncome,
    /// Repayments received from borrowers.
    BorrowerCash,
    /// The funder's money: credited when a merchant is paid.
    FunderCash,
}

impl Platform {
    const ALL: [Platform; 7] = [
        Platform::LimitPool,
        Platform::InterestIncome,
        Platform::FeeIncome,
        Platform::PenaltyIncome,
        Platform::DiscountIncome,
        Platform::BorrowerCash,
        Platform::FunderCash,
    ];

    fn name(self) -> &'static str {
        match self {
            Platform::LimitPool => "rc_limit_pool",
            Platform::InterestIncome => "rc_interest_income",
            Platform::FeeIncome => "rc_fee_income",
            Platform::PenaltyIncome => "rc_penalty_income",
            Platform::DiscountIncome => "rc_discount_income",
            Platform::BorrowerCash => "rc_borrower_cash",
            Platform::FunderCash => "rc_funder_cash",
        }
    }

    fn side(self) -> Side {
        match self {
            Platform::LimitPool | Platform::BorrowerCash | Platform::FunderCash => Side::Debit,
            _ => Side::Credit,
        }
    }
}

pub fn platform_account(tenant: &str, currency: Currency, p: Platform) -> AccountId {
    AccountId(Uuid::new_v5(
        &NS,
        format!("{tenant}:{}:{}", currency.code(), p.name()).as_bytes(),
    ))
}

/// The line's own accounts.
pub(super) const LINE_PURPOSES: [Purpose; 7] = [
    Purpose::Available,
    Purpose::Used,
    Purpose::PrincipalReceivable,
    Purpose::InterestReceivable,
    Purpose::FeeReceivable,
    Purpose::PenaltyReceivable,
    Purpose::Overpayment,
];

pub(super) fn purpose_name(p: Purpose) -> &'static str {
    match p {
        Purpose::Available => "available",
        Purpose::Used => "used",
        Purpose::LimitPool => "limit_pool",
        Purpose::PrincipalReceivable => "principal_receivable",
        Purpose::InterestReceivable => "interest_receivable",
        Purpose::FeeReceivable => "fee_receivable",
        Purpose::PenaltyReceivable => "penalty_receivable",
        Purpose::InterestIncome => "interest_income",
        Purpose::FeeIncome => "fee_income",
        Purpose::PenaltyIncome => "penalty_income",
        Purpose::BorrowerCash => "borrower_cash",
        Purpose::MerchantPayable => "merchant_payable",
        Purpose::Overpayment => "overpayment",
    }
}

pub fn line_account(l: &LineDoc, p: Purpose) -> AccountId {
    let name = purpose_name(p);
    AccountId(match l.account_ids {
        LineAccountIds::Hashed => Uuid::new_v5(&l.id, name.as_bytes()),
        LineAccountIds::Prefixed => derived_id(l.id, name),
    })
}

pub fn merchant_payable(merchant_id: Uuid, currency: Currency) -> AccountId {
    AccountId(Uuid::new_v5(
        &merchant_id,
        format!("payable:{}", currency.code()).as_bytes(),
    ))
}

/// Maps a line's posting purpose to its account; `MerchantPayable` needs the merchant.
pub(super) fn resolve(l: &LineDoc, merchant: Option<Uuid>, p: Purpose) -> AccountId {
    let c = l.line.terms.currency;
    let shared = |x| platform_account(&l.tenant, c, x);
    match p {
        Purpose::LimitPool => shared(Platform::LimitPool),
        Purpose::InterestIncome => shared(Platform::InterestIncome),
        Purpose::FeeIncome => shared(Platform::FeeIncome),
        Purpose::PenaltyIncome => shared(Platform::PenaltyIncome),
        Purpose::BorrowerCash => shared(Platform::BorrowerCash),
        Purpose::MerchantPayable => {
            merchant_payable(merchant.expect("merchant postings name the merchant"), c)
        }
        other => line_account(l, other),
    }
}

pub(super) fn open_platform(tenant: &str, currency: Currency) -> Vec<Command> {
    Platform::ALL
        .iter()
        .map(|&p| Command::OpenAccount {
            id: platform_account(tenant, currency, p),
            tenant: tenant.into(),
            owner: "platform".into(),
            purpose: p.name().into(),
            currency,
            normal_side: p.side(),
            constraint: None,
        })
        .collect()
}

pub(super) fn open_line_accounts(l: &LineDoc) -> Vec<Command> {
    LINE_PURPOSES
        .iter()
        .map(|&p| Command::OpenAccount {
            id: line_account(l, p),
            tenant: l.tenant.clone(),
            owner: format!("line:{}", l.id),
            purpose: format!("rc_{}", purpose_name(p)),
            currency: l.line.terms.currency,
            normal_side: match p {
                Purpose::Available | Purpose::Used | Purpose::Overpayment => Side::Credit,
                _ => Side::Debit,
            },
            constraint: (p == Purpose::Available).then_some(Constraint::DebitsMustNotExceedCredits),
        })
        .collect()
}

/// One entry of a line's postings, or none when there are none.
pub(super) fn line_entry(
    l: &LineDoc,
    merchant: Option<Uuid>,
    (id, mut postings): (EntryId, Vec<Posting>),
    intents: &[PostingIntent],
    memo: String,
) -> Option<Command> {
    if intents.is_empty() && postings.is_empty() {
        return None;
    }
    postings.reserve(intents.len() * 2);
    for i in intents {
        assert!(
            i.amount_minor > 0,
            "the line state machine posts positive amounts"
        );
        postings.push(Posting {
            account_id: resolve(l, merchant, i.debit),
            direction: Side::Debit,
            amount_minor: i.amount_minor,
        });
        postings.push(Posting {
            account_id: resolve(l, merchant, i.credit),
            direction: Side::Credit,
            amount_minor: i.amount_minor,
        });
    }
    Some(Command::Entry(EntryRequest {
        id,
        currency: l.line.terms.currency,
        postings,
        memo,
    }))
}

/// An id derived from `of` and what it is for: `of`'s first 8 bytes, then the last 8 of
/// UUIDv5(of, what). Purchases, refunds and request keys are time-ordered (UUIDv7) ids, so
/// the ids derived from them are too, and the ledger's id indexes grow at their end instead
/// of taking a write at a random page per entry (a fifth of what a sale wrote, measured).
/// Two derived ids of one `of` differ in 62 bits of hash; were they ever equal, the second
/// would be refused as a conflicting id, not merged.
pub(super) fn derived_id(of: Uuid, what: &str) -> Uuid {
    let hash = Uuid::new_v5(&of, what.as_bytes());
    let mut b = *hash.as_bytes();
    b[..8].copy_from_slice(&of.as_bytes()[..8]);
    Uuid::from_bytes(b)
}

pub(crate) fn derived_entry(of: Uuid, what: &str) -> EntryId {
    EntryId(derived_id(of, what))
}

pub fn hold_id(purchase_id: Uuid) -> HoldId {
    HoldId(derived_id(purchase_id, "authorization"))
}

pub fn capture_limit_entry(purchase_id: Uuid) -> EntryId {
    derived_entry(purchase_id, "capture-limit")
}

pub fn capture_entry(purchase_id: Uuid) -> EntryId {
    derived_entry(purchase_id, "capture")
}

pub fn settlement_entry(merchant_id: Uuid, currency: Currency, day: BusinessDate) -> EntryId {
    derived_entry(merchant_id, &format!("settle:{}:{day}", currency.code()))
}

/// What a new hold could still take from the line's available limit.
pub fn free_minor(available: &Account) -> i64 {
    let b = &available.balances;
    b.credits_posted_minor - b.debits_posted_minor - b.debits_pending_minor
}

pub(super) async fn account(engine: &Engine, id: AccountId) -> Result<Account, RevolvingError> {
    Ok(engine
        .account(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("account {id} is missing"))?)
}

pub(super) async fn line_free(engine: &Engine, l: &LineDoc) -> Result<i64, RevolvingError> {
    Ok(free_minor(
        &account(engine, line_account(l, Purpose::Available)).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use revolving::{LimitRules, Line};

    fn a_line(id: Uuid) -> LineDoc {
        let terms = revolving::Terms::standard(Currency::Cny);
        let day = BusinessDate::from_ymd(2026, 1, 5).unwrap();
        LineDoc {
            id,
            tenant: "t".into(),
            borrower_id: Uuid::nil(),
            line: Line::open(terms, 500_000, day).unwrap().0,
            rules: LimitRules::default(),
            event_seq: 0,
            account_ids: LineAccountIds::Prefixed,
        }
    }

    #[test]
    fn lines_stored_before_prefixed_account_ids_keep_their_hashed_ids() {
        let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_1234_5678_9abc);
        let new = a_line(id);
        let mut stored = serde_json::to_value(&new).unwrap();
        stored.as_object_mut().unwrap().remove("account_ids");
        let old: LineDoc = serde_json::from_value(stored).unwrap();
        assert_eq!(old.account_ids, LineAccountIds::Hashed);
        for p in LINE_PURPOSES {
            let name = purpose_name(p).as_bytes();
            assert_eq!(line_account(&old, p).0, Uuid::new_v5(&id, name));
            let prefixed = line_account(&new, p).0;
            assert_eq!(
                prefixed.as_bytes()[..8],
                id.as_bytes()[..8],
                "adjacent in storage"
            );
            assert_eq!(
                prefixed.as_bytes()[8..],
                Uuid::new_v5(&id, name).as_bytes()[8..]
            );
        }
        let distinct: std::collections::HashSet<_> = LINE_PURPOSES
            .iter()
            .map(|p| line_account(&new, *p))
            .collect();
        assert_eq!(distinct.len(), LINE_PURPOSES.len());
    }

    #[test]
    fn derived_ids_keep_the_order_of_what_they_derive_from_and_differ_by_purpose() {
        let mut purchases: Vec<Uuid> = (0..1_000u128)
            .map(|i| Uuid::from_u128((i << 80) | 0x7000_8000_0000_0000_0000 | (i * 7_919)))
            .collect();
        purchases.sort();
        let derived =
            |f: fn(Uuid) -> EntryId| -> Vec<Uuid> { purchases.iter().map(|p| f(*p).0).collect() };
        for ids in [derived(capture_entry), derived(capture_limit_entry)] {
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "ordered like the purchases"
            );
        }
        let holds: Vec<Uuid> = purchases.iter().map(|p| hold_id(*p).0).collect();
        assert!(holds.windows(2).all(|w| w[0] < w[1]));
        let mut all: Vec<Uuid> = derived(capture_entry);
        all.extend(derived(capture_limit_entry));
        all.extend(holds);
        all.sort();
        all.dedup();
        assert_eq!(
            all.len(),
            3 * purchases.len(),
            "no two derived ids are equal"
        );
    }
}
