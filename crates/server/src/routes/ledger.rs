//! Ledger routes: accounts, entries, holds, proofs and tree heads.

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::path_uuid;
use crate::problem::{engine_error, idempotency_key, not_found, ApiError, WireJson};
use api::*;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::{Command, Outcome};
use ledger::{AccountId, EntryId, EntryRecord, HoldId};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts", post(create_account))
        .route("/v1/accounts/{id}", get(get_account))
        .route("/v1/accounts/{id}/entries", get(list_entries))
        .route("/v1/ledger/entries", post(post_entry))
        .route("/v1/ledger/entry-batches", post(post_batch))
        .route("/v1/ledger/entries/{id}", get(get_entry))
        .route("/v1/ledger/entries/{id}/reversal", post(reverse_entry))
        .route("/v1/ledger/entries/{id}/proof", get(entry_proof))
        .route("/v1/ledger/tree-head", get(tree_head))
        .route("/v1/ledger/consistency", get(consistency))
        .route("/v1/holds", post(create_hold))
        .route("/v1/holds/{id}", get(get_hold))
        .route("/v1/holds/{id}/post", post(post_hold))
        .route("/v1/holds/{id}/void", post(void_hold))
}

fn created(replayed: bool) -> StatusCode {
    if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
}

/// Creates an account.
#[utoipa::path(post, path = "/v1/accounts", request_body = CreateAccountRequest,
    responses((status = 201, body = AccountResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "ledger")]
pub async fn create_account(
    p: Principal,
    State(s): State<AppState>,
    WireJson(req): WireJson<CreateAccountRequest>,
) -> Result<(StatusCode, Json<AccountResponse>), ApiError> {
    let a = req.parse()?;
    let tenant = a.tenant.unwrap_or_else(|| {
        if p.tenant == "*" {
            "default".into()
        } else {
            p.tenant.clone()
        }
    });
    p.require_tenant(&tenant)?;
    let cmd = Command::CreateAccount {
        tenant,
        owner: a.owner,
        purpose: a.purpose,
        currency: a.currency,
        normal_side: a.normal_side,
        constraint: a.constraint,
    };
    match s
        .engine
        .submit_one(cmd)
        .await
        .map_err(|e| engine_error(e, "", false))?
    {
        Outcome::Account(acc) => Ok((StatusCode::CREATED, Json(AccountResponse::from(&acc)))),
        other => Err(crate::problem::internal(&format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

/// An account with its posted and pending sums.
#[utoipa::path(get, path = "/v1/accounts/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = AccountResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "ledger")]
pub async fn get_account(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AccountResponse>, ApiError> {
    let id = AccountId(path_uuid(&id, "account id")?);
    let acc = s
        .engine
        .account(id)
        .await?
        .ok_or_else(|| not_found("account"))?;
    p.require_tenant(&acc.tenant)
        .map_err(|_| not_found("account"))?;
    Ok(Json(AccountResponse::from(&acc)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<u32>,
}

/// Entries touching an account, oldest first, with cursor pagination.
#[utoipa::path(get, path = "/v1/accounts/{id}/entries", params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = EntryPage)), security(("api_key" = [])), tag = "ledger")]
pub async fn list_entries(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<EntryPage>, ApiError> {
    let id = AccountId(path_uuid(&id, "account id")?);
    let acc = s
        .engine
        .account(id)
        .await?
        .ok_or_else(|| not_found("account"))?;
    p.require_tenant(&acc.tenant)
        .map_err(|_| not_found("account"))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(FieldError::new("limit", "must be 1 to 500").into());
    }
    let after = q
        .cursor
        .map(|c| {
            u64::from_str_radix(&c, 16)
                .map_err(|_| FieldError::new("cursor", "not a cursor from this API"))
        })
        .transpose()?;
    let items = s
        .engine
        .store()
        .entries_by_account(id, after, limit)
        .await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| format!("{:x}", items.last().expect("non-empty page").seq));
    Ok(Json(EntryPage {
        items: items.iter().map(EntryResponse::from).collect(),
        next_cursor,
    }))
}

fn entry_outcome(o: Outcome) -> Result<(StatusCode, Json<EntryResponse>), ApiError> {
    match o {
        Outcome::Entry(e, replayed) => Ok((created(replayed), Json(EntryResponse::from(&e)))),
        other => Err(crate::problem::internal(&format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

/// Posts one balanced entry. Retrying with the same id and body returns the original.
#[utoipa::path(post, path = "/v1/ledger/entries", request_body = EntryRequestWire,
    params(("Idempotency-Key" = Uuid, Header, description = "must equal the entry id")),
    responses((status = 201, body = EntryResponse), (status = 200, description = "replay of an earlier identical request", body = EntryResponse),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "ledger")]
pub async fn post_entry(
    _p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<EntryRequestWire>,
) -> Result<(StatusCode, Json<EntryResponse>), ApiError> {
    idempotency_key(&headers, Some(req.id))?;
    let r = req.parse("")?;
    let o = s
        .engine
        .submit_one(Command::Entry(r))
        .await
        .map_err(|e| engine_error(e, "", false))?;
    entry_outcome(o)
}

/// Posts entries all-or-nothing.
#[utoipa::path(post, path = "/v1/ledger/entry-batches", request_body = EntryBatchRequest,
    params(("Idempotency-Key" = Uuid, Header)),
    responses((status = 201, body = EntryBatchResponse), (status = 422, body = Problem)),
    security(("api_key" = [])), tag = "ledger")]
pub async fn post_batch(
    _p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<EntryBatchRequest>,
) -> Result<(StatusCode, Json<EntryBatchResponse>), ApiError> {
    idempotency_key(&headers, None)?;
    let n = req.entries.len();
    if n == 0 || n > ledger::LIMITS.batch_ops_max {
        return Err(FieldError::new(
            "entries",
            format!("must hold 1 to {} entries", ledger::LIMITS.batch_ops_max),
        )
        .into());
    }
    let cmds = req
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| e.parse(&format!("entries[{i}].")).map(Command::Entry))
        .collect::<Result<Vec<_>, _>>()?;
    let out = s
        .engine
        .submit(cmds)
        .await
        .map_err(|e| engine_error(e, "", false))?;
    let all_replayed = out.iter().all(|o| matches!(o, Outcome::Entry(_, true)));
    let entries = out
        .into_iter()
        .filter_map(|o| match o {
            Outcome::Entry(e, _) => Some(EntryResponse::from(&e)),
            _ => None,
        })
        .collect();
    Ok((created(all_replayed), Json(EntryBatchResponse { entries })))
}

async fn visible_entry(s: &AppState, p: &Principal, e: &EntryRecord) -> Result<(), ApiError> {
    if p.tenant == "*" {
        return Ok(());
    }
    for posting in &e.postings {
        if let Some(a) = s.engine.account(posting.account_id).await? {
            if p.sees_tenant(&a.tenant) {
                return Ok(());
            }
        }
    }
    Err(not_found("entry"))
}

/// One entry.
#[utoipa::path(get, path = "/v1/ledger/entries/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = EntryResponse), (status = 404, body = Problem)), security(("api_key" = [])), tag = "ledger")]
pub async fn get_entry(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EntryResponse>, ApiError> {
    let id = EntryId(path_uuid(&id, "entry id")?);
    let e = s
        .engine
        .entry(id)
        .await?
        .ok_or_else(|| not_found("entry"))?;
    visible_entry(&s, &p, &e).await?;
    Ok(Json(EntryResponse::from(&e)))
}

/// Reverses an entry with a new entry of opposite postings; an entry is reversed once.
#[utoipa::path(post, path = "/v1/ledger/entries/{id}/reversal", request_body = ReverseRequest, params(("id" = Uuid, Path), ("Idempotency-Key" = Uuid, Header)),
    responses((status = 201, body = EntryResponse), (status = 409, body = Problem)), security(("api_key" = [])), tag = "ledger")]
pub async fn reverse_entry(
    _p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<ReverseRequest>,
) -> Result<(StatusCode, Json<EntryResponse>), ApiError> {
    let original = EntryId(path_uuid(&id, "entry id")?);
    idempotency_key(&headers, Some(req.id))?;
    let cmd = Command::Reverse {
        original,
        reversal_id: EntryId(req.id),
        memo: req.memo.unwrap_or_default(),
    };
    entry_outcome(
        s.engine
            .submit_one(cmd)
            .await
            .map_err(|e| engine_error(e, "", false))?,
    )
}

/// Inclusion proof of an entry in the signed Merkle tree (RFC 9162), verifiable with
/// SHA-256 and Ed25519 alone.
#[utoipa::path(get, path = "/v1/ledger/entries/{id}/proof", params(("id" = Uuid, Path)),
    responses((status = 200, body = ProofResponse), (status = 404, body = Problem)), security(("api_key" = [])), tag = "ledger")]
pub async fn entry_proof(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProofResponse>, ApiError> {
    let id = EntryId(path_uuid(&id, "entry id")?);
    let proof = s
        .engine
        .proof(id)
        .await?
        .ok_or_else(|| not_found("entry"))?;
    visible_entry(&s, &p, &proof.entry).await?;
    Ok(Json(ProofResponse::from(&proof)))
}

/// The current signed tree head.
#[utoipa::path(get, path = "/v1/ledger/tree-head", responses((status = 200, body = TreeHeadResponse)), security(("api_key" = [])), tag = "ledger")]
pub async fn tree_head(_p: Principal, State(s): State<AppState>) -> Json<TreeHeadResponse> {
    Json(TreeHeadResponse::from(&s.engine.tree_head()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    pub first: u64,
    pub second: u64,
}

/// Proof that the tree of size `first` is a prefix of the tree of size `second`.
#[utoipa::path(get, path = "/v1/ledger/consistency", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyResponse), (status = 422, body = Problem)), security(("api_key" = [])), tag = "ledger")]
pub async fn consistency(
    _p: Principal,
    State(s): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyResponse>, ApiError> {
    let proof = s
        .engine
        .consistency(q.first, q.second)
        .ok_or_else(|| FieldError::new("second", "need 0 < first ≤ second ≤ current tree size"))?;
    Ok(Json(ConsistencyResponse {
        first: q.first,
        second: q.second,
        proof: proof.iter().map(hex::encode).collect(),
    }))
}

fn hold_outcome(o: Outcome) -> Result<(StatusCode, Json<HoldResponse>), ApiError> {
    match o {
        Outcome::Hold(h, replayed) => Ok((created(replayed), Json(HoldResponse::from(&h)))),
        other => Err(crate::problem::internal(&format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

/// Reserves an amount (two-phase transfer, first phase).
#[utoipa::path(post, path = "/v1/holds", request_body = HoldRequestWire, params(("Idempotency-Key" = Uuid, Header, description = "must equal the hold id")),
    responses((status = 201, body = HoldResponse), (status = 400, body = Problem), (status = 422, body = Problem)), security(("api_key" = [])), tag = "ledger")]
pub async fn create_hold(
    _p: Principal,
    State(s): State<AppState>,
    headers: HeaderMap,
    WireJson(req): WireJson<HoldRequestWire>,
) -> Result<(StatusCode, Json<HoldResponse>), ApiError> {
    idempotency_key(&headers, Some(req.id))?;
    let h = req.parse()?;
    // A hold that has expired before it exists reserves nothing; a retry of one made while
    // its expiry was ahead still gets its original answer.
    if h.expires_at_ms.is_some_and(|t| t <= s.engine.now_ms())
        && s.engine.hold(h.id).await?.is_none()
    {
        return Err(api::FieldError::refused(
            "expires_at_ms",
            "is already past; a hold must expire in the future",
            "expires_in_past",
        )
        .into());
    }
    hold_outcome(
        s.engine
            .submit_one(Command::Hold(h))
            .await
            .map_err(|e| engine_error(e, "", true))?,
    )
}

/// One hold.
#[utoipa::path(get, path = "/v1/holds/{id}", params(("id" = Uuid, Path)), responses((status = 200, body = HoldResponse), (status = 404, body = Problem)), security(("api_key" = [])), tag = "ledger")]
pub async fn get_hold(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<HoldResponse>, ApiError> {
    let id = HoldId(path_uuid(&id, "hold id")?);
    let h = s.engine.hold(id).await?.ok_or_else(|| not_found("hold"))?;
    let debit = s.engine.account(h.request.debit_account_id).await?;
    if !debit.is_some_and(|a| p.sees_tenant(&a.tenant)) {
        return Err(not_found("hold"));
    }
    Ok(Json(HoldResponse::from(&h)))
}

/// A hold of another tenant is not there for this key: 404, as a read of it answers. A hold
/// not stored at all is left to the engine, which answers for unknown holds itself.
async fn hold_of_tenant(p: &Principal, s: &AppState, id: HoldId) -> Result<(), ApiError> {
    let Some(h) = s.engine.hold(id).await? else {
        return Ok(());
    };
    let debit = s.engine.account(h.request.debit_account_id).await?;
    if debit.is_some_and(|a| p.sees_tenant(&a.tenant)) {
        Ok(())
    } else {
        Err(not_found("hold"))
    }
}

/// Posts a pending hold, fully or partly (the rest is released).
#[utoipa::path(post, path = "/v1/holds/{id}/post", request_body = PostHoldRequest, params(("id" = Uuid, Path), ("Idempotency-Key" = Uuid, Header, description = "must equal entry_id")),
    responses((status = 201, body = EntryResponse), (status = 409, body = Problem)), security(("api_key" = [])), tag = "ledger")]
pub async fn post_hold(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    WireJson(req): WireJson<PostHoldRequest>,
) -> Result<(StatusCode, Json<EntryResponse>), ApiError> {
    let hold_id = HoldId(path_uuid(&id, "hold id")?);
    idempotency_key(&headers, Some(req.entry_id))?;
    hold_of_tenant(&p, &s, hold_id).await?;
    let cmd = Command::PostHold {
        hold_id,
        entry_id: EntryId(req.entry_id),
        amount_minor: req.amount_minor,
        memo: req.memo.unwrap_or_default(),
    };
    entry_outcome(
        s.engine
            .submit_one(cmd)
            .await
            .map_err(|e| engine_error(e, "", true))?,
    )
}

/// Voids a pending hold, releasing its reservation.
#[utoipa::path(post, path = "/v1/holds/{id}/void", params(("id" = Uuid, Path), ("Idempotency-Key" = Uuid, Header)),
    responses((status = 200, body = HoldResponse), (status = 409, body = Problem)), security(("api_key" = [])), tag = "ledger")]
pub async fn void_hold(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<HoldResponse>, ApiError> {
    let hold_id = HoldId(path_uuid(&id, "hold id")?);
    idempotency_key(&headers, None)?;
    hold_of_tenant(&p, &s, hold_id).await?;
    let (_, json) = hold_outcome(
        s.engine
            .submit_one(Command::VoidHold { hold_id })
            .await
            .map_err(|e| engine_error(e, "", true))?,
    )?;
    Ok(json)
}
