//! API keys: the tenant's keys, a form that creates one (the secret shown once) and
//! revocation, through the API's handlers.

use super::{api_error, Menu, Page};
use crate::app::AppState;
use crate::auth::PartyOf;
use crate::console::access::{r, OPS};
use crate::console::form::{self, Form};
use crate::console::{layout, Ctx, Reply};
use crate::problem::WireJson;
use crate::routes::keys::{self as api_keys, KeyPageQuery};
use api::CreateApiKeyRequest;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use maud::html;

pub const PAGE: Page = Page {
    routes,
    rules: &[
        r("GET", "/console/keys", Some(OPS), PartyOf::Unbound),
        r("POST", "/console/keys", Some(OPS), PartyOf::Unbound),
        r(
            "POST",
            "/console/keys/{id}/revoke",
            Some(OPS),
            PartyOf::Unbound,
        ),
    ],
    menu: Some(Menu {
        path: "/console/keys",
        label: |t| t.keys,
    }),
};

fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/keys", get(show).post(create))
        .route("/console/keys/{id}/revoke", post(revoke))
}

const ROLES: [&str; 6] = [
    "operator",
    "risk_analyst",
    "partner_bank",
    "investor",
    "merchant",
    "borrower",
];
const PARTY_KINDS: [&str; 5] = ["", "borrower", "merchant", "partner", "investor"];

async fn render(ctx: &Ctx, s: AppState, f: &Form, created: Option<String>) -> Reply {
    let t = ctx.t;
    let q = KeyPageQuery {
        cursor: None,
        limit: Some(200),
    };
    let page = match api_keys::list_keys(ctx.p.clone(), State(s), Query(q)).await {
        Ok(p) => p.0,
        Err(e) => return api_error(ctx, e),
    };
    let roles: Vec<String> = ROLES.iter().map(|r| r.to_string()).collect();
    let kinds: Vec<String> = PARTY_KINDS.iter().map(|r| r.to_string()).collect();
    let body = html! {
        @if let Some(key) = created {
            div.panel { p.ok { (t.key_created) } p.mono id="new-key" { (key) } }
        }
        h2 { (t.new_key) }
        form.fields method="post" action="/console/keys" {
            (f.select("role", t.role, &roles))
            (f.input("tenant", t.tenant, "text"))
            (f.input("label", t.label, "text"))
            (f.select("party_kind", t.party_kind, &kinds))
            (f.input("party_id", t.party_id, "text"))
            (f.input("expires_on", t.expires_on, "text"))
            button.primary type="submit" { (t.create) }
        }
        h2 { (t.keys) }
        table {
            tr { th { "id" } th { (t.role) } th { (t.tenant) } th { (t.label) } th { (t.party_kind) }
                 th { (t.expires_on) } th { (t.revoked) } th {} }
            @for k in &page.items {
                tr {
                    td.mono { (k.id) } td { (k.role) } td { (k.tenant) } td { (k.label) }
                    td { (k.party_kind.as_deref().unwrap_or("")) " " (k.party_id.as_deref().unwrap_or("")) }
                    td { (k.expires_at.as_deref().unwrap_or("")) }
                    td { (k.revoked_at.as_deref().unwrap_or("")) }
                    td {
                        @if k.revoked_at.is_none() && k.id != ctx.p.key_id {
                            form method="post" action={ "/console/keys/" (k.id) "/revoke" } {
                                button type="submit" { (t.revoke) }
                            }
                        }
                    }
                }
            }
        }
    };
    let status = if f.ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Reply::status(status, layout::page(ctx, t.keys, body))
}

async fn show(ctx: Ctx, State(s): State<AppState>) -> Reply {
    let mut f = Form::new(Default::default(), ctx.t);
    f.default("tenant", &ctx.p.write_tenant());
    render(&ctx, s, &f, None).await
}

/// Checks the form, then asks the API's handler, whose refusals land beside their field.
async fn create(ctx: Ctx, State(s): State<AppState>, body: String) -> Reply {
    let t = ctx.t;
    let mut f = Form::new(form::parse(&body), t);
    let roles: Vec<String> = ROLES.iter().map(|r| r.to_string()).collect();
    let role = f.choice("role", &roles);
    let tenant = f.text("tenant", 128);
    let label = Some(f.value("label").to_string()).filter(|l| !l.is_empty());
    if label.as_ref().is_some_and(|l| l.len() > 200) {
        f.fail("label", format!("{} 200", t.err_too_long));
    }
    let party_kind = Some(f.value("party_kind").to_string()).filter(|k| !k.is_empty());
    let party_id = Some(f.value("party_id").to_string()).filter(|k| !k.is_empty());
    let expires_at = match f.value("expires_on") {
        "" => None,
        _ => f.date("expires_on").map(|d| format!("{d}T00:00:00Z")),
    };
    let (Some(role), Some(tenant), true) = (role, tenant, f.ok()) else {
        return render(&ctx, s, &f, None).await;
    };
    let req = CreateApiKeyRequest {
        role,
        tenant,
        label,
        party_kind,
        party_id,
        expires_at,
        rate_limit_per_s: None,
    };
    match api_keys::create_key(ctx.p.clone(), State(s.clone()), WireJson(req)).await {
        Ok((_, created)) => render(&ctx, s, &f, Some(created.0.key)).await,
        Err(e) if e.0.status < 500 => {
            let field = match e.0.field.as_deref() {
                Some("expires_at") => "expires_on",
                Some(other) => other,
                None => "tenant",
            };
            f.fail(field, e.0.detail.clone());
            render(&ctx, s, &f, None).await
        }
        Err(e) => api_error(&ctx, e),
    }
}

async fn revoke(ctx: Ctx, State(s): State<AppState>, Path(id): Path<String>) -> Reply {
    match api_keys::revoke_key(ctx.p.clone(), State(s), Path(id)).await {
        Ok(_) => Reply::redirect("/console/keys"),
        Err(e) => api_error(&ctx, e),
    }
}
