use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::{ApiError, WireJson};
use api::{compute_apr, AprRequest, AprResponse};
use axum::routing::post;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/apr", post(apr))
}

/// APR of any cash flows by the Regulation Z Appendix J actuarial method, so a disclosure
/// can be recomputed from its cash flows.
#[utoipa::path(post, path = "/v1/apr", request_body = AprRequest,
    responses((status = 200, body = AprResponse), (status = 422, body = api::Problem)),
    security(("api_key" = [])), tag = "disclosure")]
pub async fn apr(
    _p: Principal,
    WireJson(req): WireJson<AprRequest>,
) -> Result<Json<AprResponse>, ApiError> {
    if req.advances.len() + req.payments.len() > money::apr::APR_FLOWS_MAX {
        return Err(api::FieldError::new(
            "payments",
            format!("at most {} cash flows", money::apr::APR_FLOWS_MAX),
        )
        .into());
    }
    let (adv, pay, unit) = req.parse()?;
    Ok(Json(compute_apr(&adv, &pay, unit)?))
}
