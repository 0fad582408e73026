//! The in-memory book on its own: holds, constraints counting pending amounts, linked
//! operations all-or-nothing, and the undo log restoring exactly what was there.

use ledger::{
    Account, AccountId, AccountState, AccountTable, Balances, Book, Constraint, EntryId, EntryKind,
    EntryRequest, HoldId, HoldRecord, HoldRequest, HoldStatus, LedgerError, Op, OpOutcome, Posting,
    Side, PARTITIONS,
};
use money::Currency;
use proptest::prelude::*;
use std::collections::HashMap;
use uuid::Uuid;

const NOW_MS: i64 = 1_700_000_000_000;

fn account(n: u128, normal_side: Side, constraint: Option<Constraint>) -> Account {
    Account {
        id: AccountId(Uuid::from_u128(n)),
        tenant: "t".into(),
        owner: format!("owner {n}"),
        purpose: "test".into(),
        currency: Currency::Cny,
        normal_side,
        constraint,
        balances: Balances::default(),
        created_at_ms: NOW_MS,
    }
}

/// A book with a funding account (1), a plain account (2) and a limit account (3) whose
/// debits may not exceed its credits.
fn book() -> Book {
    let mut table = AccountTable::default();
    for a in [
        account(1, Side::Debit, None),
        account(2, Side::Debit, None),
        account(
            3,
            Side::Credit,
            Some(Constraint::DebitsMustNotExceedCredits),
        ),
    ] {
        table.insert(a.id, AccountState::of(&a));
    }
    Book::new(table, Vec::new(), [[0; 32]; PARTITIONS as usize], 0)
}

fn id(n: u128) -> AccountId {
    AccountId(Uuid::from_u128(n))
}

fn entry(n: u128, debit: u128, credit: u128, amount_minor: i64) -> Op {
    Op::Entry {
        request: EntryRequest {
            id: EntryId(Uuid::from_u128(1_000_000 + n)),
            currency: Currency::Cny,
            postings: vec![
                Posting {
                    account_id: id(debit),
                    direction: Side::Debit,
                    amount_minor,
                },
                Posting {
                    account_id: id(credit),
                    direction: Side::Credit,
                    amount_minor,
                },
            ],
            memo: String::new(),
        },
        kind: EntryKind::Plain,
        body_hash: [0; 32],
    }
}

fn hold(n: u128, debit: u128, credit: u128, amount_minor: i64, expires: Option<i64>) -> Op {
    Op::Hold {
        request: HoldRequest {
            id: HoldId(Uuid::from_u128(2_000_000 + n)),
            currency: Currency::Cny,
            debit_account_id: id(debit),
            credit_account_id: id(credit),
            amount_minor,
            expires_at_ms: expires,
            memo: String::new(),
        },
        body_hash: [0; 32],
    }
}

fn hold_id(n: u128) -> HoldId {
    HoldId(Uuid::from_u128(2_000_000 + n))
}

fn post(n: u128, entry: u128, amount_minor: Option<i64>) -> Op {
    Op::PostHold {
        hold_id: hold_id(n),
        entry_id: EntryId(Uuid::from_u128(3_000_000 + entry)),
        amount_minor,
        memo: String::new(),
        body_hash: [0; 32],
    }
}

fn balances(b: &Book, n: u128) -> Balances {
    b.account(id(n)).expect("account exists").balances
}

fn apply(b: &mut Book, ops: &[Op]) -> Result<Vec<OpOutcome>, LedgerError> {
    b.apply_linked(ops, NOW_MS)
}

/// Funds the limit account with `limit_minor` (credits it from the funding account).
fn fund(b: &mut Book, limit_minor: i64) {
    apply(b, &[entry(0, 1, 3, limit_minor)]).unwrap();
}

#[test]
fn a_hold_reserves_then_posts_part_and_releases_the_rest() {
    let mut b = book();
    fund(&mut b, 100);
    apply(&mut b, &[hold(1, 3, 2, 60, None)]).unwrap();
    assert_eq!(balances(&b, 3).debits_pending_minor, 60);
    assert_eq!(balances(&b, 2).credits_pending_minor, 60);
    assert_eq!(
        b.pending_hold(hold_id(1)).unwrap().status,
        HoldStatus::Pending
    );

    let out = apply(&mut b, &[post(1, 1, Some(45))]).unwrap();
    let [OpOutcome::Entry(rec)] = out.as_slice() else {
        panic!("posting a hold makes an entry: {out:?}")
    };
    assert_eq!(rec.kind, EntryKind::HoldPost(hold_id(1)));
    let limit = balances(&b, 3);
    assert_eq!(
        (limit.debits_pending_minor, limit.debits_posted_minor),
        (0, 45),
        "the whole hold is released and only the posted part moves"
    );
    assert_eq!(balances(&b, 2).credits_posted_minor, 45);
    assert!(
        b.pending_hold(hold_id(1)).is_none(),
        "posted holds leave memory"
    );
    assert!(matches!(
        apply(&mut b, &[post(1, 2, None)]),
        Err(LedgerError::UnknownHold { .. })
    ));
}

#[test]
fn a_voided_hold_gives_its_reservation_back() {
    let mut b = book();
    fund(&mut b, 100);
    apply(&mut b, &[hold(1, 3, 2, 100, None)]).unwrap();
    let out = apply(
        &mut b,
        &[Op::VoidHold {
            hold_id: hold_id(1),
        }],
    )
    .unwrap();
    let [OpOutcome::Hold(h)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(h.status, HoldStatus::Voided);
    assert_eq!(balances(&b, 3).debits_pending_minor, 0);
    assert_eq!(balances(&b, 2).credits_pending_minor, 0);
    apply(&mut b, &[hold(2, 3, 2, 100, None)]).expect("the limit is whole again");
}

#[test]
fn a_constraint_counts_pending_holds() {
    let mut b = book();
    fund(&mut b, 100);
    apply(&mut b, &[hold(1, 3, 2, 60, None)]).unwrap();
    assert!(matches!(
        apply(&mut b, &[hold(2, 3, 2, 41, None)]),
        Err(LedgerError::ConstraintViolated { account_id, .. }) if account_id == id(3)
    ));
    assert!(
        matches!(
            apply(&mut b, &[entry(1, 3, 2, 41)]),
            Err(LedgerError::ConstraintViolated { .. })
        ),
        "a posting cannot take what a hold reserved"
    );
    apply(&mut b, &[hold(3, 3, 2, 40, None)]).expect("exactly the rest fits");
    assert_eq!(balances(&b, 3).debits_pending_minor, 100);
}

#[test]
fn an_expired_hold_is_listed_and_cannot_be_posted() {
    let mut b = book();
    fund(&mut b, 100);
    apply(&mut b, &[hold(1, 3, 2, 10, Some(NOW_MS + 1_000))]).unwrap();
    apply(&mut b, &[hold(2, 3, 2, 10, None)]).unwrap();
    assert!(b.expired_holds(NOW_MS + 999, 10).is_empty());
    assert_eq!(b.expired_holds(NOW_MS + 1_000, 10), vec![hold_id(1)]);
    assert!(matches!(
        b.apply_linked(&[post(1, 1, None)], NOW_MS + 1_000),
        Err(LedgerError::HoldExpired { .. })
    ));
    b.apply_linked(
        &[Op::ExpireHold {
            hold_id: hold_id(1),
        }],
        NOW_MS + 1_000,
    )
    .unwrap();
    assert_eq!(balances(&b, 3).debits_pending_minor, 10);
}

#[test]
fn linked_operations_are_all_or_nothing() {
    let mut b = book();
    fund(&mut b, 100);
    let before = Snapshot::of(&b, &ids(), &[hold_id(1)]);
    let seq = b.next_seq();
    let err = apply(
        &mut b,
        &[
            entry(1, 2, 1, 30),
            hold(1, 3, 2, 50, None),
            entry(2, 3, 2, 51), // 50 held + 51 > 100
        ],
    )
    .unwrap_err();
    assert!(
        matches!(err, LedgerError::InBatch { index: 2, .. }),
        "the error names the failing operation: {err:?}"
    );
    assert_eq!(Snapshot::of(&b, &ids(), &[hold_id(1)]), before);
    assert_eq!(b.next_seq(), seq);
    let effect = b.take_effect();
    assert_eq!(
        effect.entries.len(),
        1,
        "only the funding entry is in the group"
    );
    assert!(effect.holds.is_empty());
}

#[test]
fn a_failed_group_rolls_back_to_exactly_what_was_there() {
    let mut b = book();
    fund(&mut b, 100);
    b.finish_group();
    let start = Snapshot::of(&b, &ids_with(9), &[hold_id(1), hold_id(2)]);
    let first = b.group_mark();
    apply(&mut b, &[Op::CreateAccount(account(9, Side::Debit, None))]).unwrap();
    apply(&mut b, &[hold(1, 3, 2, 40, None), entry(1, 9, 1, 7)]).unwrap();
    let middle = Snapshot::of(&b, &ids_with(9), &[hold_id(1), hold_id(2)]);
    // A second group applied on top of the first while the first is being written.
    let second = b.group_mark();
    apply(&mut b, &[post(1, 1, Some(10)), hold(2, 3, 2, 5, None)]).unwrap();
    b.rollback_to(second);
    assert_eq!(
        Snapshot::of(&b, &ids_with(9), &[hold_id(1), hold_id(2)]),
        middle
    );
    b.rollback_to(first);
    let back = Snapshot::of(&b, &ids_with(9), &[hold_id(1), hold_id(2)]);
    assert_eq!(back, start);
    assert!(b.account(id(9)).is_none(), "the created account is gone");
    assert!(b.take_effect().entries.is_empty());
}

#[test]
fn an_account_created_in_a_failed_batch_is_not_reported() {
    let mut b = book();
    fund(&mut b, 100);
    let err = apply(
        &mut b,
        &[
            Op::CreateAccount(account(9, Side::Debit, None)),
            entry(1, 9, 1, 5),
            entry(2, 3, 2, 101), // over the limit
        ],
    )
    .unwrap_err();
    assert!(
        matches!(err, LedgerError::InBatch { index: 2, .. }),
        "{err:?}"
    );
    assert!(b.account(id(9)).is_none());
    let effect = b.take_effect();
    assert!(effect.accounts_created.is_empty());
    let reported: Vec<AccountId> = effect.balances.iter().map(|(a, _)| *a).collect();
    assert_eq!(
        reported,
        vec![id(1), id(3)],
        "only the funding entry's accounts"
    );
}

fn ids() -> Vec<AccountId> {
    (1..=3).map(id).collect()
}

fn ids_with(n: u128) -> Vec<AccountId> {
    let mut v = ids();
    v.push(id(n));
    v
}

/// Everything of the book a rollback must restore.
#[derive(Debug, PartialEq)]
struct Snapshot {
    accounts: Vec<Option<AccountState>>,
    holds: Vec<Option<HoldRecord>>,
    next_seq: u64,
    chain_heads: Vec<[u8; 32]>,
}

impl Snapshot {
    fn of(b: &Book, accounts: &[AccountId], holds: &[HoldId]) -> Snapshot {
        Snapshot {
            accounts: accounts.iter().map(|a| b.account(*a).copied()).collect(),
            holds: holds.iter().map(|h| b.pending_hold(*h).cloned()).collect(),
            next_seq: b.next_seq(),
            chain_heads: (0..PARTITIONS).map(|p| b.chain_head(p)).collect(),
        }
    }
}

/// A random operation over accounts 1..=5 (4 and 5 are created on the way) and holds 0..8.
#[derive(Clone, Debug)]
enum RandomOp {
    Create(u128),
    Entry(u128, u128, i64),
    Hold(u128, u128, u128, i64),
    Post(u128, Option<i64>),
    Void(u128),
}

fn random_op() -> impl Strategy<Value = RandomOp> {
    let account = 1u128..=5;
    prop_oneof![
        (4u128..=5).prop_map(RandomOp::Create),
        (account.clone(), account.clone(), 1i64..200)
            .prop_map(|(d, c, a)| RandomOp::Entry(d, c, a)),
        (0u128..8, account.clone(), account, 1i64..200)
            .prop_map(|(h, d, c, a)| RandomOp::Hold(h, d, c, a)),
        (0u128..8, proptest::option::of(1i64..200)).prop_map(|(h, a)| RandomOp::Post(h, a)),
        (0u128..8).prop_map(RandomOp::Void),
    ]
}

fn to_op(op: &RandomOp, n: u128) -> Op {
    match *op {
        RandomOp::Create(a) => Op::CreateAccount(account(a, Side::Debit, None)),
        RandomOp::Entry(d, c, a) => entry(n, d, c, a),
        RandomOp::Hold(h, d, c, a) => hold(h, d, c, a, None),
        RandomOp::Post(h, a) => post(h, n, a),
        RandomOp::Void(h) => Op::VoidHold {
            hold_id: hold_id(h),
        },
    }
}

/// What the posted and pending sums must be, from what the book said it did.
#[derive(Default)]
struct Expected {
    posted: HashMap<(AccountId, bool), i64>,
}

impl Expected {
    fn add(&mut self, outcomes: &[OpOutcome]) {
        for o in outcomes {
            if let OpOutcome::Entry(rec) = o {
                for p in &rec.postings {
                    *self
                        .posted
                        .entry((p.account_id, p.direction == Side::Debit))
                        .or_default() += p.amount_minor;
                }
            }
        }
    }

    fn check(&self, b: &Book, accounts: &[AccountId], holds: &[HoldId]) {
        for a in accounts {
            let Some(state) = b.account(*a) else { continue };
            let get = |debit| self.posted.get(&(*a, debit)).copied().unwrap_or(0);
            assert_eq!(state.balances.debits_posted_minor, get(true), "{a}");
            assert_eq!(state.balances.credits_posted_minor, get(false), "{a}");
            let pending = |debit: bool| -> i64 {
                holds
                    .iter()
                    .filter_map(|h| b.pending_hold(*h))
                    .filter(|h| {
                        let side = match debit {
                            true => h.request.debit_account_id,
                            false => h.request.credit_account_id,
                        };
                        side == *a
                    })
                    .map(|h| h.request.amount_minor)
                    .sum()
            };
            assert_eq!(state.balances.debits_pending_minor, pending(true), "{a}");
            assert_eq!(state.balances.credits_pending_minor, pending(false), "{a}");
            assert!(state.balances.satisfies(state.constraint), "{a}");
        }
    }
}

/// What a group reports must describe the book as it is: every account it names exists
/// with the balances it reports.
fn check_effect(b: &Book, effect: &ledger::Effect) {
    for (a, reported) in &effect.balances {
        let state = b.account(*a).expect("a reported account exists");
        assert_eq!(state.balances, *reported, "{a}");
    }
    for a in &effect.accounts_created {
        assert!(b.account(a.id).is_some(), "a reported new account exists");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Sums always equal what was applied; rolling back a group of random linked
    /// operations (applied on top of a committed prefix) restores the book exactly.
    #[test]
    fn random_groups_keep_sums_and_roll_back_exactly(
        prefix in proptest::collection::vec(proptest::collection::vec(random_op(), 1..4), 0..12),
        group in proptest::collection::vec(proptest::collection::vec(random_op(), 1..4), 1..12),
    ) {
        let accounts: Vec<AccountId> = (1..=5).map(id).collect();
        let holds: Vec<HoldId> = (0..8).map(hold_id).collect();
        let mut b = book();
        let mut expected = Expected::default();
        fund(&mut b, 500);
        expected.add(&[OpOutcome::Entry(b.take_effect().entries[0].clone())]);
        b.finish_group();
        let mut n = 0;
        // Hold and account ids are idempotency keys the writer checks before the book sees
        // them, so the book is never asked to create one twice.
        let mut created = std::collections::HashSet::new();
        let mut run = |b: &mut Book, expected: &mut Expected, ops: &[RandomOp]| {
            let mut batch = created.clone();
            let ops: Vec<Op> = ops
                .iter()
                .filter(|o| match o {
                    RandomOp::Hold(h, ..) => batch.insert(("hold", *h)),
                    RandomOp::Create(a) => batch.insert(("account", *a)),
                    _ => true,
                })
                .map(|o| { n += 1; to_op(o, n) })
                .collect();
            if ops.is_empty() {
                return;
            }
            if let Ok(out) = b.apply_linked(&ops, NOW_MS) {
                expected.add(&out);
                created = batch;
            }
            expected.check(b, &accounts, &holds);
        };
        for ops in &prefix {
            run(&mut b, &mut expected, ops);
        }
        let effect = b.take_effect();
        check_effect(&b, &effect);
        b.finish_group();
        let before = Snapshot::of(&b, &accounts, &holds);
        let mark = b.group_mark();
        for ops in &group {
            run(&mut b, &mut expected, ops);
        }
        // As the writer does: take the group's effect to persist it, then (the commit
        // failed) roll the group back.
        let effect = b.take_effect();
        check_effect(&b, &effect);
        b.rollback_to(mark);
        prop_assert_eq!(Snapshot::of(&b, &accounts, &holds), before);
        let effect = b.take_effect();
        check_effect(&b, &effect);
    }
}
