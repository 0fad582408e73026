//! The route × role × tenant matrix, generated from the served OpenAPI document: for every
//! operation, every role and two tenants,
//! - a role the table (`server::auth::route_roles`) does not allow gets 403, and an allowed
//!   one does not;
//! - a key of tenant T2 never reads an object of tenant T1 (404 or 403 on its routes, and
//!   T2's lists hold none of T1's objects);
//! - a revoked key and an expired key get 401 on every route that needs a key.
//!
//! SQLite and PostgreSQL.

use engine::Clock;
use serde_json::{json, Value};
use server::auth::{route_roles, PartyOf};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use uuid::Uuid;

const KEY: &str = "access-matrix-test-operator-key";
const ROLES: [&str; 6] = [
    "operator",
    "risk_analyst",
    "partner_bank",
    "investor",
    "merchant",
    "borrower",
];

struct App {
    name: &'static str,
    clock: Arc<engine::ManualClock>,
    base: String,
    http: reqwest::Client,
    _store: testkit::TestStore,
}

async fn apps() -> Vec<App> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let clock = engine::ManualClock::starting_now();
        let decisions = server::decisioning::DecisionService::from_env().unwrap();
        let state = server::app::build_state_on(ts.store.clone(), decisions, clock.clone())
            .await
            .unwrap();
        server::app::bootstrap_key(&ts.store, Some(KEY))
            .await
            .unwrap();
        engine::loans::init_business_date(&state.engine, "2026-01-05".parse().unwrap())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(server::app::serve(state, listener, std::future::pending()));
        out.push(App {
            clock,
            name: ts.name,
            base,
            http: reqwest::Client::new(),
            _store: ts,
        });
    }
    out
}

impl App {
    async fn send(&self, method: &str, path: &str, body: Option<Value>, key: &str) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        }
        .bearer_auth(key);
        // A request naming the id it creates carries it as its Idempotency-Key.
        let idem = body
            .as_ref()
            .and_then(|b| b["id"].as_str().map(str::to_string))
            .unwrap_or_else(|| Uuid::now_v7().to_string());
        req = req.header("Idempotency-Key", idem);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Posts with `key` and expects 201; the response.
    async fn make(&self, path: &str, body: Value, key: &str) -> Value {
        let (s, v) = self.send("POST", path, Some(body), key).await;
        assert_eq!(s, 201, "{} {path}: {v}", self.name);
        v
    }

    async fn key(&self, body: Value, as_key: &str) -> String {
        self.make("/v1/api-keys", body, as_key).await["key"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// One tenant's objects, by the kind of object a route's `{id}` names.
struct Tenant {
    ids: BTreeMap<&'static str, String>,
    /// Every key of the tenant by role; merchant and borrower keys are bound to the
    /// tenant's own merchant and borrower.
    keys: BTreeMap<&'static str, String>,
}

async fn tenant(app: &App, name: &str) -> Tenant {
    let op = app
        .key(json!({"role": "operator", "tenant": name}), KEY)
        .await;
    let mut ids = BTreeMap::new();
    let product = id(&app
        .make(
            "/v1/loan-products",
            json!({"name": "p", "currency": "CNY", "amount_minor_min": 10_000,
                "amount_minor_max": 20_000_000, "term_months_min": 1, "term_months_max": 12,
                "repayment_method": "annuity", "contract_rate": "0.05%/day",
                "rate_cap": "24%/year", "grace_days": 3, "late_fee_minor": 1_000,
                "penalty_rate": "x1.5", "penalty_compounds": false,
                "prepayment": {"full_allowed": true, "partial_allowed": true,
                    "partial_effect": "shorten_term", "fee_rate": "0%",
                    "partial_minimum_minor": 10_000},
                "entrusted_payment_threshold_minor": 5_000_000, "write_off_dpd": 90}),
            &op,
        )
        .await);
    let borrower = id(&app
        .make(
            "/v1/borrowers",
            json!({"kind": "individual", "name": format!("{name} borrower")}),
            &op,
        )
        .await);
    let merchant = id(&app
        .make(
            "/v1/merchants",
            json!({"name": format!("{name} shop"), "discount_rate": "0.008",
                "settlement_account": "bank:1"}),
            &op,
        )
        .await);
    let line = id(&app
        .make(
            "/v1/credit-lines",
            json!({"borrower_id": borrower, "currency": "CNY", "limit_minor": 100_000}),
            &op,
        )
        .await);
    let purchase = id(&app
        .make(
            "/v1/purchases",
            json!({"credit_line_id": line, "merchant_id": merchant, "amount_minor": 1_000,
                "currency": "CNY", "capture": true}),
            &op,
        )
        .await);
    let loan = id(&app
        .make(
            "/v1/loans",
            json!({"product_id": product, "product_version": 1, "borrower": borrower,
                "amount_minor": 1_000_000, "term_months": 6}),
            &op,
        )
        .await);
    let acc = |o: &str| json!({"owner": o, "purpose": "cash", "currency": "CNY"});
    let a = id(&app.make("/v1/accounts", acc("bank"), &op).await);
    let b = id(&app.make("/v1/accounts", acc("bank"), &op).await);
    let e = Uuid::now_v7().to_string();
    app.make(
        "/v1/ledger/entries",
        json!({"id": e, "currency": "CNY", "postings": [
            {"account_id": a, "direction": "debit", "amount_minor": 5},
            {"account_id": b, "direction": "credit", "amount_minor": 5}]}),
        &op,
    )
    .await;
    let h = Uuid::now_v7().to_string();
    let hold = json!({"id": h, "currency": "CNY", "debit_account_id": a,
        "credit_account_id": b, "amount_minor": 1});
    app.make("/v1/holds", hold, &op).await;
    let funder = id(&app
        .make(
            "/v1/funding-partners",
            json!({"name": format!("{name} bank"), "kind": "bank", "currency": "CNY",
                "quota_minor": 1_000_000, "daily_quota_minor": 1_000_000,
                "approval": {"mode": "auto"}}),
            &op,
        )
        .await);
    for (k, v) in [
        ("product", product),
        ("borrower", borrower.clone()),
        ("merchant", merchant.clone()),
        ("line", line),
        ("purchase", purchase),
        ("loan", loan),
        ("account", a),
        ("entry", e),
        ("hold", h),
        ("funding_partner", funder),
    ] {
        ids.insert(k, v);
    }
    let mut keys = BTreeMap::new();
    for role in ROLES {
        let body = match role {
            "merchant" => json!({"role": role, "tenant": name, "party_kind": "merchant",
                "party_id": merchant}),
            "borrower" => json!({"role": role, "tenant": name, "party_kind": "borrower",
                "party_id": borrower}),
            _ => json!({"role": role, "tenant": name}),
        };
        keys.insert(role, app.key(body, KEY).await);
    }
    Tenant { ids, keys }
}

/// The kind of object a route's `{id}` names.
fn object_kind(path: &str, party: PartyOf) -> &'static str {
    match party {
        PartyOf::Loan => "loan",
        PartyOf::Borrower => "borrower",
        PartyOf::Merchant => "merchant",
        PartyOf::Line => "line",
        PartyOf::Purchase => "purchase",
        PartyOf::Account => "account",
        PartyOf::Entry => "entry",
        PartyOf::Hold => "hold",
        PartyOf::FundingPartner => "funding_partner",
        _ if path.starts_with("/v1/loan-products/") => "product",
        _ if path.starts_with("/v1/loans/") => "loan",
        _ if path.starts_with("/v1/credit-lines/") => "line",
        _ if path.starts_with("/v1/holds/") => "hold",
        _ if path.starts_with("/v1/ledger/entries/") => "entry",
        _ => "loan",
    }
}

fn fill(path: &str, obj: &str) -> String {
    path.replace("{id}", obj)
        .replace("{rid}", "1")
        .replace("{months}", "3")
        .replace("{fee_rate}", "0.025")
        .replace("{date}", "2026-01-05")
        .replace("{file}", "positions.csv")
        .replace("{n}", "1")
}

/// Handlers that narrow a role the table allows, with the reason (403 is their answer).
fn narrowed(method: &str, path: &str, role: &str) -> bool {
    // A tenant's operator may not make keys of every tenant; here the body is empty,
    // which is refused first, so this never happens, but it is the handler's rule.
    (method == "POST" && path == "/v1/api-keys" && role == "operator")
        // Subscriptions belong to a party: a partner bank's key must be bound to its
        // partner to have any (this test's partner_bank keys are not bound).
        || (path.starts_with("/v1/webhooks") && role == "partner_bank")
}

/// The operations of the served document, as (METHOD, path) with their rule.
async fn operations(app: &App) -> Vec<(String, String, &'static server::auth::RouteAccess)> {
    let (s, doc) = app.send("GET", "/openapi.json", None, KEY).await;
    assert_eq!(s, 200);
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let m = method.to_uppercase();
            let rule = route_roles()
                .iter()
                .find(|r| r.method == m && r.path == *path)
                .unwrap_or_else(|| panic!("{m} {path} has no access rule"));
            out.push((m, path.clone(), rule));
        }
    }
    out
}

/// Every id in a JSON value, as strings.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_route_answers_each_role_and_tenant_as_the_table_says() {
    for app in apps().await {
        let name = app.name;
        let t1 = tenant(&app, "t1").await;
        let t2 = tenant(&app, "t2").await;
        let t1_ids: HashSet<&String> = t1.ids.values().collect();
        let ops = operations(&app).await;
        let (mut role_calls, mut tenant_calls) = (0, 0);

        // Tenant isolation first, while T1's objects are as made.
        for (m, path, rule) in &ops {
            let Some(roles) = rule.roles else { continue };
            for role in ROLES {
                if !roles.iter().any(|r| r.as_str() == role) {
                    continue;
                }
                let key = &t2.keys[role];
                let what = format!("{name}: t2 {role} {m} {path}");
                if path.contains("{id}") {
                    let target = fill(path, &t1.ids[object_kind(path, rule.party)]);
                    let body = (m == "POST").then(|| json!({}));
                    let (s, v) = app.send(m, &target, body, key).await;
                    if m == "GET" {
                        assert!(s == 404 || s == 403, "{what}: read T1's object: {s} {v}");
                    } else {
                        assert!(s >= 400, "{what}: changed T1's object: {s} {v}");
                    }
                    tenant_calls += 1;
                } else if m == "GET" && !path.contains('{') {
                    let (s, v) = app.send(m, path, None, key).await;
                    if s == 200 {
                        let mut seen = Vec::new();
                        strings(&v, &mut seen);
                        let leaked: Vec<&String> =
                            seen.iter().filter(|x| t1_ids.contains(x)).collect();
                        assert!(leaked.is_empty(), "{what}: lists T1's {leaked:?}");
                    }
                    tenant_calls += 1;
                }
            }
        }

        // Revoked and expired keys, on every route that needs a key.
        let revoked = app
            .make(
                "/v1/api-keys",
                json!({"role": "operator", "tenant": "t1"}),
                KEY,
            )
            .await;
        let revoke = format!("/v1/api-keys/{}/revoke", id(&revoked));
        let (s, v) = app.send("POST", &revoke, Some(json!({})), KEY).await;
        assert_eq!(s, 200, "{} {revoke}: {v}", app.name);
        let soon = chrono::DateTime::from_timestamp_millis(app.clock.now_ms() + 1_000)
            .unwrap()
            .to_rfc3339();
        let expiring = app
            .key(
                json!({"role": "operator", "tenant": "t1", "expires_at": soon}),
                KEY,
            )
            .await;
        app.clock.advance_ms(1_100);
        let mut dead_calls = 0;
        for (m, path, rule) in &ops {
            if rule.roles.is_none() {
                continue;
            }
            let target = fill(path, &t1.ids[object_kind(path, rule.party)]);
            for (which, key) in [
                ("revoked", revoked["key"].as_str().unwrap()),
                ("expired", expiring.as_str()),
            ] {
                let body = (m == "POST").then(|| json!({}));
                let (s, v) = app.send(m, &target, body, key).await;
                assert_eq!(s, 401, "{name}: {which} key {m} {path}: {v}");
                dead_calls += 1;
            }
        }

        // Roles: T1's keys on T1's objects (a bound key on its own ones).
        for (m, path, rule) in &ops {
            let Some(roles) = rule.roles else { continue };
            for role in ROLES {
                let key = &t1.keys[role];
                let allowed = roles.iter().any(|r| r.as_str() == role);
                let bound = role == "merchant" || role == "borrower";
                let target = fill(path, &t1.ids[object_kind(path, rule.party)]);
                let body = match rule.party {
                    PartyOf::BodyField(field) => {
                        let mut b = json!({"credit_line_id": t1.ids["line"],
                            "amount_minor": 100, "currency": "CNY"});
                        b[field] = json!(t1.ids[field.trim_end_matches("_id")]);
                        Some(b)
                    }
                    _ => (m == "POST").then(|| json!({})),
                };
                let (s, v) = app.send(m, &target, body, key).await;
                let what = format!("{name}: t1 {role} {m} {path}");
                if !allowed {
                    assert_eq!(s, 403, "{what}: the table does not allow it: {v}");
                } else if bound && rule.party == PartyOf::Unbound {
                    assert_eq!(s, 403, "{what}: bound keys are refused here: {v}");
                } else if rule.every_tenant {
                    assert_eq!(s, 403, "{what}: a route of every tenant: {v}");
                    // Only operators have keys of every tenant.
                    assert_eq!(roles, &[server::auth::Role::Operator], "{what}");
                    let body = (m == "POST").then(|| json!({}));
                    let (s, v) = app.send(m, &target, body, KEY).await;
                    assert!(
                        s != 403 && s != 401,
                        "{name}: * operator {m} {path}: {s} {v}"
                    );
                } else if !narrowed(m, path, role) {
                    assert_ne!(s, 403, "{what}: the table allows it: {v}");
                    assert_ne!(s, 401, "{what}: {v}");
                }
                role_calls += 1;
            }
        }
        eprintln!(
            "{name}: {} operations; {role_calls} role calls, {tenant_calls} cross-tenant calls, {dead_calls} revoked/expired calls",
            ops.len()
        );
        assert!(role_calls > 500, "{name}: only {role_calls} role calls");
    }
}
