//! The collections: loans, borrowers, credit lines, purchases, ledger entries and a loan's
//! entries, each read from SQL in index order after a cursor, `limit` rows at a time. A key
//! bound to a party lists its own party's objects only.

use crate::app::AppState;
use crate::auth::{list_party, PartyKind, Principal};
use crate::problem::{not_found, path_uuid, ApiError};
use crate::routes::page::{self, bad_query};
use api::*;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use engine::loans;
use engine::revolving as rc;
use lending::loan::DelinquencyBucket;
use serde::Deserialize;
use std::collections::HashMap;
use store::{DocFilter, LoanFilter};
use uuid::Uuid;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/loans", get(list_loans))
        .route("/v1/loans/{id}/entries", get(loan_entries))
        .route("/v1/borrowers", get(list_borrowers))
        .route("/v1/credit-lines", get(list_lines))
        .route("/v1/purchases", get(list_purchases))
        .route("/v1/ledger/entries", get(list_ledger_entries))
}

/// Loan stages a list may filter by.
pub const LOAN_STATUSES: [&str; 6] = [
    "applied",
    "approved",
    "declined",
    "active",
    "paid_off",
    "written_off",
];

/// The tenant a list reads: every tenant's for `*` keys.
fn list_tenant(p: &Principal) -> Option<String> {
    (p.tenant != "*").then(|| p.tenant.clone())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LoanListQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<u32>,
    /// applied, approved, declined, active, paid_off or written_off.
    pub status: Option<String>,
    /// The borrower reference given at application.
    pub borrower: Option<String>,
    pub product_id: Option<String>,
    /// Applied on or after this date (YYYY-MM-DD, UTC).
    pub created_from: Option<String>,
    /// Applied on or before this date (YYYY-MM-DD, UTC).
    pub created_to: Option<String>,
    /// Delinquency bucket by days past due: M0 (current), M1 (1–30), M2 (31–60), M3 (61–90)
    /// or M4Plus (over 90), as the loan's `bucket` shows it.
    pub dpd_bucket: Option<String>,
}

/// Delinquency buckets a list may filter by, as `bucket` names them.
pub const DPD_BUCKETS: [&str; 5] = ["M0", "M1", "M2", "M3", "M4Plus"];

/// The days-past-due range of a bucket named in a query.
fn dpd_range(bucket: Option<&str>) -> Result<(Option<i32>, Option<i32>), ApiError> {
    let Some(name) = bucket else {
        return Ok((None, None));
    };
    let b = DelinquencyBucket::ALL
        .into_iter()
        .find(|b| format!("{b:?}") == name)
        .ok_or_else(|| bad_query("dpd_bucket", format!("must be one of {DPD_BUCKETS:?}")))?;
    let (min, max) = b.dpd_range();
    let day = |d: u32| i32::try_from(d).unwrap_or(i32::MAX);
    Ok((Some(day(min)), max.map(day)))
}

/// Loans, oldest application first.
#[utoipa::path(get, path = "/v1/loans", params(LoanListQuery),
    responses((status = 200, body = LoanPage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn list_loans(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<LoanListQuery>,
) -> Result<Json<LoanPage>, ApiError> {
    let limit = page::limit(q.limit)?;
    if let Some(st) = &q.status {
        if !LOAN_STATUSES.contains(&st.as_str()) {
            return Err(bad_query(
                "status",
                format!("must be one of {LOAN_STATUSES:?}"),
            ));
        }
    }
    let mut borrower = q.borrower;
    if let Some(party) = list_party(&p, &[PartyKind::Borrower])? {
        if borrower.as_ref().is_some_and(|b| *b != party.id) {
            return Err(bad_query(
                "borrower",
                "this key lists its own borrower's loans only",
            ));
        }
        borrower = Some(party.id);
    }
    let (id_from, id_to) = page::created_range(q.created_from.as_deref(), q.created_to.as_deref())?;
    let (dpd_min, dpd_max) = dpd_range(q.dpd_bucket.as_deref())?;
    let filter = LoanFilter {
        tenant: list_tenant(&p),
        stage: q.status,
        borrower,
        product_id: page::parse_uuid("product_id", q.product_id.as_deref())?,
        dpd_min,
        dpd_max,
        id_from,
        id_to,
        after: q.cursor.as_deref().map(page::decode_uuid).transpose()?,
        limit,
    };
    let rows = s.engine.store().loans_page(filter).await?;
    let next_cursor = page::next(&rows, limit, |r| page::encode(r.id.as_bytes()));
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        // Loaded as a single loan is, so a quiet loan shows today's accrual.
        let view = loans::load(&s.engine, row.id)
            .await
            .map_err(|e| crate::problem::internal(&e.to_string()))?;
        items.push(crate::routes::loans::respond(&s, &view).await?);
    }
    Ok(Json(LoanPage { items, next_cursor }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SeqPageQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<u32>,
}

/// The ledger entries of a loan (its receivable and credit accounts), oldest first.
#[utoipa::path(get, path = "/v1/loans/{id}/entries", params(("id" = Uuid, Path), SeqPageQuery),
    responses((status = 200, body = LoanEntryPage), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "loans")]
pub async fn loan_entries(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SeqPageQuery>,
) -> Result<Json<LoanEntryPage>, ApiError> {
    let limit = page::limit(q.limit)?;
    let after = q.cursor.as_deref().map(page::decode_seq).transpose()?;
    let id = path_uuid(&id, "loan id")?;
    let row = s
        .engine
        .store()
        .loan(id)
        .await?
        .filter(|r| p.sees_tenant(&r.tenant))
        .ok_or_else(|| not_found("loan"))?;
    let view = loans::load(&s.engine, row.id)
        .await
        .map_err(|e| crate::problem::internal(&e.to_string()))?;
    let purposes = loans::RECEIVABLES
        .into_iter()
        .chain([lending::loan::AccountPurpose::Overpayment]);
    // Each account's entries come in sequence order; merging the first `limit` of each
    // gives the loan's first `limit` after the cursor.
    let mut merged: HashMap<u64, ledger::EntryRecord> = HashMap::new();
    for purpose in purposes {
        let account = loans::account_id(row.id, &row.tenant, view.currency(), purpose);
        for e in s
            .engine
            .store()
            .entries_by_account(account, after, limit)
            .await?
        {
            merged.insert(e.seq, e);
        }
    }
    let mut items: Vec<_> = merged.into_values().collect();
    items.sort_by_key(|e| e.seq);
    items.truncate(limit as usize);
    let next_cursor = page::next(&items, limit, |e| page::encode(&e.seq.to_be_bytes()));
    Ok(Json(LoanEntryPage {
        items: items.iter().map(EntryResponse::from).collect(),
        next_cursor,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DocListQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<u32>,
    /// Created on or after this date (YYYY-MM-DD, UTC).
    pub created_from: Option<String>,
    /// Created on or before this date (YYYY-MM-DD, UTC).
    pub created_to: Option<String>,
    /// Credit lines: of this borrower. Purchases: on this credit line.
    pub parent_id: Option<String>,
}

fn doc_filter(
    p: &Principal,
    kind: &str,
    q: &DocListQuery,
    limit: u32,
) -> Result<DocFilter, ApiError> {
    let (id_from, id_to) = page::created_range(q.created_from.as_deref(), q.created_to.as_deref())?;
    Ok(DocFilter {
        kind: kind.into(),
        tenant: list_tenant(p),
        parent: page::parse_uuid("parent_id", q.parent_id.as_deref())?,
        id_from,
        id_to,
        after: q.cursor.as_deref().map(page::decode_uuid).transpose()?,
        limit,
    })
}

fn decode<T: serde::de::DeserializeOwned>(row: &store::DocRow) -> Result<T, ApiError> {
    serde_json::from_slice(&row.body)
        .map_err(|e| crate::problem::internal(&format!("stored {} {}: {e}", row.kind, row.id)))
}

/// Borrowers, oldest first. A borrower's key lists itself.
#[utoipa::path(get, path = "/v1/borrowers", params(DocListQuery),
    responses((status = 200, body = BorrowerPage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn list_borrowers(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<DocListQuery>,
) -> Result<Json<BorrowerPage>, ApiError> {
    let limit = page::limit(q.limit)?;
    if q.parent_id.is_some() {
        // The parameter is shared with the lists that have parents: well-formed, but not
        // one this list can apply (422, not a malformed query).
        return Err(api::FieldError::new("parent_id", "borrowers have no parent").into());
    }
    if let Some(party) = list_party(&p, &[PartyKind::Borrower])? {
        let own = Uuid::parse_str(&party.id).ok();
        let b = match own {
            Some(id) => rc::borrower(&s.engine, &p.tenant, id).await.ok(),
            None => None,
        };
        return Ok(Json(BorrowerPage {
            items: b.iter().map(BorrowerResponse::from).collect(),
            next_cursor: None,
        }));
    }
    let rows = s
        .engine
        .store()
        .docs_page(doc_filter(&p, rc::BORROWER, &q, limit)?)
        .await?;
    let next_cursor = page::next(&rows, limit, |r| page::encode(r.id.as_bytes()));
    let items = rows
        .iter()
        .map(|r| decode::<rc::Borrower>(r).map(|b| BorrowerResponse::from(&b)))
        .collect::<Result<_, _>>()?;
    Ok(Json(BorrowerPage { items, next_cursor }))
}

/// Credit lines, oldest first; `parent_id` picks a borrower's. A borrower's key lists its own.
#[utoipa::path(get, path = "/v1/credit-lines", params(DocListQuery),
    responses((status = 200, body = CreditLinePage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn list_lines(
    p: Principal,
    State(s): State<AppState>,
    Query(mut q): Query<DocListQuery>,
) -> Result<Json<CreditLinePage>, ApiError> {
    let limit = page::limit(q.limit)?;
    if let Some(party) = list_party(&p, &[PartyKind::Borrower])? {
        if q.parent_id.as_ref().is_some_and(|b| *b != party.id) {
            return Err(bad_query(
                "parent_id",
                "this key lists its own borrower's lines only",
            ));
        }
        q.parent_id = Some(party.id);
    }
    let rows = s
        .engine
        .store()
        .docs_page(doc_filter(&p, rc::LINE, &q, limit)?)
        .await?;
    let next_cursor = page::next(&rows, limit, |r| page::encode(r.id.as_bytes()));
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let v = rc::line(&s.engine, &r.tenant, r.id)
            .await
            .map_err(|e| crate::problem::internal(&e.to_string()))?;
        items.push(CreditLineResponse::from(&v));
    }
    Ok(Json(CreditLinePage { items, next_cursor }))
}

/// Purchases, oldest first; `parent_id` picks a credit line's. A merchant's key lists its
/// own (a page may then hold fewer than `limit`; follow `next_cursor`); a borrower's key
/// must name one of its lines.
#[utoipa::path(get, path = "/v1/purchases", params(DocListQuery),
    responses((status = 200, body = PurchasePage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "revolving")]
pub async fn list_purchases(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<DocListQuery>,
) -> Result<Json<PurchasePage>, ApiError> {
    let limit = page::limit(q.limit)?;
    let party = list_party(&p, &[PartyKind::Borrower, PartyKind::Merchant])?;
    let filter = doc_filter(&p, rc::PURCHASE, &q, limit)?;
    if let Some(party) = party.as_ref().filter(|x| x.kind == PartyKind::Borrower) {
        let line = filter
            .parent
            .ok_or_else(|| bad_query("parent_id", "name one of your credit lines"))?;
        let own = rc::line(&s.engine, &p.tenant, line)
            .await
            .is_ok_and(|v| v.doc.borrower_id.to_string() == party.id);
        if !own {
            return Err(bad_query("parent_id", "not one of your credit lines"));
        }
    }
    let rows = s.engine.store().docs_page(filter).await?;
    let next_cursor = page::next(&rows, limit, |r| page::encode(r.id.as_bytes()));
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let purchase: rc::Purchase = decode(r)?;
        let visible = match &party {
            Some(x) if x.kind == PartyKind::Merchant => purchase.merchant_id.to_string() == x.id,
            _ => true,
        };
        if visible {
            items.push(PurchaseResponse::from(&purchase));
        }
    }
    Ok(Json(PurchasePage { items, next_cursor }))
}

/// Every ledger entry in sequence (Merkle leaf) order. A tenant's key sees the entries
/// that post to its tenant's accounts (a page may then hold fewer than `limit`).
#[utoipa::path(get, path = "/v1/ledger/entries", params(SeqPageQuery),
    responses((status = 200, body = EntryPage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "ledger")]
pub async fn list_ledger_entries(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<SeqPageQuery>,
) -> Result<Json<EntryPage>, ApiError> {
    let limit = page::limit(q.limit)?;
    let from = match q.cursor.as_deref().map(page::decode_seq).transpose()? {
        Some(seq) => seq + 1,
        None => 0,
    };
    let rows = s.engine.store().entries_range(from, limit).await?;
    let next_cursor = page::next(&rows, limit, |e| page::encode(&e.record.seq.to_be_bytes()));
    let mut tenants: HashMap<ledger::AccountId, bool> = HashMap::new();
    let mut items = Vec::with_capacity(rows.len());
    for e in &rows {
        let mut visible = p.tenant == "*";
        for posting in &e.record.postings {
            if visible {
                break;
            }
            visible = match tenants.get(&posting.account_id) {
                Some(v) => *v,
                None => {
                    let seen = s
                        .engine
                        .account(posting.account_id)
                        .await?
                        .is_some_and(|a| p.sees_tenant(&a.tenant));
                    tenants.insert(posting.account_id, seen);
                    seen
                }
            };
        }
        if visible {
            items.push(EntryResponse::from(&e.record));
        }
    }
    Ok(Json(EntryPage { items, next_cursor }))
}
