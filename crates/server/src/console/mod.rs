//! The operator console at `/console`: server-rendered HTML (maud) with server-drawn SVG
//! charts, no script at all, English and Chinese. Signing in stores the API key in an
//! HttpOnly, SameSite=Strict cookie; every page is in the console's access table
//! ([`access::TABLE`]) and is checked by [`gate`] with the API's own authentication, role
//! and party rules, so a page shows what the key could read through the API and nothing
//! else. A page is one file under `pages/` that lists its routes, rules and menu entry.

pub mod access;
mod form;
mod i18n;
mod layout;
mod pages;
mod svg;

pub use i18n::{Lang, Text};

use crate::app::AppState;
use crate::auth::Principal;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use maud::Markup;

/// The cookie holding the API key. Path `/console`, so the API never receives it.
pub const KEY_COOKIE: &str = "puhui_console_key";
pub const LANG_COOKIE: &str = "puhui_lang";

/// The console's routes behind its gate.
pub fn routes(state: AppState) -> Router<AppState> {
    pages::routes().route_layer(middleware::from_fn_with_state(state, gate))
}

/// Who is looking, in which language: every signed-in page's first argument.
pub struct Ctx {
    pub p: Principal,
    pub lang: Lang,
    pub t: &'static Text,
    /// The page's path, for the language switch.
    pub path: String,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Reply;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Reply> {
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        let p = parts
            .extensions
            .remove::<Principal>()
            .ok_or_else(|| Reply::redirect("/console/login"))?;
        Ok(Ctx {
            p,
            lang,
            t: lang.text(),
            path: parts.uri.path().to_string(),
        })
    }
}

/// An HTML answer (or a redirect). Pages are never cached and run no script.
pub struct Reply {
    status: StatusCode,
    body: String,
    location: Option<String>,
    cookies: Vec<String>,
}

impl Reply {
    pub fn ok(m: Markup) -> Reply {
        Reply::status(StatusCode::OK, m)
    }

    pub fn status(status: StatusCode, m: Markup) -> Reply {
        Reply {
            status,
            body: m.into_string(),
            location: None,
            cookies: Vec::new(),
        }
    }

    /// 303 See Other: after a form's POST, and to the sign-in page.
    pub fn redirect(to: &str) -> Reply {
        Reply {
            status: StatusCode::SEE_OTHER,
            body: String::new(),
            location: Some(to.to_string()),
            cookies: Vec::new(),
        }
    }

    pub fn with_cookie(mut self, cookie: String) -> Reply {
        self.cookies.push(cookie);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        if let Some(to) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            h.insert(header::LOCATION, to);
        }
        for c in self.cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                h.append(header::SET_COOKIE, v);
            }
        }
        resp
    }
}

/// A cookie value from the request.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The cookie that holds the key: unreadable to scripts, sent only to the console, never
/// on a request started by another site.
pub fn key_cookie(key: &str) -> String {
    format!("{KEY_COOKIE}={key}; Path=/console; HttpOnly; SameSite=Strict")
}

pub fn clear_key_cookie() -> String {
    format!("{KEY_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The language: `?lang=` (remembered in a cookie), else the cookie, else the browser's.
fn language(parts: &Parts) -> (Lang, bool) {
    let asked = parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::parse(v))
    });
    if let Some(l) = asked {
        return (l, true);
    }
    if let Some(l) = cookie(parts, LANG_COOKIE).and_then(Lang::parse) {
        return (l, false);
    }
    let zh = parts
        .headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("zh"));
    (if zh { Lang::Zh } else { Lang::En }, false)
}

/// The console's access table applied: a route without a rule is refused; a signed-in
/// page needs a key in the cookie, of a role the rule names, and for a key bound to a
/// party the object the path names must be that party's (the API's party check).
pub async fn gate(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let (lang, remember) = language(&parts);
    parts.extensions.insert(lang);
    let t = lang.text();
    let path = parts
        .extensions
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let Some(rule) = access::rule(parts.method.as_str(), &path) else {
        return layout::bare_error(t, StatusCode::FORBIDDEN, t.no_rule).into_response();
    };
    let mut resp = match rule.roles {
        None => next.run(Request::from_parts(parts, body)).await,
        Some(roles) => match signed_in(&s, &mut parts, roles, rule.party, body, t).await {
            // The read-only mode holds here too: a console form calls the API's handlers
            // directly, past the API's own gate.
            Ok(_)
                if s.engine.controls().is_read_only()
                    && parts.method == axum::http::Method::POST
                    && path != pages::READ_ONLY_PATH =>
            {
                match parts.extensions.get::<Principal>() {
                    Some(p) => layout::error_page(
                        t,
                        p,
                        StatusCode::SERVICE_UNAVAILABLE,
                        t.read_only_refused,
                    )
                    .into_response(),
                    None => Reply::redirect("/console/login").into_response(),
                }
            }
            Ok(body) => next.run(Request::from_parts(parts, body)).await,
            Err(reply) => reply.into_response(),
        },
    };
    if remember {
        let c = format!(
            "{LANG_COOKIE}={}; Path=/console; SameSite=Strict; Max-Age=31536000",
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

async fn signed_in(
    s: &AppState,
    parts: &mut Parts,
    roles: &[crate::auth::Role],
    party: crate::auth::PartyOf,
    body: axum::body::Body,
    t: &'static Text,
) -> Result<axum::body::Body, Reply> {
    let Some(key) = cookie(parts, KEY_COOKIE).map(str::to_owned) else {
        return Err(Reply::redirect("/console/login"));
    };
    // The API's own authentication: the cookie's key as a bearer token.
    let bearer = HeaderValue::from_str(&format!("Bearer {key}"))
        .map_err(|_| Reply::redirect("/console/login").with_cookie(clear_key_cookie()))?;
    parts.headers.insert(header::AUTHORIZATION, bearer);
    let p = Principal::from_request_parts(parts, s).await;
    parts.headers.remove(header::AUTHORIZATION);
    let p =
        p.map_err(|_| Reply::redirect("/console/login?expired=1").with_cookie(clear_key_cookie()))?;
    if p.require(roles).is_err() {
        return Err(layout::error_page(
            t,
            &p,
            StatusCode::FORBIDDEN,
            t.forbidden,
        ));
    }
    let body = if p.is_bound() {
        crate::auth::check_party(s, &p, party, parts, body)
            .await
            .map_err(|e| {
                let status = StatusCode::from_u16(e.0.status).unwrap_or(StatusCode::FORBIDDEN);
                let msg = match status {
                    StatusCode::NOT_FOUND => t.not_found,
                    _ => t.forbidden,
                };
                layout::error_page(t, &p, status, msg)
            })?
    } else {
        body
    };
    parts.extensions.insert(p);
    Ok(body)
}

/// A storage failure as a page (logged; the details stay in the log).
pub fn internal(t: &'static Text, p: &Principal, e: impl std::fmt::Display) -> Reply {
    let incident = uuid::Uuid::now_v7();
    tracing::error!(%incident, error = %e, "console page failed");
    layout::error_page(
        t,
        p,
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("{} ({incident})", t.internal),
    )
}
