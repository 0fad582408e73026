//! The close-of-business work queue: a day's partitions published in `cob_work`, claimed with
//! `FOR UPDATE SKIP LOCKED` by the process that writes the ledger and by any number of worker
//! processes that only read.
//!
//! A worker claims a partition inside a transaction and keeps the row locked while it reads
//! the partition's loans on the same connection; it stores what it found and commits. If it
//! dies first, its transaction rolls back and the row is open again for someone else. The
//! writer's own claims commit at once: if it dies, the next run publishes the day again.

use super::loans::{loan_from_row, loans_for_cob_on, LOAN_SELECT};
use crate::LoanRow;
use sqlx::{PgPool, Postgres, Row, Transaction};

const OPEN: i16 = 0;
const PLANNED: i16 = 1;
const TAKEN: i16 = 2;

/// How long a worker may sit in its claim's transaction without a statement before the
/// server ends its session and so releases the partition (a stalled worker, not a slow one:
/// a working one reads loans every few milliseconds).
const CLAIM_IDLE_TIMEOUT: &str = "60s";

/// The queue of one PostgreSQL database.
#[derive(Clone)]
pub struct CobQueue {
    pub(super) pool: PgPool,
}

/// A partition claimed by a worker: its row stays locked until `finish` or drop.
pub struct CobClaim {
    tx: Transaction<'static, Postgres>,
    pub day: i32,
    pub partition: i32,
    pub run: Vec<u8>,
}

impl CobQueue {
    /// Publishes `partitions` of `day` for `run`: open again whatever an earlier run left,
    /// and the rows of other days dropped. Waits for workers still holding rows of an
    /// earlier run (their plans are then discarded).
    pub async fn publish(&self, day: i32, run: &[u8], partitions: &[i32]) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM cob_work WHERE day <> $1")
            .bind(day)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO cob_work (day, partition, run, state, plan) \
             SELECT $1, p, $2, $3, NULL FROM UNNEST($4::int4[]) AS u(p) \
             ON CONFLICT (day, partition) DO UPDATE \
             SET run = excluded.run, state = excluded.state, plan = NULL",
        )
        .bind(day)
        .bind(run)
        .bind(OPEN)
        .bind(partitions)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The writer takes an open partition of its run for itself, if one is not locked.
    pub async fn claim_own(&self, day: i32, run: &[u8]) -> anyhow::Result<Option<i32>> {
        Ok(sqlx::query_scalar(
            "UPDATE cob_work SET state = $3 WHERE (day, partition) = (\
                 SELECT day, partition FROM cob_work WHERE day = $1 AND run = $2 AND state = $4 \
                 ORDER BY partition LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING partition",
        )
        .bind(day)
        .bind(run)
        .bind(TAKEN)
        .bind(OPEN)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The writer takes every partition of its run that a worker has planned: `(partition,
    /// plan)`.
    pub async fn take_planned(&self, day: i32, run: &[u8]) -> anyhow::Result<Vec<(i32, Vec<u8>)>> {
        sqlx::query(
            "UPDATE cob_work SET state = $3 WHERE day = $1 AND run = $2 AND state = $4 \
             RETURNING partition, plan",
        )
        .bind(day)
        .bind(run)
        .bind(TAKEN)
        .bind(PLANNED)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let plan: Option<Vec<u8>> = r.try_get(1)?;
            Ok((
                r.try_get(0)?,
                plan.ok_or_else(|| anyhow::anyhow!("a planned partition has no plan"))?,
            ))
        })
        .collect()
    }

    /// A worker claims any open partition; `None` when none is open and unlocked.
    pub async fn claim(&self) -> anyhow::Result<Option<CobClaim>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "SET LOCAL idle_in_transaction_session_timeout = '{CLAIM_IDLE_TIMEOUT}'"
        ))
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT day, partition, run FROM cob_work WHERE state = $1 \
             ORDER BY day, partition LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .bind(OPEN)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        Ok(Some(CobClaim {
            day: row.try_get(0)?,
            partition: row.try_get(1)?,
            run: row.try_get(2)?,
            tx,
        }))
    }

    /// Loans by id, in id order (the writer reads the ones a worker found to write).
    pub async fn loans(&self, ids: &[uuid::Uuid]) -> anyhow::Result<Vec<LoanRow>> {
        let raw: Vec<Vec<u8>> = ids.iter().map(|i| i.as_bytes().to_vec()).collect();
        sqlx::query(&format!(
            "{LOAN_SELECT} WHERE id = ANY($1::bytea[]) ORDER BY id"
        ))
        .bind(raw)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(loan_from_row)
        .collect()
    }
}

impl CobClaim {
    /// The partition's open loans still before the claimed day, by id after `after`.
    pub async fn loans(
        &mut self,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> anyhow::Result<Vec<LoanRow>> {
        loans_for_cob_on(&mut *self.tx, self.partition, self.day, after, limit).await
    }

    /// Stores the plan and releases the row.
    pub async fn finish(mut self, plan: &[u8]) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE cob_work SET state = $1, plan = $2 WHERE day = $3 AND partition = $4 AND run = $5",
        )
        .bind(PLANNED)
        .bind(plan)
        .bind(self.day)
        .bind(self.partition)
        .bind(&self.run)
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }
}
