//! Callback approval: a funder whose `approval.mode` is `callback` is asked over HTTP
//! before the loan's submission reaches the writer, so a decline books nothing.
//!
//! The request is a JSON POST signed with HMAC-SHA256 under the partner's secret over
//! `timestamp.idempotency_id.body` (headers below); the answer must be
//! `{"decision": "approve" | "decline", "reasons": [...]}` signed the same way over
//! `timestamp.idempotency_id.answer` with the request's timestamp and id. A timeout, an
//! error status, a malformed answer or a bad signature is a decline with its reason.

use hmac::{Hmac, Mac};
use money::BusinessDate;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::Duration;
use uuid::Uuid;

pub const TIMESTAMP_HEADER: &str = "x-puhui-timestamp";
pub const IDEMPOTENCY_HEADER: &str = "x-puhui-idempotency-id";
pub const SIGNATURE_HEADER: &str = "x-puhui-signature";
/// Bytes of an answer read at most.
const ANSWER_BYTES_MAX: usize = 64 * 1024;

/// What a funder is asked to approve.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApprovalRequest {
    pub loan_id: Uuid,
    pub partner_id: Uuid,
    pub product_id: Uuid,
    pub currency: String,
    pub amount_minor: i64,
    /// The funder's part of the principal.
    pub share: String,
    pub term_months: u32,
    pub business_date: BusinessDate,
    /// The score of the decision the loan was applied for with, as a decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<String>,
    /// The borrower's region code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    decision: String,
    #[serde(default)]
    reasons: Vec<String>,
}

/// A funder's answer: approved, or declined with a stable code and a reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    Declined { code: &'static str, reason: String },
}

fn declined(code: &'static str, reason: impl Into<String>) -> Verdict {
    Verdict::Declined {
        code,
        reason: reason.into(),
    }
}

/// `hex(HMAC-SHA256(secret, timestamp "." idempotency_id "." body))`.
pub fn signature(secret: &str, timestamp: &str, id: Uuid, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(id.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex_lower(&mac.finalize().into_bytes())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The idempotency id of a loan's request to a funder: the same on every retry.
pub fn idempotency_id(loan_id: Uuid, partner_id: Uuid) -> Uuid {
    Uuid::new_v5(&loan_id, format!("approval:{partner_id}").as_bytes())
}

/// Asks a callback funder. `now_ms` is the engine's clock.
pub async fn ask(
    url: &str,
    secret: &str,
    timeout_ms: u32,
    request: &ApprovalRequest,
    now_ms: i64,
) -> Verdict {
    let body = serde_json::to_vec(request).expect("requests serialize");
    let id = idempotency_id(request.loan_id, request.partner_id);
    let timestamp = now_ms.to_string();
    let sig = signature(secret, &timestamp, id, &body);
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_millis(u64::from(timeout_ms)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => return declined("callback_unreachable", format!("no HTTP client: {e}")),
    };
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header(TIMESTAMP_HEADER, &timestamp)
        .header(IDEMPOTENCY_HEADER, id.to_string())
        .header(SIGNATURE_HEADER, &sig)
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return declined(
                "callback_timeout",
                format!("no answer within {timeout_ms} ms"),
            )
        }
        Err(e) => return declined("callback_unreachable", format!("{e}")),
    };
    if !response.status().is_success() {
        return declined(
            "callback_status",
            format!("answered HTTP {}", response.status().as_u16()),
        );
    }
    let their_sig = response
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let answer = match response.bytes().await {
        Ok(b) if b.len() <= ANSWER_BYTES_MAX => b,
        Ok(_) => return declined("callback_malformed", "answer too long"),
        Err(e) if e.is_timeout() => {
            return declined(
                "callback_timeout",
                format!("no answer within {timeout_ms} ms"),
            )
        }
        Err(e) => return declined("callback_unreachable", format!("{e}")),
    };
    let expected = signature(secret, &timestamp, id, &answer);
    if their_sig.as_deref() != Some(expected.as_str()) {
        return declined(
            "callback_bad_signature",
            "the answer's signature does not verify",
        );
    }
    match serde_json::from_slice::<Answer>(&answer) {
        Ok(a) if a.decision == "approve" => Verdict::Approved,
        Ok(a) if a.decision == "decline" => declined(
            "declined",
            match a.reasons.is_empty() {
                true => "declined by the funder".to_string(),
                false => a.reasons.join("; "),
            },
        ),
        Ok(a) => declined(
            "callback_malformed",
            format!("unknown decision {:?}", a.decision),
        ),
        Err(e) => declined(
            "callback_malformed",
            format!("answer is not the agreed JSON: {e}"),
        ),
    }
}
