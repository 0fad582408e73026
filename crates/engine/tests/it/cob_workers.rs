//! Close of business shared with worker processes (PostgreSQL): whoever reads a partition,
//! the day ends in the same loan states and balances, and a worker that dies holding a
//! partition gives it back.

use engine::cob::{self, workers as cob_workers, CobConfig};
use engine::loans::{self, Action, Application};
use engine::simulation;
use engine::{Engine, EngineConfig};
use lending::loan::{AccountPurpose, LoanConfig};
use lending::LoanProduct;
use money::{BusinessDate, Currency, Money};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use uuid::Uuid;

const LOANS: u128 = 300;
const DAYS: u32 = 35;

fn d(s: &str) -> BusinessDate {
    s.parse().unwrap()
}

fn loan_id(i: u128) -> Uuid {
    Uuid::from_u128(i * 7_919 + 1)
}

/// A fresh PostgreSQL store with `LOANS` disbursed loans of several terms.
async fn seeded() -> (testkit::TestStore, Engine) {
    let ts = testkit::postgres().await;
    let e = Engine::start(ts.store.clone(), EngineConfig::default())
        .await
        .unwrap();
    let start = d("2026-03-01");
    loans::init_business_date(&e, start).await.unwrap();
    for i in 0..LOANS {
        let amount = Money::from_minor(100_000 + i as i64 * 1_000, Currency::Cny);
        let config =
            LoanConfig::from_product(&LoanProduct::example_cny(), amount, 1 + (i % 6) as u32, 90)
                .unwrap();
        let app = Application {
            id: loan_id(i),
            tenant: "t1".into(),
            borrower: format!("b{i}"),
            product_id: Uuid::nil(),
            product_version: 1,
            config,
            decision_id: None,
        };
        loans::apply_for_loan(&e, app).await.unwrap();
        loans::decide(&e, loan_id(i), true).await.unwrap();
        let key = Uuid::from_u128((i + 1) << 64);
        loans::execute(&e, loan_id(i), Action::Disburse { payee: None }, start, key)
            .await
            .unwrap();
    }
    (ts, e)
}

type Snapshot = (Vec<(i32, Vec<u8>)>, Vec<(String, i64, i64)>);

/// Every loan's row and every loan and tenant account's sums.
async fn snapshot(e: &Engine) -> Snapshot {
    use AccountPurpose::*;
    let purposes = [
        PrincipalReceivable,
        InterestReceivable,
        FeeReceivable,
        PenaltyReceivable,
        Overpayment,
        InterestIncome,
        FeeIncome,
        PenaltyIncome,
        BorrowerCash,
        Suspense,
        WriteOffExpense,
        AccruedInterest,
    ];
    let mut rows = Vec::new();
    let mut sums = Vec::new();
    for owner in (0..LOANS).map(loan_id).chain([Uuid::nil()]) {
        for p in purposes {
            let id = loans::account_id(owner, "t1", Currency::Cny, p);
            if let Some(a) = e.account(id).await.unwrap() {
                let b = a.balances;
                sums.push((
                    format!("{owner}/{p:?}"),
                    b.debits_posted_minor,
                    b.credits_posted_minor,
                ));
            }
        }
        if !owner.is_nil() {
            simulation::check_loan(e, owner).await.unwrap();
            let v = loans::load(e, owner).await.unwrap();
            rows.push((v.row.day, v.row.state));
        }
    }
    simulation::check_accrued_interest(e, "t1", Currency::Cny, (0..LOANS).map(loan_id))
        .await
        .unwrap();
    assert!(engine::verify(e.store(), |_| {}).await.unwrap().ok());
    (rows, sums)
}

async fn close_days(e: &Engine) {
    for _ in 0..DAYS {
        let (_, r) = cob::close_business_day(e, CobConfig::default(), &|_| {})
            .await
            .unwrap();
        assert_eq!(
            r.partitions_done,
            store::LOAN_PARTITIONS,
            "the day closes whole"
        );
    }
}

/// Workers on their own connection pools, as separate processes would be, planning until
/// told to stop; returns the partitions they planned.
fn workers(url: &str, n: usize, stop: Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<u64>> {
    (0..n)
        .map(|_| {
            let (url, stop) = (url.to_string(), stop.clone());
            tokio::spawn(async move {
                let store = Store::connect_postgres(&url).await.unwrap();
                let mut planned = 0;
                while !stop.load(Ordering::Relaxed) {
                    match cob_workers::work_once(&store, 64).await.unwrap() {
                        Some(_) => planned += 1,
                        None => tokio::time::sleep(Duration::from_millis(2)).await,
                    }
                }
                planned
            })
        })
        .collect()
}

/// The books after the same days closed by the writer alone, to compare with.
async fn closed_alone() -> Snapshot {
    let (_store, alone) = seeded().await;
    close_days(&alone).await;
    snapshot(&alone).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_share_close_of_business_and_change_none_of_its_result() {
    if testkit::skip_postgres() {
        return;
    }
    let expected = closed_alone().await;

    let (shared_store, shared) = seeded().await;
    let stop = Arc::new(AtomicBool::new(false));
    let helpers = workers(&shared_store.location, 2, stop.clone());
    close_days(&shared).await;
    stop.store(true, Ordering::Relaxed);
    let mut planned = 0;
    for h in helpers {
        planned += h.await.unwrap();
    }
    assert!(planned > 0, "the workers planned some partitions");
    assert!(
        planned < u64::from(DAYS * store::LOAN_PARTITIONS),
        "and the writer read some itself"
    );
    let got = snapshot(&shared).await;
    assert_eq!(got.0, expected.0, "the same loan states");
    assert_eq!(got.1, expected.1, "the same balances");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_that_dies_holding_a_partition_gives_it_back() {
    if testkit::skip_postgres() {
        return;
    }
    let expected = closed_alone().await;

    let (ts, e) = seeded().await;
    let queue = Store::connect_postgres(&ts.location)
        .await
        .unwrap()
        .cob_queue()
        .unwrap();
    let progressed = Arc::new(AtomicU64::new(0));
    let closing = {
        let (e, progressed) = (e.clone(), progressed.clone());
        tokio::spawn(async move {
            let progress = |n| progressed.store(n, Ordering::Relaxed);
            cob::close_business_day(&e, CobConfig::default(), &progress)
                .await
                .unwrap()
        })
    };
    // Claim a partition as soon as the day is published, and hold it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let claim = loop {
        if let Some(c) = queue.claim().await.unwrap() {
            break c;
        }
        assert!(
            !closing.is_finished() && std::time::Instant::now() < deadline,
            "the writer took every partition before this test could claim one"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !closing.is_finished(),
        "the day cannot close while a partition is claimed"
    );
    // The worker dies: its transaction ends without a plan and the partition is open again.
    drop(claim);
    let (opened, report) = tokio::time::timeout(Duration::from_secs(60), closing)
        .await
        .expect("the writer takes the partition back")
        .unwrap();
    assert_eq!(opened, d("2026-03-02"));
    assert_eq!(report.partitions_done, store::LOAN_PARTITIONS);
    assert!(progressed.load(Ordering::Relaxed) > 0);
    for _ in 1..DAYS {
        cob::close_business_day(&e, CobConfig::default(), &|_| {})
            .await
            .unwrap();
    }
    assert_eq!(snapshot(&e).await, expected);
}
