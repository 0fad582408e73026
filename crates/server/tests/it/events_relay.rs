//! The JetStream relay survives a SIGKILL: `puhui events relay` is killed mid-relay and
//! started again (with events committed meanwhile); a consumer of the stream then sees
//! every event once by id, in sequence order on every subject. Needs NATS with JetStream
//! at 127.0.0.1:4222 (or `PUHUI_TEST_NATS_URL`), as on developer machines and in CI.

use async_nats::jetstream;
use engine::{Engine, EngineConfig};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use store::{EventFilter, Store};

fn nats_url() -> String {
    std::env::var("PUHUI_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

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

/// `n` decisions from 64 concurrent clients, each committing its event.
async fn decide(e: &Engine, n: usize, tenant: &'static str) {
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..64 {
        let e = e.clone();
        tasks.spawn(async move {
            for _ in (c..n).step_by(64) {
                e.record_decision_for(decision(uuid::Uuid::now_v7().to_string()), tenant)
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

fn relay(store_args: &[String], stream: &str, prefix: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_puhui"))
        .args(["events", "relay"])
        .args(store_args)
        .args([
            "--nats",
            &nats_url(),
            "--stream",
            stream,
            "--subject-prefix",
            prefix,
        ])
        .args(["--batch", "500"])
        .env("PUHUI_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start puhui events relay")
}

async fn position(s: &Store, stream: &str) -> i64 {
    s.event_cursor(&format!("nats:{stream}"))
        .await
        .unwrap()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relay_killed_mid_relay_loses_and_repeats_nothing() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let store_args: Vec<String> = match name {
            "sqlite" => vec!["--data-dir".into(), ts.location.clone()],
            _ => vec!["--database-url".into(), ts.location.clone()],
        };
        let e = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .unwrap();
        // Two tenants, so that the stream has several subjects' worth of ordering to keep.
        decide(&e, 6_000, "t1").await;
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let (stream, prefix) = (format!("T_{tag}"), format!("t{}.events", &tag[..12]));

        let mut child = relay(&store_args, &stream, &prefix);
        let started = Instant::now();
        while position(&ts.store, &stream).await < 500 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{name}: relay idle"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let at_kill = position(&ts.store, &stream).await;
        assert!(at_kill < 6_000, "{name}: killed after the end ({at_kill})");
        // More events while the relay is down.
        decide(&e, 1_000, "t2").await;
        let head = ts.store.events_head().await.unwrap();
        assert_eq!(head, 7_000, "{name}");

        let mut child = relay(&store_args, &stream, &prefix);
        let started = Instant::now();
        while position(&ts.store, &stream).await < head {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{name}: relay stuck"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let js = jetstream::new(async_nats::connect(nats_url()).await.unwrap());
        let mut s = js.get_stream(&stream).await.unwrap();
        let stored = s.info().await.unwrap().state.messages;
        assert_eq!(
            stored, head as u64,
            "{name}: the stream holds each event once"
        );
        let consumer: jetstream::consumer::PullConsumer = s
            .create_consumer(jetstream::consumer::pull::Config {
                ack_policy: jetstream::consumer::AckPolicy::None,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut messages = consumer.messages().await.unwrap();
        let mut seen_ids = HashSet::new();
        let mut last_by_subject: HashMap<String, i64> = HashMap::new();
        let mut last_seq = 0;
        while seen_ids.len() < head as usize {
            let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
                .await
                .unwrap_or_else(|_| panic!("{name}: only {} messages", seen_ids.len()))
                .unwrap()
                .unwrap();
            let h = m.headers.as_ref().unwrap();
            let id = h.get("Nats-Msg-Id").unwrap().as_str().to_string();
            let seq: i64 = h.get("Puhui-Seq").unwrap().as_str().parse().unwrap();
            assert!(seen_ids.insert(id.clone()), "{name}: {id} twice");
            let subject = m.subject.to_string();
            let before = last_by_subject.insert(subject.clone(), seq).unwrap_or(0);
            assert!(seq > before, "{name}: {subject}: {seq} after {before}");
            assert!(
                seq > last_seq,
                "{name}: stream order {seq} after {last_seq}"
            );
            last_seq = seq;
            let body: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(body["id"], id.as_str(), "{name}");
            assert_eq!(
                subject,
                format!("{prefix}.{}", body["type"].as_str().unwrap())
            );
        }
        let all = ts
            .store
            .events(EventFilter {
                after: 0,
                limit: 10_000,
                ..EventFilter::default()
            })
            .await
            .unwrap();
        let ids: HashSet<String> = all.iter().map(|e| e.event.id.to_string()).collect();
        assert_eq!(ids, seen_ids, "{name}: every event, and nothing else");
        js.delete_stream(&stream).await.unwrap();
    }
}
