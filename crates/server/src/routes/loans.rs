//! Term-loan routes: products, schedule previews, loans and their money movements.

use super::{compliance, loan_terms};
use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::path_uuid;
use crate::problem::{
    engine_error, idempotency_key, internal, not_found, problem, ApiError, WireJson,
};
use api::*;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::loans::{self, Action, Application, LoanUseError, LoanView};
use lending::loan::{AccountPurpose, LoanError};
use lending::product::Component;
use money::{BusinessDate, Money};
use serde::Deserialize;
use uuid::Uuid;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/loan-schedules/preview", post(preview_schedule))
        .route("/v1/loan-products", post(create_product))
        .route("/v1/loan-products/{id}", get(get_product))
        .route("/v1/loans", post(apply))
        .route("/v1/loans/{id}", get(get_loan))
        .route("/v1/loans/{id}/approve", post(approve))
        .route("/v1/loans/{id}/decline", post(decline))
        .route("/v1/loans/{id}/disburse", post(disburse))
        .route("/v1/loans/{id}/repayments", post(repay))
        .route(
            "/v1/loans/{id}/repayments/{rid}/reversal",
            post(reverse_repayment),
        )
        .route("/v1/loans/{id}/prepayment-quote", get(prepayment_quote))
        .route("/v1/loans/{id}/prepay", post(prepay))
        .route("/v1/loans/{id}/refunds", post(refund))
        .route("/v1/loans/{id}/recoveries", post(recover))
}

fn loan_error(e: LoanUseError) -> ApiError {
    let field = |status: u16, code: &str, field: &str, detail: String| {
        ApiError::from(Problem::new(status, code, "Request refused", detail).with_field(field))
    };
    match e {
        LoanUseError::NotFound => not_found("loan"),
        LoanUseError::Stage { .. } => problem(409, "loan_stage", "Wrong loan stage", e.to_string()),
        LoanUseError::NotOpenDay { .. } => {
            field(422, "not_open_business_day", "date", e.to_string())
        }
        LoanUseError::Refused(m) => problem(409, "refused", "Request refused", m),
        LoanUseError::KeyReused(m) => {
            problem(409, "idempotency_key_reused", "Idempotency-Key reused", m)
        }
        LoanUseError::DecisionUsed { .. } => ApiError::from(FieldError::refused(
            "decision_id",
            e.to_string(),
            "decision_used",
        )),
        LoanUseError::DayClosing => problem(
            503,
            "day_closing",
            "Close of business in progress",
            e.to_string(),
        ),
        LoanUseError::Loan(l) => {
            let detail = l.to_string();
            match l {
                LoanError::Status { .. } => {
                    problem(409, "loan_status", "Wrong loan status", detail)
                }
                LoanError::Date { .. } => field(422, "not_open_business_day", "date", detail),
                LoanError::PayeeRequired { .. } => field(422, "payee_required", "payee", detail),
                LoanError::PrepaymentNotAllowed => {
                    field(422, "prepayment_not_allowed", "kind", detail)
                }
                LoanError::RefundAboveCredit { .. } => {
                    field(422, "refund_above_credit", "amount_minor", detail)
                }
                LoanError::RecoveryAboveClaim { .. } => {
                    field(422, "recovery_above_claim", "amount_minor", detail)
                }
                LoanError::Product(_) | LoanError::Schedule(_) => {
                    problem(422, "invalid_terms", "Invalid terms", detail)
                }
                _ => field(422, "invalid_amount", "amount_minor", detail),
            }
        }
        LoanUseError::Colending(e) => crate::routes::colending::colending_error(e),
        LoanUseError::Engine(e) => engine_error(e, "", false),
        LoanUseError::Storage(e) => internal(&format!("{e:#}")),
    }
}

/// The repayment schedule and APR a loan would have; nothing is stored.
#[utoipa::path(post, path = "/v1/loan-schedules/preview", request_body = SchedulePreviewRequest,
    responses((status = 200, body = SchedulePreview), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn preview_schedule(
    _p: Principal,
    WireJson(req): WireJson<SchedulePreviewRequest>,
) -> Result<Json<SchedulePreview>, ApiError> {
    let terms = req.parse()?;
    let schedule = lending::generate(&terms)
        .map_err(|e| ApiError::from(FieldError::new("amount_minor", e.to_string())))?;
    Ok(Json(SchedulePreview::from_schedule(&schedule)))
}

/// Creates a product (no `id`) or a new version of one (`id` given). Existing versions are
/// never changed, so loans keep the terms they were signed under.
#[utoipa::path(post, path = "/v1/loan-products", request_body = LoanProductWire,
    responses((status = 201, body = LoanProductResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn create_product(
    p: Principal,
    State(s): State<AppState>,
    WireJson(mut req): WireJson<LoanProductWire>,
) -> Result<(StatusCode, Json<LoanProductResponse>), ApiError> {
    req.parse_new()?;
    let store = s.engine.store();
    let tenant = p.write_tenant();
    let (id, version) = match req.id {
        Some(id) => match store.product(id, None).await? {
            // Another tenant's product id is not this tenant's to version.
            Some(latest) if latest.tenant != tenant => {
                return Err(problem(
                    409,
                    "product_id_taken",
                    "Product id taken",
                    "this product id is in use; create the product without an id",
                ))
            }
            Some(latest) => (id, latest.version + 1),
            None => (id, 1),
        },
        None => (Uuid::now_v7(), 1),
    };
    req.id = Some(id);
    let body = serde_json::to_vec(&req).map_err(|e| internal(&e.to_string()))?;
    let row = store::ProductRow {
        id,
        version,
        tenant,
        body,
        created_at_ms: s.engine.now_ms(),
    };
    match store.insert_product(row).await {
        Ok(_) => {}
        Err(store::ProductWriteError::VersionExists { .. }) => {
            return Err(problem(
                409,
                "product_version_exists",
                "Version exists",
                "another version was created meanwhile; read the product and retry",
            ))
        }
        Err(store::ProductWriteError::Storage(e)) => return Err(e.into()),
    }
    Ok((
        StatusCode::CREATED,
        Json(LoanProductResponse {
            id,
            version: version as u32,
            product: req,
        }),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// A product version; the newest when absent.
    pub version: Option<u32>,
}

/// A product version of `tenant` (any tenant's for `*`); another tenant's is not found.
async fn load_product(
    s: &AppState,
    tenant: &str,
    id: Uuid,
    version: Option<u32>,
) -> Result<LoanProductResponse, ApiError> {
    let version = version.map(|v| v as i32);
    let row = s
        .engine
        .store()
        .product(id, version)
        .await?
        .filter(|r| tenant == "*" || r.tenant == tenant)
        .ok_or_else(|| not_found("product"))?;
    let product: LoanProductWire =
        serde_json::from_slice(&row.body).map_err(|e| internal(&format!("stored product: {e}")))?;
    Ok(LoanProductResponse {
        id,
        version: row.version as u32,
        product,
    })
}

/// A product version.
#[utoipa::path(get, path = "/v1/loan-products/{id}", params(("id" = Uuid, Path), VersionQuery),
    responses((status = 200, body = LoanProductResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn get_product(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Json<LoanProductResponse>, ApiError> {
    let id = path_uuid(&id, "product id")?;
    Ok(Json(load_product(&s, &p.tenant, id, q.version).await?))
}

/// A loan as the wire shows it. Every figure comes from the loan's state (not from its
/// ledger accounts), so a view `as_of` a past date is that date's state throughout.
pub(crate) async fn respond(s: &AppState, v: &LoanView) -> Result<LoanResponse, ApiError> {
    let l = &v.loan;
    let currency = v.currency();
    // The schedule as disbursed (or as it would be on the loan's business day): the
    // disclosure figures are those of the contract, whatever was paid since.
    let schedule = lending::SchedulePlan::new(l.config.repayment)
        .and_then(|plan| {
            plan.generate(
                l.config.principal,
                l.disbursed_on.unwrap_or(l.business_date),
            )
        })
        .map_err(|e| internal(&format!("loan {} schedule: {e}", v.row.id)))?;
    let apr = schedule.apr().ok();
    let payee = match l.disbursed_on {
        Some(_) => loans::links::payee(&s.engine, v.row.id, currency).await?,
        None => None,
    };
    let decision_id = loans::links::decision_of(&s.engine, v.row.id)
        .await?
        .and_then(|d| Uuid::parse_str(&d).ok());
    let account = |p| loans::account_id(v.row.id, &v.row.tenant, currency, p).0;
    Ok(LoanResponse {
        id: v.row.id,
        borrower: v.row.borrower.clone(),
        product_id: v.row.product_id,
        product_version: v.row.product_version as u32,
        stage: loans::stage_of(l, &v.row.stage),
        currency: v.currency().code().into(),
        principal_minor: l.config.principal.amount_minor(),
        business_date: l.business_date.to_string(),
        dpd: l.dpd,
        bucket: format!("{:?}", l.bucket()),
        classification: format!("{:?}", l.classification()),
        principal_outstanding_minor: l.principal_outstanding_minor(),
        interest_receivable_minor: l.outstanding_minor(Component::Interest),
        interest_accrued_minor: l.interest_accrued_unbilled_minor(),
        billed_outstanding_minor: [
            Component::Penalty,
            Component::Fee,
            Component::Interest,
            Component::Principal,
        ]
        .iter()
        .map(|c| l.outstanding_minor(*c))
        .sum(),
        overpayment_credit_minor: l.overpayment_credit_minor,
        written_off_claim_minor: [
            Component::Principal,
            Component::Interest,
            Component::Fee,
            Component::Penalty,
        ]
        .iter()
        .map(|c| l.written_off.get(*c))
        .sum(),
        contract_rate: format_rate(l.config.repayment.rate),
        apr_percent: apr.map(|a| format!("{:.2}", a.percent)),
        apr_unit_period: apr.map(|a| a.unit_period.to_string()),
        origination_fee_minor: schedule.total_fee_minor,
        net_disbursed_minor: schedule.amount_financed().amount_minor(),
        payee,
        decision_id,
        accounts: LoanAccounts {
            principal_receivable: account(AccountPurpose::PrincipalReceivable),
            interest_receivable: account(AccountPurpose::InterestReceivable),
            fee_receivable: account(AccountPurpose::FeeReceivable),
            penalty_receivable: account(AccountPurpose::PenaltyReceivable),
            overpayment_liability: account(AccountPurpose::Overpayment),
        },
        installments: loan_installments(l),
        funding: None,
        guarantor: None,
        first_loss: None,
    })
}

fn status(replayed: bool) -> StatusCode {
    if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
}

/// Applies for a loan under a product version; no money moves until disbursement.
#[utoipa::path(post, path = "/v1/loans", request_body = LoanApplicationRequest,
    responses((status = 201, body = LoanResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn apply(
    p: Principal,
    State(s): State<AppState>,
    WireJson(req): WireJson<LoanApplicationRequest>,
) -> Result<(StatusCode, Json<LoanResponse>), ApiError> {
    // The loan's tenant: a product is lent under in its own tenant only.
    let tenant = p.write_tenant();
    let product = load_product(&s, &tenant, req.product_id, req.product_version)
        .await
        .map_err(|_| ApiError::from(FieldError::new("product_id", "no such product (version)")))?;
    let parsed = product.product.parse()?;
    if req.borrower.trim().is_empty() || req.borrower.len() > 128 {
        return Err(FieldError::new("borrower", "must be 1 to 128 bytes").into());
    }
    let amount = Money::from_minor(req.amount_minor, parsed.product.currency);
    parsed
        .product
        .check_amount(amount)
        .map_err(|e| FieldError::new("amount_minor", e.reason))?;
    parsed
        .product
        .repayment_terms(req.term_months)
        .map_err(|e| FieldError::new("term_months", e.reason))?;
    let id = req.id.unwrap_or_else(Uuid::now_v7);
    // A retry of a stored application is answered with the loan as stored (or refused if
    // its terms differ), whatever day it comes on: the cap was checked when it was made.
    let open = match s.engine.store().loan(id).await? {
        Some(_) => None,
        None => loans::business_date(&s.engine).await?,
    };
    let priced =
        loan_terms::price(&s, &req, id, &parsed.product, parsed.write_off_dpd, open).await?;
    // Held until the loan is written, so that a second application of the borrower is
    // checked against this one.
    let _exposure = match open {
        Some(day) => {
            let guard = s.exposure_locks.lock(&tenant, &req.borrower).await;
            compliance::check_application(&s, &tenant, day, id, &req, &priced.config).await?;
            Some(guard)
        }
        None => None,
    };
    let (view, replayed) = loans::apply_for_loan(
        &s.engine,
        Application {
            id,
            tenant,
            borrower: req.borrower,
            product_id: req.product_id,
            product_version: product.version as i32,
            config: priced.config,
            decision_id: priced.decision_id,
        },
    )
    .await
    .map_err(loan_error)?;
    Ok((status(replayed), Json(respond(&s, &view).await?)))
}

async fn loan_for(p: &Principal, s: &AppState, raw: &str) -> Result<LoanView, ApiError> {
    let id = path_uuid(raw, "loan id")?;
    let view = loans::load(&s.engine, id).await.map_err(loan_error)?;
    p.require_tenant(&view.row.tenant)
        .map_err(|_| not_found("loan"))?;
    Ok(view)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    /// A business date (YYYY-MM-DD) up to the open day; the state is rebuilt as of then.
    pub as_of: Option<String>,
}

/// A loan now, or as of a past business date.
#[utoipa::path(get, path = "/v1/loans/{id}", params(("id" = Uuid, Path), AsOfQuery),
    responses((status = 200, body = LoanResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn get_loan(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<AsOfQuery>,
) -> Result<Json<LoanResponse>, ApiError> {
    let view = loan_for(&p, &s, &id).await?;
    let current = q.as_of.is_none();
    let view = match q.as_of {
        None => view,
        Some(d) => {
            let as_of = parse_date("as_of", &d)?;
            loans::state_as_of(&s.engine, view.row.id, as_of)
                .await
                .map_err(|e| match e {
                    LoanUseError::Refused(m) => ApiError::from(FieldError::new("as_of", m)),
                    other => loan_error(other),
                })?
        }
    };
    let mut out = respond(&s, &view).await?;
    // Co-lending hook: the funders' positions (kept as of the loan's last command).
    if current {
        (out.funding, out.guarantor, out.first_loss) =
            crate::routes::colending::loan_funding(&s, view.row.id).await?;
    }
    Ok(Json(out))
}

async fn decision(
    p: Principal,
    s: AppState,
    id: String,
    approve: bool,
) -> Result<Json<LoanResponse>, ApiError> {
    let view = loan_for(&p, &s, &id).await?;
    let view = loans::decide(&s.engine, view.row.id, approve)
        .await
        .map_err(loan_error)?;
    Ok(Json(respond(&s, &view).await?))
}

/// Approves an application.
#[utoipa::path(post, path = "/v1/loans/{id}/approve", params(("id" = Uuid, Path)),
    responses((status = 200, body = LoanResponse), (status = 409, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn approve(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LoanResponse>, ApiError> {
    decision(p, s, id, true).await
}

/// Declines an application.
#[utoipa::path(post, path = "/v1/loans/{id}/decline", params(("id" = Uuid, Path)),
    responses((status = 200, body = LoanResponse), (status = 409, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn decline(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LoanResponse>, ApiError> {
    decision(p, s, id, false).await
}

async fn open_day(s: &AppState) -> Result<BusinessDate, ApiError> {
    loans::business_date(&s.engine).await?.ok_or_else(|| {
        problem(
            409,
            "no_business_day",
            "No business day",
            "no business date is open; `puhui serve` opens one on a new store \
             (--business-date, default today UTC), or run `puhui cob --start DATE`",
        )
    })
}

async fn act(
    p: &Principal,
    s: &AppState,
    id: &str,
    headers: &HeaderMap,
    action: Action,
    date: BusinessDate,
) -> Result<(StatusCode, LoanView, Uuid), ApiError> {
    let key = idempotency_key(headers, None)?;
    let view = loan_for(p, s, id).await?;
    let (after, replayed) = loans::execute(&s.engine, view.row.id, action, date, key)
        .await
        .map_err(loan_error)?;
    Ok((status(replayed), after, key))
}

/// Runs a command whose request names no date on the open business day. Close of business
/// may open the next day between reading the day and the command's turn at the loan; the
/// client asked for "today", not for a date, so the command is tried again on the new day
/// rather than refused for a date it never sent.
async fn execute_today(
    s: &AppState,
    loan_id: Uuid,
    action: impl Fn() -> Action,
    key: Uuid,
) -> Result<(LoanView, bool), ApiError> {
    let mut attempts = 0;
    loop {
        let today = open_day(s).await?;
        match loans::execute(&s.engine, loan_id, action(), today, key).await {
            Err(LoanUseError::NotOpenDay { .. }) if attempts < 3 => attempts += 1,
            other => return other.map_err(loan_error),
        }
    }
}

/// Pays the loan out, to the borrower or (entrusted payment) to a named payee.
#[utoipa::path(post, path = "/v1/loans/{id}/disburse", params(("id" = Uuid, Path)), request_body = DisburseRequest,
    responses((status = 201, body = LoanResponse), (status = 409, body = Problem), (status = 503, body = Problem, description = "close of business is part-way through the day"), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn disburse(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<DisburseRequest>,
) -> Result<(StatusCode, Json<LoanResponse>), ApiError> {
    if let Some(payee) = &req.payee {
        if payee.trim().is_empty() || payee.len() > 128 {
            return Err(FieldError::new("payee", "must be 1 to 128 bytes").into());
        }
    }
    let today = open_day(&s).await?;
    let key = idempotency_key(&headers, None)?;
    let before = loan_for(&p, &s, &id).await?;
    if before.row.stage == "approved" {
        // The cap with the loan's own dates: a product's worst case is computed with whole
        // months, and a short first period can cost more than the product let on.
        let product = load_product(
            &s,
            &before.row.tenant,
            before.row.product_id,
            Some(before.row.product_version as u32),
        )
        .await?
        .product
        .parse()?
        .product;
        let config = &before.loan.config;
        loan_terms::check_cap(
            &config.repayment,
            config.principal,
            today,
            product.rate_cap,
            "date",
        )?;
    }
    let payee = req.payee;
    let disburse = || Action::Disburse {
        payee: payee.clone(),
    };
    let (view, replayed) = execute_today(&s, before.row.id, disburse, key).await?;
    Ok((status(replayed), Json(respond(&s, &view).await?)))
}

fn amount(amount_minor: i64, currency: &str, loan: &LoanView) -> Result<Money, ApiError> {
    if amount_minor <= 0 {
        return Err(FieldError::new("amount_minor", "must be positive").into());
    }
    amount_or_zero(amount_minor, currency, loan)
}

/// An amount that may be zero: a full prepayment the overpayment credit covers.
fn amount_or_zero(amount_minor: i64, currency: &str, loan: &LoanView) -> Result<Money, ApiError> {
    let c: money::Currency = currency
        .parse()
        .map_err(|_| FieldError::new("currency", "unknown currency"))?;
    if c != loan.currency() {
        return Err(FieldError::new(
            "currency",
            format!("the loan is in {}", loan.currency().code()),
        )
        .into());
    }
    if amount_minor < 0 {
        return Err(FieldError::new("amount_minor", "must not be negative").into());
    }
    Ok(Money::from_minor(amount_minor, c))
}

/// Repays any amount on the open business day; it settles billed amounts in the contract's
/// order and anything beyond becomes a refundable credit.
#[utoipa::path(post, path = "/v1/loans/{id}/repayments", params(("id" = Uuid, Path)), request_body = RepaymentRequest,
    responses((status = 201, body = RepaymentResponse), (status = 409, body = Problem), (status = 503, body = Problem, description = "close of business is part-way through the day"), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn repay(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<RepaymentRequest>,
) -> Result<(StatusCode, Json<RepaymentResponse>), ApiError> {
    let loan = loan_for(&p, &s, &id).await?;
    let money = amount(req.amount_minor, &req.currency, &loan)?;
    let date = parse_date("date", &req.date)?;
    let (code, view, key) =
        act(&p, &s, &id, &headers, Action::Repay { amount: money }, date).await?;
    let seq = loans::event_seq_for_key(&s.engine, view.row.id, key)
        .await
        .map_err(loan_error)?;
    Ok((
        code,
        Json(RepaymentResponse {
            repayment_id: seq,
            loan: respond(&s, &view).await?,
        }),
    ))
}

/// Reverses a repayment and recomputes everything after it.
#[utoipa::path(post, path = "/v1/loans/{id}/repayments/{rid}/reversal", params(("id" = Uuid, Path), ("rid" = i32, Path)),
    responses((status = 201, body = LoanResponse), (status = 409, body = Problem), (status = 503, body = Problem, description = "close of business is part-way through the day")),
    security(("api_key" = [])), tag = "loans")]
pub async fn reverse_repayment(
    p: Principal,
    State(s): State<AppState>,
    Path((id, rid)): Path<(String, i32)>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<LoanResponse>), ApiError> {
    let key = idempotency_key(&headers, None)?;
    let loan = loan_for(&p, &s, &id).await?;
    let (view, replayed) = loans::reverse_repayment(&s.engine, loan.row.id, rid, key)
        .await
        .map_err(loan_error)?;
    Ok((status(replayed), Json(respond(&s, &view).await?)))
}

/// What paying the loan off today costs.
#[utoipa::path(get, path = "/v1/loans/{id}/prepayment-quote", params(("id" = Uuid, Path)),
    responses((status = 200, body = PrepaymentQuote), (status = 409, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn prepayment_quote(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PrepaymentQuote>, ApiError> {
    let view = loan_for(&p, &s, &id).await?;
    let payoff = lending::loan::payoff_minor(&view.loan).map_err(|e| loan_error(e.into()))?;
    Ok(Json(PrepaymentQuote {
        loan_id: view.row.id,
        business_date: view.loan.business_date.to_string(),
        payoff_minor: payoff,
        currency: view.currency().code().into(),
    }))
}

/// Prepays in full (at least the quote, which is net of the overpayment credit: zero when
/// the credit covers it; any excess becomes a credit) or in part (the credit is not used).
/// Answers like a repayment: the prepayment's id and the loan.
#[utoipa::path(post, path = "/v1/loans/{id}/prepay", params(("id" = Uuid, Path)), request_body = PrepayRequest,
    responses((status = 201, body = RepaymentResponse), (status = 409, body = Problem), (status = 503, body = Problem, description = "close of business is part-way through the day"), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn prepay(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<PrepayRequest>,
) -> Result<(StatusCode, Json<RepaymentResponse>), ApiError> {
    let loan = loan_for(&p, &s, &id).await?;
    let full = match req.kind.as_deref() {
        None | Some("full") => true,
        Some("partial") => false,
        Some(_) => return Err(FieldError::new("kind", "must be full or partial").into()),
    };
    let money = match full {
        true => amount_or_zero(req.amount_minor, &req.currency, &loan)?,
        false => amount(req.amount_minor, &req.currency, &loan)?,
    };
    let date = parse_date("date", &req.date)?;
    let action = match full {
        true => Action::PrepayFull { amount: money },
        false => Action::PrepayPartial { amount: money },
    };
    let (code, view, key) = act(&p, &s, &id, &headers, action, date).await?;
    let seq = loans::event_seq_for_key(&s.engine, view.row.id, key)
        .await
        .map_err(loan_error)?;
    Ok((
        code,
        Json(RepaymentResponse {
            repayment_id: seq,
            loan: respond(&s, &view).await?,
        }),
    ))
}

/// Pays the borrower back out of the loan's overpayment credit, at most the credit; also
/// after the loan is paid off or written off. Posts `overpayment_liability → cash_clearing`.
#[utoipa::path(post, path = "/v1/loans/{id}/refunds", params(("id" = Uuid, Path)), request_body = LoanRefundRequest,
    responses((status = 201, body = LoanRefundResponse), (status = 200, body = LoanRefundResponse, description = "a retry with the same Idempotency-Key and body"), (status = 409, body = Problem), (status = 503, body = Problem, description = "close of business is part-way through the day"), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn refund(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<LoanRefundRequest>,
) -> Result<(StatusCode, Json<LoanRefundResponse>), ApiError> {
    let cash = (req.id, req.amount_minor, req.currency.as_str());
    let (code, key, seq, loan) = move_cash_today(&p, &s, &id, &headers, cash, |amount| {
        Action::Refund { amount }
    })
    .await?;
    let body = LoanRefundResponse {
        id: key,
        refund_id: seq,
        loan,
    };
    Ok((code, Json(body)))
}

/// A request that moves `(id, amount_minor, currency)` of cash on the open business day
/// (a refund, a recovery): the answer's status, key, the command's event and the loan.
async fn move_cash_today(
    p: &Principal,
    s: &AppState,
    id: &str,
    headers: &HeaderMap,
    (req_id, amount_minor, currency): (Option<Uuid>, i64, &str),
    action: impl Fn(Money) -> Action,
) -> Result<(StatusCode, Uuid, i32, LoanResponse), ApiError> {
    let loan = loan_for(p, s, id).await?;
    let money = amount(amount_minor, currency, &loan)?;
    let key = idempotency_key(headers, req_id)?;
    let (view, replayed) = execute_today(s, loan.row.id, || action(money), key).await?;
    let seq = loans::event_seq_for_key(&s.engine, view.row.id, key)
        .await
        .map_err(loan_error)?;
    Ok((status(replayed), key, seq, respond(s, &view).await?))
}

/// Books cash recovered on a written-off loan, at most what was written off and not yet
/// recovered; on the open business day. Posts `cash_clearing → recovery_income`; a co-lent
/// loan's funders get their part of it as they would a repayment (docs/co-lending.md), and
/// a pooled loan's sold share goes to its deal's next period as recoveries.
#[utoipa::path(post, path = "/v1/loans/{id}/recoveries", params(("id" = Uuid, Path)), request_body = LoanRecoveryRequest,
    responses((status = 201, body = LoanRecoveryResponse), (status = 200, body = LoanRecoveryResponse, description = "a retry with the same Idempotency-Key and body"), (status = 409, body = Problem), (status = 503, body = Problem, description = "close of business is part-way through the day"), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn recover(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<LoanRecoveryRequest>,
) -> Result<(StatusCode, Json<LoanRecoveryResponse>), ApiError> {
    let cash = (req.id, req.amount_minor, req.currency.as_str());
    let (code, key, seq, loan) = move_cash_today(&p, &s, &id, &headers, cash, |amount| {
        Action::Recover { amount }
    })
    .await?;
    let body = LoanRecoveryResponse {
        id: key,
        recovery_id: seq,
        loan,
    };
    Ok((code, Json(body)))
}
