//! PostgreSQL side of webhook subscriptions (crates/store/src/webhooks.rs).

use super::PgStore;
use crate::webhooks::{
    types_from_text, types_text, DeliveryRow, FailureOutcome, WebhookFilter, WebhookRow,
    DELIVERIES_KEPT,
};
use anyhow::Context;
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    url TEXT NOT NULL,
    types TEXT NOT NULL,
    secret TEXT NOT NULL,
    description TEXT,
    owner_role TEXT NOT NULL,
    party_kind TEXT,
    party_id TEXT,
    status TEXT NOT NULL,
    position BIGINT NOT NULL,
    failures INTEGER NOT NULL,
    paused_reason TEXT,
    created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    attempted_ms BIGINT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, n);
";

const SELECT: &str = "SELECT id, tenant, url, types, secret, description, owner_role, party_kind, \
     party_id, status, position, failures, paused_reason, created_ms FROM webhooks";

fn row(r: &PgRow) -> anyhow::Result<WebhookRow> {
    let id: String = r.try_get(0)?;
    let types: String = r.try_get(3)?;
    Ok(WebhookRow {
        id: Uuid::parse_str(&id)?,
        tenant: r.try_get(1)?,
        url: r.try_get(2)?,
        types: types_from_text(&types),
        secret: r.try_get(4)?,
        description: r.try_get(5)?,
        owner_role: r.try_get(6)?,
        party_kind: r.try_get(7)?,
        party_id: r.try_get(8)?,
        status: r.try_get(9)?,
        position: r.try_get(10)?,
        failures: r.try_get(11)?,
        paused_reason: r.try_get(12)?,
        created_ms: r.try_get(13)?,
    })
}

async fn record(tx: &mut sqlx::PgConnection, a: &DeliveryRow) -> anyhow::Result<()> {
    let id = a.webhook_id.to_string();
    sqlx::query(
        "INSERT INTO webhook_deliveries (webhook_id, seq, event_id, attempted_ms, status_code, error, duration_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(a.seq)
    .bind(a.event_id.to_string())
    .bind(a.attempted_ms)
    .bind(a.status_code)
    .bind(&a.error)
    .bind(a.duration_ms)
    .execute(&mut *tx)
    .await
    .context("record delivery")?;
    // Only the recent attempts are kept: an index seek, then a range delete.
    sqlx::query(
        "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND n <= \
         (SELECT n FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY n DESC LIMIT 1 OFFSET $2)",
    )
    .bind(&id)
    .bind(DELIVERIES_KEPT)
    .execute(&mut *tx)
    .await
    .context("prune deliveries")?;
    Ok(())
}

impl PgStore {
    pub async fn insert_webhook(&self, w: WebhookRow) -> anyhow::Result<Option<WebhookRow>> {
        let inserted = sqlx::query(
            "INSERT INTO webhooks (id, tenant, url, types, secret, description, owner_role, \
             party_kind, party_id, status, position, failures, paused_reason, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(w.id.to_string())
        .bind(&w.tenant)
        .bind(&w.url)
        .bind(types_text(&w.types))
        .bind(&w.secret)
        .bind(&w.description)
        .bind(&w.owner_role)
        .bind(&w.party_kind)
        .bind(&w.party_id)
        .bind(&w.status)
        .bind(w.position)
        .bind(w.failures)
        .bind(&w.paused_reason)
        .bind(w.created_ms)
        .execute(&self.pool)
        .await
        .context("insert webhook")?
        .rows_affected();
        if inserted == 1 {
            return Ok(None);
        }
        self.webhook(w.id).await
    }

    pub async fn webhook(&self, id: Uuid) -> anyhow::Result<Option<WebhookRow>> {
        sqlx::query(&format!("{SELECT} WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| row(&r))
            .transpose()
    }

    pub async fn webhooks(&self, f: WebhookFilter) -> anyhow::Result<Vec<WebhookRow>> {
        let (kind, party) = f.party.unzip();
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR party_kind = $2) \
             AND ($3::text IS NULL OR party_id = $3) AND ($4::text IS NULL OR status = $4) \
             AND ($5::text IS NULL OR id > $5) ORDER BY id LIMIT $6"
        ))
        .bind(f.tenant)
        .bind(kind)
        .bind(party)
        .bind(f.status)
        .bind(f.after.map(|a| a.to_string()))
        .bind(i64::from(f.limit))
        .fetch_all(&self.pool)
        .await
        .context("list webhooks")?;
        rows.iter().map(row).collect()
    }

    pub async fn webhook_delivered(&self, expected: i64, a: DeliveryRow) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE webhooks SET position = $3, failures = 0 \
             WHERE id = $1 AND position = $2 AND status = 'active'",
        )
        .bind(a.webhook_id.to_string())
        .bind(expected)
        .bind(a.seq)
        .execute(&mut *tx)
        .await
        .context("acknowledge delivery")?
        .rows_affected();
        if moved == 1 {
            record(&mut tx, &a).await?;
            tx.commit().await?;
        }
        Ok(moved == 1)
    }

    pub async fn webhook_failed(
        &self,
        expected: i64,
        a: DeliveryRow,
        max_failures: i32,
        reason: String,
    ) -> anyhow::Result<Option<FailureOutcome>> {
        let mut tx = self.pool.begin().await?;
        let out = sqlx::query(
            "UPDATE webhooks SET failures = failures + 1, \
             status = CASE WHEN failures + 1 >= $3 THEN 'paused' ELSE status END, \
             paused_reason = CASE WHEN failures + 1 >= $3 THEN $4 ELSE paused_reason END \
             WHERE id = $1 AND position = $2 AND status = 'active' \
             RETURNING failures, status",
        )
        .bind(a.webhook_id.to_string())
        .bind(expected)
        .bind(max_failures)
        .bind(reason)
        .fetch_optional(&mut *tx)
        .await
        .context("count failed delivery")?;
        let Some(r) = out else {
            return Ok(None);
        };
        let outcome = FailureOutcome {
            failures: r.try_get(0)?,
            paused: r.try_get::<String, _>(1)? == "paused",
        };
        record(&mut tx, &a).await?;
        tx.commit().await?;
        Ok(Some(outcome))
    }

    pub async fn webhook_skip(&self, id: Uuid, expected: i64, to: i64) -> anyhow::Result<bool> {
        Ok(sqlx::query(
            "UPDATE webhooks SET position = $3 WHERE id = $1 AND position = $2 AND status = 'active'",
        )
        .bind(id.to_string())
        .bind(expected)
        .bind(to)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    pub async fn set_webhook_status(
        &self,
        id: Uuid,
        status: &str,
        reason: Option<String>,
        from_seq: Option<i64>,
    ) -> anyhow::Result<Option<WebhookRow>> {
        sqlx::query(&format!(
            "UPDATE webhooks SET status = $2, paused_reason = $3, \
             failures = CASE WHEN $2 = 'active' THEN 0 ELSE failures END, \
             position = coalesce($4, position) WHERE id = $1 \
             RETURNING {}",
            SELECT
                .trim_start_matches("SELECT ")
                .trim_end_matches(" FROM webhooks")
        ))
        .bind(id.to_string())
        .bind(status)
        .bind(reason)
        .bind(from_seq)
        .fetch_optional(&self.pool)
        .await
        .context("change webhook status")?
        .map(|r| row(&r))
        .transpose()
    }

    pub async fn webhook_deliveries(
        &self,
        id: Uuid,
        limit: u32,
    ) -> anyhow::Result<Vec<DeliveryRow>> {
        let rows = sqlx::query(
            "SELECT seq, event_id, attempted_ms, status_code, error, duration_ms \
             FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY n DESC LIMIT $2",
        )
        .bind(id.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .context("list deliveries")?;
        rows.iter()
            .map(|r| {
                let event_id: String = r.try_get(1)?;
                Ok(DeliveryRow {
                    webhook_id: id,
                    seq: r.try_get(0)?,
                    event_id: Uuid::parse_str(&event_id)?,
                    attempted_ms: r.try_get(2)?,
                    status_code: r.try_get(3)?,
                    error: r.try_get(4)?,
                    duration_ms: r.try_get(5)?,
                })
            })
            .collect()
    }
}
