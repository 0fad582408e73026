//! Sign in with an API key (kept in an HttpOnly, SameSite=Strict cookie) and sign out.

use super::{Page, PAGES};
use crate::app::AppState;
use crate::auth::{PartyOf, Principal};
use crate::console::access::{self, r};
use crate::console::{clear_key_cookie, form, key_cookie, layout, Lang, Reply};
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::html;

pub const PAGE: Page = Page {
    routes,
    rules: &[
        r("GET", "/console/login", None, PartyOf::Unowned),
        r("POST", "/console/login", None, PartyOf::Unowned),
        r("POST", "/console/logout", None, PartyOf::Unowned),
    ],
    menu: None,
};

fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/login", get(show).post(sign_in))
        .route("/console/logout", post(sign_out))
}

fn render(lang: Lang, status: StatusCode, error: Option<&str>) -> Reply {
    let t = lang.text();
    let body = html! {
        div.login.panel {
            h1 { (t.sign_in) }
            p.note { (t.sign_in_note) }
            form method="post" action="/console/login" {
                label {
                    (t.api_key)
                    input type="password" name="key" autocomplete="off" aria-invalid=(error.is_some());
                    @if let Some(e) = error { span.field-error { (e) } }
                }
                p { button.primary type="submit" { (t.sign_in) } }
            }
        }
    };
    Reply::status(
        status,
        layout::public(lang, t.sign_in, "/console/login", body),
    )
}

async fn show(Extension(lang): Extension<Lang>, RawQuery(q): RawQuery) -> Reply {
    let expired = form::parse(q.as_deref().unwrap_or("")).contains_key("expired");
    let t = lang.text();
    render(lang, StatusCode::OK, expired.then_some(t.err_key_expired))
}

/// Checks the key as the API would (unknown, revoked or expired keys are refused) and
/// opens the first page its role may see.
async fn sign_in(
    State(s): State<AppState>,
    Extension(lang): Extension<Lang>,
    body: String,
) -> Reply {
    let t = lang.text();
    let key = form::parse(&body).remove("key").unwrap_or_default();
    let key = key.trim();
    if key.is_empty() {
        return render(lang, StatusCode::UNPROCESSABLE_ENTITY, Some(t.err_required));
    }
    let Ok(bearer) = HeaderValue::from_str(&format!("Bearer {key}")) else {
        return render(lang, StatusCode::UNAUTHORIZED, Some(t.err_key_unknown));
    };
    let mut req = axum::http::Request::new(());
    req.headers_mut().insert(header::AUTHORIZATION, bearer);
    let (mut parts, ()) = req.into_parts();
    let Ok(p) = Principal::from_request_parts(&mut parts, &s).await else {
        return render(lang, StatusCode::UNAUTHORIZED, Some(t.err_key_unknown));
    };
    let first = PAGES
        .iter()
        .filter_map(|pg| pg.menu.as_ref())
        .find(|m| access::opens(p.role, p.is_bound(), m.path))
        .map_or("/console/ledger", |m| m.path);
    Reply::redirect(first).with_cookie(key_cookie(key))
}

async fn sign_out() -> Reply {
    Reply::redirect("/console/login").with_cookie(clear_key_cookie())
}
