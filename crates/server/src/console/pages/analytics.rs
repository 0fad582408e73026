//! Portfolio analytics: vintage curves by months on book and the roll-rate matrix, read from
//! the month-end snapshots' pre-aggregates (`Store::vintage`, `Store::roll_rates`).

use super::{Menu, Page};
use crate::app::AppState;
use crate::auth::PartyOf;
use crate::console::access::{r, RISK};
use crate::console::svg::{self, Series};
use crate::console::{internal, layout, Ctx, Reply};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use std::collections::BTreeMap;
use store::analytics::{AnalyticsFilter, RollCell, VintagePoint, ROLL_TO};

pub const PAGE: Page = Page {
    routes,
    rules: &[r("GET", "/console/analytics", Some(RISK), PartyOf::Unbound)],
    menu: Some(Menu {
        path: "/console/analytics",
        label: |t| t.analytics,
    }),
};

/// Line colours of the origination months, in turn.
const COLOURS: [&str; 8] = [
    "#2e78b7", "#c0392b", "#1e7d32", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b7950b",
];
/// Most origination months drawn: the latest ones.
const COHORTS_MAX: usize = 12;

fn routes() -> Router<AppState> {
    Router::new().route("/console/analytics", get(show))
}

async fn show(ctx: Ctx, State(s): State<AppState>) -> Reply {
    let f = AnalyticsFilter {
        tenant: (ctx.p.tenant != "*").then(|| ctx.p.tenant.clone()),
        ..AnalyticsFilter::default()
    };
    let store = s.engine.store();
    let vintage = match store.vintage(f.clone()).await {
        Ok(v) => v,
        Err(e) => return internal(ctx.t, &ctx.p, e),
    };
    let rolls = match store.roll_rates(f).await {
        Ok(r) => r,
        Err(e) => return internal(ctx.t, &ctx.p, e),
    };
    let body = html! {
        @if vintage.is_empty() { p.note { (ctx.t.no_snapshots) } }
        div.grid {
            div.panel { (vintage_chart(&ctx, &vintage)) }
            div.panel { (roll_chart(&ctx, &rolls)) }
        }
        p.note { (ctx.t.analytics_note) }
    };
    Reply::ok(layout::page(&ctx, ctx.t.analytics, body))
}

/// One line per origination month (all currencies together): DPD30+ share of its loans
/// at each month on book.
fn vintage_chart(ctx: &Ctx, points: &[VintagePoint]) -> Markup {
    let t = ctx.t;
    let mut cohorts: BTreeMap<String, BTreeMap<i32, (i64, i64)>> = BTreeMap::new();
    for p in points {
        let c = cohorts
            .entry(p.orig_month.to_string())
            .or_default()
            .entry(p.months_on_book)
            .or_default();
        c.0 += p.loans;
        c.1 += p.dpd30_loans;
    }
    let skip = cohorts.len().saturating_sub(COHORTS_MAX);
    let mob_max = points.iter().map(|p| p.months_on_book).max().unwrap_or(0);
    let labels: Vec<String> = (0..=mob_max).map(|m| m.to_string()).collect();
    let series: Vec<Series> = cohorts
        .into_iter()
        .skip(skip)
        .enumerate()
        .map(|(i, (month, by_mob))| Series {
            name: month,
            colour: COLOURS[i % COLOURS.len()],
            values: (0..=mob_max)
                .map(|m| {
                    by_mob
                        .get(&m)
                        .filter(|(n, _)| *n > 0)
                        .map(|(n, bad)| (*bad as f64 * 1000.0 / *n as f64).round() / 10.0)
                })
                .collect(),
        })
        .collect();
    let labels = if series.is_empty() {
        Vec::new()
    } else {
        labels
    };
    svg::lines(
        t.chart_vintage_mob,
        t.axis_mob,
        t.axis_dpd30,
        "%",
        &labels,
        &series,
        t.no_data,
    )
}

/// Rows: the bucket at a month end; columns: where those loans stand one month end later,
/// as shares of the row (all currencies together, by count).
fn roll_chart(ctx: &Ctx, cells: &[RollCell]) -> Markup {
    let t = ctx.t;
    let mut m = [[0i64; ROLL_TO.len()]; 5];
    for c in cells {
        m[c.from][c.to] += c.loans;
    }
    let rows: Vec<String> = ROLL_TO[..5].iter().map(|s| s.to_string()).collect();
    let cols: Vec<String> = ROLL_TO.iter().map(|s| s.to_string()).collect();
    let shares: Vec<Vec<Option<f64>>> = m
        .iter()
        .map(|row| {
            let total: i64 = row.iter().sum();
            row.iter()
                .map(|n| (total > 0).then(|| *n as f64 / total as f64))
                .collect()
        })
        .collect();
    let (rows, shares) = if cells.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        (rows, shares)
    };
    svg::heatmap(
        t.chart_roll_rates,
        t.roll_from,
        t.roll_to,
        &rows,
        &cols,
        &shares,
        t.no_data,
    )
}
