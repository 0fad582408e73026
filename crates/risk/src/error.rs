use thiserror::Error;

/// Everything that can be wrong with user-supplied data or model files.
///
/// Rows are 1-based data rows (the header is not counted), so `row 1` is the first line
/// after the header.
#[derive(Debug, Error, PartialEq)]
pub enum RiskError {
    #[error("column `{column}` is not in the data (columns: {available})")]
    MissingColumn { column: String, available: String },
    #[error("target column `{column}` has a single value `{value}`; a model needs both good and bad rows")]
    ConstantTarget { column: String, value: String },
    #[error("target column `{column}` is empty at row {row}")]
    MissingTarget { column: String, row: usize },
    #[error(
        "target column `{column}` has values {values}; pass --bad-value to say which one is bad"
    )]
    AmbiguousTarget { column: String, values: String },
    #[error("column `{column}` row {row}: `{value}` is not a number")]
    BadNumber {
        column: String,
        row: usize,
        value: String,
    },
    #[error("row {row} has {found} fields, the header has {expected}")]
    RaggedRow {
        row: usize,
        found: usize,
        expected: usize,
    },
    #[error("column `{column}` appears more than once in the header")]
    DuplicateColumn { column: String },
    #[error("the data has no rows")]
    Empty,
    #[error("no usable feature columns besides the target")]
    NoFeatures,
    #[error("model file: {0}")]
    BadModel(String),
}
