//! `puhui model features`: raw applications (JSON lines) → a feature CSV for training, by the
//! same `risk::features::compute` the decision service runs.

use anyhow::{Context, Result};
use risk::features::{compute, DecisionInput, FeatureDef, Value};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A file with a `features` list; other keys (a whole policy) are ignored.
#[derive(Deserialize)]
struct Spec {
    features: Vec<FeatureDef>,
}

/// Lines are bounded so a runaway file is an error, not an out-of-memory.
pub const LINES_MAX: usize = 10_000_000;

pub fn run(spec: &Path, input: &Path, out: &Path) -> Result<()> {
    let text = std::fs::read_to_string(spec)
        .with_context(|| format!("read feature spec {}", spec.display()))?;
    let spec: Spec = serde_path_to_json(&text)
        .with_context(|| format!("parse feature spec {}", spec.display()))?;
    for (i, d) in spec.features.iter().enumerate() {
        risk::features::check_source(&d.source)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("feature spec features[{i}] `{}`", d.name))?;
    }
    let raw = std::fs::read_to_string(input)
        .with_context(|| format!("read raw applications {}", input.display()))?;
    let rows = rows(&spec.features, &raw).with_context(|| format!("read {}", input.display()))?;
    let extra: Vec<String> = rows
        .iter()
        .flat_map(|r| r.2.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    crate::write_atomic(out, |w| {
        let mut csv = csv::Writer::from_writer(w);
        let mut header = vec!["applicant_id".to_string(), "as_of".to_string()];
        header.extend(spec.features.iter().map(|d| d.name.clone()));
        header.extend(extra.iter().cloned());
        csv.write_record(&header)?;
        for (input, values, rest) in &rows {
            let mut rec = vec![input.applicant_id.clone(), input.as_of.clone()];
            rec.extend(values.iter().map(cell));
            rec.extend(
                extra
                    .iter()
                    .map(|k| rest.get(k).map(json_cell).unwrap_or_default()),
            );
            csv.write_record(&rec)?;
        }
        csv.flush()?;
        Ok(())
    })
}

type Row = (
    DecisionInput,
    Vec<Value>,
    BTreeMap<String, serde_json::Value>,
);

fn rows(defs: &[FeatureDef], raw: &str) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for (n, line) in raw
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        anyhow::ensure!(out.len() < LINES_MAX, "more than {LINES_MAX} lines");
        let line_no = n + 1;
        let mut v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("line {line_no}: not JSON"))?;
        let (input, rest) = match v.as_object_mut().and_then(|o| o.remove("input")) {
            Some(input) => {
                let rest = v
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                (input, rest)
            }
            None => (v, BTreeMap::new()),
        };
        let input: DecisionInput = serde_path_to_error::deserialize(input)
            .map_err(|e| anyhow::anyhow!("line {line_no}: at `{}`: {}", e.path(), e.inner()))?;
        let values = compute(defs, &input).map_err(|e| anyhow::anyhow!("line {line_no}: {e}"))?;
        out.push((input, values, rest));
    }
    anyhow::ensure!(!out.is_empty(), "no applications");
    Ok(out)
}

fn serde_path_to_json(text: &str) -> Result<Spec> {
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
        .map_err(|e| anyhow::anyhow!("at `{}`: {}", e.path(), e.inner()))
}

/// Missing is an empty cell, which `train` reads as missing.
fn cell(v: &Value) -> String {
    match v {
        Value::Number(x) => x.to_string(),
        Value::Text(t) => t.clone(),
        Value::Missing => String::new(),
    }
}

fn json_cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}
