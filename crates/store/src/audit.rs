//! The audit log: every change and every plaintext read of personal data, append-only and
//! hash-chained. Each row's hash is SHA-256(previous row's hash ‖ its record bytes), the
//! first row's previous hash being 32 zero bytes, and rows are numbered 1, 2, 3… without
//! gaps. The chain is extended inside the appending transaction (SQLite's one writer,
//! PostgreSQL's advisory lock), so two processes on one database still make one chain.
//! Triggers refuse updates and deletes; someone who drops them and edits a row is caught by
//! [`verify_audit`].

use crate::{Hash, Store};
use sha2::{Digest, Sha256};

/// The advisory lock PostgreSQL appenders take for the chain's tail.
pub const PG_AUDIT_LOCK_KEY: i64 = 0x7075_6875_6961_7564; // "puhuiaud"

/// One stored link of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    /// The canonical record (JSON) as written; the hash covers these bytes exactly.
    pub record: Vec<u8>,
    pub prev_hash: Hash,
    pub hash: Hash,
}

/// The hash of a link.
pub fn audit_hash(prev: &Hash, record: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(record);
    h.finalize().into()
}

/// Links for `records` after the tail `(seq, hash)`.
pub(crate) fn chain(tail: (i64, Hash), records: Vec<Vec<u8>>) -> Vec<AuditRow> {
    let (mut seq, mut prev) = tail;
    records
        .into_iter()
        .map(|record| {
            seq += 1;
            let hash = audit_hash(&prev, &record);
            let row = AuditRow {
                seq,
                record,
                prev_hash: prev,
                hash,
            };
            prev = hash;
            row
        })
        .collect()
}

/// The first link that does not hold, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditBreak {
    pub seq: i64,
    pub reason: String,
}

/// What a verification found: the links checked and the first broken one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditVerdict {
    pub checked: u64,
    pub head: Option<(i64, Hash)>,
    pub broken: Option<AuditBreak>,
}

/// Recomputes the whole chain page by page.
pub async fn verify_audit(store: &Store) -> anyhow::Result<AuditVerdict> {
    let mut prev: Hash = [0u8; 32];
    let mut expect_seq = 1i64;
    let mut checked = 0u64;
    loop {
        let page = store.audit_after(expect_seq - 1, 1_000).await?;
        if page.is_empty() {
            break;
        }
        for row in page {
            let reason = if row.seq != expect_seq {
                Some(format!("expected link {expect_seq}, found {}", row.seq))
            } else if row.prev_hash != prev {
                Some("its previous hash is not the hash of the link before it".to_string())
            } else if row.hash != audit_hash(&prev, &row.record) {
                Some("its hash does not match its record".to_string())
            } else {
                None
            };
            if let Some(reason) = reason {
                return Ok(AuditVerdict {
                    checked,
                    head: Some((expect_seq - 1, prev)).filter(|(s, _)| *s > 0),
                    broken: Some(AuditBreak {
                        seq: expect_seq,
                        reason,
                    }),
                });
            }
            prev = row.hash;
            expect_seq += 1;
            checked += 1;
        }
    }
    Ok(AuditVerdict {
        checked,
        head: Some((expect_seq - 1, prev)).filter(|(s, _)| *s > 0),
        broken: None,
    })
}

impl Store {
    /// Appends `records` in order, in one transaction, extending the chain.
    pub async fn append_audit(&self, records: Vec<Vec<u8>>) -> anyhow::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        match self {
            Store::Sqlite(s) => s.append_audit(records).await,
            Store::Postgres(s) => s.append_audit(records).await,
        }
    }

    /// Links with `seq` above `after`, in order, at most `limit`.
    pub async fn audit_after(&self, after: i64, limit: u32) -> anyhow::Result<Vec<AuditRow>> {
        match self {
            Store::Sqlite(s) => s.audit_after(after, limit).await,
            Store::Postgres(s) => s.audit_after(after, limit).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_link_covers_the_one_before() {
        let rows = chain((0, [0; 32]), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(rows[0].seq, 1);
        assert_eq!(rows[1].prev_hash, rows[0].hash);
        assert_eq!(rows[1].hash, audit_hash(&rows[0].hash, b"b"));
        assert_ne!(rows[0].hash, rows[1].hash);
    }
}
