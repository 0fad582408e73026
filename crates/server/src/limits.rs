//! Request head limits. hyper refuses a head larger than [`HEAD_BUFFER_BYTES`] or with more
//! than [`HYPER_HEADERS_MAX`] fields with a bare 431 before any route runs; within that,
//! every routed request whose header fields exceed [`HEADER_BYTES_MAX`] bytes or
//! [`HEADERS_MAX`] fields gets a 431 problem naming the limit. Bodies are capped at
//! [`BODY_BYTES_MAX`] (413 problem) by the router's body limit.

use crate::problem::problem;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};

/// Header field bytes (names and values) one request may carry.
pub const HEADER_BYTES_MAX: usize = 16 * 1024;
/// Header fields one request may carry.
pub const HEADERS_MAX: usize = 64;
/// hyper's read buffer for a request head: a head that does not fit is refused outright.
pub const HEAD_BUFFER_BYTES: usize = 64 * 1024;
/// hyper's bound on header fields.
pub const HYPER_HEADERS_MAX: usize = 128;
/// Bytes of a request body.
pub const BODY_BYTES_MAX: usize = 8 * 1024 * 1024;

/// The 431 problem for a head over the limits, or None.
pub fn headers_too_large(req: &Request) -> Option<Response> {
    let headers = req.headers();
    let count = headers.len();
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if count <= HEADERS_MAX && bytes <= HEADER_BYTES_MAX {
        return None;
    }
    Some(
        problem(
            431,
            "headers_too_large",
            "Request header fields too large",
            format!(
                "{count} header fields of {bytes} bytes; at most {HEADERS_MAX} fields and {HEADER_BYTES_MAX} bytes"
            ),
        )
        .into_response(),
    )
}
