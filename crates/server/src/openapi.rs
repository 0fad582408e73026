//! The OpenAPI 3.1 document: generated from the handlers and wire types, then completed
//! from one table (`openapi_ops::OPS`) with what every operation shares: its id, its
//! roles, the bearer scheme, the `Idempotency-Key` header, typed path parameters and the
//! RFC 9457 problem answers the server actually sends.

use crate::auth::Role;
use crate::openapi_ops::{self, Idem, Op};
use crate::routes::{
    analytics, apr, cob, colending, colending_recon, compliance, controls, customers, decisions,
    events, keys, ledger, lists, loans, revolving, webhooks,
};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`phk_…`) as a bearer token; `X-Api-Key` is accepted too.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Puhui", description = "Inclusive-finance lending core: ledger, loans, credit lines, decisioning.\n\nErrors are RFC 9457 problems (`application/problem+json`) with a stable `code` and, when one field is at fault, its JSON path in `field`. A refused request changes nothing."),
    paths(
        ledger::create_account, ledger::get_account, ledger::list_entries,
        ledger::post_entry, ledger::post_batch, ledger::get_entry, ledger::reverse_entry,
        ledger::entry_proof, ledger::tree_head, ledger::consistency,
        ledger::create_hold, ledger::get_hold, ledger::post_hold, ledger::void_hold,
        keys::create_key, apr::apr, decisions::decide, decisions::replay,
        decisions::get_decision,
        loans::preview_schedule, loans::create_product, loans::get_product,
        loans::apply, loans::get_loan, loans::approve, loans::decline, loans::disburse,
        loans::repay, loans::reverse_repayment, loans::prepayment_quote, loans::prepay,
        loans::refund,
        loans::recover,
        revolving::create_borrower, revolving::get_borrower, revolving::create_merchant,
        revolving::get_merchant, revolving::create_line, revolving::get_line,
        revolving::line_history, revolving::repay, revolving::refund_overpayment, revolving::change_line,
        revolving::convert_statement, revolving::quote, revolving::authorize,
        revolving::get_purchase, revolving::capture, revolving::void, revolving::refund,
        revolving::convert_purchase, revolving::trace,
        cob::start_run, cob::get_run, cob::business_date,
        keys::list_keys, keys::revoke_key, lists::list_loans, lists::loan_entries,
        lists::list_borrowers, lists::list_lines, lists::list_purchases,
        lists::list_ledger_entries,
        colending::create_partner, colending::change_partner, colending::get_partner,
        colending::list_partners, colending::partner_positions, colending::set_plan,
        colending::get_plan,
        crate::routes::first_loss::create_deposit, crate::routes::first_loss::get_deposit,
        crate::routes::first_loss::list_deposits,
        crate::routes::abs::validate_deal, crate::routes::abs::project, crate::routes::abs::monte_carlo,
        customers::create_customer, customers::get_customer, customers::list_customers,
        customers::customer_exposure, compliance::report,
        crate::routes::risk::post_signal, crate::routes::risk::get_risk,
        colending_recon::recon_manifest, colending_recon::recon_file,
        events::list_events, crate::routes::audit::list_audit,
        webhooks::create_webhook, webhooks::list_webhooks, webhooks::get_webhook,
        webhooks::disable_webhook, webhooks::redeliver_webhook, webhooks::list_deliveries,
        controls::create_halt, controls::list_halts, controls::get_halt, controls::lift_halt,
        controls::set_read_only, controls::get_read_only, controls::set_outage,
        controls::list_outages,
        analytics::vintage, analytics::roll_rates, analytics::delinquency,
        analytics::approvals, analytics::concentration,
        crate::routes::abs_deals::create_deal, crate::routes::abs_deals::list_deals, crate::routes::abs_deals::get_deal, crate::routes::abs_deals::pool_deal, crate::routes::abs_deals::get_pool, crate::routes::abs_deals::pool_tape, crate::routes::abs_deals::close_deal, crate::routes::abs_deals::list_periods, crate::routes::abs_deals::run_period,
        crate::routes::abs_deals::period_report, crate::routes::abs_deals::repurchase,
    ),
    modifiers(&ApiKeyScheme)
)]
pub struct ApiDoc;

/// The finished document. Built once: it depends on nothing but the code.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("document serializes");
        crate::openapi_schemas::complete(&mut doc);
        complete_operations(&mut doc);
        doc
    })
}

/// Served without a key: the contract is public, and clients need it before they have one.
pub async fn serve() -> Response {
    static BODY: OnceLock<bytes::Bytes> = OnceLock::new();
    let body = BODY.get_or_init(|| serde_json::to_vec(document()).expect("json").into());
    ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
}

/// Applies the table to every operation; panics if the document and the table disagree
/// (a test builds the document, so this cannot reach a running server unnoticed).
fn complete_operations(doc: &mut Value) {
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        let item = item.as_object_mut().expect("path item");
        for (method, operation) in item.iter_mut() {
            let op = openapi_ops::find(method, path)
                .unwrap_or_else(|| panic!("{method} {path} is not in openapi_ops::OPS"));
            complete_operation(op, operation.as_object_mut().expect("operation"));
        }
    }
}

/// The roles of an operation, from the access table the server enforces (`auth::route_roles`),
/// so that the document cannot state other roles than those that are checked.
fn roles_of(op: &Op) -> &'static [Role] {
    rule_of(op).roles.unwrap_or(&[])
}

fn rule_of(op: &Op) -> &'static crate::auth::RouteAccess {
    crate::auth::route_roles()
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(op.method) && r.path == op.path)
        .unwrap_or_else(|| panic!("{} {} has no access rule", op.method, op.path))
}

const ROLES_ALL: usize = 6;

fn complete_operation(op: &Op, o: &mut Map<String, Value>) {
    o.insert("operationId".into(), json!(op.id));
    let op_roles = roles_of(op);
    let roles: Vec<&str> = op_roles.iter().map(|r| r.as_str()).collect();
    o.insert("x-roles".into(), json!(roles));
    o.insert("security".into(), json!([{ "api_key": [] }]));
    let who = if op_roles.len() == ROLES_ALL {
        "Roles: any (every role; data outside the key's tenant is not shown).".to_string()
    } else {
        format!("Roles: {}.", roles.join(", "))
    };
    let who = if rule_of(op).every_tenant {
        o.insert("x-tenant".into(), json!("*"));
        format!(
            "{who} Only a key of tenant `*` (the whole platform): the route covers every tenant."
        )
    } else {
        who
    };
    let description = match o.get("description").and_then(Value::as_str) {
        Some(d) if !d.is_empty() => format!("{d}\n\n{who}"),
        _ => who,
    };
    o.insert("description".into(), json!(description));
    let mut params = path_parameters(op.path);
    let old = o.remove("parameters").unwrap_or_else(|| json!([]));
    for p in old.as_array().into_iter().flatten() {
        let keep = match p["in"].as_str() {
            Some("path") => false,
            Some("header") => !p["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("idempotency-key")),
            _ => true,
        };
        if keep {
            let mut p = p.clone();
            if p["in"] == "query" {
                constrain_query(op.path, &mut p);
            }
            params.push(p);
        }
    }
    if let Idem::Required(text) = op.idem {
        params.push(json!({
            "name": "Idempotency-Key", "in": "header", "required": true, "description": text,
            "schema": { "type": "string", "format": "uuid" }
        }));
    }
    let has_query = params.iter().any(|p| p["in"] == "query");
    if !params.is_empty() {
        o.insert("parameters".into(), Value::Array(params));
    }
    if op.path == "/v1/purchases/{id}/capture" {
        // No body captures the whole authorization.
        o["requestBody"]["required"] = json!(false);
    }
    let has_body = o.contains_key("requestBody");
    let responses = o
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses");
    problems_as_problem_json(responses);
    if let Some(created) = responses.get("201").cloned() {
        // A retry of an earlier identical request answers the original, with 200.
        let mut replay = created;
        replay["description"] =
            json!("a retry of an earlier identical request: the original answer");
        responses.entry("200").or_insert(replay);
    }
    for (status, why) in problem_statuses(op, has_body, has_query) {
        responses.entry(status.to_string()).or_insert_with(|| {
            json!({ "description": why, "content": { "application/problem+json": {
                "schema": { "$ref": "#/components/schemas/Problem" } } } })
        });
    }
}

/// The list routes' query parameters, as the handlers parse them (`routes/page.rs`,
/// `routes/lists.rs`): what the derives cannot say.
fn constrain_query(path: &str, p: &mut Value) {
    let limit_max = match path {
        "/v1/events" => crate::routes::events::EVENTS_LIMIT_MAX,
        "/v1/webhooks/{id}/deliveries" => crate::routes::webhooks::DELIVERIES_LIMIT_MAX,
        _ => 500,
    };
    let schema = match p["name"].as_str() {
        Some("limit") => json!({ "type": "integer", "minimum": 1, "maximum": limit_max }),
        Some("after") => json!({ "type": "integer", "minimum": 0, "maximum": i64::MAX }),
        Some("on") => json!({ "type": "string", "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$" }),
        Some("created_from" | "created_to") => json!({ "type": "string", "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$" }),
        Some("status") => json!({ "type": "string", "enum": crate::routes::lists::LOAN_STATUSES }),
        Some("state") if path == "/v1/controls/halts" => {
            json!({ "type": "string", "enum": crate::routes::controls::HALT_STATES })
        }
        Some("dpd_bucket") => {
            json!({ "type": "string", "enum": crate::routes::lists::DPD_BUCKETS })
        }
        Some("product_id" | "parent_id") => json!({ "type": "string", "format": "uuid" }),
        Some("from" | "to" | "month" | "base") if path.starts_with("/v1/analytics/") => {
            json!({ "type": "string", "pattern": crate::routes::analytics::MONTH_PATTERN })
        }
        Some("product") if path.starts_with("/v1/analytics/") => {
            json!({ "type": "string", "format": "uuid" })
        }
        Some("currency") if path.starts_with("/v1/analytics/") => {
            json!({ "type": "string", "pattern": crate::routes::analytics::CURRENCY_PATTERN })
        }
        Some("dimension") if path.starts_with("/v1/analytics/") => {
            json!({ "type": "string", "enum": ["region", "industry", "product", "funder"] })
        }
        Some("format") if path.ends_with("/report") => {
            json!({ "type": "string", "enum": ["json", "csv", "html"] })
        }
        Some("format") if path.ends_with("/pool/tape") => {
            json!({ "type": "string", "enum": ["csv", "parquet"] })
        }
        _ => return,
    };
    p["schema"] = schema;
}

/// Each `{name}` of a path, typed as the handler parses it.
fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let (schema, description) = match name {
                "rid" => (
                    json!({ "type": "integer", "format": "int32", "minimum": 1, "maximum": i32::MAX }),
                    "the repayment's `repayment_id`",
                ),
                "n" => (
                    json!({ "type": "integer", "format": "int32", "minimum": 1, "maximum": i32::MAX }),
                    "a period of the deal, from 1",
                ),
                "months" => (
                    json!({ "type": "integer", "minimum": 1, "maximum": 60 }),
                    "number of monthly installments",
                ),
                "fee_rate" => (
                    json!({ "type": "string", "pattern": crate::routes::revolving::FEE_RATE_PATTERN }),
                    "fee per month as a fraction below 1, e.g. `0.025`",
                ),
                _ => (
                    json!({ "type": "string", "format": "uuid" }),
                    "a UUID (hyphenated)",
                ),
            };
            json!({ "name": name, "in": "path", "required": true,
                    "description": description, "schema": schema })
        })
        .collect()
}

/// Problems are sent as `application/problem+json`; utoipa writes every body as JSON.
fn problems_as_problem_json(responses: &mut Map<String, Value>) {
    for resp in responses.values_mut() {
        let Some(content) = resp.get_mut("content").and_then(Value::as_object_mut) else {
            continue;
        };
        let is_problem = content
            .get("application/json")
            .is_some_and(|c| c["schema"]["$ref"] == "#/components/schemas/Problem");
        if is_problem {
            let c = content.remove("application/json").expect("checked");
            content.insert("application/problem+json".into(), c);
        }
    }
}

/// The problem answers an operation can give, from what its handler and the shared
/// extractors do.
fn problem_statuses(op: &Op, has_body: bool, has_query: bool) -> Vec<(u16, &'static str)> {
    let post = op.method == "post";
    let has_path = op.path.contains('{');
    let mut out = vec![
        (400, "malformed request: body, header, path or query that does not parse (`code` says which)"),
        (401, "no API key, or an unknown one"),
        (503, "overloaded or close of business part-way; retry (see `Retry-After`)"),
    ];
    if roles_of(op).len() != ROLES_ALL || post {
        out.push((403, "the key's role or tenant may not do this"));
    }
    if has_path || post {
        out.push((
            404,
            "a named resource does not exist (or is outside the key's tenant)",
        ));
    }
    if post {
        out.push((
            409,
            "conflicts with the current state, or an id reused with another body",
        ));
    }
    if has_body {
        out.push((413, "body larger than 8 MiB"));
        out.push((415, "the body is not `application/json`"));
    }
    if has_body || has_query || has_path || op.idem != Idem::No {
        out.push((
            422,
            "a value parsed but is not acceptable; `field` names it",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_in_the_table_once_and_the_table_in_the_document() {
        let doc = document();
        let mut ids = std::collections::HashSet::new();
        for op in openapi_ops::OPS {
            let o = &doc["paths"][op.path][op.method];
            assert!(
                o.is_object(),
                "{} {} missing from the document",
                op.method,
                op.path
            );
            assert!(ids.insert(op.id), "operation id {} used twice", op.id);
            assert_eq!(o["operationId"], op.id);
            assert!(o["x-roles"].as_array().is_some_and(|r| !r.is_empty()));
        }
        let n: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|i| i.as_object().unwrap().len())
            .sum();
        assert_eq!(n, openapi_ops::OPS.len());
    }

    #[test]
    fn money_moving_posts_declare_the_key_and_problems_are_problem_json() {
        let doc = document();
        for op in openapi_ops::OPS {
            let o = &doc["paths"][op.path][op.method];
            let declared = o["parameters"].as_array().into_iter().flatten().any(|p| {
                p["in"] == "header" && p["name"] == "Idempotency-Key" && p["required"] == true
            });
            assert_eq!(declared, op.idem != Idem::No, "{}", op.id);
            for (status, r) in o["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        r["content"]["application/problem+json"].is_object(),
                        "{} {status}",
                        op.id
                    );
                    assert!(r["content"]["application/json"].is_null());
                }
            }
        }
    }

    #[test]
    fn a_signed_field_kept_in_range_keeps_its_maximum() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        for (schema, field) in [
            ("WebhookCreateRequest", "after"),
            ("WebhookRedeliverRequest", "from_seq"),
        ] {
            let max = &schemas[schema]["properties"][field]["maximum"];
            assert!(
                max.as_i64().is_some_and(|m| m > 0),
                "{schema}.{field}: maximum {max} is not an i64"
            );
        }
        // A u64 (minimum 0, no maximum of its own) is widened to the unsigned range.
        let mut v = serde_json::json!({"type": "integer", "format": "int64", "minimum": 0});
        crate::openapi_schemas::unsigned_ranges(&mut v);
        assert_eq!(v["maximum"].as_u64(), Some(u64::MAX));
    }
}
