//! Portfolio overview: book size, new loans by month, delinquency by bucket and the
//! vintages, each from one SQL aggregate (`Store::portfolio`), never the loans themselves.

use super::{Menu, Page};
use crate::app::AppState;
use crate::auth::PartyOf;
use crate::console::access::{r, RISK};
use crate::console::svg::{self, Bar, Series};
use crate::console::{internal, layout, Ctx, Reply};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use money::BusinessDate;
use std::collections::BTreeMap;
use store::{Cohort, Portfolio, DPD_BUCKETS};

pub const PAGE: Page = Page {
    routes,
    rules: &[r("GET", "/console", Some(RISK), PartyOf::Unbound)],
    menu: Some(Menu {
        path: "/console",
        label: |t| t.overview,
    }),
};

fn routes() -> Router<AppState> {
    Router::new().route("/console", get(show))
}

async fn show(ctx: Ctx, State(s): State<AppState>) -> Reply {
    let tenant = (ctx.p.tenant != "*").then(|| ctx.p.tenant.clone());
    let figures = match s.engine.store().portfolio(tenant).await {
        Ok(f) => f,
        Err(e) => return internal(ctx.t, &ctx.p, e),
    };
    let date = match engine::loans::business_date(&s.engine).await {
        Ok(d) => d.map_or_else(|| "—".to_string(), |d| d.to_string()),
        Err(e) => return internal(ctx.t, &ctx.p, e),
    };
    let body = html! {
        (cards(&ctx, &figures, &date))
        div.grid {
            div.panel { (new_loans(&ctx, &figures.cohorts)) }
            div.panel { (delinquency(&ctx, &figures)) }
            div.panel { (vintages(&ctx, &figures.cohorts)) }
        }
        p.note { (ctx.t.overview_note) }
    };
    Reply::ok(layout::page(&ctx, ctx.t.overview, body))
}

fn card(k: &str, v: String) -> Markup {
    html! { div.card { div.k { (k) } div.v { (v) } } }
}

fn cards(ctx: &Ctx, f: &Portfolio, date: &str) -> Markup {
    let t = ctx.t;
    let stage = |s: &str| {
        f.loans_by_stage
            .iter()
            .find(|(k, _)| k == s)
            .map_or(0, |(_, n)| *n)
    };
    let active = stage("active");
    let overdue: i64 = f.active_by_bucket[1..].iter().sum();
    html! {
        div.cards {
            (card(t.business_date, date.to_string()))
            @for o in &f.outstanding {
                (card(t.loans_outstanding, layout::money(o.loans_minor, &o.currency)))
                (card(t.lines_outstanding, layout::money(o.lines_minor, &o.currency)))
            }
            (card(t.active_loans, layout::group(active as u64)))
            (card(t.overdue_loans, layout::group(overdue as u64)))
            (card(t.paid_off_loans, layout::group(stage("paid_off") as u64)))
            (card(t.written_off_loans, layout::group(stage("written_off") as u64)))
            (card(t.credit_lines, layout::group(f.credit_lines as u64)))
            (card(t.purchases, layout::group(f.purchases as u64)))
        }
    }
}

/// Cohorts folded into calendar months (`YYYY-MM`) of their signing day.
fn by_month(cohorts: &[Cohort]) -> BTreeMap<String, Cohort> {
    let mut months: BTreeMap<String, Cohort> = BTreeMap::new();
    for c in cohorts {
        let Some(d) = BusinessDate::from_epoch_days(c.day) else {
            continue;
        };
        let m = months
            .entry(format!("{:04}-{:02}", d.year(), d.month()))
            .or_default();
        m.loans += c.loans;
        m.bad += c.bad;
        m.written_off += c.written_off;
        m.paid_off += c.paid_off;
    }
    months
}

fn new_loans(ctx: &Ctx, cohorts: &[Cohort]) -> Markup {
    let t = ctx.t;
    let data: Vec<Bar> = by_month(cohorts)
        .into_iter()
        .map(|(m, c)| Bar {
            label: m,
            value: c.loans as f64,
            shown: c.loans.to_string(),
        })
        .collect();
    svg::bars(
        t.chart_new_loans,
        t.axis_month,
        t.axis_loans,
        "",
        &data,
        t.no_data,
    )
}

fn delinquency(ctx: &Ctx, f: &Portfolio) -> Markup {
    let t = ctx.t;
    let data: Vec<Bar> = DPD_BUCKETS
        .iter()
        .zip(f.active_by_bucket)
        .map(|(b, n)| Bar {
            label: (*b).to_string(),
            value: n as f64,
            shown: n.to_string(),
        })
        .collect();
    let data = if data.iter().all(|b| b.value == 0.0) {
        Vec::new()
    } else {
        data
    };
    svg::bars(
        t.chart_delinquency,
        t.axis_bucket,
        t.axis_loans,
        "",
        &data,
        t.no_data,
    )
}

/// Per origination month: the share of its loans now more than 30 days past due or
/// written off, and the share written off.
fn vintages(ctx: &Ctx, cohorts: &[Cohort]) -> Markup {
    let t = ctx.t;
    let months = by_month(cohorts);
    let pct = |n: i64, of: i64| (of > 0).then(|| (n as f64 * 1000.0 / of as f64).round() / 10.0);
    let labels: Vec<String> = months.keys().cloned().collect();
    let series = [
        Series {
            name: t.series_bad.to_string(),
            colour: "#c0392b",
            values: months.values().map(|c| pct(c.bad, c.loans)).collect(),
        },
        Series {
            name: t.series_written_off.to_string(),
            colour: "#7f8c8d",
            values: months
                .values()
                .map(|c| pct(c.written_off, c.loans))
                .collect(),
        },
        Series {
            name: t.series_paid_off.to_string(),
            colour: "#1e7d32",
            values: months.values().map(|c| pct(c.paid_off, c.loans)).collect(),
        },
    ];
    svg::lines(
        t.chart_vintage,
        t.axis_vintage,
        t.axis_share,
        "%",
        &labels,
        &series,
        t.no_data,
    )
}
