//! API keys: create (the secret is in the response and nowhere else), list, revoke.

use crate::app::AppState;
use crate::auth::{self, PartyKind, Principal, Role};
use crate::problem::{not_found, path_uuid, ApiError, WireJson};
use api::{ApiKeyPage, ApiKeyResponse, CreateApiKeyRequest, CreateApiKeyResponse, FieldError};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use store::ApiKeyRow;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/api-keys", post(create_key).get(list_keys))
        .route("/v1/api-keys/{id}/revoke", post(revoke_key))
}

/// Which party kind a role's key may act for, and whether it must.
fn party_rule(role: Role) -> (Option<PartyKind>, bool) {
    match role {
        Role::Borrower => (Some(PartyKind::Borrower), true),
        Role::Merchant => (Some(PartyKind::Merchant), true),
        Role::PartnerBank => (Some(PartyKind::Partner), false),
        Role::Investor => (Some(PartyKind::Investor), false),
        Role::Operator | Role::RiskAnalyst => (None, false),
    }
}

fn parse_party(role: Role, req: &CreateApiKeyRequest) -> Result<Option<auth::Party>, ApiError> {
    let (allowed, required) = party_rule(role);
    let kind = req
        .party_kind
        .as_deref()
        .map(|k| k.parse::<PartyKind>())
        .transpose()
        .map_err(|e| FieldError::new("party_kind", e))?;
    match (kind, &req.party_id) {
        (None, None) if required => Err(FieldError::new(
            "party_id",
            format!("a {} key must be bound to its party", role.as_str()),
        )
        .into()),
        (None, None) => Ok(None),
        (kind, Some(id)) => {
            let kind = kind
                .or(allowed)
                .filter(|k| Some(*k) == allowed)
                .ok_or_else(|| {
                    FieldError::new(
                        "party_kind",
                        format!("a {} key cannot act for that kind of party", role.as_str()),
                    )
                })?;
            if id.trim().is_empty() || id.len() > 128 {
                return Err(FieldError::new("party_id", "must be 1 to 128 bytes").into());
            }
            Ok(Some(auth::Party {
                kind,
                id: id.clone(),
            }))
        }
        (Some(_), None) => Err(FieldError::new("party_id", "is required with party_kind").into()),
    }
}

fn rfc3339(ms: Option<i64>) -> Option<String> {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn parse_expiry(raw: Option<&str>, now_ms: i64) -> Result<Option<i64>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let t = chrono::DateTime::parse_from_rfc3339(raw).map_err(|_| {
        FieldError::new(
            "expires_at",
            "must be an RFC 3339 time, e.g. 2027-01-31T00:00:00Z",
        )
    })?;
    let ms = t.timestamp_millis();
    if ms <= now_ms {
        return Err(FieldError::new("expires_at", "must be in the future").into());
    }
    Ok(Some(ms))
}

/// Creates an API key, optionally bound to the one party it acts for and expiring; the
/// secret is in the response and nowhere else.
#[utoipa::path(post, path = "/v1/api-keys", request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreateApiKeyResponse), (status = 422, body = api::Problem)),
    security(("api_key" = [])), tag = "auth")]
pub async fn create_key(
    p: Principal,
    State(s): State<AppState>,
    WireJson(req): WireJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<CreateApiKeyResponse>), ApiError> {
    let role: Role = req
        .role
        .parse()
        .map_err(|e: String| FieldError::new("role", e))?;
    if req.tenant.is_empty() || req.tenant.len() > 128 {
        return Err(FieldError::new("tenant", "must be 1 to 128 bytes").into());
    }
    if req.tenant == "*" && role != Role::Operator {
        return Err(FieldError::new("tenant", "only operator keys may span all tenants").into());
    }
    p.require_tenant(&req.tenant)?;
    let party = parse_party(role, &req)?;
    let expires_at_ms = parse_expiry(req.expires_at.as_deref(), s.engine.now_ms())?;
    if let Some(n) = req.rate_limit_per_s {
        if !(1..=crate::auth::RATE_LIMIT_PER_S_MAX).contains(&n) {
            return Err(FieldError::new(
                "rate_limit_per_s",
                format!(
                    "must be 1 to {} requests per second",
                    crate::auth::RATE_LIMIT_PER_S_MAX
                ),
            )
            .into());
        }
    }
    let key = auth::generate_key();
    let row = ApiKeyRow {
        key_hash: auth::hash_key(&key),
        role: role.as_str().into(),
        tenant: req.tenant.clone(),
        label: req.label.unwrap_or_default(),
        party_kind: party.as_ref().map(|x| x.kind.as_str().to_string()),
        party_id: party.map(|x| x.id),
        expires_at_ms,
        revoked_at_ms: None,
        rate_limit_per_s: req.rate_limit_per_s,
    };
    s.engine.store().insert_api_key(row.clone()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateApiKeyResponse {
            key,
            id: row.id(),
            role: row.role,
            tenant: row.tenant,
            party_kind: row.party_kind,
            party_id: row.party_id,
            expires_at: rfc3339(row.expires_at_ms),
            rate_limit_per_s: row.rate_limit_per_s,
        }),
    ))
}

fn key_response(k: ApiKeyRow) -> ApiKeyResponse {
    ApiKeyResponse {
        id: k.id(),
        expires_at: rfc3339(k.expires_at_ms),
        revoked_at: rfc3339(k.revoked_at_ms),
        rate_limit_per_s: k.rate_limit_per_s,
        role: k.role,
        tenant: k.tenant,
        label: k.label,
        party_kind: k.party_kind,
        party_id: k.party_id,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct KeyPageQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<u32>,
}

/// The keys of the caller's tenant (every tenant's for a `*` key), never their secrets.
#[utoipa::path(get, path = "/v1/api-keys", params(KeyPageQuery),
    responses((status = 200, body = ApiKeyPage), (status = 400, body = api::Problem)),
    security(("api_key" = [])), tag = "auth")]
pub async fn list_keys(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<KeyPageQuery>,
) -> Result<Json<ApiKeyPage>, ApiError> {
    let limit = crate::routes::page::limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(crate::routes::page::decode_hash)
        .transpose()?;
    let tenant = (p.tenant != "*").then(|| p.tenant.clone());
    let rows = s.engine.store().api_keys(tenant, after, limit).await?;
    let next_cursor =
        crate::routes::page::next(&rows, limit, |k| crate::routes::page::encode(&k.key_hash));
    Ok(Json(ApiKeyPage {
        items: rows.into_iter().map(key_response).collect(),
        next_cursor,
    }))
}

/// Revokes a key: from now on it is refused (401). Revoking again changes nothing. A key
/// cannot revoke itself, so that no operator locks the last key out by mistake: another
/// operator key revokes it.
#[utoipa::path(post, path = "/v1/api-keys/{id}/revoke", params(("id" = Uuid, Path)),
    responses((status = 200, body = ApiKeyResponse), (status = 404, body = api::Problem),
        (status = 422, body = api::Problem)),
    security(("api_key" = [])), tag = "auth")]
pub async fn revoke_key(
    p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ApiKeyResponse>, ApiError> {
    let id = path_uuid(&id, "key id")?;
    if id == p.key_id {
        return Err(api::Problem::new(
            422,
            "self_revocation",
            "A key cannot revoke itself",
            "revoke this key with another operator key".to_string(),
        )
        .with_field("id")
        .into());
    }
    let store = s.engine.store();
    let key = store
        .api_key_by_id(id)
        .await?
        .filter(|k| p.sees_tenant(&k.tenant))
        .ok_or_else(|| not_found("API key"))?;
    let key = store
        .revoke_api_key(key.id(), s.engine.now_ms())
        .await?
        .ok_or_else(|| not_found("API key"))?;
    s.key_cache.forget(&key.key_hash);
    Ok(Json(key_response(key)))
}
