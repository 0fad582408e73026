//! Co-lending routes: funding partners (create, change, read, list), a product's funding
//! plan, and a partner's positions. A loan's funders show on `GET /v1/loans/{id}`.

use crate::app::AppState;
use crate::auth::{list_party, PartyKind, Principal};
use crate::problem::{
    engine_error, idempotency_key, internal, not_found, path_uuid, ApiError, WireJson,
};
use crate::routes::page::{self};
use api::*;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::colending::{self as cl, ColendingError};
use serde::Deserialize;
use uuid::Uuid;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/funding-partners",
            post(create_partner).get(list_partners),
        )
        .route("/v1/funding-partners/{id}", get(get_partner))
        .route("/v1/funding-partners/{id}/changes", post(change_partner))
        .route(
            "/v1/funding-partners/{id}/positions",
            get(partner_positions),
        )
        .route(
            "/v1/loan-products/{id}/funding-plan",
            post(set_plan).get(get_plan),
        )
        .merge(super::colending_recon::routes())
        .merge(super::first_loss::routes())
}

/// Reads see every tenant for `*` principals.
fn read_tenant(p: &Principal) -> &str {
    &p.tenant
}

fn list_tenant(p: &Principal) -> Option<String> {
    (p.tenant != "*").then(|| p.tenant.clone())
}

pub(crate) fn colending_error(e: ColendingError) -> ApiError {
    match e {
        ColendingError::NotFound(what) => not_found(what),
        ColendingError::Invalid { errors } => {
            let field = errors.first().map_or("", |(f, _)| f.as_str()).to_string();
            let detail = e_text(&errors);
            ApiError::from(
                Problem::new(
                    422,
                    "invalid_field",
                    "Request refused; nothing changed",
                    detail,
                )
                .with_field(field),
            )
        }
        ColendingError::Conflict { code, message } => ApiError::from(Problem::new(
            409,
            code,
            "Conflicts with the current state; nothing changed",
            message,
        )),
        ColendingError::Declined { reasons } => {
            let detail = ColendingError::Declined {
                reasons: reasons.clone(),
            }
            .to_string();
            let mut p = Problem::new(
                422,
                "funding_declined",
                "The loan's funders did not all approve; nothing was booked",
                detail,
            );
            p.funders = Some(
                reasons
                    .into_iter()
                    .map(|r| FunderDecline {
                        partner_id: r.partner_id,
                        code: r.code,
                        reason: r.reason,
                    })
                    .collect(),
            );
            p.into()
        }
        ColendingError::Engine(e) => engine_error(e, "", false),
        ColendingError::Storage(e) => internal(&format!("{e:#}")),
    }
}

fn e_text(errors: &[(String, String)]) -> String {
    ColendingError::Invalid {
        errors: errors.to_vec(),
    }
    .to_string()
}

pub(crate) fn created<T>(replayed: bool, body: T) -> (StatusCode, Json<T>) {
    let status = if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(body))
}

/// A loan's funders, guarantor and first-loss deposit after its last command; `None` for
/// a loan without a plan (or a plan without a guarantee, or without a deposit).
pub(crate) async fn loan_funding(
    s: &AppState,
    loan_id: Uuid,
) -> Result<LoanFundingParts, ApiError> {
    let doc = cl::loan_funding(&s.engine, loan_id)
        .await
        .map_err(colending_error)?;
    Ok((
        doc.as_ref().map(loan_funding_wire),
        doc.as_ref().and_then(loan_guarantor_wire),
        doc.as_ref().and_then(loan_first_loss_wire),
    ))
}

pub(crate) type LoanFundingParts = (
    Option<Vec<LoanFundingWire>>,
    Option<LoanGuarantorWire>,
    Option<LoanFirstLossWire>,
);

/// Creates a funding partner (a bank or a trust). Its `id` defaults to the Idempotency-Key.
#[utoipa::path(post, path = "/v1/funding-partners", request_body = FundingPartnerRequest,
    responses((status = 201, body = FundingPartnerResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "colending")]
pub async fn create_partner(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<FundingPartnerRequest>,
) -> Result<(StatusCode, Json<FundingPartnerResponse>), ApiError> {
    let spec = req.parse()?;
    let id = idempotency_key(&headers, req.id)?;
    let (partner, replayed) = cl::create_partner(&s.engine, &p.write_tenant(), id, spec)
        .await
        .map_err(colending_error)?;
    Ok(created(replayed, FundingPartnerResponse::from(&partner)))
}

/// A new version of a partner (kind and currency stay). The body is the whole partner.
#[utoipa::path(post, path = "/v1/funding-partners/{id}/changes", request_body = FundingPartnerRequest,
    params(("id" = Uuid, Path)),
    responses((status = 201, body = FundingPartnerResponse), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "colending")]
pub async fn change_partner(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    WireJson(req): WireJson<FundingPartnerRequest>,
) -> Result<(StatusCode, Json<FundingPartnerResponse>), ApiError> {
    let id = path_uuid(&id, "funding partner id")?;
    let key = idempotency_key(&headers, None)?;
    if req.id.is_some_and(|body_id| body_id != id) {
        return Err(FieldError::new("id", "must be the partner's id or absent").into());
    }
    let spec = req.parse()?;
    let (partner, replayed) = cl::change_partner(&s.engine, &p.write_tenant(), id, key, spec)
        .await
        .map_err(colending_error)?;
    Ok(created(replayed, FundingPartnerResponse::from(&partner)))
}

#[utoipa::path(get, path = "/v1/funding-partners/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = FundingPartnerResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "colending")]
pub async fn get_partner(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<FundingPartnerResponse>, ApiError> {
    let id = path_uuid(&id, "funding partner id")?;
    let partner = cl::partner(&s.engine, read_tenant(&p), id)
        .await
        .map_err(colending_error)?;
    Ok(Json(FundingPartnerResponse::from(&partner)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PartnerListQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<u32>,
}

/// Funding partners in id order; a partner's key sees only itself.
#[utoipa::path(get, path = "/v1/funding-partners", params(PartnerListQuery),
    responses((status = 200, body = FundingPartnerPage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "colending")]
pub async fn list_partners(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<PartnerListQuery>,
) -> Result<Json<FundingPartnerPage>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode_uuid).transpose()?;
    if let Some(party) = list_party(&p, &[PartyKind::Partner])? {
        let own = Uuid::parse_str(&party.id).ok();
        let items = match own {
            Some(id) if after.is_none_or(|a| a < id) => {
                match cl::partner(&s.engine, read_tenant(&p), id).await {
                    Ok(v) => vec![FundingPartnerResponse::from(&v)],
                    Err(ColendingError::NotFound(_)) => Vec::new(),
                    Err(e) => return Err(colending_error(e)),
                }
            }
            _ => Vec::new(),
        };
        return Ok(Json(FundingPartnerPage {
            items,
            next_cursor: None,
        }));
    }
    let found = cl::list_partners(&s.engine, list_tenant(&p), after, limit)
        .await
        .map_err(colending_error)?;
    Ok(Json(FundingPartnerPage {
        items: found
            .partners
            .iter()
            .map(FundingPartnerResponse::from)
            .collect(),
        next_cursor: found.next_after.map(|id| page::encode(id.as_bytes())),
    }))
}

/// The partner's positions in co-lent loans, in the loans' positions-document order; a
/// guarantee company's are the loans it guarantees (share 0, the claims it holds). A page
/// may hold fewer items than `limit` (loans the partner does not fund are skipped);
/// follow `next_cursor` until it is absent.
#[utoipa::path(get, path = "/v1/funding-partners/{id}/positions", params(("id" = Uuid, Path), PartnerListQuery),
    responses((status = 200, body = PartnerPositionPage), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "colending")]
pub async fn partner_positions(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PartnerListQuery>,
) -> Result<Json<PartnerPositionPage>, ApiError> {
    let id = path_uuid(&id, "funding partner id")?;
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode_uuid).transpose()?;
    let partner = cl::partner(&s.engine, read_tenant(&p), id)
        .await
        .map_err(colending_error)?;
    let (docs, next_after) =
        cl::list_positions(&s.engine, Some(partner.doc.tenant.clone()), after, limit)
            .await
            .map_err(colending_error)?;
    let items = docs
        .iter()
        .flat_map(|d| {
            let funded = d.funders.iter().filter(|f| f.partner_id == id);
            funded
                .map(LoanFundingWire::from)
                .chain(guarantor_position_wire(d, id))
                .map(|funding| PartnerPositionWire {
                    loan_id: d.loan_id,
                    currency: d.currency.code().into(),
                    funding,
                })
        })
        .collect();
    Ok(Json(PartnerPositionPage {
        items,
        next_cursor: next_after.map(|id| page::encode(id.as_bytes())),
    }))
}

/// The product's currency, from its newest version of this tenant.
async fn product_currency(
    s: &AppState,
    tenant: &str,
    id: Uuid,
) -> Result<money::Currency, ApiError> {
    let row = s
        .engine
        .store()
        .product(id, None)
        .await?
        .filter(|r| tenant == "*" || r.tenant == tenant)
        .ok_or_else(|| not_found("product"))?;
    let product: LoanProductWire =
        serde_json::from_slice(&row.body).map_err(|e| internal(&format!("stored product: {e}")))?;
    product
        .currency
        .parse()
        .map_err(|_| internal("stored product has an unknown currency"))
}

/// Attaches a fixed funding plan to a product, or changes it (a new version). Loans
/// already disbursed keep the funders they were booked with.
#[utoipa::path(post, path = "/v1/loan-products/{id}/funding-plan", request_body = FundingPlanRequest,
    params(("id" = Uuid, Path)),
    responses((status = 201, body = FundingPlanResponse), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "colending")]
pub async fn set_plan(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    WireJson(req): WireJson<FundingPlanRequest>,
) -> Result<(StatusCode, Json<FundingPlanResponse>), ApiError> {
    let product_id = path_uuid(&id, "product id")?;
    let spec = req.parse()?;
    let key = idempotency_key(&headers, None)?;
    let tenant = p.write_tenant();
    let currency = product_currency(&s, &tenant, product_id).await?;
    let (plan, replayed) = cl::set_plan(&s.engine, &tenant, product_id, currency, key, spec)
        .await
        .map_err(colending_error)?;
    Ok(created(replayed, FundingPlanResponse::from(&plan)))
}

#[utoipa::path(get, path = "/v1/loan-products/{id}/funding-plan", params(("id" = Uuid, Path)),
    responses((status = 200, body = FundingPlanResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "colending")]
pub async fn get_plan(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<FundingPlanResponse>, ApiError> {
    let product_id = path_uuid(&id, "product id")?;
    let plan = cl::plan(&s.engine, read_tenant(&p), product_id)
        .await
        .map_err(colending_error)?;
    Ok(Json(FundingPlanResponse::from(&plan)))
}
