//! Deal files and scenarios that must be refused, each with the JSON path of the field at
//! fault and a stable code; and the JSON shape's own refusals (unknown fields, numbers
//! where a decimal string is due).

use api::{DealFile, FieldError, MonteCarloRequest, ProjectionRequest};
use serde_json::{json, Value};

fn example() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/deals/revolving-consumer.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn problems(file: Value) -> Vec<FieldError> {
    let file: DealFile = serde_json::from_value(file).expect("the JSON shape is right");
    file.parse().expect_err("the deal is refused")
}

fn has(errors: &[FieldError], field: &str, code: &str) -> bool {
    errors.iter().any(|e| e.field == field && e.code == code)
}

#[test]
fn deal_problems_name_their_field_and_code() {
    let mut f = example();
    f["dates"]["first_payment"] = json!("2025-12-01");
    let e = problems(f);
    assert!(has(&e, "dates.first_payment", "out_of_order"), "{e:?}");

    let mut f = example();
    f["waterfalls"]["normal"][3]["account"] = json!("reserv");
    let e = problems(f);
    assert!(
        has(&e, "waterfalls.normal[3].account", "unknown_account"),
        "{e:?}"
    );

    let mut f = example();
    f["bonds"][1]["balance_minor"] = json!(14_999_999);
    let e = problems(f);
    assert!(has(&e, "bonds", "sum_mismatch"), "{e:?}");
    // Where the deal does not require it, the same bonds pass.
    let mut f = example();
    f["bonds"][1]["balance_minor"] = json!(14_999_999);
    f["bonds_sum_to_pool"] = json!(false);
    let file: DealFile = serde_json::from_value(f).unwrap();
    assert!(file.parse().is_ok());

    let mut f = example();
    f["bonds"][0]["coupon"]["rate"] = json!("1.2");
    let e = problems(f);
    assert!(has(&e, "bonds[0].coupon.rate", "out_of_range"), "{e:?}");

    let mut f = example();
    f["bonds"][0]["coupon"]["rate"] = json!("four percent");
    let e = problems(f);
    assert!(has(&e, "bonds[0].coupon.rate", "invalid_field"), "{e:?}");

    let mut f = example();
    f["fees"][0]["rate"] = json!("-0.01");
    let e = problems(f);
    assert!(has(&e, "fees[0].rate", "out_of_range"), "{e:?}");

    let mut f = example();
    f["dates"]["cutoff"] = json!("2025-13-01");
    let e = problems(f);
    assert!(has(&e, "dates.cutoff", "invalid_field"), "{e:?}");

    let mut f = example();
    f["dates"]["stated_maturity"] = json!("2200-01-01");
    let e = problems(f);
    assert!(has(&e, "dates.stated_maturity", "out_of_range"), "{e:?}");

    let mut f = example();
    f["bonds"][0]["balance_minor"] = json!(1_000_000_000_000_000i64);
    f["bonds"][1]["balance_minor"] = json!(1);
    let e = problems(f);
    assert!(has(&e, "bonds", "out_of_range"), "{e:?}");

    let mut f = example();
    f["pool_balance_minor"] = json!(i64::MAX);
    let e = problems(f);
    assert!(has(&e, "pool_balance_minor", "out_of_range"), "{e:?}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut f = example();
    f["dates"]["stated_maturity"] = json!("2026-01-15");
    f["waterfalls"]["normal"][0]["fee"] = json!("nobody");
    f["waterfalls"]["cleanup"][0]["bonds"] = json!(["A", "Z"]);
    f["accounts"][1]["target"] = json!({"pool_fraction": "0.01", "fixed_minor": 5});
    let e = problems(f);
    // The shape problem (the target) is found before the domain's checks run.
    assert!(has(&e, "accounts[1].target", "invalid_field"), "{e:?}");
    let mut f = example();
    f["dates"]["stated_maturity"] = json!("2026-01-15");
    f["waterfalls"]["normal"][0]["fee"] = json!("nobody");
    f["waterfalls"]["cleanup"][0]["bonds"] = json!(["A", "Z"]);
    let e = problems(f);
    assert!(has(&e, "dates.stated_maturity", "out_of_order"), "{e:?}");
    assert!(has(&e, "waterfalls.normal[0].fee", "unknown_fee"), "{e:?}");
    assert!(
        has(&e, "waterfalls.cleanup[0].bonds[1]", "unknown_bond"),
        "{e:?}"
    );
}

#[test]
fn the_json_shape_refuses_unknown_fields_and_numbers_for_rates() {
    let mut f = example();
    f["bonds"][0]["coupon"]["rat"] = json!("0.04");
    assert!(serde_json::from_value::<DealFile>(f).is_err());
    let mut f = example();
    f["bonds"][0]["coupon"]["rate"] = json!(0.04);
    assert!(serde_json::from_value::<DealFile>(f).is_err());
    let mut f = example();
    f["waterfalls"]["normal"][2] = json!({"kind": "purchase", "bonds": ["A"]});
    assert!(serde_json::from_value::<DealFile>(f).is_err());
    let mut f = example();
    f["fees"][0] = json!({"kind": "pool_fraction_annual", "name": "s", "amount_minor": 1});
    assert!(serde_json::from_value::<DealFile>(f).is_err());
}

fn projection(scenario: Value) -> Vec<FieldError> {
    let req: ProjectionRequest = serde_json::from_value(json!({
        "deal": example(),
        "pool": {"loans": [{"balance_minor": 100_000_000, "annual_rate": "0.18", "remaining_term_months": 12}]},
        "scenario": scenario,
    }))
    .unwrap();
    req.run().expect_err("refused")
}

#[test]
fn scenario_rates_out_of_range_are_refused_with_their_field() {
    let e = projection(json!({"cpr": "1.2"}));
    assert_eq!(
        (e[0].field.as_str(), e[0].code),
        ("scenario.cpr", "out_of_range")
    );
    let e = projection(json!({"cdr": "-0.1"}));
    assert_eq!(e[0].field, "scenario.cdr");
    let e = projection(json!({"severity": "2"}));
    assert_eq!(e[0].field, "scenario.severity");
    let e = projection(json!({"cpr": "0.1", "smm": "0.01"}));
    assert_eq!(e[0].field, "scenario.smm");
}

#[test]
fn a_projection_refuses_a_pool_that_is_not_the_deals() {
    let req: ProjectionRequest = serde_json::from_value(json!({
        "deal": example(),
        "pool": {"loans": [{"balance_minor": 99_999_999, "annual_rate": "0.18", "remaining_term_months": 12}]},
        "scenario": {},
    }))
    .unwrap();
    let e = req.run().unwrap_err();
    assert_eq!(
        (e[0].field.as_str(), e[0].code),
        ("pool.loans", "pool_mismatch")
    );
    let mut bad = example();
    bad["dates"]["closing"] = json!("2025-12-01");
    let req: ProjectionRequest = serde_json::from_value(json!({
        "deal": bad, "pool": {"collections": [{"interest_minor": 1, "principal_minor": 1}]},
    }))
    .unwrap();
    let e = req.run().unwrap_err();
    assert_eq!(
        (e[0].field.as_str(), e[0].code),
        ("deal.dates.closing", "out_of_order")
    );
}

#[test]
fn a_collection_row_the_deal_cannot_take_names_its_row() {
    let req: ProjectionRequest = serde_json::from_value(json!({
        "deal": example(),
        "pool": {"collections": [
            {"interest_minor": 1_000_000, "principal_minor": 5_000_000},
            {"interest_minor": 1_000_000, "principal_minor": 200_000_000},
        ]},
    }))
    .unwrap();
    let e = req.run().unwrap_err();
    assert_eq!(
        (e[0].field.as_str(), e[0].code),
        ("pool.collections[1].principal_minor", "exceeds_pool")
    );
    let req: ProjectionRequest = serde_json::from_value(json!({
        "deal": example(),
        "pool": {"collections": [{"interest_minor": 1, "principal_minor": 1, "exercise_call": true}]},
    }))
    .unwrap();
    let e = req.run().unwrap_err();
    assert_eq!(e[0].field, "pool.collections[0].exercise_call");
}

#[test]
fn monte_carlo_requests_are_bounded_and_checked() {
    let base = json!({
        "currency": "CNY", "correlation": "0.2", "scenarios": 100, "seed": 1,
        "loans": [{"default_probability": "0.05", "loss_given_default_minor": 1000}],
        "tranches": [{"name": "E", "attach_minor": 0, "detach_minor": 500}],
    });
    let parse = |patch: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        patch(&mut v);
        serde_json::from_value::<MonteCarloRequest>(v)
            .unwrap()
            .parse()
            .err()
    };
    assert!(parse(&|_| {}).is_none());
    let e = parse(&|v| v["correlation"] = json!("1")).unwrap();
    assert_eq!(e.field, "correlation");
    let e = parse(&|v| v["loans"][0]["default_probability"] = json!("1.5")).unwrap();
    assert_eq!(e.field, "loans[0].default_probability");
    let e = parse(&|v| {
        v["loans"] = json!(vec![json!({"default_probability": "0.01", "loss_given_default_minor": 1_000_000_000_000_000i64}); 2]);
    })
    .unwrap();
    assert_eq!((e.field.as_str(), e.code), ("loans", "out_of_range"));
    let e = parse(&|v| v["scenarios"] = json!(0)).unwrap();
    assert_eq!(e.field, "scenarios");
    let e = parse(&|v| v["tranches"][0]["attach_minor"] = json!(500)).unwrap();
    assert_eq!(e.field, "tranches[0].detach_minor");
    let e = parse(&|v| {
        v["scenarios"] = json!(10_000);
        v["loans"] = json!(vec![
            json!({"default_probability": "0.01", "loss_given_default_minor": 1});
            2_001
        ]);
    })
    .unwrap();
    assert_eq!((e.field.as_str(), e.code), ("scenarios", "too_large"));
}

#[test]
fn a_thirty_year_pool_projects_to_the_end_with_tranche_measures() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/deals/static-senior-equity.json"
    );
    let mut deal: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    deal["dates"]["stated_maturity"] = json!("2056-06-01");
    let req: ProjectionRequest = serde_json::from_value(json!({
        "deal": deal,
        "pool": {"loans": [{"balance_minor": 100_000_000, "annual_rate": "0.08", "remaining_term_months": 360}]},
        "scenario": {"smm": "0.01", "mdr": "0.01", "severity": "0.2", "recovery_lag_months": 12, "advanced": true},
    }))
    .unwrap();
    let r = req.run().unwrap();
    assert!(r.periods.len() > 300, "{}", r.periods.len());
    assert!(
        r.tranches.iter().all(|t| t.yield_annual.is_some()),
        "{:?}",
        r.tranches
    );
}
