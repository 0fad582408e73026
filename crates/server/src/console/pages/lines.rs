//! Credit line lookup: the lines, and one line with its statements and purchases, through
//! the API's handlers (roles, tenants and parties as there).

use super::{api_error, Menu, Page};
use crate::app::AppState;
use crate::auth::PartyOf;
use crate::console::access::{r, ALL, LOAN_READERS};
use crate::console::form::{self, Form};
use crate::console::{layout, Ctx, Reply};
use crate::routes::lists::{self, DocListQuery};
use crate::routes::revolving as api_rc;
use axum::extract::{Path, Query, RawQuery, State};
use axum::routing::get;
use axum::Router;
use maud::html;

pub const PAGE: Page = Page {
    routes,
    rules: &[
        r("GET", "/console/lines", Some(LOAN_READERS), PartyOf::List),
        r("GET", "/console/lines/{id}", Some(ALL), PartyOf::Line),
    ],
    menu: Some(Menu {
        path: "/console/lines",
        label: |t| t.lines,
    }),
};

fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/lines", get(list))
        .route("/console/lines/{id}", get(show))
}

fn docs_query(cursor: Option<String>, parent: Option<String>) -> DocListQuery {
    DocListQuery {
        cursor,
        limit: Some(50),
        created_from: None,
        created_to: None,
        parent_id: parent,
    }
}

async fn list(ctx: Ctx, State(s): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let t = ctx.t;
    let mut f = Form::new(form::parse(q.as_deref().unwrap_or("")), t);
    if f.has("id") {
        if let Some(id) = f.uuid("id") {
            return Reply::redirect(&format!("/console/lines/{id}"));
        }
    }
    let cursor = Some(f.value("cursor").to_string()).filter(|c| !c.is_empty());
    let page =
        match lists::list_lines(ctx.p.clone(), State(s), Query(docs_query(cursor, None))).await {
            Ok(p) => p.0,
            Err(e) => return api_error(&ctx, e),
        };
    let body = html! {
        form.lookup method="get" action="/console/lines" {
            (f.input("id", t.line_id, "text"))
            button.primary type="submit" { (t.look_up) }
        }
        h2 { (t.line_list) }
        table {
            tr { th { (t.line_id) } th { (t.status) } th.n { (t.limit) } th.n { (t.available) }
                 th.n { (t.used) } th.n { (t.dpd) } }
            @for l in &page.items {
                tr {
                    td.mono { a href={ "/console/lines/" (l.id) } { (l.id) } }
                    td { (l.status) }
                    td.n { (layout::money(l.limit_minor, &l.currency)) }
                    td.n { (layout::money(l.available_minor, &l.currency)) }
                    td.n { (layout::money(l.used_minor, &l.currency)) }
                    td.n { (l.days_past_due) }
                }
            }
            @if page.items.is_empty() { tr { td colspan="6" { (t.none) } } }
        }
        @if let Some(next) = &page.next_cursor {
            p { a href={ "/console/lines?cursor=" (form::encode(next)) } { (t.next_page) } }
        }
    };
    Reply::ok(layout::page(&ctx, t.lines, body))
}

fn minor(v: &serde_json::Value, k: &str) -> i64 {
    v[k].as_i64().unwrap_or(0)
}

async fn show(ctx: Ctx, State(s): State<AppState>, Path(id): Path<String>) -> Reply {
    let t = ctx.t;
    let line = match api_rc::get_line(ctx.p.clone(), State(s.clone()), Path(id.clone())).await {
        Ok(l) => l.0,
        Err(e) => return api_error(&ctx, e),
    };
    let q = docs_query(None, Some(id));
    let purchases = match lists::list_purchases(ctx.p.clone(), State(s), Query(q)).await {
        Ok(p) => p.0.items,
        Err(e) => return api_error(&ctx, e),
    };
    let c = &line.currency;
    let body = html! {
        div.cards {
            div.card { div.k { (t.status) } div.v { (line.status) } }
            div.card { div.k { (t.limit) } div.v { (layout::money(line.limit_minor, c)) } }
            div.card { div.k { (t.available) } div.v { (layout::money(line.available_minor, c)) } }
            div.card { div.k { (t.used) } div.v { (layout::money(line.used_minor, c)) } }
            div.card { div.k { (t.interest) } div.v { (layout::money(line.interest_minor, c)) } }
            div.card { div.k { (t.dpd) } div.v { (line.days_past_due) } }
            div.card { div.k { (t.business_date) } div.v { (line.business_date) } }
        }
        p.note { (t.borrower) " " code { (line.borrower_id) } }
        h2 { (t.statements) }
        table {
            tr { th.n { "#" } th { (t.statement_date) } th { (t.due_date) } th.n { (t.total) }
                 th.n { (t.min_payment) } th.n { (t.paid) } }
            @for st in line.statements.iter().rev() {
                tr {
                    td.n { (st["seq"]) }
                    td { (st["statement_date"].as_str().unwrap_or("")) }
                    td { (st["due_date"].as_str().unwrap_or("")) }
                    td.n { (layout::money(minor(st, "total_minor"), c)) }
                    td.n { (layout::money(minor(st, "min_payment_minor"), c)) }
                    td.n { (layout::money(minor(st, "paid_minor"), c)) }
                }
            }
            @if line.statements.is_empty() { tr { td colspan="6" { (t.none) } } }
        }
        h2 { (t.purchases) }
        table {
            tr { th { (t.purchase) } th { (t.merchant) } th { (t.status) } th { (t.date) }
                 th.n { (t.amount) } th.n { (t.refunded) } }
            @for p in &purchases {
                tr {
                    td.mono { (p.id) } td.mono { (p.merchant_id) } td { (p.status) }
                    td { (p.authorized_on) }
                    td.n { (layout::money(p.amount_minor, &p.currency)) }
                    td.n { (layout::money(p.refunded_minor, &p.currency)) }
                }
            }
            @if purchases.is_empty() { tr { td colspan="6" { (t.none) } } }
        }
    };
    Reply::ok(layout::page(&ctx, &format!("{} {}", t.line, line.id), body))
}
