//! Webhook subscriptions' wire types (docs/events.md, "Webhooks").

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A subscription to events, delivered to `url` as signed POSTs.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookCreateRequest {
    /// Defaults to the Idempotency-Key.
    pub id: Option<Uuid>,
    /// `http://` or `https://` URL the events are POSTed to.
    #[schema(max_length = 2048)]
    pub url: String,
    /// Event types from the catalogue (docs/events.md); empty or absent for every type.
    #[serde(default)]
    pub types: Vec<String>,
    /// The signing secret, 16 to 256 bytes; generated when absent. Shown only in the
    /// answer that creates the subscription.
    pub secret: Option<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Sequence number after which delivery starts; default the newest event's, so that
    /// only events committed from now on are delivered.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub after: Option<i64>,
}

/// A subscription as stored (without its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookResponse {
    pub id: Uuid,
    pub url: String,
    pub types: Vec<String>,
    pub description: Option<String>,
    /// `*` for every tenant.
    pub tenant: String,
    /// Role of the key that created it.
    pub owner_role: String,
    /// The party whose events it receives, when its key was bound to one.
    pub party_kind: Option<String>,
    pub party_id: Option<String>,
    /// `active`, `paused` (repeated failures, or by hand) or `disabled`.
    pub status: String,
    /// Sequence number of the last event acknowledged or passed over.
    pub position: i64,
    /// Failed attempts since the last acknowledged delivery.
    pub consecutive_failures: i32,
    /// Why it is paused or disabled.
    pub paused_reason: Option<String>,
    pub created_at_ms: i64,
    /// The signing secret: only in the answer that created the subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookPage {
    pub items: Vec<WebhookResponse>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Resume a subscription and optionally move its position.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRedeliverRequest {
    /// Deliver again every event after this sequence number (a rewind), or skip ahead to
    /// it; absent: resume where it stopped.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub from_seq: Option<i64>,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookDeliveryResponse {
    pub seq: i64,
    pub event_id: Uuid,
    pub attempted_at_ms: i64,
    /// The receiver's status; absent when it did not answer.
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookDeliveryPage {
    /// Newest first; the most recent 200 attempts are kept.
    pub items: Vec<WebhookDeliveryResponse>,
}

impl WebhookResponse {
    pub fn from_row(w: &store::WebhookRow, with_secret: bool) -> WebhookResponse {
        WebhookResponse {
            id: w.id,
            url: w.url.clone(),
            types: w.types.clone(),
            description: w.description.clone(),
            tenant: w.tenant.clone(),
            owner_role: w.owner_role.clone(),
            party_kind: w.party_kind.clone(),
            party_id: w.party_id.clone(),
            status: w.status.clone(),
            position: w.position,
            consecutive_failures: w.failures,
            paused_reason: w.paused_reason.clone(),
            created_at_ms: w.created_ms,
            secret: with_secret.then(|| w.secret.clone()),
        }
    }
}

impl From<&store::DeliveryRow> for WebhookDeliveryResponse {
    fn from(d: &store::DeliveryRow) -> Self {
        WebhookDeliveryResponse {
            seq: d.seq,
            event_id: d.event_id,
            attempted_at_ms: d.attempted_ms,
            status_code: d.status_code,
            error: d.error.clone(),
            duration_ms: d.duration_ms,
        }
    }
}
