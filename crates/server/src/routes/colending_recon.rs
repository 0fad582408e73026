//! A partner's daily reconciliation: the manifest of a business day and each of its files,
//! streamed from the store as it is read (formats in docs/co-lending.md).

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::{not_found, path_uuid, ApiError};
use crate::routes::colending::colending_error;
use api::FieldError;
use api::*;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use engine::colending::{self as cl, recon};
use money::BusinessDate;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/funding-partners/{id}/recon/{date}",
            get(recon_manifest),
        )
        .route(
            "/v1/funding-partners/{id}/recon/{date}/{file}",
            get(recon_file),
        )
}

fn path_date(raw: &str) -> Result<BusinessDate, ApiError> {
    raw.parse().map_err(|_| {
        // A string the path allows that is no calendar date: refused like any field.
        ApiError::from(FieldError::new("date", "must be a date, YYYY-MM-DD"))
    })
}

/// The manifest of a partner's business day: every file's rows, amount totals and
/// SHA-256, and the ledger's signed tree head taken after the files were read.
#[utoipa::path(get, path = "/v1/funding-partners/{id}/recon/{date}",
    params(("id" = Uuid, Path), ("date" = String, Path, description = "YYYY-MM-DD")),
    responses((status = 200, body = ReconManifestResponse), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "colending")]
pub async fn recon_manifest(
    p: Principal,
    State(s): State<AppState>,
    Path((id, date)): Path<(String, String)>,
) -> Result<Json<ReconManifestResponse>, ApiError> {
    let id = path_uuid(&id, "funding partner id")?;
    let date = path_date(&date)?;
    let m = recon::manifest(&s.engine, &p.tenant, id, date)
        .await
        .map_err(colending_error)?;
    Ok(Json(ReconManifestResponse::from(&m)))
}

/// One file of a partner's business day, CSV with a header line, streamed a chunk at a time.
#[utoipa::path(get, path = "/v1/funding-partners/{id}/recon/{date}/{file}",
    params(("id" = Uuid, Path), ("date" = String, Path, description = "YYYY-MM-DD"),
        ("file" = String, Path, description = "a file the manifest names, e.g. balances.csv")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = Problem)),
    security(("api_key" = [])), tag = "colending")]
pub async fn recon_file(
    p: Principal,
    State(s): State<AppState>,
    Path((id, date, file)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let id = path_uuid(&id, "funding partner id")?;
    let date = path_date(&date)?;
    let Some(spec) = recon::file_spec(&file) else {
        return Err(not_found("reconciliation file"));
    };
    // Refuse an unknown partner before the answer starts.
    cl::partner(&s.engine, &p.tenant, id)
        .await
        .map_err(colending_error)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let engine = s.engine.clone();
    let tenant = p.tenant.clone();
    let name = spec.name;
    tokio::spawn(async move {
        if let Err(e) = recon::stream_file(&engine, &tenant, id, date, name, tx).await {
            // The status is sent: the body ends short, which the client sees against the
            // manifest's byte count and SHA-256.
            tracing::error!(error = %e, "reconciliation file {name} stopped");
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(Bytes::from(chunk)), rx))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
