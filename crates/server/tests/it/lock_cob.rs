//! One writing process per store, and close of business in the running server: a second
//! `serve`, `cob`, `migrate` or `ledger verify` on a store that a server writes is refused
//! naming the owner's pid; `puhui cob --server` closes days in the server while purchases
//! and repayments go on, and nothing is lost or doubled; a new installation opens a
//! business date without a hidden step.

use crate::common;

use common::puhui;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const KEY: &str = "lock-cob-test-operator-key";

/// A `puhui serve` child process, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(store: &[&str], extra: &[&str]) -> Server {
    let mut child = puhui(&["serve", "--listen", "127.0.0.1:0"])
        .args(store)
        .args(extra)
        .env("PUHUI_BOOTSTRAP_API_KEY", KEY)
        // PostgreSQL refuses to start without a master key for personal data (a test key).
        .env(
            "PUHUI_MASTER_KEY",
            "1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start puhui serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Server { child, base }
}

/// Runs `puhui args…`, killing it if it has not exited within `limit` (a second server that
/// was not refused would serve forever).
fn run_for(args: &[&str], limit: Duration) -> Output {
    let mut child = puhui(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`puhui {}` still running after {limit:?}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn assert_refused(args: &[&str], owner_pid: u32) {
    let out = run_for(args, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "`puhui {}` ran beside the server",
        args.join(" ")
    );
    assert!(
        stderr.contains(&format!(
            "is in use by another puhui process (pid {owner_pid}"
        )) && stderr.contains("puhui cob --server URL"),
        "`puhui {}`: {stderr}",
        args.join(" ")
    );
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn post(http: &reqwest::Client, base: &str, path: &str, body: &Value) -> (u16, Value) {
    let id = body["id"]
        .as_str()
        .map_or_else(Uuid::now_v7, |s| s.parse().unwrap());
    let r = http
        .post(format!("{base}{path}"))
        .bearer_auth(KEY)
        .header("idempotency-key", id.to_string())
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Every writing command is refused while the server runs, and the server is untouched;
/// once it is gone, the same store opens.
async fn writers_are_refused_beside_a_server(flag: &str, location: &str) {
    let store = [flag, location];
    let server = serve(&store, &["--business-date", "2026-01-05"]);
    let pid = server.child.id();
    let with = |args: &[&'static str]| -> Vec<&str> {
        let mut v: Vec<&str> = args.to_vec();
        v.extend(store);
        v
    };
    assert_refused(&with(&["serve", "--listen", "127.0.0.1:0"]), pid);
    assert_refused(&with(&["cob", "--to", "2026-01-07"]), pid);
    assert_refused(&with(&["migrate"]), pid);
    assert_refused(&with(&["ledger", "verify"]), pid);
    assert_refused(
        &with(&["api-key", "create", "--role", "operator", "--tenant", "*"]),
        pid,
    );
    let (s, v) = get(&server.base, "/v1/business-date").await;
    assert_eq!((s, v["business_date"].as_str()), (200, Some("2026-01-05")));
    drop(server);
    let out = run_for(&with(&["cob", "--json"]), Duration::from_secs(60));
    assert!(
        out.status.success(),
        "the lock went with its process: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["business_date"], "2026-01-06");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_data_directory_has_one_writer() {
    let dir = tempfile::tempdir().unwrap();
    writers_are_refused_beside_a_server("--data-dir", dir.path().to_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_database_has_one_writer_and_workers_run_beside_it() {
    if testkit::skip_postgres() {
        return;
    }
    let url = testkit::fresh_postgres_url().await;
    {
        let server = serve(
            &["--database-url", &url],
            &["--business-date", "2026-01-05"],
        );
        // Close-of-business workers write only plans: they run beside the writer.
        let out = run_for(
            &[
                "cob-worker",
                "--database-url",
                &url,
                "--idle-exit-secs",
                "1",
                "--json",
            ],
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "a worker beside the server: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        drop(server);
    }
    // Another database on the same PostgreSQL server is another store: not locked.
    let other = testkit::fresh_postgres_url().await;
    let server = serve(&["--database-url", &other], &[]);
    writers_are_refused_beside_a_server("--database-url", &url).await;
    drop(server);
}

fn today_utc() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    money::BusinessDate::from_epoch_days(days as i32)
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_installation_is_usable_at_once() {
    let root = tempfile::tempdir().unwrap();
    let (fresh, started) = (root.path().join("fresh"), root.path().join("started"));
    let fresh = fresh.to_str().unwrap();
    let before = today_utc();
    let server = serve(&["--data-dir", fresh], &[]);
    let (s, v) = get(&server.base, "/v1/business-date").await;
    let after = today_utc();
    assert_eq!(s, 200, "{v}");
    let open = v["business_date"].as_str().unwrap();
    assert!(open == before || open == after, "{open}: today's date, UTC");
    let http = reqwest::Client::new();
    let (s, v) = post(
        &http,
        &server.base,
        "/v1/borrowers",
        &json!({"kind": "individual", "name": "first"}),
    )
    .await;
    assert_eq!(s, 201, "the first borrower of a new installation: {v}");
    drop(server);

    // The open date moves only by close of business.
    let out = run_for(
        &["cob", "--data-dir", fresh, "--start", "2026-01-05"],
        Duration::from_secs(30),
    );
    assert!(!out.status.success(), "--start on an open installation");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already open"));
    let out = run_for(
        &[
            "serve",
            "--data-dir",
            fresh,
            "--listen",
            "127.0.0.1:0",
            "--business-date",
            "2026-01-05",
        ],
        Duration::from_secs(30),
    );
    assert!(
        !out.status.success(),
        "--business-date on an open installation"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already open"));

    // `cob --start` opens the day and closes nothing.
    let started = started.to_str().unwrap();
    let out = run_for(
        &[
            "cob",
            "--data-dir",
            started,
            "--start",
            "2026-01-05",
            "--json",
        ],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = serve(&["--data-dir", started], &[]);
    let (_, v) = get(&server.base, "/v1/business-date").await;
    assert_eq!(v["business_date"], "2026-01-05");
}

// ---------------------------------------------------------------------------------------
// Close of business over HTTP under load

const START: &str = "2026-01-05";
const TO: &str = "2026-01-08";
const LOANS: usize = 24;
const LINES: usize = 24;
const TASKS: usize = 8;
/// Requests per task at least; tasks also go on until close of business has finished.
const REQUESTS_PER_TASK_MIN: usize = 400;

/// What the load's clients saw acknowledged.
#[derive(Default)]
struct Acked {
    /// Purchase id → (line, amount).
    purchases: HashMap<String, (String, i64)>,
    /// Loan → repayment ids and amounts.
    repayments: HashMap<String, Vec<(i64, i64)>>,
}

struct Book {
    base: String,
    loans: Vec<String>,
    lines: Vec<String>,
    merchant: String,
}

async fn setup_book(base: &str) -> Book {
    let http = reqwest::Client::new();
    let (s, p) = post(&http, base, "/v1/loan-products", &loan_product()).await;
    assert_eq!(s, 201, "{p}");
    let pid = p["id"].as_str().unwrap().to_string();
    let mut loans = Vec::new();
    for i in 0..LOANS {
        let (s, v) = post(
            &http,
            base,
            "/v1/loans",
            &json!({"product_id": pid, "product_version": 1,
            "borrower": format!("b{i}"), "amount_minor": 1_000_000, "term_months": 6}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().unwrap().to_string();
        let (s, v) = post(&http, base, &format!("/v1/loans/{id}/approve"), &json!({})).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = post(&http, base, &format!("/v1/loans/{id}/disburse"), &json!({})).await;
        assert_eq!(s, 201, "{v}");
        loans.push(id);
    }
    let (s, m) = post(
        &http,
        base,
        "/v1/merchants",
        &json!({"name": "Tea house",
        "discount_rate": "0.008", "settlement_account": "bank:6222-0001"}),
    )
    .await;
    assert_eq!(s, 201, "{m}");
    let mut lines = Vec::new();
    for i in 0..LINES {
        let (s, b) = post(
            &http,
            base,
            "/v1/borrowers",
            &json!({"kind": "individual", "name": format!("l{i}")}),
        )
        .await;
        assert_eq!(s, 201, "{b}");
        let (s, l) = post(
            &http,
            base,
            "/v1/credit-lines",
            &json!({"borrower_id": b["id"],
            "currency": "CNY", "limit_minor": 1_000_000_000}),
        )
        .await;
        assert_eq!(s, 201, "{l}");
        lines.push(l["id"].as_str().unwrap().to_string());
    }
    Book {
        base: base.to_string(),
        loans,
        lines,
        merchant: m["id"].as_str().unwrap().to_string(),
    }
}

fn loan_product() -> Value {
    json!({
        "name": "cob-load", "currency": "CNY",
        "amount_minor_min": 10_000, "amount_minor_max": 20_000_000,
        "term_months_min": 1, "term_months_max": 12, "repayment_method": "annuity",
        "contract_rate": "0.05%/day", "rate_cap": "24%/year", "grace_days": 3,
        "late_fee_minor": 1_000, "penalty_rate": "x1.5", "penalty_compounds": false,
        "prepayment": {"full_allowed": true, "partial_allowed": true,
            "partial_effect": "shorten_term", "fee_rate": "0%", "partial_minimum_minor": 10_000},
        "entrusted_payment_threshold_minor": 5_000_000, "write_off_dpd": 90
    })
}

/// Purchases and repayments, until close of business has finished and at least
/// `REQUESTS_PER_TASK_MIN` were sent. A repayment dated a day that has just closed is
/// refused (422 on `date`) and sent again, with a new key, on the new day.
async fn load(book: Arc<Book>, acked: Arc<Mutex<Acked>>, cob_done: Arc<AtomicBool>, seed: u64) {
    let http = reqwest::Client::new();
    let mut day = get(&book.base, "/v1/business-date").await.1["business_date"]
        .as_str()
        .unwrap()
        .to_string();
    let mut n = 0u64;
    while (n as usize) < REQUESTS_PER_TASK_MIN || !cob_done.load(Relaxed) {
        n += 1;
        let pick = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(n.wrapping_mul(1442695040888963407))
            >> 33;
        let amount = 100 + (pick % 10_000) as i64;
        if pick.is_multiple_of(2) {
            let line = &book.lines[(pick / 2) as usize % book.lines.len()];
            let id = Uuid::now_v7().to_string();
            let body = json!({"id": id, "credit_line_id": line, "merchant_id": book.merchant,
                "amount_minor": amount, "currency": "CNY", "capture": true});
            // A purchase that meets the lines' close of business is refused with nothing
            // kept (409 `business_date`) and sent again as it was.
            let mut tries = 0;
            let (s, v) = loop {
                let (s, v) = post(&http, &book.base, "/v1/purchases", &body).await;
                tries += 1;
                if s != 409 || v["code"] != "business_date" || tries == 5 {
                    break (s, v);
                }
            };
            assert_eq!(s, 201, "purchase: {v}");
            acked
                .lock()
                .unwrap()
                .purchases
                .insert(id, (line.clone(), amount));
        } else {
            let loan = &book.loans[(pick / 2) as usize % book.loans.len()];
            let body = json!({"amount_minor": amount, "currency": "CNY", "date": day});
            let (s, v) = post(
                &http,
                &book.base,
                &format!("/v1/loans/{loan}/repayments"),
                &body,
            )
            .await;
            match s {
                201 => acked
                    .lock()
                    .unwrap()
                    .repayments
                    .entry(loan.clone())
                    .or_default()
                    .push((v["repayment_id"].as_i64().unwrap(), amount)),
                422 if v["field"] == "date" => {
                    day = get(&book.base, "/v1/business-date").await.1["business_date"]
                        .as_str()
                        .unwrap()
                        .to_string();
                }
                _ => panic!("repayment answered {s}: {v}"),
            }
        }
    }
}

async fn cob_over_http_under_load(flag: &str, location: &str) {
    let server = serve(&[flag, location], &["--business-date", START]);
    let book = Arc::new(setup_book(&server.base).await);
    let acked = Arc::new(Mutex::new(Acked::default()));
    let cob_done = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            tokio::spawn(load(
                book.clone(),
                acked.clone(),
                cob_done.clone(),
                t as u64 + 1,
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let base = server.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        run_for(
            &[
                "cob",
                "--server",
                &base,
                "--api-key",
                KEY,
                "--to",
                TO,
                "--json",
            ],
            Duration::from_secs(300),
        )
    })
    .await
    .unwrap();
    cob_done.store(true, Relaxed);
    assert!(
        out.status.success(),
        "cob --server: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            run["status"].as_str(),
            run["days_done"].as_u64(),
            run["to"].as_str()
        ),
        (Some("succeeded"), Some(3), Some(TO)),
        "{run}"
    );
    assert_eq!(
        run["loans_processed"].as_u64(),
        Some(3 * LOANS as u64),
        "{run}"
    );
    for t in tasks {
        t.await.unwrap();
    }

    // The server that closed the days shows them: no stale date, no stale tree.
    let (_, v) = get(&server.base, "/v1/business-date").await;
    assert_eq!(
        (v["business_date"].as_str(), &v["cob_run"]),
        (Some(TO), &Value::Null)
    );
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let repaid: usize = acked.repayments.values().map(Vec::len).sum();
    eprintln!(
        "{flag}: {} purchases and {repaid} repayments acknowledged around close of business",
        acked.purchases.len()
    );
    assert!(acked.purchases.len() + repaid >= TASKS * REQUESTS_PER_TASK_MIN * 9 / 10);
    check_every_ack_once(&book, &acked).await;
    let (_, head) = get(&server.base, "/v1/ledger/tree-head").await;
    let tree_size = head["tree_size"].as_u64().unwrap();
    // A purchase posts at least once: the ledger holds no fewer entries than were acknowledged.
    assert!(tree_size as usize >= acked.purchases.len() + repaid);
    drop(server);
    let out = puhui(&["ledger", "verify", "--json", flag, location])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success() && report["ok"] == true, "{report}");
    assert_eq!(
        report["entries_checked"].as_u64(),
        Some(tree_size),
        "the server's tree was the stored one"
    );
}

/// Each acknowledged purchase is stored with its amount; each line's used amount is the sum
/// of its acknowledged purchases, and each loan's credit the sum of its acknowledged
/// repayments (nothing is due in the first days, so a repayment is all credit): a lost or
/// doubled request would show.
async fn check_every_ack_once(book: &Book, acked: &Acked) {
    let mut per_line: HashMap<&str, i64> = HashMap::new();
    for (id, (line, amount)) in &acked.purchases {
        *per_line.entry(line).or_default() += amount;
        let (s, p) = get(&book.base, &format!("/v1/purchases/{id}")).await;
        assert_eq!((s, p["amount_minor"].as_i64()), (200, Some(*amount)), "{p}");
    }
    for line in &book.lines {
        let (_, v) = get(&book.base, &format!("/v1/credit-lines/{line}")).await;
        let want = per_line.get(line.as_str()).copied().unwrap_or(0);
        assert_eq!(v["used_minor"].as_i64(), Some(want), "line {line}: {v}");
    }
    for loan in &book.loans {
        let paid = acked.repayments.get(loan).cloned().unwrap_or_default();
        let mut ids: Vec<i64> = paid.iter().map(|p| p.0).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            paid.len(),
            "loan {loan}: repayment ids are distinct"
        );
        let (_, v) = get(&book.base, &format!("/v1/loans/{loan}")).await;
        let want: i64 = paid.iter().map(|p| p.1).sum();
        assert_eq!(
            v["overpayment_credit_minor"].as_i64(),
            Some(want),
            "loan {loan}: {v}"
        );
        assert_eq!(v["business_date"].as_str(), Some(TO), "loan {loan}: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cob_over_http_under_load_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    cob_over_http_under_load("--data-dir", dir.path().to_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cob_over_http_under_load_loses_nothing() {
    if testkit::skip_postgres() {
        return;
    }
    let url = testkit::fresh_postgres_url().await;
    cob_over_http_under_load("--database-url", &url).await;
}

/// Progress is visible while a run goes on, one run at a time, and a retry of a start is
/// answered with its run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cob_runs_over_http_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        &["--data-dir", dir.path().to_str().unwrap()],
        &["--business-date", START],
    );
    let http = reqwest::Client::new();
    let id = Uuid::now_v7().to_string();
    let (s, v) = post(
        &http,
        &server.base,
        "/v1/close-of-business",
        &json!({"id": id, "to": "2026-01-04"}),
    )
    .await;
    assert_eq!((s, v["field"].as_str()), (422, Some("to")), "{v}");
    let body = json!({"id": id, "to": "2026-03-05"});
    let (s, run) = post(&http, &server.base, "/v1/close-of-business", &body).await;
    assert_eq!((s, run["id"].as_str()), (202, Some(id.as_str())), "{run}");
    assert_eq!(
        (run["from"].as_str(), run["days_total"].as_u64()),
        (Some(START), Some(59))
    );
    let (s, again) = post(&http, &server.base, "/v1/close-of-business", &body).await;
    assert_eq!(
        (s, again["id"].as_str()),
        (200, Some(id.as_str())),
        "{again}"
    );
    let (s, v) = post(
        &http,
        &server.base,
        "/v1/close-of-business",
        &json!({"id": id, "to": "2026-03-06"}),
    )
    .await;
    assert_eq!(s, 409, "same key, another body: {v}");
    let mut seen = 0;
    loop {
        let (s, r) = get(&server.base, &format!("/v1/close-of-business/{id}")).await;
        assert_eq!(s, 200, "{r}");
        let done = r["days_done"].as_u64().unwrap();
        assert!(done >= seen, "progress only moves forward");
        seen = done;
        if r["status"] != "running" {
            assert_eq!((r["status"].as_str(), done), (Some("succeeded"), 59), "{r}");
            assert_eq!(r["current_date"], "2026-03-05");
            break;
        }
        let (s, other) = post(
            &http,
            &server.base,
            "/v1/close-of-business",
            &json!({"to": "2026-03-09"}),
        )
        .await;
        assert!(s == 409 || s == 202, "{other}");
        if s == 409 {
            assert_eq!(other["code"], "cob_running", "{other}");
        } else {
            // The first run finished between the two requests: this one follows it.
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (s, _) = get(
        &server.base,
        &format!("/v1/close-of-business/{}", Uuid::now_v7()),
    )
    .await;
    assert_eq!(s, 404);
}
