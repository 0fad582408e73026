//! Emergency controls (docs/operations.md, "Emergency controls"): halts of new
//! originations and purchases by scope, the read-only mode, and funding partners' outages.
//! Operators only; every change is stored with the key that made it and its reason, and
//! is an event.

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::{
    engine_error, idempotency_key, internal, not_found, path_uuid, ApiError, WireJson,
};
use crate::routes::page;
use api::*;
use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::controls::{self as ctl, ControlError, NewHalt};
use serde::Deserialize;

/// The one mutating route the read-only mode lets through: the way out of it.
pub const READ_ONLY_PATH: &str = "/v1/controls/read-only";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/controls/halts", post(create_halt).get(list_halts))
        .route("/v1/controls/halts/{id}", get(get_halt))
        .route("/v1/controls/halts/{id}/lift", post(lift_halt))
        .route(READ_ONLY_PATH, post(set_read_only).get(get_read_only))
        .route(
            "/v1/controls/funder-outages",
            post(set_outage).get(list_outages),
        )
}

pub(crate) fn control_error(e: ControlError) -> ApiError {
    match e {
        ControlError::NotFound(what) => not_found(what),
        ControlError::Invalid { field, message } => ApiError::from(
            Problem::new(
                422,
                "invalid_field",
                "Request refused; nothing changed",
                format!("{field}: {message}"),
            )
            .with_field(field),
        ),
        ControlError::Conflict { code, message } => ApiError::from(Problem::new(
            409,
            code,
            "Conflicts with the current state; nothing changed",
            message,
        )),
        ControlError::Engine(e) => engine_error(e, "", false),
        ControlError::Storage(e) => internal(&format!("{e:#}")),
    }
}

/// While the read-only mode is on, every mutating request but the switch itself is
/// answered 503 `read_only` before its handler runs; reads go through.
pub async fn read_only_gate(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if s.engine.controls().is_read_only() && mutates(req.method(), req.uri().path()) {
        let mode = s.engine.controls().read_only();
        return crate::problem::problem(
            503,
            "read_only",
            "Read-only mode",
            format!(
                "the platform is in read-only mode ({}); reads work, changes are refused and \
                 nothing was done",
                mode.reason
            ),
        )
        .into_response();
    }
    next.run(req).await
}

/// Whether a request may change state: every POST, PUT, PATCH or DELETE but the switch.
pub fn mutates(method: &Method, path: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) && path != READ_ONLY_PATH
}

fn created<T>(replayed: bool, body: T) -> (StatusCode, Json<T>) {
    let status = if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(body))
}

/// Throws a halt: from this answer on, no new origination or purchase in its scope is
/// accepted (409 `halted` with the halt's id). Its `id` defaults to the Idempotency-Key.
#[utoipa::path(post, path = "/v1/controls/halts", request_body = HaltRequest,
    responses((status = 201, body = HaltResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "controls")]
pub async fn create_halt(
    p: Principal,
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    WireJson(req): WireJson<HaltRequest>,
) -> Result<(StatusCode, Json<HaltResponse>), ApiError> {
    let id = idempotency_key(&headers, req.id)?;
    let n = NewHalt {
        id,
        tenant: p.tenant.clone(),
        scope: req.scope.to_domain(),
        operations: req.operations(),
        reason: req.reason.clone(),
        by: p.key_id,
    };
    let (halt, replayed) = ctl::halt(&s.engine, n).await.map_err(control_error)?;
    Ok(created(replayed, HaltResponse::from(&halt)))
}

/// Lifts an active halt: from this answer on, what it stopped is accepted again.
#[utoipa::path(post, path = "/v1/controls/halts/{id}/lift", request_body = LiftRequest,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = HaltResponse), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("api_key" = [])), tag = "controls")]
pub async fn lift_halt(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    WireJson(req): WireJson<LiftRequest>,
) -> Result<Json<HaltResponse>, ApiError> {
    let id = path_uuid(&id, "halt id")?;
    let halt = ctl::lift(&s.engine, &p.tenant, id, p.key_id, req.reason)
        .await
        .map_err(control_error)?;
    Ok(Json(HaltResponse::from(&halt)))
}

#[utoipa::path(get, path = "/v1/controls/halts/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = HaltResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "controls")]
pub async fn get_halt(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<HaltResponse>, ApiError> {
    let id = path_uuid(&id, "halt id")?;
    let (halt, _) = ctl::stored_halt(&s.engine, &p.tenant, id)
        .await
        .map_err(control_error)?;
    Ok(Json(HaltResponse::from(&halt)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HaltListQuery {
    /// `active` or `lifted`; both when absent.
    pub state: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<u32>,
}

/// The values of `state` on `GET /v1/controls/halts`.
pub const HALT_STATES: &[&str] = &["active", "lifted"];

/// Halts, active and lifted, in id order. A page may hold fewer items than `limit` when
/// `state` narrows it; follow `next_cursor` until it is absent.
#[utoipa::path(get, path = "/v1/controls/halts", params(HaltListQuery),
    responses((status = 200, body = HaltPage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "controls")]
pub async fn list_halts(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<HaltListQuery>,
) -> Result<Json<HaltPage>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode_uuid).transpose()?;
    let active = match q.state.as_deref() {
        None => None,
        Some("active") => Some(true),
        Some("lifted") => Some(false),
        Some(_) => return Err(page::bad_query("state", "must be active or lifted")),
    };
    let found = ctl::halts_page(&s.engine, &p.tenant, active, after, limit)
        .await
        .map_err(control_error)?;
    Ok(Json(HaltPage {
        items: found.halts.iter().map(HaltResponse::from).collect(),
        next_cursor: found.next_after.map(|id| page::encode(id.as_bytes())),
    }))
}

/// Turns the read-only mode on or off. While on, every mutating route but this one
/// answers 503 `read_only`; reads keep working. Survives restarts.
#[utoipa::path(post, path = "/v1/controls/read-only", request_body = ReadOnlyRequest,
    responses((status = 200, body = ReadOnlyResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "controls")]
pub async fn set_read_only(
    p: Principal,
    State(s): State<AppState>,
    WireJson(req): WireJson<ReadOnlyRequest>,
) -> Result<Json<ReadOnlyResponse>, ApiError> {
    if p.tenant != "*" {
        return Err(crate::problem::problem(
            403,
            "forbidden",
            "Forbidden",
            "the read-only mode covers every tenant: only a key of tenant * may switch it",
        ));
    }
    let mode = ctl::set_read_only(&s.engine, req.on, req.reason, p.key_id)
        .await
        .map_err(control_error)?;
    Ok(Json(ReadOnlyResponse::from(&mode)))
}

#[utoipa::path(get, path = "/v1/controls/read-only",
    responses((status = 200, body = ReadOnlyResponse)),
    security(("api_key" = [])), tag = "controls")]
pub async fn get_read_only(_p: Principal, State(s): State<AppState>) -> Json<ReadOnlyResponse> {
    Json(ReadOnlyResponse::from(&s.engine.controls().read_only()))
}

/// Starts, changes or ends a funding partner's outage: `reroute` gives its share of new
/// loans to the plan's other funders, `pause` refuses loans whose plan names it
/// (409 `funder_outage`), `end` restores it.
#[utoipa::path(post, path = "/v1/controls/funder-outages", request_body = OutageRequest,
    responses((status = 200, body = OutageResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "controls")]
pub async fn set_outage(
    p: Principal,
    State(s): State<AppState>,
    WireJson(req): WireJson<OutageRequest>,
) -> Result<Json<OutageResponse>, ApiError> {
    let outage = ctl::set_outage(
        &s.engine,
        &p.tenant,
        req.partner_id,
        req.action(),
        req.reason.clone(),
        p.key_id,
    )
    .await
    .map_err(control_error)?;
    Ok(Json(OutageResponse::from(&outage)))
}

/// Partners in an outage now.
#[utoipa::path(get, path = "/v1/controls/funder-outages",
    responses((status = 200, body = OutageList)),
    security(("api_key" = [])), tag = "controls")]
pub async fn list_outages(p: Principal, State(s): State<AppState>) -> Json<OutageList> {
    let items = s
        .engine
        .controls()
        .outages()
        .iter()
        .filter(|o| p.sees_tenant(&o.tenant))
        .map(OutageResponse::from)
        .collect();
    Json(OutageList { items })
}
