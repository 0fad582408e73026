//! Term-loan routes through a real server on port 0, on SQLite and PostgreSQL: bad input is
//! refused naming the field and changes nothing; money-moving POSTs are idempotent.

use crate::common;

use common::start_in_process;
use serde_json::{json, Value};
use uuid::Uuid;

pub(crate) fn product(rate: &str) -> Value {
    json!({
        "name": "jiebei-like",
        "currency": "CNY",
        "amount_minor_min": 10_000,
        "amount_minor_max": 20_000_000,
        "term_months_min": 1,
        "term_months_max": 12,
        "repayment_method": "annuity",
        "contract_rate": rate,
        "rate_cap": "24%/year",
        "grace_days": 3,
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

pub(crate) fn field(v: &Value) -> &str {
    v["field"].as_str().unwrap_or("")
}

#[tokio::test]
async fn loan_routes_refuse_bad_input_and_move_money_once() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let (api, running) = start_in_process(&ts, "2026-01-15").await;

        // Schedule preview.
        let (s, v) = api
            .post("/v1/loan-schedules/preview", json!({"amount_minor": 1_000_000, "currency": "CNY", "rate": "1.5%/month", "term_months": 12, "method": "annuity", "start": "2026-01-15"}), None)
            .await;
        assert_eq!(s, 200, "{name}: {v}");
        assert_eq!(v["installments"].as_array().unwrap().len(), 12);
        let (s, v) = api
            .post("/v1/loan-schedules/preview", json!({"amount_minor": 1_000_000, "currency": "CNY", "rate": "-1%/month", "term_months": 12, "method": "annuity", "start": "2026-01-15"}), None)
            .await;
        assert_eq!((s, field(&v)), (422, "rate"), "{name}: {v}");

        // Products: rates at or below zero or above the cap are refused; versions stack.
        for bad in ["0%/day", "30%/year"] {
            let (s, v) = api.post("/v1/loan-products", product(bad), None).await;
            assert_eq!((s, field(&v)), (422, "contract_rate"), "{name} {bad}: {v}");
        }
        let (s, v) = api
            .post("/v1/loan-products", product("0.05%/day"), None)
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let pid = v["id"].as_str().unwrap().to_string();
        let mut second = product("0.04%/day");
        second["id"] = json!(pid);
        let (s, v) = api.post("/v1/loan-products", second, None).await;
        assert_eq!((s, v["version"].as_u64()), (201, Some(2)), "{name}: {v}");
        let (s, v) = api.get(&format!("/v1/loan-products/{pid}?version=1")).await;
        assert_eq!(
            (s, v["product"]["contract_rate"].as_str()),
            (200, Some("0.05%/day")),
            "{name}"
        );

        // Applications: terms outside the product are refused by field.
        let apply = |amount: i64, term: u32| json!({"product_id": pid, "product_version": 1, "borrower": "alice", "amount_minor": amount, "term_months": term});
        let (s, v) = api.post("/v1/loans", apply(1_000_000, 24), None).await;
        assert_eq!((s, field(&v)), (422, "term_months"), "{name}: {v}");
        let (s, v) = api.post("/v1/loans", apply(900_000_000, 6), None).await;
        assert_eq!((s, field(&v)), (422, "amount_minor"), "{name}: {v}");
        let (s, v) = api.post("/v1/loans", apply(1_000_000, 6), None).await;
        assert_eq!(
            (s, v["stage"].as_str()),
            (201, Some("applied")),
            "{name}: {v}"
        );
        let id = v["id"].as_str().unwrap().to_string();

        let k1 = Uuid::now_v7();
        let (s, _) = api
            .post(&format!("/v1/loans/{id}/disburse"), json!({}), Some(k1))
            .await;
        assert_eq!(s, 409, "{name}: not approved yet");
        let (s, _) = api
            .post(&format!("/v1/loans/{id}/approve"), json!({}), None)
            .await;
        assert_eq!(s, 200);
        let (s, _) = api
            .post(&format!("/v1/loans/{id}/disburse"), json!({}), None)
            .await;
        assert_eq!(s, 400, "{name}: Idempotency-Key required");
        let (s, v) = api
            .post(&format!("/v1/loans/{id}/disburse"), json!({}), Some(k1))
            .await;
        assert_eq!(
            (s, v["stage"].as_str()),
            (201, Some("active")),
            "{name}: {v}"
        );
        let (s, _) = api
            .post(&format!("/v1/loans/{id}/disburse"), json!({}), Some(k1))
            .await;
        assert_eq!(s, 200, "{name}: a retry is answered, not repeated");
        let (s, _) = api
            .post(
                &format!("/v1/loans/{id}/disburse"),
                json!({}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 409, "{name}: disbursing twice");

        // Entrusted payment: above the threshold a payee is required.
        let (_, v) = api.post("/v1/loans", apply(6_000_000, 6), None).await;
        let big = v["id"].as_str().unwrap().to_string();
        api.post(&format!("/v1/loans/{big}/approve"), json!({}), None)
            .await;
        let (s, v) = api
            .post(
                &format!("/v1/loans/{big}/disburse"),
                json!({}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!((s, field(&v)), (422, "payee"), "{name}: {v}");
        let (s, _) = api
            .post(
                &format!("/v1/loans/{big}/disburse"),
                json!({"payee": "merchant-42"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201);

        // Repayments only on the open business day; a refused one changes nothing.
        let (_, before) = api.get(&format!("/v1/loans/{id}")).await;
        let repay = |date: &str, amount: i64| json!({"amount_minor": amount, "currency": "CNY", "date": date});
        let (s, v) = api
            .post(
                &format!("/v1/loans/{id}/repayments"),
                repay("2026-01-16", 50_000),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!((s, field(&v)), (422, "date"), "{name}: {v}");
        let (s, v) = api
            .post(
                &format!("/v1/loans/{id}/repayments"),
                repay("2026-01-15", -5),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!((s, field(&v)), (422, "amount_minor"), "{name}: {v}");
        let (_, after) = api.get(&format!("/v1/loans/{id}")).await;
        assert_eq!(before, after, "{name}");
        let (s, v) = api
            .post(
                &format!("/v1/loans/{id}/repayments"),
                repay("2026-01-15", 50_000),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        assert_eq!(
            v["loan"]["overpayment_credit_minor"].as_i64(),
            Some(50_000),
            "nothing is due yet"
        );
        let rid = v["repayment_id"].as_i64().unwrap();
        let (s, v) = api
            .post(
                &format!("/v1/loans/{id}/repayments/{rid}/reversal"),
                json!({}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(
            (s, v["overpayment_credit_minor"].as_i64()),
            (201, Some(0)),
            "{name}: {v}"
        );

        // Payoff, then a closed loan takes no more money.
        let (s, q) = api.get(&format!("/v1/loans/{id}/prepayment-quote")).await;
        assert_eq!(s, 200);
        let payoff = q["payoff_minor"].as_i64().unwrap();
        let (s, v) = api
            .post(
                &format!("/v1/loans/{id}/prepay"),
                json!({"amount_minor": payoff, "currency": "CNY", "date": "2026-01-15"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(
            (s, v["loan"]["stage"].as_str()),
            (201, Some("paid_off")),
            "{name}: {v}"
        );
        assert!(v["repayment_id"].is_i64(), "{name}: like a repayment: {v}");
        let (s, _) = api
            .post(
                &format!("/v1/loans/{id}/repayments"),
                repay("2026-01-15", 100),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 409, "{name}: repaying a closed loan");
        let (s, v) = api.get(&format!("/v1/loans/{id}?as_of=2026-01-14")).await;
        assert_eq!((s, field(&v)), (422, "as_of"), "{name}: {v}");
        let (s, v) = api.get(&format!("/v1/loans/{id}?as_of=2026-01-15")).await;
        assert_eq!(s, 200, "{name}: {v}");

        let (s, doc) = api.get("/openapi.json").await;
        assert_eq!(s, 200);
        assert!(doc["paths"]["/v1/loans/{id}/repayments/{rid}/reversal"].is_object());
        running.stop().await;
    }
}

/// A view `as_of` a date shows that date's state (a credit paid later is not in it); the
/// quote counts the credit, and what is left after payoff is refunded once.
#[tokio::test]
async fn as_of_views_quotes_and_refunds_follow_the_credit() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let (api, running) = start_in_process(&ts, "2026-01-15").await;
        let engine = running.engine.clone();
        let mut bad = product("0.05%/day");
        bad["overpayment_credit"] = json!("spend_it");
        let (s, v) = api.post("/v1/loan-products", bad, None).await;
        assert_eq!((s, field(&v)), (422, "overpayment_credit"), "{name}: {v}");
        let (_, v) = api
            .post("/v1/loan-products", product("0.05%/day"), None)
            .await;
        let pid = v["id"].as_str().unwrap().to_string();
        let (_, v) = api
            .post(
                "/v1/loans",
                json!({"product_id": pid, "borrower": "bob", "amount_minor": 1_000_000, "term_months": 6}),
                None,
            )
            .await;
        let id = v["id"].as_str().unwrap().to_string();
        api.post(&format!("/v1/loans/{id}/approve"), json!({}), None)
            .await;
        let (s, _) = api
            .post(
                &format!("/v1/loans/{id}/disburse"),
                json!({}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{name}");
        let (_, on_15th) = api.get(&format!("/v1/loans/{id}")).await;
        engine::cob::close_business_day(&engine, engine::cob::CobConfig::default(), &|_| {})
            .await
            .unwrap();
        let (_, q) = api.get(&format!("/v1/loans/{id}/prepayment-quote")).await;
        let quote_before = q["payoff_minor"].as_i64().unwrap();
        let (s, v) = api
            .post(
                &format!("/v1/loans/{id}/repayments"),
                json!({"amount_minor": 1_000, "currency": "CNY", "date": "2026-01-16"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(
            (s, v["loan"]["overpayment_credit_minor"].as_i64()),
            (201, Some(1_000)),
            "{name}: {v}"
        );
        let (s, then) = api.get(&format!("/v1/loans/{id}?as_of=2026-01-15")).await;
        assert_eq!(s, 200, "{name}");
        assert_eq!(then, on_15th, "{name}: the 15th as it was");
        let (_, q) = api.get(&format!("/v1/loans/{id}/prepayment-quote")).await;
        let quote = q["payoff_minor"].as_i64().unwrap();
        assert_eq!(
            quote,
            quote_before - 1_000,
            "{name}: the quote counts the credit"
        );

        let (s, v) = api
            .post(
                &format!("/v1/loans/{id}/prepay"),
                json!({"amount_minor": quote + 300, "currency": "CNY", "date": "2026-01-16"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(
            (
                s,
                v["loan"]["stage"].as_str(),
                v["loan"]["overpayment_credit_minor"].as_i64()
            ),
            (201, Some("paid_off"), Some(300)),
            "{name}: {v}"
        );
        let refund = |amount: i64| json!({"amount_minor": amount, "currency": "CNY"});
        let (s, v) = api
            .post(
                &format!("/v1/loans/{id}/refunds"),
                refund(301),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!((s, field(&v)), (422, "amount_minor"), "{name}: {v}");
        let rkey = Uuid::now_v7();
        let (s, v) = api
            .post(&format!("/v1/loans/{id}/refunds"), refund(300), Some(rkey))
            .await;
        assert_eq!(
            (
                s,
                v["loan"]["overpayment_credit_minor"].as_i64(),
                v["id"].as_str()
            ),
            (201, Some(0), Some(rkey.to_string().as_str())),
            "{name}: {v}"
        );
        let (s, again) = api
            .post(&format!("/v1/loans/{id}/refunds"), refund(300), Some(rkey))
            .await;
        assert_eq!((s, &again), (200, &v), "{name}");
        let (s, v) = api
            .post(&format!("/v1/loans/{id}/refunds"), refund(200), Some(rkey))
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("idempotency_key_reused")),
            "{name}: {v}"
        );
        running.stop().await;
    }
}

/// `POST /v1/loans/{id}/recoveries`: refused on a live loan, above the written-off claim and
/// in another currency; booked once per key on a written-off loan, which keeps its stage,
/// shows the claim left and emits `loan.recovered`.
#[tokio::test]
async fn recoveries_book_cash_on_written_off_loans_once() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let (api, running) = start_in_process(&ts, "2026-01-15").await;
        let engine = running.engine.clone();
        let mut quick = product("0.05%/day");
        quick["write_off_dpd"] = json!(10);
        let (_, v) = api.post("/v1/loan-products", quick, None).await;
        let pid = v["id"].as_str().unwrap().to_string();
        let (_, v) = api
            .post(
                "/v1/loans",
                json!({"product_id": pid, "borrower": "carol", "amount_minor": 1_000_000, "term_months": 1}),
                None,
            )
            .await;
        let id = v["id"].as_str().unwrap().to_string();
        api.post(&format!("/v1/loans/{id}/approve"), json!({}), None)
            .await;
        api.post(
            &format!("/v1/loans/{id}/disburse"),
            json!({}),
            Some(Uuid::now_v7()),
        )
        .await;
        let recovery =
            |amount: i64, currency: &str| json!({"amount_minor": amount, "currency": currency});
        let path = format!("/v1/loans/{id}/recoveries");
        let (s, v) = api
            .post(&path, recovery(1_000, "CNY"), Some(Uuid::now_v7()))
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("loan_stage")),
            "{name}: {v}"
        );
        // Due on 2026-02-15, never paid: written off at 10 days past due.
        for _ in 0..42 {
            engine::cob::close_business_day(&engine, engine::cob::CobConfig::default(), &|_| {})
                .await
                .unwrap();
        }
        let (_, before) = api.get(&format!("/v1/loans/{id}")).await;
        assert_eq!(
            before["stage"].as_str(),
            Some("written_off"),
            "{name}: {before}"
        );
        let claim = before["written_off_claim_minor"].as_i64().unwrap();
        assert!(claim > 1_000_000, "{name}: principal and interest: {claim}");
        for (body, field_name) in [
            (recovery(claim + 1, "CNY"), "amount_minor"),
            (recovery(1_000, "USD"), "currency"),
            (recovery(0, "CNY"), "amount_minor"),
        ] {
            let (s, v) = api.post(&path, body.clone(), Some(Uuid::now_v7())).await;
            assert_eq!((s, field(&v)), (422, field_name), "{name} {body}: {v}");
        }
        let (_, v) = api
            .post(&path, recovery(claim + 1, "CNY"), Some(Uuid::now_v7()))
            .await;
        assert_eq!(
            v["code"].as_str(),
            Some("recovery_above_claim"),
            "{name}: {v}"
        );
        let (_, unchanged) = api.get(&format!("/v1/loans/{id}")).await;
        assert_eq!(unchanged, before, "{name}: refusals change nothing");
        let key = Uuid::now_v7();
        let (s, v) = api.post(&path, recovery(300_000, "CNY"), Some(key)).await;
        assert_eq!(s, 201, "{name}: {v}");
        assert_eq!(v["id"].as_str(), Some(key.to_string().as_str()));
        assert_eq!(v["loan"]["stage"].as_str(), Some("written_off"));
        assert_eq!(
            v["loan"]["written_off_claim_minor"].as_i64(),
            Some(claim - 300_000),
            "{name}"
        );
        let (s, again) = api.post(&path, recovery(300_000, "CNY"), Some(key)).await;
        assert_eq!((s, &again), (200, &v), "{name}");
        let (s, other) = api.post(&path, recovery(200_000, "CNY"), Some(key)).await;
        assert_eq!(
            (s, other["code"].as_str()),
            (409, Some("idempotency_key_reused")),
            "{name}: {other}"
        );
        // The command line books through the same route: once per id.
        let cli_key = Uuid::now_v7().to_string();
        // Off the runtime's thread, which serves the command's requests meanwhile.
        let recover_cli = || {
            let mut cmd = common::puhui(&[
                "loan", "recover", &id, "--amount", "1000.00", "--id", &cli_key,
            ]);
            cmd.args(["--server", &api.base, "--api-key", common::KEY]);
            tokio::task::spawn_blocking(move || cmd.output().unwrap())
        };
        for again in [false, true] {
            let out = recover_cli().await.unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(out.status.success(), "{name}: {text} {err}");
            assert!(
                text.contains("recovery") && text.contains("1000.00"),
                "{text}"
            );
            assert_eq!(text.contains("already booked"), again, "{name}: {text}");
        }
        let (_, after_cli) = api.get(&format!("/v1/loans/{id}")).await;
        assert_eq!(
            after_cli["written_off_claim_minor"].as_i64(),
            Some(claim - 300_000 - 100_000),
            "{name}: the command line's recovery, once"
        );
        let (_, events) = api.get("/v1/events?types=loan.recovered").await;
        let events = events["items"].as_array().unwrap().clone();
        assert_eq!(events.len(), 2, "{name}: {events:?}");
        assert_eq!(events[0]["payload"]["amount_minor"].as_i64(), Some(300_000));
        let report = engine::verify(&ts.store, |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
        running.stop().await;
    }
}

/// `GET /v1/loans?dpd_bucket=` lists the loans whose `bucket` is that one: a loan left unpaid
/// past its first due date is in M1, one paid off is in M0, and an unknown bucket is refused.
#[tokio::test]
async fn loans_list_by_delinquency_bucket() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let (api, running) = start_in_process(&ts, "2026-01-15").await;
        let engine = running.engine.clone();
        let (_, v) = api
            .post("/v1/loan-products", product("0.05%/day"), None)
            .await;
        let pid = v["id"].as_str().unwrap().to_string();
        let mut ids = Vec::new();
        for borrower in ["paid", "late"] {
            let (_, v) = api
                .post(
                    "/v1/loans",
                    json!({"product_id": pid, "borrower": borrower, "amount_minor": 1_000_000, "term_months": 6}),
                    None,
                )
                .await;
            let id = v["id"].as_str().unwrap().to_string();
            api.post(&format!("/v1/loans/{id}/approve"), json!({}), None)
                .await;
            let (s, _) = api
                .post(
                    &format!("/v1/loans/{id}/disburse"),
                    json!({}),
                    Some(Uuid::now_v7()),
                )
                .await;
            assert_eq!(s, 201, "{name}");
            ids.push(id);
        }
        let (_, q) = api
            .get(&format!("/v1/loans/{}/prepayment-quote", ids[0]))
            .await;
        let (s, v) = api
            .post(
                &format!("/v1/loans/{}/prepay", ids[0]),
                json!({"amount_minor": q["payoff_minor"], "currency": "CNY", "date": "2026-01-15"}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(s, 201, "{name}: {v}");
        let (_, late) = api.get(&format!("/v1/loans/{}", ids[1])).await;
        let due: String = late["installments"][0]["due_date"].as_str().unwrap().into();
        let (mut today, until) = (
            "2026-01-15".parse::<money::BusinessDate>().unwrap(),
            due.parse::<money::BusinessDate>().unwrap().succ().succ(),
        );
        while today < until {
            today = engine::cob::close_business_day(&engine, Default::default(), &|_| {})
                .await
                .unwrap()
                .0;
        }
        let listed = |bucket: &'static str| {
            let api = &api;
            async move {
                let (s, v) = api.get(&format!("/v1/loans?dpd_bucket={bucket}")).await;
                assert_eq!(s, 200, "{bucket}: {v}");
                v["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| {
                        assert_eq!(l["bucket"], bucket, "{l}");
                        l["id"].as_str().unwrap().to_string()
                    })
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(listed("M1").await, vec![ids[1].clone()], "{name}");
        assert_eq!(listed("M0").await, vec![ids[0].clone()], "{name}");
        assert!(listed("M2").await.is_empty(), "{name}");
        let (s, v) = api.get("/v1/loans?dpd_bucket=M9").await;
        assert_eq!((s, field(&v)), (400, "dpd_bucket"), "{name}: {v}");
        running.stop().await;
    }
}
