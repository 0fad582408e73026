//! Shared test helpers: the SIFMA/BMA reference tables.
#![allow(dead_code)]

use std::path::PathBuf;

/// The directory of the SIFMA/BMA tables, or `None` (with a message) when it is absent
/// outside CI. In CI an absent table fails the test: the acceptance check must run there.
pub fn sifma_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sifma");
    if dir.join("bma_cashflow_a.csv").exists() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!("SIFMA tables missing at {} (required in CI)", dir.display());
    }
    eprintln!("skipping: SIFMA tables not found at {}", dir.display());
    None
}

/// Data rows of a comment-prefixed CSV without quoted fields: (header, rows).
pub fn simple_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text
        .lines()
        .map(|l| l.trim_start_matches('\u{feff}').trim_end_matches('\r'))
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let header = lines
        .next()
        .expect("a header line")
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(|s| s.trim().to_string()).collect())
        .collect();
    (header, rows)
}

/// Splits a CSV whose header fields are quoted and may hold line breaks; returns the
/// header (whitespace collapsed) and the records.
pub fn quoted_csv(text: &str) -> Vec<Vec<String>> {
    let text = text.trim_start_matches('\u{feff}');
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => record.push(std::mem::take(&mut field)),
            '\r' if !quoted => {}
            '\n' if !quoted => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|f| f.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect()
        })
        .collect()
}

mod deals;
#[allow(unused_imports)]
pub use deals::*;
