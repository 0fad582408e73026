//! One function per parser of outside input. Each takes arbitrary bytes and must return
//! without panicking, whatever they are: an error is a fine answer, a panic is a bug. Where
//! a parser accepts, the target goes on to use what it parsed the way the platform would
//! (score with the model, decide with the policy), because a model that parses but panics
//! when scored is the same bug one step later.

use risk::decision::{Decider, Policy};
use risk::features::DecisionInput;
use risk::{Model, TargetSpec};
use std::io::Cursor;
use std::sync::OnceLock;

const DEFAULT_MODEL: &str = include_str!("../../../models/german-scorecard.json");
const DEFAULT_POLICY: &str = include_str!("../../../models/policy.json");
const EXAMPLE_APPLICATION: &str = include_str!("../../../models/example-application.json");
const GERMAN_ROWS: &str = include_str!("../../risk/tests/fixtures/german_raw_rows.csv");
const LIGHTGBM: &str = include_str!("../../risk/tests/fixtures/lightgbm_german.txt");
const LIGHTGBM_PANDAS: &str = include_str!("../../risk/tests/fixtures/lightgbm_german_pandas.txt");
const XGBOOST: &str = include_str!("../../risk/tests/fixtures/xgboost_german.json");
const XGBOOST_CAT: &str = include_str!("../../risk/tests/fixtures/xgboost_german_cat.json");

/// A parser under test: its name, the function, and the valid inputs mutations start from.
pub struct Target {
    pub name: &'static str,
    /// True when the parser accepted the input (false: it answered an error).
    pub run: fn(&[u8]) -> bool,
    pub seeds: fn() -> Vec<Vec<u8>>,
}

pub fn all() -> Vec<Target> {
    let mut all = risk_targets();
    all.extend(crate::targets_more::all());
    all
}

fn risk_targets() -> Vec<Target> {
    vec![
        Target {
            name: "training-csv",
            run: training_csv,
            seeds: csv_seeds,
        },
        Target {
            name: "scoring-csv",
            run: scoring_csv,
            seeds: scoring_seeds,
        },
        Target {
            name: "model-file",
            run: model_file,
            seeds: || vec![DEFAULT_MODEL.into(), trained_gbm_json().into_bytes()],
        },
        Target {
            name: "lightgbm-model",
            run: lightgbm_model,
            seeds: || vec![LIGHTGBM.into(), LIGHTGBM_PANDAS.into()],
        },
        Target {
            name: "xgboost-model",
            run: xgboost_model,
            seeds: || vec![XGBOOST.into(), XGBOOST_CAT.into()],
        },
        Target {
            name: "policy-file",
            run: policy_file,
            seeds: || vec![DEFAULT_POLICY.into()],
        },
        Target {
            name: "decision-input",
            run: decision_input,
            seeds: || vec![EXAMPLE_APPLICATION.into()],
        },
    ]
}

/// A small training set with every column kind (number, category, missing values, a 0/1
/// target), and the first rows of the German credit data (text categories).
fn csv_seeds() -> Vec<Vec<u8>> {
    let mut german = String::new();
    for (i, line) in GERMAN_ROWS.lines().take(40).enumerate() {
        let label = if i == 0 {
            "bad".to_string()
        } else {
            u8::from(i % 3 == 0).to_string()
        };
        german.push_str(&format!("{line},{label}\n"));
    }
    vec![synthetic_csv(60).into_bytes(), german.into_bytes()]
}

/// Rows of the German credit data under the default model's columns (the two it reads that
/// the fixture lacks are filled in), so that scoring, not only parsing, is reached.
fn scoring_seeds() -> Vec<Vec<u8>> {
    let table =
        riskops::table_from("german", Cursor::new(GERMAN_ROWS.as_bytes())).expect("German fixture");
    let names: Vec<&str> = default_model()
        .schema()
        .features
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    let quote = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
    let mut csv = names.join(",") + "\n";
    for r in 0..30 {
        let row: Vec<String> = names
            .iter()
            .map(|n| match table.column(n) {
                Ok(col) => quote(&col[r]),
                Err(_) if *n == "age_in_years" => (25 + r).to_string(),
                Err(_) => quote("none"),
            })
            .collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    vec![csv.into_bytes()]
}

fn synthetic_csv(rows: usize) -> String {
    let mut s = String::from("amount,region,score,opened,bad\n");
    for i in 0..rows {
        let region = ["east", "west", "", "north"][i % 4];
        let score = if i % 7 == 0 {
            String::new()
        } else {
            format!("{}.{}", 300 + i * 7 % 500, i % 10)
        };
        s.push_str(&format!(
            "{},{region},{score},2026-0{}-1{},{}\n",
            1000 + i * 37,
            1 + i % 9,
            i % 10,
            u8::from(i % 3 == 0)
        ));
    }
    s
}

fn target() -> TargetSpec {
    TargetSpec {
        column: "bad".into(),
        bad_value: None,
    }
}

fn training_csv(data: &[u8]) -> bool {
    riskops::training_from("fuzz", || Ok(Cursor::new(data)), &target(), &[]).is_ok()
}

fn scoring_csv(data: &[u8]) -> bool {
    let Ok(table) = riskops::table_from("fuzz", Cursor::new(data)) else {
        return false;
    };
    let model = default_model();
    let Ok(data) = model.schema().encode(&table) else {
        return false;
    };
    model.predict_all(&data);
    true
}

fn model_file(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    riskops::parse_model("fuzz", text)
        .map(|m| score_everywhere(&m))
        .is_ok()
}

/// Imported models are checked like model files before anything scores with them.
fn lightgbm_model(data: &[u8]) -> bool {
    match riskops::import_lightgbm(data) {
        Ok(m) if m.validate().is_ok() => {
            score_everywhere(&m);
            true
        }
        _ => false,
    }
}

fn xgboost_model(data: &[u8]) -> bool {
    match riskops::import_xgboost(data) {
        Ok(m) if m.validate().is_ok() => {
            score_everywhere(&m);
            true
        }
        _ => false,
    }
}

fn policy_file(data: &[u8]) -> bool {
    let Ok(policy) = serde_json::from_slice::<Policy>(data) else {
        return false;
    };
    match Decider::new(default_model().clone(), policy) {
        Ok(decider) => decider.decide(example_input()).is_ok(),
        Err(_) => false,
    }
}

fn decision_input(data: &[u8]) -> bool {
    serde_json::from_slice::<DecisionInput>(data)
        .is_ok_and(|input| default_decider().decide(&input).is_ok())
}

/// Scores rows of extreme, missing and ordinary values through both scoring paths.
fn score_everywhere(model: &Model) {
    let n = model.schema().features.len();
    for v in [0.0, 1.0, -1.0, 3.0, f64::NAN, 1e300, -1e300, f64::INFINITY] {
        let row = vec![v; n];
        let _ = model.predict(&row);
        let _ = model.scorer().predict(&row);
    }
}

fn default_model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| riskops::parse_model("default", DEFAULT_MODEL).expect("shipped model"))
}

fn default_decider() -> &'static Decider {
    static DECIDER: OnceLock<Decider> = OnceLock::new();
    DECIDER.get_or_init(|| {
        let policy = serde_json::from_str(DEFAULT_POLICY).expect("shipped policy");
        Decider::new(default_model().clone(), policy).expect("shipped decider")
    })
}

fn example_input() -> &'static DecisionInput {
    static INPUT: OnceLock<DecisionInput> = OnceLock::new();
    INPUT.get_or_init(|| serde_json::from_str(EXAMPLE_APPLICATION).expect("example application"))
}

/// A gradient-boosted model trained on the synthetic seed, as its model file.
fn trained_gbm_json() -> String {
    let csv = synthetic_csv(200);
    let (data, y, target) =
        riskops::training_from("seed", || Ok(Cursor::new(csv.as_bytes())), &target(), &[])
            .expect("synthetic training set");
    let rows: Vec<usize> = (0..y.len()).collect();
    let options = risk::TrainOptions::default();
    let mut quiet = |_: usize, _: f64| {};
    let model = Model::train(
        risk::ModelKind::Gbm,
        &data,
        &target,
        &y,
        &rows,
        &options,
        &mut quiet,
    );
    serde_json::to_string(&model).expect("serialize model")
}
