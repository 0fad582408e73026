//! Loan products, loan rows and their events, and close of business's progress per
//! partition; apart from the ledger's rows, which `sqlite.rs` reads.

use super::SqliteStore;
use crate::codec;
use crate::loans::{LoanEvent, LoanRow, ProductRow, ProductWriteError};
use rusqlite::{params, OptionalExtension, Row};

impl SqliteStore {
    pub async fn insert_product(&self, row: ProductRow) -> Result<bool, ProductWriteError> {
        let outcome = self
            .with_writer(move |c| {
                let n = c.execute(
                    "INSERT OR IGNORE INTO loan_products (id, version, body, created_at_ms, tenant) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![row.id.as_bytes(), row.version, row.body, row.created_at_ms, row.tenant],
                )?;
                if n == 1 {
                    return Ok(Some(true));
                }
                let (body, tenant): (Vec<u8>, String) = c.query_row(
                    "SELECT body, tenant FROM loan_products WHERE id = ?1 AND version = ?2",
                    params![row.id.as_bytes(), row.version],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                Ok((body == row.body && tenant == row.tenant).then_some(false))
            })
            .await?;
        outcome.ok_or(ProductWriteError::VersionExists {
            id: row.id,
            version: row.version,
        })
    }

    pub async fn product(
        &self,
        id: uuid::Uuid,
        version: Option<i32>,
    ) -> anyhow::Result<Option<ProductRow>> {
        self.with_reader(move |c| {
            let sql = "SELECT version, body, created_at_ms, tenant FROM loan_products WHERE id = ?1 AND (?2 IS NULL OR version = ?2) ORDER BY version DESC LIMIT 1";
            Ok(c.prepare_cached(sql)?
                .query_row(params![id.as_bytes(), version], |r| {
                    Ok(ProductRow {
                        id,
                        version: r.get(0)?,
                        body: r.get(1)?,
                        created_at_ms: r.get(2)?,
                        tenant: r.get(3)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    pub async fn loan(&self, id: uuid::Uuid) -> anyhow::Result<Option<LoanRow>> {
        self.with_reader(move |c| {
            c.prepare_cached(&format!("{LOAN_SELECT} WHERE id = ?1"))?
                .query_row([id.as_bytes()], loan_row)
                .optional()?
                .transpose()
        })
        .await
    }

    pub async fn loan_versions(
        &self,
        ids: Vec<uuid::Uuid>,
    ) -> anyhow::Result<std::collections::HashMap<uuid::Uuid, i64>> {
        self.with_reader(move |c| {
            let mut out = std::collections::HashMap::new();
            let mut stmt = c.prepare_cached("SELECT version FROM loans WHERE id = ?1")?;
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

    pub async fn loan_events(&self, id: uuid::Uuid) -> anyhow::Result<Vec<LoanEvent>> {
        self.with_reader(move |c| {
            let rows = c
                .prepare_cached(
                    "SELECT seq, day, kind, body FROM loan_events WHERE loan_id = ?1 ORDER BY seq",
                )?
                .query_map([id.as_bytes()], |r| {
                    Ok(LoanEvent {
                        loan_id: id,
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

    pub async fn loans_for_cob(
        &self,
        partition: i32,
        before_day: i32,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> anyhow::Result<Vec<LoanRow>> {
        self.with_reader(move |c| {
            let after = after.map_or_else(Vec::new, |a| a.as_bytes().to_vec());
            c.prepare_cached(&format!(
                "{LOAN_SELECT} WHERE partition = ?1 AND open = 1 AND id > ?2 AND day < ?3 ORDER BY id LIMIT ?4"
            ))?
            .query_map(params![partition, after, before_day, limit], loan_row)?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .collect()
        })
        .await
    }

    pub async fn cob_done(&self, day: i32) -> anyhow::Result<Vec<i32>> {
        self.with_reader(move |c| {
            Ok(
                c.prepare_cached("SELECT partition FROM cob_progress WHERE day = ?1")?
                    .query_map([day], |r| r.get(0))?
                    .collect::<Result<Vec<_>, _>>()?,
            )
        })
        .await
    }
}

pub(super) const LOAN_SELECT: &str = "SELECT id, partition, tenant, borrower, product_id, product_version, stage, day, open, version, state, dpd FROM loans";

pub(super) fn loan_row(r: &Row<'_>) -> rusqlite::Result<anyhow::Result<LoanRow>> {
    let id: Vec<u8> = r.get(0)?;
    let product: Vec<u8> = r.get(4)?;
    let (partition, tenant, borrower, product_version, stage, day, open, version, state) = (
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get::<_, i64>(8)?,
        r.get(9)?,
        r.get(10)?,
    );
    Ok((|| {
        Ok(LoanRow {
            id: codec::uuid_from(&id, "loan")?,
            partition,
            tenant,
            borrower,
            product_id: codec::uuid_from(&product, "product")?,
            product_version,
            stage,
            day,
            open: open == 1,
            version,
            dpd: r.get(11)?,
            state,
        })
    })())
}
