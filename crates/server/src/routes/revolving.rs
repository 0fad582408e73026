//! Revolving credit routes: borrowers, merchants, credit lines, purchases paid to merchants,
//! repayments, installments, limit changes and fund-flow traces.

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::{
    engine_error, idempotency_key, internal, not_found, path_uuid, ApiError, WireJson,
};
use api::*;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::revolving::{self as rc, LimitAction, RevolvingError};
use ledger::Side;
use revolving::LineError;
use uuid::Uuid;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/borrowers", post(create_borrower))
        .route("/v1/borrowers/{id}", get(get_borrower))
        .route("/v1/merchants", post(create_merchant))
        .route("/v1/merchants/{id}", get(get_merchant))
        .route("/v1/credit-lines", post(create_line))
        .route("/v1/credit-lines/{id}", get(get_line))
        .route("/v1/credit-lines/{id}/history", get(line_history))
        .route("/v1/credit-lines/{id}/repayments", post(repay))
        .route("/v1/credit-lines/{id}/refunds", post(refund_overpayment))
        .route("/v1/credit-lines/{id}/changes", post(change_line))
        .route(
            "/v1/credit-lines/{id}/statement-installments",
            post(convert_statement),
        )
        .route("/v1/installment-quotes/{months}/{fee_rate}", get(quote))
        .route("/v1/purchases", post(authorize))
        .route("/v1/purchases/{id}", get(get_purchase))
        .route("/v1/purchases/{id}/capture", post(capture))
        .route("/v1/purchases/{id}/void", post(void))
        .route("/v1/purchases/{id}/refunds", post(refund))
        .route("/v1/purchases/{id}/installments", post(convert_purchase))
        .route("/v1/purchases/{id}/trace", get(trace))
}

/// Reads see every tenant for `*` principals.
fn read_tenant(p: &Principal) -> &str {
    if p.tenant == "*" {
        "*"
    } else {
        &p.tenant
    }
}

fn rc_error(e: RevolvingError) -> ApiError {
    let refused = |status, code: &str, field: &str, detail: String| {
        ApiError::from(
            Problem::new(status, code, "Request refused; nothing changed", detail)
                .with_field(field),
        )
    };
    match e {
        RevolvingError::NotFound(what) => not_found(what),
        RevolvingError::Invalid { field, message } => {
            refused(422, "invalid_field", &field, message)
        }
        RevolvingError::Conflict { code, message } => ApiError::from(Problem::new(
            409,
            code,
            "Conflicts with the current state; nothing changed",
            message,
        )),
        RevolvingError::Declined { reason, detail } => {
            let mut p = Problem::new(422, reason, "Purchase declined; nothing changed", detail)
                .with_field("amount_minor");
            p.purchase = Some(DeclinedPurchase {
                id: Uuid::nil(),
                status: "declined".into(),
                reason: reason.into(),
            });
            p.into()
        }
        RevolvingError::Line(l) => line_error(l),
        RevolvingError::Engine(e) => engine_error(e, "", false),
        RevolvingError::Storage(e) => internal(&format!("{e:#}")),
    }
}

fn line_error(l: LineError) -> ApiError {
    let detail = l.to_string();
    let refused = |status, code: &str, field: &str| {
        ApiError::from(
            Problem::new(
                status,
                code,
                "Request refused; nothing changed",
                detail.clone(),
            )
            .with_field(field),
        )
    };
    match &l {
        LineError::Terms(t) => refused(422, "invalid_terms", &t.field),
        LineError::NotPositive { field, .. } | LineError::TooLarge { field, .. } => {
            refused(422, "invalid_amount", field)
        }
        LineError::TermNotOffered { .. } => refused(422, "term_not_offered", "months"),
        LineError::Status { .. } => ApiError::from(Problem::new(
            409,
            "line_status",
            "Wrong line status; nothing changed",
            detail,
        )),
        LineError::Date { .. } => ApiError::from(Problem::new(
            409,
            "business_date",
            "Business date moved; retry",
            detail,
        )),
        _ => refused(422, "refused", "amount_minor"),
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

/// Registers a borrower (individual or enterprise).
#[utoipa::path(post, path = "/v1/borrowers", request_body = BorrowerRequest,
    responses((status = 201, body = BorrowerResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn create_borrower(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<BorrowerRequest>,
) -> Result<(StatusCode, Json<BorrowerResponse>), ApiError> {
    let kind = req.parse()?;
    let id = idempotency_key(&headers, req.id)?;
    let (b, replayed) = rc::create_borrower(&s.engine, id, &p.write_tenant(), kind, req.name)
        .await
        .map_err(rc_error)?;
    Ok(created(replayed, BorrowerResponse::from(&b)))
}

#[utoipa::path(get, path = "/v1/borrowers/{id}", responses((status = 200, body = BorrowerResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn get_borrower(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BorrowerResponse>, ApiError> {
    let id = path_uuid(&id, "borrower id")?;
    let b = rc::borrower(&s.engine, read_tenant(&p), id)
        .await
        .map_err(rc_error)?;
    Ok(Json(BorrowerResponse::from(&b)))
}

/// Onboards a merchant with its settlement account and discount rate.
#[utoipa::path(post, path = "/v1/merchants", request_body = MerchantRequest,
    responses((status = 201, body = MerchantResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn create_merchant(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<MerchantRequest>,
) -> Result<(StatusCode, Json<MerchantResponse>), ApiError> {
    let (currency, discount_rate) = req.parse()?;
    let id = idempotency_key(&headers, req.id)?;
    let new = rc::NewMerchant {
        id,
        name: req.name,
        currency,
        discount_rate,
        settlement_account: req.settlement_account,
    };
    let (m, replayed) = rc::create_merchant(&s.engine, &p.write_tenant(), new)
        .await
        .map_err(rc_error)?;
    Ok(created(replayed, MerchantResponse::from(&m)))
}

#[utoipa::path(get, path = "/v1/merchants/{id}", responses((status = 200, body = MerchantResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn get_merchant(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MerchantResponse>, ApiError> {
    let id = path_uuid(&id, "merchant id")?;
    let m = rc::merchant(&s.engine, read_tenant(&p), id)
        .await
        .map_err(rc_error)?;
    Ok(Json(MerchantResponse::from(&m)))
}

/// Opens a credit line for a borrower with a limit and statement terms.
#[utoipa::path(post, path = "/v1/credit-lines", request_body = CreditLineRequest,
    responses((status = 201, body = CreditLineResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn create_line(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<CreditLineRequest>,
) -> Result<(StatusCode, Json<CreditLineResponse>), ApiError> {
    let terms = req.terms()?;
    let id = idempotency_key(&headers, req.id)?;
    let limit = money::Money::from_minor(req.limit_minor, terms.currency);
    // Held until the line is written (crate::exposure_lock).
    let _exposure = s
        .exposure_locks
        .lock(&p.write_tenant(), &req.borrower_id.to_string())
        .await;
    super::compliance::check_new_line(&s, &p.write_tenant(), id, req.borrower_id, limit).await?;
    let new = rc::NewLine {
        id,
        borrower_id: req.borrower_id,
        limit_minor: req.limit_minor,
        terms,
        rules: revolving::LimitRules::default(),
    };
    let (v, replayed) = rc::open_line(&s.engine, &p.write_tenant(), new)
        .await
        .map_err(rc_error)?;
    Ok(created(replayed, CreditLineResponse::from(&v)))
}

/// A line with its limit, available amount, holds, balances and open statements.
#[utoipa::path(get, path = "/v1/credit-lines/{id}", responses((status = 200, body = CreditLineResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn get_line(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CreditLineResponse>, ApiError> {
    let id = path_uuid(&id, "credit line id")?;
    let v = rc::line(&s.engine, read_tenant(&p), id)
        .await
        .map_err(rc_error)?;
    Ok(Json(CreditLineResponse::from(&v)))
}

/// Every logged event of a line: limit changes with their reasons, statements, plans,
/// payments.
#[utoipa::path(get, path = "/v1/credit-lines/{id}/history", responses((status = 200, body = [LineEventResponse]), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn line_history(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<LineEventResponse>>, ApiError> {
    let id = path_uuid(&id, "credit line id")?;
    let events = rc::line_history(&s.engine, read_tenant(&p), id)
        .await
        .map_err(rc_error)?;
    Ok(Json(
        events
            .into_iter()
            .map(|(seq, day, event)| LineEventResponse {
                seq,
                day: day.to_string(),
                event,
            })
            .collect(),
    ))
}

async fn line_response(
    s: &AppState,
    p: &Principal,
    id: Uuid,
) -> Result<CreditLineResponse, ApiError> {
    let v = rc::line(&s.engine, read_tenant(p), id)
        .await
        .map_err(rc_error)?;
    Ok(CreditLineResponse::from(&v))
}

/// A repayment, allocated by the line's order (default penalty, interest, fee, principal).
#[utoipa::path(post, path = "/v1/credit-lines/{id}/repayments", request_body = LineRepaymentRequest,
    responses((status = 201, body = CreditLineResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn repay(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<LineRepaymentRequest>,
) -> Result<(StatusCode, Json<CreditLineResponse>), ApiError> {
    let id = path_uuid(&id, "credit line id")?;
    let key = idempotency_key(&headers, req.id)?;
    let (_, replayed) = rc::repay(&s.engine, &p.write_tenant(), id, key, req.amount_minor)
        .await
        .map_err(rc_error)?;
    Ok(created(replayed, line_response(&s, &p, id).await?))
}

/// Changes a line: set the limit, grant a temporary limit, freeze, unfreeze, close, or
/// apply a risk signal. Every change is logged with its reason.
#[utoipa::path(post, path = "/v1/credit-lines/{id}/changes", request_body = LineChangeRequest,
    responses((status = 200, body = CreditLineResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn change_line(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<LineChangeRequest>,
) -> Result<Json<CreditLineResponse>, ApiError> {
    let id = path_uuid(&id, "credit line id")?;
    let key = idempotency_key(&headers, None)?;
    let action = line_action(&req)?;
    let _exposure = match &action {
        LimitAction::Set { limit_minor } => {
            super::compliance::check_limit_change(&s, &p.write_tenant(), id, *limit_minor).await?
        }
        _ => None,
    };
    rc::change_line(&s.engine, &p.write_tenant(), id, key, action, req.reason)
        .await
        .map_err(rc_error)?;
    Ok(Json(line_response(&s, &p, id).await?))
}

fn line_action(req: &LineChangeRequest) -> Result<LimitAction, ApiError> {
    let need = |v: Option<i64>, field: &str| {
        v.ok_or_else(|| ApiError::from(FieldError::new(field, "is required for this action")))
    };
    Ok(match req.action.as_str() {
        "set_limit" => LimitAction::Set {
            limit_minor: need(req.limit_minor, "limit_minor")?,
        },
        "temporary_limit" => LimitAction::Temporary {
            amount_minor: need(req.amount_minor, "amount_minor")?,
            expires_on: parse_date(
                "expires_on",
                req.expires_on.as_deref().ok_or_else(|| {
                    ApiError::from(FieldError::new("expires_on", "is required for this action"))
                })?,
            )?,
        },
        "freeze" => LimitAction::Freeze,
        "unfreeze" => LimitAction::Unfreeze,
        "close" => LimitAction::Close,
        "risk_signal" => LimitAction::Signal(match &req.lower_fraction {
            None => revolving::RiskSignal::Freeze {
                reason: req.reason.clone(),
            },
            Some(f) => {
                let fraction: money::Decimal = f.trim().parse().map_err(|_| {
                    ApiError::from(FieldError::new("lower_fraction", "must be a decimal"))
                })?;
                if fraction <= money::Decimal::ZERO || fraction > money::Decimal::ONE {
                    return Err(
                        FieldError::new("lower_fraction", "must be above 0 and at most 1").into(),
                    );
                }
                revolving::RiskSignal::Lower {
                    fraction,
                    reason: req.reason.clone(),
                }
            }
        }),
        _ => {
            return Err(FieldError::new(
                "action",
                "must be set_limit, temporary_limit, freeze, unfreeze, close or risk_signal",
            )
            .into())
        }
    })
}

/// Converts the latest statement's unpaid revolving principal into installments.
#[utoipa::path(post, path = "/v1/credit-lines/{id}/statement-installments", request_body = InstallmentRequest,
    responses((status = 200, body = CreditLineResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn convert_statement(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<InstallmentRequest>,
) -> Result<Json<CreditLineResponse>, ApiError> {
    let id = path_uuid(&id, "credit line id")?;
    let key = idempotency_key(&headers, None)?;
    if req.fee_payer()? != revolving::FeePayer::Borrower {
        return Err(FieldError::new(
            "fee_payer",
            "a statement's installments are paid by the borrower",
        )
        .into());
    }
    rc::convert_statement(&s.engine, &p.write_tenant(), id, key, req.months)
        .await
        .map_err(rc_error)?;
    Ok(Json(line_response(&s, &p, id).await?))
}

/// What `fee_rate` in an installment quote's path may be: a fraction below 1, written as
/// `0`, or `0.` and one to eight digits. The document states the same pattern.
pub const FEE_RATE_PATTERN: &str = "^0(\\.[0-9]{1,8})?$";

fn is_fee_rate(s: &str) -> bool {
    match s.strip_prefix('0') {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('.')
            .is_some_and(|d| (1..=8).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// The APR of an installment offer, by the IRR method (e.g. 3 months at 0.025 → 14.94%).
#[utoipa::path(get, path = "/v1/installment-quotes/{months}/{fee_rate}", responses((status = 200, body = InstallmentQuote), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn quote(
    _p: Principal,
    Path((months, fee_rate)): Path<(String, String)>,
) -> Result<Json<InstallmentQuote>, ApiError> {
    let months: u32 = Some(months.as_str())
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|m| m.parse().ok())
        .filter(|m| (1..=60).contains(m))
        .ok_or_else(|| ApiError::from(FieldError::new("months", "must be 1 to 60")))?;
    let rate: money::Decimal = Some(fee_rate.as_str())
        .filter(|r| is_fee_rate(r))
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| {
            ApiError::from(FieldError::new("fee_rate", "must be a fraction in [0, 1)"))
        })?;
    let apr = revolving::installment_apr_percent(money::Currency::Cny, months, rate)
        .map_err(line_error)?;
    Ok(Json(InstallmentQuote {
        months,
        fee_rate: rate.to_string(),
        apr_percent: apr.to_string(),
    }))
}

/// Authorizes a purchase against the line's available limit (a ledger hold), or with
/// `"capture": true` sells it in one step (authorization and capture in one commit).
/// Declined with 422 and a reason when the limit does not cover it; nothing is stored then.
#[utoipa::path(post, path = "/v1/purchases", request_body = PurchaseRequest,
    responses((status = 201, body = PurchaseResponse), (status = 422, body = Problem), (status = 409, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn authorize(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<PurchaseRequest>,
) -> Result<(StatusCode, Json<PurchaseResponse>), ApiError> {
    let currency = req.currency()?;
    let id = idempotency_key(&headers, req.id)?;
    let new = rc::NewPurchase {
        id,
        line_id: req.credit_line_id,
        merchant_id: req.merchant_id,
        currency,
        amount_minor: req.amount_minor,
    };
    let tenant = p.write_tenant();
    let answer = if req.capture == Some(true) {
        rc::sale(&s.engine, &tenant, new).await
    } else {
        rc::authorize(&s.engine, &tenant, new).await
    };
    match answer {
        Ok((purchase, replayed)) => Ok(created(replayed, PurchaseResponse::from(&purchase))),
        Err(e) => {
            let mut err = rc_error(e);
            if let Some(d) = err.0.purchase.as_mut() {
                d.id = id;
            }
            Err(err)
        }
    }
}

#[utoipa::path(get, path = "/v1/purchases/{id}", responses((status = 200, body = PurchaseResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn get_purchase(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PurchaseResponse>, ApiError> {
    let id = path_uuid(&id, "purchase id")?;
    let purchase = rc::purchase(&s.engine, read_tenant(&p), id)
        .await
        .map_err(rc_error)?;
    Ok(Json(PurchaseResponse::from(&purchase)))
}

/// Captures an authorization, fully (no body) or partly.
#[utoipa::path(post, path = "/v1/purchases/{id}/capture", request_body = CaptureRequest,
    responses((status = 200, body = PurchaseResponse), (status = 422, body = Problem), (status = 409, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn capture(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<PurchaseResponse>, ApiError> {
    let id = path_uuid(&id, "purchase id")?;
    // The body is optional: none captures the whole authorization.
    let req: CaptureRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CaptureRequest::default()
    } else {
        crate::problem::parse_body(&body)?
    };
    let (purchase, _) = rc::capture(&s.engine, &p.write_tenant(), id, req.amount_minor)
        .await
        .map_err(rc_error)?;
    Ok(Json(PurchaseResponse::from(&purchase)))
}

/// Releases an authorization.
#[utoipa::path(post, path = "/v1/purchases/{id}/void",
    responses((status = 200, body = PurchaseResponse), (status = 409, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn void(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PurchaseResponse>, ApiError> {
    let id = path_uuid(&id, "purchase id")?;
    let (purchase, _) = rc::void(&s.engine, &p.write_tenant(), id)
        .await
        .map_err(rc_error)?;
    Ok(Json(PurchaseResponse::from(&purchase)))
}

/// Refunds part or all of a captured purchase; the limit comes back and the statement is
/// corrected.
#[utoipa::path(post, path = "/v1/purchases/{id}/refunds", request_body = RefundRequest,
    responses((status = 201, body = PurchaseResponse), (status = 422, body = Problem), (status = 409, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn refund(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<RefundRequest>,
) -> Result<(StatusCode, Json<PurchaseResponse>), ApiError> {
    let id = path_uuid(&id, "purchase id")?;
    let key = idempotency_key(&headers, req.id)?;
    let (purchase, replayed) = rc::refund(&s.engine, &p.write_tenant(), id, key, req.amount_minor)
        .await
        .map_err(rc_error)?;
    Ok(created(replayed, PurchaseResponse::from(&purchase)))
}

/// Turns a captured purchase into 3/6/12 monthly installments.
#[utoipa::path(post, path = "/v1/purchases/{id}/installments", request_body = InstallmentRequest,
    responses((status = 200, body = PurchaseResponse), (status = 422, body = Problem), (status = 409, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn convert_purchase(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    WireJson(req): WireJson<InstallmentRequest>,
) -> Result<Json<PurchaseResponse>, ApiError> {
    let id = path_uuid(&id, "purchase id")?;
    let payer = req.fee_payer()?;
    let (purchase, _) = rc::convert_purchase(&s.engine, &p.write_tenant(), id, req.months, payer)
        .await
        .map_err(rc_error)?;
    Ok(Json(PurchaseResponse::from(&purchase)))
}

/// The purchase's money, hop by hop, from the funder to the merchant's settlement: each
/// ledger entry with its postings and its Merkle inclusion proof in the signed tree.
#[utoipa::path(get, path = "/v1/purchases/{id}/trace", responses((status = 200, body = TraceResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn trace(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TraceResponse>, ApiError> {
    let id = path_uuid(&id, "purchase id")?;
    let (purchase, merchant, steps) = rc::trace(&s.engine, read_tenant(&p), id)
        .await
        .map_err(rc_error)?;
    let mut out = Vec::with_capacity(steps.len());
    for step in steps {
        let proof = s
            .engine
            .proof(step.entry_id)
            .await?
            .ok_or_else(|| internal("a traced entry has no proof"))?;
        let mut postings = Vec::with_capacity(proof.entry.postings.len());
        for posting in &proof.entry.postings {
            let acct = s.engine.account(posting.account_id).await?;
            postings.push(TracePosting {
                account_id: posting.account_id.0,
                owner: acct.as_ref().map_or_else(String::new, |a| a.owner.clone()),
                purpose: acct.map_or_else(String::new, |a| a.purpose),
                direction: match posting.direction {
                    Side::Debit => "debit",
                    Side::Credit => "credit",
                }
                .into(),
                amount_minor: posting.amount_minor,
            });
        }
        out.push(TraceStepResponse {
            step: step.step.into(),
            entry_id: step.entry_id.0,
            postings,
            proof: ProofResponse::from(&proof),
        });
    }
    Ok(Json(TraceResponse {
        purchase: PurchaseResponse::from(&purchase),
        merchant: MerchantResponse::from(&merchant),
        steps: out,
    }))
}

/// Pays the borrower back out of the line's overpayment, at most all of it; also on a
/// closed line. Posts `overpayment → borrower_cash`. Roles: operator.
#[utoipa::path(post, path = "/v1/credit-lines/{id}/refunds", request_body = LineRefundRequest,
    responses((status = 201, body = CreditLineResponse), (status = 422, body = Problem), (status = 409, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn refund_overpayment(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<LineRefundRequest>,
) -> Result<(StatusCode, Json<CreditLineResponse>), ApiError> {
    let id = path_uuid(&id, "credit line id")?;
    let key = idempotency_key(&headers, req.id)?;
    let (_, replayed) =
        rc::refund_overpayment(&s.engine, &p.write_tenant(), id, key, req.amount_minor)
            .await
            .map_err(rc_error)?;
    Ok(created(replayed, line_response(&s, &p, id).await?))
}
