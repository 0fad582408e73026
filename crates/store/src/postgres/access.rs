//! PostgreSQL side of API keys and the API's lists (crates/store/src/access.rs).

use super::docs::{doc_row, DOC_SELECT};
use super::loans::{loan_from_row, LOAN_SELECT};
use super::PgStore;
use crate::access::{hash_range, Arg, ListQuery};
use crate::{ApiKeyRow, DocFilter, DocRow, Hash, LoanFilter, LoanRow};
use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

/// Columns and indexes added after the first schema; existing products go to `default`,
/// the tenant `*` keys create in. A column is added only when the catalogue lacks it:
/// `ALTER TABLE … ADD COLUMN IF NOT EXISTS` takes the table's exclusive lock even when the
/// column is there, so every command opening the store beside a running server (`ledger
/// verify`, `audit verify`) would queue behind its transactions and stall them meanwhile.
pub(super) const MIGRATION: &str = "
DO $$ DECLARE c RECORD; BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('api_keys', 'party_kind', 'TEXT'),
        ('api_keys', 'party_id', 'TEXT'),
        ('api_keys', 'expires_at_ms', 'BIGINT'),
        ('api_keys', 'revoked_at_ms', 'BIGINT'),
        ('api_keys', 'rate_limit_per_s', 'BIGINT'),
        ('loan_products', 'tenant', 'TEXT NOT NULL DEFAULT ''default'''),
        ('loans', 'dpd', 'INTEGER NOT NULL DEFAULT 0')) AS v(tbl, col, def)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = current_schema() AND table_name = c.tbl
                         AND column_name = c.col) THEN
            EXECUTE format('ALTER TABLE %I ADD COLUMN %I %s', c.tbl, c.col, c.def);
        END IF;
    END LOOP;
END $$;
CREATE INDEX IF NOT EXISTS loans_by_tenant ON loans (tenant, id);
CREATE INDEX IF NOT EXISTS loans_by_borrower ON loans (tenant, borrower, id);
CREATE INDEX IF NOT EXISTS loans_by_stage ON loans (tenant, stage, id);
CREATE INDEX IF NOT EXISTS docs_by_tenant ON docs (kind, tenant, id);
CREATE INDEX IF NOT EXISTS loans_overdue ON loans (tenant, dpd, id) WHERE dpd > 0;
";

const KEY_SELECT: &str = "SELECT key_hash, role, tenant, label, party_kind, party_id, expires_at_ms, revoked_at_ms, rate_limit_per_s FROM api_keys";

fn key_row(r: &PgRow) -> anyhow::Result<ApiKeyRow> {
    let hash: Vec<u8> = r.try_get(0)?;
    Ok(ApiKeyRow {
        key_hash: hash
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("stored key hash has {} bytes", hash.len()))?,
        role: r.try_get(1)?,
        tenant: r.try_get(2)?,
        label: r.try_get(3)?,
        party_kind: r.try_get(4)?,
        party_id: r.try_get(5)?,
        expires_at_ms: r.try_get(6)?,
        revoked_at_ms: r.try_get(7)?,
        rate_limit_per_s: r.try_get(8)?,
    })
}

fn bind<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for a in args {
        q = match a {
            Arg::Text(t) => q.bind(t.as_str()),
            Arg::Bytes(b) => q.bind(b.as_slice()),
            Arg::Int(i) => q.bind(*i),
        };
    }
    q
}

impl PgStore {
    pub async fn insert_api_key(&self, k: ApiKeyRow) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO api_keys (key_hash, role, tenant, label, party_kind, party_id, expires_at_ms, revoked_at_ms, rate_limit_per_s) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(k.key_hash.to_vec())
            .bind(k.role)
            .bind(k.tenant)
            .bind(k.label)
            .bind(k.party_kind)
            .bind(k.party_id)
            .bind(k.expires_at_ms)
            .bind(k.revoked_at_ms)
            .bind(k.rate_limit_per_s)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn api_key(&self, key_hash: Hash) -> anyhow::Result<Option<ApiKeyRow>> {
        sqlx::query(&format!("{KEY_SELECT} WHERE key_hash = $1"))
            .bind(key_hash.to_vec())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(key_row)
            .transpose()
    }

    pub async fn api_key_by_id(&self, id: Uuid) -> anyhow::Result<Option<ApiKeyRow>> {
        let (lo, hi) = hash_range(id);
        sqlx::query(&format!(
            "{KEY_SELECT} WHERE key_hash BETWEEN $1 AND $2 LIMIT 1"
        ))
        .bind(lo)
        .bind(hi)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(key_row)
        .transpose()
    }

    pub async fn api_keys(
        &self,
        tenant: Option<String>,
        after: Option<Hash>,
        limit: u32,
    ) -> anyhow::Result<Vec<ApiKeyRow>> {
        let after = after.map_or_else(Vec::new, |h| h.to_vec());
        sqlx::query(&format!("{KEY_SELECT} WHERE key_hash > $1 AND ($2::text IS NULL OR tenant = $2) ORDER BY key_hash LIMIT $3"))
            .bind(after)
            .bind(tenant)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(key_row)
            .collect()
    }

    pub async fn revoke_api_key(&self, id: Uuid, at_ms: i64) -> anyhow::Result<Option<ApiKeyRow>> {
        let (lo, hi) = hash_range(id);
        sqlx::query("UPDATE api_keys SET revoked_at_ms = coalesce(revoked_at_ms, $3) WHERE key_hash BETWEEN $1 AND $2")
            .bind(&lo)
            .bind(&hi)
            .bind(at_ms)
            .execute(&self.pool)
            .await?;
        self.api_key_by_id(id).await
    }

    pub async fn loans_page(&self, f: LoanFilter) -> anyhow::Result<Vec<LoanRow>> {
        let q = ListQuery::loans(LOAN_SELECT, f, true);
        let mut rows = bind(sqlx::query(&q.sql), &q.args).fetch(&self.pool);
        let mut out = Vec::new();
        while let Some(r) = rows.try_next().await? {
            out.push(loan_from_row(&r)?);
        }
        Ok(out)
    }

    pub async fn docs_page(&self, f: DocFilter) -> anyhow::Result<Vec<DocRow>> {
        let q = ListQuery::docs(DOC_SELECT, f, true);
        let mut rows = bind(sqlx::query(&q.sql), &q.args).fetch(&self.pool);
        let mut out = Vec::new();
        while let Some(r) = rows.try_next().await? {
            out.push(doc_row(&r)?);
        }
        Ok(out)
    }
}
