//! Running a rule's actions. Line changes go through `revolving::change_line` under a key
//! derived from the cause event, the rule, the action and the line, and a request that
//! does not depend on the line as it is now (a fraction, a freeze, a target amount): run
//! again after a crash, the same key and request are answered as a retry, not applied.

use super::halts::halt_row;
use super::run::line_risk;
use super::state::{ActionRecord, LineRisk, RiskState};
use super::{halt_id, NS};
use crate::customers;
use crate::events::event_id;
use crate::revolving::{self as rc, LimitAction};
use crate::Engine;
use money::BusinessDate;
use risk::early_warning::{Action, Rule};
use std::collections::BTreeMap;
use store::{DocRow, EventRow, StoredEvent};
use uuid::Uuid;

/// Why an action runs.
pub(super) struct Cause<'a> {
    pub event: &'a StoredEvent,
    pub rule: &'a Rule,
    pub pack_version: &'a str,
    pub day: BusinessDate,
    /// The action's place among those this event caused (for its event's id).
    pub index: u32,
}

/// What an action produced besides its record in the state.
#[derive(Default)]
pub(super) struct Done {
    pub events: Vec<EventRow>,
    pub halt: Option<DocRow>,
    pub lines: Vec<(Uuid, LineRisk)>,
}

/// The idempotency key of an action on one target.
fn key(cause: &Cause<'_>, action: &str, target: Uuid) -> Uuid {
    let mut name = Vec::with_capacity(64);
    name.extend_from_slice(cause.event.event.id.as_bytes());
    name.extend_from_slice(cause.rule.id.as_bytes());
    name.push(0);
    name.extend_from_slice(action.as_bytes());
    name.extend_from_slice(target.as_bytes());
    Uuid::new_v5(&NS, &name)
}

pub(super) async fn run(
    engine: &Engine,
    s: &mut RiskState,
    action: &Action,
    cause: &Cause<'_>,
) -> anyhow::Result<Done> {
    let mut done = Done::default();
    let (targets, result) = match action {
        Action::FreezeLine | Action::LowerLimit { .. } => {
            change_lines(engine, s, action, cause, &mut done).await?
        }
        Action::HaltNewLoans => {
            if s.halted {
                (Vec::new(), "skipped: already halted".to_string())
            } else {
                s.halted = true;
                if engine.store().doc(halt_id(s.customer_id)).await?.is_none() {
                    let body = serde_json::json!({
                        "customer_id": s.customer_id,
                        "rule_id": cause.rule.id,
                        "cause_event_id": cause.event.event.id,
                        "day": cause.day,
                    });
                    done.halt = Some(halt_row(
                        s.customer_id,
                        &s.tenant,
                        cause.day.to_epoch_days(),
                        body.to_string().into_bytes(),
                    ));
                }
                (Vec::new(), "done".to_string())
            }
        }
        Action::ReferToCollections => {
            if s.in_collections {
                (Vec::new(), "skipped: already referred".to_string())
            } else {
                s.in_collections = true;
                (Vec::new(), "done".to_string())
            }
        }
        Action::NotifyFunders => notify_funders(engine, s, cause, &mut done).await?,
    };
    let record = ActionRecord {
        rule_id: cause.rule.id.clone(),
        action: action.name().into(),
        cause_event_id: cause.event.event.id,
        cause_seq: cause.event.seq,
        day: cause.day,
        targets: targets.clone(),
        result: result.clone(),
    };
    let payload = serde_json::json!({
        "customer_id": s.customer_id,
        "rule_id": cause.rule.id,
        "pack_version": cause.pack_version,
        "action": action.name(),
        "cause_event_id": cause.event.event.id,
        "cause_seq": cause.event.seq,
        "cause_kind": cause.event.event.kind,
        "targets": targets,
        "result": result,
    });
    done.events.push(EventRow {
        id: event_id(s.customer_id, "risk_action", cause.event.seq, cause.index),
        kind: "risk.action_taken".into(),
        tenant: s.tenant.clone(),
        day: cause.day.to_epoch_days(),
        subject: s.customer_id,
        payload: payload.to_string(),
    });
    s.push_action(record);
    Ok(done)
}

/// Freezes or lowers each of the customer's lines that is not closed.
async fn change_lines(
    engine: &Engine,
    s: &RiskState,
    action: &Action,
    cause: &Cause<'_>,
    done: &mut Done,
) -> anyhow::Result<(Vec<Uuid>, String)> {
    let reason = format!(
        "early warning rule {} (pack {}) on event {}",
        cause.rule.id, cause.pack_version, cause.event.event.id
    );
    let mut changed = Vec::new();
    let mut skipped = 0usize;
    let mut failures = Vec::new();
    for (line, risk) in &s.lines {
        if risk.status == "closed" {
            continue;
        }
        let change = match action {
            Action::FreezeLine if risk.status == "frozen" => None,
            Action::FreezeLine => Some(LimitAction::Freeze),
            Action::LowerLimit {
                by_fraction: Some(f),
                ..
            } => Some(LimitAction::Signal(revolving::RiskSignal::Lower {
                fraction: *f,
                reason: reason.clone(),
            })),
            Action::LowerLimit {
                to_minor: Some(to), ..
            } if *to < risk.limit_minor => Some(LimitAction::Set { limit_minor: *to }),
            _ => None,
        };
        let Some(change) = change else {
            skipped += 1;
            continue;
        };
        let k = key(cause, action.name(), *line);
        match rc::change_line(engine, &s.tenant, *line, k, change, reason.clone()).await {
            Ok(doc) => {
                done.lines.push((*line, line_risk(&doc)));
                changed.push(*line);
            }
            Err(rc::RevolvingError::Storage(e)) => return Err(e),
            Err(rc::RevolvingError::Engine(e)) if !matches!(e, crate::EngineError::Rejected(_)) => {
                return Err(anyhow::anyhow!("line {line}: {e}"))
            }
            Err(e) => failures.push(format!("line {line}: {e}")),
        }
    }
    let result = match (changed.len(), failures.is_empty()) {
        (0, true) if skipped == 0 => "skipped: no open line".to_string(),
        (0, true) => "skipped: nothing to change".to_string(),
        (_, true) => "done".to_string(),
        (_, false) => format!("failed: {}", failures.join("; ")),
    };
    Ok((changed, result))
}

/// One `risk.funders_notified` event naming every funding partner of the customer's
/// co-lent loans with the loans each funds.
async fn notify_funders(
    engine: &Engine,
    s: &RiskState,
    cause: &Cause<'_>,
    done: &mut Done,
) -> anyhow::Result<(Vec<Uuid>, String)> {
    let exposure = customers::loan_exposure(engine, &s.tenant, s.customer_id)
        .await
        .map_err(|e| anyhow::anyhow!("exposure of {}: {e}", s.customer_id))?;
    let mut funders: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for item in &exposure.items {
        // The platform's own share is no partner to tell.
        let platform = crate::colending::platform_partner_id(&s.tenant, item.currency);
        if let Some(f) = item.funder_id.filter(|f| *f != platform) {
            let loans = funders.entry(f).or_default();
            if !loans.contains(&item.id) {
                loans.push(item.id);
            }
        }
    }
    if funders.is_empty() {
        return Ok((Vec::new(), "skipped: no co-lent loan".into()));
    }
    let list: Vec<_> = funders
        .iter()
        .map(|(f, loans)| serde_json::json!({"partner_id": f, "loan_ids": loans}))
        .collect();
    let payload = serde_json::json!({
        "customer_id": s.customer_id,
        "rule_id": cause.rule.id,
        "pack_version": cause.pack_version,
        "cause_event_id": cause.event.event.id,
        "cause_seq": cause.event.seq,
        "cause_kind": cause.event.event.kind,
        "dpd": s.dpd_max(),
        "missed_payments": s.missed_payments,
        "funders": list,
    });
    done.events.push(EventRow {
        id: event_id(s.customer_id, "risk_funders", cause.event.seq, cause.index),
        kind: "risk.funders_notified".into(),
        tenant: s.tenant.clone(),
        day: cause.day.to_epoch_days(),
        subject: s.customer_id,
        payload: payload.to_string(),
    });
    Ok((funders.keys().copied().collect(), "done".into()))
}
