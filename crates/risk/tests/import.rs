//! Imported LightGBM and XGBoost models predict the libraries' own probabilities to 1e-6.
//! Fixtures come from `scripts/make-fixtures.py`.

use risk::{Model, Table};

const ROWS: &str = include_str!("fixtures/german_rows.csv");

/// The fixture rows as a feature table plus the libraries' predictions (the trailing
/// columns: LightGBM, XGBoost, XGBoost with categorical splits, LightGBM random forest).
fn fixture() -> (Table, [Vec<f64>; 4]) {
    let mut lines = ROWS.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let k = header.len() - 4;
    let mut records = Vec::new();
    let mut preds: [Vec<f64>; 4] = Default::default();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        records.push(cells[..k].iter().map(|s| s.to_string()).collect());
        for (j, p) in preds.iter_mut().enumerate() {
            p.push(cells[k + j].parse().unwrap());
        }
    }
    (
        Table::from_records(header[..k].to_vec(), records).unwrap(),
        preds,
    )
}

fn assert_matches(model: &Model, table: &Table, expected: &[f64]) {
    let data = model.schema().encode(table).unwrap();
    let mut worst = 0.0f64;
    for (i, want) in expected.iter().enumerate() {
        let (got, _) = model.predict(data.row(i));
        worst = worst.max((got - want).abs());
    }
    eprintln!(
        "largest probability difference over {} rows: {worst:e}",
        expected.len()
    );
    assert!(worst < 1e-6, "largest probability difference {worst:e}");
    assert!(
        data.x.iter().any(|x| x.is_nan()),
        "fixture exercises missing values"
    );
    // The compiled batch path routes every row exactly as the reference path does.
    let batch = model.predict_all(&data);
    for (i, (p, _)) in batch.iter().enumerate() {
        assert_eq!(*p, model.predict(data.row(i)).0, "row {i}");
    }
}

#[test]
fn lightgbm_matches_library_predictions() {
    let (table, [lgb, _, _, _]) = fixture();
    let model = risk::import::lightgbm(include_str!("fixtures/lightgbm_german.txt")).unwrap();
    let Model::Imported { forest, .. } = &model else {
        panic!("imported model")
    };
    assert!(
        forest.nodes.iter().any(|n| n.categorical),
        "fixture exercises categorical splits"
    );
    assert_matches(&model, &table, &lgb);
}

#[test]
fn xgboost_matches_library_predictions() {
    let (table, [_, xgb, _, _]) = fixture();
    let raw: risk::import::XgbModel =
        serde_json::from_str(include_str!("fixtures/xgboost_german.json")).unwrap();
    let model = risk::import::xgboost(&raw).unwrap();
    assert_matches(&model, &table, &xgb);
}

#[test]
fn xgboost_categorical_splits_match_library_predictions() {
    let (table, [_, _, xgb, _]) = fixture();
    let raw: risk::import::XgbModel =
        serde_json::from_str(include_str!("fixtures/xgboost_german_cat.json")).unwrap();
    let model = risk::import::xgboost(&raw).unwrap();
    let Model::Imported { forest, .. } = &model else {
        panic!("imported model")
    };
    assert!(
        forest.nodes.iter().any(|n| n.categorical),
        "fixture exercises categorical splits"
    );
    assert_matches(&model, &table, &xgb);
}

#[test]
fn lightgbm_random_forest_averages_its_trees() {
    let (table, [_, _, _, rf]) = fixture();
    let model = risk::import::lightgbm(include_str!("fixtures/lightgbm_german_rf.txt")).unwrap();
    assert_matches(&model, &table, &rf);
}

#[test]
fn corrupt_lightgbm_files_are_errors_naming_the_field() {
    let good = include_str!("fixtures/lightgbm_german.txt");
    let cases = [
        (
            good.replacen("objective=binary", "objective=regression", 1),
            "objective",
        ),
        (
            good.replacen("left_child=1 2", "left_child=1 x", 1),
            "left_child",
        ),
        (
            good.replacen("left_child=1 2", "left_child=1 99", 1),
            "child 99",
        ),
        (
            good.replacen("cat_threshold=", "cat_thresholdX=", 1),
            "cat_threshold",
        ),
        ("hello".to_string(), "objective"),
        (
            good.replacen("is_linear=0", "is_linear=1", 1),
            "linear trees",
        ),
    ];
    for (text, needle) in cases {
        let err = risk::import::lightgbm(&text).unwrap_err().to_string();
        assert!(err.contains(needle), "{err} should mention {needle}");
    }
}

#[test]
fn corrupt_xgboost_files_are_errors() {
    let good = include_str!("fixtures/xgboost_german.json");
    let swapped = good.replacen("\"left_children\":[1,", "\"left_children\":[0,", 1);
    let raw: risk::import::XgbModel = serde_json::from_str(&swapped).unwrap();
    let err = risk::import::xgboost(&raw).unwrap_err().to_string();
    assert!(err.contains("reached twice"), "{err}");
    let other = good.replacen("binary:logistic", "reg:squarederror", 1);
    let raw: risk::import::XgbModel = serde_json::from_str(&other).unwrap();
    assert!(risk::import::xgboost(&raw)
        .unwrap_err()
        .to_string()
        .contains("objective"));
}
