//! The audit log's writer: every successful change made through the API (key, role,
//! tenant, method, route, object, idempotency key, status, time, the body's SHA-256) and
//! every plaintext read of personal data, appended to the store's hash chain
//! (`store::AuditRow`). Requests hand their record to one writer task and go on; the task
//! appends whatever has queued in one transaction, so a burst of changes shares a commit.
//! A plaintext read waits for its record to be durable before the data is answered.

use crate::auth::Principal;
use crate::problem::{problem, ApiError};
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::Method;
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::Store;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Records appended in one transaction at most.
const BATCH_MAX: usize = 4_096;

/// Whether a request of this method changes something.
pub fn is_change(m: &Method) -> bool {
    matches!(
        *m,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// One link's record. Field order is the canonical order: the record is hashed as
/// `serde_json` writes this struct.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// `change` or `pii_read`.
    pub kind: &'static str,
    pub at_ms: i64,
    pub key_id: Uuid,
    pub role: &'static str,
    pub tenant: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    /// Why personal data was read in plaintext.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a change request carries into the log, taken before its handler runs.
#[derive(Debug)]
pub struct Change {
    key_id: Uuid,
    role: &'static str,
    tenant: String,
    method: String,
    route: &'static str,
    object_id: Option<String>,
    idempotency_key: Option<String>,
    body_sha256: [u8; 32],
}

/// The value of the path segment where `route` has `{id}`.
fn path_id(route: &str, path: &str) -> Option<String> {
    route
        .split('/')
        .zip(path.split('/'))
        .find(|(r, _)| *r == "{id}")
        .map(|(_, p)| p.to_string())
}

#[derive(serde::Deserialize)]
struct BodyId {
    id: Option<serde_json::Value>,
}

impl Change {
    /// Reads the body (to hash it) and gives it back for the handler.
    pub async fn read(
        p: &Principal,
        route: &'static str,
        parts: &Parts,
        body: Body,
    ) -> Result<(Body, Change), ApiError> {
        let bytes = axum::body::to_bytes(body, crate::limits::BODY_BYTES_MAX)
            .await
            .map_err(|e| {
                if crate::listen::is_body_timeout(&e) {
                    problem(
                        408,
                        "body_timeout",
                        "Request timeout",
                        "the request body did not arrive in time (--body-timeout-ms)",
                    )
                } else {
                    problem(
                        413,
                        "body_too_large",
                        "Body rejected",
                        format!(
                            "the request body is unreadable or larger than {} bytes",
                            crate::limits::BODY_BYTES_MAX
                        ),
                    )
                }
            })?;
        let idempotency_key = parts
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(128).collect::<String>());
        let object_id = path_id(route, parts.uri.path())
            .or_else(|| {
                serde_json::from_slice::<BodyId>(&bytes)
                    .ok()
                    .and_then(|b| b.id)
                    .and_then(|v| v.as_str().map(|s| s.chars().take(128).collect()))
            })
            .or_else(|| idempotency_key.clone());
        let change = Change {
            key_id: p.key_id,
            role: p.role.as_str(),
            tenant: p.tenant.clone(),
            method: parts.method.as_str().to_string(),
            route,
            object_id,
            idempotency_key,
            body_sha256: Sha256::digest(&bytes).into(),
        };
        Ok((Body::from(bytes), change))
    }
}

enum Msg {
    Record(Vec<u8>, Option<oneshot::Sender<Result<(), String>>>),
    Flush(oneshot::Sender<()>),
}

/// The handle requests send records through.
pub struct AuditLog {
    tx: mpsc::UnboundedSender<Msg>,
}

impl AuditLog {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Store) -> AuditLog {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(writer(store, rx));
        AuditLog { tx }
    }

    fn send(&self, rec: &Record, ack: Option<oneshot::Sender<Result<(), String>>>) {
        let bytes = serde_json::to_vec(rec).expect("an audit record serializes");
        if self.tx.send(Msg::Record(bytes, ack)).is_err() {
            tracing::error!("the audit writer has stopped; a record was not written");
            metrics::counter!("puhui_audit_dropped_total").increment(1);
        }
    }

    /// Logs a change once its answer is known; refused requests changed nothing and are not
    /// logged.
    pub fn change(&self, c: Change, status: u16, at_ms: i64) {
        if !(200..300).contains(&status) {
            return;
        }
        self.send(
            &Record {
                kind: "change",
                at_ms,
                key_id: c.key_id,
                role: c.role,
                tenant: c.tenant,
                method: Some(c.method),
                route: Some(c.route),
                object_id: c.object_id,
                idempotency_key: c.idempotency_key,
                status: Some(status),
                body_sha256: Some(hex::encode(c.body_sha256)),
                reason: None,
            },
            None,
        );
    }

    /// Logs a plaintext read of a customer's personal data and waits until it is durable.
    pub async fn pii_read(
        &self,
        p: &Principal,
        tenant: &str,
        customer_id: Uuid,
        reason: &str,
        at_ms: i64,
    ) -> Result<(), ApiError> {
        let (ack, done) = oneshot::channel();
        self.send(
            &Record {
                kind: "pii_read",
                at_ms,
                key_id: p.key_id,
                role: p.role.as_str(),
                tenant: tenant.to_string(),
                method: None,
                route: None,
                object_id: Some(customer_id.to_string()),
                idempotency_key: None,
                status: None,
                body_sha256: None,
                reason: Some(reason.trim().to_string()),
            },
            Some(ack),
        );
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(crate::problem::internal(&e)),
            Err(_) => Err(crate::problem::internal("the audit writer has stopped")),
        }
    }

    /// Waits until every record sent before this call is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

async fn writer(store: Store, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut msgs = Vec::with_capacity(BATCH_MAX);
    while rx.recv_many(&mut msgs, BATCH_MAX).await > 0 {
        let mut records = Vec::with_capacity(msgs.len());
        let mut acks = Vec::new();
        let mut flushes = Vec::new();
        for m in msgs.drain(..) {
            match m {
                Msg::Record(r, ack) => {
                    records.push(r);
                    acks.extend(ack);
                }
                Msg::Flush(f) => flushes.push(f),
            }
        }
        let n = records.len();
        let mut result = Err(String::new());
        for attempt in 0..5 {
            match store.append_audit(records.clone()).await {
                Ok(()) => {
                    result = Ok(());
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, attempt, "appending to the audit log failed");
                    result = Err(e.to_string());
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
            }
        }
        match &result {
            Ok(()) => metrics::counter!("puhui_audit_records_total").increment(n as u64),
            Err(_) => metrics::counter!("puhui_audit_dropped_total").increment(n as u64),
        }
        for a in acks {
            let _ = a.send(result.clone());
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_is_the_routes_id_segment() {
        assert_eq!(
            path_id("/v1/loans/{id}/approve", "/v1/loans/abc/approve").as_deref(),
            Some("abc")
        );
        assert_eq!(path_id("/v1/loans", "/v1/loans"), None);
    }
}

/// `puhui audit`.
#[derive(clap::Subcommand)]
pub enum AuditCmd {
    /// Recomputes the audit log's hash chain from its first link and reports the first
    /// broken one; exits 1 when there is one. Safe beside a running server.
    Verify {
        #[command(flatten)]
        store: crate::cli::StoreArgs,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cmd: AuditCmd) -> anyhow::Result<std::process::ExitCode> {
    let AuditCmd::Verify { store, json } = cmd;
    let s = store.open_beside_writer().await?;
    let v = store::verify_audit(&s).await?;
    let head = v.head.map(|(seq, h)| (seq, hex::encode(h)));
    if json {
        println!(
            "{}",
            serde_json::json!({
                "links_checked": v.checked,
                "head_seq": head.as_ref().map(|h| h.0),
                "head_hash": head.as_ref().map(|h| h.1.clone()),
                "broken_at": v.broken.as_ref().map(|b| b.seq),
                "reason": v.broken.as_ref().map(|b| b.reason.clone()),
            })
        );
    } else {
        match (&v.broken, &head) {
            (Some(b), _) => println!(
                "audit log BROKEN at link {}: {} ({} links before it hold)",
                b.seq, b.reason, v.checked
            ),
            (None, Some((seq, h))) => {
                println!("audit log intact: {} links, head {seq} {h}", v.checked)
            }
            (None, None) => println!("audit log intact: empty"),
        }
    }
    Ok(if v.broken.is_some() {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    })
}
