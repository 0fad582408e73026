//! The console's pages, one file each. A page lists its routes, the access rules of those
//! routes (the console's access table is the union of them) and its menu entry; adding a
//! page is one file and one line in [`PAGES`].

mod abs;
mod analytics;
mod colending;
mod compliance;
mod controls;
mod decisions;
mod keys;
mod ledger;
mod lines;
mod loans;
mod login;
mod overview;

pub use controls::READ_ONLY_PATH;

use super::{Ctx, Reply, Text};
use crate::app::AppState;
use crate::auth::RouteAccess;
use crate::problem::ApiError;
use axum::http::StatusCode;
use axum::Router;

pub struct Menu {
    pub path: &'static str,
    pub label: fn(&Text) -> &'static str,
}

pub struct Page {
    pub routes: fn() -> Router<AppState>,
    pub rules: &'static [RouteAccess],
    pub menu: Option<Menu>,
}

/// Every page, in menu order.
pub const PAGES: &[Page] = &[
    login::PAGE,
    overview::PAGE,
    analytics::PAGE,
    loans::PAGE,
    lines::PAGE,
    decisions::PAGE,
    colending::PAGE,
    abs::PAGE,
    ledger::PAGE,
    keys::PAGE,
    controls::PAGE,
    compliance::PAGE,
];

pub fn routes() -> Router<AppState> {
    PAGES
        .iter()
        .fold(Router::new(), |r, p| r.merge((p.routes)()))
}

/// An API handler's refusal as a page: 404 and 403 as themselves, a bad request as
/// not found (a console link names an object by a malformed id), the rest as an incident.
pub fn api_error(ctx: &Ctx, e: ApiError) -> Reply {
    let status = StatusCode::from_u16(e.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status.as_u16() {
        400 | 404 | 422 => {
            super::layout::error_page(ctx.t, &ctx.p, StatusCode::NOT_FOUND, ctx.t.not_found)
        }
        403 => super::layout::error_page(ctx.t, &ctx.p, status, ctx.t.forbidden),
        _ => super::internal(ctx.t, &ctx.p, &e.0.detail),
    }
}
