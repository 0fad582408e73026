//! Co-lending: the funding partners, and one partner with its positions in co-lent loans,
//! through the API's handlers (a partner-bank key sees its own partner only).

use super::{api_error, Menu, Page};
use crate::app::AppState;
use crate::auth::PartyOf;
use crate::console::access::{r, FUNDING_READERS};
use crate::console::form;
use crate::console::{layout, Ctx, Reply};
use crate::routes::colending::{self as api_cl, PartnerListQuery};
use axum::extract::{Path, Query, RawQuery, State};
use axum::routing::get;
use axum::Router;
use maud::html;

pub const PAGE: Page = Page {
    routes,
    rules: &[
        r(
            "GET",
            "/console/colending",
            Some(FUNDING_READERS),
            PartyOf::List,
        ),
        r(
            "GET",
            "/console/colending/{id}",
            Some(FUNDING_READERS),
            PartyOf::FundingPartner,
        ),
    ],
    menu: Some(Menu {
        path: "/console/colending",
        label: |t| t.colending,
    }),
};

fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/colending", get(list))
        .route("/console/colending/{id}", get(show))
}

fn query(cursor: Option<String>) -> PartnerListQuery {
    PartnerListQuery {
        cursor,
        limit: Some(100),
    }
}

async fn list(ctx: Ctx, State(s): State<AppState>) -> Reply {
    let t = ctx.t;
    let page = match api_cl::list_partners(ctx.p.clone(), State(s), Query(query(None))).await {
        Ok(p) => p.0,
        Err(e) => return api_error(&ctx, e),
    };
    let body = html! {
        table {
            tr { th { (t.partner) } th { (t.kind) } th.n { (t.yield_annual) } th.n { (t.quota) }
                 th { (t.approval) } th { (t.since) } }
            @for p in &page.items {
                tr {
                    td { a href={ "/console/colending/" (p.id) } { (p.name) } }
                    td { (p.kind) }
                    td.n { (p.yield_annual.as_deref().unwrap_or("—")) }
                    td.n { (layout::money(p.quota_minor, &p.currency)) }
                    td { (p.approval.mode) }
                    td { (p.created_on) }
                }
            }
            @if page.items.is_empty() { tr { td colspan="6" { (t.none) } } }
        }
        p.note { (t.colending_note) }
    };
    Reply::ok(layout::page(&ctx, t.colending, body))
}

async fn show(
    ctx: Ctx,
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let t = ctx.t;
    let partner = match api_cl::get_partner(ctx.p.clone(), State(s.clone()), Path(id.clone())).await
    {
        Ok(p) => p.0,
        Err(e) => return api_error(&ctx, e),
    };
    let cursor = form::parse(q.as_deref().unwrap_or("")).remove("cursor");
    let positions = match api_cl::partner_positions(
        ctx.p.clone(),
        State(s),
        Path(id.clone()),
        Query(query(cursor)),
    )
    .await
    {
        Ok(p) => p.0,
        Err(e) => return api_error(&ctx, e),
    };
    let c = &partner.currency;
    let outstanding: i64 = positions
        .items
        .iter()
        .map(|p| p.funding.principal_outstanding_minor)
        .sum();
    let funded: i64 = positions
        .items
        .iter()
        .map(|p| p.funding.principal_funded_minor)
        .sum();
    let body = html! {
        div.cards {
            div.card { div.k { (t.kind) } div.v { (partner.kind) } }
            div.card { div.k { (t.yield_annual) } div.v { (partner.yield_annual.as_deref().unwrap_or("—")) } }
            div.card { div.k { (t.quota) } div.v { (layout::money(partner.quota_minor, c)) } }
            div.card { div.k { (t.funded_page) } div.v { (layout::money(funded, c)) } }
            div.card { div.k { (t.outstanding_page) } div.v { (layout::money(outstanding, c)) } }
        }
        h2 { (t.positions) }
        table {
            tr { th { (t.loan) } th.n { (t.share) } th.n { (t.funded) } th.n { (t.outstanding) }
                 th.n { (t.interest) } th.n { (t.written_off) } }
            @for p in &positions.items {
                tr {
                    td.mono { a href={ "/console/loans/" (p.loan_id) } { (p.loan_id) } }
                    td.n { (p.funding.share) }
                    td.n { (layout::money(p.funding.principal_funded_minor, &p.currency)) }
                    td.n { (layout::money(p.funding.principal_outstanding_minor, &p.currency)) }
                    td.n { (layout::money(p.funding.interest_receivable_minor, &p.currency)) }
                    td.n { (layout::money(p.funding.written_off_minor, &p.currency)) }
                }
            }
            @if positions.items.is_empty() { tr { td colspan="6" { (t.none) } } }
        }
        @if let Some(next) = &positions.next_cursor {
            p { a href={ "/console/colending/" (id) "?cursor=" (form::encode(next)) } { (t.next_page) } }
        }
    };
    Reply::ok(layout::page(&ctx, &partner.name, body))
}
