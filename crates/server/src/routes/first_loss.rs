//! First-loss deposits (docs/co-lending.md, "First-loss deposits"): create, read, list.
//! A funding plan names its deposit; close of business draws it on write-offs.

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::{idempotency_key, path_uuid, ApiError, WireJson};
use crate::routes::colending::{colending_error, created, PartnerListQuery};
use crate::routes::page;
use api::*;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::colending as cl;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/first-loss-deposits",
            post(create_deposit).get(list_deposits),
        )
        .route("/v1/first-loss-deposits/{id}", get(get_deposit))
}

/// Creates a first-loss deposit. Its `id` defaults to the Idempotency-Key; the same key
/// and body answer the deposit as stored (200).
#[utoipa::path(post, path = "/v1/first-loss-deposits", request_body = FirstLossDepositRequest,
    responses((status = 201, body = FirstLossDepositResponse), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "colending")]
pub async fn create_deposit(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<FirstLossDepositRequest>,
) -> Result<(StatusCode, Json<FirstLossDepositResponse>), ApiError> {
    let spec = req.parse()?;
    let id = idempotency_key(&headers, req.id)?;
    let (deposit, replayed) = cl::create_deposit(&s.engine, &p.write_tenant(), id, spec)
        .await
        .map_err(colending_error)?;
    Ok(created(replayed, FirstLossDepositResponse::from(&deposit)))
}

/// A deposit with what it has paid and has left.
#[utoipa::path(get, path = "/v1/first-loss-deposits/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = FirstLossDepositResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "colending")]
pub async fn get_deposit(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<FirstLossDepositResponse>, ApiError> {
    let id = path_uuid(&id, "first-loss deposit id")?;
    let deposit = cl::deposit(&s.engine, &p.tenant, id)
        .await
        .map_err(colending_error)?;
    Ok(Json(FirstLossDepositResponse::from(&deposit)))
}

/// Deposits in id order.
#[utoipa::path(get, path = "/v1/first-loss-deposits", params(PartnerListQuery),
    responses((status = 200, body = FirstLossDepositPage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "colending")]
pub async fn list_deposits(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<PartnerListQuery>,
) -> Result<Json<FirstLossDepositPage>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode_uuid).transpose()?;
    let tenant = (p.tenant != "*").then(|| p.tenant.clone());
    let (items, next) = cl::list_deposits(&s.engine, tenant, after, limit)
        .await
        .map_err(colending_error)?;
    Ok(Json(FirstLossDepositPage {
        items: items.iter().map(FirstLossDepositResponse::from).collect(),
        next_cursor: next.map(|id| page::encode(id.as_bytes())),
    }))
}
