//! `puhui cob` killed with SIGKILL midway and run again ends exactly where an
//! uninterrupted run ends: same loan states, same ledger, and `puhui ledger verify` passes.

use crate::common;

use common::{loan_snapshot, puhui, seed_cob_book};
use std::path::Path;
use std::time::Duration;
use store::Store;

const LOANS: u64 = 4_000;
const START: &str = "2026-01-15";
const TO: &str = "2026-02-25";

async fn seed(dir: &Path) {
    seed_cob_book(Store::open_sqlite(dir).unwrap(), LOANS, START).await;
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

async fn snapshot(dir: &Path) -> (String, Vec<(uuid::Uuid, i32, Vec<u8>)>) {
    loan_snapshot(&Store::open_sqlite(dir).unwrap()).await
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
        common::assert_verified("--data-dir", dir);
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
