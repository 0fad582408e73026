//! Credit decisioning models as pure functions.
//!
//! Everything here works on in-memory values: a [`Table`] of strings parsed by the caller,
//! typed [`Dataset`]s, trained models and metrics. Nothing reads a file, the clock or the
//! environment; the `riskops` crate is the shell that does I/O.
//!
//! Probabilities are `f64`: they are statistics, not money.

mod data;
mod error;
pub mod forest;
pub mod gbm;
pub mod import;
pub mod metrics;
mod model;
mod rng;
pub mod scorecard;

pub use data::{
    is_missing, split_rows, Dataset, FeatureKind, FeatureSpec, Schema, Table, TargetSpec,
};
pub use error::RiskError;
pub use model::{Model, ModelKind, Scorer, TrainOptions};
