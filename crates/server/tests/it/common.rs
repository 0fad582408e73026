//! A real server on port 0 per test, over each store.
#![allow(dead_code)]

use serde_json::{json, Value};
use server::app;
use std::sync::Arc;
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
    servers_on(|| Arc::new(engine::SystemClock))
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect()
}

/// Servers whose engines read a manual clock, started at the system time, which the test
/// moves forward instead of waiting.
pub async fn servers_on_manual_clocks() -> Vec<(TestServer, Arc<engine::ManualClock>)> {
    servers_on(engine::ManualClock::starting_now).await
}

async fn servers_on<C: engine::Clock>(clock: impl Fn() -> Arc<C>) -> Vec<(TestServer, Arc<C>)> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let clock = clock();
        let decisions = server::decisioning::DecisionService::from_env().expect("decision service");
        let state = app::build_state_on(ts.store.clone(), decisions, clock.clone())
            .await
            .expect("build state");
        app::bootstrap_key(&ts.store, Some(KEY))
            .await
            .expect("bootstrap key");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(app::serve(state, listener, std::future::pending()));
        let server = TestServer {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            name: ts.name,
            store: ts.store.clone(),
            ts,
        };
        out.push((server, clock));
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

/// Runs the `puhui` binary with `args` and returns its output, failing the test (with its
/// stderr) unless it succeeded.
pub fn puhui_ok(args: &[&str]) -> std::process::Output {
    let out = puhui(args).output().unwrap();
    assert!(
        out.status.success(),
        "puhui {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
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

/// A client of an in-process server: the operator key, and `Idempotency-Key` when given.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    /// The store's name, for assertion messages.
    pub name: &'static str,
}

impl Api {
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        key: Option<uuid::Uuid>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        }
        .bearer_auth(KEY);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k.to_string());
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("send request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("read body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post(&self, path: &str, body: Value, key: Option<uuid::Uuid>) -> (u16, Value) {
        self.send("POST", path, Some(body), key).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None, None).await
    }
}

/// An in-process server on port 0 over the test's store, for tests that also call the
/// engine; stopped when `stop` is awaited or when this is dropped.
pub struct Running {
    pub engine: engine::Engine,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}

/// Starts an in-process server with the operator key `KEY` and `business_date` open.
pub async fn start_in_process(ts: &testkit::TestStore, business_date: &str) -> (Api, Running) {
    let state = app::build_state(ts.store.clone()).await.unwrap();
    app::bootstrap_key(&ts.store, Some(KEY)).await.unwrap();
    engine::loans::init_business_date(&state.engine, business_date.parse().unwrap())
        .await
        .unwrap();
    let engine = state.engine.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(state, listener, async {
        let _ = stopped.await;
    }));
    let api = Api {
        base,
        http: reqwest::Client::new(),
        name: ts.name,
    };
    (
        api,
        Running {
            engine,
            stop,
            server,
        },
    )
}

/// The master key the test servers seal personal data under (PostgreSQL refuses to serve
/// without one).
pub const TEST_MASTER_KEY: &str =
    "1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A `puhui serve` child process on port 0 over `store_args` (plus `extra` flags), with the
/// test operator key, and the base URL it printed.
pub fn serve_child(store_args: &[String], extra: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_puhui"))
        .arg("serve")
        .args(store_args)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("PUHUI_BOOTSTRAP_API_KEY", KEY)
        .env("PUHUI_MASTER_KEY", TEST_MASTER_KEY)
        .env("PUHUI_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start puhui serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, base)
}

/// A `puhui serve` child that is killed when dropped: a test that fails between kill
/// points leaves no server behind holding the test's output open.
pub struct ServedChild {
    child: std::process::Child,
    pub base: String,
}

impl ServedChild {
    pub fn spawn(store_args: &[String], extra: &[&str]) -> ServedChild {
        let (child, base) = serve_child(store_args, extra);
        ServedChild { child, base }
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn sigkill(mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("the killed server is reaped");
    }
}

impl Drop for ServedChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The seed in environment variable `var` (to replay a run), or a random one.
pub fn seed_from_env(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

/// An amount in CNY as the console shows it (`1,234.56 CNY`).
pub fn cny(minor: i64) -> String {
    let s = (minor / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{grouped}.{:02} CNY", minor % 100)
}

/// A Parquet file's rows, each field as the CSV exports write it.
pub fn parquet_rows<R: parquet::file::reader::ChunkReader + 'static>(file: R) -> Vec<Vec<String>> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let r = SerializedFileReader::new(file).unwrap();
    r.get_row_iter(None)
        .unwrap()
        .map(|row| {
            row.unwrap()
                .get_column_iter()
                .map(|(_, f)| match f {
                    Field::Str(s) => s.clone(),
                    Field::Long(n) => n.to_string(),
                    Field::Int(n) => n.to_string(),
                    other => panic!("unexpected field {other:?}"),
                })
                .collect()
        })
        .collect()
}
