//! Errors as RFC 9457 problem+json, and a JSON extractor whose errors name the field.

use api::{FieldError, Problem};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::EngineError;
use ledger::LedgerError;
use serde::de::DeserializeOwned;

#[derive(Debug)]
pub struct ApiError(pub Box<Problem>);

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        ApiError(Box::new(p))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&*self.0).expect("problem serializes");
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        resp
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        e.into_problem().into()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        internal(&format!("{e:#}"))
    }
}

pub fn internal(detail: &str) -> ApiError {
    let incident = uuid::Uuid::now_v7().to_string();
    tracing::error!(incident_id = %incident, error = %detail, "internal error");
    internal_with_incident(incident)
}

/// The 500 problem for an incident already logged under `incident`.
pub fn internal_with_incident(incident: String) -> ApiError {
    let mut p = Problem::new(
        500,
        "internal",
        "Internal error",
        "the request failed on our side and changed nothing; quote the incident id",
    );
    p.incident_id = Some(incident);
    p.into()
}

pub fn problem(status: u16, code: &str, title: &str, detail: impl Into<String>) -> ApiError {
    Problem::new(status, code, title, detail).into()
}

pub fn not_found(what: &str) -> ApiError {
    problem(
        404,
        "not_found",
        "Not found",
        format!("{what} does not exist"),
    )
}

/// Maps a ledger refusal to a problem; `prefix` is the JSON path of the entry in a batch.
pub fn ledger_problem(e: &LedgerError, prefix: &str, hold: bool) -> Problem {
    use LedgerError as L;
    let detail = e.to_string();
    let (status, code, field): (u16, &str, Option<String>) = match e {
        L::PostingCount { .. } => (422, "posting_count", Some(format!("{prefix}postings"))),
        L::NonPositiveAmount { .. } if hold => (
            422,
            "non_positive_amount",
            Some(format!("{prefix}amount_minor")),
        ),
        L::NonPositiveAmount { index, .. } => (
            422,
            "non_positive_amount",
            Some(format!("{prefix}postings[{index}].amount_minor")),
        ),
        L::UnknownAccount { index, .. } | L::CurrencyMismatch { index, .. } if hold => (
            422,
            code_of(e),
            Some(if *index == 0 {
                "debit_account_id".into()
            } else {
                "credit_account_id".into()
            }),
        ),
        L::UnknownAccount { index, .. } | L::CurrencyMismatch { index, .. } => (
            422,
            code_of(e),
            Some(format!("{prefix}postings[{index}].account_id")),
        ),
        L::Unbalanced { .. } => (422, "unbalanced", Some(format!("{prefix}postings"))),
        L::Overflow { .. } => (422, "overflow", Some(format!("{prefix}postings"))),
        L::ConstraintViolated { .. } => (422, "constraint_violated", None),
        L::IdConflict { .. } => (409, "id_conflict", Some(format!("{prefix}id"))),
        L::MemoTooLong { .. } => (422, "memo_too_long", Some(format!("{prefix}memo"))),
        L::UnknownHold { .. } => (404, "unknown_hold", None),
        L::HoldNotPending { .. } => (409, "hold_not_pending", None),
        L::HoldExpired { .. } => (409, "hold_expired", None),
        L::HoldAmountExceeded { .. } => (422, "hold_amount_exceeded", Some("amount_minor".into())),
        L::SameAccount => (422, "same_account", Some("credit_account_id".into())),
        L::UnknownEntry { .. } => (404, "unknown_entry", None),
        L::AlreadyReversed { .. } => (409, "already_reversed", None),
        L::BatchSize { .. } => (422, "batch_size", Some("entries".into())),
        L::DuplicateInBatch { .. } => (422, "duplicate_in_batch", Some("entries".into())),
        L::InBatch { index, source } => {
            let mut p = ledger_problem(source, &format!("entries[{index}]."), hold);
            p.detail = detail;
            return p;
        }
    };
    let mut p = Problem::new(
        status,
        code,
        "Ledger refused the request; nothing changed",
        detail,
    );
    p.field = field;
    p
}

fn code_of(e: &LedgerError) -> &'static str {
    match e {
        LedgerError::UnknownAccount { .. } => "unknown_account",
        _ => "currency_mismatch",
    }
}

pub fn engine_error(e: EngineError, prefix: &str, hold: bool) -> ApiError {
    match e {
        EngineError::Rejected(l) => ledger_problem(&l, prefix, hold).into(),
        EngineError::Overloaded => problem(
            503,
            "overloaded",
            "Overloaded",
            "the ledger queue is full; retry with the same id",
        ),
        EngineError::StaleLoan { id } => problem(
            409,
            "loan_changed",
            "Loan changed",
            format!("loan {id} changed meanwhile; retry with the same Idempotency-Key"),
        ),
        EngineError::StaleDoc { id } => problem(
            409,
            "changed_meanwhile",
            "Changed meanwhile",
            format!("{id} changed meanwhile; retry with the same Idempotency-Key"),
        ),
        // The process exits when its writer stops; a retry reaches its successor.
        EngineError::WriterGone => problem(
            503,
            "writer_stopped",
            "Unavailable",
            "the ledger writer has stopped and nothing was committed; retry with the same id",
        ),
        EngineError::Halted { halt_id, reason } => {
            // 409, not 503: the refusal lasts until an operator lifts the halt, so an
            // immediate retry (what 503's Retry-After invites) cannot succeed.
            let mut p = Problem::new(
                409,
                "halted",
                "Halted",
                format!(
                    "new originations or purchases here are halted by halt {halt_id} ({reason}); \
                     nothing was done"
                ),
            );
            p.halt_id = Some(halt_id);
            p.into()
        }
        EngineError::FunderOutage { partner_id, reason } => problem(
            409,
            "funder_outage",
            "Funder in outage",
            format!(
                "funding partner {partner_id} is in an outage that pauses its loans ({reason}); \
                 nothing was booked"
            ),
        ),
        other => internal(&other.to_string()),
    }
}

/// JSON body extractor: 415 for a wrong content type, 400 with the JSON path for anything
/// that does not deserialize (unknown fields, wrong types, integers outside i64).
pub struct WireJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for WireJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(problem(
                415,
                "unsupported_media_type",
                "Unsupported media type",
                "send Content-Type: application/json",
            ));
        }
        let bytes = bytes::Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_body(&bytes).map(WireJson)
    }
}

/// Deserializes a JSON body; 400 with the JSON path of what does not fit.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde accepts a JSON array for a struct, matching its fields by position; every
    // request body of this API is an object, and a positional one is a client's mistake.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(Problem::new(
            400,
            "malformed_json",
            "Malformed request body",
            "the request body must be a JSON object, not an array",
        )
        .with_field("body")
        .into());
    }
    let bytes = crate::json_numbers::integral_numbers(bytes);
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let mut p = Problem::new(
            400,
            "malformed_json",
            "Malformed request body",
            e.inner().to_string(),
        );
        if path != "." {
            p.field = Some(path);
        }
        ApiError::from(p)
    })
}

/// A body that could not be read: too large, too slow (the listener's body deadline), or
/// cut off.
fn body_rejection(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return problem(413, "body_too_large", "Body rejected", e.body_text());
    }
    if crate::listen::is_body_timeout(&e) {
        problem(
            408,
            "body_timeout",
            "Request timeout",
            "the request body did not arrive in time (--body-timeout-ms)",
        )
    } else {
        problem(400, "body_unreadable", "Body rejected", e.body_text())
    }
}

/// Reads the `Idempotency-Key` header every money-moving POST must carry; when the request
/// names the id it creates, the key must be that id.
pub fn idempotency_key(
    headers: &HeaderMap,
    must_equal: Option<uuid::Uuid>,
) -> Result<uuid::Uuid, ApiError> {
    // With two keys, which one a retry would repeat is anyone's guess.
    if headers.get_all("idempotency-key").iter().nth(1).is_some() {
        return Err(Problem::new(
            400,
            "idempotency_key_repeated",
            "Repeated Idempotency-Key",
            "send one Idempotency-Key header, not several",
        )
        .with_field("Idempotency-Key")
        .into());
    }
    let raw = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            problem(
                400,
                "idempotency_key_missing",
                "Idempotency-Key required",
                "this request moves money: send an Idempotency-Key header (a UUID)",
            )
            .0
        })
        .map_err(ApiError)?;
    let key = raw
        .to_str()
        .ok()
        .and_then(|s| uuid::Uuid::parse_str(s.trim()).ok())
        .ok_or_else(|| {
            problem(
                400,
                "idempotency_key_invalid",
                "Invalid Idempotency-Key",
                "Idempotency-Key must be a UUID",
            )
        })?;
    if let Some(id) = must_equal {
        if id != key {
            // 422, not 400: the header and the body each parse; together they disagree.
            return Err(problem(
                422,
                "idempotency_key_mismatch",
                "Idempotency-Key mismatch",
                format!("Idempotency-Key {key} must equal the id being created, {id}"),
            ));
        }
    }
    Ok(key)
}

/// A UUID from a URL path segment; `what` names it in the 400 problem.
pub fn path_uuid(raw: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| {
        problem(
            400,
            "invalid_path",
            "Invalid path",
            format!("{what} must be a UUID"),
        )
    })
}

/// Answers that axum makes itself (a query or path that does not parse, a method the
/// route does not have) are plain text; this turns every error answer that is not yet a
/// problem into one, keeping its status and headers (`Allow`, `Retry-After`).
pub async fn problems_only(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let (code, title) = match status.as_u16() {
        404 => ("not_found", "Not found"),
        405 => ("method_not_allowed", "Method not allowed"),
        413 => ("body_too_large", "Body rejected"),
        s if s >= 500 => ("internal", "Internal error"),
        _ => ("bad_request", "Malformed request"),
    };
    let detail = if status.is_server_error() || text.trim_ascii().is_empty() {
        status.canonical_reason().unwrap_or(title).to_string()
    } else {
        String::from_utf8_lossy(&text).trim().to_string()
    };
    let mut out = problem(status.as_u16(), code, title, detail).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}
