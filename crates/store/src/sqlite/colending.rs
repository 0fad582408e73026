//! SQLite side of the co-lending reads (`crate::colending`).

use super::docs::{doc_row, DOC_SELECT};
use super::SqliteStore;
use crate::docs::DocRow;
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

impl SqliteStore {
    pub async fn docs_by_ids(&self, ids: Vec<Uuid>) -> anyhow::Result<Vec<DocRow>> {
        self.with_reader(move |c| {
            let mut stmt = c.prepare_cached(&format!("{DOC_SELECT} WHERE id = ?1"))?;
            let mut out = Vec::new();
            for id in ids {
                if let Some(row) = stmt.query_row([id.as_bytes()], doc_row).optional()? {
                    out.push(row?);
                }
            }
            Ok(out)
        })
        .await
    }

    pub async fn closed_docs_by_day(
        &self,
        kind: String,
        day_from: i32,
        day_to: i32,
        after: Option<(i32, Uuid)>,
        limit: u32,
    ) -> anyhow::Result<Vec<DocRow>> {
        self.with_reader(move |c| {
            let (after_day, after_id) = match after {
                Some((d, id)) => (d, id.as_bytes().to_vec()),
                None => (day_from, Vec::new()),
            };
            let sql = format!(
                "{DOC_SELECT} WHERE kind = ?1 AND open = 0 AND day >= ?2 AND day <= ?3 \
                 AND (day > ?4 OR (day = ?4 AND id > ?5)) ORDER BY day, id LIMIT ?6"
            );
            let rows = c
                .prepare_cached(&sql)?
                .query_map(
                    params![kind, day_from, day_to, after_day, after_id, limit],
                    doc_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().collect()
        })
        .await
    }

    /// Row ids of a kind's documents in a tenant, ascending: the order of the table's file.
    pub async fn doc_rowids(&self, kind: String, tenant: String) -> anyhow::Result<Vec<i64>> {
        self.with_reader(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT rowid FROM docs INDEXED BY docs_by_tenant WHERE kind = ?1 AND tenant = ?2",
            )?;
            let mut ids = stmt
                .query_map(params![kind, tenant], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // Sorted here, not by SQL: the index hands them out in id order.
            ids.sort_unstable();
            Ok(ids)
        })
        .await
    }

    /// The documents of these row ids that still exist, in the order given.
    pub async fn docs_by_rowids(&self, rowids: Vec<i64>) -> anyhow::Result<Vec<DocRow>> {
        self.with_reader(move |c| {
            let mut stmt = c.prepare_cached(&format!("{DOC_SELECT} WHERE rowid = ?1"))?;
            let mut out = Vec::with_capacity(rowids.len());
            for rowid in rowids {
                if let Some(row) = stmt.query_row([rowid], doc_row).optional()? {
                    out.push(row?);
                }
            }
            Ok(out)
        })
        .await
    }
}
