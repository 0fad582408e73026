//! The event feed's wire types. The server renders pages itself (the stored payload is
//! already JSON and is copied, not parsed); these types are the contract it renders.

use serde::Serialize;
use utoipa::ToSchema;

/// One committed domain event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventResponse {
    /// Position in the global sequence: gap-free, in commit order.
    pub seq: i64,
    /// UUID; the same change always has the same id (de-duplicate by it).
    pub id: String,
    /// Catalogue name (docs/events.md), e.g. `loan.disbursed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub tenant: String,
    /// Business date it occurred on (YYYY-MM-DD).
    pub occurred_on: String,
    /// The loan, line, purchase, decision … it is about.
    pub subject_id: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<EventResponse>,
    /// Pass as `after` for the next page: the last item's `seq`, or `after` itself when the
    /// page is empty (poll again later).
    pub next_after: i64,
}

/// Business days since 1970-01-01 as `YYYY-MM-DD` (empty for day 0, "no date").
pub fn event_date(day: i32) -> String {
    if day == 0 {
        return String::new();
    }
    money::BusinessDate::from_epoch_days(day).map_or_else(String::new, |d| d.to_string())
}

/// Appends one stored event as an `EventResponse` JSON object, copying its payload as is.
pub fn render_event(out: &mut String, e: &store::StoredEvent) {
    use std::fmt::Write as _;
    let ev = &e.event;
    let _ = write!(
        out,
        r#"{{"seq":{},"id":"{}","type":{},"tenant":{},"occurred_on":"{}","subject_id":"{}","payload":{}}}"#,
        e.seq,
        ev.id,
        serde_json::Value::from(ev.kind.as_str()),
        serde_json::Value::from(ev.tenant.as_str()),
        event_date(ev.day),
        ev.subject,
        ev.payload
    );
}

/// Renders a page of stored events as an `EventPage`.
pub fn render_event_page(events: &[store::StoredEvent], after: i64) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(64 + events.len() * 320);
    out.push_str(r#"{"items":["#);
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        render_event(&mut out, e);
    }
    let next = events.last().map_or(after, |e| e.seq);
    let _ = write!(out, r#"],"next_after":{next}}}"#);
    out
}
