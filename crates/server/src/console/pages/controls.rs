//! Emergency controls: the read-only mode, funders in outage, the active halts with a form
//! to lift each, and a form to throw a halt, through the API's handlers (operators only).

use super::{api_error, Menu, Page};
use crate::app::AppState;
use crate::auth::PartyOf;
use crate::console::access::{r, OPS};
use crate::console::form::{self, Form};
use crate::console::{layout, Ctx, Reply};
use crate::problem::WireJson;
use crate::routes::controls::{self as api_ctl, HaltListQuery};
use api::{HaltRequest, HaltScopeWire, LiftRequest, OperationWire, ReadOnlyRequest};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use maud::html;

/// The console's way out of the read-only mode, which its gate lets through.
pub const READ_ONLY_PATH: &str = "/console/controls/read-only";

pub const PAGE: Page = Page {
    routes,
    rules: &[
        r("GET", "/console/controls", Some(OPS), PartyOf::Unbound),
        r("POST", "/console/controls", Some(OPS), PartyOf::Unbound),
        r(
            "POST",
            "/console/controls/halts/{id}/lift",
            Some(OPS),
            PartyOf::Unbound,
        ),
        r("POST", READ_ONLY_PATH, Some(OPS), PartyOf::Unbound),
    ],
    menu: Some(Menu {
        path: "/console/controls",
        label: |t| t.controls,
    }),
};

fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/controls", get(show).post(halt))
        .route("/console/controls/halts/{id}/lift", post(lift))
        .route(READ_ONLY_PATH, post(read_only))
}

const KINDS: [&str; 5] = ["everywhere", "revolving", "product", "merchant", "funder"];
const OPERATIONS: [&str; 4] = ["", "originations", "purchases", "both"];
const REASON_MAX: usize = 500;

async fn render(ctx: &Ctx, s: AppState, f: &Form, lift_error: Option<String>) -> Reply {
    let t = ctx.t;
    let q = HaltListQuery {
        state: Some("active".into()),
        cursor: None,
        limit: Some(500),
    };
    let halts = match api_ctl::list_halts(ctx.p.clone(), State(s.clone()), Query(q)).await {
        Ok(p) => p.0.items,
        Err(e) => return api_error(ctx, e),
    };
    let mode = s.engine.controls().read_only();
    let outages = s.engine.controls().outages();
    let kinds: Vec<String> = KINDS.iter().map(|k| k.to_string()).collect();
    let ops: Vec<String> = OPERATIONS.iter().map(|k| k.to_string()).collect();
    let body = html! {
        div.panel {
            @if mode.on {
                p.error { (t.read_only_on) ": " (mode.reason) }
            } @else {
                p.ok { (t.read_only_off) }
            }
            form.fields method="post" action=(READ_ONLY_PATH) {
                input type="hidden" name="on" value=(if mode.on { "off" } else { "on" });
                (f.input("mode_reason", t.reason, "text"))
                button.primary type="submit" {
                    (if mode.on { t.turn_read_only_off } else { t.turn_read_only_on })
                }
            }
        }
        h2 { (t.active_halts) }
        @if let Some(e) = &lift_error { p.field-error { (e) } }
        table {
            tr { th { "id" } th { (t.scope) } th { (t.operations) } th { (t.reason) }
                 th { (t.halted_at) } th {} }
            @for h in &halts {
                tr {
                    td.mono { (h.id) }
                    td { (scope_text(&h.scope)) }
                    td { (h.operations.iter().map(op_name).collect::<Vec<_>>().join(", ")) }
                    td { (h.reason) }
                    td { (crate::cob_runs::rfc3339_ms(h.halted_at_ms)) }
                    td {
                        form method="post" action={ "/console/controls/halts/" (h.id) "/lift" } {
                            input type="text" name="reason" placeholder=(t.reason) aria-label=(t.reason);
                            button type="submit" { (t.lift) }
                        }
                    }
                }
            }
            @if halts.is_empty() { tr { td colspan="6" { (t.none) } } }
        }
        h2 { (t.new_halt) }
        form.fields method="post" action="/console/controls" {
            (f.select("kind", t.scope, &kinds))
            (f.input("target", t.scope_target, "text"))
            (f.select("operations", t.operations, &ops))
            (f.input("reason", t.reason, "text"))
            button.primary type="submit" { (t.halt) }
        }
        h2 { (t.funder_outages) }
        table {
            tr { th { (t.partner) } th { (t.outage_action) } th { (t.reason) } }
            @for o in &outages {
                tr {
                    td.mono { a href={ "/console/colending/" (o.partner_id) } { (o.partner_id) } }
                    td { (match o.action { Some(engine::controls::OutageAction::Reroute) => "reroute", _ => "pause" }) }
                    td { (o.reason) }
                }
            }
            @if outages.is_empty() { tr { td colspan="3" { (t.none) } } }
        }
        p.note { (t.controls_note) }
    };
    let status = if f.ok() && lift_error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Reply::status(status, layout::page(ctx, t.controls, body))
}

fn op_name(o: &OperationWire) -> &'static str {
    match o {
        OperationWire::Originations => "originations",
        OperationWire::Purchases => "purchases",
    }
}

fn scope_text(s: &HaltScopeWire) -> String {
    match s {
        HaltScopeWire::Everywhere => "everywhere".into(),
        HaltScopeWire::Revolving => "revolving".into(),
        HaltScopeWire::Product { product_id } => format!("product {product_id}"),
        HaltScopeWire::Merchant { merchant_id } => format!("merchant {merchant_id}"),
        HaltScopeWire::Funder { partner_id } => format!("funder {partner_id}"),
    }
}

async fn show(ctx: Ctx, State(s): State<AppState>) -> Reply {
    let f = Form::new(Default::default(), ctx.t);
    render(&ctx, s, &f, None).await
}

fn fresh_key() -> HeaderMap {
    let mut h = HeaderMap::new();
    let key = uuid::Uuid::now_v7().to_string();
    h.insert(
        "idempotency-key",
        HeaderValue::from_str(&key).expect("a UUID is a header value"),
    );
    h
}

/// Checks the form, then asks the API's handler, whose refusals land beside their field.
async fn halt(ctx: Ctx, State(s): State<AppState>, body: String) -> Reply {
    let t = ctx.t;
    let mut f = Form::new(form::parse(&body), t);
    let kinds: Vec<String> = KINDS.iter().map(|k| k.to_string()).collect();
    let kind = f.choice("kind", &kinds);
    let needs_target = matches!(kind.as_deref(), Some("product" | "merchant" | "funder"));
    let target = if needs_target { f.uuid("target") } else { None };
    let operations = match f.value("operations") {
        "" => None,
        "originations" => Some(vec![OperationWire::Originations]),
        "purchases" => Some(vec![OperationWire::Purchases]),
        "both" => Some(vec![OperationWire::Originations, OperationWire::Purchases]),
        _ => {
            f.fail("operations", t.err_choice);
            None
        }
    };
    let reason = f.text("reason", REASON_MAX);
    let scope = match (kind.as_deref(), target) {
        (Some("everywhere"), _) => Some(HaltScopeWire::Everywhere),
        (Some("revolving"), _) => Some(HaltScopeWire::Revolving),
        (Some("product"), Some(product_id)) => Some(HaltScopeWire::Product { product_id }),
        (Some("merchant"), Some(merchant_id)) => Some(HaltScopeWire::Merchant { merchant_id }),
        (Some("funder"), Some(partner_id)) => Some(HaltScopeWire::Funder { partner_id }),
        _ => None,
    };
    let (Some(scope), Some(reason), true) = (scope, reason, f.ok()) else {
        return render(&ctx, s, &f, None).await;
    };
    let req = HaltRequest {
        id: None,
        scope,
        operations,
        reason,
    };
    match api_ctl::create_halt(ctx.p.clone(), State(s.clone()), fresh_key(), WireJson(req)).await {
        Ok(_) => Reply::redirect("/console/controls"),
        Err(e) if e.0.status < 500 => {
            let field = match e.0.field.as_deref() {
                Some(f) if f.starts_with("scope.") => "target",
                Some("operations") => "operations",
                _ => "reason",
            };
            f.fail(field, e.0.detail.clone());
            render(&ctx, s, &f, None).await
        }
        Err(e) => api_error(&ctx, e),
    }
}

async fn lift(ctx: Ctx, State(s): State<AppState>, Path(id): Path<String>, body: String) -> Reply {
    let t = ctx.t;
    let mut f = Form::new(form::parse(&body), t);
    let Some(reason) = f.text("reason", REASON_MAX) else {
        let msg = format!("{}: {}", t.reason, f.error("reason").unwrap_or_default());
        let blank = Form::new(Default::default(), t);
        return render(&ctx, s, &blank, Some(msg)).await;
    };
    let req = LiftRequest { reason };
    match api_ctl::lift_halt(ctx.p.clone(), State(s.clone()), Path(id), WireJson(req)).await {
        Ok(_) => Reply::redirect("/console/controls"),
        Err(e) if e.0.status == 409 || e.0.status == 422 => {
            let blank = Form::new(Default::default(), t);
            render(&ctx, s, &blank, Some(e.0.detail.clone())).await
        }
        Err(e) => api_error(&ctx, e),
    }
}

async fn read_only(ctx: Ctx, State(s): State<AppState>, body: String) -> Reply {
    let t = ctx.t;
    let mut f = Form::new(form::parse(&body), t);
    let on = f.value("on") == "on";
    let Some(reason) = f.text("mode_reason", REASON_MAX) else {
        return render(&ctx, s, &f, None).await;
    };
    let req = ReadOnlyRequest { on, reason };
    match api_ctl::set_read_only(ctx.p.clone(), State(s.clone()), WireJson(req)).await {
        Ok(_) => Reply::redirect("/console/controls"),
        Err(e) if e.0.status < 500 => {
            f.fail("mode_reason", e.0.detail.clone());
            render(&ctx, s, &f, None).await
        }
        Err(e) => api_error(&ctx, e),
    }
}
