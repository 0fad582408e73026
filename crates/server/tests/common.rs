//! A real server on port 0 per test, over each store.
#![allow(dead_code)]

use serde_json::{json, Value};
use server::app;
use store::Store;

pub const KEY: &str = "test-operator-key-0123456789";

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub name: &'static str,
    pub store: Store,
    ts: testkit::TestStore,
}

pub async fn servers() -> Vec<TestServer> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let state = app::build_state(ts.store.clone())
            .await
            .expect("build state");
        app::bootstrap_key(&ts.store, Some(KEY))
            .await
            .expect("bootstrap key");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(app::serve(state, listener, std::future::pending()));
        out.push(TestServer {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            name: ts.name,
            store: ts.store.clone(),
            ts,
        });
    }
    out
}

impl TestServer {
    /// A server already listening at `base` over `ts`.
    pub fn new(base: String, ts: testkit::TestStore) -> TestServer {
        TestServer {
            base,
            client: reqwest::Client::new(),
            name: ts.name,
            store: ts.store.clone(),
            ts,
        }
    }

    /// The SQLite data directory or the PostgreSQL URL.
    pub fn location(&self) -> String {
        self.ts.location.clone()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.get_as(path, KEY).await
    }

    pub async fn get_as(&self, path: &str, key: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POSTs JSON with an Idempotency-Key taken from `key_id` (or a fresh one).
    pub async fn post(&self, path: &str, body: &Value, idem: Option<&str>) -> (u16, Value) {
        self.post_raw(path, body.to_string(), idem, KEY).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        body: String,
        idem: Option<&str>,
        key: &str,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body);
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        if status >= 400 {
            assert_eq!(
                r.headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/problem+json"),
                "{}: errors are problem+json",
                self.name
            );
        }
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn account(&self, currency: &str) -> String {
        let (s, v) = self
            .post(
                "/v1/accounts",
                &json!({"owner": "o", "purpose": "p", "currency": currency}),
                None,
            )
            .await;
        assert_eq!(s, 201, "{}: {v}", self.name);
        v["id"].as_str().unwrap().to_string()
    }
}

pub fn entry(id: &str, from: &str, to: &str, amount: i64) -> Value {
    json!({"id": id, "currency": "CNY", "postings": [
        {"account_id": from, "direction": "debit", "amount_minor": amount},
        {"account_id": to, "direction": "credit", "amount_minor": amount}]})
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A book for close-of-business tests: `n` loans of 1,000.00 and up over 1–12 months,
/// originated on `start` (which opens as the first business day).
pub async fn seed_cob_book(store: Store, n: u64, start: &str) {
    use engine::loans::{self, Application};
    let engine = engine::Engine::start(store, engine::EngineConfig::default())
        .await
        .unwrap();
    let start = start.parse().unwrap();
    loans::init_business_date(&engine, start).await.unwrap();
    let product = lending::LoanProduct::example_cny();
    let mut tasks = Vec::new();
    for i in 0..n {
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
                decision_id: None,
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

/// The `puhui` binary of this build, logging only warnings.
pub fn puhui(args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_puhui"));
    c.args(args).env("PUHUI_LOG", "warn");
    c
}

/// Runs `puhui ledger verify` on a store (`--data-dir DIR` or `--database-url URL`) and
/// asserts that it finds the books right.
pub fn assert_verified(store_flag: &str, location: &str) {
    let out = puhui(&["ledger", "verify", store_flag, location, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify {location}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The business date and every loan's id, day and state, by id.
pub async fn loan_snapshot(store: &Store) -> (String, Vec<(uuid::Uuid, i32, Vec<u8>)>) {
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
