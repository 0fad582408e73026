//! Stored deals over HTTP on SQLite and PostgreSQL: create (id from the Idempotency-Key),
//! pool the live book, the true sale, a period run, retries and refusals, the pool tape,
//! and the ledger verified afterwards.

use crate::common;

use common::start_in_process;
use engine::loans::{self, Action, Application};
use serde_json::{json, Value};
use uuid::Uuid;

fn deal_file() -> Value {
    let path = format!(
        "{}/../../examples/deals/static-senior-equity.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut deal: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    deal["dates"]["cutoff"] = json!("2026-01-15");
    deal["dates"]["closing"] = json!("2026-01-15");
    deal["dates"]["first_payment"] = json!("2026-02-15");
    deal
}

async fn disburse(e: &engine::Engine, borrower: &str, amount_minor: i64) -> Uuid {
    let id = Uuid::now_v7();
    let principal = money::Money::from_minor(amount_minor, money::Currency::Cny);
    let product = lending::LoanProduct::example_cny();
    let config = lending::loan::LoanConfig::from_product(&product, principal, 12, 90).unwrap();
    let app = Application {
        id,
        tenant: "default".into(),
        borrower: borrower.into(),
        product_id: Uuid::nil(),
        product_version: 1,
        config,
        decision_id: None,
    };
    loans::apply_for_loan(e, app).await.unwrap();
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
async fn a_deal_is_stored_pooled_sold_and_run_over_http() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let (api, running) = start_in_process(&ts, "2026-01-15").await;
        let e = running.engine.clone();
        let mut book = Vec::new();
        for i in 0..4 {
            book.push(disburse(&e, &format!("b{i}"), 1_000_000 + i * 100_000).await);
        }

        // Bad input: a deal problem names its field under `deal`; nothing is stored.
        let mut bad = deal_file();
        bad["bonds"][1]["balance_minor"] = json!(1);
        let key = Uuid::now_v7();
        let (s, v) = api
            .post("/v1/abs/deals", json!({"deal": bad}), Some(key))
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("deal.bonds")),
            "{name}: {v}"
        );
        let (s, _) = api.get(&format!("/v1/abs/deals/{key}")).await;
        assert_eq!(s, 404);
        let (s, _) = api
            .post("/v1/abs/deals", json!({"deal": deal_file()}), None)
            .await;
        assert_eq!(s, 400, "{name}: Idempotency-Key required");

        // Created under the key; the same again is 200, another file under it 409.
        let body = json!({"deal": deal_file()});
        let (s, created) = api.post("/v1/abs/deals", body.clone(), Some(key)).await;
        assert_eq!(
            (s, created["status"].as_str()),
            (201, Some("draft")),
            "{name}: {created}"
        );
        assert_eq!(created["id"], key.to_string());
        let (s, again) = api.post("/v1/abs/deals", body.clone(), Some(key)).await;
        assert_eq!((s, &again), (200, &created));
        let mut other = deal_file();
        other["name"] = json!("another");
        let (s, v) = api
            .post("/v1/abs/deals", json!({"deal": other}), Some(key))
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("id_reused")),
            "{name}: {v}"
        );
        let (s, list) = api.get("/v1/abs/deals?limit=1").await;
        assert_eq!((s, list["items"].as_array().unwrap().len()), (200, 1));

        // The pool: a forced loan that breaks a rule names the rule; then the whole book.
        let deal = format!("/v1/abs/deals/{key}");
        let forced = json!({"loan_ids": [book[0]], "seasoning_days_min": 10});
        let (s, v) = api.post(&format!("{deal}/pool"), forced, None).await;
        assert_eq!(
            (s, v["field"].as_str(), v["code"].as_str()),
            (
                422,
                Some("criteria.seasoning_days_min"),
                Some("ineligible_loan")
            ),
            "{name}: {v}"
        );
        let (s, v) = api
            .post(
                &format!("{deal}/pool"),
                json!({"borrower_sharemax": "1"}),
                None,
            )
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (400, Some("borrower_sharemax")),
            "{name}: {v}"
        );
        let (s, pool) = api.post(&format!("{deal}/pool"), json!({}), None).await;
        assert_eq!(s, 201, "{name}: {pool}");
        assert_eq!(pool["total_minor"], 4_600_000);
        let (s, tape) = api.get(&format!("{deal}/pool/tape")).await;
        assert_eq!(s, 200);
        let tape = tape.as_str().unwrap().to_string();
        assert_eq!(tape.lines().count(), 1 + 4, "{name}: {tape}");
        assert!(tape.contains(&book[3].to_string()));
        // The same tape as Parquet: the same rows, typed.
        let r = api
            .http
            .get(format!("{}{deal}/pool/tape?format=parquet", api.base))
            .bearer_auth(common::KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-type"],
            "application/vnd.apache.parquet"
        );
        let parquet = common::parquet_rows(r.bytes().await.unwrap());
        let csv: Vec<Vec<String>> = tape
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect();
        assert_eq!(parquet, csv, "{name}");
        let (s, v) = api.get(&format!("{deal}/pool/tape?format=xls")).await;
        assert_eq!(
            (s, v["field"].as_str()),
            (400, Some("format")),
            "{name}: {v}"
        );

        // A second deal cannot take a loan of the first.
        let second = Uuid::now_v7();
        api.post("/v1/abs/deals", body.clone(), Some(second)).await;
        let forced = json!({"loan_ids": [book[2]]});
        let (s, v) = api
            .post(&format!("/v1/abs/deals/{second}/pool"), forced, None)
            .await;
        assert_eq!(
            (s, v["code"].as_str(), v["field"].as_str()),
            (
                422,
                Some("loan_in_another_pool"),
                Some("criteria.loan_ids[0]")
            ),
            "{name}: {v}"
        );
        assert!(v["detail"].as_str().unwrap().contains(&book[2].to_string()));

        // The true sale, once.
        let close = Uuid::now_v7();
        let (s, v) = api
            .post(
                &format!("{deal}/close"),
                json!({"price": "1.5x"}),
                Some(close),
            )
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("price")),
            "{name}: {v}"
        );
        let (s, closed) = api
            .post(
                &format!("{deal}/close"),
                json!({"price": "0.98"}),
                Some(close),
            )
            .await;
        assert_eq!(
            (s, closed["status"].as_str()),
            (201, Some("closed")),
            "{name}: {closed}"
        );
        assert_eq!(closed["closing"]["price_minor"], 4_508_000);
        let (s, again) = api
            .post(
                &format!("{deal}/close"),
                json!({"price": "0.98"}),
                Some(close),
            )
            .await;
        assert_eq!((s, &again), (200, &closed));
        let (s, v) = api
            .post(
                &format!("{deal}/close"),
                json!({"price": "0.97"}),
                Some(close),
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (409, Some("key_reused")));
        let (s, v) = api
            .post(&format!("{deal}/close"), json!({}), Some(Uuid::now_v7()))
            .await;
        assert_eq!((s, v["code"].as_str()), (409, Some("already_closed")));
        let entry = closed["closing"]["entry_id"].as_str().unwrap();
        let (s, _) = api.get(&format!("/v1/ledger/entries/{entry}")).await;
        assert_eq!(s, 200, "{name}: the sale is in the ledger");

        // A month on, the loans pay; period 1 runs once.
        for _ in 0..31 {
            loans::business_date(&e).await.unwrap();
            engine::cob::close_business_day(&e, engine::cob::CobConfig::default(), &|_| {})
                .await
                .unwrap();
        }
        let today = loans::business_date(&e).await.unwrap().unwrap();
        for &id in &book {
            let amount = money::Money::from_minor(100_000, money::Currency::Cny);
            loans::execute(&e, id, Action::Repay { amount }, today, Uuid::now_v7())
                .await
                .unwrap();
        }
        let run = Uuid::now_v7();
        let (s, v) = api
            .post(&format!("{deal}/periods/0/run"), json!({}), Some(run))
            .await;
        assert_eq!((s, v["field"].as_str()), (400, Some("n")), "{name}: {v}");
        // A clean-up call the deal does not have is refused by field; nothing is run.
        let (s, v) = api
            .post(
                &format!("{deal}/periods/1/run"),
                json!({"exercise_call": true}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (422, Some("exercise_call")),
            "{name}: {v}"
        );
        let (s, period) = api
            .post(&format!("{deal}/periods/1/run"), json!({}), Some(run))
            .await;
        assert_eq!(s, 201, "{name}: {period}");
        assert_eq!(period["call_proceeds_minor"], 0);
        assert_eq!(period["payment_date"], "2026-02-15");
        assert!(period["principal_collected_minor"].as_i64().unwrap() > 0);
        assert!(period["interest_collected_minor"].as_i64().unwrap() > 0);
        let (s, again) = api
            .post(&format!("{deal}/periods/1/run"), json!({}), Some(run))
            .await;
        assert_eq!((s, &again), (200, &period));
        let (s, v) = api
            .post(
                &format!("{deal}/periods/1/run"),
                json!({}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("period_already_run")),
            "{name}: {v}"
        );
        let (s, v) = api
            .post(
                &format!("{deal}/periods/2/run"),
                json!({}),
                Some(Uuid::now_v7()),
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("period_not_due")),
            "{name}: {v}"
        );
        let (s, periods) = api.get(&format!("{deal}/periods")).await;
        assert_eq!((s, &periods["items"][0]), (200, &period));

        // The console shows the deal in the list, and its tranches after the period.
        let page = |path: String| {
            api.http
                .get(format!("{}{path}", api.base))
                .header("cookie", format!("puhui_console_key={}", common::KEY))
                .send()
        };
        let r = page("/console/abs".into()).await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r
            .text()
            .await
            .unwrap()
            .contains(&format!("/console/abs/{key}")));
        let r = page(format!("/console/abs/{key}")).await.unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let html = r.text().await.unwrap();
        let balance = period["bond_balances_minor"][0].as_i64().unwrap();
        let shown = common::cny(balance);
        assert!(html.contains(&shown), "{name}: tranche A at {shown}");
        let points = html.matches("class=\"datum\"").count();
        assert_eq!(points, 3, "{name}: a point for each tranche and the pool");
        let r = page(format!("/console/abs/{}", Uuid::now_v7()))
            .await
            .unwrap();
        assert_eq!(r.status(), 404);

        // What `puhui ledger verify` runs.
        let report = engine::verify(&ts.store, |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
        running.stop().await;
    }
}
