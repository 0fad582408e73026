//! The audit log, read by operators who see every tenant (docs/security.md).

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::ApiError;
use crate::routes::page::{bad_query, LIMIT_MAX};
use api::{AuditEntry, AuditPage, FieldError, Problem};
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

const AUDIT_LIMIT_DEFAULT: u32 = 100;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/audit", get(list_audit))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// The `seq` after which to read (0, the default, reads from the first link).
    pub after: Option<i64>,
    /// 1–500, default 100.
    pub limit: Option<u32>,
}

/// Links of the audit log after `after`, oldest first. The log spans every tenant, so only
/// operator keys of every tenant (`*`) read it.
#[utoipa::path(get, path = "/v1/audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "auth")]
pub async fn list_audit(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    if p.tenant != "*" {
        return Err(Problem::new(
            403,
            "forbidden",
            "Forbidden",
            "the audit log spans every tenant: it needs an operator key of tenant *",
        )
        .into());
    }
    let limit = q.limit.unwrap_or(AUDIT_LIMIT_DEFAULT);
    if !(1..=LIMIT_MAX).contains(&limit) {
        return Err(bad_query("limit", format!("must be 1 to {LIMIT_MAX}")));
    }
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(FieldError::new("after", "must be 0 or more").into());
    }
    let rows = s.engine.store().audit_after(after, limit).await?;
    let next_after = rows.last().map_or(after, |r| r.seq);
    Ok(Json(AuditPage {
        items: rows
            .into_iter()
            .map(|r| AuditEntry {
                seq: r.seq,
                record: String::from_utf8_lossy(&r.record).into_owned(),
                prev_hash: hex::encode(r.prev_hash),
                hash: hex::encode(r.hash),
            })
            .collect(),
        next_after,
    }))
}
