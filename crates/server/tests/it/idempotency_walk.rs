//! Every POST the OpenAPI document marks as taking an `Idempotency-Key` is walked through
//! a real server, on SQLite and PostgreSQL: the same request twice under one key is
//! answered the same and done once; the same key with another body is refused with 409
//! and changes nothing.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

const KEY: &str = "idempotency-walk-operator-key";

struct Api {
    base: String,
    http: reqwest::Client,
    name: &'static str,
}

impl Api {
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        key: Option<Uuid>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        }
        .bearer_auth(KEY);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k.to_string());
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("send request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("read body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> Value {
        let (s, v) = self.send("GET", path, None, None).await;
        assert_eq!(s, 200, "{}: GET {path}: {v}", self.name);
        v
    }

    /// A setup step that must succeed; returns the answer.
    async fn ok(&self, path: &str, body: Value, key: Option<Uuid>) -> Value {
        let (s, v) = self.send("POST", path, Some(&body), key).await;
        assert!(s == 200 || s == 201, "{}: POST {path}: {s} {v}", self.name);
        v
    }
}

/// One walked request: where, what, and the same request with another body.
struct Walk {
    path: String,
    key: Uuid,
    body: Option<Value>,
    changed: Option<Value>,
    /// A read that shows what the request changed, compared before and after the refused one.
    witness: String,
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn loan_product() -> Value {
    json!({
        "name": "walk", "currency": "CNY", "amount_minor_min": 10_000,
        "amount_minor_max": 20_000_000, "term_months_min": 1, "term_months_max": 12,
        "repayment_method": "annuity", "contract_rate": "0.05%/day", "rate_cap": "24%/year",
        "grace_days": 3, "late_fee_minor": 1_000, "penalty_rate": "x1.5",
        "penalty_compounds": false,
        "prepayment": {"full_allowed": true, "partial_allowed": true,
            "partial_effect": "shorten_term", "fee_rate": "0%", "partial_minimum_minor": 10_000},
        "entrusted_payment_threshold_minor": 5_000_000, "write_off_dpd": 90
    })
}

/// Keyed POSTs whose retry answer moves on by itself, so "the same answer" cannot mean the
/// same bytes: a close-of-business run answers with its progress. Its key (same body → the
/// same run, 200; another body → 409) is tested in `lock_cob.rs`.
const ELSEWHERE: &[&str] = &[
    "/v1/close-of-business",
    // Walked in abs_deals_http.rs, which builds the book a deal needs.
    "/v1/abs/deals",
    "/v1/abs/deals/{id}/close",
    "/v1/abs/deals/{id}/periods/{n}/run",
    // Walked in abs_investor_http.rs, whose deal has a period run to buy back from.
    "/v1/abs/deals/{id}/repurchases",
    // Walked in loans_http.rs, which closes days until its loan is written off.
    "/v1/loans/{id}/recoveries",
    // Walked in risk_http.rs, which registers the customer a signal is about.
    "/v1/customers/{id}/signals",
    // Walked in webhooks_http.rs (a replay answers 200, another body 409).
    "/v1/webhooks",
];

/// Builds the fixture journey step by step and hands out, for each operation of the
/// document, a valid request at the point of the journey where it makes sense. The order
/// of `ORDER` is the journey's; each operation's first request is sent by the walk.
const ORDER: &[&str] = &[
    "/v1/ledger/entries",
    "/v1/ledger/entry-batches",
    "/v1/ledger/entries/{id}/reversal",
    "/v1/holds",
    "/v1/holds/{id}/post",
    "/v1/holds/{id}/void",
    "/v1/loans/{id}/disburse",
    "/v1/loans/{id}/repayments",
    "/v1/loans/{id}/repayments/{rid}/reversal",
    "/v1/loans/{id}/prepay",
    "/v1/loans/{id}/refunds",
    "/v1/borrowers",
    "/v1/merchants",
    "/v1/credit-lines",
    "/v1/credit-lines/{id}/statement-installments",
    "/v1/purchases",
    "/v1/purchases/{id}/refunds",
    "/v1/credit-lines/{id}/repayments",
    "/v1/credit-lines/{id}/refunds",
    "/v1/credit-lines/{id}/changes",
    "/v1/funding-partners",
    "/v1/funding-partners/{id}/changes",
    "/v1/first-loss-deposits",
    "/v1/loan-products/{id}/funding-plan",
    "/v1/customers",
    // Last: a halt of the merchant stops the journey's purchases.
    "/v1/controls/halts",
];

fn first_loss_deposit(deposited_minor: i64) -> Value {
    json!({"portfolio": "walk", "currency": "CNY", "cap_fraction": "0.05",
        "portfolio_principal_minor": 100_000_000, "deposited_minor": deposited_minor})
}

fn funding_partner(quota_minor: i64) -> Value {
    json!({"name": "bank a", "kind": "bank", "currency": "CNY", "yield_annual": "0.068",
        "quota_minor": quota_minor, "daily_quota_minor": quota_minor, "approval": {"mode": "auto"}})
}

#[derive(Default)]
struct Journey {
    ids: BTreeMap<&'static str, String>,
}

impl Journey {
    fn get(&self, what: &str) -> String {
        self.ids
            .get(what)
            .cloned()
            .unwrap_or_else(|| panic!("{what} is set up"))
    }

    /// Sets up what `op` needs and returns its request.
    async fn prepare(&mut self, api: &Api, engine: &engine::Engine, op: &str) -> Walk {
        let key = Uuid::now_v7();
        let with = |mut body: Value, field: &str, v: Value| {
            body[field] = v;
            body
        };
        match op {
            "/v1/ledger/entries" => {
                let a = id_of(
                    &api.ok(
                        "/v1/accounts",
                        json!({"owner": "o", "purpose": "p", "currency": "CNY"}),
                        None,
                    )
                    .await,
                );
                let b = id_of(
                    &api.ok(
                        "/v1/accounts",
                        json!({"owner": "o", "purpose": "q", "currency": "CNY"}),
                        None,
                    )
                    .await,
                );
                self.ids.insert("a", a.clone());
                self.ids.insert("b", b.clone());
                let body = entry(key, &a, &b, 100);
                self.ids.insert("entry", key.to_string());
                Walk {
                    path: op.into(),
                    key,
                    changed: Some(entry(key, &a, &b, 101)),
                    body: Some(body),
                    witness: format!("/v1/accounts/{a}"),
                }
            }
            "/v1/ledger/entry-batches" => {
                let (a, b) = (self.get("a"), self.get("b"));
                let batch = |amount| json!({"entries": [entry(key, &a, &b, amount)]});
                Walk {
                    path: op.into(),
                    key,
                    body: Some(batch(200)),
                    changed: Some(batch(201)),
                    witness: format!("/v1/accounts/{a}"),
                }
            }
            "/v1/ledger/entries/{id}/reversal" => {
                let entry = self.get("entry");
                let body = json!({"id": key, "memo": "wrong amount"});
                Walk {
                    path: format!("/v1/ledger/entries/{entry}/reversal"),
                    key,
                    changed: Some(with(body.clone(), "memo", json!("other"))),
                    body: Some(body),
                    witness: format!("/v1/accounts/{}", self.get("a")),
                }
            }
            "/v1/holds" => {
                let (a, b) = (self.get("a"), self.get("b"));
                let hold = |amount: i64| json!({"id": key, "currency": "CNY", "debit_account_id": a, "credit_account_id": b, "amount_minor": amount});
                self.ids.insert("hold", key.to_string());
                Walk {
                    path: op.into(),
                    key,
                    body: Some(hold(50)),
                    changed: Some(hold(51)),
                    witness: format!("/v1/accounts/{a}"),
                }
            }
            "/v1/holds/{id}/post" => {
                let hold = self.get("hold");
                let body = json!({"entry_id": key, "amount_minor": 30});
                Walk {
                    path: format!("/v1/holds/{hold}/post"),
                    key,
                    changed: Some(with(body.clone(), "amount_minor", json!(31))),
                    body: Some(body),
                    witness: format!("/v1/accounts/{}", self.get("a")),
                }
            }
            "/v1/holds/{id}/void" => {
                let (a, b) = (self.get("a"), self.get("b"));
                let hid = Uuid::now_v7();
                api.ok("/v1/holds", json!({"id": hid, "currency": "CNY", "debit_account_id": a, "credit_account_id": b, "amount_minor": 7}), Some(hid)).await;
                // No body: the hold in the path is the whole request.
                Walk {
                    path: format!("/v1/holds/{hid}/void"),
                    key,
                    body: None,
                    changed: None,
                    witness: format!("/v1/accounts/{a}"),
                }
            }
            "/v1/loans/{id}/disburse" => {
                let product = id_of(&api.ok("/v1/loan-products", loan_product(), None).await);
                let loan = id_of(&api.ok("/v1/loans", json!({"product_id": product, "borrower": "alice", "amount_minor": 1_000_000, "term_months": 6}), None).await);
                api.ok(&format!("/v1/loans/{loan}/approve"), json!({}), None)
                    .await;
                self.ids.insert("loan", loan.clone());
                Walk {
                    path: format!("/v1/loans/{loan}/disburse"),
                    key,
                    body: Some(json!({})),
                    changed: Some(json!({"payee": "merchant-42"})),
                    witness: format!("/v1/loans/{loan}"),
                }
            }
            "/v1/loans/{id}/repayments" => {
                let loan = self.get("loan");
                let body =
                    json!({"amount_minor": 100_000, "currency": "CNY", "date": "2026-01-15"});
                Walk {
                    path: format!("/v1/loans/{loan}/repayments"),
                    key,
                    changed: Some(with(body.clone(), "amount_minor", json!(777))),
                    body: Some(body),
                    witness: format!("/v1/loans/{loan}"),
                }
            }
            "/v1/loans/{id}/repayments/{rid}/reversal" => {
                let loan = self.get("loan");
                let paid = api
                    .ok(
                        &format!("/v1/loans/{loan}/repayments"),
                        json!({"amount_minor": 500, "currency": "CNY", "date": "2026-01-15"}),
                        Some(Uuid::now_v7()),
                    )
                    .await;
                let rid = paid["repayment_id"].as_i64().unwrap();
                Walk {
                    path: format!("/v1/loans/{loan}/repayments/{rid}/reversal"),
                    key,
                    body: None,
                    changed: None,
                    witness: format!("/v1/loans/{loan}"),
                }
            }
            "/v1/loans/{id}/prepay" => {
                let loan = self.get("loan");
                let quote = api.get(&format!("/v1/loans/{loan}/prepayment-quote")).await
                    ["payoff_minor"]
                    .as_i64()
                    .unwrap();
                let body =
                    json!({"amount_minor": quote + 2_000, "currency": "CNY", "date": "2026-01-15"});
                Walk {
                    path: format!("/v1/loans/{loan}/prepay"),
                    key,
                    changed: Some(with(body.clone(), "amount_minor", json!(quote + 2_001))),
                    body: Some(body),
                    witness: format!("/v1/loans/{loan}"),
                }
            }
            "/v1/loans/{id}/refunds" => {
                let loan = self.get("loan");
                let body = json!({"amount_minor": 1_500, "currency": "CNY"});
                Walk {
                    path: format!("/v1/loans/{loan}/refunds"),
                    key,
                    changed: Some(with(body.clone(), "amount_minor", json!(1_499))),
                    body: Some(body),
                    witness: format!("/v1/loans/{loan}"),
                }
            }
            "/v1/borrowers" => {
                let body = json!({"kind": "individual", "name": "Li Lei"});
                self.ids.insert("borrower", key.to_string());
                Walk {
                    path: op.into(),
                    key,
                    changed: Some(with(body.clone(), "name", json!("Han Meimei"))),
                    body: Some(body),
                    witness: format!("/v1/borrowers/{key}"),
                }
            }
            "/v1/customers" => {
                let body = json!({"kind": "individual", "name": "Li Lei",
                    "id_number": "11010519491231002X", "phone": "13812345678",
                    "birth_date": "1949-12-31", "region_code": "110105",
                    "occupation": "teacher", "student": false, "currency": "CNY",
                    "annual_income_minor": 12_000_000});
                Walk {
                    path: op.into(),
                    key,
                    changed: Some(with(body.clone(), "occupation", json!("pilot"))),
                    body: Some(body),
                    witness: format!("/v1/customers/{key}"),
                }
            }
            "/v1/controls/halts" => {
                let body = json!({"scope": {"kind": "merchant", "merchant_id": self.get("merchant")},
                    "reason": "walk: merchant under review"});
                Walk {
                    path: op.into(),
                    key,
                    changed: Some(with(body.clone(), "reason", json!("another reason"))),
                    body: Some(body),
                    witness: format!("/v1/controls/halts/{key}"),
                }
            }
            "/v1/merchants" => {
                let body = json!({"name": "Tea house", "discount_rate": "0.008", "settlement_account": "bank:6222-0001"});
                self.ids.insert("merchant", key.to_string());
                Walk {
                    path: op.into(),
                    key,
                    changed: Some(with(body.clone(), "discount_rate", json!("0.009"))),
                    body: Some(body),
                    witness: format!("/v1/merchants/{key}"),
                }
            }
            "/v1/credit-lines" => {
                let body = json!({"borrower_id": self.get("borrower"), "currency": "CNY", "limit_minor": 100_000, "statement_day": 16, "due_day": 26});
                self.ids.insert("line", key.to_string());
                Walk {
                    path: op.into(),
                    key,
                    changed: Some(with(body.clone(), "limit_minor", json!(100_001))),
                    body: Some(body),
                    witness: format!("/v1/credit-lines/{key}"),
                }
            }
            "/v1/credit-lines/{id}/statement-installments" => {
                let line = self.get("line");
                let sale = json!({"credit_line_id": line, "merchant_id": self.get("merchant"), "amount_minor": 30_000, "currency": "CNY", "capture": true});
                api.ok("/v1/purchases", sale, Some(Uuid::now_v7())).await;
                // Close the day: the line's statement is cut on the 16th.
                engine::cob::close_business_day(engine, engine::cob::CobConfig::default(), &|_| {})
                    .await
                    .unwrap();
                let body = json!({"months": 3});
                Walk {
                    path: format!("/v1/credit-lines/{line}/statement-installments"),
                    key,
                    changed: Some(json!({"months": 6})),
                    body: Some(body),
                    witness: format!("/v1/credit-lines/{line}"),
                }
            }
            "/v1/purchases" => {
                let line = self.get("line");
                let body = json!({"credit_line_id": line, "merchant_id": self.get("merchant"), "amount_minor": 10_000, "currency": "CNY", "capture": true});
                self.ids.insert("purchase", key.to_string());
                Walk {
                    path: op.into(),
                    key,
                    changed: Some(with(body.clone(), "amount_minor", json!(10_001))),
                    body: Some(body),
                    witness: format!("/v1/credit-lines/{line}"),
                }
            }
            "/v1/purchases/{id}/refunds" => {
                let purchase = self.get("purchase");
                let body = json!({"amount_minor": 1_000});
                Walk {
                    path: format!("/v1/purchases/{purchase}/refunds"),
                    key,
                    changed: Some(json!({"amount_minor": 1_001})),
                    body: Some(body),
                    witness: format!("/v1/credit-lines/{}", self.get("line")),
                }
            }
            "/v1/credit-lines/{id}/repayments" => {
                let line = self.get("line");
                Walk {
                    path: format!("/v1/credit-lines/{line}/repayments"),
                    key,
                    body: Some(json!({"amount_minor": 2_000})),
                    changed: Some(json!({"amount_minor": 2_001})),
                    witness: format!("/v1/credit-lines/{line}"),
                }
            }
            "/v1/credit-lines/{id}/refunds" => {
                let line = self.get("line");
                // Pay more than the line owes: the rest is its overpayment.
                let owed = api.get(&format!("/v1/credit-lines/{line}")).await["payoff_minor"]
                    .as_i64()
                    .unwrap();
                api.ok(
                    &format!("/v1/credit-lines/{line}/repayments"),
                    json!({"amount_minor": owed + 5_000}),
                    Some(Uuid::now_v7()),
                )
                .await;
                Walk {
                    path: format!("/v1/credit-lines/{line}/refunds"),
                    key,
                    body: Some(json!({"amount_minor": 700})),
                    changed: Some(json!({"amount_minor": 701})),
                    witness: format!("/v1/credit-lines/{line}"),
                }
            }
            "/v1/credit-lines/{id}/changes" => {
                let line = self.get("line");
                let body =
                    json!({"action": "set_limit", "limit_minor": 120_000, "reason": "good payer"});
                Walk {
                    path: format!("/v1/credit-lines/{line}/changes"),
                    key,
                    changed: Some(with(body.clone(), "limit_minor", json!(130_000))),
                    body: Some(body),
                    witness: format!("/v1/credit-lines/{line}"),
                }
            }
            "/v1/funding-partners" => {
                self.ids.insert("partner", key.to_string());
                Walk {
                    path: op.into(),
                    key,
                    body: Some(funding_partner(1_000_000)),
                    changed: Some(funding_partner(1_000_001)),
                    witness: format!("/v1/funding-partners/{key}"),
                }
            }
            "/v1/first-loss-deposits" => Walk {
                path: op.into(),
                key,
                body: Some(first_loss_deposit(1_000_000)),
                changed: Some(first_loss_deposit(1_000_001)),
                witness: format!("/v1/first-loss-deposits/{key}"),
            },
            "/v1/funding-partners/{id}/changes" => {
                let partner = self.get("partner");
                Walk {
                    path: format!("/v1/funding-partners/{partner}/changes"),
                    key,
                    body: Some(funding_partner(2_000_000)),
                    changed: Some(funding_partner(2_000_001)),
                    witness: format!("/v1/funding-partners/{partner}"),
                }
            }
            "/v1/loan-products/{id}/funding-plan" => {
                let product = id_of(&api.ok("/v1/loan-products", loan_product(), None).await);
                let platform =
                    engine::colending::platform_partner_id("default", money::Currency::Cny);
                let plan = |platform_share: &str, partner_share: &str| {
                    json!({"shares": [
                        {"partner_id": platform, "share": platform_share},
                        {"partner_id": self.get("partner"), "share": partner_share}]})
                };
                Walk {
                    path: format!("/v1/loan-products/{product}/funding-plan"),
                    key,
                    body: Some(plan("0.3", "0.7")),
                    changed: Some(plan("0.4", "0.6")),
                    witness: format!("/v1/loan-products/{product}/funding-plan"),
                }
            }
            other => panic!("no fixture for POST {other}: add one to the journey"),
        }
    }
}

fn entry(id: Uuid, from: &str, to: &str, amount: i64) -> Value {
    json!({"id": id, "currency": "CNY", "postings": [
        {"account_id": from, "direction": "debit", "amount_minor": amount},
        {"account_id": to, "direction": "credit", "amount_minor": amount}]})
}

/// The POST operations whose parameters include the `Idempotency-Key` header.
fn keyed_posts(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(params) = item["post"]["parameters"].as_array() else {
            continue;
        };
        let keyed = params.iter().any(|p| {
            p["in"] == "header"
                && p["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("Idempotency-Key"))
        });
        if keyed {
            out.push(path.clone());
        }
    }
    out
}

#[tokio::test]
async fn every_keyed_post_answers_a_retry_and_refuses_another_body() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let state = server::app::build_state(ts.store.clone()).await.unwrap();
        server::app::bootstrap_key(&ts.store, Some(KEY))
            .await
            .unwrap();
        engine::loans::init_business_date(&state.engine, "2026-01-15".parse().unwrap())
            .await
            .unwrap();
        let engine = state.engine.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(server::app::serve(state, listener, async {
            let _ = stopped.await;
        }));
        let api = Api {
            base,
            http: reqwest::Client::new(),
            name,
        };

        let (s, doc) = api.send("GET", "/openapi.json", None, None).await;
        assert_eq!(s, 200, "{name}");
        let keyed = keyed_posts(&doc);
        for must in [
            "/v1/loans/{id}/repayments",
            "/v1/loans/{id}/prepay",
            "/v1/loans/{id}/disburse",
            "/v1/loans/{id}/refunds",
            "/v1/purchases",
            "/v1/purchases/{id}/refunds",
            "/v1/credit-lines/{id}/repayments",
            "/v1/ledger/entries",
            "/v1/credit-lines/{id}/refunds",
        ] {
            assert!(
                keyed.iter().any(|k| k == must),
                "{name}: {must} declares Idempotency-Key: {keyed:?}"
            );
        }
        for op in &keyed {
            assert!(
                ORDER.contains(&op.as_str()) || ELSEWHERE.contains(&op.as_str()),
                "{name}: POST {op} takes an Idempotency-Key but the walk has no fixture for it"
            );
        }

        let mut journey = Journey::default();
        for op in ORDER.iter().filter(|op| keyed.iter().any(|k| k == *op)) {
            let w = journey.prepare(&api, &engine, op).await;
            let (s1, first) = api
                .send("POST", &w.path, w.body.as_ref(), Some(w.key))
                .await;
            assert!(
                s1 == 200 || s1 == 201,
                "{name} {op}: first request {s1}: {first}"
            );
            let witness = api.get(&w.witness).await;
            let (s2, again) = api
                .send("POST", &w.path, w.body.as_ref(), Some(w.key))
                .await;
            assert!(s2 == 200 || s2 == s1, "{name} {op}: retry {s2}: {again}");
            assert_eq!(again, first, "{name} {op}: a retry gets the first answer");
            assert_eq!(
                api.get(&w.witness).await,
                witness,
                "{name} {op}: a retry changes nothing"
            );
            if let Some(changed) = &w.changed {
                let (s3, refused) = api.send("POST", &w.path, Some(changed), Some(w.key)).await;
                assert_eq!(
                    s3, 409,
                    "{name} {op}: another body under the same key: {refused}"
                );
                assert_eq!(
                    api.get(&w.witness).await,
                    witness,
                    "{name} {op}: a refused request changes nothing"
                );
            }
        }
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
}
