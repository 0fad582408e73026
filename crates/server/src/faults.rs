//! Containing failures: a handler that panics answers 500 with an incident id instead of
//! dropping the connection, and the server goes on serving. The routes that cause such
//! failures on purpose exist only when the server is started with fault injection (tests,
//! and `puhui serve --fault-injection`, a hidden flag).

use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::problem::{internal_with_incident, ApiError};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;

/// Turns a panic in the handler into a 500 problem whose incident id is logged with the
/// request's method, path and `x-request-id` (when the client sent one), and returned as
/// the response's `x-request-id`.
///
/// Unwinding out of a handler is safe here: handlers share state only through the engine's
/// locks (tokio's guards release on unwind; std mutexes are read through poisoning) and
/// through storage transactions, which roll back when dropped.
pub async fn catch_panic(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(resp) => resp,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            let incident = uuid::Uuid::now_v7().to_string();
            tracing::error!(
                incident_id = %incident,
                request_id = request_id.as_deref().unwrap_or(""),
                %method,
                path,
                panic = message,
                "a request handler panicked"
            );
            metrics::counter!("puhui_http_panics_total").increment(1);
            let mut resp = internal_with_incident(incident.clone()).into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&incident) {
                resp.headers_mut().insert("x-request-id", v);
            }
            resp
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/_faults/panic", post(panic_now))
        .route("/v1/_faults/stop-ledger-writer", post(stop_writer))
}

async fn panic_now(p: Principal) -> Result<(), ApiError> {
    p.require(&[Role::Operator])?;
    panic!("fault injection: a handler panicked on request");
}

async fn stop_writer(p: Principal, State(s): State<AppState>) -> Result<&'static str, ApiError> {
    p.require(&[Role::Operator])?;
    s.engine.stop_writer_for_fault_injection();
    Ok("ledger writer stopped")
}
