//! Compliance: the book checked against the rule packs in force on a date (the API's
//! report, breaches by rule with their first findings), and the rules themselves with the
//! regulation each comes from.

use super::{api_error, Menu, Page};
use crate::app::AppState;
use crate::auth::PartyOf;
use crate::console::access::{r, RISK};
use crate::console::form::{self, Form};
use crate::console::{layout, Ctx, Reply};
use crate::routes::compliance::{self as api_co, ComplianceReport, ReportQuery};
use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use compliance::PackSet;
use maud::{html, Markup};
use money::BusinessDate;

pub const PAGE: Page = Page {
    routes,
    rules: &[r(
        "GET",
        "/console/compliance",
        Some(RISK),
        PartyOf::Unbound,
    )],
    menu: Some(Menu {
        path: "/console/compliance",
        label: |t| t.compliance,
    }),
};

/// Findings shown under each rule; the API answers up to 1,000.
const FINDINGS_SHOWN: usize = 10;

fn routes() -> Router<AppState> {
    Router::new().route("/console/compliance", get(show))
}

async fn show(ctx: Ctx, State(s): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let t = ctx.t;
    let mut f = Form::new(form::parse(q.as_deref().unwrap_or("")), t);
    let on = if f.value("on").is_empty() {
        None
    } else {
        match f.date("on") {
            Some(d) => Some(d),
            // Nothing is checked for a date that does not parse: the error shows beside it.
            None => {
                let page = layout::page(&ctx, t.compliance, date_form(&ctx, &f));
                return Reply::status(StatusCode::UNPROCESSABLE_ENTITY, page);
            }
        }
    };
    let query = ReportQuery {
        on: on.map(|d| d.to_string()),
    };
    let report = match api_co::report(ctx.p.clone(), State(s.clone()), Query(query)).await {
        Ok(r) => r.0,
        Err(e) => return api_error(&ctx, e),
    };
    let day = report.on.parse::<BusinessDate>().ok();
    f.default("on", &report.on);
    let body = html! {
        (date_form(&ctx, &f))
        (summary(&ctx, &report))
        (breaches(&ctx, &report))
        @if let Some(day) = day { (rules(&ctx, &s.customers.packs(), day)) }
    };
    Reply::ok(layout::page(&ctx, t.compliance, body))
}

fn date_form(ctx: &Ctx, f: &Form) -> Markup {
    html! {
        form.fields method="get" action="/console/compliance" {
            (f.input("on", ctx.t.compliance_on, "text"))
            button.primary type="submit" { (ctx.t.check_book) }
        }
    }
}

fn summary(ctx: &Ctx, r: &ComplianceReport) -> Markup {
    let t = ctx.t;
    html! {
        div.cards {
            div.card { div.k { (t.compliance_on) } div.v { (r.on) } }
            div.card { div.k { (t.customers_checked) } div.v { (layout::group(r.customers_checked as u64)) } }
            div.card { div.k { (t.loans_checked) } div.v { (layout::group(r.loans_checked as u64)) } }
            div.card { div.k { (t.breaches) } div.v { (layout::group(r.breach_count as u64)) } }
        }
    }
}

fn breaches(ctx: &Ctx, r: &ComplianceReport) -> Markup {
    let t = ctx.t;
    html! {
        h2 { (t.breaches) }
        @if r.rules.is_empty() { p.ok { (t.no_breach) } }
        @for rule in &r.rules {
            h3.mono { (rule.rule_id) " · " (layout::group(rule.count as u64)) }
            p { (rule.message) }
            table {
                tr { th { (t.subject) } th.n { (t.observed) } th.n { (t.limit) } }
                @for finding in rule.findings.iter().take(FINDINGS_SHOWN) {
                    tr {
                        td.mono { (subject_link(&finding.subject)) }
                        td.n { (finding.observed) }
                        td.n { (finding.limit) }
                    }
                }
            }
        }
    }
}

/// A loan subject links to its page; a customer's has none in the console yet.
fn subject_link(subject: &str) -> Markup {
    match subject.strip_prefix("loan:") {
        Some(id) => html! { a href={ "/console/loans/" (id) } { (subject) } },
        None => html! { (subject) },
    }
}

fn rules(ctx: &Ctx, packs: &PackSet, on: BusinessDate) -> Markup {
    let t = ctx.t;
    html! {
        h2 { (t.rules_in_force) }
        @for pack in packs.in_effect(on) {
            h3 { (pack.id) " v" (pack.version) " · " (pack.jurisdiction) " · "
                 (t.since) " " (pack.effective_from) }
            table {
                tr { th { (t.rule) } th { (t.scopes) } th { (t.message) } th { (t.source) } }
                @for rule in &pack.rules {
                    tr {
                        td.mono { (rule.id) }
                        td { (rule.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                        td { (rule.message) }
                        td { (rule.source.regulation) ", " (rule.source.article) }
                    }
                }
            }
        }
    }
}
