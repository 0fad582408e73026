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
