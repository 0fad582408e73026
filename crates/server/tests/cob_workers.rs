//! `puhui cob` on PostgreSQL with `puhui cob-worker` processes beside it, one of them killed
//! with SIGKILL part-way: the days end exactly as a run by one process ends, and
//! `puhui ledger verify` passes.

use engine::loans::{self, Application};
use engine::{Engine, EngineConfig};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use store::Store;

const LOANS: u64 = 3_000;
const START: &str = "2026-01-15";
const TO: &str = "2026-02-20";

async fn seed(url: &str) {
    let store = Store::connect_postgres(url).await.unwrap();
    let engine = Engine::start(store, EngineConfig::default()).await.unwrap();
    let start = START.parse().unwrap();
    loans::init_business_date(&engine, start).await.unwrap();
    let product = lending::LoanProduct::example_cny();
    let mut tasks = Vec::new();
    for i in 0..LOANS {
        let (engine, product) = (engine.clone(), product.clone());
        tasks.push(tokio::spawn(async move {
            let amount = money::Money::from_minor(100_000 + i as i64 * 100, money::Currency::Cny);
            let config =
                lending::loan::LoanConfig::from_product(&product, amount, 1 + (i % 12) as u32, 90)
                    .unwrap();
            let app = Application {
                id: uuid::Uuid::from_u128(u128::from(i) * 0x9e37_79b9_7f4a_7c15 + 1),
                tenant: "t".into(),
                borrower: format!("b{i}"),
                product_id: uuid::Uuid::nil(),
                product_version: 1,
                config,
            };
            let key = uuid::Uuid::from_u128(u128::from(i) + 1);
            loans::originate(&engine, app, None, start, key)
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn puhui(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_puhui"));
    c.args(args).env("PUHUI_LOG", "warn");
    c
}

fn worker(url: &str) -> Child {
    puhui(&[
        "cob-worker",
        "--database-url",
        url,
        "--idle-exit-secs",
        "2",
        "--json",
    ])
    .stdout(Stdio::piped())
    .spawn()
    .unwrap()
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The business date and every loan's day and state.
async fn snapshot(url: &str) -> (String, Vec<(uuid::Uuid, i32, Vec<u8>)>) {
    let store = Store::connect_postgres(url).await.unwrap();
    let date = String::from_utf8(store.meta("business_date").await.unwrap().unwrap()).unwrap();
    let mut rows = Vec::new();
    for p in 0..store::LOAN_PARTITIONS as i32 {
        for r in store
            .loans_for_cob(p, i32::MAX, None, 1_000_000)
            .await
            .unwrap()
        {
            rows.push((r.id, r.day, r.state));
        }
    }
    rows.sort();
    (date, rows)
}

fn verify(url: &str) {
    let out = puhui(&["ledger", "verify", "--database-url", url, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cob_shared_with_worker_processes_matches_one_process() {
    if testkit::skip_postgres() {
        return;
    }
    let (alone, shared) = (
        testkit::fresh_postgres_url().await,
        testkit::fresh_postgres_url().await,
    );
    seed(&alone).await;
    seed(&shared).await;

    let out = puhui(&["cob", "--database-url", &alone, "--to", TO, "--json"])
        .output()
        .unwrap();
    let days = json_of(&out)["days"].as_array().unwrap().clone();
    assert!(days
        .iter()
        .all(|d| d["partitions_from_workers"].as_u64() == Some(0)));

    let survivors = [worker(&shared), worker(&shared)];
    let mut doomed = worker(&shared);
    let coordinator = puhui(&["cob", "--database-url", &shared, "--to", TO, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill one worker part-way through the run, whatever it holds.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    doomed.kill().unwrap(); // SIGKILL
    doomed.wait().unwrap();
    let days = json_of(&coordinator.wait_with_output().unwrap())["days"]
        .as_array()
        .unwrap()
        .clone();
    let from_workers: u64 = days
        .iter()
        .map(|d| d["partitions_from_workers"].as_u64().unwrap())
        .sum();
    let mut planned_by_survivors = 0;
    for w in survivors {
        planned_by_survivors += json_of(&w.wait_with_output().unwrap())["partitions_planned"]
            .as_u64()
            .unwrap();
    }
    eprintln!(
        "{} days: {from_workers} partitions read by workers, {planned_by_survivors} by the survivors",
        days.len()
    );
    assert!(planned_by_survivors > 0, "the workers took part");
    assert!(
        planned_by_survivors <= from_workers,
        "every plan a surviving worker stored was used"
    );

    verify(&alone);
    verify(&shared);
    let (a, b) = (snapshot(&alone).await, snapshot(&shared).await);
    assert_eq!(a.0, TO);
    assert_eq!(a.1.len() as u64, LOANS);
    assert!(a == b, "shared and single-process runs differ");
}
