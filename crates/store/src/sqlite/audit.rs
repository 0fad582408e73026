//! SQLite side of the audit log (crates/store/src/audit.rs).

use super::SqliteStore;
use crate::audit::{chain, AuditRow};
use crate::Hash;
use rusqlite::{params, OptionalExtension, Row};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    record BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

fn hash_of(v: Vec<u8>) -> Hash {
    let mut h = [0u8; 32];
    if v.len() == 32 {
        h.copy_from_slice(&v);
    }
    h
}

fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        record: r.get(1)?,
        prev_hash: hash_of(r.get(2)?),
        hash: hash_of(r.get(3)?),
    })
}

impl SqliteStore {
    pub(crate) async fn append_audit(&self, records: Vec<Vec<u8>>) -> anyhow::Result<()> {
        self.with_writer(move |c| {
            let tx = c.transaction()?;
            let tail = tx
                .query_row(
                    "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| Ok((r.get::<_, i64>(0)?, hash_of(r.get(1)?))),
                )
                .optional()?
                .unwrap_or((0, [0u8; 32]));
            {
                let mut ins = tx.prepare_cached(
                    "INSERT INTO audit_log (seq, record, prev_hash, hash) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for row in chain(tail, records) {
                    ins.execute(params![
                        row.seq,
                        row.record,
                        row.prev_hash.to_vec(),
                        row.hash.to_vec()
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn audit_after(
        &self,
        after: i64,
        limit: u32,
    ) -> anyhow::Result<Vec<AuditRow>> {
        self.with_reader(move |c| {
            let rows = c
                .prepare_cached(
                    "SELECT seq, record, prev_hash, hash FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )?
                .query_map(params![after, limit], audit_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }
}
