//! What a subscription bound to a funding partner may see of an event. A co-lent loan's
//! positions and a guarantee claim's movement name every funder of the loan, their balances
//! and the platform's bookings, and an early warning to funders names every funder of the
//! customer's loans; a partner sees its own part only, as its routes and reconciliation
//! files show it. Every other payload goes as it is.

use serde_json::{Map, Value};
use std::borrow::Cow;
use store::WebhookRow;

/// Keys of a positions document a partner sees beside its own funder entry.
const POSITIONS_KEYS: [&str; 7] = [
    "loan_id",
    "tenant",
    "currency",
    "product_id",
    "interest_from",
    "written_off",
    "overdue_since",
];
/// Keys of a movement a partner sees beside its own deltas, flows and claim.
const MOVE_KEYS: [&str; 6] = [
    "loan_id",
    "seq",
    "day",
    "source",
    "overdue_since_before",
    "overdue_since",
];

/// The payload of event `kind` as subscription `sub` may receive it.
pub fn payload_for<'a>(sub: &WebhookRow, kind: &str, payload: &'a str) -> Cow<'a, str> {
    let (Some("partner"), Some(partner)) = (sub.party_kind.as_deref(), sub.party_id.as_deref())
    else {
        return Cow::Borrowed(payload);
    };
    let view: fn(&Value, &str) -> Value = match kind {
        "colending.positions_changed" => own_positions,
        "colending.guarantee_claimed" => own_move,
        "risk.funders_notified" => own_notice,
        _ => return Cow::Borrowed(payload),
    };
    // A payload that does not parse is not sent at all: it might name anyone.
    let mut v = match serde_json::from_str::<Value>(payload) {
        Ok(v @ Value::Object(_)) => v,
        _ => return Cow::Owned("null".into()),
    };
    // Documents are under `doc`; an early warning is the payload itself.
    match v.get_mut("doc") {
        Some(doc) => *doc = view(doc, partner),
        None => v = view(&v, partner),
    }
    Cow::Owned(v.to_string())
}

fn copy_keys(doc: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| Some((k.to_string(), doc.get(*k)?.clone())))
        .collect()
}

fn is_partner(v: &Value, key: &str, partner: &str) -> bool {
    v.get(key).and_then(Value::as_str) == Some(partner)
}

/// The entries of an array of `{partner_id, …}` that are the partner's.
fn own_entries(list: Option<&Value>, partner: &str) -> Vec<Value> {
    let all = list.and_then(Value::as_array).map(Vec::as_slice);
    let own = all.unwrap_or_default().iter();
    own.filter(|x| is_partner(x, "partner_id", partner))
        .cloned()
        .collect()
}

/// An early warning with only the partner's own entry (and loans) among `funders`.
fn own_notice(payload: &Value, partner: &str) -> Value {
    let mut out = payload.clone();
    if let Value::Object(m) = &mut out {
        let own = own_entries(payload.get("funders"), partner);
        m.insert("funders".into(), Value::Array(own));
    }
    out
}

/// The partner's funder entry, and the guarantor's balances when it is the guarantor.
fn own_positions(doc: &Value, partner: &str) -> Value {
    let mut out = copy_keys(doc, &POSITIONS_KEYS);
    let funders = own_entries(doc.get("funders"), partner);
    out.insert("funders".into(), Value::Array(funders));
    if let Some(g) = doc
        .get("guarantor")
        .filter(|g| is_partner(g, "guarantor_id", partner))
    {
        out.insert("guarantor".into(), g.clone());
    }
    Value::Object(out)
}

/// The partner's own deltas and flows, and of the claim what it paid (the guarantor) or
/// what it was paid (a funder).
fn own_move(doc: &Value, partner: &str) -> Value {
    let mut out = copy_keys(doc, &MOVE_KEYS);
    let holders = [format!("{partner}/"), format!("guarantor:{partner}/")];
    for key in ["deltas", "flows"] {
        let own: Map<String, Value> = doc
            .get(key)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| holders.iter().any(|h| k.starts_with(h.as_str())))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(key.into(), Value::Object(own));
    }
    if let Some(claim) = doc.get("claim").and_then(Value::as_object) {
        let guarantor = claim
            .get("guarantor")
            .is_some_and(|g| is_partner(g, "partner_id", partner));
        let mut c = claim.clone();
        if !guarantor {
            let paid = own_entries(claim.get("paid"), partner);
            c.insert("paid".into(), Value::Array(paid));
        }
        out.insert("claim".into(), Value::Object(c));
    }
    Value::Object(out)
}
