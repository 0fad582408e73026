//! API keys with their party binding, and the keyset-paginated lists of the API
//! (loans, documents). Every list reads at most `limit` rows in index order after a
//! cursor: nothing here loads a whole table.

use crate::{DocRow, Hash, LoanRow, Store};
use uuid::Uuid;

/// An API key as stored: only the SHA-256 of the secret is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub key_hash: Hash,
    pub role: String,
    pub tenant: String,
    pub label: String,
    /// `borrower`, `merchant`, `partner` or `investor` for a key bound to one party.
    pub party_kind: Option<String>,
    pub party_id: Option<String>,
    /// Milliseconds since the epoch after which the key is refused.
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    /// Requests per second this key may make; None takes its role's default.
    pub rate_limit_per_s: Option<i64>,
}

impl ApiKeyRow {
    /// A key's public id: the first 16 bytes of its hash, which reveal nothing of the secret.
    pub fn id(&self) -> Uuid {
        key_id(&self.key_hash)
    }
}

pub fn key_id(hash: &Hash) -> Uuid {
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash[..16]);
    Uuid::from_bytes(b)
}

/// The hashes whose id is `id` lie in `[lo, hi]` of the primary key.
pub(crate) fn hash_range(id: Uuid) -> (Vec<u8>, Vec<u8>) {
    let mut lo = id.as_bytes().to_vec();
    let mut hi = lo.clone();
    lo.extend([0u8; 16]);
    hi.extend([0xffu8; 16]);
    (lo, hi)
}

/// Which loans a list wants. `tenant` None lists every tenant.
#[derive(Clone, Debug, Default)]
pub struct LoanFilter {
    pub tenant: Option<String>,
    pub stage: Option<String>,
    pub borrower: Option<String>,
    pub product_id: Option<Uuid>,
    /// Days past due at least / at most (inclusive), as the loan's state last written says.
    pub dpd_min: Option<i32>,
    pub dpd_max: Option<i32>,
    /// Ids at or above (UUIDv7 ids carry their creation time, so a date range is an id range).
    pub id_from: Option<Uuid>,
    /// Ids below.
    pub id_to: Option<Uuid>,
    /// Keyset cursor: ids strictly above.
    pub after: Option<Uuid>,
    pub limit: u32,
}

/// Which documents of one kind a list wants, in id order.
#[derive(Clone, Debug, Default)]
pub struct DocFilter {
    pub kind: String,
    pub tenant: Option<String>,
    /// A line's borrower, a purchase's line.
    pub parent: Option<Uuid>,
    pub id_from: Option<Uuid>,
    pub id_to: Option<Uuid>,
    pub after: Option<Uuid>,
    pub limit: u32,
}

/// The lower bound of the ids of a UUIDv7 minted at or after `ms`.
pub fn uuid_v7_floor(ms: i64) -> Uuid {
    let ms = ms.clamp(0, (1 << 48) - 1) as u64;
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    Uuid::from_bytes(b)
}

impl Store {
    pub async fn insert_api_key(&self, key: ApiKeyRow) -> anyhow::Result<()> {
        match self {
            Store::Sqlite(s) => s.insert_api_key(key).await,
            Store::Postgres(s) => s.insert_api_key(key).await,
        }
    }

    pub async fn api_key(&self, key_hash: Hash) -> anyhow::Result<Option<ApiKeyRow>> {
        match self {
            Store::Sqlite(s) => s.api_key(key_hash).await,
            Store::Postgres(s) => s.api_key(key_hash).await,
        }
    }

    /// Keys of `tenant` (all when None) in hash order after `after`.
    pub async fn api_keys(
        &self,
        tenant: Option<String>,
        after: Option<Hash>,
        limit: u32,
    ) -> anyhow::Result<Vec<ApiKeyRow>> {
        match self {
            Store::Sqlite(s) => s.api_keys(tenant, after, limit).await,
            Store::Postgres(s) => s.api_keys(tenant, after, limit).await,
        }
    }

    /// Marks the key `id` revoked at `at_ms` (a key revoked before keeps its first time);
    /// the key as it now is, or None when there is no such key.
    pub async fn revoke_api_key(&self, id: Uuid, at_ms: i64) -> anyhow::Result<Option<ApiKeyRow>> {
        match self {
            Store::Sqlite(s) => s.revoke_api_key(id, at_ms).await,
            Store::Postgres(s) => s.revoke_api_key(id, at_ms).await,
        }
    }

    /// The key with id `id` (a range read of the primary key).
    pub async fn api_key_by_id(&self, id: Uuid) -> anyhow::Result<Option<ApiKeyRow>> {
        match self {
            Store::Sqlite(s) => s.api_key_by_id(id).await,
            Store::Postgres(s) => s.api_key_by_id(id).await,
        }
    }

    pub async fn loans_page(&self, f: LoanFilter) -> anyhow::Result<Vec<LoanRow>> {
        match self {
            Store::Sqlite(s) => s.loans_page(f).await,
            Store::Postgres(s) => s.loans_page(f).await,
        }
    }

    pub async fn docs_page(&self, f: DocFilter) -> anyhow::Result<Vec<DocRow>> {
        match self {
            Store::Sqlite(s) => s.docs_page(f).await,
            Store::Postgres(s) => s.docs_page(f).await,
        }
    }
}

/// A bound value of a list query.
pub(crate) enum Arg {
    Text(String),
    Bytes(Vec<u8>),
    Int(i64),
}

/// A list query built from the filters present only, so that each backend's planner sees
/// plain equalities and ranges it can serve from an index.
pub(crate) struct ListQuery {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl ListQuery {
    /// `conds` are `column op` fragments (`"tenant ="`); `pg` numbers placeholders `$n`.
    fn build(select: &str, conds: Vec<(&str, Arg)>, limit: u32, pg: bool) -> ListQuery {
        let mut sql = select.to_string();
        let mut args = Vec::with_capacity(conds.len());
        for (i, (cond, arg)) in conds.into_iter().enumerate() {
            let mark = if pg { '$' } else { '?' };
            let join = if i == 0 { " WHERE" } else { " AND" };
            sql.push_str(&format!("{join} {cond} {mark}{}", i + 1));
            args.push(arg);
        }
        sql.push_str(&format!(" ORDER BY id LIMIT {limit}"));
        ListQuery { sql, args }
    }

    pub fn loans(select: &str, f: LoanFilter, pg: bool) -> ListQuery {
        let id = |u: Uuid| Arg::Bytes(u.as_bytes().to_vec());
        let mut conds = Vec::new();
        if let Some(t) = f.tenant {
            conds.push(("tenant =", Arg::Text(t)));
        }
        if let Some(s) = f.stage {
            conds.push(("stage =", Arg::Text(s)));
        }
        if let Some(b) = f.borrower {
            conds.push(("borrower =", Arg::Text(b)));
        }
        if let Some(p) = f.product_id {
            conds.push(("product_id =", id(p)));
        }
        if let Some(d) = f.dpd_min {
            conds.push(("dpd >=", Arg::Int(d.into())));
        }
        if let Some(d) = f.dpd_max {
            conds.push(("dpd <=", Arg::Int(d.into())));
        }
        push_ids(&mut conds, f.id_from, f.id_to, f.after);
        ListQuery::build(select, conds, f.limit, pg)
    }

    pub fn docs(select: &str, f: DocFilter, pg: bool) -> ListQuery {
        let mut conds = vec![("kind =", Arg::Text(f.kind))];
        if let Some(t) = f.tenant {
            conds.push(("tenant =", Arg::Text(t)));
        }
        if let Some(p) = f.parent {
            conds.push(("parent =", Arg::Bytes(p.as_bytes().to_vec())));
        }
        push_ids(&mut conds, f.id_from, f.id_to, f.after);
        ListQuery::build(select, conds, f.limit, pg)
    }
}

fn push_ids(
    conds: &mut Vec<(&str, Arg)>,
    from: Option<Uuid>,
    to: Option<Uuid>,
    after: Option<Uuid>,
) {
    let id = |u: Uuid| Arg::Bytes(u.as_bytes().to_vec());
    if let Some(u) = from {
        conds.push(("id >=", id(u)));
    }
    if let Some(u) = to {
        conds.push(("id <", id(u)));
    }
    if let Some(u) = after {
        conds.push(("id >", id(u)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_floor_orders_with_real_v7_ids() {
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, 1_700_000_000, 5_000_000);
        let id = Uuid::new_v7(ts);
        assert!(uuid_v7_floor(1_700_000_000_005) <= id);
        assert!(uuid_v7_floor(1_700_000_000_006) > id);
    }

    #[test]
    fn key_ids_bound_their_hashes() {
        let hash = [7u8; 32];
        let (lo, hi) = hash_range(key_id(&hash));
        assert!(lo.as_slice() <= hash.as_slice() && hash.as_slice() <= hi.as_slice());
    }
}
