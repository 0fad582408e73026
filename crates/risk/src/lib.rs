//! Credit decisioning models as pure functions.
//!
//! Everything here works on in-memory values: a [`Table`] of strings parsed by the caller,
//! typed [`Dataset`]s, trained models and metrics. Nothing reads a file, the clock or the
//! environment; the `riskops` crate is the shell that does I/O.
//!
//! # Codemap
//!
//! - `data`: column typing ([`Schema::infer`]), target labels ([`TargetSpec`]), encoding to a
//!   row-major `f64` matrix where categorical values are level codes and missing is NaN.
//! - [`scorecard`]: fine bins → IV-maximising merge under a minimum bin share, a bin cap and
//!   a monotonic (or, where it adds >10% IV, one-turn) bad rate; missing has its own bin;
//!   IV and correlation filters, forward stepwise by AIC, L2 logistic regression on WoE with
//!   the penalty chosen by 5-fold CV (one-standard-error rule), PDO/base-odds points.
//! - [`gbm`]: histogram gradient boosting for logloss, leaf-wise growth, learned missing
//!   direction, LightGBM-style categorical splits, early stopping on a validation slice of the
//!   training rows, then (small data) a refit on all of them; defaults follow the data's size
//!   and histograms are built on every core (rayon) in fixed chunks, so results do not depend
//!   on the thread count.
//! - `stream`: the two-pass row-by-row twin of typing and encoding, for files too large to hold
//!   as strings.
//! - [`forest`]: the one tree format every booster compiles to (native, LightGBM, XGBoost) and
//!   its compiled batch scorer.
//! - [`import`]: LightGBM text and XGBoost JSON models (XGBoost JSON arrives as serde structs;
//!   the shell does the JSON parsing).
//! - [`metrics`]: AUC, KS, Gini, Brier, logloss, calibration, PSI, ROC.
//! - [`features`]: declarative features over an application, a bureau report and behaviour
//!   histories, windowed relative to the decision date; the same code for training exports
//!   and decisions.
//! - [`decision`]: policy rules, cut-offs, champion/challenger, reason codes, risk-based price
//!   under the APR cap, credit limit.
//! - [`early_warning`]: versioned early-warning rule packs over a customer's risk state, and
//!   [`behaviour`], the bundled behaviour scorecard over repayment history.
//! - `model`: [`Model`], the serialisable model file, and [`Scorer`].
//!
//! # Invariants
//!
//! - No I/O, clock, environment or async; no tokio, sqlx, axum or serde_json outside
//!   dev-dependencies (checked by `tests/architecture.rs`).
//! - Training is deterministic: the only randomness is a seeded generator in the parameters.
//! - Scoring never panics on user data: unseen categories and missing values route like
//!   missing values (scorecards: the missing bin, WoE 0 when training saw no missing value;
//!   trees: the learned default direction). Imported models are structurally validated.
//! - Batch scoring allocates nothing per row, and the compiled path is bit-identical to the
//!   reference path (tested on the import fixtures).
//!
//! Probabilities are `f64`: they are statistics, not money.

pub mod behaviour;
mod data;
pub mod decision;
pub mod early_warning;
mod error;
pub mod features;
pub mod forest;
pub mod gbm;
pub mod import;
pub mod metrics;
mod model;
mod rng;
pub mod scorecard;
mod stream;

pub use data::{
    is_missing, split_rows, Dataset, FeatureKind, FeatureSpec, Schema, Table, TargetSpec,
};
pub use error::RiskError;
pub use model::{Model, ModelKind, PreparedGbm, Scorer, TrainOptions};
pub use stream::{EncodePass, SchemaPass};
