//! `GET /v1/events` over HTTP on SQLite and PostgreSQL: pages by sequence, filters by type,
//! keeps to the key's tenant, refuses bound keys and bad queries naming the parameter.

use crate::common;

use common::{start_in_process, Api};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_pages_filters_and_refuses_bad_queries() {
    for ts in testkit::all_stores().await {
        let (s, running) = start_in_process(&ts, "2026-01-05").await;
        let name = s.name;
        let mut borrowers = Vec::new();
        for i in 0..5 {
            let id = uuid::Uuid::now_v7();
            let (st, b) = s
                .post(
                    "/v1/borrowers",
                    json!({"id": id, "kind": "individual", "name": format!("b{i}")}),
                    Some(id),
                )
                .await;
            assert_eq!(st, 201, "{name}: {b}");
            borrowers.push(id.to_string());
        }
        // Pages of two, by `next_after`.
        let (mut after, mut seen) = (0, Vec::new());
        loop {
            let (st, page) = s.get(&format!("/v1/events?after={after}&limit=2")).await;
            assert_eq!(st, 200, "{name}: {page}");
            let items = page["items"].as_array().unwrap().clone();
            if items.is_empty() {
                assert_eq!(page["next_after"], after, "{name}");
                break;
            }
            for it in &items {
                assert_eq!(it["seq"].as_i64().unwrap(), after + 1, "{name}: gap-free");
                after = it["seq"].as_i64().unwrap();
                seen.push(it.clone());
            }
            assert_eq!(page["next_after"], after, "{name}");
        }
        let created: Vec<&Value> = seen
            .iter()
            .filter(|e| e["type"] == "borrower.created")
            .collect();
        let subjects: Vec<&str> = created
            .iter()
            .map(|e| e["subject_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            subjects, borrowers,
            "{name}: one event per borrower, in order"
        );
        let e = created[0];
        assert_eq!(e["tenant"], "default", "{name}: {e}");
        assert_eq!(e["payload"]["doc"]["name"], "b0", "{name}: {e}");
        assert!(
            e["occurred_on"].as_str().unwrap().len() == 10,
            "{name}: {e}"
        );

        let (st, page) = s
            .get("/v1/events?types=borrower.created,loan.disbursed")
            .await;
        assert_eq!(st, 200, "{name}");
        assert_eq!(page["items"].as_array().unwrap().len(), 5, "{name}");
        let (st, page) = s.get("/v1/events?types=loan.disbursed").await;
        assert_eq!(
            (st, page["items"].as_array().unwrap().len()),
            (200, 0),
            "{name}"
        );

        // Out of the documented range: 400; in it, but no such type or sequence: 422.
        for (query, field, status) in [
            ("types=borrower.created,loan.nope", "types", 422),
            ("limit=0", "limit", 400),
            ("limit=5001", "limit", 400),
            ("after=-1", "after", 422),
        ] {
            let (st, p) = s.get(&format!("/v1/events?{query}")).await;
            assert_eq!(st, status, "{name}: {query}: {p}");
            assert_eq!(p["field"], field, "{name}: {query}: {p}");
        }
        let (st, _) = s.get("/v1/events?after=abc").await;
        assert_eq!(st, 400, "{name}");

        // Another tenant's operator sees none of these; a risk analyst may not read the feed.
        let other = key(&s, json!({"role": "operator", "tenant": "other"})).await;
        let (st, page) = get_as(&s, "/v1/events", &other).await;
        assert_eq!(st, 200, "{name}");
        assert_eq!(page["items"], json!([]), "{name}");
        let analyst = key(&s, json!({"role": "risk_analyst", "tenant": "default"})).await;
        let (st, _) = get_as(&s, "/v1/events", &analyst).await;
        assert_eq!(st, 403, "{name}");
        running.stop().await;
    }
}

async fn key(s: &Api, body: Value) -> String {
    let (st, k) = s.post("/v1/api-keys", body, None).await;
    assert_eq!(st, 201, "{}: {k}", s.name);
    k["key"].as_str().unwrap().to_string()
}

async fn get_as(s: &Api, path: &str, key: &str) -> (u16, Value) {
    let r = s
        .http
        .get(format!("{}{path}", s.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}
