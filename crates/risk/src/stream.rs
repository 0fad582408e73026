//! Typing and encoding a CSV row by row, for data too large to hold as strings.
//!
//! The shell reads the file twice: [`SchemaPass`] sees every row once and decides each
//! column's type and the target's bad value; [`EncodePass`] sees them again and fills the
//! `f64` matrix and the labels. The result equals [`Schema::infer`], [`Schema::encode`] and
//! [`TargetSpec::labels`] on the whole table (categorical levels in first-seen order), but
//! memory holds one row of strings at a time instead of every cell.

use crate::data::{is_missing, Dataset, FeatureKind, FeatureSpec, Schema, TargetSpec};
use crate::RiskError;
use std::collections::{BTreeSet, HashMap};

/// Distinct target values kept for the error message of an ambiguous target; a real label
/// column has two.
const MAX_TARGET_VALUES: usize = 1_000;

fn parse_number(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

#[derive(Default)]
struct ColumnStats {
    present: usize,
    bad: usize,
    first_bad: Option<(usize, String)>,
}

/// First pass: column types and the target's values.
pub struct SchemaPass {
    header: Vec<String>,
    target: usize,
    /// Header positions of the feature columns, in header order.
    features: Vec<usize>,
    stats: Vec<ColumnStats>,
    target_values: BTreeSet<String>,
    first_missing_target: Option<usize>,
    rows: usize,
}

impl SchemaPass {
    /// Checks the header (no duplicates; target and excluded columns present).
    pub fn new(header: Vec<String>, target: &str, exclude: &[String]) -> Result<Self, RiskError> {
        for (i, name) in header.iter().enumerate() {
            if header[..i].contains(name) {
                return Err(RiskError::DuplicateColumn {
                    column: name.clone(),
                });
            }
        }
        let position = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| RiskError::MissingColumn {
                    column: name.to_string(),
                    available: header.join(", "),
                })
        };
        let target = position(target)?;
        for column in exclude {
            position(column)?;
        }
        let features: Vec<usize> = (0..header.len())
            .filter(|&i| i != target && !exclude.contains(&header[i]))
            .collect();
        if features.is_empty() {
            return Err(RiskError::NoFeatures);
        }
        Ok(SchemaPass {
            stats: features.iter().map(|_| ColumnStats::default()).collect(),
            header,
            target,
            features,
            target_values: BTreeSet::new(),
            first_missing_target: None,
            rows: 0,
        })
    }

    /// Sees one data row (fields in header order).
    pub fn push(&mut self, record: &[&str]) -> Result<(), RiskError> {
        check_width(record, self.header.len(), self.rows)?;
        for (stats, &c) in self.stats.iter_mut().zip(&self.features) {
            let v = record[c];
            if is_missing(v) {
                continue;
            }
            stats.present += 1;
            if parse_number(v).is_none() {
                stats.bad += 1;
                if stats.first_bad.is_none() {
                    stats.first_bad = Some((self.rows, v.to_string()));
                }
            }
        }
        let t = record[self.target];
        if is_missing(t) {
            self.first_missing_target.get_or_insert(self.rows);
        } else if self.target_values.len() < MAX_TARGET_VALUES {
            self.target_values.insert(t.trim().to_string());
        }
        self.rows += 1;
        Ok(())
    }

    /// Decides the column types and the bad value; returns the second pass.
    pub fn finish(self, target: &TargetSpec) -> Result<EncodePass, RiskError> {
        if self.rows == 0 {
            return Err(RiskError::Empty);
        }
        let column = &self.header[self.target];
        if let Some(row) = self.first_missing_target {
            return Err(RiskError::MissingTarget {
                column: column.clone(),
                row: row + 1,
            });
        }
        let distinct: Vec<&str> = self.target_values.iter().map(String::as_str).collect();
        let bad = crate::data::bad_value_of(column, &distinct, target.bad_value.as_deref())?;
        let mut kinds = Vec::with_capacity(self.features.len());
        for (stats, &c) in self.stats.iter().zip(&self.features) {
            kinds.push(Kind::of(&self.header[c], stats)?);
        }
        Ok(EncodePass {
            names: self
                .features
                .iter()
                .map(|&c| self.header[c].clone())
                .collect(),
            columns: self.features,
            kinds,
            target: self.target,
            target_spec: TargetSpec {
                column: column.clone(),
                bad_value: Some(bad),
            },
            width: self.header.len(),
            x: Vec::with_capacity(self.rows * self.stats.len()),
            y: Vec::with_capacity(self.rows),
        })
    }
}

fn check_width(record: &[&str], expected: usize, row: usize) -> Result<(), RiskError> {
    if record.len() == expected {
        Ok(())
    } else {
        Err(RiskError::RaggedRow {
            row: row + 1,
            found: record.len(),
            expected,
        })
    }
}

enum Kind {
    Numeric,
    /// Levels in first-seen order and their codes.
    Categorical {
        levels: Vec<String>,
        code: HashMap<String, u32>,
    },
}

impl Kind {
    /// The rule of [`Schema::infer`]: numeric when every present value parses; fewer than 1%
    /// non-numbers is a typo, named.
    fn of(name: &str, stats: &ColumnStats) -> Result<Kind, RiskError> {
        if stats.bad == 0 {
            return Ok(Kind::Numeric);
        }
        if stats.bad * 100 < stats.present {
            let (row, value) = stats.first_bad.clone().expect("a bad value was seen");
            return Err(RiskError::BadNumber {
                column: name.to_string(),
                row: row + 1,
                value,
            });
        }
        Ok(Kind::Categorical {
            levels: Vec::new(),
            code: HashMap::new(),
        })
    }
}

/// Second pass: the row-major feature matrix and the labels.
pub struct EncodePass {
    names: Vec<String>,
    columns: Vec<usize>,
    kinds: Vec<Kind>,
    target: usize,
    target_spec: TargetSpec,
    width: usize,
    x: Vec<f64>,
    y: Vec<u8>,
}

impl EncodePass {
    /// Encodes one data row; rows must come in the same order as in the first pass.
    pub fn push(&mut self, record: &[&str]) -> Result<(), RiskError> {
        check_width(record, self.width, self.y.len())?;
        for (kind, &c) in self.kinds.iter_mut().zip(&self.columns) {
            let v = record[c];
            let x = if is_missing(v) {
                f64::NAN
            } else {
                match kind {
                    // The first pass saw that every present value parses.
                    Kind::Numeric => parse_number(v).unwrap_or(f64::NAN),
                    Kind::Categorical { levels, code } => {
                        let v = v.trim();
                        let next = levels.len() as u32;
                        let c = *code.entry(v.to_string()).or_insert(next);
                        if c == next {
                            levels.push(v.to_string());
                        }
                        f64::from(c)
                    }
                }
            };
            self.x.push(x);
        }
        let bad = self.target_spec.bad_value.as_deref().expect("resolved");
        self.y.push(u8::from(crate::data::same_value(
            record[self.target].trim(),
            bad,
        )));
        Ok(())
    }

    /// The dataset, its labels and the target with its bad value made explicit.
    pub fn finish(self) -> Result<(Dataset, Vec<u8>, TargetSpec), RiskError> {
        let n_bad = self.y.iter().filter(|&&y| y == 1).count();
        let bad = self.target_spec.bad_value.clone().unwrap_or_default();
        if n_bad == 0 || n_bad == self.y.len() {
            let value = if n_bad == 0 {
                format!("no `{bad}`")
            } else {
                format!("only `{bad}`")
            };
            return Err(RiskError::ConstantTarget {
                column: self.target_spec.column,
                value,
            });
        }
        let features = self
            .names
            .into_iter()
            .zip(self.kinds)
            .map(|(name, kind)| FeatureSpec {
                name,
                kind: match kind {
                    Kind::Numeric => FeatureKind::Numeric,
                    Kind::Categorical { levels, .. } => FeatureKind::Categorical { levels },
                },
            })
            .collect();
        let data = Dataset {
            schema: Schema { features },
            n_rows: self.y.len(),
            x: self.x,
        };
        Ok((data, self.y, self.target_spec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Table;

    fn records(rows: &[&str]) -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.split(',').map(String::from).collect())
            .collect()
    }

    fn stream(
        header: &[String],
        body: &[Vec<String>],
        target: &TargetSpec,
    ) -> Result<(Dataset, Vec<u8>, TargetSpec), RiskError> {
        let mut first = SchemaPass::new(header.to_vec(), &target.column, &["id".into()])?;
        for r in body {
            first.push(&r.iter().map(String::as_str).collect::<Vec<_>>())?;
        }
        let mut second = first.finish(target)?;
        for r in body {
            second.push(&r.iter().map(String::as_str).collect::<Vec<_>>())?;
        }
        second.finish()
    }

    #[test]
    fn two_passes_equal_typing_and_encoding_the_whole_table() {
        let header: Vec<String> = ["id", "amount", "city", "code", "y"]
            .map(String::from)
            .to_vec();
        let body = records(&[
            "1,10.5,b,7,no",
            "2,,a,NA,yes",
            "3,3, c ,x,no",
            "4,NaN,,8,yes",
            "5,-2e3,b,9,no",
        ]);
        let target = TargetSpec {
            column: "y".into(),
            bad_value: Some("yes".into()),
        };
        let (data, y, resolved) = stream(&header, &body, &target).unwrap();
        let table = Table::from_records(header, body).unwrap();
        let schema = Schema::infer(&table, "y", &["id".into()]).unwrap();
        let expected = schema.encode(&table).unwrap();
        assert_eq!(data.schema, schema);
        assert_eq!(data.n_rows, expected.n_rows);
        let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&data.x), bits(&expected.x));
        assert_eq!(y, target.labels(&table).unwrap());
        assert_eq!(resolved, target.resolved(&table).unwrap());
    }

    #[test]
    fn errors_name_the_row_and_column_like_the_table_path() {
        let header: Vec<String> = ["id", "amount", "y"].map(String::from).to_vec();
        let mut rows: Vec<String> = (0..200).map(|i| format!("{i},{i},{}", i % 2)).collect();
        rows[41] = "41,12;5,1".into();
        let body = records(&rows.iter().map(String::as_str).collect::<Vec<_>>());
        let target = TargetSpec {
            column: "y".into(),
            bad_value: None,
        };
        let err = stream(&header, &body, &target).unwrap_err();
        assert_eq!(
            err,
            RiskError::BadNumber {
                column: "amount".into(),
                row: 42,
                value: "12;5".into()
            }
        );
        let mut ragged = body.clone();
        ragged[3].pop();
        assert!(matches!(
            stream(&header, &ragged, &target),
            Err(RiskError::RaggedRow {
                row: 4,
                found: 2,
                expected: 3
            })
        ));
        let mut no_target = body[..10].to_vec();
        no_target[5][2] = "".into();
        assert!(matches!(
            stream(&header, &no_target, &target),
            Err(RiskError::MissingTarget { row: 6, .. })
        ));
    }
}
