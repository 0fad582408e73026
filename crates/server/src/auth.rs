//! API keys: the secret is shown once and only its SHA-256 is stored. Each key carries a
//! role and a tenant scope; every route but `/healthz` needs one.

use crate::app::AppState;
use crate::problem::{problem, ApiError};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Operator,
    RiskAnalyst,
    PartnerBank,
    Investor,
    Merchant,
    Borrower,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::RiskAnalyst => "risk_analyst",
            Role::PartnerBank => "partner_bank",
            Role::Investor => "investor",
            Role::Merchant => "merchant",
            Role::Borrower => "borrower",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            Role::Operator,
            Role::RiskAnalyst,
            Role::PartnerBank,
            Role::Investor,
            Role::Merchant,
            Role::Borrower,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| format!("unknown role {s:?}"))
    }
}

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    pub role: Role,
    /// `*` sees every tenant.
    pub tenant: String,
}

impl Principal {
    pub fn sees_tenant(&self, tenant: &str) -> bool {
        self.tenant == "*" || self.tenant == tenant
    }

    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(problem(
                403,
                "forbidden",
                "Forbidden",
                format!("role {} may not do this", self.role.as_str()),
            ))
        }
    }

    pub fn require_tenant(&self, tenant: &str) -> Result<(), ApiError> {
        if self.sees_tenant(tenant) {
            Ok(())
        } else {
            Err(problem(
                403,
                "forbidden",
                "Forbidden",
                "outside your tenant scope",
            ))
        }
    }
}

pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A new random key: 32 bytes, hex, prefixed so it is recognisable in logs and scanners.
pub fn generate_key() -> String {
    format!("phk_{}", hex::encode(rand::random::<[u8; 32]>()))
}

fn presented_key(parts: &Parts) -> Option<&str> {
    if let Some(v) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        return v.to_str().ok()?.strip_prefix("Bearer ").map(str::trim);
    }
    parts.headers.get("x-api-key")?.to_str().ok().map(str::trim)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = presented_key(parts).ok_or_else(|| {
            problem(
                401,
                "unauthenticated",
                "Unauthenticated",
                "send Authorization: Bearer <api key>",
            )
        })?;
        let hash = hash_key(key);
        if let Some(p) = state
            .key_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&hash)
        {
            return Ok(p.clone());
        }
        let row = state.engine.store().api_key(hash).await?;
        let row = row
            .ok_or_else(|| problem(401, "unauthenticated", "Unauthenticated", "unknown API key"))?;
        let role = row
            .role
            .parse()
            .map_err(|e: String| crate::problem::internal(&e))?;
        let principal = Principal {
            role,
            tenant: row.tenant,
        };
        state
            .key_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash, principal.clone());
        Ok(principal)
    }
}
