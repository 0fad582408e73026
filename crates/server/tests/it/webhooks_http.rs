//! Webhooks against a real local receiver that fails 30 % of requests with 500s and
//! sometimes hangs past the sender's timeout: every event arrives, once after
//! de-duplication by id, in order per subscription, with a valid signature; a bound
//! merchant's subscription carries only its own events; repeated failures pause a
//! subscription and an operator resumes it; bad requests store nothing. SQLite and
//! PostgreSQL.

use crate::common;
use crate::webhook_receiver;

use common::{Api, KEY};
use engine::webhooks::DeliveryConfig;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use store::{EventFilter, Store};
use uuid::Uuid;
use webhook_receiver::{check_delivered, Behaviour, Receiver};

fn key() -> Option<Uuid> {
    Some(Uuid::now_v7())
}

async fn made(api: &Api, path: &str, body: Value) -> Value {
    let (s, v) = api.post(path, body, key()).await;
    assert!(matches!(s, 200 | 201), "{}: {path}: {s} {v}", api.name);
    v
}

async fn as_key(api: &Api, method: &str, path: &str, body: Option<Value>, k: &str) -> (u16, Value) {
    let url = format!("{}{path}", api.base);
    let mut req = match method {
        "GET" => api.http.get(url),
        _ => api.http.post(url),
    }
    .bearer_auth(k)
    .header("Idempotency-Key", Uuid::now_v7().to_string());
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn all_events(s: &Store) -> Vec<store::StoredEvent> {
    s.events(EventFilter {
        after: 0,
        limit: 100_000,
        ..EventFilter::default()
    })
    .await
    .unwrap()
}

/// Waits until `done` holds; a guard against a stuck worker, not a measure of speed.
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "stuck waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn names_merchant(e: &store::StoredEvent, merchant: &str) -> bool {
    let v: Value = serde_json::from_str(&e.event.payload).unwrap();
    e.event.subject.to_string() == merchant || v["doc"]["merchant_id"] == merchant
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_arrives_once_in_order_through_failures_and_hangs() {
    let seed = common::seed_from_env("PUHUI_WEBHOOK_SEED");
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let (api, running) = common::start_in_process(&ts, "2026-01-05").await;
        let receiver = Receiver::start(
            Behaviour {
                fail_pct: 30,
                hang_pct: 5,
                hang_ms: 400,
                work_ms: 0,
            },
            seed,
        )
        .await;
        let worker = tokio::spawn(engine::webhooks::run(
            ts.store.clone(),
            DeliveryConfig {
                timeout_ms: 150,
                max_failures: 1_000,
                backoff_base_ms: 2,
                backoff_cap_ms: 40,
                poll_ms: 20,
                batch: 100,
            },
            running.engine.clock(),
        ));

        let merchants: Vec<String> = {
            let mut out = Vec::new();
            for i in 0..2 {
                let m = made(&api, "/v1/merchants", json!({"name": format!("Shop {i}"), "discount_rate": "0.008", "settlement_account": "bank:1"})).await;
                out.push(m["id"].as_str().unwrap().to_string());
            }
            out
        };
        let mine = merchants[0].clone();
        let merchant_key = made(&api, "/v1/api-keys", json!({"role": "merchant", "tenant": "default", "party_kind": "merchant", "party_id": mine})).await["key"]
            .as_str()
            .unwrap()
            .to_string();
        // Subscriptions made before the events, from the first event on.
        let all_url = receiver.endpoint("all", "secret-all-0123456789");
        let (s, all) = api
            .post("/v1/webhooks", json!({"url": all_url, "secret": "secret-all-0123456789", "after": 0, "description": "everything"}), key())
            .await;
        assert_eq!(s, 201, "{name}: {all}");
        assert_eq!(all["secret"], "secret-all-0123456789");
        let captured_url = receiver.endpoint("captured", "secret-captured-0123456789");
        let captured = made(&api, "/v1/webhooks", json!({"url": captured_url, "types": ["purchase.captured"], "secret": "secret-captured-0123456789", "after": 0})).await;
        let (s, generated) = as_key(
            &api,
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/refused", "after": 0})),
            &merchant_key,
        )
        .await;
        assert_eq!(s, 201, "{name}: {generated}");
        assert!(
            generated["secret"].as_str().unwrap().starts_with("whsec_"),
            "{name}: a secret is generated"
        );
        assert_eq!(generated["party_id"], mine.as_str());
        // The merchant's endpoint verifies with the generated secret.
        let mine_url = receiver.endpoint("mine", generated["secret"].as_str().unwrap());
        let (s, _) = as_key(
            &api,
            "POST",
            &format!("/v1/webhooks/{}/disable", generated["id"].as_str().unwrap()),
            None,
            &merchant_key,
        )
        .await;
        assert_eq!(s, 200, "{name}");
        let (s, merchant_sub) = as_key(
            &api,
            "POST",
            "/v1/webhooks",
            Some(json!({"url": mine_url, "secret": generated["secret"], "after": 0})),
            &merchant_key,
        )
        .await;
        assert_eq!(s, 201, "{name}: {merchant_sub}");

        // A few hundred events through the API: purchases on two lines at two merchants.
        let mut lines = Vec::new();
        for i in 0..2 {
            let b = made(
                &api,
                "/v1/borrowers",
                json!({"kind": "individual", "name": format!("Borrower {i}")}),
            )
            .await;
            let l = made(
                &api,
                "/v1/credit-lines",
                json!({"borrower_id": b["id"], "currency": "CNY", "limit_minor": 1_000_000_000}),
            )
            .await;
            lines.push(l["id"].as_str().unwrap().to_string());
        }
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..6usize {
            let (base, lines, merchants) = (api.base.clone(), lines.clone(), merchants.clone());
            tasks.spawn(async move {
                let api = Api { base, http: reqwest::Client::new(), name };
                for i in 0..50usize {
                    let id = Uuid::now_v7();
                    let body = json!({"id": id, "credit_line_id": lines[(c + i) % 2], "merchant_id": merchants[i % 2], "amount_minor": 100 + i as i64, "currency": "CNY", "capture": true});
                    let (s, v) = api.post("/v1/purchases", body, Some(id)).await;
                    assert!(matches!(s, 200 | 201), "{name}: purchase {s} {v}");
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }

        let events = all_events(&ts.store).await;
        assert!(events.len() >= 300, "{name}: {} events", events.len());
        let expect = |f: &dyn Fn(&store::StoredEvent) -> bool| -> Vec<(i64, String)> {
            events
                .iter()
                .filter(|e| f(e))
                .map(|e| (e.seq, e.event.id.to_string()))
                .collect()
        };
        let want_all = expect(&|_| true);
        let want_captured = expect(&|e| e.event.kind == "purchase.captured");
        let want_mine = expect(&|e| names_merchant(e, &mine));
        assert!(
            want_captured.len() >= 300 && want_mine.len() >= 150,
            "{name}"
        );
        assert!(want_mine.len() < want_captured.len(), "{name}");

        wait_for("every delivery", || {
            receiver.acknowledged("all") >= want_all.len()
                && receiver.acknowledged("captured") >= want_captured.len()
                && receiver.acknowledged("mine") >= want_mine.len()
        })
        .await;
        // Positions are stored after the last acknowledgement: let them settle.
        for (sub, want) in [
            (&all, &want_all),
            (&captured, &want_captured),
            (&merchant_sub, &want_mine),
        ] {
            let id = sub["id"].as_str().unwrap();
            let last = want.last().unwrap().0;
            let started = Instant::now();
            loop {
                let (_, w) = api.get(&format!("/v1/webhooks/{id}")).await;
                if w["position"].as_i64().unwrap() >= last {
                    assert_eq!(w["status"], "active", "{name}: {w}");
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(60), "{name}: {w}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        worker.abort();

        let repeats = check_delivered(&format!("{name} all"), &receiver.arrivals("all"), &want_all)
            + check_delivered(
                &format!("{name} captured"),
                &receiver.arrivals("captured"),
                &want_captured,
            )
            + check_delivered(
                &format!("{name} merchant"),
                &receiver.arrivals("mine"),
                &want_mine,
            );
        let st = &receiver.state;
        assert_eq!(
            st.bad_signatures.load(Ordering::SeqCst),
            0,
            "{name}: every signature verifies"
        );
        let (failed, hung) = (
            st.failed.load(Ordering::SeqCst),
            st.hung.load(Ordering::SeqCst),
        );
        assert!(
            failed > 100 && hung > 0,
            "{name}: the receiver failed {failed} and hung {hung} times"
        );
        println!(
            "{name}: {} events; {} deliveries to 3 subscriptions; receiver failed {failed}, hung {hung}; {repeats} repeats (de-duplicated by id)",
            events.len(),
            want_all.len() + want_captured.len() + want_mine.len()
        );

        // The attempts are listed, failures with their status code.
        let (s, d) = api
            .get(&format!(
                "/v1/webhooks/{}/deliveries?limit=200",
                all["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(s, 200, "{name}: {d}");
        let items = d["items"].as_array().unwrap();
        assert_eq!(items.len(), 200, "{name}");
        assert!(items.iter().any(|i| i["status_code"] == 500), "{name}");
        assert!(items.iter().any(|i| i["status_code"] == 200), "{name}");

        // The merchant sees its own subscriptions only; an operator's is absent to it.
        let (s, page) = as_key(&api, "GET", "/v1/webhooks", None, &merchant_key).await;
        assert_eq!(s, 200, "{name}: {page}");
        let ids: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 2, "{name}: {page}");
        assert!(!ids.contains(&all["id"].as_str().unwrap()), "{name}");
        let (s, _) = as_key(
            &api,
            "GET",
            &format!("/v1/webhooks/{}", all["id"].as_str().unwrap()),
            None,
            &merchant_key,
        )
        .await;
        assert_eq!(s, 404, "{name}");
        let (s, _) = as_key(
            &api,
            "POST",
            &format!(
                "/v1/webhooks/{}/redeliver",
                merchant_sub["id"].as_str().unwrap()
            ),
            Some(json!({})),
            &merchant_key,
        )
        .await;
        assert_eq!(s, 403, "{name}: only operators redeliver");
        let (_, page) = api.get("/v1/webhooks?limit=2").await;
        assert_eq!(page["items"].as_array().unwrap().len(), 2, "{name}");
        let cursor = page["next_cursor"].as_str().unwrap().to_string();
        let (_, rest) = api.get(&format!("/v1/webhooks?cursor={cursor}")).await;
        assert_eq!(
            rest["items"].as_array().unwrap().len(),
            2,
            "{name}: four subscriptions in all"
        );
        running.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeated_failures_pause_until_an_operator_redelivers() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let (api, running) = common::start_in_process(&ts, "2026-01-05").await;
        let receiver = Receiver::start(
            Behaviour {
                fail_pct: 0,
                hang_pct: 0,
                hang_ms: 0,
                work_ms: 0,
            },
            7,
        )
        .await;
        receiver.state.down.store(true, Ordering::SeqCst);
        let secret = "pause-secret-0123456789";
        let sub = made(&api, "/v1/webhooks", json!({"url": receiver.endpoint("down", secret), "secret": secret, "types": ["merchant.created"], "after": 0})).await;
        let id = sub["id"].as_str().unwrap().to_string();
        for i in 0..5 {
            made(&api, "/v1/merchants", json!({"name": format!("Shop {i}"), "discount_rate": "0.008", "settlement_account": "bank:1"})).await;
        }
        let cfg = DeliveryConfig {
            timeout_ms: 500,
            max_failures: 3,
            backoff_base_ms: 1,
            backoff_cap_ms: 5,
            poll_ms: 20,
            batch: 100,
        };
        let clock = running.engine.clock();
        let worker = tokio::spawn(engine::webhooks::run(
            ts.store.clone(),
            cfg.clone(),
            clock.clone(),
        ));
        let started = Instant::now();
        let paused = loop {
            let (_, w) = api.get(&format!("/v1/webhooks/{id}")).await;
            if w["status"] == "paused" {
                break w;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{name}: never paused: {w}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(paused["position"], 0, "{name}: nothing acknowledged");
        assert_eq!(paused["consecutive_failures"], 3, "{name}");
        let reason = paused["paused_reason"].as_str().unwrap();
        assert!(
            reason.contains("3 consecutive") && reason.contains("503"),
            "{name}: {reason}"
        );
        let (_, d) = api.get(&format!("/v1/webhooks/{id}/deliveries")).await;
        let codes: Vec<&Value> = d["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["status_code"])
            .collect();
        assert_eq!(codes, vec![&json!(503); 3], "{name}: {d}");
        // Paused, it is left alone.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(receiver.arrivals("down").len(), 3, "{name}");

        // Bad input: a 4xx naming the field, and nothing changes.
        let (s, v) = api
            .post(
                &format!("/v1/webhooks/{id}/redeliver"),
                json!({"from_seq": 1_000_000}),
                None,
            )
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("from_seq")),
            "{name}: {v}"
        );
        let (s, _) = api
            .post(
                &format!("/v1/webhooks/{}/redeliver", Uuid::now_v7()),
                json!({}),
                None,
            )
            .await;
        assert_eq!(s, 404, "{name}");
        let (_, w) = api.get(&format!("/v1/webhooks/{id}")).await;
        assert_eq!(w["status"], "paused", "{name}");

        receiver.state.down.store(false, Ordering::SeqCst);
        let (s, w) = api
            .post(&format!("/v1/webhooks/{id}/redeliver"), json!({}), None)
            .await;
        assert_eq!((s, &w["status"]), (200, &json!("active")), "{name}: {w}");
        let events = all_events(&ts.store).await;
        let want: Vec<(i64, String)> = events
            .iter()
            .filter(|e| e.event.kind == "merchant.created")
            .map(|e| (e.seq, e.event.id.to_string()))
            .collect();
        assert_eq!(want.len(), 5, "{name}");
        wait_for("redelivery", || receiver.acknowledged("down") == 5).await;
        let arrivals: Vec<_> = receiver
            .arrivals("down")
            .into_iter()
            .filter(|a| a.processed)
            .collect();
        check_delivered(name, &arrivals, &want);

        // A rewind delivers again from the given position, in order.
        let from = want[1].0;
        let (s, w) = api
            .post(
                &format!("/v1/webhooks/{id}/redeliver"),
                json!({"from_seq": from}),
                None,
            )
            .await;
        assert_eq!(
            (s, w["position"].as_i64()),
            (200, Some(from)),
            "{name}: {w}"
        );
        wait_for("rewound redelivery", || {
            receiver
                .arrivals("down")
                .iter()
                .filter(|a| a.processed)
                .count()
                == 5 + 3
        })
        .await;
        let again: Vec<i64> = receiver
            .arrivals("down")
            .iter()
            .filter(|a| a.processed)
            .skip(5)
            .map(|a| a.seq)
            .collect();
        assert_eq!(again, vec![want[2].0, want[3].0, want[4].0], "{name}");
        assert_eq!(
            receiver.state.bad_signatures.load(Ordering::SeqCst),
            0,
            "{name}"
        );
        worker.abort();

        // One-shot delivery, as `puhui webhooks deliver` runs it.
        let sub2 = made(&api, "/v1/webhooks", json!({"url": receiver.endpoint("once", secret), "secret": secret, "after": 0, "types": ["merchant.created"]})).await;
        let report = engine::webhooks::deliver_once(ts.store.clone(), cfg, clock)
            .await
            .unwrap();
        assert_eq!(report.delivered, 5, "{name}: {report:?}");
        assert_eq!(receiver.acknowledged("once"), 5, "{name}");
        let (_, w) = api
            .get(&format!("/v1/webhooks/{}", sub2["id"].as_str().unwrap()))
            .await;
        assert_eq!(w["position"].as_i64(), Some(want[4].0), "{name}");
        running.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscriptions_are_refused_and_store_nothing() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let (api, running) = common::start_in_process(&ts, "2026-01-05").await;
        let cases = [
            (json!({"url": "ftp://example.com/hook"}), "url"),
            (json!({"url": "javascript:alert(1)"}), "url"),
            (json!({"url": "not a url"}), "url"),
            (
                json!({"url": "http://example.com/h", "types": ["loan.disbursed", "loan.nope"]}),
                "types[1]",
            ),
            (
                json!({"url": "http://example.com/h", "secret": "short"}),
                "secret",
            ),
            (json!({"url": "http://example.com/h", "after": -1}), "after"),
        ];
        for (body, field) in cases {
            let (s, v) = api.post("/v1/webhooks", body.clone(), key()).await;
            assert_eq!(
                (s, v["field"].as_str()),
                (422, Some(field)),
                "{name}: {body}: {v}"
            );
        }
        let (s, _) = api
            .post("/v1/webhooks", json!({"url": "http://example.com/h"}), None)
            .await;
        assert_eq!(s, 400, "{name}: an Idempotency-Key is required");
        let (s, _) = api.get(&format!("/v1/webhooks/{}", Uuid::now_v7())).await;
        assert_eq!(s, 404, "{name}");
        let (s, _) = api
            .get(&format!("/v1/webhooks/{}/deliveries", Uuid::now_v7()))
            .await;
        assert_eq!(s, 404, "{name}");
        let (s, _) = api
            .post(
                &format!("/v1/webhooks/{}/disable", Uuid::now_v7()),
                json!({}),
                None,
            )
            .await;
        assert_eq!(s, 404, "{name}");
        // A partner bank's key that acts for no partner cannot subscribe.
        let unbound = made(
            &api,
            "/v1/api-keys",
            json!({"role": "partner_bank", "tenant": "default"}),
        )
        .await["key"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, v) = as_key(
            &api,
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "http://example.com/h"})),
            &unbound,
        )
        .await;
        assert_eq!(s, 403, "{name}: {v}");
        let (_, page) = api.get("/v1/webhooks").await;
        assert_eq!(page["items"], json!([]), "{name}: nothing stored");
        // The same request again is the same subscription; another under its id is refused.
        let id = Uuid::now_v7();
        let body = json!({"url": "https://example.com/h", "types": ["loan.repaid"]});
        let (s, first) = api.post("/v1/webhooks", body.clone(), Some(id)).await;
        assert_eq!(s, 201, "{name}: {first}");
        let (s, again) = api.post("/v1/webhooks", body, Some(id)).await;
        assert_eq!((s, again.get("secret")), (200, None), "{name}: {again}");
        let (s, _) = api
            .post(
                "/v1/webhooks",
                json!({"url": "https://example.com/other"}),
                Some(id),
            )
            .await;
        assert_eq!(s, 409, "{name}");
        let _ = KEY;
        running.stop().await;
    }
}
