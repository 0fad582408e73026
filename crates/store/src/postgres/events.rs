//! PostgreSQL side of the event outbox (crates/store/src/events.rs).

use super::{PgStore, Tx};
use crate::events::{EventFilter, EventRow, StoredEvent, PG_EVENT_LOCK_KEY};
use anyhow::Context;
use sqlx::Row;
use uuid::Uuid;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq BIGINT PRIMARY KEY,
    id BYTEA NOT NULL,
    kind TEXT NOT NULL,
    tenant TEXT NOT NULL,
    day INTEGER NOT NULL,
    subject BYTEA NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event_cursors (
    name TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
";

/// Appends events after the last committed one. The advisory lock is held until the
/// transaction ends, so event-writing transactions (the ledger writer's, the decision
/// log's) take their numbers and commit one at a time: no gap, no reordering, and a
/// transaction that rolls back gives its numbers back. Called last, to hold it briefly.
pub(super) async fn write(tx: &mut Tx<'_>, events: &[&EventRow]) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PG_EVENT_LOCK_KEY)
        .execute(&mut **tx)
        .await
        .context("lock event sequence")?;
    // The numbers are read in the insert, a statement after the lock's: READ COMMITTED
    // gives it a snapshot that includes the transaction that held the lock before.
    let bytes = |f: fn(&EventRow) -> Uuid| -> Vec<Vec<u8>> {
        events.iter().map(|e| f(e).as_bytes().to_vec()).collect()
    };
    sqlx::query(
        "INSERT INTO events (seq, id, kind, tenant, day, subject, payload) \
         SELECT (SELECT coalesce(max(seq), 0) FROM events) + u.n, u.id, u.kind, u.tenant, u.day, u.subject, u.payload \
         FROM UNNEST($1::bytea[], $2::text[], $3::text[], $4::int[], $5::bytea[], $6::text[]) \
         WITH ORDINALITY AS u(id, kind, tenant, day, subject, payload, n)",
    )
    .bind(bytes(|e| e.id))
    .bind(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.tenant.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.day).collect::<Vec<_>>())
    .bind(bytes(|e| e.subject))
    .bind(events.iter().map(|e| e.payload.as_str()).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await
    .context("insert events")?;
    Ok(())
}

impl PgStore {
    pub async fn events(&self, f: EventFilter) -> anyhow::Result<Vec<StoredEvent>> {
        let kinds = (!f.kinds.is_empty()).then_some(f.kinds);
        let rows = sqlx::query(
            "SELECT seq, id, kind, tenant, day, subject, payload FROM events \
             WHERE seq > $1 AND ($2::text IS NULL OR tenant = $2) \
             AND ($3::text[] IS NULL OR kind = ANY($3)) ORDER BY seq LIMIT $4",
        )
        .bind(f.after)
        .bind(f.tenant)
        .bind(kinds)
        .bind(i64::from(f.limit))
        .fetch_all(&self.pool)
        .await
        .context("read events")?;
        rows.iter()
            .map(|r| {
                let id: Vec<u8> = r.try_get(1)?;
                let subject: Vec<u8> = r.try_get(5)?;
                Ok(StoredEvent {
                    seq: r.try_get(0)?,
                    event: EventRow {
                        id: Uuid::from_slice(&id)?,
                        kind: r.try_get(2)?,
                        tenant: r.try_get(3)?,
                        day: r.try_get(4)?,
                        subject: Uuid::from_slice(&subject)?,
                        payload: r.try_get(6)?,
                    },
                })
            })
            .collect()
    }

    pub async fn events_head(&self) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM events")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn event_cursor(&self, name: &str) -> anyhow::Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT seq FROM event_cursors WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn set_event_cursor(&self, name: &str, seq: i64) -> anyhow::Result<()> {
        sqlx::query(SET_CURSOR)
            .bind(name)
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Moves a cursor forward, never back.
pub(super) const SET_CURSOR: &str = "INSERT INTO event_cursors (name, seq) VALUES ($1, $2) \
     ON CONFLICT (name) DO UPDATE SET seq = greatest(event_cursors.seq, excluded.seq)";
