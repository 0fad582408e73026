//! Batch scoring throughput, single thread: `cargo bench -p riskops --bench score`.
//!
//! Trains a boosted-tree model and a scorecard on bloan (from `scripts/fetch-data.sh`), then
//! times the compiled scorer over every row for about two seconds after a warm-up pass. The rows are
//! encoded once up front, as `puhui model score` does; the timed loop allocates nothing.

use risk::{Dataset, Model, ModelKind, TargetSpec, TrainOptions};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

/// Timed passes run for at least this long, so the 10 ms CPU-time clock is precise enough.
const MIN_SECS: f64 = 2.0;

fn time_model(name: &str, model: &Model, data: &Dataset) {
    let scorer = model.scorer();
    let run = || {
        let mut sum = 0.0;
        scorer.predict_each(black_box(data), |p, _| sum += p);
        sum
    };
    let warm = Instant::now();
    black_box(run());
    let passes = (MIN_SECS / warm.elapsed().as_secs_f64().max(1e-9))
        .ceil()
        .max(3.0) as usize;
    let start = Instant::now();
    let cpu_start = thread_cpu_secs();
    for _ in 0..passes {
        black_box(run());
    }
    let secs = start.elapsed().as_secs_f64();
    let rows = (data.n_rows * passes) as f64;
    // On a shared machine wall time includes waiting for a core; CPU time does not.
    let cpu = match (cpu_start, thread_cpu_secs()) {
        (Some(a), Some(b)) if b > a => format!("{:>10.0} rows/s per CPU-second", rows / (b - a)),
        _ => String::new(),
    };
    println!(
        "{name:<36} {:>10.0} rows/s wall {:>8.1} ns/row {cpu}  ({} rows x {passes})",
        rows / secs,
        secs / rows * 1e9,
        data.n_rows
    );
}

/// This thread's user+system CPU time from /proc (Linux), in seconds; 10 ms resolution.
fn thread_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() -> anyhow::Result<()> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/external/bloan.csv");
    if !path.exists() {
        eprintln!("bloan.csv is absent; run scripts/fetch-data.sh first");
        return Ok(());
    }
    let table = riskops::load_table(&path)?;
    let target = TargetSpec {
        column: "is_bad".into(),
        bad_value: None,
    };
    let options = TrainOptions::default();
    let (train_rows, _) = risk::split_rows(table.n_rows());
    for kind in [ModelKind::Gbm, ModelKind::Scorecard] {
        let (model, _, data) = riskops::train(
            &table,
            &target,
            kind,
            Some(&train_rows),
            &options,
            &mut |_, _| {},
        )?;
        let name = match &model {
            Model::Gbm { gbm, .. } => {
                let leaves = gbm
                    .forest
                    .nodes
                    .iter()
                    .filter(|n| n.feature == risk::forest::LEAF)
                    .count();
                format!("gbm ({} trees, {leaves} leaves)", gbm.forest.n_trees())
            }
            Model::Scorecard { card, .. } => {
                format!("scorecard ({} features)", card.features.len())
            }
            Model::Imported { .. } => unreachable!("trained here"),
        };
        time_model(&name, &model, &data);
    }
    let lgb = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/external/lightgbm_bloan.txt");
    if lgb.exists() {
        let model = riskops::import_lightgbm(&std::fs::read(&lgb)?)?;
        let numeric = numeric_copy(&table, &model)?;
        time_model("imported lightgbm_bloan.txt", &model, &numeric);
    }
    let xgb = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/external/xgboost_bloan.json");
    if xgb.exists() {
        let model = riskops::import_xgboost(&std::fs::read(&xgb)?)?;
        let numeric = numeric_copy(&table, &model)?;
        time_model("imported xgboost_bloan.json", &model, &numeric);
    }
    Ok(())
}

/// bloan with its categorical column integer-coded in sorted level order, as the Python
/// side codes it for LightGBM.
fn numeric_copy(table: &risk::Table, model: &Model) -> anyhow::Result<Dataset> {
    let mut t = table.clone();
    for column in &mut t.columns {
        if column.iter().any(|v| v.parse::<f64>().is_err()) {
            let mut levels: Vec<String> = column.clone();
            levels.sort();
            levels.dedup();
            for v in column.iter_mut() {
                *v = levels
                    .binary_search(v)
                    .map_err(|_| anyhow::anyhow!("level"))?
                    .to_string();
            }
        }
    }
    Ok(model.schema().encode(&t)?)
}
