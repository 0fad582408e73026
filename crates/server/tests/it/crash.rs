//! Crash safety: SIGKILL the server at random moments under concurrent posting load, restart
//! it, and check that every acknowledged entry is there exactly once, that retries with the
//! same ids are answered idempotently, and that `puhui ledger verify` passes.

use crate::common;

use common::{entry, new_id, KEY};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Kill points per store: `PUHUI_CRASH_POINTS`, 6 unless set (each point re-sends every entry
/// sent so far, so the run grows with the square of the points; the long run is 20).
fn kill_points() -> usize {
    std::env::var("PUHUI_CRASH_POINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6)
}

use common::ServedChild as Server;

fn start(store_args: &[String]) -> Server {
    Server::spawn(store_args, &[])
}

/// What clients know: bodies they sent, and which were acknowledged.
#[derive(Default)]
struct Ledger {
    sent: HashMap<String, Value>,
    acked: Vec<String>,
}

async fn load(base: String, accounts: Arc<Vec<String>>, book: Arc<Mutex<Ledger>>, seed: u64) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    loop {
        let id = new_id();
        let (a, b) = (
            rng.gen_range(0..accounts.len()),
            rng.gen_range(0..accounts.len() - 1),
        );
        let b = if b >= a { b + 1 } else { b };
        let body = entry(&id, &accounts[a], &accounts[b], rng.gen_range(1..100_000));
        book.lock().unwrap().sent.insert(id.clone(), body.clone());
        let r = client
            .post(format!("{base}/v1/ledger/entries"))
            .bearer_auth(KEY)
            .header("idempotency-key", &id)
            .json(&body)
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 201 => book.lock().unwrap().acked.push(id),
            Ok(r) if r.status() == 503 => {}
            Ok(r) => panic!("unexpected status {} while loading", r.status()),
            Err(_) => return, // the server died under us: this id's outcome is unknown
        }
    }
}

async fn crash_cycle_suite(name: &str, store_args: Vec<String>, seed: u64) {
    eprintln!("{name}: crash test seed {seed} (set PUHUI_CRASH_SEED to replay)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let client = reqwest::Client::new();
    let server = start(&store_args);
    let mut accounts = Vec::new();
    for i in 0..8 {
        let r: Value = client
            .post(format!("{}/v1/accounts", server.base))
            .bearer_auth(KEY)
            .json(&serde_json::json!({"owner": format!("o{i}"), "purpose": "crash", "currency": "CNY"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        accounts.push(r["id"].as_str().unwrap().to_string());
    }
    let accounts = Arc::new(accounts);
    let book = Arc::new(Mutex::new(Ledger::default()));
    let mut server = Some(server);
    let kill_points = kill_points();
    for point in 0..kill_points {
        let s = server.take().unwrap_or_else(|| start(&store_args));
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                tokio::spawn(load(
                    s.base.clone(),
                    accounts.clone(),
                    book.clone(),
                    seed ^ ((point * 100 + t) as u64),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(30..400))).await;
        s.sigkill();
        for t in tasks {
            t.await.unwrap();
        }
        let s = start(&store_args);
        check_after_restart(name, point, &s.base, &client, &book).await;
        server = Some(s);
    }
    server.take().unwrap().sigkill();
    let out = Command::new(env!("CARGO_BIN_EXE_puhui"))
        .args(["ledger", "verify", "--json"])
        .args(&store_args)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("verify printed {:?}", String::from_utf8_lossy(&out.stdout)));
    assert!(
        out.status.success() && report["ok"] == true,
        "{name}: verify after crashes: {report}"
    );
    let b = book.lock().unwrap();
    assert_eq!(
        report["entries_checked"].as_u64().unwrap() as usize,
        b.sent.len(),
        "{name}: every sent entry stored exactly once"
    );
    eprintln!(
        "{name}: {kill_points} kill points, {} entries acknowledged, {} sent, ledger verified",
        b.acked.len(),
        b.sent.len()
    );
}

/// Every acknowledged entry is there; every other sent entry, retried with its id and body,
/// is answered 201 (it was lost before commit) or 200 (it was committed), never a conflict.
async fn check_after_restart(
    name: &str,
    point: usize,
    base: &str,
    client: &reqwest::Client,
    book: &Arc<Mutex<Ledger>>,
) {
    let (sent, acked) = {
        let b = book.lock().unwrap();
        (b.sent.clone(), b.acked.clone())
    };
    for id in &acked {
        let r = client
            .get(format!("{base}/v1/ledger/entries/{id}"))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "{name}: kill point {point}: acknowledged entry {id} lost"
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["postings"], sent[id]["postings"],
            "{name}: entry {id} changed"
        );
    }
    let mut acked_now = Vec::new();
    for (id, body) in sent.iter().filter(|(id, _)| !acked.contains(id)) {
        let r = client
            .post(format!("{base}/v1/ledger/entries"))
            .bearer_auth(KEY)
            .header("idempotency-key", id)
            .json(body)
            .send()
            .await
            .unwrap();
        assert!(
            matches!(r.status().as_u16(), 200 | 201),
            "{name}: retry of {id} got {}",
            r.status()
        );
        acked_now.push(id.clone());
    }
    book.lock().unwrap().acked.extend(acked_now);
    let head: Value = client
        .get(format!("{base}/v1/ledger/tree-head"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        head["tree_size"].as_u64().unwrap() as usize,
        sent.len(),
        "{name}: kill point {point}: no entry twice, none missing"
    );
}

fn seed() -> u64 {
    common::seed_from_env("PUHUI_CRASH_SEED")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill_under_load() {
    let dir = tempfile::tempdir().unwrap();
    crash_cycle_suite(
        "sqlite",
        vec!["--data-dir".into(), dir.path().display().to_string()],
        seed(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_sigkill_under_load() {
    if testkit::skip_postgres() {
        return;
    }
    let url = testkit::fresh_postgres_url().await;
    crash_cycle_suite("postgres", vec!["--database-url".into(), url], seed()).await;
}
