//! Webhook subscriptions (docs/events.md, "Webhooks"): operators subscribe to any events of
//! their tenant scope; a key bound to a party (a partner bank's, a merchant's) subscribes
//! only to events about that party. Delivery is `engine::webhooks`.

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::problem::{idempotency_key, not_found, path_uuid, problem, ApiError, WireJson};
use crate::routes::page;
use api::{
    FieldError, Problem, WebhookCreateRequest, WebhookDeliveryPage, WebhookDeliveryResponse,
    WebhookPage, WebhookRedeliverRequest, WebhookResponse,
};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use store::{WebhookFilter, WebhookRow};

pub const URL_BYTES_MAX: usize = 2048;
pub const SECRET_BYTES_MIN: usize = 16;
pub const SECRET_BYTES_MAX: usize = 256;
const DESCRIPTION_BYTES_MAX: usize = 500;
const TYPES_MAX: usize = 64;
pub const DELIVERIES_LIMIT_MAX: u32 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", post(create_webhook).get(list_webhooks))
        .route("/v1/webhooks/{id}", get(get_webhook))
        .route("/v1/webhooks/{id}/disable", post(disable_webhook))
        .route("/v1/webhooks/{id}/redeliver", post(redeliver_webhook))
        .route("/v1/webhooks/{id}/deliveries", get(list_deliveries))
}

/// Checks a subscription's URL: absolute, `http` or `https`, with a host.
pub fn check_url(raw: &str) -> Result<(), FieldError> {
    if raw.len() > URL_BYTES_MAX {
        return Err(FieldError::new(
            "url",
            format!("at most {URL_BYTES_MAX} bytes"),
        ));
    }
    let url = reqwest::Url::parse(raw)
        .map_err(|e| FieldError::refused("url", format!("not a URL: {e}"), "invalid_url"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FieldError::refused(
            "url",
            format!("must be http or https, not {}", url.scheme()),
            "invalid_url",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(FieldError::refused("url", "names no host", "invalid_url"));
    }
    Ok(())
}

fn check_types(types: &[String]) -> Result<Vec<String>, FieldError> {
    if types.len() > TYPES_MAX {
        return Err(FieldError::new(
            "types",
            format!("at most {TYPES_MAX} types"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(types.len());
    for (i, t) in types.iter().enumerate() {
        if !engine::events::is_known(t) {
            return Err(FieldError::refused(
                format!("types[{i}]"),
                format!("unknown event type {t:?}; see docs/events.md"),
                "unknown_event_type",
            ));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

fn check_secret(secret: &str) -> Result<(), FieldError> {
    if !(SECRET_BYTES_MIN..=SECRET_BYTES_MAX).contains(&secret.len()) {
        return Err(FieldError::new(
            "secret",
            format!("must be {SECRET_BYTES_MIN} to {SECRET_BYTES_MAX} bytes"),
        ));
    }
    if secret.chars().any(char::is_control) {
        return Err(FieldError::refused(
            "secret",
            "must not contain control characters",
            "control_character",
        ));
    }
    Ok(())
}

/// A new signing secret: 32 random bytes, hex, prefixed so it is recognisable in logs.
fn generate_secret() -> String {
    format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>()))
}

fn refused(detail: &str) -> ApiError {
    problem(403, "forbidden", "Forbidden", detail)
}

/// The party a bound key subscribes for; a partner bank's key must be bound (its
/// subscriptions carry only its own partner's events), as a merchant's always is.
fn owner_party(p: &Principal) -> Result<Option<(String, String)>, ApiError> {
    if !p.is_bound() && p.role != Role::PartnerBank {
        return Ok(None);
    }
    match &p.party {
        Some(party) => Ok(Some((party.kind.as_str().to_string(), party.id.clone()))),
        None => Err(refused(
            "a partner_bank or merchant key must be bound to its party to subscribe",
        )),
    }
}

/// Loads a subscription the key may see (the route table has checked its party).
async fn load(s: &AppState, p: &Principal, raw: &str) -> Result<WebhookRow, ApiError> {
    let id = path_uuid(raw, "webhook id")?;
    match s.engine.store().webhook(id).await? {
        Some(w) if p.sees_tenant(&w.tenant) => Ok(w),
        _ => Err(not_found("webhook")),
    }
}

/// Subscribes `url` to events. Its `id` defaults to the Idempotency-Key; the same request
/// again answers 200 with the subscription (without its secret, shown only at creation).
#[utoipa::path(post, path = "/v1/webhooks", request_body = WebhookCreateRequest,
    responses((status = 201, body = WebhookResponse), (status = 200, body = WebhookResponse),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "events")]
pub async fn create_webhook(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<WebhookCreateRequest>,
) -> Result<Response, ApiError> {
    let id = idempotency_key(&headers, req.id)?;
    check_url(&req.url)?;
    let types = check_types(&req.types)?;
    if let Some(secret) = &req.secret {
        check_secret(secret)?;
    }
    if let Some(d) = &req.description {
        api::check_name("description", d, DESCRIPTION_BYTES_MAX)?;
    }
    if req.after.is_some_and(|a| a < 0) {
        return Err(FieldError::new("after", "must be 0 or more").into());
    }
    let party = owner_party(&p)?;
    let store = s.engine.store();
    let position = match req.after {
        Some(a) => a,
        None => store.events_head().await?,
    };
    let (party_kind, party_id) = party.unzip();
    let row = WebhookRow {
        id,
        tenant: p.tenant.clone(),
        url: req.url,
        types,
        secret: req.secret.unwrap_or_else(generate_secret),
        description: req.description,
        owner_role: p.role.as_str().to_string(),
        party_kind,
        party_id,
        status: "active".into(),
        position,
        failures: 0,
        paused_reason: None,
        created_ms: s.engine.now_ms(),
    };
    match store.insert_webhook(row.clone()).await? {
        None => Ok((
            StatusCode::CREATED,
            Json(WebhookResponse::from_row(&row, true)),
        )
            .into_response()),
        Some(existing)
            if existing.tenant == row.tenant
                && existing.url == row.url
                && existing.types == row.types
                && existing.party_id == row.party_id
                && existing.owner_role == row.owner_role =>
        {
            Ok(Json(WebhookResponse::from_row(&existing, false)).into_response())
        }
        Some(_) => Err(Problem::new(
            409,
            "id_in_use",
            "Conflicts with a stored subscription; nothing changed",
            "this id names another subscription",
        )
        .with_field("id")
        .into()),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WebhookListQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<u32>,
}

/// Subscriptions in id order: a bound key's own only.
#[utoipa::path(get, path = "/v1/webhooks", params(WebhookListQuery),
    responses((status = 200, body = WebhookPage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "events")]
pub async fn list_webhooks(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<WebhookListQuery>,
) -> Result<Json<WebhookPage>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode_uuid).transpose()?;
    let party = owner_party(&p)?;
    let rows = s
        .engine
        .store()
        .webhooks(WebhookFilter {
            tenant: (p.tenant != "*").then(|| p.tenant.clone()),
            party,
            status: None,
            after,
            limit,
        })
        .await?;
    let next_cursor = page::next(&rows, limit, |w| page::encode(w.id.as_bytes()));
    Ok(Json(WebhookPage {
        items: rows
            .iter()
            .map(|w| WebhookResponse::from_row(w, false))
            .collect(),
        next_cursor,
    }))
}

/// A subscription: its status, position and consecutive failures.
#[utoipa::path(get, path = "/v1/webhooks/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "events")]
pub async fn get_webhook(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<WebhookResponse>, ApiError> {
    let w = load(&s, &p, &id).await?;
    Ok(Json(WebhookResponse::from_row(&w, false)))
}

/// Stops deliveries for good (until an operator resumes it with `redeliver`).
#[utoipa::path(post, path = "/v1/webhooks/{id}/disable", params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "events")]
pub async fn disable_webhook(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<WebhookResponse>, ApiError> {
    let w = load(&s, &p, &id).await?;
    let reason = format!("disabled by a {} key", p.role.as_str());
    let w = s
        .engine
        .store()
        .set_webhook_status(w.id, "disabled", Some(reason), None)
        .await?
        .ok_or_else(|| not_found("webhook"))?;
    Ok(Json(WebhookResponse::from_row(&w, false)))
}

/// Resumes a paused or disabled subscription, clearing its failures; with `from_seq`, it
/// delivers again every event after that sequence number (or skips ahead to it).
#[utoipa::path(post, path = "/v1/webhooks/{id}/redeliver", params(("id" = Uuid, Path)),
    request_body = WebhookRedeliverRequest,
    responses((status = 200, body = WebhookResponse), (status = 404, body = Problem),
        (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "events")]
pub async fn redeliver_webhook(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    WireJson(req): WireJson<WebhookRedeliverRequest>,
) -> Result<Json<WebhookResponse>, ApiError> {
    let w = load(&s, &p, &id).await?;
    let store = s.engine.store();
    if let Some(from) = req.from_seq {
        let head = store.events_head().await?;
        if !(0..=head).contains(&from) {
            return Err(FieldError::new(
                "from_seq",
                format!("must be 0 to the newest event's sequence number ({head})"),
            )
            .into());
        }
    }
    let w = store
        .set_webhook_status(w.id, "active", None, req.from_seq)
        .await?
        .ok_or_else(|| not_found("webhook"))?;
    Ok(Json(WebhookResponse::from_row(&w, false)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

/// The most recent delivery attempts, newest first, with the receiver's status codes.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", params(("id" = Uuid, Path), DeliveryQuery),
    responses((status = 200, body = WebhookDeliveryPage), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "events")]
pub async fn list_deliveries(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<WebhookDeliveryPage>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=DELIVERIES_LIMIT_MAX).contains(&limit) {
        return Err(page::bad_query(
            "limit",
            format!("must be 1 to {DELIVERIES_LIMIT_MAX}"),
        ));
    }
    let w = load(&s, &p, &id).await?;
    let rows = s.engine.store().webhook_deliveries(w.id, limit).await?;
    Ok(Json(WebhookDeliveryPage {
        items: rows.iter().map(WebhookDeliveryResponse::from).collect(),
    }))
}
