//! A `puhui serve` killed with SIGKILL mid-delivery loses no webhook event: after a
//! restart (with events committed while it was down), the receiver has every event, in
//! order, and at most the one in flight twice (de-duplicated by its id). SQLite and
//! PostgreSQL.

use crate::common;
use crate::webhook_receiver;

use engine::{Engine, EngineConfig};
use serde_json::json;
use std::time::{Duration, Instant};
use store::EventFilter;
use webhook_receiver::{check_delivered, Behaviour, Receiver};

fn decision(id: String) -> store::DecisionRow {
    store::DecisionRow {
        id,
        applicant_id: "a".into(),
        created_at_ms: 1,
        input_json: "{}".into(),
        input_hash: [1; 32],
        model_version: "m".into(),
        policy_version: "p".into(),
        outcome: "approve".into(),
        rules_fired: "[]".into(),
        output_json: "{}".into(),
        output_hash: [2; 32],
    }
}

async fn decide(e: &Engine, n: usize) {
    for _ in 0..n {
        e.record_decision_for(decision(uuid::Uuid::now_v7().to_string()), "default")
            .await
            .unwrap();
    }
}

async fn position(s: &store::Store, id: uuid::Uuid) -> i64 {
    s.webhook(id).await.unwrap().unwrap().position
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_delivery_loses_nothing() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let store_args: Vec<String> = match name {
            "sqlite" => vec!["--data-dir".into(), ts.location.clone()],
            _ => vec!["--database-url".into(), ts.location.clone()],
        };
        let e = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .unwrap();
        decide(&e, 400).await;
        // Each delivery takes a few milliseconds, so the kill lands mid-stream.
        let receiver = Receiver::start(
            Behaviour {
                fail_pct: 0,
                hang_pct: 0,
                hang_ms: 0,
                work_ms: 3,
            },
            1,
        )
        .await;
        let secret = "crash-secret-0123456789";
        let flags = [
            "--webhook-timeout-ms",
            "2000",
            "--webhook-backoff-base-ms",
            "5",
        ];
        let (mut child, base) = common::serve_child(&store_args, &flags);
        let http = reqwest::Client::new();
        let resp = http
            .post(format!("{base}/v1/webhooks"))
            .bearer_auth(common::KEY)
            .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
            .json(&json!({"url": receiver.endpoint("crash", secret), "secret": secret, "after": 0}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201, "{name}");
        let sub: serde_json::Value = resp.json().await.unwrap();
        let id: uuid::Uuid = sub["id"].as_str().unwrap().parse().unwrap();

        let started = Instant::now();
        while receiver.arrivals("crash").len() < 100 {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{name}: no delivery"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let at_kill = position(&ts.store, id).await;
        assert!(at_kill < 400, "{name}: killed after the end ({at_kill})");
        // More events while the server is down.
        decide(&e, 100).await;
        let events = ts
            .store
            .events(EventFilter {
                after: 0,
                limit: 10_000,
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(events.len(), 500, "{name}");
        let want: Vec<(i64, String)> = events
            .iter()
            .map(|e| (e.seq, e.event.id.to_string()))
            .collect();

        let (mut child, _base) = common::serve_child(&store_args, &flags);
        let started = Instant::now();
        while position(&ts.store, id).await < 500 {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{name}: stuck"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let repeats = check_delivered(name, &receiver.arrivals("crash"), &want);
        assert!(repeats <= 1, "{name}: {repeats} events delivered twice");
        assert_eq!(
            receiver
                .state
                .bad_signatures
                .load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{name}"
        );
        println!("{name}: killed at position {at_kill}; {repeats} event delivered again after the restart");
    }
}
