//! Portfolio analytics from month-end snapshots (docs/analytics.md): each answer is a
//! GROUP BY in the database over the snapshots' pre-aggregates (concentration: over one
//! month's rows), never the book loaded into memory.

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::ApiError;
use api::{
    ApprovalsResponse, ConcentrationResponse, DelinquencyResponse, FieldError, Problem,
    RollRatesResponse, VintageResponse,
};
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use store::analytics::{AnalyticsFilter, Dimension, Month};

/// What the schema says a month is; the handlers still check the year's range.
pub const MONTH_PATTERN: &str = "^[0-9]{4}-(0[1-9]|1[0-2])$";
pub const CURRENCY_PATTERN: &str = "^[A-Z]{3}$";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/analytics/vintage", get(vintage))
        .route("/v1/analytics/roll-rates", get(roll_rates))
        .route("/v1/analytics/delinquency", get(delinquency))
        .route("/v1/analytics/approvals", get(approvals))
        .route("/v1/analytics/concentration", get(concentration))
}

/// The part of the book an analytic covers.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// First month (YYYY-MM): of origination for vintage, of the later month end for roll
    /// rates, of the month end for delinquency, of the decisions for approvals.
    pub from: Option<String>,
    /// Last month (YYYY-MM), inclusive.
    pub to: Option<String>,
    /// Only loans of this product (UUID).
    pub product: Option<String>,
    /// Only this currency (ISO 4217).
    pub currency: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Month whose score distribution PSI compares against (default: the first with scores).
    pub base: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConcentrationQuery {
    /// region, industry, product or funder.
    pub dimension: String,
    /// Month end (YYYY-MM); default the latest snapshot.
    pub month: Option<String>,
    pub product: Option<String>,
    pub currency: Option<String>,
}

pub fn parse_month(field: &str, raw: &Option<String>) -> Result<Option<Month>, FieldError> {
    raw.as_deref()
        .map(|s| s.parse::<Month>().map_err(|m| FieldError::new(field, m)))
        .transpose()
}

fn filter(
    p: &Principal,
    from: &Option<String>,
    to: &Option<String>,
    product: &Option<String>,
    currency: &Option<String>,
) -> Result<AnalyticsFilter, FieldError> {
    let from = parse_month("from", from)?;
    let to = parse_month("to", to)?;
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(FieldError::new("to", "must not be before from"));
        }
    }
    let product = product
        .as_deref()
        .map(|s| uuid::Uuid::try_parse(s).map_err(|_| FieldError::new("product", "not a UUID")))
        .transpose()?;
    if let Some(c) = currency {
        c.parse::<money::Currency>()
            .map_err(|_| FieldError::new("currency", "not a supported ISO 4217 code"))?;
    }
    Ok(AnalyticsFilter {
        tenant: (p.tenant != "*").then(|| p.tenant.clone()),
        from,
        to,
        product,
        currency: currency.clone(),
    })
}

/// DPD30+ rate by origination month and months on book, by count and by balance.
#[utoipa::path(get, path = "/v1/analytics/vintage", params(RangeQuery),
    responses((status = 200, body = VintageResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "analytics")]
pub async fn vintage(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<VintageResponse>, ApiError> {
    let f = filter(&p, &q.from, &q.to, &q.product, &q.currency)?;
    let points = s.engine.store().vintage(f).await?;
    Ok(Json(VintageResponse::of(&points)))
}

/// Moves between DPD buckets from one month end to the next, summed over the range.
#[utoipa::path(get, path = "/v1/analytics/roll-rates", params(RangeQuery),
    responses((status = 200, body = RollRatesResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "analytics")]
pub async fn roll_rates(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<RollRatesResponse>, ApiError> {
    let f = filter(&p, &q.from, &q.to, &q.product, &q.currency)?;
    let cells = s.engine.store().roll_rates(f).await?;
    Ok(Json(RollRatesResponse::of(&cells)))
}

/// Open loans and principal by DPD bucket at each month end.
#[utoipa::path(get, path = "/v1/analytics/delinquency", params(RangeQuery),
    responses((status = 200, body = DelinquencyResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "analytics")]
pub async fn delinquency(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<DelinquencyResponse>, ApiError> {
    let f = filter(&p, &q.from, &q.to, &q.product, &q.currency)?;
    let points = s.engine.store().delinquency(f).await?;
    Ok(Json(DelinquencyResponse::of(&points)))
}

/// Decisions and approval rate by month, and the PSI of each month's scores against a base
/// month's. Decisions are not stored by tenant: every tenant's count.
#[utoipa::path(get, path = "/v1/analytics/approvals", params(ApprovalsQuery),
    responses((status = 200, body = ApprovalsResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "analytics")]
pub async fn approvals(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<ApprovalsQuery>,
) -> Result<Json<ApprovalsResponse>, ApiError> {
    let f = filter(&p, &q.from, &q.to, &None, &None)?;
    let base = parse_month("base", &q.base)?;
    let months = s.engine.store().decision_months(f).await?;
    Ok(Json(ApprovalsResponse::of(&months, base)))
}

/// Open principal at a month end by region, industry, product or funder: shares and HHI.
#[utoipa::path(get, path = "/v1/analytics/concentration", params(ConcentrationQuery),
    responses((status = 200, body = ConcentrationResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "analytics")]
pub async fn concentration(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<ConcentrationQuery>,
) -> Result<Json<ConcentrationResponse>, ApiError> {
    let dim = Dimension::parse(&q.dimension).ok_or_else(|| {
        FieldError::new("dimension", "must be region, industry, product or funder")
    })?;
    let f = filter(&p, &None, &None, &q.product, &q.currency)?;
    let store = s.engine.store();
    let month = match parse_month("month", &q.month)? {
        Some(m) => m,
        None => match store.snapshot_months().await?.last() {
            Some(m) => *m,
            None => {
                return Ok(Json(ConcentrationResponse {
                    month: String::new(),
                    dimension: dim.as_str().into(),
                    items: Vec::new(),
                    hhi: Vec::new(),
                }))
            }
        },
    };
    let rows = store.concentration(f, month, dim).await?;
    Ok(Json(ConcentrationResponse::of(month, dim, &rows)))
}
