use crate::{holdout_encoded, io, report, train_encoded, After};
use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use risk::{Model, ModelKind, TargetSpec, TrainOptions};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Scorecard,
    Gbm,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SourceArg {
    Lightgbm,
    Xgboost,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Text,
    Html,
    Json,
}

/// `puhui model …`: train, score, report on and import credit models.
#[derive(Debug, Subcommand)]
pub enum ModelCmd {
    /// Train a scorecard or boosted trees from a CSV and write MODEL.json.
    Train {
        /// Training data: a CSV with a header row.
        #[arg(long)]
        data: PathBuf,
        /// The target column.
        #[arg(long)]
        target: String,
        /// Target value meaning "bad" (default: 1 for a 0/1 target).
        #[arg(long)]
        bad_value: Option<String>,
        /// Model family: a WoE scorecard or gradient-boosted trees.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Model file to write (JSON).
        #[arg(long)]
        out: PathBuf,
        /// Columns that are not features (ids, dates); repeat or separate with commas.
        #[arg(long, value_delimiter = ',')]
        exclude: Vec<String>,
        /// Train only on the split rule's train rows (row i with i % 5 != 0) and print
        /// train and test metrics.
        #[arg(long)]
        holdout: bool,
        /// Print the holdout metrics as one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Scorecard points to double the good:bad odds.
        #[arg(long, default_value_t = 20.0)]
        pdo: f64,
        /// Scorecard points at the base odds.
        #[arg(long, default_value_t = 600.0)]
        base_points: f64,
        /// Good:bad odds that score --base-points (50 means 50:1).
        #[arg(long, default_value_t = 50.0)]
        base_odds: f64,
        #[command(flatten)]
        gbm: GbmArgs,
    },
    /// Score a CSV: writes row, probability_bad (and score for scorecards) in input order.
    Score {
        /// Model file from `train` or `import`.
        #[arg(long)]
        model: PathBuf,
        /// Rows to score; the target column may be absent.
        #[arg(long)]
        data: PathBuf,
        /// Score CSV to write.
        #[arg(long)]
        out: PathBuf,
        /// Input columns copied to the output after `row` (e.g. an application id).
        #[arg(long, value_delimiter = ',')]
        keep: Vec<String>,
    },
    /// Measure a model on labelled data: AUC, KS, Gini, Brier, calibration, PSI, IV, scores.
    Report {
        /// Model file from `train` or `import`.
        #[arg(long)]
        model: PathBuf,
        /// Labelled data to measure on.
        #[arg(long)]
        data: PathBuf,
        /// Target column (default: the one the model was trained on).
        #[arg(long)]
        target: Option<String>,
        /// Target value meaning "bad" (default: the model's, else 1 for a 0/1 target).
        #[arg(long)]
        bad_value: Option<String>,
        /// Baseline data for PSI; without it the split rule divides --data into train/test.
        #[arg(long)]
        baseline: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: FormatArg,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compute declared features from raw applications (JSON lines) into a training CSV, with
    /// the same code the decision service runs.
    Features {
        /// Feature definitions: a JSON file with a `features` list (a decision policy works).
        #[arg(long)]
        spec: PathBuf,
        /// One JSON object per line: a decision input, or `{"input": {...}, ...}` whose other
        /// keys (e.g. a label) are copied to the output as columns.
        #[arg(long)]
        input: PathBuf,
        /// Feature CSV to write: applicant_id, as_of, the features, the copied columns.
        #[arg(long)]
        out: PathBuf,
    },
    /// Convert a LightGBM text model or an XGBoost JSON model into a Puhui model file.
    Import {
        /// The library that wrote the model file.
        #[arg(long, value_enum)]
        from: SourceArg,
        /// LightGBM text model (`save_model("m.txt")`) or XGBoost JSON (`save_model("m.json")`).
        #[arg(long)]
        input: PathBuf,
        /// Puhui model file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Boosting parameters; each replaces the default chosen for the data's size (see
/// `risk::gbm::GbmParams::for_rows`). The model file records the values used.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GbmArgs {
    /// gbm: shrinkage per tree (default 0.02 below 50,000 training rows, else 0.1).
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// gbm: leaves per tree (default 7, or 31 from 50,000 rows).
    #[arg(long)]
    pub max_leaves: Option<usize>,
    /// gbm: depth limit per tree (default 6, or 16 from 50,000 rows).
    #[arg(long)]
    pub max_depth: Option<usize>,
    /// gbm: fewest training rows in a leaf (default 20; from 50,000 rows n/10,000 in 20..200).
    #[arg(long)]
    pub min_data_in_leaf: Option<usize>,
    /// gbm: L2 penalty on leaf values (default 10, or 1 from 50,000 rows).
    #[arg(long)]
    pub lambda_l2: Option<f64>,
    /// gbm: most boosting rounds (default 2000).
    #[arg(long)]
    pub max_rounds: Option<usize>,
    /// gbm: stop after this many rounds without a better validation logloss (100, or 50).
    #[arg(long)]
    pub early_stopping_rounds: Option<usize>,
    /// gbm: every N-th training row forms the validation slice (default 5, or 10).
    #[arg(long)]
    pub valid_every: Option<usize>,
    /// gbm: share of features each tree may split on (default 0.8, or 1).
    #[arg(long)]
    pub feature_fraction: Option<f64>,
    /// gbm: share of rows each tree is grown from (default 0.8, or 1).
    #[arg(long)]
    pub bagging_fraction: Option<f64>,
    /// gbm: after early stopping, retrain on all rows (default true below 50,000 rows).
    #[arg(long)]
    pub refit: Option<bool>,
    /// gbm: seed of the feature and row sampling (default 7).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl GbmArgs {
    pub fn overrides(&self) -> risk::gbm::GbmOverrides {
        risk::gbm::GbmOverrides {
            learning_rate: self.learning_rate,
            max_leaves: self.max_leaves,
            max_depth: self.max_depth,
            min_data_in_leaf: self.min_data_in_leaf,
            lambda_l2: self.lambda_l2,
            max_rounds: self.max_rounds,
            early_stopping_rounds: self.early_stopping_rounds,
            valid_every: self.valid_every,
            feature_fraction: self.feature_fraction,
            bagging_fraction: self.bagging_fraction,
            refit: self.refit,
            seed: self.seed,
        }
    }
}

pub fn run(cmd: ModelCmd) -> Result<()> {
    match cmd {
        ModelCmd::Train {
            data,
            target,
            bad_value,
            kind,
            out,
            exclude,
            holdout,
            json,
            pdo,
            base_points,
            base_odds,
            gbm,
        } => {
            if !(pdo > 0.0 && base_odds > 0.0 && base_points.is_finite()) {
                anyhow::bail!("--pdo and --base-odds must be positive and --base-points finite");
            }
            let target = TargetSpec {
                column: target,
                bad_value,
            };
            let mut options = TrainOptions {
                exclude,
                gbm: gbm.overrides(),
                ..TrainOptions::default()
            };
            options.scorecard.pdo = pdo;
            options.scorecard.base_points = base_points;
            options.scorecard.base_odds = base_odds;
            run_train(data, target, kind, out, (holdout, json), options)
        }
        ModelCmd::Score {
            model,
            data,
            out,
            keep,
        } => run_score(model, data, out, keep),
        ModelCmd::Features { spec, input, out } => crate::features::run(&spec, &input, &out),
        ModelCmd::Report {
            model,
            data,
            target,
            bad_value,
            baseline,
            format,
            out,
        } => {
            let options = report::ReportArgs {
                model,
                data,
                target,
                bad_value,
                baseline,
                format: match format {
                    FormatArg::Text => report::Format::Text,
                    FormatArg::Html => report::Format::Html,
                    FormatArg::Json => report::Format::Json,
                },
            };
            let text = report::build(&options)?;
            match out {
                Some(path) => io::write_atomic(&path, |w| Ok(w.write_all(text.as_bytes())?)),
                None => Ok(std::io::stdout().write_all(text.as_bytes())?),
            }
        }
        ModelCmd::Import { from, input, out } => run_import(from, input, out),
    }
}

fn progress_bar(max_rounds: usize) -> ProgressBar {
    let bar = ProgressBar::new(max_rounds as u64);
    let style =
        ProgressStyle::with_template("{spinner} boosting round {pos} (validation logloss {msg})")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn run_train(
    data: PathBuf,
    target: TargetSpec,
    kind: KindArg,
    out: PathBuf,
    (split, json): (bool, bool),
    options: TrainOptions,
) -> Result<()> {
    let spec = target.clone();
    let (dataset, y, target) = io::load_training(&data, &spec, &options.exclude)?;
    let reload = || io::load_training(&data, &spec, &options.exclude).map(|(d, _, _)| d);
    let kind = match kind {
        KindArg::Scorecard => ModelKind::Scorecard,
        KindArg::Gbm => ModelKind::Gbm,
    };
    let bar = progress_bar(options.gbm.max_rounds.unwrap_or(2000));
    let mut tick = |round: usize, loss: f64| {
        bar.set_position(round as u64);
        bar.set_message(format!("{loss:.5}"));
    };
    let model = if split {
        let after = After::Reload(&reload);
        let h = holdout_encoded(dataset, &y, &target, kind, &options, &mut tick, after)?;
        bar.finish_and_clear();
        if json {
            // Boosting rounds kept, so a benchmark can set them beside other libraries'.
            let rounds = match &h.model {
                Model::Gbm { gbm, .. } => Some(gbm.best_rounds),
                _ => None,
            };
            let value = serde_json::json!({ "train": h.train, "test": h.test, "rounds": rounds });
            println!("{value}");
        } else {
            println!("train: {}", summary_line(&h.train));
            println!("test:  {}", summary_line(&h.test));
        }
        h.model
    } else {
        let (model, _) = train_encoded(
            dataset,
            &y,
            &target,
            kind,
            None,
            &options,
            &mut tick,
            After::Drop,
        )?;
        bar.finish_and_clear();
        model
    };
    write_model(&out, &model)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

pub fn summary_line(s: &risk::metrics::Summary) -> String {
    format!(
        "rows {} bad_rate {:.4} AUC {:.4} Gini {:.4} KS {:.4} Brier {:.4} logloss {:.4}",
        s.rows, s.bad_rate, s.auc, s.gini, s.ks, s.brier, s.logloss
    )
}

fn write_model(out: &std::path::Path, model: &Model) -> Result<()> {
    io::write_atomic(out, |w| {
        serde_json::to_writer(&mut *w, model)?;
        Ok(w.write_all(b"\n")?)
    })
}

fn run_score(model: PathBuf, data: PathBuf, out: PathBuf, keep: Vec<String>) -> Result<()> {
    let model = io::load_model(&model)?;
    let table = io::load_table(&data)?;
    let dataset = model
        .schema()
        .encode(&table)
        .with_context(|| format!("encode {} for the model", data.display()))?;
    let kept: Vec<&[String]> = keep
        .iter()
        .map(|c| table.column(c))
        .collect::<Result<_, _>>()?;
    let is_scorecard = matches!(model, Model::Scorecard { .. });
    let scorer = model.scorer();
    io::write_atomic(&out, |w| {
        let mut csv = csv::Writer::from_writer(w);
        let mut header: Vec<&str> = vec!["row"];
        header.extend(keep.iter().map(String::as_str));
        header.push("probability_bad");
        if is_scorecard {
            header.push("score");
        }
        csv.write_record(&header)?;
        // One reused buffer: formatting allocates nothing per row either.
        let mut buf = String::new();
        let mut i = 0;
        let mut failed = None;
        scorer.predict_each(&dataset, |p, score| {
            if failed.is_some() {
                return;
            }
            if let Err(e) = write_row(&mut csv, &mut buf, i, &kept, p, score) {
                failed = Some(e);
            }
            i += 1;
        });
        if let Some(e) = failed {
            return Err(e);
        }
        csv.flush()?;
        Ok(())
    })
}

fn write_row<W: Write>(
    csv: &mut csv::Writer<W>,
    buf: &mut String,
    i: usize,
    kept: &[&[String]],
    p: f64,
    score: Option<f64>,
) -> Result<()> {
    use std::fmt::Write as _;
    buf.clear();
    write!(buf, "{}", i + 1)?;
    csv.write_field(buf.as_bytes())?;
    for column in kept {
        csv.write_field(column[i].as_bytes())?;
    }
    buf.clear();
    write!(buf, "{p:.9}")?;
    csv.write_field(buf.as_bytes())?;
    if let Some(s) = score {
        buf.clear();
        write!(buf, "{s:.2}")?;
        csv.write_field(buf.as_bytes())?;
    }
    csv.write_record(None::<&[u8]>)?;
    Ok(())
}

fn run_import(from: SourceArg, input: PathBuf, out: PathBuf) -> Result<()> {
    let bytes = std::fs::read(&input).with_context(|| format!("read {}", input.display()))?;
    let model = match from {
        SourceArg::Lightgbm => crate::import_lightgbm(&bytes),
        SourceArg::Xgboost => crate::import_xgboost(&bytes),
    }
    .with_context(|| format!("import {}", input.display()))?;
    write_model(&out, &model)
}
