//! The ledger use cases, run on SQLite and PostgreSQL alike.

use engine::{Clock, Command, Engine, EngineConfig, EngineError, ManualClock, Outcome};
use ledger::{
    AccountId, Constraint, EntryId, EntryRequest, HoldId, HoldRequest, HoldStatus, LedgerError,
    Posting, Side,
};
use money::Currency;
use uuid::Uuid;

async fn engines() -> Vec<(testkit::TestStore, Engine)> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let e = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .expect("start engine");
        out.push((ts, e));
    }
    out
}

async fn account(e: &Engine, constraint: Option<Constraint>, currency: Currency) -> AccountId {
    match e
        .submit_one(Command::CreateAccount {
            tenant: "t1".into(),
            owner: "owner".into(),
            purpose: "test".into(),
            currency,
            normal_side: Side::Debit,
            constraint,
        })
        .await
        .expect("create account")
    {
        Outcome::Account(a) => a.id,
        other => panic!("unexpected {other:?}"),
    }
}

fn transfer(id: Uuid, from: AccountId, to: AccountId, amount_minor: i64) -> EntryRequest {
    EntryRequest {
        id: EntryId(id),
        currency: Currency::Cny,
        postings: vec![
            Posting {
                account_id: from,
                direction: Side::Debit,
                amount_minor,
            },
            Posting {
                account_id: to,
                direction: Side::Credit,
                amount_minor,
            },
        ],
        memo: String::new(),
    }
}

async fn balances(e: &Engine, id: AccountId) -> ledger::Balances {
    e.account(id)
        .await
        .unwrap()
        .expect("account exists")
        .balances
}

fn rejected(r: Result<Outcome, EngineError>) -> LedgerError {
    match r {
        Err(EngineError::Rejected(e)) => e.root().clone(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn entries_post_replay_and_conflict() {
    for (ts, e) in engines().await {
        let (a, b) = (
            account(&e, None, Currency::Cny).await,
            account(&e, None, Currency::Cny).await,
        );
        let id = Uuid::new_v4();
        let first = e
            .submit_one(Command::Entry(transfer(id, a, b, 500)))
            .await
            .unwrap();
        let Outcome::Entry(rec, false) = first else {
            panic!("{}: first post is new", ts.name)
        };
        let again = e
            .submit_one(Command::Entry(transfer(id, a, b, 500)))
            .await
            .unwrap();
        let Outcome::Entry(rec2, true) = again else {
            panic!("{}: retry is a replay", ts.name)
        };
        assert_eq!(rec, rec2, "{}: replay returns the original", ts.name);
        let err = rejected(e.submit_one(Command::Entry(transfer(id, a, b, 501))).await);
        assert!(
            matches!(err, LedgerError::IdConflict { .. }),
            "{}: {err}",
            ts.name
        );
        assert_eq!(
            balances(&e, a).await.debits_posted_minor,
            500,
            "{}",
            ts.name
        );
        assert_eq!(
            balances(&e, b).await.credits_posted_minor,
            500,
            "{}",
            ts.name
        );
        let stored = e.entry(EntryId(id)).await.unwrap().unwrap();
        assert_eq!(stored, rec, "{}: stored entry round-trips", ts.name);
    }
}

#[tokio::test]
async fn bad_entries_are_refused_and_change_nothing() {
    for (ts, e) in engines().await {
        let (a, b) = (
            account(&e, None, Currency::Cny).await,
            account(&e, None, Currency::Cny).await,
        );
        let usd = account(&e, None, Currency::Usd).await;
        let unknown = AccountId(Uuid::new_v4());
        let mut unbalanced = transfer(Uuid::new_v4(), a, b, 10);
        unbalanced.postings[1].amount_minor = 9;
        let mut zero = transfer(Uuid::new_v4(), a, b, 10);
        zero.postings[0].amount_minor = 0;
        zero.postings[1].amount_minor = 0;
        let cases = [
            (unbalanced, "unbalanced"),
            (zero, "zero"),
            (transfer(Uuid::new_v4(), a, unknown, 10), "unknown account"),
            (transfer(Uuid::new_v4(), a, usd, 10), "mixed currency"),
        ];
        for (req, what) in cases {
            let err = rejected(e.submit_one(Command::Entry(req.clone())).await);
            assert!(
                !matches!(err, LedgerError::IdConflict { .. }),
                "{}: {what}: {err}",
                ts.name
            );
            assert!(
                e.entry(req.id).await.unwrap().is_none(),
                "{}: {what} left an entry",
                ts.name
            );
        }
        // Overflow: i64::MAX twice on the same account.
        e.submit_one(Command::Entry(transfer(Uuid::new_v4(), a, b, i64::MAX)))
            .await
            .unwrap();
        let err = rejected(
            e.submit_one(Command::Entry(transfer(Uuid::new_v4(), a, b, 1)))
                .await,
        );
        assert!(
            matches!(err, LedgerError::Overflow { .. }),
            "{}: {err}",
            ts.name
        );
        assert_eq!(
            balances(&e, a).await.debits_posted_minor,
            i64::MAX,
            "{}",
            ts.name
        );
        let report = engine::verify(&ts.store, |_| {}).await.unwrap();
        assert!(report.ok(), "{}: {report:?}", ts.name);
    }
}

#[tokio::test]
async fn linked_batches_commit_all_or_nothing() {
    for (ts, e) in engines().await {
        let (a, b) = (
            account(&e, None, Currency::Cny).await,
            account(&e, None, Currency::Cny).await,
        );
        let good = transfer(Uuid::new_v4(), a, b, 100);
        let mut bad = transfer(Uuid::new_v4(), a, b, 100);
        bad.postings[0].amount_minor = 99;
        let r = e
            .submit(vec![Command::Entry(good.clone()), Command::Entry(bad)])
            .await;
        match r {
            Err(EngineError::Rejected(LedgerError::InBatch { index: 1, .. })) => {}
            other => panic!("{}: expected batch failure at 1, got {other:?}", ts.name),
        }
        assert!(
            e.entry(good.id).await.unwrap().is_none(),
            "{}: first of a failed batch stored",
            ts.name
        );
        assert_eq!(
            balances(&e, a).await,
            ledger::Balances::default(),
            "{}",
            ts.name
        );
        let ok = e
            .submit(vec![
                Command::Entry(good.clone()),
                Command::Entry(transfer(Uuid::new_v4(), b, a, 40)),
            ])
            .await
            .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(
            balances(&e, a).await.debits_posted_minor,
            100,
            "{}",
            ts.name
        );
    }
}

#[tokio::test]
async fn constraints_count_pending_holds() {
    for (ts, e) in engines().await {
        // A funding account that may not pay out more than was paid in.
        let funded = account(
            &e,
            Some(Constraint::DebitsMustNotExceedCredits),
            Currency::Cny,
        )
        .await;
        let (src, dst) = (
            account(&e, None, Currency::Cny).await,
            account(&e, None, Currency::Cny).await,
        );
        e.submit_one(Command::Entry(transfer(Uuid::new_v4(), src, funded, 1_000)))
            .await
            .unwrap();
        let hold = |amount_minor| {
            Command::Hold(HoldRequest {
                id: HoldId(Uuid::new_v4()),
                currency: Currency::Cny,
                debit_account_id: funded,
                credit_account_id: dst,
                amount_minor,
                expires_at_ms: None,
                memo: String::new(),
            })
        };
        e.submit_one(hold(700)).await.unwrap();
        let err = rejected(e.submit_one(hold(400)).await);
        assert!(
            matches!(err, LedgerError::ConstraintViolated { .. }),
            "{}: {err}",
            ts.name
        );
        let err = rejected(
            e.submit_one(Command::Entry(transfer(Uuid::new_v4(), funded, dst, 301)))
                .await,
        );
        assert!(
            matches!(err, LedgerError::ConstraintViolated { .. }),
            "{}: {err}",
            ts.name
        );
        e.submit_one(Command::Entry(transfer(Uuid::new_v4(), funded, dst, 300)))
            .await
            .unwrap();
        assert_eq!(
            balances(&e, funded).await.debits_pending_minor,
            700,
            "{}",
            ts.name
        );
    }
}

#[tokio::test]
async fn holds_post_partially_void_and_expire() {
    for ts in testkit::all_stores().await {
        let clock = ManualClock::starting_now();
        let e = Engine::start_with_clock(ts.store.clone(), EngineConfig::default(), clock.clone())
            .await
            .expect("start engine");
        let (a, b) = (
            account(&e, None, Currency::Cny).await,
            account(&e, None, Currency::Cny).await,
        );
        let mk = |amount_minor, expires_at_ms| HoldRequest {
            id: HoldId(Uuid::new_v4()),
            currency: Currency::Cny,
            debit_account_id: a,
            credit_account_id: b,
            amount_minor,
            expires_at_ms,
            memo: "auth".into(),
        };
        let h1 = mk(1_000, None);
        e.submit_one(Command::Hold(h1.clone())).await.unwrap();
        assert_eq!(balances(&e, a).await.debits_pending_minor, 1_000);
        let post = Command::PostHold {
            hold_id: h1.id,
            entry_id: EntryId(Uuid::new_v4()),
            amount_minor: Some(600),
            memo: String::new(),
        };
        let Outcome::Entry(rec, false) = e.submit_one(post.clone()).await.unwrap() else {
            panic!()
        };
        assert_eq!(rec.postings[0].amount_minor, 600);
        let Outcome::Entry(_, true) = e.submit_one(post).await.unwrap() else {
            panic!("{}: retried post replays", ts.name)
        };
        let b_a = balances(&e, a).await;
        assert_eq!(
            (b_a.debits_pending_minor, b_a.debits_posted_minor),
            (0, 600),
            "{}",
            ts.name
        );
        let twice = Command::PostHold {
            hold_id: h1.id,
            entry_id: EntryId(Uuid::new_v4()),
            amount_minor: None,
            memo: String::new(),
        };
        let err = rejected(e.submit_one(twice).await);
        assert!(
            matches!(
                err,
                LedgerError::HoldNotPending {
                    status: "posted",
                    ..
                }
            ),
            "{}: {err}",
            ts.name
        );
        assert_eq!(
            e.hold(h1.id).await.unwrap().unwrap().status,
            HoldStatus::Posted
        );

        let h2 = mk(50, None);
        e.submit_one(Command::Hold(h2.clone())).await.unwrap();
        let too_much = Command::PostHold {
            hold_id: h2.id,
            entry_id: EntryId(Uuid::new_v4()),
            amount_minor: Some(51),
            memo: String::new(),
        };
        assert!(matches!(
            rejected(e.submit_one(too_much).await),
            LedgerError::HoldAmountExceeded { .. }
        ));
        e.submit_one(Command::VoidHold { hold_id: h2.id })
            .await
            .unwrap();
        let Outcome::Hold(h, true) = e
            .submit_one(Command::VoidHold { hold_id: h2.id })
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(h.status, HoldStatus::Voided);

        let h3 = mk(70, Some(clock.now_ms() + 300));
        e.submit_one(Command::Hold(h3.clone())).await.unwrap();
        clock.advance_ms(299);
        let early = Command::PostHold {
            hold_id: h3.id,
            entry_id: EntryId(Uuid::new_v4()),
            amount_minor: Some(1),
            memo: String::new(),
        };
        // Not yet expired: a post goes through (and releases the hold), so use another.
        let Outcome::Entry(..) = e.submit_one(early).await.unwrap() else {
            panic!("{}: a hold 1 ms before its expiry posts", ts.name)
        };
        let h3 = mk(70, Some(clock.now_ms() + 1));
        e.submit_one(Command::Hold(h3.clone())).await.unwrap();
        clock.advance_ms(1);
        let late = Command::PostHold {
            hold_id: h3.id,
            entry_id: EntryId(Uuid::new_v4()),
            amount_minor: None,
            memo: String::new(),
        };
        let err = rejected(e.submit_one(late).await);
        assert!(
            matches!(
                err,
                LedgerError::HoldExpired { .. }
                    | LedgerError::HoldNotPending {
                        status: "expired",
                        ..
                    }
            ),
            "{}: {err}",
            ts.name
        );
        // The writer sweeps as soon as the clock moves; its commit is awaited here.
        let mut swept = false;
        for _ in 0..500 {
            if e.hold(h3.id).await.unwrap().unwrap().status == HoldStatus::Expired {
                swept = true;
                break;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(swept, "{}: the sweeper expired it", ts.name);
        assert_eq!(balances(&e, a).await.debits_pending_minor, 0, "{}", ts.name);
        let report = engine::verify(&ts.store, |_| {}).await.unwrap();
        assert!(report.ok(), "{}: {report:?}", ts.name);
    }
}

/// Posting a pending hold is applied without looking its ids up in storage first; an entry
/// id that another entry already took must still be refused, and the hold stay pending.
#[tokio::test]
async fn a_hold_posted_under_a_taken_entry_id_is_refused() {
    for (ts, e) in engines().await {
        let (a, b) = (
            account(&e, None, Currency::Cny).await,
            account(&e, None, Currency::Cny).await,
        );
        let taken = Uuid::new_v4();
        e.submit_one(Command::Entry(transfer(taken, a, b, 5)))
            .await
            .unwrap();
        let hold = HoldRequest {
            id: HoldId(Uuid::new_v4()),
            currency: Currency::Cny,
            debit_account_id: a,
            credit_account_id: b,
            amount_minor: 40,
            expires_at_ms: None,
            memo: String::new(),
        };
        e.submit_one(Command::Hold(hold.clone())).await.unwrap();
        let post = |entry_id| Command::PostHold {
            hold_id: hold.id,
            entry_id: EntryId(entry_id),
            amount_minor: None,
            memo: String::new(),
        };
        let err = rejected(e.submit_one(post(taken)).await);
        assert!(
            matches!(err, LedgerError::IdConflict { .. }),
            "{}: {err}",
            ts.name
        );
        assert_eq!(
            e.hold(hold.id).await.unwrap().unwrap().status,
            HoldStatus::Pending,
            "{}",
            ts.name
        );
        assert_eq!(
            balances(&e, a).await.debits_pending_minor,
            40,
            "{}",
            ts.name
        );
        let Outcome::Entry(rec, false) = e.submit_one(post(Uuid::new_v4())).await.unwrap() else {
            panic!("{}: a fresh id posts it", ts.name)
        };
        assert_eq!(rec.postings[0].amount_minor, 40);
        let report = engine::verify(&ts.store, |_| {}).await.unwrap();
        assert!(report.ok(), "{}: {report:?}", ts.name);
    }
}

#[tokio::test]
async fn reversals_undo_once() {
    for (ts, e) in engines().await {
        let (a, b) = (
            account(&e, None, Currency::Cny).await,
            account(&e, None, Currency::Cny).await,
        );
        let orig = transfer(Uuid::new_v4(), a, b, 250);
        e.submit_one(Command::Entry(orig.clone())).await.unwrap();
        let rev = Command::Reverse {
            original: orig.id,
            reversal_id: EntryId(Uuid::new_v4()),
            memo: "error".into(),
        };
        e.submit_one(rev.clone()).await.unwrap();
        let Outcome::Entry(_, true) = e.submit_one(rev).await.unwrap() else {
            panic!("{}: replay", ts.name)
        };
        let again = Command::Reverse {
            original: orig.id,
            reversal_id: EntryId(Uuid::new_v4()),
            memo: String::new(),
        };
        assert!(matches!(
            rejected(e.submit_one(again).await),
            LedgerError::AlreadyReversed { .. }
        ));
        let bal = balances(&e, a).await;
        assert_eq!(
            bal.debits_posted_minor, bal.credits_posted_minor,
            "{}: net zero",
            ts.name
        );
    }
}

#[tokio::test]
async fn restart_rebuilds_the_same_tree() {
    for (ts, e) in engines().await {
        let (a, b) = (
            account(&e, None, Currency::Cny).await,
            account(&e, None, Currency::Cny).await,
        );
        for i in 1..=25 {
            e.submit_one(Command::Entry(transfer(Uuid::new_v4(), a, b, i)))
                .await
                .unwrap();
        }
        let head = e.tree_head();
        drop(e);
        let e2 = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .unwrap();
        let head2 = e2.tree_head();
        assert_eq!(
            (head.tree_size, head.root_hash),
            (head2.tree_size, head2.root_hash),
            "{}",
            ts.name
        );
        assert_eq!(
            head.public_key, head2.public_key,
            "{}: signing key persists",
            ts.name
        );
        e2.submit_one(Command::Entry(transfer(Uuid::new_v4(), a, b, 1)))
            .await
            .unwrap();
        let proof = e2.consistency(25, 26).unwrap();
        let new_head = e2.tree_head();
        assert!(ledger::merkle::verify_consistency(
            25,
            26,
            &head.root_hash,
            &new_head.root_hash,
            &proof
        ));
    }
}

/// Every entry an account took part in, in order, read page by page.
async fn listed(e: &Engine, id: AccountId, page: u32) -> Vec<EntryId> {
    let (mut out, mut after) = (Vec::new(), None);
    loop {
        let got = e.store().entries_by_account(id, after, page).await.unwrap();
        let Some(last) = got.last() else { break };
        after = Some(last.seq);
        out.extend(got.iter().map(|r| r.id));
    }
    out
}

/// Listing by account is right on both sides of the SQLite account index's watermark (it
/// indexes tens of thousands of entries at once), including entries that post twice to one
/// account, and again after an old data directory's SQL index is moved into the table.
#[tokio::test]
async fn entries_by_account_span_the_account_index() {
    for (ts, e) in engines().await {
        let (a, b, c) = (
            account(&e, None, Currency::Cny).await,
            account(&e, None, Currency::Cny).await,
            account(&e, None, Currency::Cny).await,
        );
        let (mut of_a, mut of_c) = (Vec::new(), Vec::new());
        for batch in 0..90 {
            let mut commands = Vec::new();
            for i in 0..512 {
                let id = Uuid::now_v7();
                let mut r = transfer(id, a, b, 1 + i);
                if (batch * 512 + i) % 7 == 0 {
                    // Twice to `c` in one entry: listed once.
                    r = transfer(id, c, b, 2);
                    r.postings.push(Posting {
                        account_id: c,
                        direction: Side::Debit,
                        amount_minor: 1,
                    });
                    r.postings[1].amount_minor = 3;
                    of_c.push(EntryId(id));
                } else {
                    of_a.push(EntryId(id));
                }
                commands.push(Command::Entry(r));
            }
            e.submit(commands).await.expect("batch posts");
        }
        assert_eq!(listed(&e, a, 1000).await, of_a, "{}", ts.name);
        assert_eq!(listed(&e, c, 333).await, of_c, "{}", ts.name);
        assert_eq!(listed(&e, b, 5000).await.len(), 90 * 512, "{}", ts.name);
        if ts.name == "sqlite" {
            e.store()
                .execute_raw("CREATE INDEX postings_by_account ON postings (account_id, seq)")
                .await
                .unwrap();
            e.store().migrate().await.unwrap();
            let marked = e
                .store()
                .execute_raw(&format!(
                    "UPDATE account_index_mark SET through_seq = through_seq WHERE through_seq = {}",
                    90 * 512
                ))
                .await
                .unwrap();
            assert_eq!(marked, 1, "every entry is indexed after the move");
            assert_eq!(listed(&e, a, 1000).await, of_a);
            assert_eq!(listed(&e, c, 7).await, of_c);
            let clean = engine::verify(e.store(), |_| {}).await.unwrap();
            assert!(clean.ok(), "{:?}", clean.bad_account_index);
            e.store()
                .execute_raw("DELETE FROM account_entries WHERE seq = 5")
                .await
                .unwrap();
            let report = engine::verify(e.store(), |_| {}).await.unwrap();
            assert!(!report.ok(), "a dropped index row fails verification");
            assert_eq!(
                report.bad_account_index.len(),
                2,
                "both accounts of entry 5"
            );
            assert!(report.bad_account_index[0].contains("seq 5 "));
        }
    }
}

/// Whether a SQLite watermark (`account_index_mark`, `balance_mark`) is exactly at `seq`.
async fn mark_is(store: &store::Store, table: &str, seq: u64) -> bool {
    store
        .execute_raw(&format!(
            "UPDATE {table} SET through_seq = through_seq WHERE through_seq = {seq}"
        ))
        .await
        .unwrap()
        == 1
}

async fn index_mark_is(store: &store::Store, seq: u64) -> bool {
    mark_is(store, "account_index_mark", seq).await
}

/// A SQLite store with an engine and two accounts.
async fn sqlite_with_two_accounts() -> (testkit::TestStore, Engine, AccountId, AccountId) {
    let ts = testkit::sqlite();
    let e = Engine::start(ts.store.clone(), EngineConfig::default())
        .await
        .unwrap();
    let a = account(&e, None, Currency::Cny).await;
    let b = account(&e, None, Currency::Cny).await;
    (ts, e, a, b)
}

/// SQLite indexes postings by account in cycles, a slice per later commit: a finished cycle
/// moves the watermark past itself, a cycle half written is listed right, and a store opened
/// again indexes, in its first commit, whatever the last one left unindexed.
#[tokio::test]
async fn sqlite_account_index_cycles_finish_and_resume_after_reopening() {
    let (ts, e, a, b) = sqlite_with_two_accounts().await;
    let mut ids = Vec::new();
    // Two postings each: 80 × 1,024 entries are 2.5 cycles of 65,536 postings.
    for _ in 0..80 {
        let batch: Vec<Uuid> = (0..1024).map(|_| Uuid::now_v7()).collect();
        let commands = batch
            .iter()
            .map(|id| Command::Entry(transfer(*id, a, b, 1)))
            .collect();
        e.submit(commands).await.unwrap();
        ids.extend(batch.into_iter().map(EntryId));
    }
    // The first cycle (entries 0..32,768) froze after 32 commits and was written by the 64th;
    // the second froze then and is half written.
    assert!(index_mark_is(e.store(), 32 * 1024).await);
    assert_eq!(listed(&e, a, 5000).await, ids);
    let report = engine::verify(e.store(), |_| {}).await.unwrap();
    assert!(report.ok(), "{:?}", report.bad_account_index);
    drop(e);
    let reopened = store::Store::open_sqlite(std::path::Path::new(&ts.location)).unwrap();
    let e = Engine::start(reopened.clone(), EngineConfig::default())
        .await
        .unwrap();
    let id = Uuid::now_v7();
    e.submit_one(Command::Entry(transfer(id, b, a, 7)))
        .await
        .unwrap();
    ids.push(EntryId(id));
    assert!(
        index_mark_is(&reopened, 80 * 1024).await,
        "the first commit indexed everything before it"
    );
    assert_eq!(listed(&e, a, 777).await, ids);
    assert_eq!(listed(&e, b, 4096).await, ids);
    let report = engine::verify(&reopened, |_| {}).await.unwrap();
    assert!(report.ok(), "{:?}", report.bad_account_index);
}

/// Whether SQLite's row of `id` holds exactly these posted and pending balances.
async fn row_holds(store: &store::Store, id: AccountId, b: ledger::Balances) -> bool {
    let sql = format!(
        "UPDATE accounts SET balances_seq = balances_seq WHERE id = x'{}' AND debits_posted = {} AND credits_posted = {} AND debits_pending = {} AND credits_pending = {}",
        id.0.simple(),
        b.debits_posted_minor,
        b.credits_posted_minor,
        b.debits_pending_minor,
        b.credits_pending_minor
    );
    store.execute_raw(&sql).await.unwrap() == 1
}

fn posted(debits_minor: i64, credits_minor: i64, pending_debits_minor: i64) -> ledger::Balances {
    ledger::Balances {
        debits_posted_minor: debits_minor,
        credits_posted_minor: credits_minor,
        debits_pending_minor: pending_debits_minor,
        credits_pending_minor: 0,
    }
}

/// SQLite writes an account's row only after it has lagged its postings for a while:
/// meanwhile reads see the latest balances, a store opened again (as after a crash, nothing
/// written on the way out) rebuilds them from the postings and pending holds, and a data
/// directory from before rows could lag is taken as exact.
#[tokio::test]
async fn sqlite_balances_lag_their_rows_and_recover_after_reopening() {
    let (ts, e, a, b) = sqlite_with_two_accounts().await;
    for amount in 1..=20 {
        e.submit_one(Command::Entry(transfer(Uuid::now_v7(), a, b, amount)))
            .await
            .unwrap();
    }
    let hold = HoldId(Uuid::now_v7());
    e.submit_one(Command::Hold(HoldRequest {
        id: hold,
        currency: Currency::Cny,
        debit_account_id: a,
        credit_account_id: b,
        amount_minor: 100,
        expires_at_ms: None,
        memo: String::new(),
    }))
    .await
    .unwrap();
    let a_now = posted(210, 0, 100);
    assert_eq!(balances(&e, a).await, a_now);
    assert!(
        row_holds(e.store(), a, posted(0, 0, 0)).await,
        "the row still lags"
    );
    assert_eq!(e.store().trial_balance().await.unwrap()[0].1, 210);
    drop(e);

    let reopened = store::Store::open_sqlite(std::path::Path::new(&ts.location)).unwrap();
    let e = Engine::start(reopened.clone(), EngineConfig::default())
        .await
        .unwrap();
    assert_eq!(balances(&e, a).await, a_now, "rebuilt from the postings");
    assert_eq!(balances(&e, b).await.credits_posted_minor, 210);
    assert!(engine::verify(&reopened, |_| {}).await.unwrap().ok());
    e.submit_one(Command::VoidHold { hold_id: hold })
        .await
        .unwrap();
    assert!(
        row_holds(&reopened, a, posted(210, 0, 0)).await,
        "the first commit wrote the rows left behind"
    );
    e.submit_one(Command::Entry(transfer(Uuid::now_v7(), a, b, 5)))
        .await
        .unwrap();
    let a_now = posted(215, 0, 0);
    assert_eq!(balances(&e, a).await, a_now);
    assert!(
        row_holds(&reopened, a, posted(210, 0, 0)).await,
        "lags again"
    );
    // Past the lag allowed, the next commit writes the row, whatever it touches.
    tokio::time::sleep(store::SQLITE_BALANCE_ROW_LAG + std::time::Duration::from_millis(100)).await;
    account(&e, None, Currency::Cny).await;
    assert!(row_holds(&reopened, a, a_now).await, "the row caught up");
    assert!(
        mark_is(&reopened, "balance_mark", 21).await,
        "no row lags any of the 21 entries"
    );
    drop(e);

    // A directory from before: no `balances_seq`, every row exact.
    reopened
        .execute_raw("ALTER TABLE accounts DROP COLUMN balances_seq")
        .await
        .unwrap();
    reopened
        .execute_raw("UPDATE balance_mark SET through_seq = 0")
        .await
        .unwrap();
    let old = store::Store::open_sqlite(std::path::Path::new(&ts.location)).unwrap();
    let e = Engine::start(old.clone(), EngineConfig::default())
        .await
        .unwrap();
    assert_eq!(balances(&e, a).await, a_now);
    assert!(engine::verify(&old, |_| {}).await.unwrap().ok());
}

/// A change that depends on a document without rewriting it names the version it read
/// (`DocAt`): committed while the document is at that version, refused once it moved on,
/// whether the writer knows the version from this group or only storage does.
#[tokio::test]
async fn a_change_naming_a_document_version_needs_that_version() {
    for (ts, e) in engines().await {
        let id = Uuid::new_v4();
        let row = |version| store::DocRow {
            kind: "test".into(),
            id,
            tenant: "t".into(),
            parent: None,
            open: false,
            day: 0,
            version,
            body: b"{}".to_vec(),
        };
        let write = |version, expected_version| store::DomainWrite::Doc {
            row: row(version),
            expected_version,
        };
        let at = |version| store::DomainWrite::DocAt { id, version };
        e.submit_with(Vec::new(), vec![write(1, None)])
            .await
            .unwrap();
        e.submit_with(Vec::new(), vec![at(1)])
            .await
            .unwrap_or_else(|err| panic!("{}: at its version: {err}", ts.name));
        e.submit_with(Vec::new(), vec![write(2, Some(1))])
            .await
            .unwrap();
        for stale in [at(1), at(3)] {
            let r = e.submit_with(Vec::new(), vec![stale]).await;
            assert!(
                matches!(r, Err(EngineError::StaleDoc { id: s }) if s == id),
                "{}: {r:?}",
                ts.name
            );
        }
        let missing = store::DomainWrite::DocAt {
            id: Uuid::new_v4(),
            version: 1,
        };
        let r = e.submit_with(Vec::new(), vec![missing]).await;
        assert!(
            matches!(r, Err(EngineError::StaleDoc { .. })),
            "{}: {r:?}",
            ts.name
        );
        e.submit_with(Vec::new(), vec![at(2)]).await.unwrap();
    }
}
