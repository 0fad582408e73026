//! A loan's price through a real server on port 0, on SQLite and PostgreSQL: the rate cap
//! holds the all-in APR (interest and fees) at product creation, at application and at
//! disbursement; the loan shows its APR, net payout, payee and accounts; a stored credit
//! decision is read back and prices one loan for its own borrower.

use crate::common;

use common::{start_in_process, Api};
use serde_json::{json, Value};
use uuid::Uuid;

impl Api {
    /// Creates a product; panics unless it is accepted.
    async fn product(&self, body: Value) -> String {
        let (s, v) = self.post("/v1/loan-products", body, None).await;
        assert_eq!(s, 201, "{}: {v}", self.name);
        v["id"].as_str().unwrap().to_string()
    }

    /// Applies and approves; returns the loan.
    async fn approved(&self, application: Value) -> Value {
        let (s, v) = self.post("/v1/loans", application, None).await;
        assert_eq!(s, 201, "{}: {v}", self.name);
        let id = v["id"].as_str().unwrap();
        let (s, v) = self
            .post(&format!("/v1/loans/{id}/approve"), json!({}), None)
            .await;
        assert_eq!(s, 200, "{}: {v}", self.name);
        v
    }
}

/// A CNY product: `rate` a month, `fee` taken upfront, 6–12 months, 24% cap.
fn product(rate: &str, fee: Option<&str>, months_min: u32) -> Value {
    json!({
        "name": "priced",
        "currency": "CNY",
        "amount_minor_min": 100_000,
        "amount_minor_max": 100_000_000,
        "term_months_min": months_min,
        "term_months_max": 12,
        "repayment_method": "annuity",
        "contract_rate": rate,
        "rate_cap": "24%/year",
        "grace_days": 3,
        "origination_fee": fee.map(|f| json!({"rate": f, "collection": "upfront"})),
        "late_fee_minor": 1_000,
        "penalty_rate": "x1.5",
        "penalty_compounds": false,
        "prepayment": {
            "full_allowed": true, "partial_allowed": true, "partial_effect": "shorten_term",
            "fee_rate": "0%", "partial_minimum_minor": 10_000
        },
        "entrusted_payment_threshold_minor": 5_000_000,
        "write_off_dpd": 90
    })
}

fn problem(v: &Value) -> (&str, &str) {
    (
        v["code"].as_str().unwrap_or(""),
        v["field"].as_str().unwrap_or(""),
    )
}

#[tokio::test]
async fn the_cap_holds_the_all_in_apr_at_creation_application_and_disbursement() {
    for ts in testkit::all_stores().await {
        let (api, running) = start_in_process(&ts, "2026-01-10").await;
        let engine = running.engine.clone();
        let name = api.name;

        // 1.9% a month is 22.8% a year, under the 24% cap; 5% taken upfront makes a 3-month
        // loan 54.91%. Refused, and nothing is stored.
        let pid = Uuid::now_v7();
        let mut dear = product("1.9%/month", Some("5%"), 3);
        dear["id"] = json!(pid);
        let (s, v) = api.post("/v1/loan-products", dear, None).await;
        assert_eq!(s, 422, "{name}: {v}");
        assert_eq!(
            problem(&v),
            ("apr_above_cap", "origination_fee.rate"),
            "{name}: {v}"
        );
        let detail = v["detail"].as_str().unwrap();
        for part in ["54.91%", "1000.00 CNY", "3 months", "24% a year"] {
            assert!(detail.contains(part), "{name}: {part} in {detail}");
        }
        let (s, _) = api.get(&format!("/v1/loan-products/{pid}")).await;
        assert_eq!(s, 404, "{name}: a refused product is not stored");
        // /v1/apr agrees on the 10,000.00 loan: 9,500.00 paid out, 3 installments.
        let (_, preview) = api
            .post("/v1/loan-schedules/preview", json!({"amount_minor": 1_000_000, "currency": "CNY", "rate": "1.9%/month", "term_months": 3, "method": "annuity", "start": "2026-01-10"}), None)
            .await;
        let payments: Vec<Value> = preview["installments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| json!({"date": i["due_date"], "amount_minor": i["total_minor"]}))
            .collect();
        let (_, apr) = api
            .post("/v1/apr", json!({"currency": "CNY", "advances": [{"date": "2026-01-10", "amount_minor": 950_000}], "payments": payments}), None)
            .await;
        assert_eq!(apr["apr_percent"], "54.91", "{name}: {apr}");

        // 1.5% a month with 1%: 21.55% over 6 months. A rate the request gives, 1.95% a
        // month (23.4% a year, under the cap on its own), is 26.98% with the fee.
        let pid = api.product(product("1.5%/month", Some("1%"), 6)).await;
        let loan_id = Uuid::now_v7();
        let (s, v) = api
            .post("/v1/loans", json!({"id": loan_id, "product_id": pid, "borrower": "carol", "amount_minor": 1_000_000, "term_months": 6, "rate": "1.95%/month"}), None)
            .await;
        assert_eq!(
            (s, problem(&v)),
            (422, ("apr_above_cap", "rate")),
            "{name}: {v}"
        );
        assert!(
            v["detail"].as_str().unwrap().contains("26.98%"),
            "{name}: {v}"
        );
        let (s, _) = api.get(&format!("/v1/loans/{loan_id}")).await;
        assert_eq!(s, 404, "{name}: a refused application stores no loan");
        let (s, v) = api
            .post("/v1/loans", json!({"product_id": pid, "borrower": "carol", "amount_minor": 1_000_000, "term_months": 6, "rate": "2.1%/month"}), None)
            .await;
        assert_eq!(
            (s, problem(&v)),
            (422, ("rate_above_cap", "rate")),
            "{name}: {v}"
        );

        // The loan shows its all-in APR, what it pays out, to whom, and its accounts.
        let loan = api
            .approved(json!({"product_id": pid, "borrower": "carol", "amount_minor": 6_000_000, "term_months": 6}))
            .await;
        let id = loan["id"].as_str().unwrap().to_string();
        assert_eq!(loan["contract_rate"], "1.5%/month", "{name}: {loan}");
        assert_eq!(loan["net_disbursed_minor"], 5_940_000, "{name}: {loan}");
        assert_eq!(loan["origination_fee_minor"], 60_000, "{name}: {loan}");
        assert_eq!(loan["payee"], Value::Null, "{name}: not yet paid out");
        let (s, loan) = api
            .post(
                &format!("/v1/loans/{id}/disburse"),
                json!({"payee": "merchant-7"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{name}: {loan}");
        let (_, got) = api.get(&format!("/v1/loans/{id}")).await;
        assert_eq!(got, loan, "{name}: GET shows what disbursing answered");
        assert_eq!(loan["payee"], "merchant-7", "{name}: {loan}");
        assert_eq!(loan["apr_unit_period"], "month", "{name}: {loan}");
        let payments: Vec<Value> = loan["installments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| json!({"date": i["due_date"], "amount_minor": i["total_minor"]}))
            .collect();
        let (_, apr) = api
            .post("/v1/apr", json!({"currency": "CNY", "advances": [{"date": "2026-01-10", "amount_minor": loan["net_disbursed_minor"]}], "payments": payments}), None)
            .await;
        assert_eq!(loan["apr_percent"], apr["apr_percent"], "{name}: {apr}");
        let principal = loan["accounts"]["principal_receivable"].as_str().unwrap();
        let (s, account) = api.get(&format!("/v1/accounts/{principal}")).await;
        assert_eq!(s, 200, "{name}: {account}");
        assert_eq!(account["balance_minor"], "6000000", "{name}: {account}");
        let fee = loan["accounts"]["fee_receivable"].as_str().unwrap();
        let (s, _) = api.get(&format!("/v1/accounts/{fee}")).await;
        assert_eq!(s, 200, "{name}");

        // A fixed due day: the product's worst case is computed from that day (whole
        // months, 21.55%), and the loan applied for on the 10th meets the cap (23.36%). Paid
        // out five days later, its first period is 17 days for a month's interest: 24.66%.
        let mut fixed = product("1.5%/month", Some("1%"), 6);
        fixed["repayment_day"] = json!(1);
        let fixed = api.product(fixed).await;
        let late = api
            .approved(json!({"product_id": fixed, "borrower": "dan", "amount_minor": 1_000_000, "term_months": 6}))
            .await;
        assert_eq!(late["apr_percent"], "23.36", "{name}: {late}");
        let late_id = late["id"].as_str().unwrap().to_string();
        for _ in 0..5 {
            engine::cob::close_business_day(&engine, engine::cob::CobConfig::default(), &|_| {})
                .await
                .unwrap();
        }
        let (s, v) = api
            .post(
                &format!("/v1/loans/{late_id}/disburse"),
                json!({}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(
            (s, problem(&v)),
            (422, ("apr_above_cap", "date")),
            "{name}: {v}"
        );
        assert!(
            v["detail"].as_str().unwrap().contains("24.66%"),
            "{name}: {v}"
        );
        let (_, after) = api.get(&format!("/v1/loans/{late_id}")).await;
        assert_eq!(after["stage"], "approved", "{name}: {after}");
        let (s, entries) = api.get(&format!("/v1/loans/{late_id}/entries")).await;
        assert_eq!(s, 200, "{name}: {entries}");
        assert_eq!(
            entries["items"].as_array().map(Vec::len),
            Some(0),
            "{name}: {entries}"
        );
    }
}

fn application() -> Value {
    serde_json::from_str(include_str!("../../../../models/example-application.json")).unwrap()
}

#[tokio::test]
async fn a_stored_decision_prices_one_loan_of_its_own_borrower() {
    for ts in testkit::all_stores().await {
        let (api, _running) = start_in_process(&ts, "2026-01-10").await;
        let name = api.name;
        let (s, decided) = api.post("/v1/decisions", application(), None).await;
        assert_eq!(
            (s, decided["outcome"].as_str()),
            (201, Some("approve")),
            "{name}: {decided}"
        );
        let decision_id = decided["decision_id"].as_str().unwrap().to_string();
        let limit_minor = decided["limit_minor"].as_i64().unwrap();
        let annual_rate = decided["price"]["annual_rate"]
            .as_str()
            .unwrap()
            .to_string();
        let mut declined_input = application();
        declined_input["bureau"]["blacklisted"] = json!(true);
        let (_, declined) = api.post("/v1/decisions", declined_input, None).await;
        assert_eq!(declined["outcome"], "decline", "{name}: {declined}");

        // The decision as stored, not yet used.
        let (s, got) = api.get(&format!("/v1/decisions/{decision_id}")).await;
        assert_eq!(s, 200, "{name}: {got}");
        for field in [
            "outcome",
            "limit_minor",
            "price",
            "output_hash",
            "input_hash",
            "applicant_id",
        ] {
            assert_eq!(got[field], decided[field], "{name}: {field}");
        }
        assert_eq!(got["loan_id"], Value::Null, "{name}");
        let (s, _) = api.get(&format!("/v1/decisions/{}", Uuid::now_v7())).await;
        assert_eq!(s, 404, "{name}");

        let pid = api.product(product("1.5%/month", Some("1%"), 6)).await;
        let apply = |decision: &str, borrower: &str, amount_minor: i64| json!({"product_id": pid, "borrower": borrower, "amount_minor": amount_minor, "term_months": 12, "decision_id": decision});
        let amount_minor = limit_minor.min(300_000);
        let misuses = [
            (
                apply(&Uuid::now_v7().to_string(), "app-0001", amount_minor),
                "unknown_decision",
                "decision_id",
            ),
            (
                apply(&decision_id, "someone-else", amount_minor),
                "decision_for_another_borrower",
                "decision_id",
            ),
            (
                apply(
                    declined["decision_id"].as_str().unwrap(),
                    "app-0001",
                    amount_minor,
                ),
                "decision_not_approved",
                "decision_id",
            ),
            (
                apply(&decision_id, "app-0001", limit_minor + 100),
                "above_decision_limit",
                "amount_minor",
            ),
        ];
        for (body, code, field) in misuses {
            let (s, v) = api.post("/v1/loans", body, None).await;
            assert_eq!((s, problem(&v)), (422, (code, field)), "{name}: {v}");
        }
        // The decision's price is held to the product's bounds too.
        let mut strict = product("0.5%/month", None, 6);
        strict["rate_cap"] = json!("6%/year");
        let strict = api.product(strict).await;
        let (s, v) = api
            .post("/v1/loans", json!({"product_id": strict, "borrower": "app-0001", "amount_minor": amount_minor, "term_months": 12, "decision_id": decision_id}), None)
            .await;
        assert_eq!(
            (s, problem(&v)),
            (422, ("rate_above_cap", "decision_id")),
            "{name}: {v}"
        );

        // The loan takes the decision's rate and records the decision; the decision shows
        // the loan it was used for and prices no other.
        let loan_id = Uuid::now_v7();
        let mut body = apply(&decision_id, "app-0001", amount_minor);
        body["id"] = json!(loan_id);
        let (s, loan) = api.post("/v1/loans", body.clone(), None).await;
        assert_eq!(s, 201, "{name}: {loan}");
        assert_eq!(loan["decision_id"], decision_id.as_str(), "{name}: {loan}");
        let percent = percent_of(&annual_rate);
        assert_eq!(
            loan["contract_rate"],
            format!("{percent}%/year"),
            "{name}: {loan}"
        );
        let (s, again) = api.post("/v1/loans", body, None).await;
        assert_eq!(
            (s, &again["id"]),
            (200, &loan["id"]),
            "{name}: a retry is the same loan"
        );
        let (_, got) = api.get(&format!("/v1/decisions/{decision_id}")).await;
        assert_eq!(
            got["loan_id"],
            loan_id.to_string().as_str(),
            "{name}: {got}"
        );
        let (s, v) = api
            .post(
                "/v1/loans",
                apply(&decision_id, "app-0001", amount_minor),
                None,
            )
            .await;
        assert_eq!(
            (s, problem(&v)),
            (422, ("decision_used", "decision_id")),
            "{name}: {v}"
        );

        // A rate the request gives wins over the decision's.
        let (s, decided) = api.post("/v1/decisions", application(), None).await;
        assert_eq!(s, 201, "{name}");
        let mut body = apply(
            decided["decision_id"].as_str().unwrap(),
            "app-0001",
            amount_minor,
        );
        body["rate"] = json!("1.2%/month");
        let (s, loan) = api.post("/v1/loans", body, None).await;
        assert_eq!(
            (s, &loan["contract_rate"]),
            (201, &json!("1.2%/month")),
            "{name}: {loan}"
        );
        assert_eq!(
            loan["decision_id"], decided["decision_id"],
            "{name}: {loan}"
        );
    }
}

/// `0.1234` → `12.34`: the decimal text of a fraction as a percentage, without floats.
fn percent_of(fraction: &str) -> String {
    let (int, frac) = fraction.split_once('.').unwrap_or((fraction, ""));
    let frac = format!("{frac:0<2}");
    let (head, tail) = frac.split_at(2);
    let whole = format!("{int}{head}").trim_start_matches('0').to_string();
    let whole = if whole.is_empty() {
        "0".to_string()
    } else {
        whole
    };
    let tail = tail.trim_end_matches('0');
    match tail.is_empty() {
        true => whole,
        false => format!("{whole}.{tail}"),
    }
}

#[test]
fn the_document_states_the_new_route_and_fields() {
    let doc = server::openapi::document();
    let get = &doc["paths"]["/v1/decisions/{id}"]["get"];
    assert_eq!(get["operationId"], "getDecision", "{get}");
    let schemas = &doc["components"]["schemas"];
    let loan = &schemas["LoanResponse"]["properties"];
    for field in [
        "apr_percent",
        "apr_unit_period",
        "contract_rate",
        "net_disbursed_minor",
        "origination_fee_minor",
        "payee",
        "decision_id",
        "accounts",
    ] {
        assert!(loan.get(field).is_some(), "LoanResponse.{field}");
    }
    let application = &schemas["LoanApplicationRequest"]["properties"];
    for field in ["decision_id", "rate"] {
        assert!(
            application.get(field).is_some(),
            "LoanApplicationRequest.{field}"
        );
    }
    assert!(schemas.get("StoredDecisionResponse").is_some());
}
