//! Term-loan routes: products, schedule previews, loans and their money movements.

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::ApiError;
use api::*;
use axum::routing::post;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/loan-schedules/preview", post(preview_schedule))
}

/// The repayment schedule and APR a loan would have; nothing is stored.
#[utoipa::path(post, path = "/v1/loan-schedules/preview", request_body = SchedulePreviewRequest,
    responses((status = 200, body = SchedulePreview), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn preview_schedule(
    _p: Principal,
    crate::problem::WireJson(req): crate::problem::WireJson<SchedulePreviewRequest>,
) -> Result<Json<SchedulePreview>, ApiError> {
    let terms = req.parse()?;
    let schedule = lending::generate(&terms)
        .map_err(|e| ApiError::from(FieldError::new("amount_minor", e.to_string())))?;
    Ok(Json(SchedulePreview::from_schedule(&schedule)))
}
