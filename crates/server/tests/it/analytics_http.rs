//! Portfolio analytics over HTTP and the CLI, on SQLite and PostgreSQL: a small book closed
//! through two month ends, the routes' answers equal the store's aggregates as wire types,
//! bad parameters are 422 problems naming the field, and the CSV export holds the month's
//! snapshot rows.

use crate::common;

use common::start_in_process;
use engine::cob::{self, CobConfig};
use engine::loans::{self, Application};
use serde_json::Value;
use store::analytics::{AnalyticsFilter, Dimension, Month};

async fn book(e: &engine::Engine, n: u64) {
    let product = lending::LoanProduct::example_cny();
    let start: money::BusinessDate = "2026-01-20".parse().unwrap();
    for i in 0..n {
        let amount = money::Money::from_minor(100_000 + i as i64 * 1_000, money::Currency::Cny);
        let config =
            lending::loan::LoanConfig::from_product(&product, amount, 1 + (i % 6) as u32, 90)
                .unwrap();
        let app = Application {
            id: uuid::Uuid::from_u128(0xa11 << 64 | u128::from(i)),
            tenant: "default".into(),
            borrower: format!("b{i}"),
            product_id: uuid::Uuid::from_u128(0xbeef),
            product_version: 1,
            config,
            decision_id: None,
        };
        loans::originate(
            e,
            app,
            None,
            start,
            uuid::Uuid::from_u128(0xcafe << 64 | u128::from(i)),
        )
        .await
        .unwrap();
    }
}

fn wire<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap()
}

#[tokio::test]
async fn routes_cli_and_export_show_the_snapshots() {
    for ts in testkit::all_stores().await {
        let (api, running) = start_in_process(&ts, "2026-01-20").await;
        let e = running.engine.clone();
        book(&e, 24).await;
        // Through 2026-03-01: the January and February month ends.
        while loans::business_date(&e).await.unwrap().unwrap() < "2026-03-01".parse().unwrap() {
            cob::close_business_day(&e, CobConfig::default(), &|_| {})
                .await
                .unwrap();
        }
        let s = e.store();
        let months = s.snapshot_months().await.unwrap();
        assert_eq!(
            months,
            vec![Month::of(2026, 1), Month::of(2026, 2)],
            "{}",
            api.name
        );

        let f = AnalyticsFilter {
            tenant: Some("default".into()),
            ..AnalyticsFilter::default()
        };
        // The operator key is of tenant `default`.
        let (st, v) = api.get("/v1/analytics/vintage").await;
        assert_eq!(st, 200, "{v}");
        let want = api::VintageResponse::of(&s.vintage(f.clone()).await.unwrap());
        assert_eq!(v, wire(&want));
        assert!(!want.items.is_empty());
        assert_eq!(want.items[0].loans, 24);

        let (st, v) = api
            .get("/v1/analytics/roll-rates?from=2026-02&to=2026-02")
            .await;
        assert_eq!(st, 200, "{v}");
        let rolls = s.roll_rates(f.clone()).await.unwrap();
        assert_eq!(v, wire(&api::RollRatesResponse::of(&rolls)));
        let moved: i64 = rolls.iter().map(|c| c.loans).sum();
        assert!(moved > 0 && moved <= 24);

        let (st, v) = api.get("/v1/analytics/delinquency?currency=CNY").await;
        assert_eq!(st, 200, "{v}");
        let d = s.delinquency(f.clone()).await.unwrap();
        assert_eq!(v, wire(&api::DelinquencyResponse::of(&d)));

        let (st, v) = api.get("/v1/analytics/approvals").await;
        assert_eq!(st, 200, "{v}");
        assert!(v["items"].is_array());

        let (st, v) = api
            .get("/v1/analytics/concentration?dimension=product&month=2026-01")
            .await;
        assert_eq!(st, 200, "{v}");
        let rows = s
            .concentration(f.clone(), Month::of(2026, 1), Dimension::Product)
            .await
            .unwrap();
        assert_eq!(
            v,
            wire(&api::ConcentrationResponse::of(
                Month::of(2026, 1),
                Dimension::Product,
                &rows
            ))
        );
        assert_eq!(v["hhi"][0]["hhi"], 10_000, "one product");
        assert_eq!(
            v["items"][0]["key"],
            uuid::Uuid::from_u128(0xbeef).to_string()
        );

        for (query, field) in [
            ("/v1/analytics/vintage?from=2026-03&to=2026-01", "to"),
            ("/v1/analytics/vintage?from=0000-01", "from"),
            ("/v1/analytics/roll-rates?currency=ZZZ", "currency"),
            ("/v1/analytics/delinquency?product=not-a-uuid", "product"),
            ("/v1/analytics/concentration?dimension=planet", "dimension"),
            (
                "/v1/analytics/concentration?dimension=region&month=2026-13",
                "month",
            ),
            ("/v1/analytics/approvals?base=26-01", "base"),
        ] {
            let (st, v) = api.get(query).await;
            assert_eq!(st, 422, "{query}: {v}");
            assert_eq!(v["field"], field, "{query}: {v}");
        }
        let (st, _) = api.get("/v1/analytics/vintage?colour=red").await;
        assert_eq!(st, 400);

        // The CLI reads the same figures, and exports the month's rows.
        let flag = if api.name == "sqlite" {
            "--data-dir"
        } else {
            "--database-url"
        };
        let out = common::puhui_ok(&[
            "analytics",
            "vintage",
            flag,
            &ts.location,
            "--tenant",
            "default",
            "--format",
            "csv",
        ]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), want.items.len() + 1, "{text}");
        assert!(text.starts_with("orig_month,months_on_book,"));

        let rows = s
            .snapshot_rows(Month::of(2026, 2), None, 1_000)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let export = |format: &str, path: &std::path::Path| {
            common::puhui_ok(&[
                "analytics",
                "export",
                flag,
                &ts.location,
                "--month",
                "2026-02",
                "--format",
                format,
                "--out",
                path.to_str().unwrap(),
            ]);
        };
        let path = dir.path().join("feb.csv");
        export("csv", &path);
        let principal: i64 = rows.iter().map(|r| r.principal_minor).sum();
        let mut r = csv::Reader::from_path(&path).unwrap();
        let got: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
        assert_eq!(got.len(), rows.len());
        let sum: i64 = got.iter().map(|r| r[10].parse::<i64>().unwrap()).sum();
        assert_eq!(sum, principal);
        assert_eq!(&got[0][1], rows[0].loan_id.to_string());

        // The same month as Parquet holds the same rows, field for field.
        let pq = dir.path().join("feb.parquet");
        export("parquet", &pq);
        let parquet_rows = common::parquet_rows(std::fs::File::open(&pq).unwrap());
        let csv_rows: Vec<Vec<String>> = got
            .iter()
            .map(|r| r.iter().map(str::to_string).collect())
            .collect();
        assert_eq!(parquet_rows, csv_rows, "{}", ts.name);
        running.stop().await;
    }
}
