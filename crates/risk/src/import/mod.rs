//! Importers for tree models trained by LightGBM and XGBoost.
use crate::{Model, RiskError};

#[derive(serde::Deserialize)]
pub struct XgbModel {}

pub fn lightgbm(_text: &str) -> Result<Model, RiskError> {
    Err(RiskError::BadModel(
        "LightGBM import is not implemented yet".into(),
    ))
}

pub fn xgboost(_raw: &XgbModel) -> Result<Model, RiskError> {
    Err(RiskError::BadModel(
        "XGBoost import is not implemented yet".into(),
    ))
}
