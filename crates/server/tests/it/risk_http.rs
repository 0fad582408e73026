//! Real-time risk through a real server on SQLite and PostgreSQL: signals for unknown
//! customers or with bad fields refused with the field and nothing stored; a bureau alert
//! halts the customer (a new line is refused) and shows in its risk state with the rule and
//! the cause; bad rule files refused by `puhui risk rules validate` and by `serve`.

use crate::common;

use common::{puhui, start_in_process};
use engine::monitor::Monitor;
use engine::revolving::{self as rc, BorrowerKind};
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

/// Polls the risk state until `done` holds (the monitor runs beside the test).
async fn risk_until(api: &common::Api, customer: Uuid, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..2_000 {
        let (status, body) = api.get(&format!("/v1/customers/{customer}/risk")).await;
        assert_eq!(status, 200, "{}: {body}", api.name);
        if done(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{}: the risk state never got there", api.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signals_move_the_risk_state_and_bad_ones_store_nothing() {
    for ts in testkit::all_stores().await {
        let (api, running) = start_in_process(&ts, "2026-03-02").await;
        let e = running.engine.clone();
        let monitor = tokio::spawn(
            Monitor::new(e.clone(), risk::early_warning::default_pack())
                .run(Duration::from_millis(5), engine::monitor::PACE),
        );
        let c = Uuid::now_v7();
        rc::create_borrower(&e, c, "default", BorrowerKind::Enterprise, "Tea Co".into())
            .await
            .unwrap();
        let head = e.store().events_head().await.unwrap();

        let (s, p) = api
            .post(
                &format!("/v1/customers/{}/signals", Uuid::now_v7()),
                json!({"kind": "bureau_alert"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 404, "{}: {p}", api.name);
        for (body, field) in [
            (json!({"kind": "rumour"}), "kind"),
            (
                json!({"kind": "merchant_revenue", "currency": "CNY"}),
                "amount_minor",
            ),
            (
                json!({"kind": "merchant_revenue", "amount_minor": 5, "currency": "XXX"}),
                "currency",
            ),
            (
                json!({"kind": "bureau_alert", "amount_minor": 5, "currency": "CNY"}),
                "amount_minor",
            ),
        ] {
            let (s, p) = api
                .post(
                    &format!("/v1/customers/{c}/signals"),
                    body.clone(),
                    Some(Uuid::now_v7()),
                )
                .await;
            assert_eq!(s, 422, "{}: {body} → {p}", api.name);
            assert_eq!(p["field"], field, "{}: {p}", api.name);
        }
        assert_eq!(
            e.store().events_head().await.unwrap(),
            head,
            "{}: refused signals write nothing",
            api.name
        );
        let (s, _) = api
            .get(&format!("/v1/customers/{}/risk", Uuid::now_v7()))
            .await;
        assert_eq!(s, 404, "{}", api.name);

        let key = Uuid::now_v7();
        let revenue = json!({"kind": "merchant_revenue", "amount_minor": 12_000_000,
                             "currency": "CNY", "detail": "2026-02"});
        let (s, p) = api
            .post(
                &format!("/v1/customers/{c}/signals"),
                revenue.clone(),
                Some(key),
            )
            .await;
        assert_eq!(s, 201, "{}: {p}", api.name);
        assert_eq!(p["id"], key.to_string());
        let (s, _) = api
            .post(&format!("/v1/customers/{c}/signals"), revenue, Some(key))
            .await;
        assert_eq!(s, 200, "{}: a retry answers the stored signal", api.name);
        let (s, p) = api
            .post(
                &format!("/v1/customers/{c}/signals"),
                json!({"kind": "bureau_alert", "detail": "default elsewhere"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{}: {p}", api.name);

        let state = risk_until(&api, c, |b| b["halted"] == true).await;
        assert_eq!(state["signals"].as_array().unwrap().len(), 2, "{state}");
        let hit = &state["rule_hits"][0];
        assert_eq!(hit["rule_id"], "bureau_alert", "{state}");
        let actions: Vec<&str> = state["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["freeze_line", "halt_new_loans"], "{state}");
        assert_eq!(state["actions"][0]["result"], "skipped: no open line");
        assert!(state["behaviour_score"].is_string(), "{state}");

        let (s, p) = api
            .post(
                "/v1/credit-lines",
                json!({"borrower_id": c, "limit_minor": 100_000, "currency": "CNY"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 409, "{}: {p}", api.name);
        assert_eq!(p["code"], "customer_halted", "{}: {p}", api.name);
        monitor.abort();
        running.stop().await;
    }
}

#[test]
fn bad_rule_files_are_refused_with_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    let out = puhui(&["risk", "rules", "builtin"]).output().unwrap();
    assert!(out.status.success());
    std::fs::write(&good, &out.stdout).unwrap();
    let out = puhui(&["risk", "rules", "validate", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("missed_payment"));

    let mut pack: Value = serde_json::from_slice(&std::fs::read(&good).unwrap()).unwrap();
    pack["rules"][1]["actions"][0] = json!({"kind": "lower_limit", "by_fraction": "1.5"});
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, pack.to_string()).unwrap();
    let out = puhui(&["risk", "rules", "validate", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules[1].actions[0].by_fraction"), "{err}");

    // The server does not start on it either, and says why.
    let data = dir.path().join("data");
    let out = puhui(&[
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--early-warning-rules",
        bad.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules[1].actions[0].by_fraction"), "{err}");
}
