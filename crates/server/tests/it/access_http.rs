//! Tenancy and party binding through a real server on SQLite and PostgreSQL: products
//! belong to a tenant, a key bound to a party reaches only that party's objects on every
//! route of the OpenAPI document, keys expire and are revoked, and the lists page.

use engine::Clock;
use serde_json::{json, Value};
use server::auth::{route_roles, PartyOf};
use std::sync::Arc;
use uuid::Uuid;

const KEY: &str = "access-http-test-operator-key";

struct App {
    name: &'static str,
    /// The clock the server's engine reads; it moves only when the test moves it.
    clock: Arc<engine::ManualClock>,
    base: String,
    http: reqwest::Client,
    _store: testkit::TestStore,
}

/// One server per store, its business date opened on 2026-01-05.
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
        .bearer_auth(key)
        .header("Idempotency-Key", Uuid::now_v7().to_string());
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

    async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        self.send("GET", path, None, key).await
    }

    async fn post(&self, path: &str, body: Value, key: &str) -> (u16, Value) {
        self.send("POST", path, Some(body), key).await
    }

    /// Posts as the operator and expects 201; the response.
    async fn make(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.post(path, body, KEY).await;
        assert_eq!(s, 201, "{} {path}: {v}", self.name);
        v
    }

    async fn new_key(&self, body: Value) -> String {
        self.make("/v1/api-keys", body).await["key"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn product() -> Value {
    json!({
        "name": "tenant product", "currency": "CNY",
        "amount_minor_min": 10_000, "amount_minor_max": 20_000_000,
        "term_months_min": 1, "term_months_max": 12, "repayment_method": "annuity",
        "contract_rate": "0.05%/day", "rate_cap": "24%/year", "grace_days": 3,
        "late_fee_minor": 1_000, "penalty_rate": "x1.5", "penalty_compounds": false,
        "prepayment": {"full_allowed": true, "partial_allowed": true,
            "partial_effect": "shorten_term", "fee_rate": "0%", "partial_minimum_minor": 10_000},
        "entrusted_payment_threshold_minor": 5_000_000, "write_off_dpd": 90
    })
}

fn application(product: &str, borrower: &str) -> Value {
    json!({"product_id": product, "product_version": 1, "borrower": borrower,
           "amount_minor": 1_000_000, "term_months": 6})
}

/// Issue #15 bug 5: a product is its tenant's; another tenant neither reads it nor lends
/// under it, in either direction.
#[tokio::test]
async fn products_are_tenant_scoped() {
    for app in apps().await {
        let name = app.name;
        let default_op = app
            .new_key(json!({"role": "operator", "tenant": "default"}))
            .await;
        let other_op = app
            .new_key(json!({"role": "operator", "tenant": "acme"}))
            .await;
        // The `*` operator creates in `default`; acme's operator creates in acme.
        let default_product = id(&app.make("/v1/loan-products", product()).await);
        let (s, v) = app.post("/v1/loan-products", product(), &other_op).await;
        assert_eq!(s, 201, "{name}: {v}");
        let acme_product = id(&v);

        let (s, _) = app
            .get(&format!("/v1/loan-products/{acme_product}"), &default_op)
            .await;
        assert_eq!(s, 404, "{name}: a default key reads acme's product");
        let (s, _) = app
            .get(&format!("/v1/loan-products/{default_product}"), &other_op)
            .await;
        assert_eq!(s, 404, "{name}: acme reads a default product");
        let (s, v) = app
            .post(
                "/v1/loans",
                application(&default_product, "alice"),
                &other_op,
            )
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("product_id")),
            "{name}: {v}"
        );
        let (s, v) = app
            .post(
                "/v1/loans",
                application(&acme_product, "alice"),
                &default_op,
            )
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("product_id")),
            "{name}: {v}"
        );
        // Nor may acme add a version to a default product.
        let mut version = product();
        version["id"] = json!(default_product);
        let (s, v) = app.post("/v1/loan-products", version, &other_op).await;
        assert_eq!(s, 409, "{name}: {v}");
        // Each tenant still lends under its own.
        let (s, v) = app
            .post("/v1/loans", application(&acme_product, "bob"), &other_op)
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let (s, v) = app
            .post(
                "/v1/loans",
                application(&default_product, "bob"),
                &default_op,
            )
            .await;
        assert_eq!(s, 201, "{name}: {v}");
    }
}

/// The objects of two borrowers, two merchants and three account owners, and a key bound
/// to one party of each kind.
struct World {
    /// Per party kind: (own objects by kind, other party's objects by kind).
    borrower_key: String,
    merchant_key: String,
    partner_key: String,
    investor_key: String,
    own: std::collections::HashMap<(&'static str, &'static str), String>,
    other: std::collections::HashMap<&'static str, String>,
    borrower: String,
    merchant: String,
    lines: [String; 2],
}

async fn ledger_pair(app: &App, owner: &str) -> (String, String, String) {
    let acc = |o: &str| json!({"owner": o, "purpose": "cash", "currency": "CNY"});
    let a = id(&app.make("/v1/accounts", acc(owner)).await);
    let b = id(&app.make("/v1/accounts", acc(owner)).await);
    let e = Uuid::now_v7().to_string();
    let body = json!({"id": e, "currency": "CNY", "postings": [
        {"account_id": a, "direction": "debit", "amount_minor": 5},
        {"account_id": b, "direction": "credit", "amount_minor": 5}]});
    let url = format!("{}/v1/ledger/entries", app.base);
    let r = app
        .http
        .post(url)
        .bearer_auth(KEY)
        .header("Idempotency-Key", &e)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", app.name);
    let h = Uuid::now_v7().to_string();
    let body = json!({"id": h, "currency": "CNY", "debit_account_id": a,
        "credit_account_id": b, "amount_minor": 1});
    let url = format!("{}/v1/holds", app.base);
    let r = app
        .http
        .post(url)
        .bearer_auth(KEY)
        .header("Idempotency-Key", &h)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", app.name);
    (a, e, h)
}

async fn world(app: &App) -> World {
    let mut borrowers = Vec::new();
    let mut merchants = Vec::new();
    let mut lines = Vec::new();
    let mut purchases = Vec::new();
    let mut loans = Vec::new();
    let product = id(&app.make("/v1/loan-products", product()).await);
    for i in 0..2 {
        let b = id(&app
            .make(
                "/v1/borrowers",
                json!({"kind": "individual", "name": format!("b{i}")}),
            )
            .await);
        let m = id(&app
            .make(
                "/v1/merchants",
                json!({"name": format!("m{i}"), "discount_rate": "0.008",
            "settlement_account": "bank:1"}),
            )
            .await);
        let l = id(&app
            .make(
                "/v1/credit-lines",
                json!({"borrower_id": b, "currency": "CNY",
            "limit_minor": 100_000}),
            )
            .await);
        let p = id(&app
            .make(
                "/v1/purchases",
                json!({"credit_line_id": l, "merchant_id": m,
            "amount_minor": 1_000, "currency": "CNY", "capture": true}),
            )
            .await);
        loans.push(id(&app.make("/v1/loans", application(&product, &b)).await));
        borrowers.push(b);
        merchants.push(m);
        lines.push(l);
        purchases.push(p);
    }
    // From each purchase's trace: its capture entry and the line's and merchant's accounts.
    let mut traced = Vec::new();
    for p in &purchases {
        let (s, t) = app.get(&format!("/v1/purchases/{p}/trace"), KEY).await;
        assert_eq!(s, 200, "{}: {t}", app.name);
        let step = &t["steps"][0];
        let owned = |prefix: &str| {
            step["postings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["owner"].as_str().unwrap().starts_with(prefix))
                .map(|x| x["account_id"].as_str().unwrap().to_string())
                .unwrap_or_else(|| panic!("no {prefix} account in {step}"))
        };
        traced.push((
            step["entry_id"].as_str().unwrap().to_string(),
            owned("line:"),
            owned("merchant:"),
        ));
    }
    let (bank_a, bank_a_entry, bank_a_hold) = ledger_pair(app, "bank-a").await;
    let (fund_a, fund_a_entry, fund_a_hold) = ledger_pair(app, "fund-a").await;
    let (bank_b, bank_b_entry, bank_b_hold) = ledger_pair(app, "bank-b").await;
    let key = |role: &str, kind: &str, party: &str| json!({"role": role, "tenant": "default", "party_kind": kind, "party_id": party});
    let mut own = std::collections::HashMap::new();
    for (kind, id) in [
        ("loan", &loans[0]),
        ("borrower", &borrowers[0]),
        ("line", &lines[0]),
        ("purchase", &purchases[0]),
        ("account", &traced[0].1),
        ("entry", &traced[0].0),
    ] {
        own.insert(("borrower", kind), id.clone());
    }
    for (kind, id) in [
        ("merchant", &merchants[0]),
        ("purchase", &purchases[0]),
        ("account", &traced[0].2),
        ("entry", &traced[0].0),
    ] {
        own.insert(("merchant", kind), id.clone());
    }
    for (party, (acc, entry, hold)) in [
        ("partner", (&bank_a, &bank_a_entry, &bank_a_hold)),
        ("investor", (&fund_a, &fund_a_entry, &fund_a_hold)),
    ] {
        own.insert((party, "account"), acc.clone());
        own.insert((party, "entry"), entry.clone());
        own.insert((party, "hold"), hold.clone());
    }
    // A funding partner none of the keys acts for (the partner key acts for `bank-a`).
    let funder = id(&app
        .make(
            "/v1/funding-partners",
            json!({"name": "bank b", "kind": "bank", "currency": "CNY",
                "quota_minor": 1_000_000, "daily_quota_minor": 1_000_000,
                "approval": {"mode": "auto"}}),
        )
        .await);
    // Objects of parties none of the keys acts for.
    let other = [
        ("funding_partner", &funder),
        ("loan", &loans[1]),
        ("borrower", &borrowers[1]),
        ("merchant", &merchants[1]),
        ("line", &lines[1]),
        ("purchase", &purchases[1]),
        ("account", &bank_b),
        ("entry", &bank_b_entry),
        ("hold", &bank_b_hold),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.clone()))
    .collect();
    World {
        borrower_key: app
            .new_key(key("borrower", "borrower", &borrowers[0]))
            .await,
        merchant_key: app
            .new_key(key("merchant", "merchant", &merchants[0]))
            .await,
        partner_key: app.new_key(key("partner_bank", "partner", "bank-a")).await,
        investor_key: app.new_key(key("investor", "investor", "fund-a")).await,
        own,
        other,
        borrower: borrowers[0].clone(),
        merchant: merchants[0].clone(),
        lines: [lines[0].clone(), lines[1].clone()],
    }
}

/// The kind of object a route's `{id}` names, from its party rule.
fn object_kind(party: PartyOf) -> Option<&'static str> {
    Some(match party {
        PartyOf::Loan => "loan",
        PartyOf::Borrower => "borrower",
        PartyOf::Merchant => "merchant",
        PartyOf::Line => "line",
        PartyOf::Purchase => "purchase",
        PartyOf::Account => "account",
        PartyOf::Entry => "entry",
        PartyOf::Hold => "hold",
        PartyOf::FundingPartner => "funding_partner",
        // Deals and subscriptions have their own isolation tests (abs_investor_http,
        // webhooks_http); here another party's id is one that is not there at all.
        PartyOf::Deal => "deal",
        PartyOf::Webhook => "webhook",
        _ => return None,
    })
}

/// Routes whose `{id}` names something no party owns.
const UNOWNED_IDS: [&str; 2] = ["/v1/loan-products/{id}", "/v1/decisions/{id}/replay"];

/// Whether a listed item belongs to the key's party.
fn belongs(path: &str, kind: &str, party: &str, item: &Value) -> bool {
    let field = match (path, kind) {
        ("/v1/loans", _) => "borrower",
        ("/v1/borrowers" | "/v1/customers", _) => "id",
        ("/v1/credit-lines", _) => "borrower_id",
        ("/v1/purchases", "merchant") => "merchant_id",
        ("/v1/funding-partners", "partner") => "id",
        _ => return false,
    };
    item[field].as_str() == Some(party)
}

/// Issue #15 bug 6 and its acceptance: every route of the OpenAPI document, called with a
/// key bound to each kind of party, reaches that party's objects and no one else's.
#[tokio::test]
async fn bound_keys_reach_only_their_own_objects_on_every_route() {
    for app in apps().await {
        let w = world(&app).await;
        let (s, doc) = app.get("/openapi.json", KEY).await;
        assert_eq!(s, 200);
        let keys = [
            (
                "borrower",
                "borrower",
                w.borrower_key.clone(),
                w.borrower.clone(),
            ),
            (
                "merchant",
                "merchant",
                w.merchant_key.clone(),
                w.merchant.clone(),
            ),
            (
                "partner_bank",
                "partner",
                w.partner_key.clone(),
                "bank-a".to_string(),
            ),
            (
                "investor",
                "investor",
                w.investor_key.clone(),
                "fund-a".to_string(),
            ),
        ];
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                let m = method.to_uppercase();
                let rule = route_roles()
                    .iter()
                    .find(|r| r.method == m && r.path == *path)
                    .unwrap_or_else(|| panic!("{m} {path} has no access rule"));
                let has_id = path.contains("{id}");
                assert!(
                    !has_id
                        || object_kind(rule.party).is_some()
                        || matches!(rule.party, PartyOf::Unbound)
                        || UNOWNED_IDS.contains(&path.as_str()),
                    "{m} {path}: an object route must say how its party is found"
                );
                for (role, kind, key, party) in &keys {
                    let allowed = rule
                        .roles
                        .is_none_or(|r| r.iter().any(|x| x.as_str() == *role));
                    let fill = |obj: &str| {
                        path.replace("{id}", obj)
                            .replace("{rid}", "1")
                            .replace("{n}", "1")
                            .replace("{months}", "3")
                            .replace("{fee_rate}", "0.025")
                    };
                    let body = (m == "POST").then(|| json!({}));
                    let what = format!("{}: {role} {m} {path}", app.name);
                    if !allowed || rule.party == PartyOf::Unbound {
                        let target = fill(&w.other.get("loan").cloned().unwrap());
                        let (s, v) = app.send(&m, &target, body, key).await;
                        assert_eq!(s, 403, "{what}: {v}");
                        checked += 1;
                        continue;
                    }
                    match rule.party {
                        PartyOf::BodyField(field) => {
                            let mut b = json!({"credit_line_id": w.lines[0], "amount_minor": 100,
                                "currency": "CNY"});
                            b[field] = json!(w.other["merchant"]);
                            let (s, v) = app.send(&m, path, Some(b.clone()), key).await;
                            assert_eq!(s, 403, "{what}: another party in the body: {v}");
                            b[field] = json!(party);
                            let (s, v) = app.send(&m, path, Some(b), key).await;
                            assert_ne!(s, 403, "{what}: its own party in the body: {v}");
                        }
                        PartyOf::List => {
                            let (s, v) = app.get(path, key).await;
                            if s == 200 {
                                for item in v["items"].as_array().unwrap() {
                                    assert!(
                                        belongs(path, kind, party, item),
                                        "{what}: lists {item}"
                                    );
                                }
                            } else {
                                assert!(s == 400 || s == 403, "{what}: {s} {v}");
                            }
                        }
                        p => match object_kind(p) {
                            Some(obj) => {
                                let other = w
                                    .other
                                    .get(obj)
                                    .cloned()
                                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                                let (s, v) = app.send(&m, &fill(&other), body.clone(), key).await;
                                assert!(
                                    s == 404 || s == 403,
                                    "{what}: another party's {obj}: {s} {v}"
                                );
                                if let Some(own) = w.own.get(&(*kind, obj)) {
                                    let (s, v) = app.send(&m, &fill(own), body, key).await;
                                    assert!(
                                        ![401, 403, 404].contains(&s),
                                        "{what}: its own {obj}: {s} {v}"
                                    );
                                }
                            }
                            None => {
                                let target =
                                    fill(&w.own.get(&("borrower", "loan")).cloned().unwrap());
                                let target = if path.as_str() == "/v1/loan-products/{id}" {
                                    path.replace("{id}", &Uuid::nil().to_string())
                                } else {
                                    target
                                };
                                let (s, v) = app.send(&m, &target, body, key).await;
                                assert!(![401, 403].contains(&s), "{what}: {s} {v}");
                            }
                        },
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 200, "{}: only {checked} calls", app.name);
    }
}

/// Issue #15 bug 6 as reported: a borrower's key repaid another borrower's line.
#[tokio::test]
async fn a_borrower_key_repays_its_own_line_only() {
    for app in apps().await {
        let w = world(&app).await;
        let name = app.name;
        let (_, before) = app
            .get(&format!("/v1/credit-lines/{}", w.lines[1]), KEY)
            .await;
        let repay = json!({"amount_minor": 100});
        let (s, v) = app
            .post(
                &format!("/v1/credit-lines/{}/repayments", w.lines[1]),
                repay.clone(),
                &w.borrower_key,
            )
            .await;
        assert_eq!(s, 404, "{name}: {v}");
        let (_, after) = app
            .get(&format!("/v1/credit-lines/{}", w.lines[1]), KEY)
            .await;
        assert_eq!(before, after, "{name}: the other line is untouched");
        let (s, v) = app
            .post(
                &format!("/v1/credit-lines/{}/repayments", w.lines[0]),
                repay,
                &w.borrower_key,
            )
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let (s, v) = app
            .get(&format!("/v1/loans/{}", w.other["loan"]), &w.borrower_key)
            .await;
        assert_eq!(s, 404, "{name}: {v}");
        let (s, v) = app.get("/v1/loans", &w.borrower_key).await;
        assert_eq!(s, 200, "{name}: {v}");
        let borrowers: Vec<_> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["borrower"].clone())
            .collect();
        assert_eq!(borrowers, vec![json!(w.borrower)], "{name}");
    }
}

#[tokio::test]
async fn keys_expire_are_listed_and_revoked() {
    for app in apps().await {
        let name = app.name;
        let soon = rfc3339_ms(app.clock.now_ms() + 2_000);
        let (s, v) = app
            .post(
                "/v1/api-keys",
                json!({"role": "risk_analyst", "tenant": "default", "expires_at": soon}),
                KEY,
            )
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let expiring = v["key"].as_str().unwrap().to_string();
        assert_eq!(
            app.get("/v1/ledger/tree-head", &expiring).await.0,
            200,
            "{name}"
        );
        let (s, v) = app
            .post(
                "/v1/api-keys",
                json!({"role": "borrower", "tenant": "default"}),
                KEY,
            )
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("party_id")),
            "{name}: {v}"
        );
        let (s, v) = app
            .post("/v1/api-keys", json!({"role": "operator", "tenant": "default", "expires_at": "2001-01-01T00:00:00Z"}), KEY)
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("expires_at")),
            "{name}: {v}"
        );

        let (s, v) = app
            .post(
                "/v1/api-keys",
                json!({"role": "investor", "tenant": "default"}),
                KEY,
            )
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let (revocable, key_id) = (v["key"].as_str().unwrap().to_string(), id(&v));
        assert_eq!(app.get("/v1/ledger/tree-head", &revocable).await.0, 200);
        let (s, listed) = app.get("/v1/api-keys?limit=500", KEY).await;
        assert_eq!(s, 200, "{name}: {listed}");
        let items = listed["items"].as_array().unwrap();
        assert!(
            items.iter().any(|k| k["id"] == json!(key_id)),
            "{name}: {listed}"
        );
        assert!(
            items.iter().all(|k| k.get("key").is_none()),
            "{name}: no secrets listed"
        );
        let (s, v) = app
            .post(&format!("/v1/api-keys/{key_id}/revoke"), json!({}), KEY)
            .await;
        assert_eq!((s, v["revoked_at"].is_string()), (200, true), "{name}: {v}");
        let (s, v) = app.get("/v1/ledger/tree-head", &revocable).await;
        assert_eq!(s, 401, "{name}: revoked: {v}");
        let (s, _) = app
            .post(
                &format!("/v1/api-keys/{}/revoke", Uuid::nil()),
                json!({}),
                KEY,
            )
            .await;
        assert_eq!(s, 404, "{name}");
        let (s, v) = app
            .post(
                "/v1/api-keys",
                json!({"role": "operator", "tenant": "default"}),
                KEY,
            )
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let (second, second_id) = (v["key"].as_str().unwrap().to_string(), id(&v));
        let (s, v) = app
            .post(
                &format!("/v1/api-keys/{second_id}/revoke"),
                json!({}),
                &second,
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str(), v["field"].as_str()),
            (422, Some("self_revocation"), Some("id")),
            "{name}: a key does not revoke itself: {v}"
        );
        assert_eq!(app.get("/v1/ledger/tree-head", &second).await.0, 200);
        let (s, _) = app
            .post(&format!("/v1/api-keys/{second_id}/revoke"), json!({}), KEY)
            .await;
        assert_eq!(s, 200, "{name}: another operator key revokes it");

        app.clock.advance_ms(2_100);
        let (s, v) = app.get("/v1/ledger/tree-head", &expiring).await;
        assert_eq!(s, 401, "{name}: expired: {v}");
    }
}

/// An RFC 3339 UTC time, `ms` after the epoch.
fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339()
}

/// Every page of `path` (which has no query yet), following `next_cursor`.
async fn all_pages(app: &App, path: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut url = format!("{path}?limit={limit}");
    loop {
        let (s, v) = app.get(&url, KEY).await;
        assert_eq!(s, 200, "{} {url}: {v}", app.name);
        let page = v["items"].as_array().unwrap();
        assert!(page.len() <= limit as usize);
        items.extend(page.iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => url = format!("{path}?limit={limit}&cursor={c}"),
            None => return items,
        }
    }
}

#[tokio::test]
async fn lists_page_in_order_filter_and_refuse_bad_parameters() {
    for app in apps().await {
        let name = app.name;
        let w = world(&app).await;
        let product = id(&app.make("/v1/loan-products", product()).await);
        let mut made = Vec::new();
        for i in 0..5 {
            made.push(id(&app
                .make("/v1/loans", application(&product, &format!("p{i}")))
                .await));
        }
        let loans = all_pages(&app, "/v1/loans", 2).await;
        let ids: Vec<String> = loans.iter().map(id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted, "{name}: id order, no repeats");
        assert_eq!(ids.len(), 7, "{name}: two from the world, five here");
        assert!(made.iter().all(|m| ids.contains(m)), "{name}");
        let (s, v) = app.get("/v1/loans?borrower=p3", KEY).await;
        assert_eq!(
            (s, v["items"].as_array().unwrap().len()),
            (200, 1),
            "{name}: {v}"
        );
        assert_eq!(v["items"][0]["id"], json!(made[3]));
        let (s, v) = app
            .get(
                &format!("/v1/loans?status=applied&product_id={product}"),
                KEY,
            )
            .await;
        assert_eq!(
            (s, v["items"].as_array().unwrap().len()),
            (200, 5),
            "{name}: {v}"
        );
        let (s, v) = app.get("/v1/loans?status=active", KEY).await;
        assert_eq!(
            (s, v["items"].as_array().unwrap().len()),
            (200, 0),
            "{name}: {v}"
        );
        let (s, v) = app.get("/v1/loans?created_from=2999-01-01", KEY).await;
        assert_eq!(
            (s, v["items"].as_array().unwrap().len()),
            (200, 0),
            "{name}: {v}"
        );
        for (query, field) in [
            ("status=lost", "status"),
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("product_id=x", "product_id"),
            ("created_to=2026-13-01", "created_to"),
        ] {
            let (s, v) = app.get(&format!("/v1/loans?{query}"), KEY).await;
            assert_eq!(
                (s, v["field"].as_str()),
                (400, Some(field)),
                "{name} {query}: {v}"
            );
        }
        let (s, v) = app.get("/v1/loans?cursor=zz", KEY).await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("cursor")),
            "{name}: {v}"
        );
        assert_eq!(all_pages(&app, "/v1/borrowers", 1).await.len(), 2, "{name}");
        let lines = all_pages(&app, "/v1/credit-lines", 1).await;
        assert_eq!(lines.len(), 2, "{name}");
        let (s, v) = app
            .get(&format!("/v1/credit-lines?parent_id={}", w.borrower), KEY)
            .await;
        assert_eq!(
            (s, v["items"].as_array().unwrap().len()),
            (200, 1),
            "{name}: {v}"
        );
        assert_eq!(v["items"][0]["id"], json!(w.lines[0]));
        let (s, v) = app
            .get(
                &format!("/v1/purchases?parent_id={}", w.lines[1]),
                &w.borrower_key,
            )
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (400, Some("parent_id")),
            "{name}: {v}"
        );
        let (s, v) = app
            .get(
                &format!("/v1/purchases?parent_id={}", w.lines[0]),
                &w.borrower_key,
            )
            .await;
        assert_eq!(
            (s, v["items"].as_array().unwrap().len()),
            (200, 1),
            "{name}: {v}"
        );
        assert_eq!(all_pages(&app, "/v1/purchases", 1).await.len(), 2, "{name}");
        // The ledger, page by page, is every entry in sequence order.
        let (_, head) = app.get("/v1/ledger/tree-head", KEY).await;
        let entries = all_pages(&app, "/v1/ledger/entries", 7).await;
        assert_eq!(
            entries.len() as u64,
            head["tree_size"].as_u64().unwrap(),
            "{name}"
        );
        let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "{name}");
    }
}

#[tokio::test]
async fn a_loans_entries_are_its_disbursement_and_repayments() {
    for app in apps().await {
        let name = app.name;
        let product = id(&app.make("/v1/loan-products", product()).await);
        let loan = id(&app.make("/v1/loans", application(&product, "carol")).await);
        let (s, v) = app.get(&format!("/v1/loans/{loan}/entries"), KEY).await;
        assert_eq!(
            (s, v["items"].as_array().unwrap().len()),
            (200, 0),
            "{name}: {v}"
        );
        let (s, _) = app
            .post(&format!("/v1/loans/{loan}/approve"), json!({}), KEY)
            .await;
        assert_eq!(s, 200);
        let (s, v) = app
            .post(&format!("/v1/loans/{loan}/disburse"), json!({}), KEY)
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let (s, v) = app
            .post(
                &format!("/v1/loans/{loan}/repayments"),
                json!({"amount_minor": 1_000, "currency": "CNY", "date": "2026-01-05"}),
                KEY,
            )
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let entries = all_pages(&app, &format!("/v1/loans/{loan}/entries"), 1).await;
        assert_eq!(entries.len(), 2, "{name}: {entries:?}");
        assert!(entries[0]["seq"].as_u64() < entries[1]["seq"].as_u64());
        let (_, other) = app.get("/v1/ledger/entries?limit=500", KEY).await;
        let all = other["items"].as_array().unwrap();
        for e in &entries {
            assert!(
                all.iter().any(|x| x["id"] == e["id"]),
                "{name}: {e} is in the ledger"
            );
        }
    }
}
