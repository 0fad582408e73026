//! The page shell: menu (the pages the key's role may open), language switch, sign-out,
//! and the style sheet, inline so the console works offline and needs no second request.

use super::pages::PAGES;
use super::{access, Ctx, Lang, Reply, Text};
use crate::auth::Principal;
use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC",sans-serif;color:#1d2733;background:#f4f6f9}
header{display:flex;align-items:center;gap:18px;padding:10px 24px;background:#14324f;color:#fff}
header .brand{font-weight:600;font-size:16px;margin-right:12px}
header a{color:#cfe0f2;text-decoration:none}
header a.on,header a:hover{color:#fff;text-decoration:underline}
header .right{margin-left:auto;display:flex;gap:12px;align-items:center}
header form{margin:0}
header button{background:none;border:1px solid #cfe0f2;color:#cfe0f2;border-radius:4px;padding:2px 10px;cursor:pointer}
main{padding:20px 24px;max-width:1200px}
h1{font-size:20px;margin:0 0 14px}
h2{font-size:16px;margin:22px 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:10px 14px;min-width:170px}
.card .k{color:#5b6b7c;font-size:12px}
.card .v{font-size:20px;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:16px}
.panel{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:12px 14px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e6eaf0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef2f6;font-weight:600;font-size:12px}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
form.lookup,form.fields{display:flex;flex-wrap:wrap;gap:10px 16px;align-items:flex-start;background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:12px 14px}
label{display:flex;flex-direction:column;font-size:12px;color:#3b4a5a;gap:2px}
input,select{font:inherit;padding:4px 6px;border:1px solid #b8c3cf;border-radius:4px;min-width:140px}
input[aria-invalid=true],select[aria-invalid=true]{border-color:#c0392b;background:#fff5f4}
.field-error{color:#c0392b;font-size:12px}
button.primary{background:#1f5f99;color:#fff;border:0;border-radius:4px;padding:6px 14px;font:inherit;cursor:pointer;align-self:flex-end}
.ok{color:#1e7d32;font-weight:600}.bad{color:#c0392b;font-weight:600}
.note{color:#5b6b7c;font-size:12px}
.pill{display:inline-block;padding:0 8px;border-radius:10px;background:#e6eef7;color:#14324f;font-size:12px}
svg.chart{width:100%;height:auto;background:#fff}
svg.chart text{font:11px system-ui,sans-serif;fill:#3b4a5a}
svg.chart .title{font-size:13px;font-weight:600;fill:#1d2733}
.login{max-width:420px;margin:60px auto}
"#;

/// Whether the page at `current` belongs to the menu entry at `entry`: the entry itself
/// or a page under it. The overview (`/console`) holds only itself, not every page.
fn is_within(current: &str, entry: &str) -> bool {
    current == entry || (entry != "/console" && current.starts_with(&format!("{entry}/")))
}

fn menu(t: &'static Text, p: &Principal, current: &str) -> Markup {
    html! {
        @for page in PAGES {
            @if let Some(m) = &page.menu {
                @if access::opens(p.role, p.is_bound(), m.path) {
                    a.on[is_within(current, m.path)] href=(m.path) { ((m.label)(t)) }
                }
            }
        }
    }
}

fn shell(lang: Lang, t: &'static Text, title: &str, header: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.html_code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // No icon file: the browser would ask for /favicon.ico, which is not ours.
                link rel="icon" href="data:,";
                title { (title) " · " (t.brand) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header { span.brand { (t.brand) } (header) }
                main { (body) }
            }
        }
    }
}

fn switch(lang: Lang, path: &str) -> Markup {
    let other = lang.other();
    html! { a href={ (path) "?lang=" (other.code()) } hreflang=(other.html_code()) { (other.name()) } }
}

/// A signed-in page.
pub fn page(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let t = ctx.t;
    let header = html! {
        (menu(t, &ctx.p, &ctx.path))
        span.right {
            span.pill { (ctx.p.role.as_str()) " · " (ctx.p.tenant) }
            (switch(ctx.lang, &ctx.path))
            form method="post" action="/console/logout" { button type="submit" { (t.sign_out) } }
        }
    };
    shell(ctx.lang, t, title, header, html! { h1 { (title) } (body) })
}

/// A page without the menu (sign-in, and errors before anyone is known).
pub fn public(lang: Lang, title: &str, path: &str, body: Markup) -> Markup {
    let t = lang.text();
    let header = html! { span.right { (switch(lang, path)) } };
    shell(lang, t, title, header, body)
}

pub fn error_page(t: &'static Text, p: &Principal, status: StatusCode, msg: &str) -> Reply {
    let lang = Lang::of(t);
    let header = html! {
        (menu(t, p, ""))
        span.right {
            form method="post" action="/console/logout" { button type="submit" { (t.sign_out) } }
        }
    };
    let body = html! { h1 { (status.as_u16()) } p.bad { (msg) } };
    Reply::status(status, shell(lang, t, msg, header, body))
}

pub fn bare_error(t: &'static Text, status: StatusCode, msg: &str) -> Reply {
    let lang = Lang::of(t);
    let body = html! { h1 { (status.as_u16()) } p.bad { (msg) } };
    Reply::status(status, shell(lang, t, msg, html! {}, body))
}

/// Minor units as major units with the currency's decimals (`12,345.67 CNY`).
pub fn money(minor: i64, currency: &str) -> String {
    let scale = currency
        .parse::<money::Currency>()
        .map(|c| c.scale())
        .unwrap_or(2);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let unit = 10u64.pow(scale);
    let whole = group(abs / unit);
    match scale {
        0 => format!("{sign}{whole} {currency}"),
        s => format!(
            "{sign}{whole}.{:0width$} {currency}",
            abs % unit,
            width = s as usize
        ),
    }
}

/// Thousands separators.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_is_exact_with_the_currency_scale() {
        assert_eq!(super::money(123_456_789, "CNY"), "1,234,567.89 CNY");
        assert_eq!(super::money(-5, "CNY"), "-0.05 CNY");
        assert_eq!(super::money(1_000, "JPY"), "1,000 JPY");
        assert_eq!(super::money(1_234, "KWD"), "1.234 KWD");
    }

    #[test]
    fn the_menu_marks_the_entry_a_page_is_under_and_no_other() {
        use super::is_within;
        assert!(is_within("/console", "/console"));
        assert!(!is_within("/console/abs", "/console"));
        assert!(is_within("/console/abs/0f", "/console/abs"));
        assert!(!is_within("/console/analytics", "/console/abs"));
    }
}
