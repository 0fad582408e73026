//! Credit decisions through a real server on each store: decide, store, replay; bad input
//! names the field and stores nothing.

use crate::common;

use serde_json::Value;

fn example() -> Value {
    serde_json::from_str(include_str!("../../../../models/example-application.json")).unwrap()
}

#[tokio::test]
async fn decide_store_and_replay_byte_for_byte() {
    for s in common::servers().await {
        let (status, d) = s.post("/v1/decisions", &example(), None).await;
        assert_eq!(status, 201, "{}: {d}", s.name);
        assert_eq!(d["outcome"], "approve", "{}: {d}", s.name);
        assert_eq!(d["currency"], "CNY");
        assert!(d["limit_minor"].as_i64().unwrap() > 0);
        assert!(d["price"]["apr_percent"].as_str().is_some(), "{d}");
        assert!(d["price"]["annual_rate"].as_str().is_some(), "{d}");
        assert!(d["model_version"].as_str().unwrap().starts_with("sha256:"));
        assert!(d["policy_version"].as_str().unwrap().starts_with("sha256:"));
        assert!(d["reasons"].is_array());
        let id = d["decision_id"].as_str().unwrap();

        let stored = s.store.decision(id).await.unwrap().expect("stored");
        assert_eq!(stored.outcome, "approve");
        assert_eq!(hex_of(&stored.output_hash), d["output_hash"], "{}", s.name);

        let (status, r) = s
            .post(&format!("/v1/decisions/{id}/replay"), &Value::Null, None)
            .await;
        assert_eq!(status, 200, "{}: {r}", s.name);
        assert_eq!(r["identical"], true, "{}: {r}", s.name);
        assert_eq!(r["replayed_output_hash"], d["output_hash"]);

        // A stored output that was altered no longer matches its replay.
        s.store
            .execute_raw(&format!(
                "UPDATE decisions SET output_json = replace(output_json, '\"approve\"', '\"decline\"') WHERE id = '{id}'"
            ))
            .await
            .unwrap();
        let (_, r) = s
            .post(&format!("/v1/decisions/{id}/replay"), &Value::Null, None)
            .await;
        assert_eq!(r["identical"], false, "{}: {r}", s.name);

        let (status, _) = s
            .post("/v1/decisions/nope/replay", &Value::Null, None)
            .await;
        assert_eq!(status, 404);
    }
}

#[tokio::test]
async fn bad_input_names_the_field_and_stores_nothing() {
    for s in common::servers().await {
        let mut missing = example();
        missing["application"]["attributes"]
            .as_object_mut()
            .unwrap()
            .remove("credit_history");
        let (status, p) = s.post("/v1/decisions", &missing, None).await;
        assert_eq!(status, 422, "{}: {p}", s.name);
        assert_eq!(p["field"], "application.attributes.credit_history");

        let mut unknown = example();
        unknown["application"]["purpose"] = "yacht".into();
        let (status, p) = s.post("/v1/decisions", &unknown, None).await;
        assert_eq!(status, 422, "{}: {p}", s.name);
        assert_eq!(p["field"], "application.purpose");
        assert!(p["detail"].as_str().unwrap().contains("unknown category"));

        let mut no_age = example();
        no_age["application"].as_object_mut().unwrap().remove("age");
        let (status, p) = s.post("/v1/decisions", &no_age, None).await;
        assert_eq!(status, 400, "{}: {p}", s.name);
        assert!(p["detail"].as_str().unwrap().contains("age"), "{p}");

        let mut bad_date = example();
        bad_date["behaviour"]["transactions"][1]["date"] = "2026-02-30".into();
        let (status, p) = s.post("/v1/decisions", &bad_date, None).await;
        assert_eq!(status, 422, "{}: {p}", s.name);
        assert_eq!(p["field"], "behaviour.transactions[1].date");

        let n = s.store.execute_raw("DELETE FROM decisions").await.unwrap();
        assert_eq!(n, 0, "{}: a refused request stored nothing", s.name);
    }
}

#[test]
fn corrupt_model_or_policy_is_refused_at_start_with_the_path() {
    use server::decisioning::{DecisionService, DEFAULT_MODEL, DEFAULT_POLICY};
    let bad_policy = DEFAULT_POLICY.replace("\"max_reasons\": 4", "\"max_reasons\": \"four\"");
    let e = DecisionService::from_bytes(DEFAULT_MODEL.as_bytes(), bad_policy.as_bytes())
        .err()
        .unwrap();
    assert!(e.to_string().contains("max_reasons"), "{e}");
    let e =
        DecisionService::from_bytes(&DEFAULT_MODEL.as_bytes()[..500], DEFAULT_POLICY.as_bytes())
            .err()
            .unwrap();
    assert!(e.to_string().starts_with("model file"), "{e}");
}

fn hex_of(h: &[u8; 32]) -> Value {
    Value::String(h.iter().map(|b| format!("{b:02x}")).collect())
}
