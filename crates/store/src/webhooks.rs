//! Webhook subscriptions and their recent delivery attempts.
//!
//! A subscription's `position` is the sequence number of the last event it acknowledged
//! (or skipped as not its own). Every change made by the delivery worker is a
//! compare-and-set on that position and on `status = 'active'`, so an operator's rewind or
//! pause made meanwhile wins: the worker sees its write refused and reloads.

use uuid::Uuid;

/// A stored subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: Uuid,
    /// The tenant whose events it receives; `*` for every tenant.
    pub tenant: String,
    pub url: String,
    /// Catalogue types it receives; empty for every type.
    pub types: Vec<String>,
    pub secret: String,
    pub description: Option<String>,
    /// Role of the key that created it.
    pub owner_role: String,
    /// The party it is limited to (`partner`, `merchant` …), when its key was bound.
    pub party_kind: Option<String>,
    pub party_id: Option<String>,
    /// `active`, `paused` (by failures or by hand) or `disabled`.
    pub status: String,
    pub position: i64,
    /// Consecutive failed attempts since the last acknowledged delivery.
    pub failures: i32,
    pub paused_reason: Option<String>,
    pub created_ms: i64,
}

/// One delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRow {
    pub webhook_id: Uuid,
    pub seq: i64,
    pub event_id: Uuid,
    pub attempted_ms: i64,
    /// The receiver's HTTP status; none when no answer came (timeout, refused connection).
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A page of subscriptions in id order.
#[derive(Clone, Debug, Default)]
pub struct WebhookFilter {
    /// Only this tenant's (`None`: every tenant's).
    pub tenant: Option<String>,
    /// Only those limited to this party (kind, id).
    pub party: Option<(String, String)>,
    pub status: Option<String>,
    pub after: Option<Uuid>,
    pub limit: u32,
}

/// How many attempts are kept per subscription.
pub const DELIVERIES_KEPT: i64 = 200;

/// What a failed attempt did to its subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureOutcome {
    pub failures: i32,
    pub paused: bool,
}

impl crate::Store {
    /// Stores a new subscription; when one with its id exists, returns that one instead.
    pub async fn insert_webhook(&self, row: WebhookRow) -> anyhow::Result<Option<WebhookRow>> {
        match self {
            crate::Store::Sqlite(s) => s.insert_webhook(row).await,
            crate::Store::Postgres(s) => s.insert_webhook(row).await,
        }
    }

    pub async fn webhook(&self, id: Uuid) -> anyhow::Result<Option<WebhookRow>> {
        match self {
            crate::Store::Sqlite(s) => s.webhook(id).await,
            crate::Store::Postgres(s) => s.webhook(id).await,
        }
    }

    pub async fn webhooks(&self, f: WebhookFilter) -> anyhow::Result<Vec<WebhookRow>> {
        match self {
            crate::Store::Sqlite(s) => s.webhooks(f).await,
            crate::Store::Postgres(s) => s.webhooks(f).await,
        }
    }

    /// Records an acknowledged delivery and moves the position to its event, if the
    /// subscription is still active at `expected`; false (nothing written) otherwise.
    pub async fn webhook_delivered(
        &self,
        expected: i64,
        attempt: DeliveryRow,
    ) -> anyhow::Result<bool> {
        match self {
            crate::Store::Sqlite(s) => s.webhook_delivered(expected, attempt).await,
            crate::Store::Postgres(s) => s.webhook_delivered(expected, attempt).await,
        }
    }

    /// Records a failed attempt and counts it; the subscription is paused with `reason`
    /// when the count reaches `max_failures`. None (nothing written) when the subscription
    /// is no longer active at `expected`.
    pub async fn webhook_failed(
        &self,
        expected: i64,
        attempt: DeliveryRow,
        max_failures: i32,
        reason: String,
    ) -> anyhow::Result<Option<FailureOutcome>> {
        match self {
            crate::Store::Sqlite(s) => {
                s.webhook_failed(expected, attempt, max_failures, reason)
                    .await
            }
            crate::Store::Postgres(s) => {
                s.webhook_failed(expected, attempt, max_failures, reason)
                    .await
            }
        }
    }

    /// Moves the position past events that are not the subscription's (compare-and-set).
    pub async fn webhook_skip(&self, id: Uuid, expected: i64, to: i64) -> anyhow::Result<bool> {
        match self {
            crate::Store::Sqlite(s) => s.webhook_skip(id, expected, to).await,
            crate::Store::Postgres(s) => s.webhook_skip(id, expected, to).await,
        }
    }

    /// An operator's change: `active` (resume, clearing the failures, and when `from_seq`
    /// is given, rewind or move the position to it), `paused` or `disabled`. None when
    /// there is no such subscription.
    pub async fn set_webhook_status(
        &self,
        id: Uuid,
        status: &str,
        reason: Option<String>,
        from_seq: Option<i64>,
    ) -> anyhow::Result<Option<WebhookRow>> {
        match self {
            crate::Store::Sqlite(s) => {
                s.set_webhook_status(id, status.to_string(), reason, from_seq)
                    .await
            }
            crate::Store::Postgres(s) => s.set_webhook_status(id, status, reason, from_seq).await,
        }
    }

    /// The most recent attempts, newest first.
    pub async fn webhook_deliveries(
        &self,
        id: Uuid,
        limit: u32,
    ) -> anyhow::Result<Vec<DeliveryRow>> {
        match self {
            crate::Store::Sqlite(s) => s.webhook_deliveries(id, limit).await,
            crate::Store::Postgres(s) => s.webhook_deliveries(id, limit).await,
        }
    }
}

/// Types as stored: comma-separated (catalogue names hold no commas).
pub(crate) fn types_text(types: &[String]) -> String {
    types.join(",")
}

pub(crate) fn types_from_text(raw: &str) -> Vec<String> {
    raw.split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}
