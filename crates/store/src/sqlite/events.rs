//! SQLite side of the event outbox (crates/store/src/events.rs).

use super::SqliteStore;
use crate::events::{EventFilter, EventRow, StoredEvent};
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id BLOB NOT NULL,
    kind TEXT NOT NULL,
    tenant TEXT NOT NULL,
    day INTEGER NOT NULL,
    subject BLOB NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event_cursors (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
";

/// Appends events after the last committed one. The caller's transaction holds SQLite's
/// write lock, so no other transaction can take the same numbers or commit between.
const EVENT_ROWS_PER_INSERT: usize = 64;

fn insert_sql(rows: usize) -> String {
    let one = "(?,?,?,?,?,?,?)";
    format!(
        "INSERT OR ROLLBACK INTO events (seq, id, kind, tenant, day, subject, payload) VALUES {}",
        vec![one; rows].join(",")
    )
}

pub(super) fn write(tx: &rusqlite::Transaction<'_>, events: &[&EventRow]) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let last: i64 = tx
        .prepare_cached("SELECT coalesce(max(seq), 0) FROM events")?
        .query_row([], |r| r.get(0))?;
    // Many rows a statement: a group commit's events cost one statement per chunk, not per
    // event (the outbox's share of a sale's or a decision's commit).
    let mut seq = last;
    for chunk in events.chunks(EVENT_ROWS_PER_INSERT) {
        let mut insert = tx.prepare_cached(&insert_sql(chunk.len()))?;
        let mut i = 1;
        for e in chunk {
            seq += 1;
            insert.raw_bind_parameter(i, seq)?;
            insert.raw_bind_parameter(i + 1, &e.id.as_bytes()[..])?;
            insert.raw_bind_parameter(i + 2, e.kind.as_str())?;
            insert.raw_bind_parameter(i + 3, e.tenant.as_str())?;
            insert.raw_bind_parameter(i + 4, e.day)?;
            insert.raw_bind_parameter(i + 5, &e.subject.as_bytes()[..])?;
            insert.raw_bind_parameter(i + 6, e.payload.as_str())?;
            i += 7;
        }
        insert.raw_execute()?;
    }
    Ok(())
}

impl SqliteStore {
    pub async fn events(&self, f: EventFilter) -> anyhow::Result<Vec<StoredEvent>> {
        self.with_reader(move |c| {
            let mut sql = String::from(
                "SELECT seq, id, kind, tenant, day, subject, payload FROM events WHERE seq > ?1 AND (?2 IS NULL OR tenant = ?2)",
            );
            if !f.kinds.is_empty() {
                sql.push_str(" AND kind IN (SELECT value FROM json_each(?4))");
            }
            sql.push_str(" ORDER BY seq LIMIT ?3");
            let kinds = serde_kinds(&f.kinds);
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows = if f.kinds.is_empty() {
                stmt.query(params![f.after, f.tenant, f.limit])?
            } else {
                stmt.query(params![f.after, f.tenant, f.limit, kinds])?
            };
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let id: Vec<u8> = r.get(1)?;
                let subject: Vec<u8> = r.get(5)?;
                out.push(StoredEvent {
                    seq: r.get(0)?,
                    event: EventRow {
                        id: Uuid::from_slice(&id)?,
                        kind: r.get(2)?,
                        tenant: r.get(3)?,
                        day: r.get(4)?,
                        subject: Uuid::from_slice(&subject)?,
                        payload: r.get(6)?,
                    },
                });
            }
            Ok(out)
        })
        .await
    }

    pub async fn events_head(&self) -> anyhow::Result<i64> {
        self.with_reader(|c| {
            Ok(
                c.prepare_cached("SELECT coalesce(max(seq), 0) FROM events")?
                    .query_row([], |r| r.get(0))?,
            )
        })
        .await
    }

    pub async fn event_cursor(&self, name: String) -> anyhow::Result<Option<i64>> {
        self.with_reader(move |c| {
            Ok(
                c.prepare_cached("SELECT seq FROM event_cursors WHERE name = ?1")?
                    .query_row([name], |r| r.get(0))
                    .optional()?,
            )
        })
        .await
    }

    pub async fn set_event_cursor(&self, name: String, seq: i64) -> anyhow::Result<()> {
        self.with_writer(move |c| {
            c.prepare_cached(SET_CURSOR)?.execute(params![name, seq])?;
            Ok(())
        })
        .await
    }
}

/// Moves a cursor forward, never back.
pub(super) const SET_CURSOR: &str = "INSERT INTO event_cursors (name, seq) VALUES (?1, ?2) \
     ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)";

/// A JSON array of strings, for `json_each` (one statement whatever the number of kinds).
fn serde_kinds(kinds: &[String]) -> String {
    let mut s = String::from("[");
    for (i, k) in kinds.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        // Kinds are validated against the catalogue before they get here; escape anyway.
        for ch in k.chars() {
            match ch {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                c if (c as u32) < 0x20 => {}
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push(']');
    s
}
