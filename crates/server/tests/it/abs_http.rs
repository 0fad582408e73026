//! `/v1/abs/…` over HTTP on each store, and `puhui abs …` on the example deal files.

use crate::common;

use common::*;
use serde_json::{json, Value};

fn example_path(name: &str) -> String {
    format!("{}/../../examples/deals/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn example(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(example_path(name)).unwrap()).unwrap()
}

async fn key(s: &TestServer, role: &str) -> String {
    let (st, v) = s
        .post(
            "/v1/api-keys",
            &json!({"role": role, "tenant": "default"}),
            None,
        )
        .await;
    assert_eq!(st, 201, "{}: {v}", s.name);
    v["key"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn deal_files_are_checked_projected_and_simulated_over_http() {
    for s in servers().await {
        let investor = key(&s, "investor").await;
        let partner = key(&s, "partner_bank").await;
        let deal = example("revolving-consumer.json");

        let (st, v) = s
            .post_raw("/v1/abs/deals/validate", deal.to_string(), None, &investor)
            .await;
        assert_eq!(st, 200, "{}: {v}", s.name);
        assert_eq!(v["valid"], true);
        assert_eq!(v["bonds"], json!(["A", "E"]));
        let (st, _) = s
            .post_raw("/v1/abs/deals/validate", deal.to_string(), None, &partner)
            .await;
        assert_eq!(st, 403, "{}: a partner bank may not", s.name);

        // Every problem at once; the first names its field.
        let mut bad = deal.clone();
        bad["dates"]["first_payment"] = json!("2025-06-01");
        bad["waterfalls"]["normal"][3]["account"] = json!("nowhere");
        bad["bonds"][1]["balance_minor"] = json!(1);
        let (st, v) = s.post("/v1/abs/deals/validate", &bad, None).await;
        assert_eq!(st, 422, "{}: {v}", s.name);
        assert_eq!(v["field"], "dates.first_payment");
        assert_eq!(v["code"], "out_of_order");
        let fields: Vec<&str> = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        for f in [
            "dates.first_payment",
            "waterfalls.normal[3].account",
            "bonds",
        ] {
            assert!(fields.contains(&f), "{}: {f} in {fields:?}", s.name);
        }
        // A shape error: 400 with the JSON path.
        let mut typo = deal.clone();
        typo["bonds"][0]["coupon"]["rte"] = json!("0.04");
        let (st, v) = s.post("/v1/abs/deals/validate", &typo, None).await;
        assert_eq!(st, 400, "{}: {v}", s.name);
        assert_eq!(v["field"], "bonds[0].coupon");

        // A projection of a loan pool under a scenario.
        let body = json!({
            "deal": deal,
            "pool": {"loans": [
                {"balance_minor": 60_000_000, "annual_rate": "0.18", "remaining_term_months": 12},
                {"balance_minor": 40_000_000, "annual_rate": "0.15", "remaining_term_months": 9, "age_months": 3},
            ]},
            "scenario": {"cpr": "0.2", "cdr": "0.05", "severity": "0.6", "recovery_lag_months": 3},
            "call_when_exercisable": true,
        });
        let (st, v) = s
            .post_raw("/v1/abs/projections", body.to_string(), None, &investor)
            .await;
        assert_eq!(st, 200, "{}: {v}", s.name);
        let periods = v["periods"].as_array().unwrap();
        assert!(periods.len() > 3, "{}: {}", s.name, periods.len());
        for p in periods {
            assert_eq!(p["sources_minor"], p["uses_minor"]);
        }
        assert_eq!(periods[0]["revolving"], true);
        assert_eq!(periods[2]["revolving"], false, "after the revolving end");
        assert!(
            v["tranches"][0]["wal_years"].is_string(),
            "{}",
            v["tranches"][0]
        );
        let mut over = body.clone();
        over["scenario"]["cpr"] = json!("1.2");
        let (st, v) = s.post("/v1/abs/projections", &over, None).await;
        assert_eq!(
            (st, v["field"].as_str()),
            (422, Some("scenario.cpr")),
            "{v}"
        );
        assert_eq!(v["code"], "out_of_range");

        // Monte Carlo: deterministic for a seed, bounded in size.
        let loans: Vec<Value> = (0..200)
            .map(|i| json!({"default_probability": format!("0.0{}", 1 + i % 5), "loss_given_default_minor": 50_000}))
            .collect();
        let mc = json!({"currency": "CNY", "loans": loans, "correlation": "0.2", "scenarios": 500,
            "seed": 7, "tranches": [
                {"name": "E", "attach_minor": 0, "detach_minor": 300_000},
                {"name": "A", "attach_minor": 300_000, "detach_minor": 10_000_000}]});
        let (st, a) = s
            .post_raw("/v1/abs/monte-carlo", mc.to_string(), None, &investor)
            .await;
        assert_eq!(st, 200, "{}: {a}", s.name);
        let (_, b) = s.post("/v1/abs/monte-carlo", &mc, None).await;
        assert_eq!(a, b, "{}: the same seed, the same answer", s.name);
        let e_loss: f64 = a["tranches"][0]["probability_of_loss"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let a_loss: f64 = a["tranches"][1]["probability_of_loss"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            e_loss >= a_loss,
            "{}: the junior tranche loses first",
            s.name
        );
        let mut big = mc.clone();
        big["scenarios"] = json!(10_000);
        big["loans"] = json!(vec![
            json!({"default_probability": "0.01", "loss_given_default_minor": 1});
            2_001
        ]);
        let (st, v) = s.post("/v1/abs/monte-carlo", &big, None).await;
        assert_eq!((st, v["code"].as_str()), (422, Some("too_large")), "{v}");
    }
}

#[test]
fn the_command_line_validates_runs_and_reports_deal_files() {
    let deal = example_path("target-balance-trigger.json");
    let out = puhui(&["abs", "validate", &deal]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let mut bad = example("target-balance-trigger.json");
    bad["waterfalls"]["normal"][2]["bonds"] = json!(["E"]);
    let bad_path = dir.path().join("bad.json");
    std::fs::write(&bad_path, bad.to_string()).unwrap();
    let out = puhui(&["abs", "validate", bad_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("waterfalls.normal[2].bonds[0]") && err.contains("not_target_balance"),
        "{err}"
    );

    let table = example_path("target-balance-trigger.collections.csv");
    let out = puhui(&["abs", "run", &deal, "--collections", &table, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["periods"][2]["waterfall"], "accelerated");

    // A projected collection table written by `project` runs to the same report.
    let seniors = example_path("three-sequential-seniors.json");
    let tape = example_path("three-sequential-seniors.tape.csv");
    let projected = dir.path().join("projected.csv");
    let args = [
        "abs",
        "project",
        &seniors,
        "--tape",
        &tape,
        "--cpr",
        "0.1",
        "--cdr",
        "0.02",
        "--severity",
        "0.5",
        "--lag",
        "2",
        "--fixing",
        "LPR1Y=0.031",
        "--json",
    ];
    let mut with_out: Vec<&str> = args.to_vec();
    with_out.extend(["--collections-out", projected.to_str().unwrap()]);
    let out = puhui(&with_out).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = puhui(&[
        "abs",
        "run",
        &seniors,
        "--collections",
        projected.to_str().unwrap(),
        "--fixing",
        "LPR1Y=0.031",
        "--json",
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["periods"], b["periods"]);
    assert_eq!(a["tranches"], b["tranches"]);

    for (format, probe) in [
        ("html", "<svg"),
        ("csv", "bond:A:balance_minor"),
        ("json", "\"tranches\""),
    ] {
        let file = dir.path().join(format!("report.{format}"));
        let out = puhui(&[
            "abs",
            "report",
            &deal,
            "--collections",
            &table,
            "--format",
            format,
            "--out",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(probe), "{format}: {text}");
        if format == "html" {
            assert!(!text.contains("<script"), "no script in the report");
            assert_eq!(text.matches("<svg").count(), 2, "tranche and pool charts");
        }
    }

    let out = puhui(&["abs", "tape", &tape]).output().unwrap();
    assert!(out.status.success());
    let written = String::from_utf8(out.stdout).unwrap();
    assert!(
        written.starts_with("loan_id,balance_minor,currency,annual_rate"),
        "{written}"
    );
    assert_eq!(written.lines().count(), 4);
}
