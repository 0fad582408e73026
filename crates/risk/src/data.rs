//! From strings to numbers: column typing, target labels and the row-major feature matrix
//! every model scores from.

use crate::RiskError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A parsed CSV held column-major as strings. The caller (the I/O shell) fills it.
#[derive(Debug, Clone)]
pub struct Table {
    pub header: Vec<String>,
    pub columns: Vec<Vec<String>>,
}

impl Table {
    /// Builds a table from records, rejecting rows whose width differs from the header.
    pub fn from_records(
        header: Vec<String>,
        records: Vec<Vec<String>>,
    ) -> Result<Table, RiskError> {
        for (i, name) in header.iter().enumerate() {
            if header[..i].contains(name) {
                return Err(RiskError::DuplicateColumn {
                    column: name.clone(),
                });
            }
        }
        let mut columns: Vec<Vec<String>> = vec![Vec::with_capacity(records.len()); header.len()];
        for (i, record) in records.into_iter().enumerate() {
            if record.len() != header.len() {
                return Err(RiskError::RaggedRow {
                    row: i + 1,
                    found: record.len(),
                    expected: header.len(),
                });
            }
            for (column, value) in columns.iter_mut().zip(record) {
                column.push(value);
            }
        }
        Ok(Table { header, columns })
    }

    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    pub fn column(&self, name: &str) -> Result<&[String], RiskError> {
        match self.header.iter().position(|h| h == name) {
            Some(i) => Ok(&self.columns[i]),
            None => Err(RiskError::MissingColumn {
                column: name.to_string(),
                available: self.header.join(", "),
            }),
        }
    }

    /// Keeps only the given rows, in the given order (used for train/test splits).
    pub fn select_rows(&self, rows: &[usize]) -> Table {
        let columns = self
            .columns
            .iter()
            .map(|c| rows.iter().map(|&r| c[r].clone()).collect())
            .collect();
        Table {
            header: self.header.clone(),
            columns,
        }
    }
}

/// Tokens that mean "no value" in the CSVs we see; compared case-insensitively after trimming.
/// `none` is deliberately absent: it is a real category in credit data ("other debtors: none").
pub fn is_missing(value: &str) -> bool {
    let v = value.trim();
    v.is_empty()
        || ["na", "n/a", "nan", "null", "?"]
            .iter()
            .any(|m| v.eq_ignore_ascii_case(m))
}

fn parse_number(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeatureKind {
    Numeric,
    /// Levels in first-seen order; a value's code is its index here.
    Categorical {
        levels: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub name: String,
    pub kind: FeatureKind,
}

/// The input columns a model reads, by name, and how to turn their strings into numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub features: Vec<FeatureSpec>,
}

/// Which column is the target and which of its values means "bad".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSpec {
    pub column: String,
    pub bad_value: Option<String>,
}

/// A typed dataset: row-major `f64` features (categorical = level code, missing = NaN).
#[derive(Debug, Clone)]
pub struct Dataset {
    pub schema: Schema,
    pub n_rows: usize,
    pub x: Vec<f64>,
}

impl Dataset {
    pub fn n_features(&self) -> usize {
        self.schema.features.len()
    }

    pub fn row(&self, i: usize) -> &[f64] {
        let k = self.n_features();
        &self.x[i * k..(i + 1) * k]
    }

    pub fn value(&self, row: usize, feature: usize) -> f64 {
        self.x[row * self.n_features() + feature]
    }

    /// The same rows with only the features of `schema` (each found here by name), in its
    /// order: what encoding the table with `schema` gives when its features are a subset.
    pub fn project(&self, schema: &Schema) -> Dataset {
        let pick: Vec<usize> = schema
            .features
            .iter()
            .map(|f| {
                let i = self.schema.features.iter().position(|g| g.name == f.name);
                let i = i.expect("the projected schema's features are in the dataset");
                assert_eq!(self.schema.features[i], *f, "feature `{}` differs", f.name);
                i
            })
            .collect();
        let mut x = Vec::with_capacity(self.n_rows * pick.len());
        for r in 0..self.n_rows {
            let row = self.row(r);
            x.extend(pick.iter().map(|&i| row[i]));
        }
        Dataset {
            schema: schema.clone(),
            n_rows: self.n_rows,
            x,
        }
    }
}

impl Schema {
    /// Types every column except the target: numeric when all present values parse as
    /// numbers, categorical otherwise. A column where nearly all values are numbers but a few
    /// are not is reported as an error: that is a typo, not a category.
    /// Columns in `exclude` (ids, dates, leakage) are left out; each must exist.
    pub fn infer(table: &Table, target: &str, exclude: &[String]) -> Result<Schema, RiskError> {
        table.column(target)?;
        for column in exclude {
            table.column(column)?;
        }
        let mut features = Vec::new();
        for (name, column) in table.header.iter().zip(&table.columns) {
            if name == target || exclude.contains(name) {
                continue;
            }
            features.push(FeatureSpec {
                name: name.clone(),
                kind: infer_kind(name, column)?,
            });
        }
        if features.is_empty() {
            return Err(RiskError::NoFeatures);
        }
        Ok(Schema { features })
    }

    /// Keeps only the features at `keep` (in that order); models drop inputs they never read
    /// so scoring files need not carry them.
    pub fn subset(&self, keep: &[usize]) -> Schema {
        Schema {
            features: keep.iter().map(|&f| self.features[f].clone()).collect(),
        }
    }

    /// Encodes a table into a dataset. Unseen categories become missing (NaN): every model
    /// then treats them like a missing value — the documented fallback for new levels.
    pub fn encode(&self, table: &Table) -> Result<Dataset, RiskError> {
        let n_rows = table.n_rows();
        let k = self.features.len();
        let mut x = vec![f64::NAN; n_rows * k];
        for (j, spec) in self.features.iter().enumerate() {
            let column = table.column(&spec.name)?;
            match &spec.kind {
                FeatureKind::Numeric => encode_numeric(&spec.name, column, &mut x, j, k)?,
                FeatureKind::Categorical { levels } => {
                    encode_categorical(levels, column, &mut x, j, k)
                }
            }
        }
        Ok(Dataset {
            schema: self.clone(),
            n_rows,
            x,
        })
    }
}

fn infer_kind(name: &str, column: &[String]) -> Result<FeatureKind, RiskError> {
    let present: Vec<(usize, &String)> = column
        .iter()
        .enumerate()
        .filter(|(_, v)| !is_missing(v))
        .collect();
    let bad: Vec<&(usize, &String)> = present
        .iter()
        .filter(|(_, v)| parse_number(v).is_none())
        .collect();
    if bad.is_empty() {
        return Ok(FeatureKind::Numeric);
    }
    // Fewer than 1% non-numbers in a numeric-looking column: a corrupt cell, name it.
    if bad.len() * 100 < present.len() {
        let (row, value) = bad[0];
        return Err(RiskError::BadNumber {
            column: name.to_string(),
            row: row + 1,
            value: value.to_string(),
        });
    }
    let mut levels: Vec<String> = Vec::new();
    let mut seen: HashMap<&str, ()> = HashMap::new();
    for (_, v) in &present {
        let v = v.trim();
        if seen.insert(v, ()).is_none() {
            levels.push(v.to_string());
        }
    }
    Ok(FeatureKind::Categorical { levels })
}

fn encode_numeric(
    name: &str,
    column: &[String],
    x: &mut [f64],
    j: usize,
    k: usize,
) -> Result<(), RiskError> {
    for (i, v) in column.iter().enumerate() {
        if is_missing(v) {
            continue;
        }
        match parse_number(v) {
            Some(value) => x[i * k + j] = value,
            None => {
                return Err(RiskError::BadNumber {
                    column: name.to_string(),
                    row: i + 1,
                    value: v.clone(),
                })
            }
        }
    }
    Ok(())
}

fn encode_categorical(levels: &[String], column: &[String], x: &mut [f64], j: usize, k: usize) {
    let index: HashMap<&str, usize> = levels
        .iter()
        .enumerate()
        .map(|(c, l)| (l.as_str(), c))
        .collect();
    for (i, v) in column.iter().enumerate() {
        if let Some(&code) = index.get(v.trim()) {
            x[i * k + j] = code as f64;
        }
    }
}

impl TargetSpec {
    /// Labels rows 1 = bad, 0 = good. Without an explicit bad value the target must be 0/1.
    pub fn labels(&self, table: &Table) -> Result<Vec<u8>, RiskError> {
        let bad = self.bad_value_in(table)?;
        let column = table.column(&self.column)?;
        let labels: Vec<u8> = column
            .iter()
            .map(|v| u8::from(same_value(v.trim(), &bad)))
            .collect();
        let n_bad = labels.iter().filter(|&&y| y == 1).count();
        if n_bad == 0 || n_bad == labels.len() {
            let value = if n_bad == 0 {
                format!("no `{bad}`")
            } else {
                format!("only `{bad}`")
            };
            return Err(RiskError::ConstantTarget {
                column: self.column.clone(),
                value,
            });
        }
        Ok(labels)
    }

    /// The same target with the bad value made explicit (stored in model files, so reports on
    /// new data label rows the way training did).
    pub fn resolved(&self, table: &Table) -> Result<TargetSpec, RiskError> {
        Ok(TargetSpec {
            column: self.column.clone(),
            bad_value: Some(self.bad_value_in(table)?),
        })
    }

    fn bad_value_in(&self, table: &Table) -> Result<String, RiskError> {
        let column = table.column(&self.column)?;
        if let Some(row) = column.iter().position(|v| is_missing(v)) {
            return Err(RiskError::MissingTarget {
                column: self.column.clone(),
                row: row + 1,
            });
        }
        let mut distinct: Vec<&str> = column.iter().map(|v| v.trim()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        bad_value_of(&self.column, &distinct, self.bad_value.as_deref())
    }
}

/// The bad value of a target column with these distinct (trimmed, sorted, present) values:
/// the given one, else `1` for a 0/1 target; fewer than two values is an error.
pub(crate) fn bad_value_of(
    column: &str,
    distinct: &[&str],
    bad_value: Option<&str>,
) -> Result<String, RiskError> {
    if distinct.len() < 2 {
        return Err(RiskError::ConstantTarget {
            column: column.to_string(),
            value: distinct.first().copied().unwrap_or_default().to_string(),
        });
    }
    match bad_value {
        Some(b) => Ok(b.trim().to_string()),
        None if distinct
            .iter()
            .all(|v| parse_number(v).is_some_and(|x| x == 0.0 || x == 1.0)) =>
        {
            Ok("1".into())
        }
        None => Err(RiskError::AmbiguousTarget {
            column: column.to_string(),
            values: distinct
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// "1" and "1.0" are the same bad value; other strings compare exactly.
pub(crate) fn same_value(a: &str, b: &str) -> bool {
    match (parse_number(a), parse_number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The split rule used for every reported figure: data row `i` is test when `i % 5 == 0`.
pub fn split_rows(n_rows: usize) -> (Vec<usize>, Vec<usize>) {
    (0..n_rows).partition(|i| i % 5 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[&[&str]]) -> Table {
        let header = rows[0].iter().map(|s| s.to_string()).collect();
        let records = rows[1..]
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect();
        Table::from_records(header, records).unwrap()
    }

    #[test]
    fn infers_types_and_encodes_missing_and_unseen() {
        let t = table(&[
            &["a", "c", "y"],
            &["1.5", "x", "0"],
            &["", "z", "1"],
            &["3", "", "0"],
        ]);
        let schema = Schema::infer(&t, "y", &[]).unwrap();
        assert_eq!(schema.features[0].kind, FeatureKind::Numeric);
        assert!(matches!(
            schema.features[1].kind,
            FeatureKind::Categorical { .. }
        ));
        let score = table(&[&["c", "a"], &["new", "2"]]);
        let d = schema.encode(&score).unwrap();
        assert_eq!(d.value(0, 0), 2.0);
        assert!(d.value(0, 1).is_nan());
    }

    #[test]
    fn names_column_and_row_of_a_bad_number() {
        let mut rows: Vec<Vec<String>> =
            (0..200).map(|i| vec![i.to_string(), "0".into()]).collect();
        rows[41][0] = "12,5".into();
        let t = Table::from_records(vec!["amount".into(), "y".into()], rows).unwrap();
        let err = Schema::infer(&t, "y", &[]).unwrap_err();
        assert_eq!(
            err,
            RiskError::BadNumber {
                column: "amount".into(),
                row: 42,
                value: "12,5".into()
            }
        );
    }

    #[test]
    fn rejects_duplicate_columns() {
        let err = Table::from_records(vec!["a".into(), "a".into()], vec![]).unwrap_err();
        assert_eq!(err, RiskError::DuplicateColumn { column: "a".into() });
    }

    #[test]
    fn rejects_constant_and_missing_target() {
        let t = table(&[&["a", "y"], &["1", "0"], &["2", "0"]]);
        let spec = TargetSpec {
            column: "y".into(),
            bad_value: None,
        };
        assert!(matches!(
            spec.labels(&t),
            Err(RiskError::ConstantTarget { .. })
        ));
        let spec = TargetSpec {
            column: "nope".into(),
            bad_value: None,
        };
        assert!(matches!(
            spec.labels(&t),
            Err(RiskError::MissingColumn { .. })
        ));
    }
}
