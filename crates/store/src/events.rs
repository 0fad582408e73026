//! The transactional outbox: domain events written in the same transaction as the change
//! they report, numbered by a global sequence that has no gaps in commit order.
//!
//! Storage knows only the columns; which changes produce which events is the engine's
//! business (`engine::events`). Every transaction that writes events takes the next numbers
//! while it holds the database's write lock (SQLite's single writer; on PostgreSQL a
//! transaction-scoped advisory lock held until commit), so a reader that sees event `n`
//! also sees every event below it.

use uuid::Uuid;

/// An event as the engine makes it; its sequence number is assigned when it is committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    /// Deterministic from the change it reports, so a retried change yields the same id.
    pub id: Uuid,
    /// Catalogue name, `loan.disbursed`, `line.limit_changed`, ….
    pub kind: String,
    pub tenant: String,
    /// Business date it occurred on, as days since 1970-01-01.
    pub day: i32,
    /// The loan, line, purchase, decision … it is about.
    pub subject: Uuid,
    /// A JSON object.
    pub payload: String,
}

/// A committed event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: EventRow,
}

/// A page of the feed: events with `seq > after`, of `kinds` if not empty, of `tenant` if
/// given, oldest first.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub after: i64,
    pub kinds: Vec<String>,
    pub tenant: Option<String>,
    pub limit: u32,
}

/// PostgreSQL advisory lock key that orders event-writing transactions ("puhui_ev").
pub const PG_EVENT_LOCK_KEY: i64 = 0x7075_6875_695f_6576;

impl crate::Store {
    /// Committed events after a position, in sequence order.
    pub async fn events(&self, filter: EventFilter) -> anyhow::Result<Vec<StoredEvent>> {
        match self {
            crate::Store::Sqlite(s) => s.events(filter).await,
            crate::Store::Postgres(s) => s.events(filter).await,
        }
    }

    /// The highest committed sequence number (0 when there is none).
    pub async fn events_head(&self) -> anyhow::Result<i64> {
        match self {
            crate::Store::Sqlite(s) => s.events_head().await,
            crate::Store::Postgres(s) => s.events_head().await,
        }
    }

    /// Stores decisions and their events in one transaction (see `insert_decisions`).
    pub async fn insert_decisions_with_events(
        &self,
        rows: std::sync::Arc<Vec<crate::DecisionRow>>,
        events: std::sync::Arc<Vec<EventRow>>,
    ) -> anyhow::Result<()> {
        assert!(
            rows.len() <= crate::DECISIONS_PER_WRITE_MAX,
            "{} decisions in one write; the limit is {}",
            rows.len(),
            crate::DECISIONS_PER_WRITE_MAX
        );
        if rows.is_empty() {
            return Ok(());
        }
        match self {
            crate::Store::Sqlite(s) => s.insert_decisions(rows, events).await,
            crate::Store::Postgres(s) => s.insert_decisions(rows, events).await,
        }
    }

    /// A consumer's stored position (a relay's, a webhook dispatcher's).
    pub async fn event_cursor(&self, name: &str) -> anyhow::Result<Option<i64>> {
        match self {
            crate::Store::Sqlite(s) => s.event_cursor(name.to_string()).await,
            crate::Store::Postgres(s) => s.event_cursor(name).await,
        }
    }

    /// Moves a consumer's position forward; never backward.
    pub async fn set_event_cursor(&self, name: &str, seq: i64) -> anyhow::Result<()> {
        match self {
            crate::Store::Sqlite(s) => s.set_event_cursor(name.to_string(), seq).await,
            crate::Store::Postgres(s) => s.set_event_cursor(name, seq).await,
        }
    }
}

/// The events among a transaction's domain writes, in order.
pub(crate) fn in_writes(writes: &[crate::DomainWrite]) -> Vec<&EventRow> {
    writes
        .iter()
        .filter_map(|w| match w {
            crate::DomainWrite::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}
