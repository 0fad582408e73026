//! Webhooks: committed events pushed to subscribers' URLs, signed, one subscription at a
//! time in sequence order, retried with backoff, paused after repeated failures.
//!
//! The signature follows the scheme receivers know from payment processors: the header
//! `Puhui-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, so the
//! receiver checks both the body and how old the request is (docs/events.md, "Webhooks").

mod deliver;
mod party_view;

pub use deliver::{deliver_once, run, supervise, DeliveryConfig, OnceReport};
pub use party_view::payload_for;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use store::{StoredEvent, WebhookRow};

pub const SIGNATURE_HEADER: &str = "Puhui-Signature";
pub const EVENT_ID_HEADER: &str = "Puhui-Event-Id";
pub const EVENT_SEQ_HEADER: &str = "Puhui-Event-Seq";

/// `hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`.
pub fn sign(secret: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `Puhui-Signature` header value.
pub fn signature_header(secret: &str, timestamp_secs: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp_secs},v1={}",
        sign(secret, timestamp_secs, body)
    )
}

/// Why a signature header is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    Malformed,
    /// The timestamp is further than the tolerance from now (a replayed request).
    Stale,
    Mismatch,
}

/// What a receiver does: parses the header, refuses a timestamp more than `tolerance_secs`
/// from `now_secs`, and compares every `v1` (constant time) with the expected signature.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if sigs.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now_secs - t).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    for s in sigs {
        let Ok(given) = hex::decode(s) else { continue };
        let mut check =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        check.update(t.to_string().as_bytes());
        check.update(b".");
        check.update(body);
        if check.verify_slice(&given).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// Milliseconds to wait before retry number `attempt` (0 after the first failure):
/// "full jitter", a uniform draw in `[0, min(cap, base · 2^attempt)]`, so that receivers
/// coming back are not met by every sender at once. `draw` is a uniform random `u64`.
pub fn backoff_ms(attempt: u32, base_ms: u64, cap_ms: u64, draw: u64) -> u64 {
    let ceiling = base_ms
        .checked_shl(attempt.min(62))
        .filter(|c| *c >= base_ms)
        .unwrap_or(u64::MAX)
        .min(cap_ms);
    if ceiling == 0 {
        return 0;
    }
    draw % (ceiling + 1)
}

/// Whether a subscription receives an event: its tenant (or every tenant), its types (or
/// every type), and, when it is limited to a party, an event about that party: the party
/// itself is the subject, or the payload names it (`merchant_id` for a merchant,
/// `partner_id` for a funding partner, `borrower` for a borrower), at any depth.
pub fn concerns(sub: &WebhookRow, e: &StoredEvent) -> bool {
    if sub.tenant != "*" && sub.tenant != e.event.tenant {
        return false;
    }
    if !sub.types.is_empty() && !sub.types.contains(&e.event.kind) {
        return false;
    }
    let (Some(kind), Some(id)) = (&sub.party_kind, &sub.party_id) else {
        return true;
    };
    if e.event.subject.to_string() == *id {
        return true;
    }
    let key = match kind.as_str() {
        "merchant" => "merchant_id",
        "partner" => "partner_id",
        "borrower" => "borrower",
        _ => return false,
    };
    serde_json::from_str::<serde_json::Value>(&e.event.payload)
        .map(|v| names(&v, key, id))
        .unwrap_or(false)
}

fn names(v: &serde_json::Value, key: &str, id: &str) -> bool {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .any(|(k, v)| (k == key && v.as_str() == Some(id)) || names(v, key, id)),
        serde_json::Value::Array(a) => a.iter().any(|v| names(v, key, id)),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
