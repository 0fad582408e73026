//! The I/O shell around the `risk` crate: reads CSVs and model files, writes model JSON,
//! score CSVs and reports, and defines the `puhui model …` subcommands.
//!
//! Every output is written to a temporary file next to its destination and renamed into
//! place, so a failed run never leaves a half-written file behind.

mod cmd;
pub mod features;
mod io;
pub mod report;

pub use cmd::{run, GbmArgs, ModelCmd};
pub use io::{
    load_model, load_table, load_training, parse_model, table_from, training_from, write_atomic,
};

use anyhow::{Context, Result};
use risk::metrics::{self, Summary};
use risk::{Model, ModelKind, Schema, Table, TargetSpec, TrainOptions};

/// A model trained on the split rule's train rows and measured on its test rows.
pub struct Holdout {
    pub model: Model,
    pub train: Summary,
    pub test: Summary,
    pub train_p: Vec<f64>,
    pub test_p: Vec<f64>,
}

/// Below this, bins and the early-stopping slice are too small to mean anything.
pub const MIN_TRAIN_ROWS: usize = 50;

/// Trains on `rows` of the table (all rows when `None`); returns the model, the labels of
/// every row and every row encoded with the model's schema.
pub fn train(
    table: &Table,
    target: &TargetSpec,
    kind: ModelKind,
    rows: Option<&[usize]>,
    options: &TrainOptions,
    progress: risk::gbm::Progress,
) -> Result<(Model, Vec<u8>, risk::Dataset)> {
    let (data, y, target) = encode(table, target, &options.exclude)?;
    let (model, data) = train_encoded(
        data,
        &y,
        &target,
        kind,
        rows,
        options,
        progress,
        After::Keep,
    )?;
    Ok((model, y, data.expect("kept")))
}

/// What [`train_encoded`] does with the dataset once the model no longer needs it.
pub enum After<'a> {
    /// Hand it back (in the model's layout).
    Keep,
    /// Free it as early as possible (boosting frees it before the first round).
    Drop,
    /// Free it like `Drop`, then hand back a fresh copy from this function: on large data the
    /// peak memory is then the dataset or the boosting state, not both.
    Reload(&'a dyn Fn() -> Result<risk::Dataset>),
}

/// Labels, the resolved target and the typed dataset of a table.
pub fn encode(
    table: &Table,
    target: &TargetSpec,
    exclude: &[String],
) -> Result<(risk::Dataset, Vec<u8>, TargetSpec)> {
    let y = target.labels(table).context("read the target column")?;
    let target = target.resolved(table).context("read the target column")?;
    let schema =
        Schema::infer(table, &target.column, exclude).context("type the feature columns")?;
    let data = schema.encode(table).context("encode the features")?;
    Ok((data, y, target))
}

/// Trains on `rows` of an encoded dataset (all rows when `None`); returns the model and, unless
/// `after` drops it, the dataset in the model's own layout (scorecards keep only the inputs
/// they use).
#[allow(clippy::too_many_arguments)]
pub fn train_encoded(
    data: risk::Dataset,
    y: &[u8],
    target: &TargetSpec,
    kind: ModelKind,
    rows: Option<&[usize]>,
    options: &TrainOptions,
    progress: risk::gbm::Progress,
    after: After,
) -> Result<(Model, Option<risk::Dataset>)> {
    let all: Vec<usize> = (0..data.n_rows).collect();
    let rows = rows.unwrap_or(&all);
    if rows.len() < MIN_TRAIN_ROWS {
        anyhow::bail!(
            "{} training rows; at least {MIN_TRAIN_ROWS} are needed to fit and validate a model",
            rows.len()
        );
    }
    if kind == ModelKind::Gbm {
        let params = options.gbm.resolve(rows.len());
        params.validate().map_err(|e| anyhow::anyhow!("gbm: {e}"))?;
        if rows.len() < 2 * params.valid_every {
            anyhow::bail!(
                "gbm: {} training rows are too few for a validation slice of every {}th row",
                rows.len(),
                params.valid_every
            );
        }
    }
    let train_y: Vec<u8> = rows.iter().map(|&r| y[r]).collect();
    if !train_y.contains(&0) || !train_y.contains(&1) {
        anyhow::bail!(
            "the training rows of `{}` hold a single class; a model needs both",
            target.column
        );
    }
    if kind == ModelKind::Gbm && !matches!(after, After::Keep) {
        let prepared = Model::prepare_gbm(&data, target, y, rows, options);
        let schema = data.schema.clone();
        drop(data);
        let model = prepared.train(progress);
        let data = match after {
            After::Reload(reload) => Some(reload()?),
            _ => None,
        };
        if data.as_ref().is_some_and(|d| d.schema != schema) {
            anyhow::bail!("the data changed while training: its columns are typed differently");
        }
        return Ok((model, data));
    }
    let model = Model::train(kind, &data, target, y, rows, options, progress);
    let data = match after {
        After::Drop => None,
        _ if *model.schema() == data.schema => Some(data),
        _ => Some(data.project(model.schema())),
    };
    Ok((model, data))
}

/// Applies the split rule (row `i` is test when `i % 5 == 0`), trains on the train rows and
/// measures both sides.
pub fn holdout(
    table: &Table,
    target: &TargetSpec,
    kind: ModelKind,
    options: &TrainOptions,
    progress: risk::gbm::Progress,
) -> Result<Holdout> {
    let (data, y, target) = encode(table, target, &options.exclude)?;
    holdout_encoded(data, &y, &target, kind, options, progress, After::Keep)
}

/// [`holdout`] on an already encoded dataset (from [`load_training`]).
pub fn holdout_encoded(
    data: risk::Dataset,
    y: &[u8],
    target: &TargetSpec,
    kind: ModelKind,
    options: &TrainOptions,
    progress: risk::gbm::Progress,
    after: After,
) -> Result<Holdout> {
    let (train_rows, test_rows) = risk::split_rows(data.n_rows);
    // Scoring needs the rows back: dropping them is keeping them here.
    let after = match after {
        After::Drop => After::Keep,
        other => other,
    };
    let (model, data) = train_encoded(
        data,
        y,
        target,
        kind,
        Some(&train_rows),
        options,
        progress,
        after,
    )?;
    let data = data.expect("kept or reloaded for scoring");
    let p = model.predict_probabilities(&data);
    drop(data);
    let pick =
        |rows: &[usize]| -> (Vec<u8>, Vec<f64>) { rows.iter().map(|&r| (y[r], p[r])).unzip() };
    let (ty, train_p) = pick(&train_rows);
    let (vy, test_p) = pick(&test_rows);
    Ok(Holdout {
        train: measure("train rows", &ty, &train_p)?,
        test: measure("test rows", &vy, &test_p)?,
        model,
        train_p,
        test_p,
    })
}

/// Metrics of a labelled sample; AUC and KS need both classes, so a one-class sample is an
/// error naming the sample rather than a panic.
pub fn measure(what: &str, y: &[u8], p: &[f64]) -> Result<Summary> {
    if !y.contains(&0) || !y.contains(&1) {
        anyhow::bail!("the {what} hold a single class; AUC and KS need good and bad rows");
    }
    Ok(metrics::summary(y, p))
}

/// Parses a LightGBM text model into a Puhui model whose inputs are the LightGBM features.
/// When the model was trained from pandas category columns, the file lists their levels
/// (`pandas_categorical`); those features then read the raw strings, coded as pandas did.
/// Otherwise categorical features take their integer codes.
pub fn import_lightgbm(bytes: &[u8]) -> Result<Model> {
    let text = std::str::from_utf8(bytes).context("LightGBM model files are UTF-8 text")?;
    let mut model = risk::import::lightgbm(text)?;
    let lists = pandas_levels(text)?;
    if lists.is_empty() {
        return Ok(model);
    }
    let categorical = risk::import::lightgbm_categorical_features(text)?;
    if categorical.len() != lists.len() {
        anyhow::bail!(
            "LightGBM: pandas_categorical has {} level lists for {} categorical features",
            lists.len(),
            categorical.len()
        );
    }
    if let Model::Imported { schema, .. } = &mut model {
        for (f, levels) in categorical.into_iter().zip(lists) {
            schema.features[f].kind = risk::FeatureKind::Categorical { levels };
        }
    }
    Ok(model)
}

/// The `pandas_categorical:` line after the trees: a JSON list of level lists, or null.
fn pandas_levels(text: &str) -> Result<Vec<Vec<String>>> {
    let Some(json) = text
        .lines()
        .find_map(|l| l.strip_prefix("pandas_categorical:"))
    else {
        return Ok(Vec::new());
    };
    let lists: Option<Vec<Vec<serde_json::Value>>> =
        serde_json::from_str(json).context("LightGBM: parse the pandas_categorical line")?;
    let level = |v: serde_json::Value| match v {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(anyhow::anyhow!(
            "LightGBM: pandas_categorical level {other} is not a string or number"
        )),
    };
    lists
        .unwrap_or_default()
        .into_iter()
        .map(|list| list.into_iter().map(level).collect())
        .collect()
}

/// Parses an XGBoost JSON model (`save_model("m.json")`) into a Puhui model.
pub fn import_xgboost(bytes: &[u8]) -> Result<Model> {
    let raw: risk::import::XgbModel =
        serde_json::from_slice(bytes).context("parse XGBoost JSON")?;
    Ok(risk::import::xgboost(&raw)?)
}
