//! Input hygiene and contained failures, through a real server on port 0 over each store:
//! requests no client could mean are refused with a 400 naming what is wrong and change
//! nothing; a panicking handler answers 500 with an incident id and the server serves on; a
//! stopped ledger writer turns `/healthz` to 503.

use crate::common;

use common::{new_id, TestServer, KEY};
use serde_json::{json, Value};
use server::app::{self, ServeConfig};

/// Servers with the fault-injection routes, one per store.
async fn fault_servers() -> Vec<(TestServer, tokio::task::JoinHandle<anyhow::Result<()>>)> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let state = app::build_state(ts.store.clone()).await.unwrap();
        app::bootstrap_key(&ts.store, Some(KEY)).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = ServeConfig {
            fault_injection: true,
            ..ServeConfig::default()
        };
        let task = tokio::spawn(app::serve_with(
            state,
            listener,
            config,
            std::future::pending(),
        ));
        out.push((TestServer::new(base, ts), task));
    }
    out
}

fn field(v: &Value) -> &str {
    v["field"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_json_array_is_not_taken_for_an_object() {
    for s in common::servers().await {
        let id = new_id();
        // BorrowerRequest's fields in order: id, kind, name.
        let body = json!([id, "individual", "Wei"]).to_string();
        let (st, p) = s.post_raw("/v1/borrowers", body, Some(&id), KEY).await;
        assert_eq!(
            (st, p["code"].as_str(), field(&p)),
            (400, Some("malformed_json"), "body"),
            "{}: {p}",
            s.name
        );
        assert_eq!(s.get(&format!("/v1/borrowers/{id}")).await.0, 404);
    }
}

#[tokio::test]
async fn two_idempotency_keys_are_refused() {
    for s in common::servers().await {
        let (a, b) = (new_id(), new_id());
        let r = s
            .client
            .post(format!("{}/v1/borrowers", s.base))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .header("idempotency-key", &a)
            .header("idempotency-key", &b)
            .body(json!({"kind": "individual", "name": "Wei"}).to_string())
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let p: Value = r.json().await.unwrap();
        assert_eq!((st, field(&p)), (400, "Idempotency-Key"), "{}: {p}", s.name);
        for id in [a, b] {
            assert_eq!(s.get(&format!("/v1/borrowers/{id}")).await.0, 404);
        }
    }
}

#[tokio::test]
async fn control_characters_in_names_are_refused() {
    for s in common::servers().await {
        for bad in ["Shop\u{0}", "Wei\u{7}", "x\u{1b}[31mred", "two\nlines"] {
            let id = new_id();
            let cases = [
                (
                    "/v1/borrowers",
                    json!({"id": id, "kind": "individual", "name": bad}),
                    "name",
                ),
                (
                    "/v1/merchants",
                    json!({"id": id, "name": bad, "discount_rate": "0.008", "settlement_account": "bank:1"}),
                    "name",
                ),
                (
                    "/v1/merchants",
                    json!({"id": id, "name": "Shop", "discount_rate": "0.008", "settlement_account": bad}),
                    "settlement_account",
                ),
                ("/v1/loan-products", product(bad), "name"),
            ];
            for (path, body, want) in cases {
                let (st, p) = s.post(path, &body, Some(&id)).await;
                assert_eq!(
                    (st, p["code"].as_str(), field(&p)),
                    (422, Some("control_character"), want),
                    "{}: {path} {bad:?}: {p}",
                    s.name
                );
            }
            assert_eq!(s.get(&format!("/v1/borrowers/{id}")).await.0, 404);
            assert_eq!(s.get(&format!("/v1/merchants/{id}")).await.0, 404);
        }
        // Ordinary names, in any script, still pass.
        let (st, v) = s
            .post(
                "/v1/accounts",
                &json!({"owner": "张伟 O'Brien", "purpose": "p", "currency": "CNY"}),
                None,
            )
            .await;
        assert_eq!(
            (st, v["owner"].as_str()),
            (201, Some("张伟 O'Brien")),
            "{v}"
        );
        let (st, p) = s
            .post(
                "/v1/accounts",
                &json!({"owner": "o\u{0}", "purpose": "p", "currency": "CNY"}),
                None,
            )
            .await;
        assert_eq!((st, field(&p)), (422, "owner"), "{p}");
    }
}

fn product(name: &str) -> Value {
    json!({
        "name": name, "currency": "CNY",
        "amount_minor_min": 10_000, "amount_minor_max": 20_000_000,
        "term_months_min": 1, "term_months_max": 12,
        "repayment_method": "annuity", "contract_rate": "0.05%/day", "rate_cap": "24%/year",
        "grace_days": 3, "late_fee_minor": 1_000, "penalty_rate": "x1.5", "penalty_compounds": false,
        "prepayment": {"full_allowed": true, "partial_allowed": true, "partial_effect": "shorten_term",
            "fee_rate": "0%", "partial_minimum_minor": 10_000},
        "entrusted_payment_threshold_minor": 5_000_000, "write_off_dpd": 90
    })
}

#[tokio::test]
async fn a_hold_that_has_already_expired_is_refused() {
    for s in common::servers().await {
        let (a, b) = (s.account("CNY").await, s.account("CNY").await);
        let hid = new_id();
        let hold = json!({"id": hid, "currency": "CNY", "debit_account_id": a,
            "credit_account_id": b, "amount_minor": 70, "expires_at_ms": engine::clock::system_now_ms() - 1});
        let (st, p) = s.post("/v1/holds", &hold, Some(&hid)).await;
        assert_eq!(
            (st, p["code"].as_str(), field(&p)),
            (422, Some("expires_in_past"), "expires_at_ms"),
            "{}: {p}",
            s.name
        );
        assert_eq!(s.get(&format!("/v1/holds/{hid}")).await.0, 404);
        let (_, acc) = s.get(&format!("/v1/accounts/{a}")).await;
        assert_eq!(acc["debits_pending_minor"], 0, "{}: {acc}", s.name);
    }
}

#[tokio::test]
async fn only_operators_read_metrics() {
    for s in common::servers().await {
        let mut keys = Vec::new();
        for role in ["borrower", "merchant", "investor"] {
            // Borrower and merchant keys act for one party; the party need not exist here.
            let party = uuid::Uuid::new_v4().to_string();
            let body = json!({"role": role, "tenant": "t", "party_kind": role, "party_id": party});
            let (st, k) = s.post("/v1/api-keys", &body, None).await;
            assert_eq!(st, 201, "{k}");
            keys.push((role, k["key"].as_str().unwrap().to_string()));
        }
        for (role, key) in keys {
            let r = s
                .client
                .get(format!("{}/metrics", s.base))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 403, "{}: {role} read /metrics", s.name);
        }
        let r = s
            .client
            .get(format!("{}/metrics", s.base))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_serves_on() {
    for (s, _task) in fault_servers().await {
        for _ in 0..3 {
            let r = s
                .client
                .post(format!("{}/v1/_faults/panic", s.base))
                .bearer_auth(KEY)
                .header("x-request-id", "client-req-7")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 500, "{}", s.name);
            assert_eq!(
                r.headers()["content-type"].to_str().unwrap(),
                "application/problem+json"
            );
            let header_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["code"], "internal", "{p}");
            assert_eq!(p["incident_id"].as_str(), Some(header_id.as_str()), "{p}");
            uuid::Uuid::parse_str(&header_id).expect("incident id is a UUID");
            // The same client (and its kept-alive connection) is served next.
            let (st, _) = s.get("/healthz").await;
            assert_eq!(st, 200, "{}: healthz after a panic", s.name);
            s.account("CNY").await;
        }
    }
}

#[tokio::test]
async fn a_stopped_ledger_writer_turns_health_to_503() {
    for (s, _task) in fault_servers().await {
        assert_eq!(s.get("/healthz").await.0, 200);
        let r = s
            .client
            .post(format!("{}/v1/_faults/stop-ledger-writer", s.base))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", s.name);
        let mut health = 0;
        for _ in 0..100 {
            health = s.get("/healthz").await.0;
            if health == 503 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(health, 503, "{}: healthz after the writer stopped", s.name);
        let (st, p) = s
            .post(
                "/v1/accounts",
                &json!({"owner": "o", "purpose": "p", "currency": "CNY"}),
                None,
            )
            .await;
        assert_eq!(
            (st, p["code"].as_str()),
            (503, Some("writer_stopped")),
            "{}: {p}",
            s.name
        );
    }
}
