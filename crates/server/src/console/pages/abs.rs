//! Securitization: the stored deals, and one deal with its pool, true sale, tranche
//! balances period by period (a chart and a table) and each period's collections,
//! waterfall and triggers, through the API's handlers.

use super::{api_error, Menu, Page};
use crate::app::AppState;
use crate::auth::PartyOf;
use crate::console::access::{r, ABS_USERS};
use crate::console::svg::{self, Series};
use crate::console::{layout, Ctx, Reply};
use crate::routes::abs_deals::{self as api_abs, DealListQuery};
use api::{PeriodWire, StoredDealResponse};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

pub const PAGE: Page = Page {
    routes,
    rules: &[
        r("GET", "/console/abs", Some(ABS_USERS), PartyOf::Unbound),
        r(
            "GET",
            "/console/abs/{id}",
            Some(ABS_USERS),
            PartyOf::Unbound,
        ),
    ],
    menu: Some(Menu {
        path: "/console/abs",
        label: |t| t.securitization,
    }),
};

/// Tranche colours, in the deal's order.
const COLOURS: [&str; 6] = [
    "#2e78b7", "#c0392b", "#1e7d32", "#8e44ad", "#d35400", "#7f8c8d",
];

fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/abs", get(list))
        .route("/console/abs/{id}", get(show))
}

async fn list(ctx: Ctx, State(s): State<AppState>) -> Reply {
    let t = ctx.t;
    let q = DealListQuery {
        cursor: None,
        limit: Some(500),
    };
    let deals = match api_abs::list_deals(ctx.p.clone(), State(s), Query(q)).await {
        Ok(p) => p.0.items,
        Err(e) => return api_error(&ctx, e),
    };
    let body = html! {
        table {
            tr { th { (t.deal) } th { (t.status) } th.n { (t.pool) } th.n { (t.loans) }
                 th.n { (t.periods_run) } th { (t.since) } }
            @for d in &deals {
                tr {
                    td { a href={ "/console/abs/" (d.id) } { (d.name) } }
                    td { (d.status) }
                    td.n { (d.pool_total_minor.map_or("—".into(), |m| layout::money(m, &d.currency))) }
                    td.n { (d.pool_loans.map_or("—".into(), |n| layout::group(n as u64))) }
                    td.n { (d.periods_run) }
                    td { (d.created_on) }
                }
            }
            @if deals.is_empty() { tr { td colspan="6" { (t.none) } } }
        }
        p.note { (t.abs_note) }
    };
    Reply::ok(layout::page(&ctx, t.securitization, body))
}

async fn show(ctx: Ctx, State(s): State<AppState>, Path(id): Path<String>) -> Reply {
    let deal = match api_abs::get_deal(ctx.p.clone(), State(s.clone()), Path(id.clone())).await {
        Ok(d) => d.0,
        Err(e) => return api_error(&ctx, e),
    };
    let periods = match api_abs::list_periods(ctx.p.clone(), State(s), Path(id)).await {
        Ok(p) => p.0.items,
        Err(e) => return api_error(&ctx, e),
    };
    let names = bond_names(&deal);
    let body = html! {
        (cards(&ctx, &deal))
        @if !periods.is_empty() {
            div.panel { (balance_chart(&ctx, &names, &periods)) }
        }
        h2 { (ctx.t.periods) }
        (period_table(&ctx, &deal, &names, &periods))
    };
    Reply::ok(layout::page(&ctx, &deal.name, body))
}

/// The tranche names, in the deal file's order.
fn bond_names(deal: &StoredDealResponse) -> Vec<String> {
    deal.deal["bonds"]
        .as_array()
        .map(|bonds| {
            bonds
                .iter()
                .filter_map(|b| b["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn cards(ctx: &Ctx, d: &StoredDealResponse) -> Markup {
    let t = ctx.t;
    let c = &d.currency;
    html! {
        div.cards {
            div.card { div.k { (t.status) } div.v { (d.status) } }
            div.card { div.k { (t.pool) } div.v {
                (d.pool_total_minor.map_or("—".into(), |m| layout::money(m, c))) } }
            div.card { div.k { (t.loans) } div.v {
                (d.pool_loans.map_or("—".into(), |n| layout::group(n as u64))) } }
            @if let Some(closing) = &d.closing {
                div.card { div.k { (t.sold_on) } div.v { (closing.closed_on) } }
                div.card { div.k { (t.sale_price) } div.v { (layout::money(closing.price_minor, c)) } }
            }
            div.card { div.k { (t.periods_run) } div.v { (d.periods_run) } }
        }
    }
}

/// Each tranche's balance and the pool's after each period, in major units for the axis
/// only (the table beside it has the exact amounts).
fn balance_chart(ctx: &Ctx, names: &[String], periods: &[PeriodWire]) -> Markup {
    let t = ctx.t;
    let labels: Vec<String> = periods.iter().map(|p| p.payment_date.clone()).collect();
    let mut series: Vec<Series> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Series {
            name: name.clone(),
            colour: COLOURS[i % (COLOURS.len() - 1)],
            values: periods
                .iter()
                .map(|p| p.bond_balances_minor.get(i).map(|m| *m as f64 / 100.0))
                .collect(),
        })
        .collect();
    // The pool beside the tranches: flat through a revolving period, then paying down.
    series.push(Series {
        name: t.pool.into(),
        colour: COLOURS[COLOURS.len() - 1],
        values: periods
            .iter()
            .map(|p| Some(p.pool_balance_minor as f64 / 100.0))
            .collect(),
    });
    svg::lines(
        t.tranche_balances,
        t.payment_date,
        t.balance,
        "",
        &labels,
        &series,
        t.none,
    )
}

fn period_table(
    ctx: &Ctx,
    d: &StoredDealResponse,
    names: &[String],
    periods: &[PeriodWire],
) -> Markup {
    let t = ctx.t;
    let c = &d.currency;
    html! {
        table {
            tr {
                th.n { "#" } th { (t.payment_date) } th.n { (t.interest) } th.n { (t.principal) }
                th.n { (t.defaults) } th { (t.waterfall) }
                @for n in names { th.n { (n) } }
                th { (t.triggers) }
            }
            @for p in periods {
                tr {
                    td.n { (p.n) }
                    td { (p.payment_date) }
                    td.n { (layout::money(p.interest_collected_minor, c)) }
                    td.n { (layout::money(p.principal_collected_minor, c)) }
                    td.n { (layout::money(p.new_default_minor, c)) }
                    td { (p.waterfall) @if p.revolving { " · " (t.revolving) } }
                    @for b in &p.bond_balances_minor { td.n { (layout::money(*b, c)) } }
                    td { (p.triggers.iter().filter(|x| **x).count()) " / " (p.triggers.len()) }
                }
            }
            @if periods.is_empty() { tr { td colspan=(7 + names.len()) { (t.none) } } }
        }
    }
}
