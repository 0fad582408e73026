//! The backup and restore drill on both stores: an online backup taken while clients keep
//! posting, restored into a fresh data directory or database, verified, and shown to extend
//! the signed tree head saved before the backup; a tampered head and a second restore into a
//! used place are refused.

use crate::common;

use common::{entry, new_id, puhui, servers, TestServer};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Posts entries between two accounts until `stop`, recording the acknowledged ids.
async fn keep_posting(
    s: Arc<TestServer>,
    from: String,
    to: String,
    stop: Arc<AtomicBool>,
) -> usize {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let id = new_id();
        let (status, v) = s
            .post(
                "/v1/ledger/entries",
                &entry(&id, &from, &to, 1 + n as i64),
                Some(&id),
            )
            .await;
        assert_eq!(status, 201, "{}: {v}", s.name);
        n += 1;
    }
    n
}

fn store_flag(s: &TestServer) -> &'static str {
    if s.name == "sqlite" {
        "--data-dir"
    } else {
        "--database-url"
    }
}

fn run_json(args: &[&str]) -> (bool, Value) {
    let out = puhui(args).output().expect("run puhui");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let v = serde_json::from_str(text.lines().last().unwrap_or("null")).unwrap_or(Value::Null);
    if !out.status.success() {
        eprintln!(
            "puhui {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (out.status.success(), v)
}

async fn entry_ids(store: &store::Store) -> HashSet<uuid::Uuid> {
    let mut ids = HashSet::new();
    let mut seq = 0;
    loop {
        let chunk = store.entries_range(seq, 10_000).await.unwrap();
        if chunk.is_empty() {
            return ids;
        }
        seq += chunk.len() as u64;
        ids.extend(chunk.iter().map(|e| e.record.id.0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn online_backup_restores_and_extends_the_signed_head() {
    for s in servers().await {
        let s = Arc::new(s);
        let (a, b) = (s.account("CNY").await, s.account("CNY").await);
        let mut before = Vec::new();
        for i in 0..200 {
            let id = new_id();
            let (status, _) = s
                .post(
                    "/v1/ledger/entries",
                    &entry(&id, &a, &b, 100 + i),
                    Some(&id),
                )
                .await;
            assert_eq!(status, 201);
            before.push(id.parse::<uuid::Uuid>().unwrap());
        }
        let (status, head) = s.get("/v1/ledger/tree-head").await;
        assert_eq!(status, 200);
        let dir = tempfile::tempdir().unwrap();
        let head_file = dir.path().join("head.json");
        std::fs::write(&head_file, head.to_string()).unwrap();

        // The backup runs in its own process while the server keeps acknowledging entries.
        let stop = Arc::new(AtomicBool::new(false));
        let load = tokio::spawn(keep_posting(s.clone(), a.clone(), b.clone(), stop.clone()));
        let (flag, location) = (store_flag(&s), s.location());
        let backup = dir.path().join("backup");
        let out = backup.display().to_string();
        let (ok, report) = tokio::task::spawn_blocking({
            let (location, out) = (location.clone(), out.clone());
            move || run_json(&["backup", "create", flag, &location, "--out", &out, "--json"])
        })
        .await
        .unwrap();
        stop.store(true, Ordering::Relaxed);
        let during = load.await.unwrap();
        assert!(ok, "{}: backup create: {report}", s.name);

        let target = if s.name == "sqlite" {
            dir.path().join("restored").display().to_string()
        } else {
            testkit::fresh_postgres_url().await
        };
        let (ok, report) =
            run_json(&["backup", "restore", flag, &target, "--from", &out, "--json"]);
        assert!(ok, "{}: restore: {report}", s.name);
        common::assert_verified(flag, &target);

        let (ok, ext) = run_json(&[
            "ledger",
            "extends",
            flag,
            &target,
            "--head",
            &head_file.display().to_string(),
            "--json",
        ]);
        assert!(ok && ext["extends"] == true, "{}: {ext}", s.name);
        assert!(ext["tree_size"].as_u64() >= head["tree_size"].as_u64());

        let restored = if s.name == "sqlite" {
            store::Store::open_sqlite(std::path::Path::new(&target)).unwrap()
        } else {
            store::Store::connect_postgres(&target).await.unwrap()
        };
        let ids = entry_ids(&restored).await;
        let missing = before.iter().filter(|id| !ids.contains(id)).count();
        assert_eq!(
            missing, 0,
            "{}: entries acknowledged before the backup",
            s.name
        );
        eprintln!(
            "{}: {} entries in the copy, {during} acknowledged while it ran",
            s.name,
            ids.len()
        );

        refuses_a_tampered_head(&head, dir.path(), flag, &target);
        let again = puhui(&["backup", "restore", flag, &target, "--from", &out])
            .output()
            .unwrap();
        assert!(
            !again.status.success(),
            "{}: a second restore over a store",
            s.name
        );
        common::assert_verified(flag, &target);
    }
}

fn refuses_a_tampered_head(head: &Value, dir: &std::path::Path, flag: &str, target: &str) {
    let mut bad = head.clone();
    let root = bad["root_hash"].as_str().unwrap().to_string();
    let flipped = if root.starts_with('0') { "1" } else { "0" };
    bad["root_hash"] = Value::String(format!("{flipped}{}", &root[1..]));
    let file = dir.join("tampered.json");
    std::fs::write(&file, bad.to_string()).unwrap();
    let (ok, ext) = run_json(&[
        "ledger",
        "extends",
        flag,
        target,
        "--head",
        &file.display().to_string(),
        "--json",
    ]);
    assert!(!ok && ext["extends"] == false, "a tampered head: {ext}");
}
