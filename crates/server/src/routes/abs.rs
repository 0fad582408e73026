//! Securitization, stateless: check a deal file, project a pool through a deal, simulate
//! tranche losses. Nothing is stored and nothing moves money, so no `Idempotency-Key`.

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::{internal, ApiError, WireJson};
use api::{
    DealFile, DealReport, FieldError, MonteCarloRequest, MonteCarloResponse, ProjectionRequest,
};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/abs/deals/validate", post(validate_deal))
        .route("/v1/abs/projections", post(project))
        .route("/v1/abs/monte-carlo", post(monte_carlo))
}

/// One problem of a deal file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DealFieldProblem {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// A deal file that passed every check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DealValidation {
    pub valid: bool,
    pub name: String,
    pub currency: String,
    pub pool_balance_minor: i64,
    pub bonds: Vec<String>,
    /// The payment dates up to stated maturity (at most 720).
    pub payment_dates: usize,
}

/// Every problem of a request at once: an RFC 9457 problem naming the first field, with
/// the others in its `errors` member.
pub fn field_problems(errors: Vec<FieldError>) -> Response {
    let Some(first) = errors.first().cloned() else {
        return internal("a refusal without a reason").into_response();
    };
    let mut body = serde_json::to_value(first.into_problem()).expect("problem serializes");
    if errors.len() > 1 {
        body["detail"] = format!(
            "{} (and {} more problem(s) in `errors`)",
            body["detail"].as_str().unwrap_or_default(),
            errors.len() - 1
        )
        .into();
    }
    body["errors"] = serde_json::to_value(
        errors
            .into_iter()
            .map(|e| DealFieldProblem {
                field: e.field,
                code: e.code.to_string(),
                message: e.message,
            })
            .collect::<Vec<_>>(),
    )
    .expect("problems serialize");
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// Checks a deal file: dates in order, every name a waterfall uses defined, rates in
/// range, bonds adding up to the pool where the deal requires it. 422 lists every problem.
#[utoipa::path(post, path = "/v1/abs/deals/validate", request_body = DealFile,
    responses((status = 200, body = DealValidation),
        (status = 422, description = "every problem, the first in `field` and `code`, all in `errors`", body = api::Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn validate_deal(_p: Principal, WireJson(file): WireJson<DealFile>) -> Response {
    match file.parse() {
        Ok(deal) => Json(DealValidation {
            valid: true,
            name: deal.name.clone(),
            currency: deal.currency.code().into(),
            pool_balance_minor: deal.pool_balance_minor,
            bonds: deal.bonds.iter().map(|b| b.name.clone()).collect(),
            payment_dates: api::payment_dates(&deal).len(),
        })
        .into_response(),
        Err(errors) => field_problems(errors),
    }
}

/// Runs a deal over its pool: loans projected under a CPR/CDR/severity/lag scenario, or a
/// collection table; per period the waterfall's payments, per tranche WAL, yield, duration
/// and loss.
#[utoipa::path(post, path = "/v1/abs/projections", request_body = ProjectionRequest,
    responses((status = 200, body = DealReport),
        (status = 422, description = "the field at fault; deal problems all in `errors`", body = api::Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn project(_p: Principal, WireJson(req): WireJson<ProjectionRequest>) -> Response {
    match tokio::task::spawn_blocking(move || req.run()).await {
        Ok(Ok(report)) => Json(report).into_response(),
        Ok(Err(errors)) => field_problems(errors),
        Err(e) => internal(&format!("projection task: {e}")).into_response(),
    }
}

/// Tranche loss distribution by a one-factor Gaussian copula: expected loss, probability of
/// loss and 99 % VaR per tranche. Bounded: loans × scenarios ≤ 20,000,000.
#[utoipa::path(post, path = "/v1/abs/monte-carlo", request_body = MonteCarloRequest,
    responses((status = 200, body = MonteCarloResponse), (status = 422, body = api::Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn monte_carlo(
    _p: Principal,
    WireJson(req): WireJson<MonteCarloRequest>,
) -> Result<Json<MonteCarloResponse>, ApiError> {
    let input = req.parse()?;
    let response = tokio::task::spawn_blocking(move || {
        let losses = simulate_parallel(&input)?;
        let stats = abs::tranche_stats(&losses, &input.tranches);
        Ok::<_, abs::SimulationError>(req.response(&losses, &stats))
    })
    .await
    .map_err(|e| internal(&format!("simulation task: {e}")))?
    .map_err(|e| ApiError::from(FieldError::new("loans", e.to_string())))?;
    Ok(Json(response))
}

/// The scenarios split over two threads; each scenario has its own generator, so the split
/// does not change the result.
pub fn simulate_parallel(input: &api::McInput) -> Result<Vec<i64>, abs::SimulationError> {
    let half = input.scenarios / 2;
    let run = |range| abs::simulate_range(&input.loans, input.correlation, input.seed, range);
    let (a, b) = std::thread::scope(|s| {
        let first = s.spawn(|| run(0..half));
        let second = run(half..input.scenarios);
        (first.join().expect("simulation thread"), second)
    });
    let mut losses = a?;
    losses.extend(b?);
    Ok(losses)
}
