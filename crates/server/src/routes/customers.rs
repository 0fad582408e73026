//! Customer routes: registering individuals and enterprises with their personal data
//! sealed, reading them masked (or, for an operator with a reason, in plaintext, audited),
//! finding one by identity number through its blind index, and a customer's exposure.

use crate::app::AppState;
use crate::auth::{PartyKind, Principal, Role};
use crate::problem::{engine_error, idempotency_key, not_found, path_uuid, ApiError, WireJson};
use crate::routes::page;
use api::FieldError;
use api::*;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use engine::customers::{self as cu, CustomerError};
use engine::revolving as rc;
use store::DocFilter;
use uuid::Uuid;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/customers", get(list_customers).post(create_customer))
        .route("/v1/customers/{id}", get(get_customer))
        .route("/v1/customers/{id}/exposure", get(customer_exposure))
}

fn read_tenant(p: &Principal) -> &str {
    if p.tenant == "*" {
        "*"
    } else {
        &p.tenant
    }
}

pub fn customer_error(e: CustomerError) -> ApiError {
    match e {
        CustomerError::NotFound => not_found("customer"),
        CustomerError::Invalid { field, message } => FieldError::new(field, message).into(),
        CustomerError::Duplicate { field, existing } => Problem::new(
            409,
            "duplicate_customer",
            "Request refused; nothing changed",
            format!("another customer of this tenant ({existing}) has this {field}"),
        )
        .with_field(field)
        .into(),
        CustomerError::Conflict { code, message } => {
            Problem::new(409, code, "Request refused; nothing changed", message).into()
        }
        CustomerError::Engine(e) => engine_error(e, "", false),
        CustomerError::Storage(e) => e.into(),
    }
}

/// Registers an individual (identity number checked by GB 11643) or an enterprise
/// (credit code checked by GB 32100). Name, identity number, phone and bank card are
/// sealed before they are stored; a second customer with the same identity number or
/// credit code is refused (409).
#[utoipa::path(post, path = "/v1/customers", request_body = CustomerRequest,
    responses((status = 201, body = CustomerResponse), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "customers")]
pub async fn create_customer(
    p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<CustomerRequest>,
) -> Result<(StatusCode, Json<CustomerResponse>), ApiError> {
    let new = req.parse()?;
    let id = idempotency_key(&headers, req.id)?;
    let vault = s.customers.vault();
    let (doc, replayed) = cu::create_customer(&s.engine, vault, &p.write_tenant(), id, new)
        .await
        .map_err(customer_error)?;
    let view = cu::open_customer(&s.engine, vault, doc)
        .await
        .map_err(customer_error)?;
    let status = if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(CustomerResponse::of(&view, false))))
}

/// A customer, personal data masked. With `reveal=true` and a `reason`, an operator key
/// not bound to a party reads it in plaintext; the read is recorded (who, when, why)
/// before it is answered.
#[utoipa::path(get, path = "/v1/customers/{id}", params(RevealQuery),
    responses((status = 200, body = CustomerResponse), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "customers")]
pub async fn get_customer(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<RevealQuery>,
) -> Result<Json<CustomerResponse>, ApiError> {
    let id = path_uuid(&id, "customer id")?;
    let reveal = q.reveal.unwrap_or(false);
    if !reveal && q.reason.is_some() {
        return Err(FieldError::new("reason", "a reason goes with reveal=true").into());
    }
    if reveal && (p.role != Role::Operator || p.is_bound()) {
        return Err(Problem::new(
            403,
            "reveal_forbidden",
            "Forbidden",
            "only an operator key not bound to a party may read personal data in plaintext",
        )
        .with_field("reveal")
        .into());
    }
    let doc = cu::customer_doc(&s.engine, read_tenant(&p), id)
        .await
        .map_err(customer_error)?;
    if reveal {
        let reason = q.reason.as_deref().unwrap_or("");
        cu::record_reveal(
            &s.engine,
            &doc.tenant,
            id,
            p.key_id,
            p.role.as_str(),
            reason,
        )
        .await
        .map_err(customer_error)?;
        s.audit
            .pii_read(&p, &doc.tenant, id, reason, s.engine.now_ms())
            .await?;
    }
    let view = cu::open_customer(&s.engine, s.customers.vault(), doc)
        .await
        .map_err(customer_error)?;
    Ok(Json(CustomerResponse::of(&view, reveal)))
}

/// Customers, oldest first, masked; `id_number` finds the one with that identity number
/// by its blind index (in the key's tenant, `default` for keys of every tenant). A
/// borrower's key lists itself.
#[utoipa::path(get, path = "/v1/customers", params(CustomerListQuery),
    responses((status = 200, body = CustomerPage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "customers")]
pub async fn list_customers(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<CustomerListQuery>,
) -> Result<Json<CustomerPage>, ApiError> {
    let limit = page::limit(q.limit)?;
    let vault = s.customers.vault();
    let mut docs = Vec::new();
    let mut next_cursor = None;
    let own = match (&p.party, p.is_bound()) {
        (_, false) => None,
        (Some(party), true) if party.kind == PartyKind::Borrower => {
            Some(Uuid::parse_str(&party.id).ok())
        }
        (_, true) => Some(None),
    };
    if let Some(raw) = q.id_number.as_deref() {
        if let Some(doc) = cu::find_by_id_number(&s.engine, vault, &p.write_tenant(), raw)
            .await
            .map_err(|e| match e {
                CustomerError::Invalid { message, .. } => {
                    FieldError::new("id_number", message).into()
                }
                e => customer_error(e),
            })?
        {
            docs.push(doc);
        }
    } else if own.is_none() {
        let (id_from, id_to) =
            page::created_range(q.created_from.as_deref(), q.created_to.as_deref())?;
        let rows = s
            .engine
            .store()
            .docs_page(DocFilter {
                kind: rc::BORROWER.into(),
                tenant: (p.tenant != "*").then(|| p.tenant.clone()),
                parent: None,
                id_from,
                id_to,
                after: q.cursor.as_deref().map(page::decode_uuid).transpose()?,
                limit,
            })
            .await?;
        next_cursor = page::next(&rows, limit, |r| page::encode(r.id.as_bytes()));
        for r in &rows {
            docs.push(cu::decode(r)?);
        }
    } else if let Some(Some(id)) = own {
        if let Ok(doc) = cu::customer_doc(&s.engine, &p.tenant, id).await {
            docs.push(doc);
        }
    }
    if let Some(own) = own {
        docs.retain(|d| Some(d.id) == own);
    }
    let mut items = Vec::with_capacity(docs.len());
    for doc in docs {
        let view = cu::open_customer(&s.engine, vault, doc)
            .await
            .map_err(customer_error)?;
        items.push(CustomerResponse::of(&view, false));
    }
    Ok(Json(CustomerPage { items, next_cursor }))
}

/// What the customer owes and may draw: each term loan's outstanding principal (a co-lent
/// loan's by funder) and each credit line's limit and principal, with totals by currency.
#[utoipa::path(get, path = "/v1/customers/{id}/exposure",
    responses((status = 200, body = ExposureResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "customers")]
pub async fn customer_exposure(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ExposureResponse>, ApiError> {
    let id = path_uuid(&id, "customer id")?;
    let doc = cu::customer_doc(&s.engine, read_tenant(&p), id)
        .await
        .map_err(customer_error)?;
    let e = cu::exposure(&s.engine, &doc.tenant, id)
        .await
        .map_err(customer_error)?;
    Ok(Json(ExposureResponse::of(id, &e)))
}
