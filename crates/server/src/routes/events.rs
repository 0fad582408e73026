//! The event feed: committed domain events in sequence order after a position the consumer
//! keeps (docs/events.md).

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::ApiError;
use crate::routes::page::bad_query;
use api::FieldError;
use api::{EventPage, Problem};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use store::EventFilter;

/// Most events in one page: consumers catching up read large pages.
pub const EVENTS_LIMIT_MAX: u32 = 5_000;
const EVENTS_LIMIT_DEFAULT: u32 = 100;
/// Most types one filter names.
const TYPES_MAX: usize = 64;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/events", get(list_events))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Sequence number after which to read (0, the default, reads from the start).
    pub after: Option<i64>,
    /// Comma-separated event types from the catalogue; all types when absent.
    pub types: Option<String>,
    /// 1–5000, default 100.
    pub limit: Option<u32>,
}

/// Parses a comma-separated list of catalogue types, naming `field` when one is unknown.
pub fn parse_types(field: &str, raw: &str) -> Result<Vec<String>, String> {
    let kinds: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    if kinds.len() > TYPES_MAX {
        return Err(format!("{field}: at most {TYPES_MAX} types"));
    }
    if let Some(bad) = kinds.iter().find(|k| !engine::events::is_known(k)) {
        return Err(format!("unknown event type {bad:?}; see docs/events.md"));
    }
    Ok(kinds)
}

/// Events after `after`, oldest first, of the key's tenant (every tenant's for `*`). Keys
/// bound to a party are refused: an event may concern several parties.
#[utoipa::path(get, path = "/v1/events", params(EventQuery),
    responses((status = 200, body = EventPage), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "events")]
pub async fn list_events(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<EventQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(EVENTS_LIMIT_DEFAULT);
    if !(1..=EVENTS_LIMIT_MAX).contains(&limit) {
        return Err(bad_query(
            "limit",
            format!("must be 1 to {EVENTS_LIMIT_MAX}"),
        ));
    }
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(FieldError::new("after", "must be 0 or more").into());
    }
    let kinds = match &q.types {
        Some(raw) => parse_types("types", raw).map_err(|m| FieldError::new("types", m))?,
        None => Vec::new(),
    };
    let events = s
        .engine
        .events(EventFilter {
            after,
            kinds,
            tenant: (p.tenant != "*").then(|| p.tenant.clone()),
            limit,
        })
        .await
        .map_err(|e| crate::problem::internal(&e.to_string()))?;
    let body = api::render_event_page(&events, after);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
