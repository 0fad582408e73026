//! Isolation of funding partners: with partner A's key (role `partner_bank`, bound to A),
//! every route of the served OpenAPI document — iterated from `/openapi.json`, not a
//! sample — is called with partner B's ids (B's partner id, a loan only B and the
//! platform fund, B's control accounts) in every path parameter. Each answers 403 or 404,
//! or, when it answers anything else (a list filtered to A, the tree head), its body names
//! none of B's ids.

use crate::common;

use common::start_in_process;
use engine::colending::{
    self as cl, books, ApprovalDoc, ChargeRuleDoc, EligibilityDoc, Kind, PartnerSpec, PlanSpec,
    ShareDoc,
};
use engine::loans::{self, Action, Application};
use lending::loan::LoanConfig;
use lending::LoanProduct;
use money::{Currency, Money};
use serde_json::{json, Value};
use uuid::Uuid;

fn bank(name: &str) -> PartnerSpec {
    PartnerSpec {
        name: name.into(),
        kind: Kind::Bank,
        currency: Currency::Cny,
        yield_annual: None,
        quota_minor: 1_000_000_000,
        daily_quota_minor: 1_000_000_000,
        eligibility: EligibilityDoc::default(),
        approval: ApprovalDoc::Auto,
    }
}

/// A loan funded by the platform and `partner` (0.5 each), disbursed today.
async fn co_lent_loan(e: &engine::Engine, partner: Uuid) -> Uuid {
    let product_id = Uuid::now_v7();
    let platform = cl::platform_partner_id("default", Currency::Cny);
    let share = |partner_id| ShareDoc {
        partner_id,
        share: "0.5".parse().unwrap(),
    };
    let plan = PlanSpec {
        shares: vec![share(platform), share(partner)],
        platform_share_min: "0.3".parse().unwrap(),
        fees: ChargeRuleDoc::Platform,
        penalties: ChargeRuleDoc::Platform,
        guarantee: None,
        routing: None,
        first_loss: None,
    };
    cl::set_plan(
        e,
        "default",
        product_id,
        Currency::Cny,
        Uuid::now_v7(),
        plan,
    )
    .await
    .unwrap();
    let id = Uuid::now_v7();
    let amount = Money::from_minor(1_000_000, Currency::Cny);
    let config = LoanConfig::from_product(&LoanProduct::example_cny(), amount, 6, 90).unwrap();
    let application = Application {
        id,
        tenant: "default".into(),
        borrower: format!("borrower-of-{partner}"),
        product_id,
        product_version: 1,
        config,
        decision_id: None,
    };
    loans::apply_for_loan(e, application).await.unwrap();
    loans::decide(e, id, true).await.unwrap();
    let today = loans::business_date(e).await.unwrap().unwrap();
    loans::execute(
        e,
        id,
        Action::Disburse { payee: None },
        today,
        Uuid::now_v7(),
    )
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn a_partners_key_reaches_nothing_of_another_partner_on_any_route() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let (api, running) = start_in_process(&ts, "2026-01-15").await;
        let e = &running.engine;
        let (a, _) = cl::create_partner(e, "default", Uuid::now_v7(), bank("bank a"))
            .await
            .unwrap();
        let (b, _) = cl::create_partner(e, "default", Uuid::now_v7(), bank("bank b"))
            .await
            .unwrap();
        let (a, b) = (a.doc.id, b.doc.id);
        co_lent_loan(e, a).await;
        let loan_b = co_lent_loan(e, b).await;
        let account_b =
            books::control_account("default", Currency::Cny, &b.to_string(), "principal");
        let (s, key) = api
            .post(
                "/v1/api-keys",
                json!({"role": "partner_bank", "tenant": "default", "party_kind": "partner", "party_id": a.to_string()}),
                None,
            )
            .await;
        assert_eq!(s, 201, "{name}: {key}");
        let key = key["key"].as_str().unwrap().to_string();
        let secrets: Vec<String> = [b, loan_b, account_b.0]
            .iter()
            .map(Uuid::to_string)
            .chain([format!("borrower-of-{b}")])
            .collect();
        let doc: Value = reqwest::get(format!("{}/openapi.json", api.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (mut routes, mut refused) = (0, 0);
        for (template, ops) in doc["paths"].as_object().unwrap() {
            // Every path parameter gets one of B's ids (or a value of its shape).
            let path = template
                .replace("{date}", "2026-01-15")
                .replace("{file}", "balances.csv");
            let id = match path.as_str() {
                p if p.starts_with("/v1/loans/") => loan_b.to_string(),
                p if p.starts_with("/v1/accounts/") => account_b.0.to_string(),
                _ => b.to_string(),
            };
            let path = regex_free_fill(&path, &id);
            for method in ops.as_object().unwrap().keys() {
                let method = method.to_uppercase();
                let mut req = match method.as_str() {
                    "GET" => api.http.get(format!("{}{path}", api.base)),
                    "POST" => api
                        .http
                        .post(format!("{}{path}", api.base))
                        .json(&json!({})),
                    "DELETE" => api.http.delete(format!("{}{path}", api.base)),
                    "PUT" => api.http.put(format!("{}{path}", api.base)).json(&json!({})),
                    other => panic!("{name}: method {other} of {template}"),
                };
                req = req
                    .bearer_auth(&key)
                    .header("Idempotency-Key", Uuid::now_v7().to_string());
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap();
                routes += 1;
                if status == 403 || status == 404 {
                    refused += 1;
                    continue;
                }
                for s in &secrets {
                    assert!(
                        !body.contains(s.as_str()),
                        "{name}: {method} {template} answered {status} with B's {s}: {body}"
                    );
                }
            }
        }
        assert!(
            routes > 50,
            "{name}: the document lists every route ({routes})"
        );
        println!("{name}: {routes} operations called with B's ids, {refused} refused with 403/404, none leaked");
        running.stop().await;
    }
}

/// Replaces every remaining `{…}` path parameter with `id`.
fn regex_free_fill(path: &str, id: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push_str(id);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}
