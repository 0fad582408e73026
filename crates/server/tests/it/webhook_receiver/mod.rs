//! A real local webhook receiver (axum on port 0): verifies every request's signature,
//! records what arrives, and fails, hangs or answers as the test asks.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as it arrived (after its signature was checked).
#[derive(Clone, Debug)]
pub struct Arrival {
    pub seq: i64,
    pub id: String,
    pub body: serde_json::Value,
    /// Whether it was answered 2xx (or hung: the receiver may have processed it).
    pub processed: bool,
}

pub struct Behaviour {
    /// Percent of requests answered 500.
    pub fail_pct: u32,
    /// Percent of requests that hang for `hang_ms` before a 200 (past the sender's timeout).
    pub hang_pct: u32,
    pub hang_ms: u64,
    /// Time spent on every request that succeeds.
    pub work_ms: u64,
}

pub struct Receiver {
    pub base: String,
    pub state: Arc<Shared>,
}

pub struct Shared {
    secrets: Mutex<HashMap<String, String>>,
    arrivals: Mutex<HashMap<String, Vec<Arrival>>>,
    behaviour: Mutex<Behaviour>,
    /// While set, every request is answered 503.
    pub down: AtomicBool,
    pub bad_signatures: AtomicU64,
    pub failed: AtomicU64,
    pub hung: AtomicU64,
    rng: Mutex<rand::rngs::StdRng>,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour, seed: u64) -> Receiver {
        let state = Arc::new(Shared {
            secrets: Mutex::new(HashMap::new()),
            arrivals: Mutex::new(HashMap::new()),
            behaviour: Mutex::new(behaviour),
            down: AtomicBool::new(false),
            bad_signatures: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            hung: AtomicU64::new(0),
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
        });
        let app = Router::new()
            .route("/hook/{name}", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { base, state }
    }

    /// The URL of endpoint `name`, whose requests must be signed with `secret`.
    pub fn endpoint(&self, name: &str, secret: &str) -> String {
        self.state
            .secrets
            .lock()
            .unwrap()
            .insert(name.to_string(), secret.to_string());
        format!("{}/hook/{name}", self.base)
    }

    pub fn arrivals(&self, name: &str) -> Vec<Arrival> {
        self.state
            .arrivals
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// Distinct event ids answered 2xx at `name`.
    pub fn acknowledged(&self, name: &str) -> usize {
        self.arrivals(name)
            .iter()
            .filter(|a| a.processed)
            .map(|a| a.id.clone())
            .collect::<HashSet<_>>()
            .len()
    }

    pub fn set(&self, b: Behaviour) {
        *self.state.behaviour.lock().unwrap() = b;
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn receive(
    State(s): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let secret = s.secrets.lock().unwrap().get(&name).cloned();
    let header = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let signature = header("puhui-signature");
    let ok = secret.is_some_and(|secret| {
        engine::webhooks::verify(&secret, &signature, &body, now_secs(), 300).is_ok()
    });
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let id = header("puhui-event-id");
    let seq: i64 = header("puhui-event-seq").parse().unwrap_or(-1);
    if !ok || parsed["id"] != id.as_str() || parsed["seq"] != seq {
        s.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::BAD_REQUEST;
    }
    if s.down.load(Ordering::SeqCst) {
        s.failed.fetch_add(1, Ordering::SeqCst);
        push(&s, &name, seq, id, parsed, false);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let (roll, fail_pct, hang_pct, hang_ms, work_ms) = {
        let b = s.behaviour.lock().unwrap();
        let roll = s.rng.lock().unwrap().gen_range(0..100u32);
        (roll, b.fail_pct, b.hang_pct, b.hang_ms, b.work_ms)
    };
    if roll < fail_pct {
        s.failed.fetch_add(1, Ordering::SeqCst);
        push(&s, &name, seq, id, parsed, false);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    // Recorded on arrival: the order of arrivals is the order the sender sent in.
    push(&s, &name, seq, id, parsed, true);
    if roll < fail_pct + hang_pct {
        s.hung.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(hang_ms)).await;
    } else if work_ms > 0 {
        tokio::time::sleep(Duration::from_millis(work_ms)).await;
    }
    StatusCode::OK
}

fn push(s: &Shared, name: &str, seq: i64, id: String, body: serde_json::Value, processed: bool) {
    s.arrivals
        .lock()
        .unwrap()
        .entry(name.to_string())
        .or_default()
        .push(Arrival {
            seq,
            id,
            body,
            processed,
        });
}

/// Checks what `name` received against `expected` (seq, id), in order: every event
/// arrived in sequence order (a retry repeats the current event, never an earlier one
/// after a later one), each expected event was acknowledged, exactly once after
/// de-duplication by id, and nothing else arrived. Returns the number of repeats.
pub fn check_delivered(label: &str, arrivals: &[Arrival], expected: &[(i64, String)]) -> usize {
    let mut last = 0;
    for a in arrivals {
        assert!(
            a.seq >= last,
            "{label}: event {} arrived after {last}",
            a.seq
        );
        last = a.seq;
    }
    let mut seen = HashSet::new();
    let mut firsts = Vec::new();
    for a in arrivals.iter().filter(|a| a.processed) {
        if seen.insert(a.id.clone()) {
            firsts.push((a.seq, a.id.clone()));
        }
    }
    assert_eq!(
        firsts.len(),
        expected.len(),
        "{label}: {} distinct events acknowledged, {} expected",
        firsts.len(),
        expected.len()
    );
    assert_eq!(firsts, expected, "{label}: the events, once each, in order");
    arrivals.iter().filter(|a| a.processed).count() - firsts.len()
}
