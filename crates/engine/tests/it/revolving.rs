//! Revolving credit on SQLite and PostgreSQL: authorizations never exceed the limit under
//! concurrency, purchases pay merchants (never borrowers), statements and settlement run in
//! close of business, refused requests change nothing.

use engine::cob::{self, CobConfig};
use engine::loans;
use engine::revolving::{
    self as rc, BorrowerKind, NewLine, NewMerchant, NewPurchase, Platform, RevolvingError,
};
use engine::{Engine, EngineConfig};
use money::{BusinessDate, Currency, Decimal};
use revolving::{LimitRules, Purpose, Terms};
use uuid::Uuid;

async fn engines() -> Vec<(testkit::TestStore, Engine)> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let e = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .expect("start engine");
        loans::init_business_date(&e, d("2026-01-05"))
            .await
            .unwrap();
        out.push((ts, e));
    }
    out
}

fn d(s: &str) -> BusinessDate {
    s.parse().unwrap()
}

const T: &str = "t1";

async fn merchant(e: &Engine, rate: &str) -> Uuid {
    let id = Uuid::now_v7();
    rc::create_merchant(
        e,
        T,
        NewMerchant {
            id,
            name: "Tea house".into(),
            currency: Currency::Cny,
            discount_rate: rate.parse().unwrap(),
            settlement_account: "bank:6222-0001".into(),
        },
    )
    .await
    .unwrap();
    id
}

async fn line(e: &Engine, limit_minor: i64) -> Uuid {
    let borrower = Uuid::now_v7();
    rc::create_borrower(e, borrower, T, BorrowerKind::Individual, "Li Lei".into())
        .await
        .unwrap();
    let id = Uuid::now_v7();
    rc::open_line(
        e,
        T,
        NewLine {
            id,
            borrower_id: borrower,
            limit_minor,
            terms: Terms::standard(Currency::Cny),
            rules: LimitRules::default(),
        },
    )
    .await
    .unwrap();
    id
}

fn purchase(line_id: Uuid, merchant_id: Uuid, amount_minor: i64) -> NewPurchase {
    NewPurchase {
        id: Uuid::now_v7(),
        line_id,
        merchant_id,
        currency: Currency::Cny,
        amount_minor,
    }
}

async fn balance(e: &Engine, id: ledger::AccountId) -> (i64, i64, i64) {
    let a = e.account(id).await.unwrap().unwrap();
    let b = a.balances;
    (
        b.debits_posted_minor,
        b.credits_posted_minor,
        b.debits_pending_minor,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_concurrent_authorizations_approve_exactly_fifty() {
    for (ts, e) in engines().await {
        let m = merchant(&e, "0.008").await;
        let l = line(&e, 500_000).await;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..500 {
            let e = e.clone();
            tasks.spawn(async move { rc::authorize(&e, T, purchase(l, m, 10_000)).await });
        }
        let (mut approved, mut declined) = (0, 0);
        while let Some(r) = tasks.join_next().await {
            match r.unwrap() {
                Ok(_) => approved += 1,
                Err(RevolvingError::Declined { reason, .. }) => {
                    assert_eq!(reason, "insufficient_available_limit");
                    declined += 1
                }
                Err(other) => panic!("{}: {other}", ts.name),
            }
        }
        assert_eq!((approved, declined), (50, 450), "{}", ts.name);
        let v = rc::line(&e, T, l).await.unwrap();
        assert_eq!(v.held_minor, 500_000, "{}", ts.name);
        assert_eq!(v.available_minor, 0, "{}", ts.name);
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(
            report.first_bad_entry.is_none() && report.bad_accounts.is_empty(),
            "{}: {report:?}",
            ts.name
        );
    }
}

/// One-step sales share the limit as authorizations do: 500 concurrent sales of 100.00
/// against 5,000.00 sell exactly 50, and each is captured, traced, replayable and refundable.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_step_sales_take_the_limit_exactly_once() {
    for (ts, e) in engines().await {
        let m = merchant(&e, "0.008").await;
        let l = line(&e, 500_000).await;
        let before = e.tree_head().tree_size;
        let err = rc::sale(&e, T, purchase(l, m, 500_001)).await.unwrap_err();
        assert!(matches!(err, RevolvingError::Declined { .. }), "{err}");
        let err = rc::sale(&e, T, purchase(Uuid::now_v7(), m, 100))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, RevolvingError::Invalid { field, .. } if field == "credit_line_id"),
            "{err}"
        );
        assert_eq!(
            e.tree_head().tree_size,
            before,
            "{}: refusals store nothing",
            ts.name
        );
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..500 {
            let e = e.clone();
            tasks.spawn(async move { rc::sale(&e, T, purchase(l, m, 10_000)).await });
        }
        let (mut sold, mut declined) = (Vec::new(), 0);
        while let Some(r) = tasks.join_next().await {
            match r.unwrap() {
                Ok((p, replayed)) => {
                    assert!(!replayed);
                    assert_eq!(p.status, rc::PurchaseStatus::Captured);
                    assert_eq!(p.captured_minor, 10_000);
                    sold.push(p.id);
                }
                Err(RevolvingError::Declined { .. }) => declined += 1,
                Err(other) => panic!("{}: {other}", ts.name),
            }
        }
        assert_eq!((sold.len(), declined), (50, 450), "{}", ts.name);
        let v = rc::line(&e, T, l).await.unwrap();
        assert_eq!((v.available_minor, v.held_minor), (0, 0), "{}", ts.name);
        assert_eq!(v.doc.line.used_minor, 500_000);
        // The same sale again is a replay; a refund brings the limit back.
        let again = purchase(l, m, 10_000);
        let again = rc::NewPurchase {
            id: sold[0],
            ..again
        };
        let (p, replayed) = rc::sale(&e, T, again).await.unwrap();
        assert!(replayed && p.captured_minor == 10_000);
        rc::refund(&e, T, sold[0], Uuid::now_v7(), 10_000)
            .await
            .unwrap();
        assert_eq!(rc::line(&e, T, l).await.unwrap().available_minor, 10_000);
        // The line as this process remembers it is now behind the stored one: the sale's
        // version check fails, the line is read again, and the sale goes through.
        e.store()
            .execute_raw("UPDATE docs SET version = version + 1 WHERE kind = 'line'")
            .await
            .unwrap();
        let stored = rc::line(&e, T, l).await.unwrap().version;
        rc::sale(&e, T, purchase(l, m, 10_000)).await.unwrap();
        assert_eq!(rc::line(&e, T, l).await.unwrap().version, stored + 1);
        let (_, _, steps) = rc::trace(&e, T, sold[1]).await.unwrap();
        let names: Vec<_> = steps.iter().map(|s| s.step).collect();
        assert_eq!(names, ["limit_used", "capture"], "{}", ts.name);
        // One entry took the limit and captured: available → used, receivable ← payable.
        assert_eq!(steps[0].entry_id, steps[1].entry_id);
        let sale = e.entry(steps[0].entry_id).await.unwrap().unwrap();
        assert_eq!(sale.postings.len(), 4);
        assert_eq!(
            sale.postings[0].account_id,
            rc::line_account(&v.doc, Purpose::Available)
        );
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(report.ok(), "{}: {report:?}", ts.name);
    }
}

#[tokio::test]
async fn a_purchase_pays_the_merchant_and_is_traced_to_settlement() {
    for (ts, e) in engines().await {
        let m = merchant(&e, "0.008").await;
        let l = line(&e, 500_000).await;
        let p = purchase(l, m, 120_000);
        let pid = p.id;
        rc::authorize(&e, T, p).await.unwrap();
        let v = rc::line(&e, T, l).await.unwrap();
        assert_eq!((v.available_minor, v.held_minor), (380_000, 120_000));
        // Partial capture releases the rest of the hold.
        let (captured, _) = rc::capture(&e, T, pid, Some(100_000)).await.unwrap();
        assert_eq!(captured.captured_minor, 100_000);
        let v = rc::line(&e, T, l).await.unwrap();
        assert_eq!(
            (v.available_minor, v.held_minor),
            (400_000, 0),
            "{}",
            ts.name
        );
        assert_eq!(v.doc.line.used_minor, 100_000);
        // Close of business settles the merchant: 100,000 less 0.8% from the funder's cash.
        cob::close_business_day(&e, CobConfig::default(), &|_| {})
            .await
            .unwrap();
        let payable = rc::merchant_payable(m, Currency::Cny);
        assert_eq!(balance(&e, payable).await, (100_000, 100_000, 0));
        let cash = rc::platform_account(T, Currency::Cny, Platform::FunderCash);
        assert_eq!(balance(&e, cash).await, (0, 99_200, 0), "{}", ts.name);
        let (_, _, steps) = rc::trace(&e, T, pid).await.unwrap();
        let names: Vec<_> = steps.iter().map(|s| s.step).collect();
        assert_eq!(names, ["limit_used", "capture", "merchant_settlement"]);
        for s in &steps {
            let proof = e.proof(s.entry_id).await.unwrap().unwrap();
            let leaf = ledger::merkle::leaf_hash(&proof.leaf_data);
            assert!(ledger::merkle::verify_inclusion(
                proof.leaf_index,
                proof.tree_head.tree_size,
                &leaf,
                &proof.audit_path,
                &proof.tree_head.root_hash,
            ));
        }
        // The borrower's accounts never receive cash: the capture debits the line's
        // receivable and credits the merchant.
        let capture = e.entry(rc::capture_entry(pid)).await.unwrap().unwrap();
        let line = rc::line(&e, T, l).await.unwrap().doc;
        let receivable = rc::line_account(&line, Purpose::PrincipalReceivable);
        for p in &capture.postings {
            match p.direction {
                ledger::Side::Debit => assert_eq!(p.account_id, receivable),
                ledger::Side::Credit => assert_eq!(p.account_id, payable),
            }
        }
    }
}

#[tokio::test]
async fn refused_requests_change_nothing() {
    for (ts, e) in engines().await {
        let m = merchant(&e, "0.01").await;
        let l = line(&e, 100_000).await;
        let before = e.tree_head().tree_size;
        // Above the available limit.
        let err = rc::authorize(&e, T, purchase(l, m, 100_001))
            .await
            .unwrap_err();
        assert!(matches!(err, RevolvingError::Declined { .. }), "{err}");
        // Unknown merchant.
        let err = rc::authorize(&e, T, purchase(l, Uuid::now_v7(), 100))
            .await
            .unwrap_err();
        assert!(matches!(&err, RevolvingError::Invalid { field, .. } if field == "merchant_id"));
        // Capture more than authorized; refund more than captured.
        let p = purchase(l, m, 5_000);
        let pid = p.id;
        rc::authorize(&e, T, p).await.unwrap();
        let err = rc::capture(&e, T, pid, Some(5_001)).await.unwrap_err();
        assert!(matches!(&err, RevolvingError::Invalid { field, .. } if field == "amount_minor"));
        rc::capture(&e, T, pid, None).await.unwrap();
        let size = e.tree_head().tree_size;
        let err = rc::refund(&e, T, pid, Uuid::now_v7(), 5_001)
            .await
            .unwrap_err();
        assert!(matches!(&err, RevolvingError::Invalid { field, .. } if field == "amount_minor"));
        // Installment terms not offered.
        let err = rc::convert_purchase(&e, T, pid, 5, revolving::FeePayer::Borrower)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            RevolvingError::Line(revolving::LineError::TermNotOffered { .. })
        ));
        assert_eq!(e.tree_head().tree_size, size, "{}", ts.name);
        // A frozen line authorizes nothing.
        rc::change_line(
            &e,
            T,
            l,
            Uuid::now_v7(),
            rc::LimitAction::Freeze,
            "fraud alert".into(),
        )
        .await
        .unwrap();
        let err = rc::authorize(&e, T, purchase(l, m, 100)).await.unwrap_err();
        assert!(matches!(
            err,
            RevolvingError::Conflict {
                code: "line_frozen",
                ..
            }
        ));
        assert!(before < e.tree_head().tree_size);
        let v = rc::line(&e, T, l).await.unwrap();
        assert_eq!(v.doc.line.used_minor, 5_000);
        assert_eq!(v.held_minor, 0);
    }
}

#[tokio::test]
async fn refund_restores_limit_and_merchant_nets_it() {
    for (ts, e) in engines().await {
        let m = merchant(&e, "0.01").await;
        let l = line(&e, 100_000).await;
        let p = purchase(l, m, 40_000);
        let pid = p.id;
        rc::authorize(&e, T, p).await.unwrap();
        rc::capture(&e, T, pid, None).await.unwrap();
        let rid = Uuid::now_v7();
        rc::refund(&e, T, pid, rid, 10_000).await.unwrap();
        // The same refund again is a replay, not a second refund.
        let (after, replayed) = rc::refund(&e, T, pid, rid, 10_000).await.unwrap();
        assert!(replayed);
        assert_eq!(after.refunded_minor, 10_000);
        let v = rc::line(&e, T, l).await.unwrap();
        assert_eq!(v.available_minor, 70_000, "{}", ts.name);
        assert_eq!(v.doc.line.unbilled_principal_minor, 30_000);
        cob::close_business_day(&e, CobConfig::default(), &|_| {})
            .await
            .unwrap();
        // Settled on the net 30,000 less 1%.
        let cash = rc::platform_account(T, Currency::Cny, Platform::FunderCash);
        assert_eq!(balance(&e, cash).await, (0, 29_700, 0), "{}", ts.name);
        let income = rc::platform_account(T, Currency::Cny, Platform::DiscountIncome);
        assert_eq!(balance(&e, income).await, (0, 300, 0));
    }
}

#[tokio::test]
async fn installments_disclose_their_apr_and_statements_bill_parts() {
    let apr3 = revolving::installment_apr_percent(Currency::Cny, 3, Decimal::new(25, 3)).unwrap();
    let apr12 = revolving::installment_apr_percent(Currency::Cny, 12, Decimal::new(88, 3)).unwrap();
    assert_eq!(
        (apr3.to_string(), apr12.to_string()),
        ("14.94".into(), "15.86".into())
    );
    for (ts, e) in engines().await {
        let m = merchant(&e, "0.006").await;
        let l = line(&e, 1_000_000).await;
        let p = purchase(l, m, 300_000);
        let pid = p.id;
        rc::authorize(&e, T, p).await.unwrap();
        rc::capture(&e, T, pid, None).await.unwrap();
        rc::convert_purchase(&e, T, pid, 3, revolving::FeePayer::Borrower)
            .await
            .unwrap();
        // From 2026-01-05 to the statement day 2026-02-01.
        for _ in 0..27 {
            cob::close_business_day(&e, CobConfig::default(), &|_| {})
                .await
                .unwrap();
        }
        let v = rc::line(&e, T, l).await.unwrap();
        assert_eq!(v.doc.line.business_date, d("2026-02-01"));
        let s = v.doc.line.statements.last().expect("a statement");
        // One third of the principal and of the 2.5% fee.
        assert_eq!(s.installment_principal_minor, 100_000, "{}", ts.name);
        assert_eq!(s.installment_fee_minor, 2_500);
        assert_eq!(s.total_minor, 102_500);
        rc::repay(&e, T, l, Uuid::now_v7(), s.total_minor)
            .await
            .unwrap();
        let v = rc::line(&e, T, l).await.unwrap();
        assert_eq!(v.doc.line.used_minor, 200_000);
        assert_eq!(v.available_minor, 800_000);
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(
            report.first_bad_entry.is_none() && report.bad_accounts.is_empty(),
            "{}: {report:?}",
            ts.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_of_a_small_book_keeps_every_promise() {
    use engine::rc_simulation::{self, RcSimConfig};
    for ts in testkit::all_stores().await {
        let e = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .unwrap();
        let config = RcSimConfig {
            lines: 40,
            merchants: 5,
            days: 365,
            seed: 7,
            start: d("2026-01-01"),
        };
        let r = rc_simulation::run(&e, config, &|_| {}).await.unwrap();
        assert_eq!(r.balanced_days, 365, "{}", ts.name);
        assert!(
            r.purchases > 2_000 && r.refunds > 10 && r.conversions > 50,
            "{r:?}"
        );
        assert!(r.statements >= 40 * 11, "{r:?}");
        assert!(r.full_payer_lines > 5, "{r:?}");
        assert_eq!(r.full_payer_interest_minor, 0, "{}: {r:?}", ts.name);
        assert!(r.other_interest_minor > 0, "{r:?}");
        assert!(
            r.funder_outflow_entries > 0 && r.funder_outflow_minor > 0,
            "{r:?}"
        );
    }
}
