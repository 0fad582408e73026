//! SQLite side of API keys and the API's lists (crates/store/src/access.rs).

use super::docs::{doc_row, DOC_SELECT};
use super::loans::{loan_row, LOAN_SELECT};
use super::SqliteStore;
use crate::access::{hash_range, Arg, ListQuery};
use crate::{ApiKeyRow, DocFilter, DocRow, Hash, LoanFilter, LoanRow};
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql};
use uuid::Uuid;

const KEY_SELECT: &str = "SELECT key_hash, role, tenant, label, party_kind, party_id, expires_at_ms, revoked_at_ms, rate_limit_per_s FROM api_keys";

fn key_row(r: &Row<'_>) -> rusqlite::Result<ApiKeyRow> {
    let hash: Vec<u8> = r.get(0)?;
    let mut key_hash = [0u8; 32];
    if hash.len() == 32 {
        key_hash.copy_from_slice(&hash);
    }
    Ok(ApiKeyRow {
        key_hash,
        role: r.get(1)?,
        tenant: r.get(2)?,
        label: r.get(3)?,
        party_kind: r.get(4)?,
        party_id: r.get(5)?,
        expires_at_ms: r.get(6)?,
        revoked_at_ms: r.get(7)?,
        rate_limit_per_s: r.get(8)?,
    })
}

/// Data directories from before keys could be bound, expire or be revoked, and before
/// products had a tenant (existing products go to `default`, where `*` keys create).
pub(super) fn add_access_columns(c: &mut Connection) -> anyhow::Result<()> {
    let tx = c.transaction()?;
    for (table, column, decl) in [
        ("api_keys", "party_kind", "TEXT"),
        ("api_keys", "party_id", "TEXT"),
        ("api_keys", "expires_at_ms", "INTEGER"),
        ("api_keys", "revoked_at_ms", "INTEGER"),
        ("api_keys", "rate_limit_per_s", "INTEGER"),
        ("loan_products", "tenant", "TEXT NOT NULL DEFAULT 'default'"),
        // Rows written before this column say 0 until their loan is next written; an
        // overdue loan is written at every close of business.
        ("loans", "dpd", "INTEGER NOT NULL DEFAULT 0"),
    ] {
        let has: i64 = tx.query_row(
            "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |r| r.get(0),
        )?;
        if has == 0 {
            tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
        }
    }
    tx.execute_batch(
        "CREATE INDEX IF NOT EXISTS loans_by_tenant ON loans (tenant, id);
         CREATE INDEX IF NOT EXISTS loans_by_borrower ON loans (tenant, borrower, id);
         CREATE INDEX IF NOT EXISTS loans_by_stage ON loans (tenant, stage, id);
         CREATE INDEX IF NOT EXISTS docs_by_tenant ON docs (kind, tenant, id);
         CREATE INDEX IF NOT EXISTS loans_overdue ON loans (tenant, dpd, id) WHERE dpd > 0;",
    )?;
    tx.commit()?;
    Ok(())
}

fn bind(args: &[Arg]) -> Vec<&dyn ToSql> {
    args.iter()
        .map(|a| match a {
            Arg::Text(t) => t as &dyn ToSql,
            Arg::Bytes(b) => b as &dyn ToSql,
            Arg::Int(i) => i as &dyn ToSql,
        })
        .collect()
}

impl SqliteStore {
    pub async fn insert_api_key(&self, k: ApiKeyRow) -> anyhow::Result<()> {
        self.with_writer(move |c| {
            c.execute(
                "INSERT INTO api_keys (key_hash, role, tenant, label, party_kind, party_id, expires_at_ms, revoked_at_ms, rate_limit_per_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![k.key_hash.to_vec(), k.role, k.tenant, k.label, k.party_kind, k.party_id, k.expires_at_ms, k.revoked_at_ms, k.rate_limit_per_s],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn api_key(&self, key_hash: Hash) -> anyhow::Result<Option<ApiKeyRow>> {
        self.with_reader(move |c| {
            Ok(
                c.prepare_cached(&format!("{KEY_SELECT} WHERE key_hash = ?1"))?
                    .query_row([key_hash.to_vec()], key_row)
                    .optional()?,
            )
        })
        .await
    }

    pub async fn api_key_by_id(&self, id: Uuid) -> anyhow::Result<Option<ApiKeyRow>> {
        let (lo, hi) = hash_range(id);
        self.with_reader(move |c| {
            Ok(c.prepare_cached(&format!(
                "{KEY_SELECT} WHERE key_hash BETWEEN ?1 AND ?2 LIMIT 1"
            ))?
            .query_row(params![lo, hi], key_row)
            .optional()?)
        })
        .await
    }

    pub async fn api_keys(
        &self,
        tenant: Option<String>,
        after: Option<Hash>,
        limit: u32,
    ) -> anyhow::Result<Vec<ApiKeyRow>> {
        let after = after.map_or_else(Vec::new, |h| h.to_vec());
        self.with_reader(move |c| {
            let sql = format!("{KEY_SELECT} WHERE key_hash > ?1 AND (?2 IS NULL OR tenant = ?2) ORDER BY key_hash LIMIT ?3");
            let rows = c
                .prepare_cached(&sql)?
                .query_map(params![after, tenant, limit], key_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn revoke_api_key(&self, id: Uuid, at_ms: i64) -> anyhow::Result<Option<ApiKeyRow>> {
        let (lo, hi) = hash_range(id);
        self.with_writer(move |c| {
            c.execute(
                "UPDATE api_keys SET revoked_at_ms = coalesce(revoked_at_ms, ?3) WHERE key_hash BETWEEN ?1 AND ?2",
                params![lo, hi, at_ms],
            )?;
            Ok(c
                .prepare_cached(&format!(
                    "{KEY_SELECT} WHERE key_hash BETWEEN ?1 AND ?2 LIMIT 1"
                ))?
                .query_row(params![lo, hi], key_row)
                .optional()?)
        })
        .await
    }

    pub async fn loans_page(&self, f: LoanFilter) -> anyhow::Result<Vec<LoanRow>> {
        let q = ListQuery::loans(LOAN_SELECT, f, false);
        self.with_reader(move |c| {
            let args = bind(&q.args);
            let mut stmt = c.prepare_cached(&q.sql)?;
            let rows = stmt
                .query_map(args.as_slice(), loan_row)?
                .map(|r| r.map_err(anyhow::Error::from).and_then(|x| x))
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn docs_page(&self, f: DocFilter) -> anyhow::Result<Vec<DocRow>> {
        let q = ListQuery::docs(DOC_SELECT, f, false);
        self.with_reader(move |c| {
            let args = bind(&q.args);
            let mut stmt = c.prepare_cached(&q.sql)?;
            let rows = stmt
                .query_map(args.as_slice(), doc_row)?
                .map(|r| r.map_err(anyhow::Error::from).and_then(|x| x))
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }
}
