//! `puhui cob` on PostgreSQL with `puhui cob-worker` processes beside it, one of them killed
//! with SIGKILL part-way: the days end exactly as a run by one process ends, and
//! `puhui ledger verify` passes.

use crate::common;

use common::{loan_snapshot, puhui, seed_cob_book};
use std::process::{Child, Stdio};
use std::time::Duration;
use store::Store;

const LOANS: u64 = 3_000;
const START: &str = "2026-01-15";
const TO: &str = "2026-02-20";

async fn seed(url: &str) {
    seed_cob_book(Store::connect_postgres(url).await.unwrap(), LOANS, START).await;
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

async fn snapshot(url: &str) -> (String, Vec<(uuid::Uuid, i32, Vec<u8>)>) {
    loan_snapshot(&Store::connect_postgres(url).await.unwrap()).await
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

    common::assert_verified("--database-url", &alone);
    common::assert_verified("--database-url", &shared);
    let (a, b) = (snapshot(&alone).await, snapshot(&shared).await);
    assert_eq!(a.0, TO);
    assert_eq!(a.1.len() as u64, LOANS);
    assert!(a == b, "shared and single-process runs differ");
}
