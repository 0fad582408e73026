use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::{not_found, problem, ApiError, WireJson};
use api::{DecisionRequest, DecisionResponse, FieldError, ReplayResponse, StoredDecisionResponse};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use store::DecisionRow;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/decisions", post(decide))
        .route("/v1/decisions/{id}", get(get_decision))
        .route("/v1/decisions/{id}/replay", post(replay))
}

/// Decides an application with the loaded model and policy and stores the decision (input,
/// versions, rules fired, output) before answering.
#[utoipa::path(post, path = "/v1/decisions", request_body = DecisionRequest,
    responses((status = 201, body = DecisionResponse), (status = 422, body = api::Problem),
        (status = 400, body = api::Problem)),
    security(("api_key" = [])), tag = "decisioning")]
pub async fn decide(
    p: Principal,
    State(s): State<AppState>,
    WireJson(DecisionRequest(input)): WireJson<DecisionRequest>,
) -> Result<(StatusCode, Json<DecisionResponse>), ApiError> {
    let svc = s.decisions.clone();
    let d = svc
        .decide(&input)
        .map_err(|e| ApiError::from(FieldError::new(e.field, e.message)))?;
    let id = uuid::Uuid::now_v7().to_string();
    let (row, decision) = d.into_row(&svc, &input.applicant_id, id.clone(), s.engine.now_ms());
    let (input_hash, output_hash) = (row.input_hash, row.output_hash);
    // Answered only once stored: an unrecorded decision must not reach the applicant.
    s.engine
        .record_decision_for(row, &p.tenant)
        .await
        .map_err(|e| match e {
            engine::EngineError::Overloaded => problem(
                503,
                "overloaded",
                "Overloaded",
                "too many decisions are waiting to be stored; retry",
            ),
            other => crate::problem::internal(&other.to_string()),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(DecisionResponse {
            decision_id: id,
            applicant_id: input.applicant_id,
            currency: svc.currency().to_string(),
            model_version: svc.model_version.clone(),
            policy_version: svc.policy_version.clone(),
            input_hash: hex::encode(input_hash),
            output_hash: hex::encode(output_hash),
            decision,
        }),
    ))
}

/// A stored decision as it was made (its output read back from the audit record, not
/// recomputed), with the loan it was used for.
#[utoipa::path(get, path = "/v1/decisions/{id}",
    params(("id" = String, Path, description = "decision id")),
    responses((status = 200, body = StoredDecisionResponse), (status = 404, body = api::Problem)),
    security(("api_key" = [])), tag = "decisioning")]
pub async fn get_decision(
    _p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<StoredDecisionResponse>, ApiError> {
    let row = stored(&s, &id).await?;
    let decision = crate::decisioning::stored_decision(&row.output_json)
        .map_err(|e| crate::problem::internal(&format!("stored decision output {id}: {e}")))?;
    let loan_id = engine::loans::links::loan_of_decision(&s.engine, &row.id).await?;
    Ok(Json(StoredDecisionResponse {
        decision_id: row.id,
        applicant_id: row.applicant_id,
        created_at_ms: row.created_at_ms,
        model_version: row.model_version,
        policy_version: row.policy_version,
        input_hash: hex::encode(row.input_hash),
        output_hash: hex::encode(row.output_hash),
        loan_id,
        decision,
    }))
}

/// A stored decision; an id that is not a UUID names no decision.
pub(crate) async fn stored(s: &AppState, id: &str) -> Result<DecisionRow, ApiError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(not_found("this decision"));
    }
    s.engine
        .store()
        .decision(id)
        .await?
        .ok_or_else(|| not_found("this decision"))
}

/// Recomputes a stored decision from its stored input with the loaded model and policy and
/// compares the canonical output bytes. A decision made under other versions is a 409.
#[utoipa::path(post, path = "/v1/decisions/{id}/replay",
    params(("id" = String, Path, description = "decision id")),
    responses((status = 200, body = ReplayResponse), (status = 404, body = api::Problem),
        (status = 409, body = api::Problem)),
    security(("api_key" = [])), tag = "decisioning")]
pub async fn replay(
    _p: Principal,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ReplayResponse>, ApiError> {
    let row = s
        .engine
        .store()
        .decision(&id)
        .await?
        .ok_or_else(|| not_found("this decision"))?;
    let svc = s.decisions.clone();
    if row.model_version != svc.model_version || row.policy_version != svc.policy_version {
        return Err(problem(
            409,
            "version_not_loaded",
            "Decision made under other versions",
            format!(
                "decided with model {} and policy {}; this server runs model {} and policy {}",
                row.model_version, row.policy_version, svc.model_version, svc.policy_version
            ),
        ));
    }
    let input: risk::features::DecisionInput = serde_json::from_str(&row.input_json)
        .map_err(|e| crate::problem::internal(&format!("stored decision input {id}: {e}")))?;
    let d = svc
        .decide(&input)
        .map_err(|e| crate::problem::internal(&format!("replay of {id}: {e}")))?;
    Ok(Json(ReplayResponse {
        decision_id: id,
        identical: d.output_json.as_bytes() == row.output_json.as_bytes()
            && d.input_json == row.input_json,
        stored_output_hash: hex::encode(row.output_hash),
        replayed_output_hash: hex::encode(d.output_hash),
        model_version: row.model_version,
        policy_version: row.policy_version,
        replayed: d.decision,
    }))
}
