//! SQLite side of documents.

use super::SqliteStore;
use crate::docs::{DocEvent, DocRow};
use rusqlite::{params, OptionalExtension, Row};
use std::collections::HashMap;
use uuid::Uuid;

pub(super) const SCHEMA: &str = include_str!("../docs_sqlite.sql");
pub(super) const DOC_SELECT: &str =
    "SELECT kind, id, tenant, parent, open, day, version, body FROM docs";

fn uuid_of(bytes: Vec<u8>) -> anyhow::Result<Uuid> {
    Ok(Uuid::from_slice(&bytes)?)
}

pub(super) fn doc_row(r: &Row<'_>) -> rusqlite::Result<anyhow::Result<DocRow>> {
    let id: Vec<u8> = r.get(1)?;
    let parent: Option<Vec<u8>> = r.get(3)?;
    let (kind, tenant, open, day, version, body) = (
        r.get(0)?,
        r.get(2)?,
        r.get::<_, i64>(4)? != 0,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    );
    Ok((|| {
        Ok(DocRow {
            kind,
            id: uuid_of(id)?,
            tenant,
            parent: parent.map(uuid_of).transpose()?,
            open,
            day,
            version,
            body,
        })
    })())
}

pub(super) fn write_doc(
    tx: &rusqlite::Transaction<'_>,
    row: &DocRow,
    expected_version: Option<i64>,
) -> anyhow::Result<()> {
    let parent = row.parent.map(|p| p.as_bytes().to_vec());
    match expected_version {
        None => {
            tx.prepare_cached("INSERT INTO docs (kind, id, tenant, parent, open, day, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
                .execute(params![row.kind, row.id.as_bytes(), row.tenant, parent, i64::from(row.open), row.day, row.version, row.body])?;
        }
        Some(v) => {
            // Most writes (a purchase on a line) keep `open` and `day`: an UPDATE that does
            // not set them leaves `docs_by_kind` alone, a page write fewer. Zero rows means
            // they changed or the version is stale; the full UPDATE tells which.
            let mut n = tx
                .prepare_cached("UPDATE docs SET version = ?2, body = ?3 WHERE id = ?1 AND version = ?4 AND open = ?5 AND day = ?6")?
                .execute(params![row.id.as_bytes(), row.version, row.body, v, i64::from(row.open), row.day])?;
            if n == 0 {
                n = tx
                    .prepare_cached("UPDATE docs SET open = ?2, day = ?3, version = ?4, body = ?5 WHERE id = ?1 AND version = ?6")?
                    .execute(params![row.id.as_bytes(), i64::from(row.open), row.day, row.version, row.body, v])?;
            }
            if n != 1 {
                return Err(crate::StaleWrite::error(format!(
                    "{} {} is no longer at version {v}",
                    row.kind, row.id
                )));
            }
        }
    }
    Ok(())
}

/// Fails with `StaleWrite` unless document `id` is at `version`.
pub(super) fn check_doc_version(
    tx: &rusqlite::Transaction<'_>,
    id: Uuid,
    version: i64,
) -> anyhow::Result<()> {
    let at: Option<i64> = tx
        .prepare_cached("SELECT version FROM docs WHERE id = ?1")?
        .query_row(params![id.as_bytes()], |r| r.get(0))
        .optional()?;
    if at != Some(version) {
        return Err(crate::StaleWrite::error(format!(
            "document {id} is no longer at version {version}"
        )));
    }
    Ok(())
}

pub(super) fn write_doc_event(tx: &rusqlite::Transaction<'_>, e: &DocEvent) -> anyhow::Result<()> {
    tx.prepare_cached(
        "INSERT INTO doc_events (doc_id, seq, day, kind, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![e.doc_id.as_bytes(), e.seq, e.day, e.kind, e.body])?;
    Ok(())
}

impl SqliteStore {
    pub async fn doc(&self, id: Uuid) -> anyhow::Result<Option<DocRow>> {
        self.with_reader(move |c| {
            c.prepare_cached(&format!("{DOC_SELECT} WHERE id = ?1"))?
                .query_row([id.as_bytes()], doc_row)
                .optional()?
                .transpose()
        })
        .await
    }

    pub async fn doc_versions(&self, ids: Vec<Uuid>) -> anyhow::Result<HashMap<Uuid, i64>> {
        self.with_reader(move |c| {
            let mut out = HashMap::new();
            let mut stmt = c.prepare_cached("SELECT version FROM docs WHERE id = ?1")?;
            for id in ids {
                if let Some(v) = stmt
                    .query_row([id.as_bytes()], |r| r.get::<_, i64>(0))
                    .optional()?
                {
                    out.insert(id, v);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Documents of `kind` (only open ones with `day < before_day` when given), by id.
    pub async fn docs(
        &self,
        kind: String,
        open_before_day: Option<i32>,
        after: Option<Uuid>,
        limit: u32,
    ) -> anyhow::Result<Vec<DocRow>> {
        self.with_reader(move |c| {
            let after = after.map_or_else(Vec::new, |a| a.as_bytes().to_vec());
            let rows = match open_before_day {
                Some(day) => c
                    .prepare_cached(&format!("{DOC_SELECT} WHERE kind = ?1 AND open = 1 AND day < ?2 AND id > ?3 ORDER BY id LIMIT ?4"))?
                    .query_map(params![kind, day, after, limit], doc_row)?
                    .collect::<Result<Vec<_>, _>>()?,
                None => c
                    .prepare_cached(&format!("{DOC_SELECT} WHERE kind = ?1 AND id > ?2 ORDER BY id LIMIT ?3"))?
                    .query_map(params![kind, after, limit], doc_row)?
                    .collect::<Result<Vec<_>, _>>()?,
            };
            rows.into_iter().collect()
        })
        .await
    }

    pub async fn doc_events(&self, doc_id: Uuid) -> anyhow::Result<Vec<DocEvent>> {
        self.with_reader(move |c| {
            let rows = c
                .prepare_cached(
                    "SELECT seq, day, kind, body FROM doc_events WHERE doc_id = ?1 ORDER BY seq",
                )?
                .query_map([doc_id.as_bytes()], |r| {
                    Ok(DocEvent {
                        doc_id,
                        seq: r.get(0)?,
                        day: r.get(1)?,
                        kind: r.get(2)?,
                        body: r.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }
}
