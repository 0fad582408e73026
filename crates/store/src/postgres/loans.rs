//! Loan products, loan rows and their events, and close of business's progress per
//! partition; apart from the ledger's rows, which `postgres.rs` reads.

use super::PgStore;
use crate::codec;
use crate::loans::{LoanEvent, LoanRow, ProductRow, ProductWriteError};
use anyhow::Context;
use sqlx::Row;

impl PgStore {
    pub async fn insert_product(&self, row: ProductRow) -> Result<bool, ProductWriteError> {
        let n = sqlx::query("INSERT INTO loan_products (id, version, body, created_at_ms, tenant) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
            .bind(row.id.as_bytes().to_vec())
            .bind(row.version)
            .bind(&row.body)
            .bind(row.created_at_ms)
            .bind(&row.tenant)
            .execute(&self.pool)
            .await
            .context("insert product")?
            .rows_affected();
        if n == 1 {
            return Ok(true);
        }
        let (body, tenant): (Vec<u8>, String) =
            sqlx::query_as("SELECT body, tenant FROM loan_products WHERE id = $1 AND version = $2")
                .bind(row.id.as_bytes().to_vec())
                .bind(row.version)
                .fetch_one(&self.pool)
                .await
                .context("read product")?;
        if body == row.body && tenant == row.tenant {
            Ok(false)
        } else {
            Err(ProductWriteError::VersionExists {
                id: row.id,
                version: row.version,
            })
        }
    }

    pub async fn product(
        &self,
        id: uuid::Uuid,
        version: Option<i32>,
    ) -> anyhow::Result<Option<ProductRow>> {
        let row = sqlx::query("SELECT version, body, created_at_ms, tenant FROM loan_products WHERE id = $1 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1")
            .bind(id.as_bytes().to_vec())
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(ProductRow {
                id,
                version: r.try_get(0)?,
                body: r.try_get(1)?,
                created_at_ms: r.try_get(2)?,
                tenant: r.try_get(3)?,
            })
        })
        .transpose()
    }

    pub async fn loan(&self, id: uuid::Uuid) -> anyhow::Result<Option<LoanRow>> {
        sqlx::query(&format!("{LOAN_SELECT} WHERE id = $1"))
            .bind(id.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| loan_from_row(&r))
            .transpose()
    }

    pub async fn loan_versions(
        &self,
        ids: Vec<uuid::Uuid>,
    ) -> anyhow::Result<std::collections::HashMap<uuid::Uuid, i64>> {
        let raw: Vec<Vec<u8>> = ids.iter().map(|i| i.as_bytes().to_vec()).collect();
        let mut out = std::collections::HashMap::new();
        for r in sqlx::query(
            "SELECT l.id, l.version FROM UNNEST($1::bytea[]) AS u(id) JOIN loans l ON l.id = u.id",
        )
        .bind(raw)
        .fetch_all(&self.pool)
        .await?
        {
            out.insert(
                codec::uuid_from(&r.try_get::<Vec<u8>, _>(0)?, "loan")?,
                r.try_get(1)?,
            );
        }
        Ok(out)
    }

    pub async fn loan_events(&self, id: uuid::Uuid) -> anyhow::Result<Vec<LoanEvent>> {
        sqlx::query("SELECT seq, day, kind, body FROM loan_events WHERE loan_id = $1 ORDER BY seq")
            .bind(id.as_bytes().to_vec())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(LoanEvent {
                    loan_id: id,
                    seq: r.try_get(0)?,
                    day: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    body: r.try_get(3)?,
                })
            })
            .collect()
    }

    pub async fn loans_for_cob(
        &self,
        partition: i32,
        before_day: i32,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> anyhow::Result<Vec<LoanRow>> {
        loans_for_cob_on(&self.pool, partition, before_day, after, limit).await
    }

    pub async fn cob_done(&self, day: i32) -> anyhow::Result<Vec<i32>> {
        Ok(
            sqlx::query_scalar("SELECT partition FROM cob_progress WHERE day = $1")
                .bind(day)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

pub(super) const LOAN_SELECT: &str = "SELECT id, partition, tenant, borrower, product_id, product_version, stage, day, open, version, state, dpd FROM loans";

/// Open loans of `partition` still before `before_day`, by id after `after`, on any
/// connection (a worker's claim reads inside its transaction).
pub(super) async fn loans_for_cob_on<'e, E>(
    executor: E,
    partition: i32,
    before_day: i32,
    after: Option<uuid::Uuid>,
    limit: u32,
) -> anyhow::Result<Vec<LoanRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    let after = after.map_or_else(Vec::new, |a| a.as_bytes().to_vec());
    sqlx::query(&format!(
        "{LOAN_SELECT} WHERE partition = $1 AND open AND id > $2 AND day < $3 ORDER BY id LIMIT $4"
    ))
    .bind(partition)
    .bind(after)
    .bind(before_day)
    .bind(i64::from(limit))
    .fetch_all(executor)
    .await?
    .iter()
    .map(loan_from_row)
    .collect()
}

pub(super) fn loan_from_row(r: &sqlx::postgres::PgRow) -> anyhow::Result<LoanRow> {
    Ok(LoanRow {
        id: codec::uuid_from(&r.try_get::<Vec<u8>, _>(0)?, "loan")?,
        partition: r.try_get(1)?,
        tenant: r.try_get(2)?,
        borrower: r.try_get(3)?,
        product_id: codec::uuid_from(&r.try_get::<Vec<u8>, _>(4)?, "product")?,
        product_version: r.try_get(5)?,
        stage: r.try_get(6)?,
        day: r.try_get(7)?,
        open: r.try_get(8)?,
        version: r.try_get(9)?,
        state: r.try_get(10)?,
        dpd: r.try_get(11)?,
    })
}
