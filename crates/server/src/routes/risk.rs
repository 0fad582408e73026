//! Real-time risk: external signals about a customer, and the customer's risk state as the
//! risk monitor keeps it (docs/monitoring.md).

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::{engine_error, idempotency_key, not_found, path_uuid, ApiError, WireJson};
use api::*;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::monitor::{self, MonitorError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/customers/{id}/signals", post(post_signal))
        .route("/v1/customers/{id}/risk", get(get_risk))
}

pub fn monitor_error(e: MonitorError) -> ApiError {
    match e {
        MonitorError::NotFound => not_found("customer"),
        MonitorError::Invalid { field, message } => FieldError::new(field, message).into(),
        MonitorError::Conflict { code, message } => {
            Problem::new(409, code, "Request refused; nothing changed", message).into()
        }
        MonitorError::Engine(e) => engine_error(e, "", false),
        MonitorError::Storage(e) => e.into(),
    }
}

/// Records an external signal about a customer (a bureau alert, multi-borrowing, an SME's
/// merchant revenue) with its `risk.signal_received` event; the risk monitor applies it to
/// the customer's risk state and the early-warning rules may act on it. The same id again
/// answers 200 with the stored signal.
#[utoipa::path(post, path = "/v1/customers/{id}/signals", request_body = SignalRequest,
    responses((status = 201, body = SignalResponse), (status = 200, body = SignalResponse),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "customers")]
pub async fn post_signal(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<SignalRequest>,
) -> Result<(StatusCode, Json<SignalResponse>), ApiError> {
    let customer = path_uuid(&id, "customer id")?;
    let new = req.parse()?;
    let signal_id = idempotency_key(&headers, req.id)?;
    let (signal, replayed) =
        monitor::post_signal(&s.engine, &p.write_tenant(), customer, signal_id, new)
            .await
            .map_err(monitor_error)?;
    let status = if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(SignalResponse::of(&signal))))
}

/// The customer's risk state: days past due, missed payments, utilization, recent
/// borrowing, signals, the behaviour score, the rules in force that hold, and the latest
/// rule hits and actions with their cause events.
#[utoipa::path(get, path = "/v1/customers/{id}/risk",
    responses((status = 200, body = RiskStateResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "customers")]
pub async fn get_risk(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RiskStateResponse>, ApiError> {
    let customer = path_uuid(&id, "customer id")?;
    let tenant = if p.tenant == "*" { "*" } else { &p.tenant };
    let state = monitor::risk_state(&s.engine, tenant, customer)
        .await
        .map_err(monitor_error)?;
    Ok(Json(RiskStateResponse::of(&state)))
}
