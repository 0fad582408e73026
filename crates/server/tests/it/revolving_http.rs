//! Revolving-credit routes through a real server on port 0, on SQLite and PostgreSQL: a
//! purchase is authorized, captured, refunded and traced to ledger entries whose proofs
//! verify; refused requests name the field and change nothing; installment offers disclose
//! their APR; concurrent purchases never take more than the line's limit.

use base64::Engine as _;
use serde_json::{json, Value};
use uuid::Uuid;

const KEY: &str = "revolving-http-test-operator-key";

struct App {
    name: &'static str,
    base: String,
    http: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _store: testkit::TestStore,
}

/// One server per store, its business date opened on 2026-01-05.
async fn apps() -> Vec<App> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let state = server::app::build_state(ts.store.clone()).await.unwrap();
        server::app::bootstrap_key(&ts.store, Some(KEY))
            .await
            .unwrap();
        engine::loans::init_business_date(&state.engine, "2026-01-05".parse().unwrap())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(server::app::serve(state, listener, async {
            let _ = stopped.await;
        }));
        out.push(App {
            name: ts.name,
            base,
            http: reqwest::Client::new(),
            stop,
            server,
            _store: ts,
        });
    }
    out
}

impl App {
    async fn shutdown(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }

    /// Sends a request; `body` is sent as JSON text when given. Every error must be an
    /// RFC 9457 problem.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        key: Option<Uuid>,
    ) -> (u16, Value) {
        send(&self.http, &self.base, method, path, body, key).await
    }

    async fn post(&self, path: &str, body: Value, key: Option<Uuid>) -> (u16, Value) {
        self.send("POST", path, Some(body.to_string()), key).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None, None).await
    }

    async fn tree_size(&self) -> u64 {
        let (s, v) = self.get("/v1/ledger/tree-head").await;
        assert_eq!(s, 200, "{}: {v}", self.name);
        v["tree_size"].as_u64().unwrap()
    }

    async fn line(&self, id: &str) -> Value {
        let (s, v) = self.get(&format!("/v1/credit-lines/{id}")).await;
        assert_eq!(s, 200, "{}: {v}", self.name);
        v
    }

    /// What a refused request must leave as it was: the ledger's size and the line.
    async fn snapshot(&self, line: &str) -> (u64, Value) {
        (self.tree_size().await, self.line(line).await)
    }

    async fn borrower(&self) -> String {
        let (s, v) = self
            .post(
                "/v1/borrowers",
                json!({"kind": "individual", "name": "Li Lei"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{}: {v}", self.name);
        assert_eq!(v["kind"], "individual");
        v["id"].as_str().unwrap().to_string()
    }

    async fn merchant(&self) -> String {
        let (s, v) = self
            .post(
                "/v1/merchants",
                json!({"name": "Tea house", "discount_rate": "0.008",
                       "settlement_account": "bank:6222-0001"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{}: {v}", self.name);
        assert_eq!(
            (v["discount_rate"].as_str(), v["currency"].as_str()),
            (Some("0.008"), Some("CNY")),
            "{}: {v}",
            self.name
        );
        assert_eq!(v["settlement_account"], "bank:6222-0001");
        v["id"].as_str().unwrap().to_string()
    }

    async fn open_line(&self, borrower: &str, limit_minor: i64) -> Value {
        let (s, v) = self
            .post(
                "/v1/credit-lines",
                json!({"borrower_id": borrower, "currency": "CNY", "limit_minor": limit_minor}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{}: {v}", self.name);
        v
    }
}

async fn send(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    body: Option<String>,
    key: Option<Uuid>,
) -> (u16, Value) {
    let url = format!("{base}{path}");
    let mut req = match method {
        "GET" => http.get(url),
        _ => http.post(url),
    }
    .bearer_auth(KEY);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k.to_string());
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().await.expect("send request");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.expect("read body");
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status >= 400 {
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{method} {path}: errors are problem+json: {v}"
        );
        assert!(
            v["type"].is_string()
                && v["title"].is_string()
                && v["detail"].is_string()
                && v["status"] == status,
            "{method} {path}: a problem: {v}"
        );
    }
    (status, v)
}

fn purchase(line: &str, merchant: &str, amount_minor: i64) -> Value {
    json!({"credit_line_id": line, "merchant_id": merchant, "amount_minor": amount_minor,
           "currency": "CNY"})
}

fn field(v: &Value) -> &str {
    v["field"].as_str().unwrap_or("")
}

fn figures(line: &Value) -> (i64, i64, i64) {
    (
        line["available_minor"].as_i64().unwrap(),
        line["held_minor"].as_i64().unwrap(),
        line["used_minor"].as_i64().unwrap(),
    )
}

fn unhex32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .expect("32-byte hash")
}

/// Checks a trace step's proof on its own: the leaf is SHA-256(0x00 ‖ leaf_data) and the
/// audit path leads from it to the signed root.
fn verify_proof(proof: &Value) {
    let data = base64::engine::general_purpose::STANDARD
        .decode(proof["leaf_data"].as_str().unwrap())
        .unwrap();
    let leaf = ledger::merkle::leaf_hash(&data);
    assert_eq!(leaf, unhex32(&proof["leaf_hash"]), "{proof}");
    let path: Vec<[u8; 32]> = proof["audit_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(unhex32)
        .collect();
    let size = proof["tree_size"].as_u64().unwrap();
    assert_eq!(proof["tree_head"]["tree_size"].as_u64(), Some(size));
    assert_eq!(proof["tree_head"]["root_hash"], proof["root_hash"]);
    assert!(
        ledger::merkle::verify_inclusion(
            proof["leaf_index"].as_u64().unwrap(),
            size,
            &leaf,
            &path,
            &unhex32(&proof["root_hash"]),
        ),
        "the audit path leads to the root: {proof}"
    );
    // A different leaf does not verify against the same path.
    let mut forged = leaf;
    forged[0] ^= 1;
    assert!(!ledger::merkle::verify_inclusion(
        proof["leaf_index"].as_u64().unwrap(),
        size,
        &forged,
        &path,
        &unhex32(&proof["root_hash"]),
    ));
}

#[tokio::test]
async fn a_purchase_is_authorized_captured_refunded_and_traced() {
    for app in apps().await {
        let name = app.name;
        let borrower = app.borrower().await;
        let merchant = app.merchant().await;
        let (s, v) = app.get(&format!("/v1/merchants/{merchant}")).await;
        assert_eq!((s, v["discount_rate"].as_str()), (200, Some("0.008")));

        let opened = app.open_line(&borrower, 500_000).await;
        assert_eq!(opened["borrower_id"].as_str(), Some(borrower.as_str()));
        assert_eq!(
            (opened["status"].as_str(), opened["currency"].as_str()),
            (Some("active"), Some("CNY")),
            "{name}: {opened}"
        );
        assert_eq!(opened["business_date"], "2026-01-05");
        let line = opened["id"].as_str().unwrap().to_string();
        let v = app.line(&line).await;
        assert_eq!(v["limit_minor"].as_i64(), Some(500_000), "{name}: {v}");
        assert_eq!(figures(&v), (500_000, 0, 0), "{name}: {v}");

        // Authorization: a hold on the available limit.
        let pkey = Uuid::now_v7();
        let body = purchase(&line, &merchant, 120_000);
        let (s, p) = app.post("/v1/purchases", body.clone(), Some(pkey)).await;
        assert_eq!(s, 201, "{name}: {p}");
        assert_eq!(p["id"].as_str(), Some(pkey.to_string().as_str()));
        assert_eq!(p["status"], "authorized");
        assert_eq!(
            (p["amount_minor"].as_i64(), p["captured_minor"].as_i64()),
            (Some(120_000), Some(0))
        );
        assert_eq!(p["authorized_on"], "2026-01-05");
        let pid = pkey.to_string();
        assert_eq!(
            figures(&app.line(&line).await),
            (380_000, 120_000, 0),
            "{name}"
        );

        // The same key and body again is answered with the stored purchase, not repeated.
        let size = app.tree_size().await;
        let (s, again) = app.post("/v1/purchases", body, Some(pkey)).await;
        assert_eq!((s, &again), (200, &p), "{name}: a replay");
        // The same key with another body is refused.
        let (s, v) = app
            .post(
                "/v1/purchases",
                purchase(&line, &merchant, 120_001),
                Some(pkey),
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("id_reused")),
            "{name}: {v}"
        );
        assert_eq!(app.tree_size().await, size, "{name}");
        assert_eq!(
            figures(&app.line(&line).await),
            (380_000, 120_000, 0),
            "{name}: one hold, not two"
        );

        // Capture with no body takes the whole authorization.
        let (s, p) = app
            .send("POST", &format!("/v1/purchases/{pid}/capture"), None, None)
            .await;
        assert_eq!(s, 200, "{name}: {p}");
        assert_eq!(p["status"], "captured");
        assert_eq!(p["captured_minor"].as_i64(), Some(120_000));
        assert_eq!(p["captured_on"], "2026-01-05");
        assert!(
            app.tree_size().await > size,
            "{name}: a capture adds entries, so an unchanged tree size means nothing was posted"
        );
        let v = app.line(&line).await;
        assert_eq!(figures(&v), (380_000, 0, 120_000), "{name}: {v}");
        assert_eq!(v["unbilled_principal_minor"].as_i64(), Some(120_000));

        // A partial refund gives the limit back.
        let rkey = Uuid::now_v7();
        let (s, p) = app
            .post(
                &format!("/v1/purchases/{pid}/refunds"),
                json!({"amount_minor": 30_000}),
                Some(rkey),
            )
            .await;
        assert_eq!(s, 201, "{name}: {p}");
        assert_eq!(
            (p["refunded_minor"].as_i64(), p["captured_minor"].as_i64()),
            (Some(30_000), Some(120_000))
        );
        let (s, p) = app
            .post(
                &format!("/v1/purchases/{pid}/refunds"),
                json!({"amount_minor": 30_000}),
                Some(rkey),
            )
            .await;
        assert_eq!(
            (s, p["refunded_minor"].as_i64()),
            (200, Some(30_000)),
            "{name}: a retried refund is answered, not repeated"
        );
        let v = app.line(&line).await;
        assert_eq!(figures(&v), (410_000, 0, 90_000), "{name}: {v}");
        assert_eq!(v["unbilled_principal_minor"].as_i64(), Some(90_000));
        let (s, p) = app.get(&format!("/v1/purchases/{pid}")).await;
        assert_eq!((s, p["refunded_minor"].as_i64()), (200, Some(30_000)));

        // The trace: each hop is a ledger entry with a proof that verifies on its own.
        let (s, t) = app.get(&format!("/v1/purchases/{pid}/trace")).await;
        assert_eq!(s, 200, "{name}: {t}");
        assert_eq!(t["purchase"]["id"].as_str(), Some(pid.as_str()));
        assert_eq!(t["merchant"]["id"].as_str(), Some(merchant.as_str()));
        let steps = t["steps"].as_array().unwrap();
        let names: Vec<_> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(names, ["limit_used", "capture", "refund"], "{name}: {t}");
        let payable = t["merchant"]["payable_account_id"].as_str().unwrap();
        for step in steps {
            let entry = step["entry_id"].as_str().unwrap();
            assert_eq!(step["proof"]["entry_id"].as_str(), Some(entry));
            assert!(!step["postings"].as_array().unwrap().is_empty());
            verify_proof(&step["proof"]);
            let (s, e) = app.get(&format!("/v1/ledger/entries/{entry}")).await;
            assert_eq!(s, 200, "{name}: the traced entry is in the ledger: {e}");
        }
        // The capture pays the merchant's payable 120,000; the refund takes 30,000 back.
        let moved = |step: &Value, direction: &str| -> i64 {
            step["postings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["account_id"] == payable && p["direction"] == direction)
                .map(|p| p["amount_minor"].as_i64().unwrap())
                .sum()
        };
        assert_eq!(moved(&steps[1], "credit"), 120_000, "{name}: {t}");
        assert_eq!(moved(&steps[2], "debit"), 30_000, "{name}: {t}");
        for p in steps[1]["postings"].as_array().unwrap() {
            if p["direction"] == "debit" {
                assert_eq!(p["owner"].as_str(), Some(format!("line:{line}").as_str()));
                assert_eq!(p["purpose"], "rc_principal_receivable", "{name}: {t}");
            }
        }

        // History: the opening limit, with its reason.
        let (s, h) = app.get(&format!("/v1/credit-lines/{line}/history")).await;
        assert_eq!(s, 200, "{name}: {h}");
        let first = &h.as_array().unwrap()[0];
        assert_eq!(first["seq"].as_i64(), Some(0));
        assert_eq!(first["day"], "2026-01-05");
        assert_eq!(first["event"]["kind"], "limit_changed", "{name}: {h}");
        assert_eq!(first["event"]["old_limit_minor"].as_i64(), Some(0));
        assert_eq!(first["event"]["new_limit_minor"].as_i64(), Some(500_000));
        assert_eq!(first["event"]["reason"], "line opened");

        app.shutdown().await;
    }
}

#[tokio::test]
async fn refused_requests_name_the_field_and_change_nothing() {
    for app in apps().await {
        let name = app.name;
        let borrower = app.borrower().await;
        let merchant = app.merchant().await;
        let line = app.open_line(&borrower, 100_000).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let before = app.snapshot(&line).await;

        // Above the available limit: declined, with the purchase's outcome in the problem.
        let key = Uuid::now_v7();
        let (s, v) = app
            .post(
                "/v1/purchases",
                purchase(&line, &merchant, 100_001),
                Some(key),
            )
            .await;
        assert_eq!((s, field(&v)), (422, "amount_minor"), "{name}: {v}");
        assert_eq!(v["purchase"]["status"], "declined", "{name}: {v}");
        assert_eq!(v["purchase"]["reason"], "insufficient_available_limit");
        assert_eq!(v["purchase"]["id"].as_str(), Some(key.to_string().as_str()));
        let (s, _) = app.get(&format!("/v1/purchases/{key}")).await;
        assert_eq!(s, 404, "{name}: a declined purchase is not stored");
        assert_eq!(app.snapshot(&line).await, before, "{name}: declined");

        // Unknown merchant.
        let (s, v) = app
            .post(
                "/v1/purchases",
                purchase(&line, &Uuid::now_v7().to_string(), 100),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!((s, field(&v)), (422, "merchant_id"), "{name}: {v}");
        assert_eq!(
            app.snapshot(&line).await,
            before,
            "{name}: unknown merchant"
        );

        // Unknown JSON field.
        let mut extra = purchase(&line, &merchant, 100);
        extra["tip"] = json!(5);
        let (s, v) = app.post("/v1/purchases", extra, Some(Uuid::now_v7())).await;
        assert_eq!((s, field(&v)), (400, "tip"), "{name}: {v}");
        assert_eq!(app.snapshot(&line).await, before, "{name}: unknown field");

        // No Idempotency-Key on a money-moving POST.
        let (s, v) = app
            .post("/v1/purchases", purchase(&line, &merchant, 100), None)
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (400, Some("idempotency_key_missing")),
            "{name}: {v}"
        );
        assert_eq!(app.snapshot(&line).await, before, "{name}: no key");

        // Bad discount rate: no merchant is created.
        let mkey = Uuid::now_v7();
        let (s, v) = app
            .post(
                "/v1/merchants",
                json!({"name": "Noodles", "discount_rate": "abc",
                       "settlement_account": "bank:6222-0002"}),
                Some(mkey),
            )
            .await;
        assert_eq!((s, field(&v)), (422, "discount_rate"), "{name}: {v}");
        let (s, _) = app.get(&format!("/v1/merchants/{mkey}")).await;
        assert_eq!(s, 404, "{name}");
        assert_eq!(app.snapshot(&line).await, before, "{name}: bad rate");

        // Capture more than authorized.
        let pkey = Uuid::now_v7();
        let (s, p) = app
            .post(
                "/v1/purchases",
                purchase(&line, &merchant, 5_000),
                Some(pkey),
            )
            .await;
        assert_eq!(s, 201, "{name}: {p}");
        let authorized = app.snapshot(&line).await;
        assert_eq!(figures(&authorized.1), (95_000, 5_000, 0), "{name}");
        let (s, v) = app
            .post(
                &format!("/v1/purchases/{pkey}/capture"),
                json!({"amount_minor": 5_001}),
                None,
            )
            .await;
        assert_eq!((s, field(&v)), (422, "amount_minor"), "{name}: {v}");
        assert_eq!(
            app.snapshot(&line).await,
            authorized,
            "{name}: over-capture"
        );
        let (_, still) = app.get(&format!("/v1/purchases/{pkey}")).await;
        assert_eq!(still, p, "{name}: the purchase is unchanged");

        // Refund more than captured.
        let (s, captured) = app
            .send("POST", &format!("/v1/purchases/{pkey}/capture"), None, None)
            .await;
        assert_eq!(
            (s, captured["status"].as_str()),
            (200, Some("captured")),
            "{name}: {captured}"
        );
        let after_capture = app.snapshot(&line).await;
        assert_eq!(figures(&after_capture.1), (95_000, 0, 5_000), "{name}");
        let (s, v) = app
            .post(
                &format!("/v1/purchases/{pkey}/refunds"),
                json!({"amount_minor": 5_001}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!((s, field(&v)), (422, "amount_minor"), "{name}: {v}");
        assert_eq!(
            app.snapshot(&line).await,
            after_capture,
            "{name}: over-refund"
        );

        // Installments in a term the line does not offer.
        let (s, v) = app
            .post(
                &format!("/v1/purchases/{pkey}/installments"),
                json!({"months": 5}),
                None,
            )
            .await;
        assert_eq!((s, field(&v)), (422, "months"), "{name}: {v}");
        assert_eq!(app.snapshot(&line).await, after_capture, "{name}: 5 months");
        let (_, still) = app.get(&format!("/v1/purchases/{pkey}")).await;
        assert_eq!(still, captured, "{name}: not converted");

        // A frozen line authorizes nothing.
        let (s, v) = app
            .post(
                &format!("/v1/credit-lines/{line}/changes"),
                json!({"action": "freeze", "reason": "fraud alert"}),
                None,
            )
            .await;
        assert_eq!(s, 400, "{name}: a change needs an Idempotency-Key: {v}");
        assert_eq!(app.line(&line).await["status"], "active");
        let (s, v) = app
            .post(
                &format!("/v1/credit-lines/{line}/changes"),
                json!({"action": "freeze", "reason": "fraud alert"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(
            (s, v["status"].as_str()),
            (200, Some("frozen")),
            "{name}: {v}"
        );
        let frozen = app.snapshot(&line).await;
        let fkey = Uuid::now_v7();
        let (s, v) = app
            .post("/v1/purchases", purchase(&line, &merchant, 100), Some(fkey))
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("line_frozen")),
            "{name}: {v}"
        );
        assert_eq!(app.snapshot(&line).await, frozen, "{name}: frozen line");
        let (s, _) = app.get(&format!("/v1/purchases/{fkey}")).await;
        assert_eq!(s, 404, "{name}");
        let (_, h) = app.get(&format!("/v1/credit-lines/{line}/history")).await;
        let last = h.as_array().unwrap().last().unwrap();
        assert_eq!(
            (
                last["event"]["kind"].as_str(),
                last["event"]["to"].as_str(),
                last["event"]["reason"].as_str()
            ),
            (Some("status_changed"), Some("frozen"), Some("fraud alert")),
            "{name}: {h}"
        );

        app.shutdown().await;
    }
}

#[tokio::test]
async fn a_line_change_retried_with_its_key_is_answered_not_repeated() {
    for app in apps().await {
        let name = app.name;
        let borrower = app.borrower().await;
        let line = app.open_line(&borrower, 100_000).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let changes = format!("/v1/credit-lines/{line}/changes");
        let history = format!("/v1/credit-lines/{line}/history");
        let raise = json!({"action": "set_limit", "limit_minor": 200_000, "reason": "good payer"});
        let key = Uuid::now_v7();
        let (s, v) = app.post(&changes, raise.clone(), Some(key)).await;
        assert_eq!(s, 200, "{name}: {v}");
        assert_eq!(
            (v["limit_minor"].as_i64(), v["available_minor"].as_i64()),
            (Some(200_000), Some(200_000)),
            "{name}: {v}"
        );
        let (_, events) = app.get(&history).await;
        let raised = app.snapshot(&line).await;

        // The same request again: the line as it is, no second event, no ledger entry.
        let (s, v) = app.post(&changes, raise, Some(key)).await;
        assert_eq!((s, &v), (200, &raised.1), "{name}: a retry");
        assert_eq!(app.snapshot(&line).await, raised, "{name}");
        assert_eq!(app.get(&history).await.1, events, "{name}: logged once");

        // The key reused for another change is refused. (Raising by the same step again
        // would post the same amount under the same entry id: it must not move the limit
        // without the ledger.)
        let (s, v) = app
            .post(
                &changes,
                json!({"action": "set_limit", "limit_minor": 300_000, "reason": "good payer"}),
                Some(key),
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("id_reused")),
            "{name}: {v}"
        );
        assert_eq!(app.snapshot(&line).await, raised, "{name}: nothing changed");

        // A freeze retried is answered with the frozen line, not refused as already frozen.
        let freeze = json!({"action": "freeze", "reason": "fraud alert"});
        let key = Uuid::now_v7();
        let (s, first) = app.post(&changes, freeze.clone(), Some(key)).await;
        assert_eq!(
            (s, first["status"].as_str()),
            (200, Some("frozen")),
            "{name}: {first}"
        );
        let (s, again) = app.post(&changes, freeze, Some(key)).await;
        assert_eq!((s, &again), (200, &first), "{name}: a retried freeze");
        let (_, h) = app.get(&history).await;
        assert_eq!(
            h.as_array().unwrap().len(),
            events.as_array().unwrap().len() + 1,
            "{name}: one freeze logged: {h}"
        );
        app.shutdown().await;
    }
}

#[tokio::test]
async fn installment_quotes_disclose_their_apr() {
    for app in apps().await {
        let name = app.name;
        let (s, v) = app.get("/v1/installment-quotes/3/0.025").await;
        assert_eq!(s, 200, "{name}: {v}");
        assert_eq!(
            (
                v["months"].as_u64(),
                v["fee_rate"].as_str(),
                v["apr_percent"].as_str()
            ),
            (Some(3), Some("0.025"), Some("14.94")),
            "{name}: {v}"
        );
        let (s, v) = app.get("/v1/installment-quotes/12/0.088").await;
        assert_eq!(
            (s, v["apr_percent"].as_str()),
            (200, Some("15.86")),
            "{name}: {v}"
        );
        let (s, v) = app.get("/v1/installment-quotes/0/0.025").await;
        assert_eq!((s, field(&v)), (422, "months"), "{name}: {v}");
        let (s, v) = app.get("/v1/installment-quotes/3/abc").await;
        assert_eq!((s, field(&v)), (422, "fee_rate"), "{name}: {v}");
        app.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_purchases_take_exactly_the_limit() {
    for app in apps().await {
        let name = app.name;
        let borrower = app.borrower().await;
        let merchant = app.merchant().await;
        let line = app.open_line(&borrower, 500_000).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let (http, base) = (app.http.clone(), app.base.clone());
            let body = purchase(&line, &merchant, 10_000).to_string();
            tasks.spawn(async move {
                let key = Uuid::now_v7();
                let (s, v) =
                    send(&http, &base, "POST", "/v1/purchases", Some(body), Some(key)).await;
                (key, s, v)
            });
        }
        let (mut approved, mut declined) = (Vec::new(), 0);
        while let Some(r) = tasks.join_next().await {
            let (key, s, v) = r.unwrap();
            match s {
                201 => {
                    assert_eq!(v["status"], "authorized", "{name}: {v}");
                    approved.push(key);
                }
                422 => {
                    assert_eq!(
                        (
                            v["purchase"]["status"].as_str(),
                            v["purchase"]["reason"].as_str()
                        ),
                        (Some("declined"), Some("insufficient_available_limit")),
                        "{name}: {v}"
                    );
                    declined += 1;
                }
                other => panic!("{name}: unexpected {other}: {v}"),
            }
        }
        assert_eq!((approved.len(), declined), (50, 150), "{name}");
        let v = app.line(&line).await;
        assert_eq!(
            (v["held_minor"].as_i64(), v["available_minor"].as_i64()),
            (Some(500_000), Some(0)),
            "{name}: {v}"
        );
        for key in &approved[..3] {
            let (s, p) = app.get(&format!("/v1/purchases/{key}")).await;
            assert_eq!((s, p["status"].as_str()), (200, Some("authorized")));
        }
        app.shutdown().await;
    }
}
