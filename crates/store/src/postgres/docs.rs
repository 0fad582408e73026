//! PostgreSQL side of documents.

use super::{PgStore, Tx};
use crate::docs::{DocEvent, DocRow};
use anyhow::Context;
use sqlx::postgres::PgRow;
use sqlx::Row;
use std::collections::HashMap;
use uuid::Uuid;

pub(super) const SCHEMA: &str = include_str!("../docs_pg.sql");
pub(super) const DOC_SELECT: &str =
    "SELECT kind, id, tenant, parent, open, day, version, body FROM docs";

pub(super) fn doc_row(r: &PgRow) -> anyhow::Result<DocRow> {
    let id: Vec<u8> = r.try_get(1)?;
    let parent: Option<Vec<u8>> = r.try_get(3)?;
    Ok(DocRow {
        kind: r.try_get(0)?,
        id: Uuid::from_slice(&id)?,
        tenant: r.try_get(2)?,
        parent: parent.map(|p| Uuid::from_slice(&p)).transpose()?,
        open: r.try_get(4)?,
        day: r.try_get(5)?,
        version: r.try_get(6)?,
        body: r.try_get(7)?,
    })
}

/// Fails with `StaleWrite` unless document `id` is at `version`.
pub(super) async fn check_doc_version(
    tx: &mut Tx<'_>,
    id: Uuid,
    version: i64,
) -> anyhow::Result<()> {
    let at: Option<i64> = sqlx::query_scalar("SELECT version FROM docs WHERE id = $1")
        .bind(id.as_bytes().to_vec())
        .fetch_optional(&mut **tx)
        .await
        .context("read document version")?;
    if at != Some(version) {
        return Err(crate::StaleWrite::error(format!(
            "document {id} is no longer at version {version}"
        )));
    }
    Ok(())
}

pub(super) async fn write_doc(
    tx: &mut Tx<'_>,
    row: &DocRow,
    expected_version: Option<i64>,
) -> anyhow::Result<()> {
    match expected_version {
        None => {
            sqlx::query("INSERT INTO docs (kind, id, tenant, parent, open, day, version, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(&row.kind)
                .bind(row.id.as_bytes().to_vec())
                .bind(&row.tenant)
                .bind(row.parent.map(|p| p.as_bytes().to_vec()))
                .bind(row.open)
                .bind(row.day)
                .bind(row.version)
                .bind(&row.body)
                .execute(&mut **tx)
                .await
                .context("insert document")?;
        }
        Some(v) => {
            let n = sqlx::query("UPDATE docs SET open = $2, day = $3, version = $4, body = $5 WHERE id = $1 AND version = $6")
                .bind(row.id.as_bytes().to_vec())
                .bind(row.open)
                .bind(row.day)
                .bind(row.version)
                .bind(&row.body)
                .bind(v)
                .execute(&mut **tx)
                .await
                .context("update document")?
                .rows_affected();
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

pub(super) async fn write_doc_event(tx: &mut Tx<'_>, e: &DocEvent) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO doc_events (doc_id, seq, day, kind, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(e.doc_id.as_bytes().to_vec())
    .bind(e.seq)
    .bind(e.day)
    .bind(&e.kind)
    .bind(&e.body)
    .execute(&mut **tx)
    .await
    .context("insert document event")?;
    Ok(())
}

impl PgStore {
    pub async fn doc(&self, id: Uuid) -> anyhow::Result<Option<DocRow>> {
        sqlx::query(&format!("{DOC_SELECT} WHERE id = $1"))
            .bind(id.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(doc_row)
            .transpose()
    }

    pub async fn doc_versions(&self, ids: Vec<Uuid>) -> anyhow::Result<HashMap<Uuid, i64>> {
        let keys: Vec<Vec<u8>> = ids.iter().map(|i| i.as_bytes().to_vec()).collect();
        let rows = sqlx::query("SELECT id, version FROM docs WHERE id = ANY($1)")
            .bind(keys)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let id: Vec<u8> = r.try_get(0)?;
                Ok((Uuid::from_slice(&id)?, r.try_get(1)?))
            })
            .collect()
    }

    pub async fn docs(
        &self,
        kind: String,
        open_before_day: Option<i32>,
        after: Option<Uuid>,
        limit: u32,
    ) -> anyhow::Result<Vec<DocRow>> {
        let after = after.map_or_else(Vec::new, |a| a.as_bytes().to_vec());
        let sql = match open_before_day {
            Some(_) => format!("{DOC_SELECT} WHERE kind = $1 AND open AND day < $4 AND id > $2 ORDER BY id LIMIT $3"),
            None => format!("{DOC_SELECT} WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3"),
        };
        let mut q = sqlx::query(&sql)
            .bind(kind)
            .bind(after)
            .bind(i64::from(limit));
        if let Some(day) = open_before_day {
            q = q.bind(day);
        }
        q.fetch_all(&self.pool).await?.iter().map(doc_row).collect()
    }

    pub async fn doc_events(&self, doc_id: Uuid) -> anyhow::Result<Vec<DocEvent>> {
        sqlx::query("SELECT seq, day, kind, body FROM doc_events WHERE doc_id = $1 ORDER BY seq")
            .bind(doc_id.as_bytes().to_vec())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(DocEvent {
                    doc_id,
                    seq: r.try_get(0)?,
                    day: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    body: r.try_get(3)?,
                })
            })
            .collect()
    }

    pub async fn trial_balance(&self) -> anyhow::Result<Vec<(String, i128, i128)>> {
        sqlx::query("SELECT currency, SUM(debits_posted)::TEXT, SUM(credits_posted)::TEXT FROM accounts GROUP BY currency ORDER BY currency")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let d: String = r.try_get(1)?;
                let c: String = r.try_get(2)?;
                Ok((r.try_get(0)?, d.parse()?, c.parse()?))
            })
            .collect()
    }
}
