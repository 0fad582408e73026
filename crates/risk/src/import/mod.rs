//! Importers for binary-classification tree models trained by LightGBM (text model files)
//! and XGBoost (JSON model files). Both compile to a [`Forest`](crate::forest::Forest) that
//! reproduces the library's probabilities; the model's inputs are the library's features by
//! name, all numeric (LightGBM categorical features take their integer codes).

mod lightgbm;
mod xgboost;

pub use lightgbm::{lightgbm, lightgbm_categorical_features};
pub use xgboost::{xgboost, XgbModel};

use crate::data::{FeatureKind, FeatureSpec, Schema};

fn numeric_schema(names: &[String]) -> Schema {
    Schema {
        features: names
            .iter()
            .map(|n| FeatureSpec {
                name: n.clone(),
                kind: FeatureKind::Numeric,
            })
            .collect(),
    }
}
