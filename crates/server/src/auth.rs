//! API keys: the secret is shown once and only its SHA-256 is stored. Each key carries a
//! role, a tenant scope, optionally the one party it acts for, and optionally an expiry;
//! every route but `/healthz` needs one. Who may call what is one table
//! ([`route_roles`]), applied by [`authorize`] before any handler runs.

mod party;
mod rate;
mod table;

pub(crate) use party::check as check_party;
pub use party::{list_party, Parties, PartyKind};
pub use rate::{RoleRates, RATE_LIMIT_PER_S_MAX};
pub use table::{roles_markdown, route_roles, PartyOf, RouteAccess};

use crate::app::AppState;
use crate::problem::{problem, ApiError};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use store::Hash;
use uuid::Uuid;

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

/// The party a key acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    pub kind: PartyKind,
    pub id: String,
}

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    pub role: Role,
    /// `*` sees every tenant.
    pub tenant: String,
    /// The party a bound key acts for.
    pub party: Option<Party>,
    pub key_id: Uuid,
    pub expires_at_ms: Option<i64>,
}

impl Principal {
    pub fn sees_tenant(&self, tenant: &str) -> bool {
        self.tenant == "*" || self.tenant == tenant
    }

    /// Whether party rules apply. Borrower and merchant keys always act for one party; one
    /// made before keys were bound acts for none, so it reaches nothing a party owns.
    pub fn is_bound(&self) -> bool {
        self.party.is_some() || matches!(self.role, Role::Borrower | Role::Merchant)
    }

    /// Whether this key may act on an object with these parties.
    pub fn acts_for(&self, parties: &Parties) -> bool {
        if !self.is_bound() {
            return true;
        }
        self.party.as_ref().is_some_and(|p| parties.includes(p))
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

    /// The tenant new objects go to: a `*` key's go to `default`.
    pub fn write_tenant(&self) -> String {
        if self.tenant == "*" {
            "default".to_string()
        } else {
            self.tenant.clone()
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

/// Keys read from storage, so that a request costs no query. An entry is read again after
/// `KEY_CACHE_TTL`, so a key revoked by another process stops working within it; this
/// process forgets a key it revokes at once.
/// Each entry holds the key's rate limiter too, kept across re-reads while the key's rate
/// stays the same, so that a re-read does not refill its budget.
#[derive(Default)]
pub struct KeyCache(Mutex<HashMap<Hash, Cached>>);

struct Cached {
    principal: Principal,
    at: Instant,
    limiter: rate::KeyLimiter,
}

const KEY_CACHE_TTL: Duration = Duration::from_secs(30);

impl KeyCache {
    fn get(&self, hash: &Hash) -> Option<(Principal, rate::KeyLimiter)> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(hash)
            .filter(|c| c.at.elapsed() < KEY_CACHE_TTL)
            .map(|c| (c.principal.clone(), c.limiter.clone()))
    }

    fn put(&self, hash: Hash, p: Principal, per_s: u32) -> rate::KeyLimiter {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let limiter = match map.get(&hash) {
            Some(old) if old.limiter.per_s() == per_s => old.limiter.clone(),
            _ => rate::KeyLimiter::new(per_s),
        };
        map.insert(
            hash,
            Cached {
                principal: p,
                at: Instant::now(),
                limiter: limiter.clone(),
            },
        );
        limiter
    }

    pub fn forget(&self, hash: &Hash) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hash);
    }
}

fn presented_key(parts: &Parts) -> Option<&str> {
    if let Some(v) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        return v.to_str().ok()?.strip_prefix("Bearer ").map(str::trim);
    }
    parts.headers.get("x-api-key")?.to_str().ok().map(str::trim)
}

fn unauthenticated(detail: &str) -> ApiError {
    problem(401, "unauthenticated", "Unauthenticated", detail)
}

/// The key's principal; 401 for a missing, unknown, revoked or expired key.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    Ok(authenticate_limited(parts, state).await?.0)
}

/// As [`authenticate`], with the key's rate limiter.
async fn authenticate_limited(
    parts: &Parts,
    state: &AppState,
) -> Result<(Principal, rate::KeyLimiter), ApiError> {
    let key = presented_key(parts)
        .ok_or_else(|| unauthenticated("send Authorization: Bearer <api key>"))?;
    let hash = hash_key(key);
    let (principal, limiter) = match state.key_cache.get(&hash) {
        Some(hit) => hit,
        None => {
            let row = state
                .engine
                .store()
                .api_key(hash)
                .await?
                .ok_or_else(|| unauthenticated("unknown API key"))?;
            if row.revoked_at_ms.is_some() {
                state.key_cache.forget(&hash);
                return Err(unauthenticated("this API key was revoked"));
            }
            let p = principal_of(&row)?;
            let per_s = state.rate_limits.of(p.role, row.rate_limit_per_s);
            let limiter = state.key_cache.put(hash, p.clone(), per_s);
            (p, limiter)
        }
    };
    if principal
        .expires_at_ms
        .is_some_and(|t| state.engine.now_ms() >= t)
    {
        return Err(unauthenticated("this API key has expired"));
    }
    Ok((principal, limiter))
}

fn principal_of(row: &store::ApiKeyRow) -> Result<Principal, ApiError> {
    let role = row
        .role
        .parse()
        .map_err(|e: String| crate::problem::internal(&e))?;
    let party = match (&row.party_kind, &row.party_id) {
        (Some(k), Some(id)) => Some(Party {
            kind: k
                .parse()
                .map_err(|e: String| crate::problem::internal(&e))?,
            id: id.clone(),
        }),
        _ => None,
    };
    Ok(Principal {
        role,
        tenant: row.tenant.clone(),
        party,
        key_id: row.id(),
        expires_at_ms: row.expires_at_ms,
    })
}

/// The route table applied: authenticates, checks the role, and for a bound key the party
/// of the object the request names. The principal is left for the handler.
pub async fn authorize(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(resp) = method_not_routed(&req) {
        return resp;
    }
    if let Some(resp) = crate::limits::headers_too_large(&req) {
        return resp;
    }
    match gate(&s, req).await {
        Ok((req, None)) => next.run(req).await,
        Ok((req, Some(change))) => {
            let resp = next.run(req).await;
            s.audit
                .change(change, resp.status().as_u16(), s.engine.now_ms());
            resp
        }
        Err(resp) => resp,
    }
}

/// The route rule's checks in order: key, rate, role, party; a change also has its body
/// hashed for the audit log.
async fn gate(
    s: &AppState,
    req: Request,
) -> Result<(Request, Option<crate::audit::Change>), Response> {
    let Some(path) = req.extensions().get::<MatchedPath>() else {
        return Ok((req, None));
    };
    let rule = table::rule(req.method().as_str(), path.as_str()).ok_or_else(|| {
        problem(
            403,
            "forbidden",
            "Forbidden",
            "this route has no access rule",
        )
        .into_response()
    })?;
    let Some(roles) = rule.roles else {
        return Ok((req, None));
    };
    let (mut parts, body) = req.into_parts();
    let (p, limiter) = authenticate_limited(&parts, s)
        .await
        .map_err(IntoResponse::into_response)?;
    limiter.check()?;
    p.require(roles).map_err(IntoResponse::into_response)?;
    if rule.every_tenant && p.tenant != "*" {
        return Err(problem(
            403,
            "forbidden",
            "Forbidden",
            "this route covers every tenant: it needs a key of tenant *",
        )
        .into_response());
    }
    let body = if p.is_bound() {
        party::check(s, &p, rule.party, &mut parts, body)
            .await
            .map_err(IntoResponse::into_response)?
    } else {
        body
    };
    let (body, change) = if crate::audit::is_change(&parts.method) {
        let (body, change) = crate::audit::Change::read(&p, rule.path, &parts, body)
            .await
            .map_err(IntoResponse::into_response)?;
        (body, Some(change))
    } else {
        (body, None)
    };
    parts.extensions.insert(p);
    Ok((Request::from_parts(parts, body), change))
}

/// A method the path does not route: 405 with the methods it does, as axum would answer
/// (this layer runs before axum's own method check).
fn method_not_routed(req: &Request) -> Option<Response> {
    let path = req.extensions().get::<MatchedPath>()?.as_str();
    if table::rule(req.method().as_str(), path).is_some() {
        return None;
    }
    let allowed: Vec<&str> = route_roles()
        .iter()
        .filter(|a| a.path == path)
        .map(|a| a.method)
        .collect();
    if allowed.is_empty() {
        return None;
    }
    let allow = allowed.join(", ");
    let mut resp = problem(
        405,
        "method_not_allowed",
        "Method not allowed",
        format!("this route answers {allow}"),
    )
    .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&allow) {
        resp.headers_mut().insert(axum::http::header::ALLOW, v);
    }
    Some(resp)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(p) = parts.extensions.remove::<Principal>() {
            return Ok(p);
        }
        authenticate(parts, state).await
    }
}
