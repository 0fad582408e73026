use crate::app::AppState;
use crate::auth::{self, Principal, Role};
use crate::problem::{ApiError, WireJson};
use api::{CreateApiKeyRequest, CreateApiKeyResponse, FieldError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use store::ApiKeyRow;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/api-keys", post(create_key))
}

/// Creates an API key; the secret is in the response and nowhere else.
#[utoipa::path(post, path = "/v1/api-keys", request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreateApiKeyResponse), (status = 422, body = api::Problem)),
    security(("api_key" = [])), tag = "auth")]
pub async fn create_key(
    p: Principal,
    State(s): State<AppState>,
    WireJson(req): WireJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<CreateApiKeyResponse>), ApiError> {
    p.require(&[Role::Operator])?;
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
    let key = auth::generate_key();
    s.engine
        .store()
        .insert_api_key(ApiKeyRow {
            key_hash: auth::hash_key(&key),
            role: role.as_str().into(),
            tenant: req.tenant.clone(),
            label: req.label.unwrap_or_default(),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateApiKeyResponse {
            key,
            role: role.as_str().into(),
            tenant: req.tenant,
        }),
    ))
}
