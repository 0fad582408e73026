//! SQLite side of webhook subscriptions (crates/store/src/webhooks.rs).

use super::SqliteStore;
use crate::webhooks::{
    types_from_text, types_text, DeliveryRow, FailureOutcome, WebhookFilter, WebhookRow,
    DELIVERIES_KEPT,
};
use rusqlite::{params, Connection, OptionalExtension, Row};
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
    position INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    paused_reason TEXT,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    attempted_ms INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, n);
";

const SELECT: &str = "SELECT id, tenant, url, types, secret, description, owner_role, party_kind, \
     party_id, status, position, failures, paused_reason, created_ms FROM webhooks";

fn row(r: &Row<'_>) -> rusqlite::Result<WebhookRow> {
    let id: String = r.get(0)?;
    let types: String = r.get(3)?;
    Ok(WebhookRow {
        id: Uuid::parse_str(&id).unwrap_or_default(),
        tenant: r.get(1)?,
        url: r.get(2)?,
        types: types_from_text(&types),
        secret: r.get(4)?,
        description: r.get(5)?,
        owner_role: r.get(6)?,
        party_kind: r.get(7)?,
        party_id: r.get(8)?,
        status: r.get(9)?,
        position: r.get(10)?,
        failures: r.get(11)?,
        paused_reason: r.get(12)?,
        created_ms: r.get(13)?,
    })
}

fn get(c: &Connection, id: Uuid) -> anyhow::Result<Option<WebhookRow>> {
    Ok(c.prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id.to_string()], row)
        .optional()?)
}

fn record(c: &Connection, a: &DeliveryRow) -> anyhow::Result<()> {
    let id = a.webhook_id.to_string();
    c.prepare_cached(
        "INSERT INTO webhook_deliveries (webhook_id, seq, event_id, attempted_ms, status_code, error, duration_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        a.seq,
        a.event_id.to_string(),
        a.attempted_ms,
        a.status_code,
        a.error,
        a.duration_ms
    ])?;
    // Only the recent attempts are kept: an index seek, then a range delete.
    c.prepare_cached(
        "DELETE FROM webhook_deliveries WHERE webhook_id = ?1 AND n <= \
         (SELECT n FROM webhook_deliveries WHERE webhook_id = ?1 ORDER BY n DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(params![id, DELIVERIES_KEPT])?;
    Ok(())
}

impl SqliteStore {
    pub async fn insert_webhook(&self, w: WebhookRow) -> anyhow::Result<Option<WebhookRow>> {
        self.with_writer(move |c| {
            let tx = c.transaction()?;
            if let Some(existing) = get(&tx, w.id)? {
                return Ok(Some(existing));
            }
            tx.execute(
                "INSERT INTO webhooks (id, tenant, url, types, secret, description, owner_role, \
                 party_kind, party_id, status, position, failures, paused_reason, created_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    w.id.to_string(),
                    w.tenant,
                    w.url,
                    types_text(&w.types),
                    w.secret,
                    w.description,
                    w.owner_role,
                    w.party_kind,
                    w.party_id,
                    w.status,
                    w.position,
                    w.failures,
                    w.paused_reason,
                    w.created_ms
                ],
            )?;
            tx.commit()?;
            Ok(None)
        })
        .await
    }

    pub async fn webhook(&self, id: Uuid) -> anyhow::Result<Option<WebhookRow>> {
        self.with_reader(move |c| get(c, id)).await
    }

    pub async fn webhooks(&self, f: WebhookFilter) -> anyhow::Result<Vec<WebhookRow>> {
        self.with_reader(move |c| {
            let (kind, party) = f.party.unzip();
            let mut stmt = c.prepare_cached(&format!(
                "{SELECT} WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR party_kind = ?2) \
                 AND (?3 IS NULL OR party_id = ?3) AND (?4 IS NULL OR status = ?4) \
                 AND (?5 IS NULL OR id > ?5) ORDER BY id LIMIT ?6"
            ))?;
            let rows = stmt.query_map(
                params![
                    f.tenant,
                    kind,
                    party,
                    f.status,
                    f.after.map(|a| a.to_string()),
                    f.limit
                ],
                row,
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn webhook_delivered(&self, expected: i64, a: DeliveryRow) -> anyhow::Result<bool> {
        self.with_writer(move |c| {
            let tx = c.transaction()?;
            let moved = tx
                .prepare_cached(
                    "UPDATE webhooks SET position = ?3, failures = 0 \
                     WHERE id = ?1 AND position = ?2 AND status = 'active'",
                )?
                .execute(params![a.webhook_id.to_string(), expected, a.seq])?;
            if moved == 1 {
                record(&tx, &a)?;
                tx.commit()?;
            }
            Ok(moved == 1)
        })
        .await
    }

    pub async fn webhook_failed(
        &self,
        expected: i64,
        a: DeliveryRow,
        max_failures: i32,
        reason: String,
    ) -> anyhow::Result<Option<FailureOutcome>> {
        self.with_writer(move |c| {
            let tx = c.transaction()?;
            let out = tx
                .prepare_cached(
                    "UPDATE webhooks SET failures = failures + 1, \
                     status = CASE WHEN failures + 1 >= ?3 THEN 'paused' ELSE status END, \
                     paused_reason = CASE WHEN failures + 1 >= ?3 THEN ?4 ELSE paused_reason END \
                     WHERE id = ?1 AND position = ?2 AND status = 'active' \
                     RETURNING failures, status",
                )?
                .query_row(
                    params![a.webhook_id.to_string(), expected, max_failures, reason],
                    |r| {
                        Ok(FailureOutcome {
                            failures: r.get(0)?,
                            paused: r.get::<_, String>(1)? == "paused",
                        })
                    },
                )
                .optional()?;
            if out.is_some() {
                record(&tx, &a)?;
                tx.commit()?;
            }
            Ok(out)
        })
        .await
    }

    pub async fn webhook_skip(&self, id: Uuid, expected: i64, to: i64) -> anyhow::Result<bool> {
        self.with_writer(move |c| {
            Ok(c.prepare_cached(
                "UPDATE webhooks SET position = ?3 WHERE id = ?1 AND position = ?2 AND status = 'active'",
            )?
            .execute(params![id.to_string(), expected, to])?
                == 1)
        })
        .await
    }

    pub async fn set_webhook_status(
        &self,
        id: Uuid,
        status: String,
        reason: Option<String>,
        from_seq: Option<i64>,
    ) -> anyhow::Result<Option<WebhookRow>> {
        self.with_writer(move |c| {
            let tx = c.transaction()?;
            let changed = tx.execute(
                "UPDATE webhooks SET status = ?2, paused_reason = ?3, \
                 failures = CASE WHEN ?2 = 'active' THEN 0 ELSE failures END, \
                 position = coalesce(?4, position) WHERE id = ?1",
                params![id.to_string(), status, reason, from_seq],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            let out = get(&tx, id)?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    pub async fn webhook_deliveries(
        &self,
        id: Uuid,
        limit: u32,
    ) -> anyhow::Result<Vec<DeliveryRow>> {
        self.with_reader(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, event_id, attempted_ms, status_code, error, duration_ms \
                 FROM webhook_deliveries WHERE webhook_id = ?1 ORDER BY n DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![id.to_string(), limit], |r| {
                let event_id: String = r.get(1)?;
                Ok(DeliveryRow {
                    webhook_id: id,
                    seq: r.get(0)?,
                    event_id: Uuid::parse_str(&event_id).unwrap_or_default(),
                    attempted_ms: r.get(2)?,
                    status_code: r.get(3)?,
                    error: r.get(4)?,
                    duration_ms: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
