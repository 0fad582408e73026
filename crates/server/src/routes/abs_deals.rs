//! Securitization on the live book: deals stored, pools drawn from the term loans'
//! platform share, the true sale at closing and period runs posted to the ledger.

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::{
    engine_error, idempotency_key, internal, not_found, path_uuid, ApiError, WireJson,
};
use crate::routes::abs::field_problems;
use crate::routes::page;
use api::*;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::abs::{self as live, AbsError, DealDoc};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/abs/deals", post(create_deal).get(list_deals))
        .route("/v1/abs/deals/{id}", get(get_deal))
        .route("/v1/abs/deals/{id}/pool", post(pool_deal).get(get_pool))
        .route("/v1/abs/deals/{id}/pool/tape", get(pool_tape))
        .route("/v1/abs/deals/{id}/close", post(close_deal))
        .route("/v1/abs/deals/{id}/periods", get(list_periods))
        .route("/v1/abs/deals/{id}/periods/{n}/run", post(run_period))
        .route("/v1/abs/deals/{id}/periods/{n}/report", get(period_report))
        .route("/v1/abs/deals/{id}/repurchases", post(repurchase))
}

pub(crate) fn abs_error(e: AbsError) -> ApiError {
    match e {
        AbsError::NotFound(what) => not_found(what),
        AbsError::Invalid {
            field,
            code,
            message,
        } => Problem::new(422, code, "Request refused; nothing changed", message)
            .with_field(field)
            .into(),
        AbsError::Conflict { code, message } => Problem::new(
            409,
            code,
            "Conflicts with the deal's state; nothing changed",
            message,
        )
        .into(),
        AbsError::Engine(e) => engine_error(e, "", false),
        AbsError::Storage(e) => internal(&format!("{e:#}")),
    }
}

fn created<T>(replayed: bool, body: T) -> (StatusCode, Json<T>) {
    let status = if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(body))
}

/// The stored file as the domain deal (it was valid when stored; the parser is the same).
fn domain_deal(doc: &DealDoc) -> Result<abs::Deal, ApiError> {
    let file: DealFile = serde_json::from_value(doc.file.clone())
        .map_err(|e| internal(&format!("stored deal {} does not decode: {e}", doc.id)))?;
    file.parse()
        .map_err(|e| internal(&format!("stored deal {} no longer valid: {e:?}", doc.id)))
}

async fn load(s: &AppState, p: &Principal, id: &str) -> Result<DealDoc, ApiError> {
    let id = path_uuid(id, "deal id")?;
    live::deal(&s.engine, id, &p.tenant)
        .await
        .map_err(abs_error)
}

/// Stores a deal file (validated as `/v1/abs/deals/validate` does; 422 lists every
/// problem). Its `id` defaults to the Idempotency-Key; the same id and file again is 200.
#[utoipa::path(post, path = "/v1/abs/deals", request_body = DealCreateRequest,
    responses((status = 201, body = StoredDealResponse), (status = 200, body = StoredDealResponse),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn create_deal(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<DealCreateRequest>,
) -> Result<Response, ApiError> {
    let id = idempotency_key(&headers, req.id)?;
    let deal = match req.deal.parse() {
        Ok(d) => d,
        Err(errors) => {
            let errors = errors
                .into_iter()
                .map(|mut e| {
                    e.field = format!("deal.{}", e.field);
                    e
                })
                .collect();
            return Ok(field_problems(errors));
        }
    };
    let investors = req.investors()?;
    let file = serde_json::to_value(&req.deal).map_err(|e| internal(&e.to_string()))?;
    let (doc, replayed) =
        live::create_deal(&s.engine, &p.write_tenant(), id, file, &deal, investors)
            .await
            .map_err(abs_error)?;
    Ok(created(replayed, StoredDealResponse::from(&doc)).into_response())
}

#[utoipa::path(get, path = "/v1/abs/deals/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = StoredDealResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn get_deal(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<StoredDealResponse>, ApiError> {
    Ok(Json(StoredDealResponse::from(&load(&s, &p, &id).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DealListQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<u32>,
}

/// Stored deals in id order.
#[utoipa::path(get, path = "/v1/abs/deals", params(DealListQuery),
    responses((status = 200, body = StoredDealPage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn list_deals(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<DealListQuery>,
) -> Result<Json<StoredDealPage>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode_uuid).transpose()?;
    let tenant = (p.tenant != "*").then(|| p.tenant.clone());
    let (docs, next) = live::list_deals(&s.engine, tenant, after, limit)
        .await
        .map_err(abs_error)?;
    Ok(Json(StoredDealPage {
        items: docs.iter().map(StoredDealResponse::from).collect(),
        next_cursor: next.map(|id| page::encode(id.as_bytes())),
    }))
}

/// Draws the deal's pool from the live book: active term loans passing every criterion,
/// each with the platform's share of its outstanding principal. A loan forced in by id
/// that fails a rule is refused naming the rule (`criteria.<rule>`, `ineligible_loan`);
/// one in another deal's pool with `loan_in_another_pool`.
#[utoipa::path(post, path = "/v1/abs/deals/{id}/pool", params(("id" = Uuid, Path)),
    request_body = PoolRequest,
    responses((status = 201, body = PoolWireResponse), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn pool_deal(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    WireJson(req): WireJson<PoolRequest>,
) -> Result<(StatusCode, Json<PoolWireResponse>), ApiError> {
    let doc = load(&s, &p, &id).await?;
    let criteria = req.parse()?;
    let pool = live::pool_deal(&s.engine, &doc.tenant, doc.id, criteria)
        .await
        .map_err(abs_error)?;
    Ok((
        StatusCode::CREATED,
        Json(PoolWireResponse::new(&pool, doc.currency.code())),
    ))
}

#[utoipa::path(get, path = "/v1/abs/deals/{id}/pool", params(("id" = Uuid, Path)),
    responses((status = 200, body = PoolWireResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn get_pool(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PoolWireResponse>, ApiError> {
    let doc = load(&s, &p, &id).await?;
    let pool = doc.pool.as_ref().ok_or_else(|| not_found("pool"))?;
    Ok(Json(PoolWireResponse::new(pool, doc.currency.code())))
}

/// The pool as a loan tape (CSV, the columns `puhui abs` reads): each loan's sold principal
/// now, its rate, remaining term and age.
#[utoipa::path(get, path = "/v1/abs/deals/{id}/pool/tape", params(("id" = Uuid, Path), TapeQuery),
    responses((status = 200, description = "The tape as CSV, or as Parquet with `format=parquet`",
            content((String = "text/csv"), (String = "application/vnd.apache.parquet"))),
        (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn pool_tape(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TapeQuery>,
) -> Result<Response, ApiError> {
    let parquet = match q.format.as_deref().unwrap_or("csv") {
        "csv" => false,
        "parquet" => true,
        _ => {
            return Err(Problem::new(
                400,
                "invalid_query",
                "Invalid query",
                "format must be csv or parquet",
            )
            .with_field("format")
            .into())
        }
    };
    let doc = load(&s, &p, &id).await?;
    let pool = doc.pool.as_ref().ok_or_else(|| not_found("pool"))?;
    let loans: Vec<PoolLoanWire> = pool
        .loans
        .iter()
        .filter(|l| l.sold_minor > 0)
        .map(|l| PoolLoanWire {
            loan_id: Some(l.loan_id.to_string()),
            balance_minor: l.sold_minor,
            annual_rate: l.annual_rate.normalize().to_string(),
            remaining_term_months: l.remaining_term_months,
            age_months: l.age_months,
            amortization: AmortizationWire::parse("amortization", &l.amortization)
                .unwrap_or_default(),
        })
        .collect();
    if parquet {
        let bytes =
            tape_parquet(&loans, doc.currency.code()).map_err(|e| internal(&format!("{e:#}")))?;
        return Ok((
            [(header::CONTENT_TYPE, "application/vnd.apache.parquet")],
            bytes,
        )
            .into_response());
    }
    let csv = abs_tape::write_loan_tape(&loans, doc.currency.code());
    Ok(([(header::CONTENT_TYPE, "text/csv")], csv).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TapeQuery {
    /// `csv` (default) or `parquet`: the same columns, typed (amounts and months as
    /// integers, rates as decimal text).
    pub format: Option<String>,
}

/// The tape's columns ([`abs_tape::TAPE_COLUMNS`]) as one Parquet row group.
fn tape_parquet(loans: &[PoolLoanWire], currency: &str) -> anyhow::Result<Vec<u8>> {
    use crate::parquet_out::{Column, Kind, Writer};
    let kinds = [
        Kind::Text,
        Kind::Int64,
        Kind::Text,
        Kind::Text,
        Kind::Int32,
        Kind::Int32,
        Kind::Text,
    ];
    let fields: Vec<(&str, Kind)> = abs_tape::TAPE_COLUMNS.iter().copied().zip(kinds).collect();
    let months = |f: fn(&PoolLoanWire) -> u32| -> anyhow::Result<Column> {
        let v: Result<Vec<i32>, _> = loans.iter().map(|l| i32::try_from(f(l))).collect();
        Ok(Column::Int32(v?))
    };
    let mut w = Writer::new(Vec::new(), "pool_tape", &fields)?;
    w.row_group(vec![
        Column::Text(
            loans
                .iter()
                .map(|l| l.loan_id.clone().unwrap_or_default())
                .collect(),
        ),
        Column::Int64(loans.iter().map(|l| l.balance_minor).collect()),
        Column::Text(vec![currency.to_string(); loans.len()]),
        Column::Text(loans.iter().map(|l| l.annual_rate.clone()).collect()),
        months(|l| l.remaining_term_months)?,
        months(|l| l.age_months)?,
        Column::Text(
            loans
                .iter()
                .map(|l| l.amortization.as_str().to_string())
                .collect(),
        ),
    ])?;
    w.close()
}

/// The true sale: one balanced entry moves the pool's sold principal to the SPV at the
/// price, issues the bonds and funds the deal's accounts, with the deal closed in the same
/// commit. The same Idempotency-Key again answers 200 with the closing; another key 409.
#[utoipa::path(post, path = "/v1/abs/deals/{id}/close", params(("id" = Uuid, Path)),
    request_body = CloseRequest,
    responses((status = 201, body = StoredDealResponse), (status = 200, body = StoredDealResponse),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn close_deal(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    WireJson(req): WireJson<CloseRequest>,
) -> Result<(StatusCode, Json<StoredDealResponse>), ApiError> {
    let doc = load(&s, &p, &id).await?;
    let key = idempotency_key(&headers, None)?;
    let price = req.price()?;
    let deal = domain_deal(&doc)?;
    let closing = live::close_deal(&s.engine, &doc.tenant, doc.id, key, price, &deal)
        .await
        .map_err(abs_error)?;
    Ok(created(
        closing.replayed,
        StoredDealResponse::from(&closing.deal),
    ))
}

/// Runs period `n` (the next one, on the deal's `n`-th payment date, which must not be
/// after the open business day): the sold share's collections, the waterfall, one entry;
/// with `exercise_call`, the clean-up call buys back the pool left and the deal ends.
/// A period already run is refused (409 `period_already_run`) unless the same
/// Idempotency-Key repeats it (200, the run as it was).
#[utoipa::path(post, path = "/v1/abs/deals/{id}/periods/{n}/run",
    params(("id" = Uuid, Path), ("n" = u32, Path)), request_body = PeriodRunRequest,
    responses((status = 201, body = PeriodWire), (status = 200, body = PeriodWire),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn run_period(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, String)>,
    WireJson(req): WireJson<PeriodRunRequest>,
) -> Result<(StatusCode, Json<PeriodWire>), ApiError> {
    let doc = load(&s, &p, &id).await?;
    let key = idempotency_key(&headers, None)?;
    let deal = domain_deal(&doc)?;
    let dates = payment_dates(&deal);
    let n = period_number(&n, dates.len())?;
    let rates = index_rates("index_rates", &req.index_rates)?;
    let period = abs::Period {
        payment_date: dates[n as usize - 1],
        exercise_call: req.exercise_call,
        index_rates: rates,
    };
    let (period, replayed) =
        live::run_period_with(&s.engine, &doc.tenant, (doc.id, &deal), n, key, period)
            .await
            .map_err(abs_error)?;
    Ok(created(
        replayed,
        PeriodWire::new(&period, doc.currency.code()),
    ))
}

/// `n` as a period of a deal with `periods` payment dates: not a positive number is a 400,
/// a number past the deal's last payment date a 422.
fn period_number(n: &str, periods: usize) -> Result<u32, ApiError> {
    let n: u32 = n.parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
        ApiError::from(
            Problem::new(
                400,
                "invalid_path",
                "Invalid path",
                format!("the period must be 1 to {periods}"),
            )
            .with_field("n"),
        )
    })?;
    if n as usize > periods {
        return Err(Problem::new(
            422,
            "out_of_range",
            "Request refused; nothing changed",
            format!("the deal has {periods} payment dates"),
        )
        .with_field("n")
        .into());
    }
    Ok(n)
}

/// Every period run, in order.
#[utoipa::path(get, path = "/v1/abs/deals/{id}/periods", params(("id" = Uuid, Path)),
    responses((status = 200, body = PeriodPage), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn list_periods(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PeriodPage>, ApiError> {
    let doc = load(&s, &p, &id).await?;
    Ok(Json(PeriodPage {
        items: doc
            .periods
            .iter()
            .map(|x| PeriodWire::new(x, doc.currency.code()))
            .collect(),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `json` (default), `csv` or `html`.
    pub format: Option<String>,
}

/// The investor report of period `n`: pool, delinquency, defaults, prepayments,
/// recoveries, purchases, tranche balances and factors, coupons, fees and triggers, with
/// an inclusion proof of every entry that moved cash into the SPV's collection account for
/// the period, all against one signed tree head (`scripts/verify_investor_report.py`
/// checks them). `?format=csv` and `?format=html` give the same figures without proofs.
#[utoipa::path(get, path = "/v1/abs/deals/{id}/periods/{n}/report",
    params(("id" = Uuid, Path), ("n" = u32, Path), ReportQuery),
    responses((status = 200, description = "The report (JSON), or its figures as CSV or HTML",
            content((InvestorReport = "application/json"), (String = "text/csv"),
                (String = "text/html"))),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn period_report(
    p: Principal,
    State(s): State<AppState>,
    Path((id, n)): Path<(String, String)>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let doc = load(&s, &p, &id).await?;
    let deal = domain_deal(&doc)?;
    let n = period_number(&n, payment_dates(&deal).len())?;
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "html") {
        return Err(Problem::new(
            400,
            "invalid_query",
            "Invalid query",
            "format must be json, csv or html",
        )
        .with_field("format")
        .into());
    }
    let evidence = live::period_evidence(&s.engine, &doc.tenant, doc.id, n)
        .await
        .map_err(abs_error)?;
    let report = InvestorReport::new(&evidence, &deal);
    Ok(match format {
        "csv" => (
            [(header::CONTENT_TYPE, "text/csv")],
            crate::abs_investor_report::csv(&report),
        )
            .into_response(),
        "html" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            crate::abs_investor_report::html(&report, &evidence.deal),
        )
            .into_response(),
        _ => Json(report).into_response(),
    })
}

/// Repurchase of a pooled loan that breaks a warranty: the platform pays the loan's sold
/// principal (as the last period measured it) into the SPV's collection account, where it
/// joins the next period's principal collections; the loan leaves the pool. The same
/// Idempotency-Key again answers 200 with the repurchase as it was.
#[utoipa::path(post, path = "/v1/abs/deals/{id}/repurchases", params(("id" = Uuid, Path)),
    request_body = RepurchaseRequest,
    responses((status = 201, body = RepurchaseWire), (status = 200, body = RepurchaseWire),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "securitization")]
pub async fn repurchase(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    WireJson(req): WireJson<RepurchaseRequest>,
) -> Result<(StatusCode, Json<RepurchaseWire>), ApiError> {
    let doc = load(&s, &p, &id).await?;
    let key = idempotency_key(&headers, None)?;
    let deal = domain_deal(&doc)?;
    let (r, replayed) = live::repurchase(
        &s.engine,
        &doc.tenant,
        doc.id,
        key,
        req.loan_id,
        req.reason,
        &deal,
    )
    .await
    .map_err(abs_error)?;
    Ok(created(
        replayed,
        RepurchaseWire::new(&r, doc.currency.code()),
    ))
}
