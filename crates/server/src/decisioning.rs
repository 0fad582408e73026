//! The decision service: the model and policy files the server loaded at start, their
//! content hashes (the versions every decision records), and the canonical bytes a decision
//! is hashed and replayed by.

use risk::decision::{Decider, Decision, Policy};
use risk::features::{DecisionInput, InputError};
use risk::Model;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The German-credit scorecard and policy shipped in `models/`, used when no files are given.
pub const DEFAULT_MODEL: &str = include_str!("../../../models/german-scorecard.json");
pub const DEFAULT_POLICY: &str = include_str!("../../../models/policy.json");

pub struct DecisionService {
    decider: Decider,
    /// `sha256:<hex>` of the model file's bytes.
    pub model_version: String,
    /// `sha256:<hex>` of the policy file's bytes.
    pub policy_version: String,
}

/// One decision with its canonical bytes.
pub struct Decided {
    pub decision: Decision,
    pub input_json: String,
    pub input_hash: [u8; 32],
    pub output_json: String,
    pub output_hash: [u8; 32],
}

/// What replay compares: the decision plus everything that determined it.
#[derive(Serialize)]
struct CanonicalOutput<'a> {
    input_hash: String,
    model_version: &'a str,
    policy_version: &'a str,
    decision: &'a Decision,
}

fn version(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl DecisionService {
    /// Parses and cross-checks a model and a policy; errors name the file and the JSON path.
    pub fn from_bytes(model: &[u8], policy: &[u8]) -> anyhow::Result<DecisionService> {
        let model_v: Model =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(model))
                .map_err(|e| anyhow::anyhow!("model file at `{}`: {}", e.path(), e.inner()))?;
        let policy_v: Policy =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(policy))
                .map_err(|e| anyhow::anyhow!("policy file at `{}`: {}", e.path(), e.inner()))?;
        let decider = Decider::new(model_v, policy_v).map_err(anyhow::Error::msg)?;
        Ok(DecisionService {
            decider,
            model_version: version(model),
            policy_version: version(policy),
        })
    }

    /// Loads the files named (or the shipped defaults for those not named).
    pub fn load(model: Option<&Path>, policy: Option<&Path>) -> anyhow::Result<DecisionService> {
        let read = |p: Option<&Path>, default: &str, what: &str| -> anyhow::Result<Vec<u8>> {
            match p {
                Some(p) => std::fs::read(p)
                    .map_err(|e| anyhow::anyhow!("read {what} file {}: {e}", p.display())),
                None => Ok(default.as_bytes().to_vec()),
            }
        };
        let m = read(model, DEFAULT_MODEL, "decision model")?;
        let p = read(policy, DEFAULT_POLICY, "decision policy")?;
        DecisionService::from_bytes(&m, &p)
    }

    /// From `PUHUI_DECISION_MODEL` and `PUHUI_DECISION_POLICY`, or the shipped defaults.
    pub fn from_env() -> anyhow::Result<DecisionService> {
        let path = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let m = path("PUHUI_DECISION_MODEL");
        let p = path("PUHUI_DECISION_POLICY");
        DecisionService::load(m.as_deref().map(Path::new), p.as_deref().map(Path::new))
    }

    pub fn currency(&self) -> &str {
        &self.decider.policy.currency
    }

    /// Decides and produces the canonical input and output bytes (compact JSON in struct field
    /// order, maps sorted) and their SHA-256.
    pub fn decide(&self, input: &DecisionInput) -> Result<Decided, InputError> {
        let input_json = serde_json::to_string(input).expect("input serializes");
        let input_hash: [u8; 32] = Sha256::digest(input_json.as_bytes()).into();
        let decision = self.decider.decide(input)?;
        let output_json = serde_json::to_string(&CanonicalOutput {
            input_hash: hex::encode(input_hash),
            model_version: &self.model_version,
            policy_version: &self.policy_version,
            decision: &decision,
        })
        .expect("decision serializes");
        let output_hash = Sha256::digest(output_json.as_bytes()).into();
        Ok(Decided {
            decision,
            input_json,
            input_hash,
            output_json,
            output_hash,
        })
    }
}

impl Decided {
    /// The audit record of this decision as `POST /v1/decisions` stores it, and the decision.
    pub fn into_row(
        self,
        svc: &DecisionService,
        applicant_id: &str,
        id: String,
        created_at_ms: i64,
    ) -> (store::DecisionRow, Decision) {
        let outcome = match self.decision.outcome {
            risk::decision::Outcome::Approve => "approve",
            risk::decision::Outcome::Refer => "refer",
            risk::decision::Outcome::Decline => "decline",
        };
        let row = store::DecisionRow {
            id,
            applicant_id: applicant_id.to_string(),
            created_at_ms,
            input_json: self.input_json,
            input_hash: self.input_hash,
            model_version: svc.model_version.clone(),
            policy_version: svc.policy_version.clone(),
            outcome: outcome.into(),
            rules_fired: serde_json::to_string(&self.decision.rules_fired)
                .expect("strings serialize"),
            output_json: self.output_json,
            output_hash: self.output_hash,
        };
        (row, self.decision)
    }
}

/// The decision inside a stored canonical output (`Decided::output_json`).
pub fn stored_decision(output_json: &str) -> Result<Decision, serde_json::Error> {
    engine::stored_decision(output_json)
}
