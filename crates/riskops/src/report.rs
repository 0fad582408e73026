//! Model reports: discrimination (AUC, Gini, KS), accuracy (Brier, logloss), a calibration
//! table, PSI between a baseline and the evaluated sample, an IV table, feature importance and
//! the score distribution. Rendered as text, or as HTML with inline SVG charts (no scripts).

use crate::io;
use anyhow::{Context, Result};
use risk::metrics::{self, CalibrationBin, Summary};
use risk::scorecard::{self, ScorecardParams};
use risk::{Dataset, Model, Table, TargetSpec};
use serde::Serialize;
use std::fmt::Write;
use std::path::PathBuf;

pub struct ReportArgs {
    pub model: PathBuf,
    pub data: PathBuf,
    pub target: Option<String>,
    pub bad_value: Option<String>,
    pub baseline: Option<PathBuf>,
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Html,
    Json,
}

/// Predictions on one labelled sample.
#[derive(Serialize)]
pub struct Sample {
    pub name: String,
    #[serde(skip)]
    pub y: Vec<u8>,
    #[serde(skip)]
    pub p: Vec<f64>,
    #[serde(skip)]
    pub score: Option<Vec<f64>>,
    pub summary: Summary,
}

#[derive(Serialize)]
pub struct IvRow {
    pub name: String,
    pub bins: usize,
    pub iv: f64,
    /// Stability of the feature itself: PSI of its bin shares, baseline vs evaluated.
    pub psi: f64,
}

#[derive(Serialize)]
pub struct Report {
    pub model: String,
    pub baseline: Sample,
    pub eval: Sample,
    pub calibration: Vec<CalibrationBin>,
    pub psi: f64,
    pub iv: Vec<IvRow>,
    /// (feature, importance, note) sorted by importance.
    pub importance: Vec<(String, f64, String)>,
    /// (bucket label, goods, bads) over the score (or probability) of the evaluated sample.
    pub distribution: Vec<(String, usize, usize)>,
    /// For scorecards: base points and (feature, bin, rows, bad rate, WoE, points).
    pub card: Option<(f64, Vec<[String; 6]>)>,
    /// For scorecards: every candidate feature's training IV and why it is in or out.
    pub selection: Vec<(String, f64, String)>,
}

pub fn build(args: &ReportArgs) -> Result<String> {
    let report = compute(args)?;
    Ok(match args.format {
        Format::Text => text(&report),
        Format::Html => html(&report),
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
    })
}

fn target_of(args: &ReportArgs, model: &Model) -> Result<TargetSpec> {
    match (&args.target, model.target()) {
        (Some(column), _) => Ok(TargetSpec {
            column: column.clone(),
            bad_value: args.bad_value.clone(),
        }),
        (None, Some(t)) => Ok(t.clone()),
        (None, None) => anyhow::bail!("imported models do not know their target; pass --target"),
    }
}

fn sample(
    name: &str,
    model: &Model,
    table: &Table,
    target: &TargetSpec,
) -> Result<(Sample, Dataset)> {
    let y = target
        .labels(table)
        .with_context(|| format!("label the {name} sample"))?;
    let data = model
        .schema()
        .encode(table)
        .with_context(|| format!("encode the {name} sample"))?;
    let out = model.predict_all(&data);
    let p: Vec<f64> = out.iter().map(|o| o.0).collect();
    let score: Option<Vec<f64>> = out.iter().map(|o| o.1).collect();
    let summary = crate::measure(&format!("{name} sample"), &y, &p)?;
    Ok((
        Sample {
            name: name.into(),
            y,
            p,
            score,
            summary,
        },
        data,
    ))
}

pub fn compute(args: &ReportArgs) -> Result<Report> {
    let model = io::load_model(&args.model)?;
    let table = io::load_table(&args.data)?;
    let target = target_of(args, &model)?;
    let (base_table, eval_table, names) = match &args.baseline {
        Some(path) => (io::load_table(path)?, table, ("baseline", "evaluated")),
        None => {
            let (train, test) = risk::split_rows(table.n_rows());
            (
                table.select_rows(&train),
                table.select_rows(&test),
                ("train", "test"),
            )
        }
    };
    let (baseline, base_data) = sample(names.0, &model, &base_table, &target)?;
    let (eval, eval_data) = sample(names.1, &model, &eval_table, &target)?;
    let psi = metrics::psi(&baseline.p, &eval.p, 10);
    Ok(Report {
        model: describe(&model),
        calibration: metrics::calibration(&eval.y, &eval.p, 10),
        psi,
        iv: iv_table(&base_data, &baseline.y, &eval_data),
        importance: importance(&model),
        distribution: distribution(&eval),
        card: card_table(&model),
        selection: match &model {
            Model::Scorecard { card, .. } => card
                .selection
                .iter()
                .map(|x| (x.name.clone(), x.iv, x.status.clone()))
                .collect(),
            _ => Vec::new(),
        },
        baseline,
        eval,
    })
}

/// The scorecard as a points table, the form a credit committee signs off.
fn card_table(model: &Model) -> Option<(f64, Vec<[String; 6]>)> {
    let Model::Scorecard { card, .. } = model else {
        return None;
    };
    let mut rows = Vec::new();
    for f in &card.features {
        for b in &f.binning.bins {
            let rate = if b.count == 0 {
                "-".to_string()
            } else {
                format!("{:.4}", b.bads as f64 / b.count as f64)
            };
            let cells = [
                f.binning.name.clone(),
                b.label.clone(),
                b.count.to_string(),
                rate,
                format!("{:.4}", b.woe),
                format!("{:.1}", b.points),
            ];
            rows.push(cells);
        }
    }
    Some((card.base_points, rows))
}

fn describe(model: &Model) -> String {
    match model {
        Model::Scorecard { card, .. } => format!("scorecard ({} features)", card.features.len()),
        Model::Gbm { gbm, .. } => {
            format!("gradient-boosted trees ({} trees)", gbm.forest.n_trees())
        }
        Model::Imported { source, forest, .. } => {
            format!("imported {source} ({} trees)", forest.n_trees())
        }
    }
}

/// IV of every model input, binned on the baseline sample as the scorecard would, and the
/// PSI of the evaluated sample over those bins.
fn iv_table(data: &Dataset, y: &[u8], eval: &Dataset) -> Vec<IvRow> {
    let rows: Vec<usize> = (0..data.n_rows).collect();
    let params = ScorecardParams::default();
    let mut out: Vec<IvRow> = (0..data.n_features())
        .map(|f| {
            let b = scorecard::bin_feature(data, f, &rows, y, &params);
            let expected: Vec<usize> = b.bins.iter().map(|bin| bin.count).collect();
            let mut actual = vec![0; b.bins.len()];
            (0..eval.n_rows).for_each(|r| actual[b.bin_of(eval.value(r, f))] += 1);
            IvRow {
                name: b.name.clone(),
                bins: b.bins.iter().filter(|b| b.count > 0).count(),
                iv: b.iv,
                psi: metrics::psi_counts(&expected, &actual),
            }
        })
        .collect();
    out.sort_by(|a, b| b.iv.total_cmp(&a.iv));
    out
}

fn importance(model: &Model) -> Vec<(String, f64, String)> {
    let names: Vec<&str> = model
        .schema()
        .features
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    let mut out: Vec<(String, f64, String)> = match model {
        Model::Scorecard { card, .. } => card
            .features
            .iter()
            .map(|f| {
                (
                    f.binning.name.clone(),
                    f.coefficient * f.binning.iv,
                    format!("coefficient {:.3}", f.coefficient),
                )
            })
            .collect(),
        Model::Gbm { gbm, .. } => names
            .iter()
            .zip(gbm.importance_gain.iter().zip(&gbm.importance_splits))
            .map(|(n, (g, s))| (n.to_string(), *g, format!("{s} splits")))
            .collect(),
        Model::Imported { forest, .. } => {
            let mut splits = vec![0usize; names.len()];
            forest
                .nodes
                .iter()
                .filter(|n| n.feature != risk::forest::LEAF)
                .for_each(|n| splits[n.feature as usize] += 1);
            names
                .iter()
                .zip(splits)
                .map(|(n, s)| (n.to_string(), s as f64, "splits".to_string()))
                .collect()
        }
    };
    let total: f64 = out.iter().map(|o| o.1.abs()).sum::<f64>().max(1e-300);
    out.iter_mut().for_each(|o| o.1 /= total);
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// Ten equal-width buckets over the score (scorecards) or the probability of bad.
fn distribution(s: &Sample) -> Vec<(String, usize, usize)> {
    let values = s.score.as_ref().unwrap_or(&s.p);
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = ((hi - lo) / 10.0).max(1e-12);
    let mut buckets: Vec<(String, usize, usize)> = (0..10)
        .map(|b| {
            (
                format!(
                    "{:.3}–{:.3}",
                    lo + width * b as f64,
                    lo + width * (b + 1) as f64
                ),
                0,
                0,
            )
        })
        .collect();
    for (v, &y) in values.iter().zip(&s.y) {
        let b = (((v - lo) / width) as usize).min(9);
        if y == 1 {
            buckets[b].2 += 1;
        } else {
            buckets[b].1 += 1;
        }
    }
    buckets
}

fn text(r: &Report) -> String {
    let mut o = String::new();
    text_metrics(&mut o, r);
    text_features(&mut o, r);
    o
}

/// Summary table, score PSI and calibration.
fn text_metrics(o: &mut String, r: &Report) {
    let _ = writeln!(o, "Model: {}\n", r.model);
    let _ = writeln!(
        o,
        "{:<10} {:>7} {:>8} {:>7} {:>7} {:>7} {:>7} {:>8}",
        "sample", "rows", "bad", "AUC", "Gini", "KS", "Brier", "logloss"
    );
    for s in [&r.baseline, &r.eval] {
        let m = &s.summary;
        let _ = writeln!(
            o,
            "{:<10} {:>7} {:>8.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>8.4}",
            s.name, m.rows, m.bad_rate, m.auc, m.gini, m.ks, m.brier, m.logloss
        );
    }
    let _ = writeln!(
        o,
        "\nPSI of predicted probability, {} vs {}: {:.4}",
        r.baseline.name, r.eval.name, r.psi
    );
    let _ = writeln!(
        o,
        "\nCalibration ({}, deciles of predicted probability)",
        r.eval.name
    );
    let _ = writeln!(o, "{:>6} {:>10} {:>10}", "rows", "predicted", "observed");
    for c in &r.calibration {
        let _ = writeln!(
            o,
            "{:>6} {:>10.4} {:>10.4}",
            c.count, c.mean_predicted, c.observed_bad_rate
        );
    }
}

/// IV and feature PSI, selection, importance, the points table and the score distribution.
fn text_features(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "\nInformation value ({} sample) and feature PSI ({} vs {})",
        r.baseline.name, r.baseline.name, r.eval.name
    );
    for iv in &r.iv {
        let _ = writeln!(
            o,
            "{:<45} {:>3} bins  IV {:>7.4}  PSI {:>7.4}",
            iv.name, iv.bins, iv.iv, iv.psi
        );
    }
    if !r.selection.is_empty() {
        let _ = writeln!(o, "\nFeature selection (training IV)");
        for (name, iv, status) in &r.selection {
            let _ = writeln!(o, "{name:<45} IV {iv:>7.4}  {status}");
        }
    }
    let _ = writeln!(o, "\nFeature importance (share)");
    for (name, share, note) in r.importance.iter().filter(|i| i.1 != 0.0) {
        let _ = writeln!(o, "{name:<45} {share:>7.4}  {note}");
    }
    if let Some((base, rows)) = &r.card {
        let _ = writeln!(o, "\nScorecard: base points {base:.1}");
        for [f, bin, n, rate, woe, points] in rows {
            let _ = writeln!(
                o,
                "{f:<32.32} {bin:<40.40} {n:>6} {rate:>7} {woe:>8} {points:>7}"
            );
        }
    }
    let what = if r.eval.score.is_some() {
        "score"
    } else {
        "probability of bad"
    };
    let _ = writeln!(o, "\nDistribution of {what} ({})", r.eval.name);
    for (label, goods, bads) in &r.distribution {
        let _ = writeln!(o, "{label:<24} goods {goods:>6}  bads {bads:>6}");
    }
}

fn html(r: &Report) -> String {
    let mut o = String::from("<!doctype html><html><head><meta charset=\"utf-8\"><title>Model report</title><style>body{font-family:sans-serif;max-width:960px;margin:2em auto}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}svg{margin:0 1em 1em 0}</style></head><body>");
    html_metrics(&mut o, r);
    html_features(&mut o, r);
    o.push_str("</body></html>\n");
    o
}

/// Summary table, charts and calibration.
fn html_metrics(o: &mut String, r: &Report) {
    let _ = write!(o, "<h1>Model report</h1><p>{}</p>", esc(&r.model));
    let mut rows = Vec::new();
    for s in [&r.baseline, &r.eval] {
        let m = &s.summary;
        rows.push(vec![
            s.name.clone(),
            m.rows.to_string(),
            format!("{:.4}", m.bad_rate),
            format!("{:.4}", m.auc),
            format!("{:.4}", m.gini),
            format!("{:.4}", m.ks),
            format!("{:.4}", m.brier),
            format!("{:.4}", m.logloss),
        ]);
    }
    table(
        o,
        &[
            "sample", "rows", "bad rate", "AUC", "Gini", "KS", "Brier", "logloss",
        ],
        &rows,
    );
    let _ = write!(
        o,
        "<p>PSI of predicted probability, {} vs {}: <b>{:.4}</b></p>",
        r.baseline.name, r.eval.name, r.psi
    );
    o.push_str(&roc_svg(r));
    o.push_str(&calibration_svg(&r.calibration));
    o.push_str(&distribution_svg(&r.distribution));
    o.push_str("<h2>Calibration</h2>");
    let rows: Vec<Vec<String>> = r
        .calibration
        .iter()
        .map(|c| {
            vec![
                c.count.to_string(),
                format!("{:.4}", c.mean_predicted),
                format!("{:.4}", c.observed_bad_rate),
            ]
        })
        .collect();
    table(o, &["rows", "predicted", "observed"], &rows);
}

/// IV and feature PSI, selection, importance and the points table.
fn html_features(o: &mut String, r: &Report) {
    o.push_str("<h2>Information value</h2>");
    let rows: Vec<Vec<String>> =
        r.iv.iter()
            .map(|i| {
                vec![
                    esc(&i.name),
                    i.bins.to_string(),
                    format!("{:.4}", i.iv),
                    format!("{:.4}", i.psi),
                ]
            })
            .collect();
    table(o, &["feature", "bins", "IV", "PSI"], &rows);
    if !r.selection.is_empty() {
        o.push_str("<h2>Feature selection (training IV)</h2>");
        let rows: Vec<Vec<String>> = r
            .selection
            .iter()
            .map(|(n, iv, st)| vec![esc(n), format!("{iv:.4}"), esc(st)])
            .collect();
        table(o, &["feature", "IV", "status"], &rows);
    }
    o.push_str("<h2>Feature importance</h2>");
    let rows: Vec<Vec<String>> = r
        .importance
        .iter()
        .filter(|i| i.1 != 0.0)
        .map(|(n, s, note)| vec![esc(n), format!("{s:.4}"), esc(note)])
        .collect();
    table(o, &["feature", "share", ""], &rows);
    if let Some((base, rows)) = &r.card {
        let _ = write!(o, "<h2>Scorecard</h2><p>Base points {base:.1}</p>");
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|c| esc(c)).collect())
            .collect();
        table(
            o,
            &["feature", "bin", "rows", "bad rate", "WoE", "points"],
            &rows,
        );
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn table(o: &mut String, header: &[&str], rows: &[Vec<String>]) {
    o.push_str("<table><tr>");
    header.iter().for_each(|h| {
        let _ = write!(o, "<th>{h}</th>");
    });
    o.push_str("</tr>");
    for row in rows {
        o.push_str("<tr>");
        row.iter().for_each(|c| {
            let _ = write!(o, "<td>{c}</td>");
        });
        o.push_str("</tr>");
    }
    o.push_str("</table>");
}

const SIZE: f64 = 280.0;
const PAD: f64 = 30.0;

/// A square plot frame with unit axes; `(x, y)` in [0, 1] maps into it.
fn frame(title: &str) -> String {
    let s = SIZE + 2.0 * PAD;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{s}\" height=\"{s}\" viewBox=\"0 0 {s} {s}\"><text x=\"{PAD}\" y=\"18\" font-size=\"13\">{title}</text><rect x=\"{PAD}\" y=\"{PAD}\" width=\"{SIZE}\" height=\"{SIZE}\" fill=\"none\" stroke=\"#999\"/>"
    )
}

fn pt(x: f64, y: f64) -> String {
    format!("{:.1},{:.1}", PAD + x * SIZE, PAD + (1.0 - y) * SIZE)
}

fn polyline(points: &[(f64, f64)], color: &str) -> String {
    let path: Vec<String> = points.iter().map(|&(x, y)| pt(x, y)).collect();
    format!(
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
        path.join(" ")
    )
}

/// At most ~200 points of a curve (first and last kept): enough for a 280-pixel chart and a
/// small page even with one ROC point per distinct probability.
fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let step = points.len().div_ceil(200).max(1);
    let last = points.last().copied();
    let mut out: Vec<(f64, f64)> = points.into_iter().step_by(step).collect();
    if let Some(l) = last {
        if out.last() != Some(&l) {
            out.push(l);
        }
    }
    out
}

fn roc_svg(r: &Report) -> String {
    let mut o = frame("ROC (blue: evaluated, grey: baseline)");
    o.push_str(&polyline(&[(0.0, 0.0), (1.0, 1.0)], "#ddd"));
    o.push_str(&polyline(
        &thin(metrics::roc(&r.baseline.y, &r.baseline.p)),
        "#aaa",
    ));
    o.push_str(&polyline(
        &thin(metrics::roc(&r.eval.y, &r.eval.p)),
        "#1f5fbf",
    ));
    o.push_str("</svg>");
    o
}

fn calibration_svg(bins: &[CalibrationBin]) -> String {
    let top = bins
        .iter()
        .map(|b| b.mean_predicted.max(b.observed_bad_rate))
        .fold(0.05, f64::max)
        .min(1.0);
    let mut o = frame(&format!("Calibration (axes 0–{top:.2})"));
    o.push_str(&polyline(&[(0.0, 0.0), (1.0, 1.0)], "#ddd"));
    let points: Vec<(f64, f64)> = bins
        .iter()
        .map(|b| (b.mean_predicted / top, b.observed_bad_rate / top))
        .collect();
    o.push_str(&polyline(&points, "#c0392b"));
    for (x, y) in points {
        let _ = write!(
            o,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#c0392b\"/>",
            PAD + x * SIZE,
            PAD + (1.0 - y) * SIZE
        );
    }
    o.push_str("</svg>");
    o
}

fn distribution_svg(buckets: &[(String, usize, usize)]) -> String {
    let top = buckets
        .iter()
        .map(|b| b.1.max(b.2))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut o = frame("Distribution (green: good, red: bad)");
    let w = SIZE / buckets.len() as f64;
    for (i, (_, goods, bads)) in buckets.iter().enumerate() {
        for (k, (n, color)) in [(*goods, "#27ae60"), (*bads, "#c0392b")]
            .into_iter()
            .enumerate()
        {
            let h = n as f64 / top * SIZE;
            let x = PAD + i as f64 * w + k as f64 * w / 2.0;
            let _ = write!(o, "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{color}\"/>", PAD + SIZE - h, w / 2.0 - 1.0);
        }
    }
    o.push_str("</svg>");
    o
}
