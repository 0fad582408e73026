//! The crash harness under mixed load: clients post ledger entries, sales on credit lines,
//! loan repayments, credit decisions and co-lent originations (a partner bank approves each
//! by callback to an HTTP server in this test) while the server is SIGKILLed at random
//! moments and restarted. After every restart each acknowledged operation is there, every
//! other one retried with its key is answered 200 or 201, and at the end every operation
//! sent is there exactly once (account, line and loan totals, each originated loan funded
//! once by both funders, every loan never sent still unfunded) and `puhui ledger verify`
//! passes. Close of business runs under the load at some kill points, a day at a time: after
//! a restart the day it was closing is closed once (run again under its key), repayments
//! sent for a day closed meanwhile are refused and never applied, and the business date
//! ends as many days on as runs were asked for. Securitization deals sold at set-up run
//! their first period under the load when close of business reaches its payment date
//! (`deals`).
//!
//! `PUHUI_CRASH_POINTS` sets the kill points per store (CI: 6; the harness run in the README:
//! 50); `PUHUI_CRASH_SEED` replays a run.

mod deals;

use crate::common;

use common::{new_id, KEY};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BUSINESS_DATE: &str = "2026-01-15";

use common::ServedChild as Server;

/// Starts the server; only the first start opens the business date (close of business
/// moves it on, and a restart keeps the date the store has).
fn start(store_args: &[String], first: bool) -> Server {
    let date: &[&str] = if first {
        &["--business-date", BUSINESS_DATE]
    } else {
        &[]
    };
    Server::spawn(store_args, date)
}

/// Days close of business may close in one run of the suite: the loans' first due date
/// (a month after disbursement) stays ahead, so their entries are the ones counted.
const COB_DAYS_MAX: usize = 20;

/// One request a client sent: where, with which key and body.
#[derive(Clone)]
struct Op {
    kind: Kind,
    path: String,
    key: String,
    body: Value,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Entry,
    Sale,
    Repayment,
    Decision,
    Origination,
    Period,
    /// A partial prepayment of a pooled loan: cash its deal's period collects.
    Prepayment,
}

/// What the clients know: every operation sent, which were acknowledged, and the ids of
/// acknowledged decisions (a decision is not retried: it moves no money).
#[derive(Default)]
struct Journal {
    sent: Vec<Op>,
    acked: HashSet<String>,
    decisions: Vec<String>,
    /// Repayments refused because close of business moved the day on before they arrived:
    /// never applied, so not counted.
    refused: HashSet<String>,
    /// Close-of-business runs asked for, each to close one day: (key, the day to open).
    cobs: Vec<(String, String)>,
    /// How many of `cobs` are known to have reached their day.
    cobs_done: usize,
}

/// The book the load runs on, set up before the first kill.
struct Fixture {
    accounts: Vec<String>,
    lines: Vec<String>,
    merchant: String,
    loans: Vec<String>,
    loan_entries_before: HashMap<String, usize>,
    /// Approved co-lent loans not yet disbursed: each origination takes one.
    applications: Mutex<Vec<String>>,
    all_applications: Vec<String>,
    /// Entries one co-lent origination posts on the loan's accounts.
    origination_entries: usize,
    /// The open business day as the clients last learnt it.
    open_day: Mutex<String>,
    deals: deals::Deals,
}

async fn call(
    c: &reqwest::Client,
    base: &str,
    path: &str,
    key: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut req = c.post(format!("{base}{path}")).bearer_auth(KEY).json(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(c: &reqwest::Client, base: &str, path: &str) -> (u16, Value) {
    let r = c
        .get(format!("{base}{path}"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn created(c: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    let (s, v) = call(c, base, path, Some(&new_id()), &body).await;
    assert!(matches!(s, 200 | 201), "{path}: {s} {v}");
    v
}

/// A six-month annuity product in CNY.
fn product_body(name: &str) -> Value {
    json!({
        "name": name, "currency": "CNY", "amount_minor_min": 10_000, "amount_minor_max": 20_000_000,
        "term_months_min": 1, "term_months_max": 12, "repayment_method": "annuity",
        "contract_rate": "0.05%/day", "rate_cap": "24%/year", "grace_days": 3, "late_fee_minor": 1_000,
        "penalty_rate": "x1.5", "penalty_compounds": false,
        "prepayment": {"full_allowed": true, "partial_allowed": true, "partial_effect": "shorten_term", "fee_rate": "0%", "partial_minimum_minor": 10_000},
        "entrusted_payment_threshold_minor": 50_000_000, "write_off_dpd": 90})
}

async fn set_up(c: &reqwest::Client, base: &str, funder: &str, n: usize) -> Fixture {
    let mut accounts = Vec::new();
    for i in 0..4 {
        let v = created(
            c,
            base,
            "/v1/accounts",
            json!({"owner": format!("o{i}"), "purpose": "crash", "currency": "CNY"}),
        )
        .await;
        accounts.push(v["id"].as_str().unwrap().to_string());
    }
    let merchant = created(c, base, "/v1/merchants", json!({"name": "Tea house", "discount_rate": "0.008", "settlement_account": "bank:6222-0001"})).await;
    let mut lines = Vec::new();
    for i in 0..3 {
        let b = created(
            c,
            base,
            "/v1/borrowers",
            json!({"kind": "individual", "name": format!("Borrower {i}")}),
        )
        .await;
        let l = created(
            c,
            base,
            "/v1/credit-lines",
            json!({"borrower_id": b["id"], "currency": "CNY", "limit_minor": 1_000_000_000}),
        )
        .await;
        lines.push(l["id"].as_str().unwrap().to_string());
    }
    let product = created(c, base, "/v1/loan-products", product_body("crash")).await;
    let mut loans = Vec::new();
    for i in 0..3 + deals::DEALS * deals::LOANS_PER_DEAL {
        let v = created(c, base, "/v1/loans", json!({"product_id": product["id"], "product_version": 1, "borrower": format!("crash-{i}"), "amount_minor": 1_000_000, "term_months": 6})).await;
        let id = v["id"].as_str().unwrap().to_string();
        created(c, base, &format!("/v1/loans/{id}/approve"), json!({})).await;
        created(c, base, &format!("/v1/loans/{id}/disburse"), json!({})).await;
        loans.push(id);
    }
    // The load repays the pooled loans too: their collections reach the deals' periods.
    let deals = deals::set_up(c, base, BUSINESS_DATE, &loans[3..]).await;
    let mut loan_entries_before = HashMap::new();
    for id in &loans {
        loan_entries_before.insert(id.clone(), loan_entry_count(c, base, id).await);
    }
    let merchant = merchant["id"].as_str().unwrap().to_string();
    let (all_applications, origination_entries) = co_lent_applications(c, base, funder, n).await;
    Fixture {
        accounts,
        lines,
        merchant,
        loans,
        loan_entries_before,
        applications: Mutex::new(all_applications.clone()),
        all_applications,
        origination_entries,
        open_day: Mutex::new(BUSINESS_DATE.into()),
        deals,
    }
}

const SECRET: &str = "crash-callback-secret-0123";

/// A partner bank that approves every signed request, on a port of this process (it outlives
/// the server's restarts).
async fn callback_funder() -> String {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    use engine::colending::approval::{
        self, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
    };
    let app = axum::Router::new().route(
        "/approve",
        axum::routing::post(|h: HeaderMap, body: Bytes| async move {
            let header = |n: &str| {
                h.get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            let Ok(id) = header(IDEMPOTENCY_HEADER).parse::<uuid::Uuid>() else {
                return (StatusCode::BAD_REQUEST, HeaderMap::new(), String::new());
            };
            let ts = header(TIMESTAMP_HEADER);
            if approval::signature(SECRET, &ts, id, &body) != header(SIGNATURE_HEADER) {
                return (StatusCode::UNAUTHORIZED, HeaderMap::new(), String::new());
            }
            let answer = r#"{"decision":"approve","reasons":[]}"#;
            let mut out = HeaderMap::new();
            let sig = approval::signature(SECRET, &ts, id, answer.as_bytes());
            out.insert(SIGNATURE_HEADER, sig.parse().unwrap());
            (StatusCode::OK, out, answer.to_string())
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A product funded half by the platform, half by a bank that approves by callback; `n`
/// approved applications of it; and how many entries one origination posts on its loan
/// (from one disbursed here).
async fn co_lent_applications(
    c: &reqwest::Client,
    base: &str,
    funder: &str,
    n: usize,
) -> (Vec<String>, usize) {
    let bank = created(
        c,
        base,
        "/v1/funding-partners",
        json!({
        "name": "callback bank", "kind": "bank", "currency": "CNY",
        "quota_minor": 1_000_000_000_000_i64, "daily_quota_minor": 1_000_000_000_000_i64,
        "approval": {"mode": "callback", "url": format!("{funder}/approve"), "secret": SECRET,
            "timeout_ms": 2_000}}),
    )
    .await;
    let product = created(c, base, "/v1/loan-products", product_body("co-lent")).await;
    let product = product["id"].as_str().unwrap().to_string();
    let platform = engine::colending::platform_partner_id("default", money::Currency::Cny);
    created(
        c,
        base,
        &format!("/v1/loan-products/{product}/funding-plan"),
        json!({"shares": [
        {"partner_id": platform, "share": "0.5"}, {"partner_id": bank["id"], "share": "0.5"}]}),
    )
    .await;
    let mut ids = Vec::with_capacity(n + 1);
    for i in 0..=n {
        let v = created(
            c,
            base,
            "/v1/loans",
            json!({"product_id": product, "product_version": 1,
            "borrower": format!("co-lent-{i}"), "amount_minor": 500_000, "term_months": 6}),
        )
        .await;
        let id = v["id"].as_str().unwrap().to_string();
        created(c, base, &format!("/v1/loans/{id}/approve"), json!({})).await;
        ids.push(id);
    }
    let first = ids.pop().unwrap();
    created(c, base, &format!("/v1/loans/{first}/disburse"), json!({})).await;
    (ids, loan_entry_count(c, base, &first).await)
}

fn next_op(f: &Fixture, rng: &mut rand::rngs::StdRng) -> Op {
    let id = new_id();
    let open_day = f.open_day.lock().unwrap().clone();
    // A due period runs at some random moment of its day, not always first.
    if rng.gen_ratio(1, 40) {
        if let Some(op) = f.deals.due(&open_day, id.clone()) {
            return op;
        }
    }
    if rng.gen_ratio(1, 100) {
        return deals::prepayment(&f.loans[3..], rng, &open_day, id);
    }
    let amount = rng.gen_range(1..1_000i64);
    let kind = rng.gen_range(0..5);
    if kind == 4 {
        if let Some(loan) = f.applications.lock().unwrap().pop() {
            return Op {
                kind: Kind::Origination,
                path: format!("/v1/loans/{loan}/disburse"),
                key: id,
                body: json!({}),
            };
        }
    }
    match kind {
        0 => {
            let a = rng.gen_range(0..f.accounts.len());
            let b = (a + 1 + rng.gen_range(0..f.accounts.len() - 1)) % f.accounts.len();
            Op {
                kind: Kind::Entry,
                path: "/v1/ledger/entries".into(),
                key: id.clone(),
                body: common::entry(&id, &f.accounts[a], &f.accounts[b], amount),
            }
        }
        1 => {
            let line = &f.lines[rng.gen_range(0..f.lines.len())];
            Op {
                kind: Kind::Sale,
                path: "/v1/purchases".into(),
                key: id.clone(),
                body: json!({"id": id, "credit_line_id": line, "merchant_id": f.merchant, "amount_minor": amount, "currency": "CNY", "capture": true}),
            }
        }
        2 => {
            let loan = &f.loans[rng.gen_range(0..f.loans.len())];
            Op {
                kind: Kind::Repayment,
                path: format!("/v1/loans/{loan}/repayments"),
                key: id,
                body: json!({"amount_minor": amount, "currency": "CNY",
                    "date": open_day}),
            }
        }
        _ => {
            let body: Value =
                serde_json::from_str(include_str!("../../../../models/example-application.json"))
                    .unwrap();
            Op {
                kind: Kind::Decision,
                path: "/v1/decisions".into(),
                key: id,
                body,
            }
        }
    }
}

async fn load(base: String, f: Arc<Fixture>, journal: Arc<Mutex<Journal>>, seed: u64) {
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    loop {
        let op = next_op(&f, &mut rng);
        let idem = (op.kind != Kind::Decision).then_some(op.key.as_str());
        if op.kind != Kind::Decision {
            journal.lock().unwrap().sent.push(op.clone());
        }
        // A repayment racing another on the same loan is answered 409 `loan_changed`, to be
        // retried with the same key: the client does, as the problem says.
        loop {
            let mut req = c
                .post(format!("{base}{}", op.path))
                .bearer_auth(KEY)
                .json(&op.body);
            if let Some(k) = idem {
                req = req.header("idempotency-key", k);
            }
            let Ok(r) = req.send().await else {
                return; // the server died under us: this operation's outcome is unknown
            };
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            match status {
                201 => {
                    let mut j = journal.lock().unwrap();
                    match op.kind {
                        Kind::Decision => j
                            .decisions
                            .push(v["decision_id"].as_str().unwrap_or_default().to_string()),
                        _ => {
                            j.acked.insert(op.key.clone());
                        }
                    }
                    break;
                }
                409 if v["code"] == "loan_changed" => continue,
                409 if v["code"] == "changed_meanwhile" && op.kind == Kind::Period => continue,
                422 if v["code"] == "not_open_business_day"
                    && matches!(op.kind, Kind::Repayment | Kind::Prepayment) =>
                {
                    journal.lock().unwrap().refused.insert(op.key.clone());
                    break;
                }
                503 => break,
                _ => panic!("unexpected status {status} for {:?}: {v}", op.kind),
            }
        }
    }
}

/// After a restart: the last close of business asked for reaches its day (started again
/// under its key if the kill cut it short).
async fn finish_cob(base: &str, c: &reqwest::Client, f: &Fixture, journal: &Arc<Mutex<Journal>>) {
    let last = {
        let j = journal.lock().unwrap();
        (j.cobs_done < j.cobs.len()).then(|| j.cobs.last().unwrap().clone())
    };
    if let Some((key, to)) = last {
        reach_day(c, base, &key, &to, f)
            .await
            .expect("the server answers");
    }
    let mut j = journal.lock().unwrap();
    j.cobs_done = j.cobs.len();
}

async fn check_after_restart(
    name: &str,
    point: usize,
    base: &str,
    c: &reqwest::Client,
    journal: &Arc<Mutex<Journal>>,
) {
    let (sent, acked, decisions) = {
        let j = journal.lock().unwrap();
        (j.sent.clone(), j.acked.clone(), j.decisions.clone())
    };
    for op in sent.iter().filter(|o| acked.contains(&o.key)) {
        let path = match op.kind {
            Kind::Entry => format!("/v1/ledger/entries/{}", op.key),
            Kind::Sale => format!("/v1/purchases/{}", op.key),
            Kind::Origination => op.path.trim_end_matches("/disburse").to_string(),
            Kind::Period => {
                deals::check_acked(c, base, op, &format!("{name}: kill point {point}")).await;
                continue;
            }
            _ => continue, // repayments are counted per loan at the end
        };
        let (s, v) = get(c, base, &path).await;
        assert_eq!(
            s, 200,
            "{name}: kill point {point}: acknowledged {:?} {} lost",
            op.kind, op.key
        );
        if op.kind == Kind::Origination {
            assert_eq!(
                v["stage"], "active",
                "{name}: kill point {point}: acknowledged origination {} lost",
                op.path
            );
        }
    }
    for id in &decisions {
        let (s, _) = get(c, base, &format!("/v1/decisions/{id}")).await;
        assert_eq!(
            s, 200,
            "{name}: kill point {point}: acknowledged decision {id} lost"
        );
    }
    let refused = journal.lock().unwrap().refused.clone();
    let mut now_acked = Vec::new();
    for op in sent
        .iter()
        .filter(|o| !acked.contains(&o.key) && !refused.contains(&o.key))
    {
        let (mut s, mut v) = call(c, base, &op.path, Some(&op.key), &op.body).await;
        while s == 409
            && matches!(
                v["code"].as_str(),
                Some("loan_changed" | "changed_meanwhile")
            )
        {
            (s, v) = call(c, base, &op.path, Some(&op.key), &op.body).await;
        }
        if s == 422
            && v["code"] == "not_open_business_day"
            && matches!(op.kind, Kind::Repayment | Kind::Prepayment)
        {
            journal.lock().unwrap().refused.insert(op.key.clone());
            continue;
        }
        assert!(
            matches!(s, 200 | 201),
            "{name}: retry of {:?} {} got {s}: {v}",
            op.kind,
            op.key
        );
        now_acked.push(op.key.clone());
    }
    journal.lock().unwrap().acked.extend(now_acked);
}

/// Every operation sent, once: account totals, line usage and loan entries add up.
async fn check_exactly_once(
    name: &str,
    base: &str,
    c: &reqwest::Client,
    f: &Fixture,
    sent: &[Op],
    refused: &HashSet<String>,
) {
    let mut debits: HashMap<String, i64> = HashMap::new();
    let mut used: HashMap<String, i64> = HashMap::new();
    let mut repayments: HashMap<String, usize> = HashMap::new();
    for op in sent.iter().filter(|o| !refused.contains(&o.key)) {
        match op.kind {
            Kind::Entry => {
                let p = &op.body["postings"][0];
                *debits
                    .entry(p["account_id"].as_str().unwrap().into())
                    .or_default() += p["amount_minor"].as_i64().unwrap();
            }
            Kind::Sale => {
                *used
                    .entry(op.body["credit_line_id"].as_str().unwrap().into())
                    .or_default() += op.body["amount_minor"].as_i64().unwrap()
            }
            Kind::Repayment | Kind::Prepayment => {
                *repayments
                    .entry(op.path.split('/').nth(3).unwrap().into())
                    .or_default() += 1
            }
            Kind::Decision | Kind::Origination | Kind::Period => {}
        }
    }
    let originated: HashSet<&str> = sent
        .iter()
        .filter(|o| o.kind == Kind::Origination)
        .map(|o| o.path.split('/').nth(3).unwrap())
        .collect();
    for loan in &f.all_applications {
        let (_, v) = get(c, base, &format!("/v1/loans/{loan}")).await;
        if !originated.contains(loan.as_str()) {
            assert_eq!(
                v["stage"], "approved",
                "{name}: loan {loan} never sent: {v}"
            );
            assert!(
                v["funding"].is_null(),
                "{name}: loan {loan} half-booked: {v}"
            );
            continue;
        }
        let funding = v["funding"]
            .as_array()
            .expect("a co-lent loan shows its funders");
        let funded: i64 = funding
            .iter()
            .map(|f| f["principal_funded_minor"].as_i64().unwrap())
            .sum();
        assert_eq!(
            (v["stage"].as_str(), funding.len(), funded),
            (Some("active"), 2, 500_000),
            "{name}: loan {loan} funded once by both: {v}"
        );
        assert_eq!(
            loan_entry_count(c, base, loan).await,
            f.origination_entries,
            "{name}: loan {loan}: one origination's entries"
        );
    }
    for a in &f.accounts {
        let (_, v) = get(c, base, &format!("/v1/accounts/{a}")).await;
        assert_eq!(
            v["debits_posted_minor"].as_i64().unwrap(),
            debits.get(a).copied().unwrap_or(0),
            "{name}: account {a}"
        );
    }
    for l in &f.lines {
        let (_, v) = get(c, base, &format!("/v1/credit-lines/{l}")).await;
        assert_eq!(
            v["used_minor"].as_i64().unwrap(),
            used.get(l).copied().unwrap_or(0),
            "{name}: line {l}"
        );
    }
    for loan in &f.loans {
        let count = loan_entry_count(c, base, loan).await;
        assert_eq!(
            count,
            f.loan_entries_before[loan] + repayments.get(loan).copied().unwrap_or(0),
            "{name}: loan {loan}: one entry per repayment"
        );
    }
}

/// Once in a while, closes the business day under the load: a run to the next day, then
/// waits for the day to open (or for the server to die).
async fn close_a_day(base: String, f: Arc<Fixture>, journal: Arc<Mutex<Journal>>, delay_ms: u64) {
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    let to = {
        let mut j = journal.lock().unwrap();
        if j.cobs.len() >= COB_DAYS_MAX || j.cobs_done < j.cobs.len() {
            return;
        }
        let open: money::BusinessDate = f.open_day.lock().unwrap().parse().unwrap();
        let to = open.succ().to_string();
        j.cobs.push((new_id(), to.clone()));
        to
    };
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let key = journal.lock().unwrap().cobs.last().unwrap().0.clone();
    let _ = reach_day(&c, &base, &key, &to, &f).await;
}

/// Asks for close of business to `to` under `key` and waits until `to` is open; `Err` when
/// the server went away. A run asked again after a restart (runs live in the server's memory)
/// starts again from where the day stopped, or is refused because `to` is open already.
async fn reach_day(
    c: &reqwest::Client,
    base: &str,
    key: &str,
    to: &str,
    f: &Fixture,
) -> Result<(), reqwest::Error> {
    let r = c
        .post(format!("{base}/v1/close-of-business"))
        .bearer_auth(KEY)
        .header("idempotency-key", key)
        .json(&json!({ "to": to }))
        .send()
        .await?;
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(
        matches!(status, 200 | 202) || (status == 422 && v["field"] == "to"),
        "close of business to {to}: {status} {v}"
    );
    loop {
        let r = c
            .get(format!("{base}/v1/business-date"))
            .bearer_auth(KEY)
            .send()
            .await?;
        let v: Value = r.json().await.unwrap_or(Value::Null);
        let open = v["business_date"].as_str().unwrap_or_default().to_string();
        assert!(open.as_str() <= to, "the day moved past {to}: {open}");
        if open == to {
            *f.open_day.lock().unwrap() = open;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn loan_entry_count(c: &reqwest::Client, base: &str, loan: &str) -> usize {
    let mut n = 0;
    let mut cursor = String::new();
    loop {
        let (s, v) = get(
            c,
            base,
            &format!("/v1/loans/{loan}/entries?limit=500{cursor}"),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        n += v["items"].as_array().unwrap().len();
        match v["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return n,
        }
    }
}

async fn mixed_crash_suite(name: &str, store_args: Vec<String>, seed: u64) {
    let points: usize = std::env::var("PUHUI_CRASH_POINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    eprintln!("{name}: mixed crash test seed {seed}, {points} kill points");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let c = reqwest::Client::new();
    let s = start(&store_args, true);
    let funder = callback_funder().await;
    let f = Arc::new(set_up(&c, &s.base, &funder, points * 25 + 20).await);
    let journal = Arc::new(Mutex::new(Journal::default()));
    let mut server = Some(s);
    for point in 0..points {
        let s = server.take().unwrap_or_else(|| start(&store_args, false));
        let mut tasks: Vec<_> = (0..12)
            .map(|t| {
                tokio::spawn(load(
                    s.base.clone(),
                    f.clone(),
                    journal.clone(),
                    seed ^ ((point * 100 + t) as u64),
                ))
            })
            .collect();
        if rng.gen_bool(0.5) {
            let delay_ms = rng.gen_range(0..200);
            let cob = close_a_day(s.base.clone(), f.clone(), journal.clone(), delay_ms);
            tasks.push(tokio::spawn(cob));
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(30..500))).await;
        s.sigkill();
        for t in tasks {
            t.await.unwrap();
        }
        let s = start(&store_args, false);
        finish_cob(&s.base, &c, &f, &journal).await;
        check_after_restart(name, point, &s.base, &c, &journal).await;
        server = Some(s);
    }
    let s = server.take().unwrap();
    let sent = std::mem::take(&mut journal.lock().unwrap().sent);
    let refused = journal.lock().unwrap().refused.clone();
    check_exactly_once(name, &s.base, &c, &f, &sent, &refused).await;
    let (periods, collected_minor) =
        deals::check_exactly_once(name, &c, &s.base, &f.deals, &sent).await;
    // Each run closed exactly one day.
    let days = journal.lock().unwrap().cobs.len();
    let (_, v) = get(&c, &s.base, "/v1/business-date").await;
    let start: money::BusinessDate = BUSINESS_DATE.parse().unwrap();
    let expected = money::BusinessDate::add_days(start, days as i64).unwrap();
    assert_eq!(
        v["business_date"],
        expected.to_string(),
        "{name}: {days} days closed"
    );
    s.sigkill();
    let out = Command::new(env!("CARGO_BIN_EXE_puhui"))
        .args(["ledger", "verify", "--json"])
        .args(&store_args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: verify: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let j = journal.lock().unwrap();
    let by_kind = |k: Kind| sent.iter().filter(|o| o.kind == k).count();
    let applied = |k: Kind| {
        let is = |o: &&Op| o.kind == k && !refused.contains(&o.key);
        sent.iter().filter(is).count()
    };
    eprintln!(
        "{name}: {points} kill points; exactly once: {} entries, {} sales, {} repayments and {} prepayments ({} refused for a closed day), {} co-lent originations, {} days closed, {periods} of {} deals' periods run (collecting {collected_minor}); {} decisions acknowledged; ledger verified",
        by_kind(Kind::Entry),
        by_kind(Kind::Sale),
        applied(Kind::Repayment),
        applied(Kind::Prepayment),
        refused.len(),
        by_kind(Kind::Origination),
        days,
        f.deals.all.len(),
        j.decisions.len()
    );
}

fn seed() -> u64 {
    common::seed_from_env("PUHUI_CRASH_SEED")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_mixed_load_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    mixed_crash_suite(
        "sqlite",
        vec!["--data-dir".into(), dir.path().display().to_string()],
        seed(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_mixed_load_survives_sigkill() {
    if testkit::skip_postgres() {
        return;
    }
    let url = testkit::fresh_postgres_url().await;
    mixed_crash_suite("postgres", vec!["--database-url".into(), url], seed()).await;
}
