//! The ledger's signed tree head and a proof checker: an entry id in, its inclusion proof
//! out, checked here with SHA-256 and Ed25519 alone (leaf hash from the leaf bytes, the
//! audit path up to the root, the tree head's signature), as an outside verifier would.

use super::{api_error, Menu, Page};
use crate::app::AppState;
use crate::auth::PartyOf;
use crate::console::access::{r, ALL};
use crate::console::form::{self, Form};
use crate::console::{layout, Ctx, Reply};
use crate::routes::ledger as api_ledger;
use api::{ProofResponse, TreeHeadResponse};
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use ledger::{merkle, SignedTreeHead};
use maud::{html, Markup};

pub const PAGE: Page = Page {
    routes,
    rules: &[
        r("GET", "/console/ledger", Some(ALL), PartyOf::Unowned),
        r(
            "GET",
            "/console/ledger/entries/{id}",
            Some(ALL),
            PartyOf::Entry,
        ),
    ],
    menu: Some(Menu {
        path: "/console/ledger",
        label: |t| t.ledger,
    }),
};

fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/ledger", get(show))
        .route("/console/ledger/entries/{id}", get(proof))
}

fn head(ctx: &Ctx, h: &TreeHeadResponse) -> Markup {
    let t = ctx.t;
    html! {
        table {
            tr { th { (t.tree_size) } td.mono { (h.tree_size) } }
            tr { th { (t.root_hash) } td.mono { (h.root_hash) } }
            tr { th { (t.signed_at) } td.mono { (h.timestamp_ms) } }
            tr { th { (t.public_key) } td.mono { (h.public_key) } }
            tr { th { (t.signature) } td.mono { (h.signature) } }
        }
    }
}

fn checker(ctx: &Ctx, f: &Form) -> Markup {
    let t = ctx.t;
    html! {
        h2 { (t.proof_checker) }
        form.lookup method="get" action="/console/ledger" {
            (f.input("entry", t.entry_id, "text"))
            button.primary type="submit" { (t.check_proof) }
        }
    }
}

async fn show(ctx: Ctx, State(s): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let t = ctx.t;
    let mut f = Form::new(form::parse(q.as_deref().unwrap_or("")), t);
    if f.has("entry") {
        if let Some(id) = f.uuid("entry") {
            return Reply::redirect(&format!("/console/ledger/entries/{id}"));
        }
    }
    let h = api_ledger::tree_head(ctx.p.clone(), State(s)).await.0;
    let body = html! {
        h2 { (t.tree_head) }
        (head(&ctx, &h))
        (checker(&ctx, &f))
    };
    let status = match f.ok() {
        true => axum::http::StatusCode::OK,
        false => axum::http::StatusCode::UNPROCESSABLE_ENTITY,
    };
    Reply::status(status, layout::page(&ctx, t.ledger, body))
}

/// What this server checked of a proof, each independently of the others.
struct Checked {
    leaf_hash: bool,
    inclusion: bool,
    signature: bool,
}

fn hash32(hex_text: &str) -> Option<[u8; 32]> {
    hex::decode(hex_text).ok()?.try_into().ok()
}

/// Whether the tree head's Ed25519 signature holds and names the proof's root and size.
fn signed(p: &ProofResponse) -> Option<bool> {
    let h = &p.tree_head;
    let head = SignedTreeHead {
        tree_size: h.tree_size,
        timestamp_ms: h.timestamp_ms,
        root_hash: hash32(&h.root_hash)?,
        signature: hex::decode(&h.signature).ok()?.try_into().ok()?,
        public_key: hash32(&h.public_key)?,
    };
    Some(head.verify() && h.root_hash == p.root_hash && h.tree_size == p.tree_size)
}

fn check(p: &ProofResponse) -> Checked {
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(&p.leaf_data)
        .map(|bytes| merkle::leaf_hash(&bytes))
        .ok();
    let claimed = hash32(&p.leaf_hash);
    let path: Option<Vec<[u8; 32]>> = p.audit_path.iter().map(|h| hash32(h)).collect();
    let root = hash32(&p.root_hash);
    let inclusion = match (leaf, &path, root) {
        (Some(leaf), Some(path), Some(root)) => {
            merkle::verify_inclusion(p.leaf_index, p.tree_size, &leaf, path, &root)
        }
        _ => false,
    };
    let signature = signed(p).unwrap_or(false);
    Checked {
        leaf_hash: leaf.is_some() && leaf == claimed,
        inclusion,
        signature,
    }
}

fn verdict(ok: bool, t: &crate::console::Text) -> Markup {
    html! {
        @if ok { span.ok { "✓ " (t.verified) } } @else { span.bad { "✗ " (t.not_verified) } }
    }
}

async fn proof(ctx: Ctx, State(s): State<AppState>, Path(id): Path<String>) -> Reply {
    let t = ctx.t;
    let p = match api_ledger::entry_proof(ctx.p.clone(), State(s.clone()), Path(id.clone())).await {
        Ok(p) => p.0,
        Err(e) => return api_error(&ctx, e),
    };
    let entry = api_ledger::get_entry(ctx.p.clone(), State(s), Path(id))
        .await
        .ok();
    let c = check(&p);
    let f = Form::new(Default::default(), t);
    let body = html! {
        table {
            tr { th { (t.entry_id) } td.mono { (p.entry_id) } }
            tr { th { (t.leaf_index) } td.mono { (p.leaf_index) } }
            tr { th { (t.leaf_hash) } td.mono { (p.leaf_hash) } td { (verdict(c.leaf_hash, t)) } }
            tr { th { (t.audit_path) } td.mono { @for h in &p.audit_path { div { (h) } } } td { (verdict(c.inclusion, t)) } }
            tr { th { (t.root_hash) } td.mono { (p.root_hash) } }
            tr { th { (t.tree_size) } td.mono { (p.tree_size) } }
            tr { th { (t.signature) } td.mono { (p.tree_head.signature) } td { (verdict(c.signature, t)) } }
        }
        p id="proof-verdict" { (verdict(c.leaf_hash && c.inclusion && c.signature, t)) " " (t.proof_note) }
        @if let Some(e) = entry {
            h2 { (t.entry) }
            (super::loans::entry_table(&ctx, std::slice::from_ref(&e.0)))
        }
        (checker(&ctx, &f))
    };
    Reply::ok(layout::page(&ctx, t.proof, body))
}
