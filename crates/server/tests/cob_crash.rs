//! `puhui cob` killed with SIGKILL midway and run again ends exactly where an
//! uninterrupted run ends: same loan states, same ledger, and `puhui ledger verify` passes.

use engine::loans::{self, Application};
use engine::{Engine, EngineConfig};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use store::Store;

const LOANS: u64 = 4_000;
const START: &str = "2026-01-15";
const TO: &str = "2026-02-25";

async fn seed(dir: &Path) {
    let store = Store::open_sqlite(dir).unwrap();
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
            loans::originate(
                &engine,
                Application {
                    id: uuid::Uuid::from_u128(u128::from(i) * 0x9e37_79b9_7f4a_7c15 + 1),
                    tenant: "t".into(),
                    borrower: format!("b{i}"),
                    product_id: uuid::Uuid::nil(),
                    product_version: 1,
                    config,
                },
                None,
                start,
                uuid::Uuid::from_u128(u128::from(i) + 1),
            )
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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

async fn snapshot(dir: &Path) -> (String, Vec<(uuid::Uuid, i32, Vec<u8>)>) {
    let store = Store::open_sqlite(dir).unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cob_killed_midway_and_rerun_matches_an_uninterrupted_run() {
    let root = tempfile::tempdir().unwrap();
    let (killed, clean) = (root.path().join("killed"), root.path().join("clean"));
    std::fs::create_dir_all(&killed).unwrap();
    seed(&killed).await;
    // Let the writer of the seeding engine finish and close the database.
    tokio::time::sleep(Duration::from_millis(300)).await;
    copy_dir(&killed, &clean);

    let killed_s = killed.to_str().unwrap();
    let mut child = puhui(&["cob", "--data-dir", killed_s, "--to", TO, "--json"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Close of business is fast; kill it a moment after the first day has closed, so it
    // dies part-way through a later day (or between days), never after the last.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while open_day_now(&killed).is_none_or(|open| open == START) {
        assert!(
            std::time::Instant::now() < deadline,
            "no day closed in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (reached, _) = snapshot(&killed).await;
    eprintln!("killed with the business date at {reached} (target {TO})");
    assert_ne!(reached, TO, "the kill landed before the end");

    for dir in [killed_s, clean.to_str().unwrap()] {
        let out = puhui(&["cob", "--data-dir", dir, "--to", TO, "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = puhui(&["ledger", "verify", "--data-dir", dir, "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "verify {dir}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let (a, b) = (snapshot(&killed).await, snapshot(&clean).await);
    assert_eq!(a.0, TO);
    assert_eq!(a.1.len() as u64, LOANS);
    assert!(a == b, "interrupted and uninterrupted runs differ");
    assert_eq!(
        entries(&killed).await,
        entries(&clean).await,
        "same number of entries"
    );
}

/// The business date as committed, read beside the running process.
fn open_day_now(dir: &Path) -> Option<String> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let c = rusqlite::Connection::open_with_flags(dir.join("puhui.db"), flags).ok()?;
    c.busy_timeout(Duration::from_secs(1)).ok()?;
    let raw: Vec<u8> = c
        .query_row(
            "SELECT value FROM meta WHERE key = 'business_date'",
            [],
            |r| r.get(0),
        )
        .ok()?;
    String::from_utf8(raw).ok()
}

async fn entries(dir: &Path) -> usize {
    let s = Store::open_sqlite(dir).unwrap();
    s.load_book_state().await.unwrap().leaf_hashes.len()
}
