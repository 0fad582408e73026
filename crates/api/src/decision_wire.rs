//! Credit decision requests and responses. The request is the domain input as is (its field
//! order is the canonical order the input hash is taken over).

use serde::Serialize;
use utoipa::ToSchema;

/// An application, a bureau report and behaviour histories, decided as of `as_of`.
#[derive(Debug, Clone, serde::Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct DecisionRequest(pub risk::features::DecisionInput);

/// A decision: outcome, reasons, price and limit, with the versions and hashes that make it
/// replayable.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionResponse {
    pub decision_id: String,
    pub applicant_id: String,
    pub currency: String,
    pub model_version: String,
    pub policy_version: String,
    /// SHA-256 (hex) of the canonical input.
    pub input_hash: String,
    /// SHA-256 (hex) of the canonical output.
    pub output_hash: String,
    /// `outcome`, `arm`, `probability_bad`, `score`, `rules_fired`, `reasons`, `limit_minor`,
    /// `price` (`annual_rate`, `apr_percent`, …), `features`.
    #[schema(value_type = Object)]
    #[serde(flatten)]
    pub decision: risk::decision::Decision,
}

/// A stored decision recomputed from its stored input.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplayResponse {
    pub decision_id: String,
    /// Whether the recomputed canonical output equals the stored one byte for byte.
    pub identical: bool,
    pub stored_output_hash: String,
    pub replayed_output_hash: String,
    pub model_version: String,
    pub policy_version: String,
    #[schema(value_type = Object)]
    pub replayed: risk::decision::Decision,
}

/// A stored decision as made, and the loan it was used for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoredDecisionResponse {
    pub decision_id: String,
    pub applicant_id: String,
    /// When it was made, milliseconds since 1970-01-01 UTC.
    pub created_at_ms: i64,
    pub model_version: String,
    pub policy_version: String,
    /// SHA-256 (hex) of the canonical input.
    pub input_hash: String,
    /// SHA-256 (hex) of the canonical output.
    pub output_hash: String,
    /// The loan the decision was used for (`decision_id` of `POST /v1/loans`); a decision
    /// is used once.
    #[schema(value_type = Option<String>, format = "uuid")]
    pub loan_id: Option<uuid::Uuid>,
    /// `outcome`, `arm`, `probability_bad`, `score`, `rules_fired`, `reasons`, `limit_minor`,
    /// `price`, `features`, as stored.
    #[schema(value_type = Object)]
    #[serde(flatten)]
    pub decision: risk::decision::Decision,
}
