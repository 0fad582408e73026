//! API keys as listed, and the pages of the list routes.

use crate::{BorrowerResponse, EntryResponse};
use crate::{CreditLineResponse, LoanResponse, PurchaseResponse};
use serde::Serialize;
use utoipa::ToSchema;

/// A key as listed: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyResponse {
    pub id: uuid::Uuid,
    pub role: String,
    pub tenant: String,
    pub label: String,
    pub party_kind: Option<String>,
    pub party_id: Option<String>,
    /// RFC 3339.
    pub expires_at: Option<String>,
    /// RFC 3339; a revoked key is refused (401).
    pub revoked_at: Option<String>,
    /// The key's own rate limit; absent when it takes its role's default.
    pub rate_limit_per_s: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyPage {
    pub items: Vec<ApiKeyResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoanPage {
    pub items: Vec<LoanResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BorrowerPage {
    pub items: Vec<BorrowerResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreditLinePage {
    pub items: Vec<CreditLineResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PurchasePage {
    pub items: Vec<PurchaseResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A loan's ledger entries, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoanEntryPage {
    pub items: Vec<EntryResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One link of the audit log's hash chain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    /// 1, 2, 3… without gaps.
    pub seq: i64,
    /// The record as hashed: canonical JSON text (`kind` `change` or `pii_read`, `at_ms`,
    /// `key_id`, `role`, `tenant`, and for a change `method`, `route`, `object_id`,
    /// `idempotency_key`, `status`, `body_sha256`; for a read `object_id` and `reason`).
    pub record: String,
    /// Hex SHA-256 of the link before (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256(prev_hash bytes ‖ record bytes).
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `after` for the next page: the last item's `seq`, or `after` itself when the
    /// page is empty.
    pub next_after: i64,
}
