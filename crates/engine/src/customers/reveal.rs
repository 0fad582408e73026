//! The audit record of a read of personal data in plaintext: who (the API key), when, why
//! and which customer. It is committed before the plaintext is answered, so a read that
//! cannot be recorded does not happen.

use super::CustomerError;
use crate::Engine;
use serde::{Deserialize, Serialize};
use store::{DocRow, DomainWrite};
use uuid::Uuid;

pub const PII_READ: &str = "pii_read";
/// A reason is a short sentence or a ticket number.
pub const REASON_BYTES_MAX: usize = 500;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reveal {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub tenant: String,
    /// The API key that read it.
    pub key_id: Uuid,
    pub role: String,
    pub reason: String,
    pub at_ms: i64,
}

/// Records that `key_id` read customer `customer_id` in plaintext for `reason`, durably.
pub async fn record_reveal(
    engine: &Engine,
    tenant: &str,
    customer_id: Uuid,
    key_id: Uuid,
    role: &str,
    reason: &str,
) -> Result<Reveal, CustomerError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > REASON_BYTES_MAX || reason.chars().any(char::is_control)
    {
        return Err(super::invalid(
            "reason",
            format!("a plaintext read needs a reason of 1 to {REASON_BYTES_MAX} bytes, without control characters"),
        ));
    }
    let r = Reveal {
        id: Uuid::now_v7(),
        customer_id,
        tenant: tenant.into(),
        key_id,
        role: role.into(),
        reason: reason.into(),
        at_ms: engine.now_ms(),
    };
    let w = DomainWrite::Doc {
        row: DocRow {
            kind: PII_READ.into(),
            id: r.id,
            tenant: tenant.into(),
            parent: Some(customer_id),
            open: false,
            day: 0,
            version: 1,
            body: serde_json::to_vec(&r).expect("a reveal serializes"),
        },
        expected_version: None,
    };
    engine.submit_with(Vec::new(), vec![w]).await?;
    Ok(r)
}
