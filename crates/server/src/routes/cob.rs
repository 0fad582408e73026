//! Close of business over HTTP, run by the serving process, and the open business date.

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::cob_runs::StartError;
use crate::problem::{
    idempotency_key, internal, not_found, path_uuid, problem, ApiError, WireJson,
};
use api::{BusinessDateWire, CobRunRequest, CobRunWire, FieldError};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use money::BusinessDate;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/close-of-business", post(start_run))
        .route("/v1/close-of-business/{id}", get(get_run))
        .route("/v1/business-date", get(business_date))
}

/// Starts closing business days in the running server until `to` is the open business day
/// (default: one day), and answers at once with the run to poll. One run at a time; the
/// same Idempotency-Key and body return the same run (200), a different body is refused
/// (409). Loan commands wait while a day closes; nothing else does.
#[utoipa::path(post, path = "/v1/close-of-business", request_body = CobRunRequest,
    params(("Idempotency-Key" = uuid::Uuid, Header, description = "The run's id")),
    responses((status = 202, body = CobRunWire, description = "Started"),
        (status = 200, body = CobRunWire, description = "Already started under this key"),
        (status = 400, body = api::Problem), (status = 403, body = api::Problem),
        (status = 409, body = api::Problem), (status = 422, body = api::Problem)),
    security(("api_key" = [])), tag = "close-of-business")]
pub async fn start_run(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<CobRunRequest>,
) -> Result<(StatusCode, Json<CobRunWire>), ApiError> {
    // Every tenant's loans move with the business date: only an all-tenant operator.
    p.require(&[Role::Operator])?;
    p.require_tenant("*")?;
    let id = idempotency_key(&headers, req.id)?;
    let to = req
        .to
        .as_deref()
        .map(|t| {
            t.parse::<BusinessDate>()
                .map_err(|_| FieldError::new("to", "must be a date YYYY-MM-DD"))
        })
        .transpose()?;
    let (run, new) = s
        .cob
        .start(&s.engine, id, to, "api")
        .await
        .map_err(start_error)?;
    if new {
        tokio::spawn(s.cob.clone().drive(s.engine.clone(), run.clone()));
    }
    let status = if new {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(run.wire())))
}

fn start_error(e: StartError) -> ApiError {
    let detail = e.to_string();
    match e {
        StartError::NoBusinessDate => problem(409, "no_business_day", "No business day", detail),
        StartError::NotAfterOpen { .. } | StartError::TooFar { .. } => {
            FieldError::new("to", detail).into()
        }
        StartError::Busy(_) => problem(409, "cob_running", "Close of business running", detail),
        StartError::Conflict(_) => problem(
            409,
            "idempotency_conflict",
            "Idempotency-Key reused with a different body",
            detail,
        ),
        StartError::Storage(e) => internal(&format!("{e:#}")),
    }
}

/// A close-of-business run: status (`running`, `succeeded`, `failed`), days done, loans
/// processed, the day being closed, and the error if it failed.
#[utoipa::path(get, path = "/v1/close-of-business/{id}",
    params(("id" = uuid::Uuid, Path, description = "The run's id")),
    responses((status = 200, body = CobRunWire), (status = 403, body = api::Problem),
        (status = 404, body = api::Problem)),
    security(("api_key" = [])), tag = "close-of-business")]
pub async fn get_run(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CobRunWire>, ApiError> {
    p.require(&[Role::Operator])?;
    let id = path_uuid(&id, "close-of-business run")?;
    match s.cob.get(id).await {
        Some(run) => Ok(Json(run.wire())),
        None => Err(not_found("close-of-business run")),
    }
}

/// The open business date, and the id of the close-of-business run in progress.
#[utoipa::path(get, path = "/v1/business-date",
    responses((status = 200, body = BusinessDateWire)),
    security(("api_key" = [])), tag = "close-of-business")]
pub async fn business_date(
    _p: Principal,
    State(s): State<AppState>,
) -> Result<Json<BusinessDateWire>, ApiError> {
    let open = engine::loans::business_date(&s.engine).await?;
    Ok(Json(BusinessDateWire {
        business_date: open.map(|d| d.to_string()),
        cob_run: s.cob.current().await,
    }))
}
