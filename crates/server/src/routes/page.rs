//! Cursor pagination shared by the list routes: `limit` 1–500 (default 50) and an opaque
//! cursor, the URL-safe base64 of the last item's sort key (an id, a sequence number).

use crate::problem::ApiError;
use api::Problem;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use uuid::Uuid;

pub const LIMIT_DEFAULT: u32 = 50;
pub const LIMIT_MAX: u32 = 500;

/// A 400 naming the query parameter at fault.
pub fn bad_query(field: &str, detail: impl Into<String>) -> ApiError {
    Problem::new(
        400,
        "invalid_query",
        "Invalid query parameter",
        detail.into(),
    )
    .with_field(field)
    .into()
}

pub fn limit(raw: Option<u32>) -> Result<u32, ApiError> {
    let limit = raw.unwrap_or(LIMIT_DEFAULT);
    if (1..=LIMIT_MAX).contains(&limit) {
        Ok(limit)
    } else {
        Err(bad_query("limit", format!("must be 1 to {LIMIT_MAX}")))
    }
}

pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode<const N: usize>(raw: &str) -> Result<[u8; N], ApiError> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| <[u8; N]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| {
            // A string the schema allows, which only this list can tell apart: 422.
            Problem::new(
                422,
                "invalid_cursor",
                "Invalid cursor",
                "not a cursor from this list".to_string(),
            )
            .with_field("cursor")
            .into()
        })
}

pub fn decode_uuid(raw: &str) -> Result<Uuid, ApiError> {
    decode::<16>(raw).map(Uuid::from_bytes)
}

pub fn decode_hash(raw: &str) -> Result<[u8; 32], ApiError> {
    decode::<32>(raw)
}

pub fn decode_seq(raw: &str) -> Result<u64, ApiError> {
    decode::<8>(raw).map(u64::from_be_bytes)
}

/// The next page's cursor: present when this page is full.
pub fn next<T>(items: &[T], limit: u32, key: impl Fn(&T) -> String) -> Option<String> {
    if items.len() == limit as usize {
        items.last().map(key)
    } else {
        None
    }
}

/// A `YYYY-MM-DD` bound of a date range as milliseconds since the epoch (UTC midnight).
pub fn date_ms(field: &str, raw: &str) -> Result<i64, ApiError> {
    let d: money::BusinessDate = raw
        .parse()
        .map_err(|_| bad_query(field, "must be a date YYYY-MM-DD"))?;
    Ok(i64::from(d.to_epoch_days()) * 86_400_000)
}

/// A `created_from`/`created_to` date range as a UUIDv7 id range (ids carry their
/// creation time): from the first id of `from` up to the first id after `to`.
pub fn created_range(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Option<Uuid>, Option<Uuid>), ApiError> {
    let from = from
        .map(|f| date_ms("created_from", f))
        .transpose()?
        .map(store::uuid_v7_floor);
    let to = to
        .map(|t| date_ms("created_to", t))
        .transpose()?
        .map(|ms| store::uuid_v7_floor(ms + 86_400_000));
    Ok((from, to))
}

pub fn parse_uuid(field: &str, raw: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    raw.map(|r| Uuid::parse_str(r).map_err(|_| bad_query(field, "must be a UUID")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let id = Uuid::now_v7();
        assert_eq!(decode_uuid(&encode(id.as_bytes())).unwrap(), id);
        assert_eq!(decode_seq(&encode(&7u64.to_be_bytes())).unwrap(), 7);
        assert!(decode_uuid("abc").is_err());
        assert!(decode_seq(&encode(id.as_bytes())).is_err());
        assert!(limit(Some(0)).is_err() && limit(Some(501)).is_err());
        assert_eq!(limit(None).unwrap(), 50);
    }
}
