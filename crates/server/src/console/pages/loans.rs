//! Loan lookup: a list by delinquency bucket, and one loan with its schedule, funders and
//! ledger entries. Read through the API's own handlers, so roles, tenants and parties
//! apply exactly as they do there.

use super::{api_error, Menu, Page};
use crate::app::AppState;
use crate::auth::PartyOf;
use crate::console::access::{r, LOAN_READERS};
use crate::console::form::{self, Form};
use crate::console::{layout, Ctx, Reply};
use crate::routes::lists::{self, LoanListQuery, SeqPageQuery, DPD_BUCKETS};
use crate::routes::loans::{self as api_loans, AsOfQuery};
use api::{EntryResponse, LoanResponse};
use axum::extract::{Path, Query, RawQuery, State};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

pub const PAGE: Page = Page {
    routes,
    rules: &[
        r("GET", "/console/loans", Some(LOAN_READERS), PartyOf::List),
        r(
            "GET",
            "/console/loans/{id}",
            Some(LOAN_READERS),
            PartyOf::Loan,
        ),
    ],
    menu: Some(Menu {
        path: "/console/loans",
        label: |t| t.loans,
    }),
};

fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/loans", get(list))
        .route("/console/loans/{id}", get(show))
}

async fn list(ctx: Ctx, State(s): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let t = ctx.t;
    let mut f = Form::new(form::parse(q.as_deref().unwrap_or("")), t);
    if f.has("id") {
        if let Some(id) = f.uuid("id") {
            return Reply::redirect(&format!("/console/loans/{id}"));
        }
    }
    let buckets: Vec<String> = std::iter::once(String::new())
        .chain(DPD_BUCKETS.iter().map(|b| b.to_string()))
        .collect();
    let bucket = match f.value("bucket") {
        "" => None,
        _ => f.choice("bucket", &buckets),
    };
    let cursor = Some(f.value("cursor").to_string()).filter(|c| !c.is_empty());
    let query = LoanListQuery {
        cursor: cursor.clone(),
        limit: Some(50),
        status: None,
        borrower: None,
        product_id: None,
        created_from: None,
        created_to: None,
        dpd_bucket: bucket.clone(),
    };
    let page = match f.ok() {
        true => match lists::list_loans(ctx.p.clone(), State(s), Query(query)).await {
            Ok(p) => Some(p.0),
            Err(e) if e.0.status < 500 => {
                f.fail("cursor", e.0.detail.clone());
                None
            }
            Err(e) => return api_error(&ctx, e),
        },
        false => None,
    };
    let body = html! {
        form.lookup method="get" action="/console/loans" {
            (f.input("id", t.loan_id, "text"))
            button.primary type="submit" { (t.look_up) }
        }
        h2 { (t.loan_list) }
        form.lookup method="get" action="/console/loans" {
            (f.select("bucket", t.bucket, &buckets))
            @if let Some(e) = f.error("cursor") { span.field-error { (e) } }
            button.primary type="submit" { (t.filter) }
        }
        @if let Some(page) = &page {
            (loan_table(&ctx, &page.items))
            @if let Some(next) = &page.next_cursor {
                p { a href={ "/console/loans?bucket=" (form::encode(bucket.as_deref().unwrap_or(""))) "&cursor=" (form::encode(next)) } { (t.next_page) } }
            }
        }
    };
    Reply::ok(layout::page(&ctx, t.loans, body))
}

fn loan_table(ctx: &Ctx, items: &[LoanResponse]) -> Markup {
    let t = ctx.t;
    html! {
        table {
            tr { th { (t.loan_id) } th { (t.borrower) } th { (t.stage) } th.n { (t.principal) }
                 th.n { (t.outstanding) } th.n { (t.dpd) } th { (t.bucket) } }
            @for l in items {
                tr {
                    td.mono { a href={ "/console/loans/" (l.id) } { (l.id) } }
                    td { (l.borrower) } td { (l.stage) }
                    td.n { (layout::money(l.principal_minor, &l.currency)) }
                    td.n { (layout::money(l.principal_outstanding_minor, &l.currency)) }
                    td.n { (l.dpd) } td { (l.bucket) }
                }
            }
            @if items.is_empty() { tr { td colspan="7" { (t.none) } } }
        }
    }
}

async fn show(ctx: Ctx, State(s): State<AppState>, Path(id): Path<String>) -> Reply {
    let t = ctx.t;
    let q = AsOfQuery { as_of: None };
    let loan = match api_loans::get_loan(
        ctx.p.clone(),
        State(s.clone()),
        Path(id.clone()),
        Query(q),
    )
    .await
    {
        Ok(l) => l.0,
        Err(e) => return api_error(&ctx, e),
    };
    let q = SeqPageQuery {
        cursor: None,
        limit: Some(100),
    };
    let entries = match lists::loan_entries(ctx.p.clone(), State(s), Path(id), Query(q)).await {
        Ok(p) => p.0.items,
        Err(e) => return api_error(&ctx, e),
    };
    let c = &loan.currency;
    let body = html! {
        div.cards {
            div.card { div.k { (t.borrower) } div.v { (loan.borrower) } }
            div.card { div.k { (t.stage) } div.v { (loan.stage) } }
            div.card { div.k { (t.principal) } div.v { (layout::money(loan.principal_minor, c)) } }
            div.card { div.k { (t.outstanding) } div.v { (layout::money(loan.principal_outstanding_minor, c)) } }
            div.card { div.k { (t.dpd) } div.v { (loan.dpd) " · " (loan.bucket) } }
            div.card { div.k { (t.rate) } div.v { (loan.contract_rate) } }
            div.card { div.k { "APR" } div.v { (loan.apr_percent.as_deref().unwrap_or("—")) "%" } }
            div.card { div.k { (t.business_date) } div.v { (loan.business_date) } }
            @if loan.stage == "written_off" {
                div.card { div.k { (t.written_off_claim) } div.v { (layout::money(loan.written_off_claim_minor, c)) } }
            }
        }
        @if let Some(d) = loan.decision_id { p.note { (t.priced_by) " " code { (d) } } }
        h2 { (t.schedule) }
        table {
            tr { th.n { "#" } th { (t.due_date) } th.n { (t.principal) } th.n { (t.interest) }
                 th.n { (t.fee) } th.n { (t.total) } th { (t.billed) } th.n { (t.outstanding) } }
            @for i in &loan.installments {
                tr {
                    td.n { (i.scheduled.number) } td { (i.scheduled.due_date) }
                    td.n { (layout::money(i.scheduled.principal_minor, c)) }
                    td.n { (layout::money(i.scheduled.interest_minor, c)) }
                    td.n { (layout::money(i.scheduled.fee_minor, c)) }
                    td.n { (layout::money(i.scheduled.total_minor, c)) }
                    td { @if i.billed { "✓" } }
                    td.n { (layout::money(i.outstanding_minor, c)) }
                }
            }
        }
        @if let Some(funders) = &loan.funding {
            h2 { (t.funders) }
            table {
                tr { th { (t.partner) } th.n { (t.share) } th.n { (t.funded) } th.n { (t.outstanding) } }
                @for f in funders {
                    tr {
                        td.mono { (f.partner_id) } td.n { (f.share) }
                        td.n { (layout::money(f.principal_funded_minor, c)) }
                        td.n { (layout::money(f.principal_outstanding_minor, c)) }
                    }
                }
            }
        }
        @if let Some(g) = &loan.guarantor {
            h2 { (t.guarantor) }
            table {
                tr { th { (t.partner) } th.n { (t.trigger_dpd) } th.n { (t.paid_to_funders) }
                     th.n { (t.claims) } th.n { (t.principal_held) } }
                tr {
                    td.mono { (g.partner_id) } td.n { (g.trigger_dpd) }
                    td.n { (layout::money(g.paid_minor, c)) } td.n { (g.claims) }
                    td.n { (layout::money(g.principal_outstanding_minor, c)) }
                }
            }
        }
        @if let Some(f) = &loan.first_loss {
            h2 { (t.first_loss) }
            table {
                tr { th { (t.deposit) } th { (t.drawn_on) } th.n { (t.deposit_paid) } }
                tr {
                    td.mono { (f.deposit_id) } td { (f.drawn_on.as_deref().unwrap_or("—")) }
                    td.n { (layout::money(f.paid_minor, c)) }
                }
            }
        }
        h2 { (t.ledger_entries) }
        (entry_table(&ctx, &entries))
    };
    Reply::ok(layout::page(&ctx, &format!("{} {}", t.loan, loan.id), body))
}

/// Entries with their postings; each links to its inclusion proof.
pub fn entry_table(ctx: &Ctx, entries: &[EntryResponse]) -> Markup {
    let t = ctx.t;
    html! {
        table {
            tr { th.n { (t.seq) } th { (t.entry) } th { (t.memo) } th { (t.postings) } }
            @for e in entries {
                tr {
                    td.n { (e.seq) }
                    td.mono { a href={ "/console/ledger?entry=" (e.id) } { (e.id) } }
                    td { (e.memo) }
                    td {
                        @for p in &e.postings {
                            div.mono { (p.direction) " " (layout::money(p.amount_minor, &e.currency)) " · " (p.account_id) }
                        }
                    }
                }
            }
            @if entries.is_empty() { tr { td colspan="4" { (t.none) } } }
        }
    }
}
