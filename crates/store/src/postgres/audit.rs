//! PostgreSQL side of the audit log (crates/store/src/audit.rs).

use super::PgStore;
use crate::audit::{chain, AuditRow, PG_AUDIT_LOCK_KEY};
use crate::Hash;
use sqlx::Row;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_log (
    seq BIGINT PRIMARY KEY,
    record BYTEA NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END;
$$ LANGUAGE plpgsql;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgname = 'audit_log_append_only' AND tgrelid = 'audit_log'::regclass) THEN
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
    END IF;
END $$;
";

fn hash_of(v: Vec<u8>) -> anyhow::Result<Hash> {
    v.as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("stored audit hash has {} bytes", v.len()))
}

impl PgStore {
    pub(crate) async fn append_audit(&self, records: Vec<Vec<u8>>) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PG_AUDIT_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        let tail = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let tail = match tail {
            Some(r) => (r.try_get::<i64, _>(0)?, hash_of(r.try_get(1)?)?),
            None => (0, [0u8; 32]),
        };
        let rows = chain(tail, records);
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        let recs: Vec<Vec<u8>> = rows.iter().map(|r| r.record.clone()).collect();
        let prevs: Vec<Vec<u8>> = rows.iter().map(|r| r.prev_hash.to_vec()).collect();
        let hashes: Vec<Vec<u8>> = rows.iter().map(|r| r.hash.to_vec()).collect();
        sqlx::query(
            "INSERT INTO audit_log (seq, record, prev_hash, hash)
             SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bytea[])",
        )
        .bind(seqs)
        .bind(recs)
        .bind(prevs)
        .bind(hashes)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn audit_after(
        &self,
        after: i64,
        limit: u32,
    ) -> anyhow::Result<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT seq, record, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(AuditRow {
                    seq: r.try_get(0)?,
                    record: r.try_get(1)?,
                    prev_hash: hash_of(r.try_get(2)?)?,
                    hash: hash_of(r.try_get(3)?)?,
                })
            })
            .collect()
    }
}
