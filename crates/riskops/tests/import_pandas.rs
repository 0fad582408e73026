//! LightGBM and XGBoost models trained from pandas category columns score raw CSV strings
//! exactly as the libraries scored the DataFrame (fixtures from `scripts/make-fixtures.py`).

use std::path::PathBuf;

#[test]
fn lightgbm_pandas_categories_score_raw_strings() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../risk/tests/fixtures");
    let bytes = std::fs::read(fixtures.join("lightgbm_german_pandas.txt")).unwrap();
    let model = riskops::import_lightgbm(&bytes).unwrap();
    let table = riskops::load_table(&fixtures.join("german_raw_rows.csv")).unwrap();
    let expected: Vec<f64> = table
        .column("lightgbm_pandas_p")
        .unwrap()
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    let data = model.schema().encode(&table).unwrap();
    let got = model.predict_all(&data);
    let worst = got
        .iter()
        .zip(&expected)
        .map(|(g, e)| (g.0 - e).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "largest probability difference over {} rows: {worst:e}",
        expected.len()
    );
    assert!(worst < 1e-6, "largest difference {worst:e}");
    let categorical = model
        .schema()
        .features
        .iter()
        .filter(|f| matches!(f.kind, risk::FeatureKind::Categorical { .. }));
    assert!(categorical.count() >= 5);
}

#[test]
fn xgboost_pandas_categories_score_raw_strings() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../risk/tests/fixtures");
    let bytes = std::fs::read(fixtures.join("xgboost_german_pandas.json")).unwrap();
    let model = riskops::import_xgboost(&bytes).unwrap();
    let table = riskops::load_table(&fixtures.join("german_raw_rows.csv")).unwrap();
    let expected: Vec<f64> = table
        .column("xgboost_pandas_p")
        .unwrap()
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    let data = model.schema().encode(&table).unwrap();
    let got = model.predict_all(&data);
    let worst = got
        .iter()
        .zip(&expected)
        .map(|(g, e)| (g.0 - e).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "largest probability difference over {} rows: {worst:e}",
        expected.len()
    );
    assert!(worst < 1e-6, "largest difference {worst:e}");
    let categorical = model
        .schema()
        .features
        .iter()
        .filter(|f| matches!(f.kind, risk::FeatureKind::Categorical { .. }));
    assert!(categorical.count() >= 5);
}
