//! A live deal end to end on SQLite and PostgreSQL: a co-lent book (the bank funds 40%),
//! the platform's share pooled and sold, twelve monthly periods with a revolving period that
//! buys newly eligible loans, a loan repurchased for a broken warranty, and a loan left
//! unpaid until close of business writes it off (part of it is recovered later) and the
//! cumulative-default trigger switches the deal to its accelerated waterfall. Every period's investor report is read with an
//! investor key bound to the deal and checked by `scripts/verify_investor_report.py`; a key
//! of another investor sees nothing; `ledger verify` passes.

use crate::common;

use common::start_in_process;
use engine::colending::{self as cl, ApprovalDoc, ChargeRuleDoc, EligibilityDoc, Kind};
use engine::colending::{PartnerSpec, PlanSpec, ShareDoc};
use engine::loans::{self, Action, Application};
use engine::Engine;
use money::{Currency, Decimal, Money};
use serde_json::{json, Value};
use uuid::Uuid;

const TENANT: &str = "default";
const LOAN_MINOR: i64 = 1_000_000;

fn deal_file() -> Value {
    json!({
        "name": "Co-lent consumer loans 2026-1",
        "currency": "CNY",
        "dates": {
            "cutoff": "2026-01-15", "closing": "2026-01-15", "first_payment": "2026-02-15",
            "frequency": "monthly", "revolving_end": "2026-04-15",
            "stated_maturity": "2028-01-15"
        },
        "pool_balance_minor": 3_600_000,
        "accounts": [
            { "name": "collection", "kind": "collection" },
            { "name": "reserve", "kind": "reserve", "target": { "fixed_minor": 36_000 },
              "opening_balance_minor": 36_000 }
        ],
        "fees": [{ "name": "servicer", "kind": "pool_fraction_annual", "rate": "0.01" }],
        "bonds": [
            { "name": "A", "balance_minor": 3_000_000, "kind": "amortizing",
              "coupon": { "kind": "fixed", "rate": "0.04" } },
            { "name": "E", "balance_minor": 600_000, "kind": "equity" }
        ],
        "waterfalls": {
            "normal": [
                { "kind": "pay_fee", "fee": "servicer" },
                { "kind": "pay_interest", "bonds": ["A"] },
                { "kind": "purchase" },
                { "kind": "top_up_reserve", "account": "reserve" },
                { "kind": "pay_principal", "bonds": ["A", "E"], "mode": "sequential" },
                { "kind": "pay_residual", "bond": "E" }
            ],
            "accelerated": [
                { "kind": "pay_fee", "fee": "servicer" },
                { "kind": "pay_interest", "bonds": ["A"] },
                { "kind": "pay_principal", "bonds": ["A", "E"], "mode": "sequential",
                  "limit": "all_funds" }
            ]
        },
        "triggers": [
            { "name": "cumulative default", "kind": "cumulative_default_above",
              "curable": false, "curve": [{ "from": "2026-02-15", "rate": "0.05" }] }
        ],
        "purchase_price": "1"
    })
}

async fn disburse(e: &Engine, product_id: Uuid, borrower: &str) -> Uuid {
    let id = Uuid::now_v7();
    let principal = Money::from_minor(LOAN_MINOR, Currency::Cny);
    let product = lending::LoanProduct::example_cny();
    let config = lending::loan::LoanConfig::from_product(&product, principal, 12, 90).unwrap();
    let app = Application {
        id,
        tenant: TENANT.into(),
        borrower: borrower.into(),
        product_id,
        product_version: 1,
        config,
        decision_id: None,
    };
    loans::apply_for_loan(e, app).await.unwrap();
    loans::decide(e, id, true).await.unwrap();
    let today = loans::business_date(e).await.unwrap().unwrap();
    let disburse = Action::Disburse { payee: None };
    loans::execute(e, id, disburse, today, Uuid::now_v7())
        .await
        .unwrap();
    id
}

/// Closes business days until `to` is the open day.
async fn close_days_to(e: &Engine, to: money::BusinessDate) {
    while loans::business_date(e).await.unwrap().unwrap() < to {
        engine::cob::close_business_day(e, engine::cob::CobConfig::default(), &|_| {})
            .await
            .unwrap();
    }
}

/// Each loan disbursed before today and still active pays up to 100,000 (a little above its
/// installment, so part of it is prepaid).
async fn repay(e: &Engine, book: &[Uuid]) {
    let today = loans::business_date(e).await.unwrap().unwrap();
    for &id in book {
        let loan = loans::load(e, id).await.unwrap().loan;
        let active = loan.status == lending::loan::LoanStatus::Active;
        if !active || loan.disbursed_on.is_none_or(|d| d >= today) {
            continue;
        }
        let due = lending::loan::payoff_minor(&loan).unwrap().min(100_000);
        if due > 0 {
            let amount = Money::from_minor(due, Currency::Cny);
            loans::execute(e, id, Action::Repay { amount }, today, Uuid::now_v7())
                .await
                .unwrap();
        }
    }
}

async fn get_as(api: &common::Api, path: &str, key: &str) -> (u16, String) {
    let resp = api
        .http
        .get(format!("{}{path}", api.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn investor_key(api: &common::Api, party: &str) -> String {
    let body = json!({"role": "investor", "tenant": TENANT, "party_kind": "investor",
        "party_id": party});
    let (s, v) = api.post("/v1/api-keys", body, None).await;
    assert_eq!(s, 201, "{v}");
    v["key"].as_str().unwrap().to_string()
}

/// Runs the outside verifier on `reports`; its exit status and output.
fn verify_outside(reports: &[Value], public_key: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![format!(
        "{}/../../scripts/verify_investor_report.py",
        env!("CARGO_MANIFEST_DIR")
    )];
    for (i, r) in reports.iter().enumerate() {
        let path = dir.path().join(format!("report-{i}.json"));
        std::fs::write(&path, serde_json::to_vec(r).unwrap()).unwrap();
        args.push(path.display().to_string());
    }
    args.extend(["--public-key".to_string(), public_key.to_string()]);
    let out = std::process::Command::new("python3")
        .args(&args)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn twelve_periods_of_a_co_lent_revolving_deal_with_a_trigger_are_proven_to_investors() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let (api, running) = start_in_process(&ts, "2026-01-15").await;
        let e = running.engine.clone();

        // A co-lent product: the bank funds 40% of each loan, the platform 60%.
        let bank = PartnerSpec {
            name: "bank".into(),
            kind: Kind::Bank,
            currency: Currency::Cny,
            yield_annual: None,
            quota_minor: 1_000_000_000,
            daily_quota_minor: 1_000_000_000,
            eligibility: EligibilityDoc::default(),
            approval: ApprovalDoc::Auto,
        };
        let (bank, _) = cl::create_partner(&e, TENANT, Uuid::now_v7(), bank)
            .await
            .unwrap();
        let product = Uuid::now_v7();
        let plan = PlanSpec {
            shares: vec![
                ShareDoc {
                    partner_id: cl::platform_partner_id(TENANT, Currency::Cny),
                    share: Decimal::new(6, 1),
                },
                ShareDoc {
                    partner_id: bank.doc.id,
                    share: Decimal::new(4, 1),
                },
            ],
            platform_share_min: Decimal::new(3, 1),
            fees: ChargeRuleDoc::Platform,
            penalties: ChargeRuleDoc::ProRata,
            guarantee: None,
            routing: None,
            first_loss: None,
        };
        cl::set_plan(&e, TENANT, product, Currency::Cny, Uuid::now_v7(), plan)
            .await
            .unwrap();
        let mut book = Vec::new();
        for i in 0..5 {
            book.push(disburse(&e, product, &format!("b{i}")).await);
        }
        // Never pays: written off by close of business at 90 days past due.
        let defaulter = disburse(&e, product, "late").await;

        // The deal, readable by the investor "fund-a"; pooled, sold at par.
        let deal_id = Uuid::now_v7();
        let body = json!({"deal": deal_file(), "investors": ["fund-a"]});
        let (s, v) = api.post("/v1/abs/deals", body, Some(deal_id)).await;
        assert_eq!(s, 201, "{name}: {v}");
        assert_eq!(v["investors"], json!(["fund-a"]));
        let deal = format!("/v1/abs/deals/{deal_id}");
        let criteria = json!({"product_ids": [product]});
        let (s, pool) = api.post(&format!("{deal}/pool"), criteria, None).await;
        assert_eq!(s, 201, "{name}: {pool}");
        assert_eq!(
            pool["total_minor"],
            6 * 600_000,
            "{name}: the platform's 60% only"
        );
        let (s, v) = api
            .post(
                &format!("{deal}/close"),
                json!({"price": "1"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{name}: {v}");

        let fund_a = investor_key(&api, "fund-a").await;
        let fund_b = investor_key(&api, "fund-b").await;
        let public_key = {
            let (_, head) = api.get("/v1/ledger/tree-head").await;
            head["public_key"].as_str().unwrap().to_string()
        };

        let mut reports = Vec::new();
        let mut repurchased = None;
        for n in 1..=12u32 {
            let date: money::BusinessDate = format!("2026-{:02}-15", n + 1)
                .parse()
                .or_else(|_| format!("2027-{:02}-15", n - 11).parse())
                .unwrap();
            close_days_to(&e, date).await;
            repay(&e, &book).await;
            if n <= 3 {
                // New loans keep coming: the revolving period buys from them.
                for k in 0..2 {
                    book.push(disburse(&e, product, &format!("new{n}-{k}")).await);
                }
            }
            if n == 7 {
                // A loan that breaks a warranty goes back to the platform.
                let body = json!({"loan_id": book[0], "reason": "income not verified"});
                let key = Uuid::now_v7();
                let path = format!("{deal}/repurchases");
                let (s, r) = api.post(&path, body.clone(), Some(key)).await;
                assert_eq!(s, 201, "{name}: {r}");
                assert!(r["amount_minor"].as_i64().unwrap() > 0);
                let (s, again) = api.post(&path, body, Some(key)).await;
                assert_eq!((s, &again), (200, &r), "{name}");
                let (s, v) = api
                    .post(
                        &path,
                        json!({"loan_id": book[0], "reason": "again"}),
                        Some(Uuid::now_v7()),
                    )
                    .await;
                assert_eq!(
                    (s, v["code"].as_str(), v["field"].as_str()),
                    (422, Some("nothing_to_repurchase"), Some("loan_id")),
                    "{name}: {v}"
                );
                repurchased = Some(r);
            }
            if n == 8 {
                // A collection agency recovers part of the written-off loan.
                let path = format!("/v1/loans/{defaulter}/recoveries");
                let body = json!({"amount_minor": 200_000, "currency": "CNY"});
                let (s, v) = api.post(&path, body, Some(Uuid::now_v7())).await;
                assert_eq!(s, 201, "{name}: {v}");
            }
            let (s, period) = api
                .post(
                    &format!("{deal}/periods/{n}/run"),
                    json!({}),
                    Some(Uuid::now_v7()),
                )
                .await;
            assert_eq!(s, 201, "{name}: period {n}: {period}");

            let path = format!("{deal}/periods/{n}/report");
            let (s, text) = get_as(&api, &path, &fund_a).await;
            assert_eq!(s, 200, "{name}: period {n}: {text}");
            let report: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(report["period"], n);
            assert_eq!(report["payment_date"], date.to_string());
            reports.push(report);
        }

        // The revolving period bought new loans' platform share; after it, none.
        for (k, r) in reports.iter().enumerate() {
            let pool = &r["pool"];
            let bought = pool["purchased_balance_minor"].as_i64().unwrap();
            if k < 3 {
                assert!(
                    r["revolving"].as_bool().unwrap(),
                    "{name}: period {}",
                    k + 1
                );
                assert!(bought > 0, "{name}: period {} bought nothing: {r}", k + 1);
                assert_eq!(bought, pool["purchase_paid_minor"].as_i64().unwrap());
            } else {
                assert!(!r["revolving"].as_bool().unwrap());
                assert_eq!(bought, 0);
            }
            assert_eq!(
                r["collections"]["entries"].as_array().unwrap().is_empty(),
                r["collections"]["total_minor"] == 0,
                "{name}"
            );
        }
        // The recovery reached the deal in its sold share (60%), in period 8 only.
        for (k, r) in reports.iter().enumerate() {
            let want = if k == 7 { 120_000 } else { 0 };
            assert_eq!(
                r["pool"]["recovery_minor"],
                want,
                "{name}: period {}",
                k + 1
            );
        }
        // The unpaid loan was delinquent, then written off; the trigger tripped with it and
        // the accelerated waterfall ran from then on.
        let tripped_at = reports
            .iter()
            .position(|r| r["triggers"][0]["tripped"] == true)
            .expect("the cumulative-default trigger trips");
        assert!(
            reports[tripped_at]["pool"]["defaults_minor"]
                .as_i64()
                .unwrap()
                > 0
        );
        assert!(
            reports[tripped_at - 1]["delinquency"]["dpd_61_90_minor"]
                .as_i64()
                .unwrap()
                > 0
        );
        for r in &reports[..tripped_at] {
            assert_eq!(r["waterfall"], "normal", "{name}");
        }
        for r in &reports[tripped_at..] {
            assert_eq!(r["waterfall"], "accelerated", "{name}");
            assert_eq!(r["triggers"][0]["tripped"], true);
        }
        let loan = loans::load(&e, defaulter).await.unwrap().loan;
        assert_eq!(loan.status, lending::loan::LoanStatus::WrittenOff);
        // The repurchase joined period 7's principal, with its entry among the proofs.
        let r = repurchased.unwrap();
        assert_eq!(reports[6]["pool"]["repurchased_minor"], r["amount_minor"]);
        let ids: Vec<&str> = reports[6]["collections"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["entry_id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&r["entry_id"].as_str().unwrap()), "{name}");
        // Tranche factors fall as the bonds amortize.
        let factor = |r: &Value| {
            r["tranches"][0]["factor"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        };
        assert!(factor(&reports[11]) < factor(&reports[0]), "{name}");

        // The outside verifier checks every proof of every report; a changed amount fails.
        let (ok, out) = verify_outside(&reports, &public_key);
        assert!(ok, "{name}: {out}");
        assert_eq!(out.matches("verified period").count(), 12, "{out}");
        let mut forged = reports[0].clone();
        let total = forged["pool"]["interest_collected_minor"].as_i64().unwrap();
        forged["pool"]["interest_collected_minor"] = json!(total + 1);
        forged["collections"]["total_minor"] =
            json!(forged["collections"]["total_minor"].as_i64().unwrap() + 1);
        let (ok, out) = verify_outside(&[forged], &public_key);
        assert!(!ok && out.contains("FAILED"), "{name}: {out}");
        let (ok, out) = verify_outside(&reports[..1], &"00".repeat(32));
        assert!(!ok, "{name}: another operator key must fail: {out}");

        // CSV and HTML carry the same figures.
        let (s, csv) = get_as(
            &api,
            &format!("{deal}/periods/5/report?format=csv"),
            &fund_a,
        )
        .await;
        assert_eq!(s, 200);
        assert!(csv.starts_with("section,name,field,value\n"), "{csv}");
        assert!(csv.contains("tranche,A,factor,"));
        let (s, html) = get_as(
            &api,
            &format!("{deal}/periods/5/report?format=html"),
            &fund_a,
        )
        .await;
        assert_eq!(s, 200);
        assert!(html.contains("<svg") && html.contains("Tranche balances"));
        let (s, v) = get_as(
            &api,
            &format!("{deal}/periods/5/report?format=pdf"),
            &fund_a,
        )
        .await;
        assert_eq!(s, 400, "{v}");

        // The investor key reads its deal's reports and nothing else.
        let (s, _) = get_as(&api, &format!("{deal}/periods/1/report"), &fund_b).await;
        assert_eq!(s, 404, "{name}: another investor's deal is absent");
        let (s, _) = get_as(&api, &deal, &fund_a).await;
        assert_eq!(s, 403, "{name}: the deal itself is the operator's");
        let (s, _) = get_as(&api, &format!("{deal}/periods"), &fund_a).await;
        assert_eq!(s, 403);
        let (s, _) = get_as(&api, "/v1/loans", &fund_a).await;
        assert_eq!(s, 403);
        let other = Uuid::now_v7();
        let body = json!({"deal": deal_file()});
        let (s, _) = api.post("/v1/abs/deals", body, Some(other)).await;
        assert_eq!(s, 201);
        let (s, _) = get_as(
            &api,
            &format!("/v1/abs/deals/{other}/periods/1/report"),
            &fund_a,
        )
        .await;
        assert_eq!(s, 404, "{name}: a deal not naming the investor");
        let (s, v) = api.get(&format!("{deal}/periods/13/report")).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (404, Some("not_found")),
            "{name}: not run yet"
        );
        let (s, v) = api.get(&format!("{deal}/periods/100/report")).await;
        assert_eq!((s, v["field"].as_str()), (422, Some("n")), "{name}: {v}");

        // What `puhui ledger verify` runs.
        let report = engine::verify(&ts.store, |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
        running.stop().await;
    }
}
