//! Boosted-tree training throughput on a large CSV, beside LightGBM on the same file:
//! `cargo bench -p riskops --bench train`.
//!
//! The data is the seeded synthetic set of `scripts/make-synthetic.py` (1,000,000 rows, 20
//! feature columns, `is_bad`) unless `PUHUI_BENCH_DATA` names another CSV (with
//! `PUHUI_BENCH_TARGET`, default `is_bad`). The split rule applies (row i is test when
//! i % 5 == 0). Puhui trains with its size-dependent defaults but a fixed number of rounds
//! (`PUHUI_BENCH_ROUNDS`, default 100, as LightGBM's default) so both do the same work; its
//! clock covers binning and boosting, as LightGBM's covers `Dataset` construction and
//! boosting. The two run interleaved `PUHUI_BENCH_RUNS` times (default 3), so background load
//! on a shared machine hits both alike; the report gives the median and the range of
//! rows × rounds per second (wall and per CPU-second) and the test AUC of each.
//!
//! LightGBM runs as `$PUHUI_BENCH_PYTHON scripts/bench-gbm-lib.py --lib lightgbm --mode
//! default` (default interpreter `.cache/venv/bin/python`, else `python3`); without the
//! package, or with `PUHUI_BENCH_PYTHON=none`, the Puhui side runs alone.

use anyhow::{bail, Context, Result};
use risk::{TargetSpec, TrainOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

struct Run {
    rows_rounds_per_s: f64,
    rows_rounds_per_cpu_s: f64,
    train_s: f64,
    auc: f64,
    rounds: usize,
}

fn root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={v} is not valid")),
        Err(_) => Ok(default),
    }
}

/// User plus system CPU time of this process (all threads), from /proc (Linux).
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// One Puhui training of `rounds` rounds on the train rows, measured on the test rows.
fn puhui(data: &risk::Dataset, y: &[u8], target: &TargetSpec, rounds: usize) -> Result<Run> {
    let (train_rows, test_rows) = risk::split_rows(data.n_rows);
    let mut options = TrainOptions::default();
    options.gbm.max_rounds = Some(rounds);
    // Never stop early: the point is a fixed amount of work.
    options.gbm.early_stopping_rounds = Some(rounds + 1);
    let params = options.gbm.resolve(train_rows.len());
    let n_fit = train_rows.len() - train_rows.len().div_ceil(params.valid_every);
    let mut done = 0;
    let cpu = process_cpu_secs();
    let start = Instant::now();
    let prepared = risk::Model::prepare_gbm(data, target, y, &train_rows, &options);
    let model = prepared.train(&mut |round, _| done = round);
    let train_s = start.elapsed().as_secs_f64();
    let cpu_s = match (cpu, process_cpu_secs()) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    let p = model.predict_probabilities(data);
    let (ty, tp): (Vec<u8>, Vec<f64>) = test_rows.iter().map(|&r| (y[r], p[r])).unzip();
    let work = (n_fit * done) as f64;
    Ok(Run {
        rows_rounds_per_s: work / train_s,
        rows_rounds_per_cpu_s: work / cpu_s,
        train_s,
        auc: risk::metrics::auc(&ty, &tp),
        rounds: done,
    })
}

/// One LightGBM run of `scripts/bench-gbm-lib.py`; `None` when the package is missing.
fn lightgbm(python: &str, data: &Path, target: &str, n_train: usize) -> Result<Option<Run>> {
    let out = Command::new(python)
        .arg(root().join("scripts/bench-gbm-lib.py"))
        .args(["--lib", "lightgbm", "--mode", "default", "--target", target])
        .arg("--data")
        .arg(data)
        .output()
        .with_context(|| format!("run {python}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No module named") {
            eprintln!("LightGBM skipped: {}", err.lines().last().unwrap_or(""));
            return Ok(None);
        }
        bail!("bench-gbm-lib.py failed: {err}");
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim().lines().last().unwrap_or(""))
        .context("parse bench-gbm-lib.py output")?;
    let num = |k: &str| v[k].as_f64().with_context(|| format!("{k} in {line}"));
    let rounds = num("rounds")? as usize;
    let work = (n_train * rounds) as f64;
    Ok(Some(Run {
        rows_rounds_per_s: work / num("train_s")?,
        rows_rounds_per_cpu_s: work / num("train_cpu_s")?,
        train_s: num("train_s")?,
        auc: num("auc")?,
        rounds,
    }))
}

fn summary(name: &str, runs: &[Run]) {
    let spread = |f: fn(&Run) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let (wall, wall_lo, wall_hi) = spread(|r| r.rows_rounds_per_s);
    let (cpu, cpu_lo, cpu_hi) = spread(|r| r.rows_rounds_per_cpu_s);
    let (secs, secs_lo, secs_hi) = spread(|r| r.train_s);
    println!(
        "{name:<9} {:>5.2} M rows x rounds/s ({wall_lo:.2}-{wall_hi:.2}) | per CPU-s {:>5.2} M \
         ({cpu_lo:.2}-{cpu_hi:.2}) | train {secs:.1} s ({secs_lo:.1}-{secs_hi:.1}) | {} rounds | \
         test AUC {:.4} | {} runs",
        wall / 1e6,
        cpu / 1e6,
        runs[0].rounds,
        runs[0].auc,
        runs.len(),
        wall_lo = wall_lo / 1e6,
        wall_hi = wall_hi / 1e6,
        cpu_lo = cpu_lo / 1e6,
        cpu_hi = cpu_hi / 1e6,
    );
}

fn main() -> Result<()> {
    let data_path = match std::env::var_os("PUHUI_BENCH_DATA") {
        Some(p) => PathBuf::from(p),
        None => root().join("testdata/synthetic/credit-1m.csv"),
    };
    if !data_path.exists() {
        bail!(
            "{} is absent; write it with scripts/make-synthetic.py (seeded) first",
            data_path.display()
        );
    }
    let target_name: String = env_or("PUHUI_BENCH_TARGET", "is_bad".to_string())?;
    let rounds: usize = env_or("PUHUI_BENCH_ROUNDS", 100)?;
    let n_runs: usize = env_or("PUHUI_BENCH_RUNS", 3)?;
    let venv = root().join(".cache/venv/bin/python");
    let default_python = if venv.exists() {
        venv.display().to_string()
    } else {
        "python3".to_string()
    };
    let python: String = env_or("PUHUI_BENCH_PYTHON", default_python)?;
    let target = TargetSpec {
        column: target_name.clone(),
        bad_value: None,
    };
    let start = Instant::now();
    let (data, y, target) = riskops::load_training(&data_path, &target, &[])?;
    println!(
        "{}: {} rows x {} features, loaded in {:.1} s; {} rounds, {} interleaved runs",
        data_path.display(),
        data.n_rows,
        data.n_features(),
        start.elapsed().as_secs_f64(),
        rounds,
        n_runs
    );
    let n_train = risk::split_rows(data.n_rows).0.len();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut with_lightgbm = python != "none";
    for run in 1..=n_runs.max(1) {
        let r = puhui(&data, &y, &target, rounds)?;
        eprintln!("run {run}: puhui    {:.1} s, AUC {:.4}", r.train_s, r.auc);
        ours.push(r);
        if with_lightgbm {
            match lightgbm(&python, &data_path, &target_name, n_train)? {
                Some(r) => {
                    eprintln!("run {run}: lightgbm {:.1} s, AUC {:.4}", r.train_s, r.auc);
                    theirs.push(r);
                }
                None => with_lightgbm = false,
            }
        }
    }
    summary("puhui", &ours);
    if !theirs.is_empty() {
        summary("lightgbm", &theirs);
        let median = |v: &[Run]| {
            let mut x: Vec<f64> = v.iter().map(|r| r.rows_rounds_per_s).collect();
            x.sort_by(f64::total_cmp);
            x[x.len() / 2]
        };
        println!(
            "puhui / lightgbm throughput (medians): {:.2}",
            median(&ours) / median(&theirs)
        );
    }
    Ok(())
}
