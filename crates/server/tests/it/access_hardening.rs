//! Access hardening through a real server on SQLite and PostgreSQL: per-key rate limits
//! answer 429 with `Retry-After`; oversized heads and bodies answer 431 and 413 problems;
//! every successful change and every plaintext read lands in the hash-chained audit log,
//! which refuses edits, and `puhui audit verify` finds a row edited behind its back; two
//! originations for one customer fired at once cannot both pass the borrower limit.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const KEY: &str = "access-hardening-test-operator-key";

struct App {
    name: &'static str,
    base: String,
    http: reqwest::Client,
    ts: testkit::TestStore,
}

async fn apps() -> Vec<App> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let state = server::app::build_state(ts.store.clone()).await.unwrap();
        server::app::bootstrap_key(&ts.store, Some(KEY))
            .await
            .unwrap();
        engine::loans::init_business_date(&state.engine, "2026-12-01".parse().unwrap())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(server::app::serve(state, listener, std::future::pending()));
        out.push(App {
            name: ts.name,
            base,
            http: reqwest::Client::new(),
            ts,
        });
    }
    out
}

impl App {
    async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        key: &str,
        idem: Option<String>,
    ) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        }
        .bearer_auth(key);
        if method != "GET" {
            req = req.header(
                "Idempotency-Key",
                idem.unwrap_or_else(|| Uuid::now_v7().to_string()),
            );
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        req.send().await.unwrap()
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>, key: &str) -> (u16, Value) {
        let r = self
            .send_raw(method, path, body.map(|b| b.to_string()), key, None)
            .await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None, KEY).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, Some(body), KEY).await
    }

    async fn ok(&self, path: &str, body: Value) -> String {
        let (s, v) = self.post(path, body).await;
        assert!(s == 201 || s == 200, "{}: POST {path}: {s} {v}", self.name);
        v["id"].as_str().unwrap().to_string()
    }

    /// The audit log once it holds at least `n` links (the writer appends in the
    /// background; this waits for it rather than for a time).
    async fn audit_at_least(&self, n: usize) -> Vec<Value> {
        for _ in 0..1_000 {
            let (s, v) = self.get("/v1/audit?limit=500").await;
            assert_eq!(s, 200, "{}: {v}", self.name);
            let items = v["items"].as_array().unwrap().clone();
            if items.len() >= n {
                return items;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{}: the audit log never reached {n} links", self.name);
    }

    fn store_args(&self) -> Vec<String> {
        match self.ts.name {
            "sqlite" => vec!["--data-dir".into(), self.ts.location.clone()],
            _ => vec!["--database-url".into(), self.ts.location.clone()],
        }
    }
}

fn verify_cli(args: &[String]) -> (bool, Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_puhui"))
        .args(["audit", "verify", "--json"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "audit verify prints JSON: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        }),
    )
}

fn record(link: &Value) -> Value {
    serde_json::from_str(link["record"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after() {
    for app in apps().await {
        let (s, v) = app
            .post(
                "/v1/api-keys",
                json!({"role": "risk_analyst", "tenant": "default", "rate_limit_per_s": 1}),
            )
            .await;
        assert_eq!(s, 201, "{}: {v}", app.name);
        assert_eq!(v["rate_limit_per_s"], json!(1));
        let slow = v["key"].as_str().unwrap().to_string();
        let mut limited = None;
        for _ in 0..20 {
            let r = app
                .send_raw("GET", "/v1/business-date", None, &slow, None)
                .await;
            if r.status().as_u16() == 429 {
                limited = Some(r);
                break;
            }
        }
        let r = limited.unwrap_or_else(|| panic!("{}: 20 requests at 1/s passed", app.name));
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry >= 1, "{}", app.name);
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{}",
            app.name
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "rate_limited", "{}: {v}", app.name);
        // Another key is not held back by it.
        assert_eq!(app.get("/v1/business-date").await.0, 200, "{}", app.name);
        // A limit out of range is refused, naming the field.
        let (s, v) = app
            .post(
                "/v1/api-keys",
                json!({"role": "investor", "tenant": "default", "rate_limit_per_s": 0}),
            )
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("rate_limit_per_s")),
            "{}: {v}",
            app.name
        );
    }
}

#[tokio::test]
async fn oversized_heads_and_bodies_get_431_and_413_problems() {
    for app in apps().await {
        let url = format!("{}/v1/business-date", app.base);
        let mut req = app.http.get(&url).bearer_auth(KEY);
        for i in 0..80 {
            req = req.header(format!("x-filler-{i}"), "x");
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 431, "{}: many fields", app.name);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "headers_too_large", "{}: {v}", app.name);

        let r = app
            .http
            .get(&url)
            .bearer_auth(KEY)
            .header("x-filler", "x".repeat(20 * 1024))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 431, "{}: one long field", app.name);

        let big = format!(
            "{{\"currency\":\"CNY\",\"pad\":\"{}\"}}",
            "x".repeat(9 << 20)
        );
        let r = app
            .send_raw("POST", "/v1/accounts", Some(big), KEY, None)
            .await;
        assert_eq!(r.status().as_u16(), 413, "{}", app.name);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "body_too_large", "{}: {v}", app.name);
    }
}

#[tokio::test]
async fn changes_and_plaintext_reads_are_chained_and_an_edited_link_is_found() {
    for app in apps().await {
        let name = app.name;
        // A change: the record names its key, route, object, idempotency key and body hash.
        let id = Uuid::now_v7().to_string();
        let body = json!({"owner": "o", "purpose": "cash", "currency": "CNY"}).to_string();
        let r = app
            .send_raw(
                "POST",
                "/v1/accounts",
                Some(body.clone()),
                KEY,
                Some(id.clone()),
            )
            .await;
        let status = r.status().as_u16();
        assert!(
            status == 201 || status == 200,
            "{name}: {}",
            r.text().await.unwrap()
        );
        // A refused change and a read are not logged.
        let (s, _) = app
            .post(
                "/v1/accounts",
                json!({"owner": "o", "purpose": "p", "currency": "XXX?"}),
            )
            .await;
        assert!(s >= 400, "{name}");
        app.get("/v1/business-date").await;
        // A customer, and a plaintext read of it with its reason.
        let customer = app
            .ok(
                "/v1/customers",
                json!({"kind": "individual", "name": "王小明",
                    "id_number": id_number(5), "phone": "13912345678",
                    "birth_date": "1995-04-20", "region_code": "310104",
                    "occupation": "engineer", "student": false, "currency": "CNY",
                    "annual_income_minor": 12_000_000}),
            )
            .await;
        let (s, v) = app
            .get(&format!(
                "/v1/customers/{customer}?reveal=true&reason=ticket%20OPS-42"
            ))
            .await;
        assert_eq!(s, 200, "{name}: {v}");

        let links = app.audit_at_least(3).await;
        assert_eq!(links.len(), 3, "{name}: {links:?}");
        let first = record(&links[0]);
        assert_eq!(first["kind"], "change", "{name}: {first}");
        assert_eq!(first["method"], "POST");
        assert_eq!(first["route"], "/v1/accounts");
        assert_eq!(first["object_id"], json!(id));
        assert_eq!(first["idempotency_key"], json!(id));
        assert_eq!(first["role"], "operator");
        assert_eq!(first["tenant"], "*");
        assert!(first["status"] == 201 || first["status"] == 200, "{name}");
        assert_eq!(
            first["body_sha256"],
            json!(hex::encode(Sha256::digest(body.as_bytes())))
        );
        let created = record(&links[1]);
        assert_eq!(created["route"], "/v1/customers", "{name}: {created}");
        assert_eq!(created["object_id"], json!(customer));
        let read = record(&links[2]);
        assert_eq!(read["kind"], "pii_read", "{name}: {read}");
        assert_eq!(read["object_id"], json!(customer));
        assert_eq!(read["reason"], "ticket OPS-42");
        // The chain as served: each link's hash covers the one before and its record.
        let mut prev = [0u8; 32];
        for (i, link) in links.iter().enumerate() {
            assert_eq!(link["seq"], json!(i + 1));
            assert_eq!(link["prev_hash"], json!(hex::encode(prev)));
            let mut h = Sha256::new();
            h.update(prev);
            h.update(link["record"].as_str().unwrap().as_bytes());
            prev = h.finalize().into();
            assert_eq!(link["hash"], json!(hex::encode(prev)), "{name}");
        }
        // Pages follow `after`.
        let (_, page) = app.get("/v1/audit?after=1&limit=1").await;
        assert_eq!(page["items"][0]["seq"], 2, "{name}: {page}");
        assert_eq!(page["next_after"], 2);
        // Only operators of every tenant read it.
        let (_, v) = app
            .post(
                "/v1/api-keys",
                json!({"role": "operator", "tenant": "default"}),
            )
            .await;
        let tenant_op = v["key"].as_str().unwrap().to_string();
        assert_eq!(app.send("GET", "/v1/audit", None, &tenant_op).await.0, 403);

        // The key just made is the fourth link.
        app.audit_at_least(4).await;
        let args = app.store_args();
        let (ok, report) = verify_cli(&args);
        assert!(ok, "{name}: an untouched log verifies: {report}");
        assert!(
            report["links_checked"].as_u64().unwrap() >= 4,
            "{name}: {report}"
        );

        // The database itself refuses edits and deletions.
        let store = &app.ts.store;
        assert!(store
            .execute_raw("UPDATE audit_log SET record = record WHERE seq = 2")
            .await
            .is_err());
        assert!(store
            .execute_raw("DELETE FROM audit_log WHERE seq = 3")
            .await
            .is_err());
        // Someone who turns that off and edits a record is found at that link.
        let edit = match app.ts.name {
            "sqlite" => {
                store
                    .execute_raw("DROP TRIGGER audit_log_no_update")
                    .await
                    .unwrap();
                "UPDATE audit_log SET record = CAST(replace(CAST(record AS TEXT), 'ticket OPS-42', 'routine') AS BLOB) WHERE seq = 3"
            }
            _ => {
                store
                    .execute_raw("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
                    .await
                    .unwrap();
                "UPDATE audit_log SET record = convert_to(replace(convert_from(record, 'UTF8'), 'ticket OPS-42', 'routine'), 'UTF8') WHERE seq = 3"
            }
        };
        assert_eq!(store.execute_raw(edit).await.unwrap(), 1, "{name}");
        let (ok, report) = verify_cli(&args);
        assert!(!ok, "{name}: an edited log fails: {report}");
        assert_eq!(report["broken_at"], 3, "{name}: {report}");
    }
}

fn id_number(seq: u32) -> String {
    let first17 = format!("31010419950420{seq:03}");
    format!(
        "{first17}{}",
        compliance::resident_id_check_char(&first17).unwrap()
    )
}

#[tokio::test]
async fn concurrent_originations_for_one_customer_pass_the_limit_once() {
    for app in apps().await {
        let name = app.name;
        let product = app
            .ok(
                "/v1/loan-products",
                json!({"name": "cash", "currency": "CNY", "amount_minor_min": 10_000,
                    "amount_minor_max": 100_000_000, "term_months_min": 1, "term_months_max": 12,
                    "repayment_method": "annuity", "contract_rate": "18%/year",
                    "rate_cap": "36%/year", "grace_days": 3, "late_fee_minor": 1_000,
                    "penalty_rate": "x1.5", "penalty_compounds": false,
                    "prepayment": {"full_allowed": true, "partial_allowed": true,
                        "partial_effect": "shorten_term", "fee_rate": "0%",
                        "partial_minimum_minor": 10_000},
                    "entrusted_payment_threshold_minor": 100_000_000, "write_off_dpd": 90}),
            )
            .await;
        // Income high enough that the 300,000 CNY balance cap is the binding one.
        let customer = app
            .ok(
                "/v1/customers",
                json!({"kind": "individual", "name": "李四", "id_number": id_number(7),
                    "phone": "13900000007", "birth_date": "1995-04-20",
                    "region_code": "310104", "occupation": "engineer", "student": false,
                    "currency": "CNY", "annual_income_minor": 150_000_000}),
            )
            .await;
        // Eight originations of 200,000 CNY at once, loans and lines: each alone is within
        // the cap, any two together are over it.
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (app, product, customer) = (app.clone(), product.clone(), customer.clone());
            tasks.push(tokio::spawn(async move {
                if i % 2 == 0 {
                    app.post(
                        "/v1/loans",
                        json!({"product_id": product, "borrower": customer,
                            "amount_minor": 20_000_000, "term_months": 12}),
                    )
                    .await
                } else {
                    app.post(
                        "/v1/credit-lines",
                        json!({"borrower_id": customer, "currency": "CNY",
                            "limit_minor": 20_000_000}),
                    )
                    .await
                }
            }));
        }
        let mut passed = 0;
        for t in tasks {
            let (s, v) = t.await.unwrap();
            match s {
                200 | 201 => passed += 1,
                422 => assert_eq!(
                    v["code"], "cn.microloan.individual_balance_max",
                    "{name}: {v}"
                ),
                _ => panic!("{name}: {s} {v}"),
            }
        }
        assert_eq!(
            passed, 1,
            "{name}: exactly one origination fits under the cap"
        );
        let (_, e) = app.get(&format!("/v1/customers/{customer}/exposure")).await;
        assert_eq!(e["items"].as_array().unwrap().len(), 1, "{name}: {e}");
    }
}
