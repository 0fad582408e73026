//! Domain events: the catalogue, and the outbox rows made from what a transaction writes.
//!
//! Events are derived from the domain writes of each committed group (loan rows and their
//! event log, documents and their event log), in the commit task, not while the writer
//! stages the next group: whatever changes a loan, line, purchase or co-lending document
//! through the single writer reports itself without its use case knowing, and the writer's
//! own loop pays nothing. Decisions, which have their own audit writer, add their events in
//! the decision transaction (`decision_event`). Storage numbers them at commit
//! (`store::EventRow`); docs/events.md documents the catalogue, ids and ordering.

mod derive;

use crate::{Engine, EngineError};
pub use derive::append;
use store::{DecisionRow, EventFilter, EventRow, StoredEvent};
use uuid::Uuid;

/// Every event type, with what it reports.
pub const CATALOGUE: &[(&str, &str)] = &[
    (
        "loan.created",
        "a term loan was applied for or signed (stage in the payload)",
    ),
    ("loan.approved", "a term loan application was approved"),
    ("loan.declined", "a term loan application was declined"),
    ("loan.disbursed", "a term loan's principal was paid out"),
    ("loan.repaid", "a repayment was applied to a term loan"),
    ("loan.prepaid", "a term loan was paid off early"),
    (
        "loan.prepaid_partially",
        "part of a term loan's principal was prepaid",
    ),
    (
        "loan.refunded",
        "an overpayment of a term loan was refunded",
    ),
    (
        "loan.recovered",
        "cash was recovered on a written-off term loan",
    ),
    ("loan.reversed", "a term loan command was reversed"),
    (
        "loan.payment_missed",
        "close of business found an installment unpaid the day after it fell due",
    ),
    (
        "loan.written_off",
        "close of business wrote a term loan off",
    ),
    ("line.opened", "a credit line was opened"),
    (
        "line.limit_changed",
        "a credit line's limit or temporary limit changed",
    ),
    (
        "line.status_changed",
        "a credit line was frozen, unfrozen or closed",
    ),
    (
        "line.statement_issued",
        "a credit line's statement was issued",
    ),
    (
        "line.statement_settled",
        "a credit line's statement was paid in full",
    ),
    (
        "line.plan_created",
        "a purchase or statement was converted to installments",
    ),
    (
        "line.payment_allocated",
        "a repayment was applied to a credit line",
    ),
    (
        "line.overpayment_refunded",
        "a credit line's overpayment was refunded",
    ),
    (
        "borrower.created",
        "a revolving-credit borrower was registered",
    ),
    ("merchant.created", "a merchant was registered"),
    (
        "purchase.authorized",
        "a purchase was authorized (a hold on the line)",
    ),
    (
        "purchase.captured",
        "a purchase was captured or sold in one step",
    ),
    ("purchase.voided", "an authorization was voided"),
    (
        "purchase.refunded",
        "a captured purchase was refunded, in part or in full",
    ),
    (
        "purchase.converted",
        "a captured purchase was converted to installments",
    ),
    ("decision.made", "a credit decision was made and stored"),
    (
        "colending.partner_created",
        "a funding partner was registered",
    ),
    (
        "colending.partner_changed",
        "a funding partner's terms changed",
    ),
    ("colending.plan_created", "a co-lending plan was created"),
    (
        "colending.guarantee_claimed",
        "close of business had a loan's guarantor pay its funders' overdue amounts (代偿)",
    ),
    ("colending.plan_changed", "a co-lending plan changed"),
    (
        "colending.positions_changed",
        "a co-lent loan's per-funder positions changed",
    ),
    (
        "risk.signal_received",
        "an external signal about a customer was recorded",
    ),
    (
        "risk.action_taken",
        "an early-warning rule acted on a customer (with its cause and result)",
    ),
    (
        "risk.funders_notified",
        "an early-warning rule told the funding partners of a customer's co-lent loans",
    ),
    (
        "control.halted",
        "an emergency halt of originations or purchases was thrown",
    ),
    ("control.halt_lifted", "an emergency halt was lifted"),
    (
        "control.read_only_changed",
        "the platform's read-only mode was turned on or off",
    ),
    (
        "control.funder_outage_changed",
        "a funding partner's outage began, changed or ended",
    ),
];

static OUTBOX_OFF: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Benchmarks only (`puhui bench … --no-events`): with `false`, this process commits
/// changes without their events, to measure what the outbox costs. Never off in service.
pub fn set_outbox_enabled(on: bool) {
    OUTBOX_OFF.store(!on, std::sync::atomic::Ordering::Relaxed);
}

fn outbox_enabled() -> bool {
    !OUTBOX_OFF.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether `kind` is in the catalogue.
pub fn is_known(kind: &str) -> bool {
    CATALOGUE.iter().any(|(k, _)| *k == kind)
}

/// Namespace of event ids (UUIDv5 of the subject and the change's own number).
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_0e5c_2b7d_4c11_9a3e_70b5_c2d4_e801);

/// An event's id: the same change always yields the same id, whatever retried it.
pub(crate) fn event_id(subject: Uuid, tag: &str, number: i64, index: u32) -> Uuid {
    let mut name = Vec::with_capacity(16 + tag.len() + 12);
    name.extend_from_slice(subject.as_bytes());
    name.extend_from_slice(tag.as_bytes());
    name.extend_from_slice(&number.to_be_bytes());
    name.extend_from_slice(&index.to_be_bytes());
    Uuid::new_v5(&ID_NAMESPACE, &name)
}

/// The event of a stored credit decision; its id follows from the decision's.
pub(crate) fn decision_event(row: &DecisionRow, tenant: &str, day: i32) -> EventRow {
    let subject =
        Uuid::parse_str(&row.id).unwrap_or_else(|_| Uuid::new_v5(&ID_NAMESPACE, row.id.as_bytes()));
    let payload = serde_json::json!({
        "decision_id": row.id,
        "applicant_id": row.applicant_id,
        "outcome": row.outcome,
        "model_version": row.model_version,
        "policy_version": row.policy_version,
    });
    EventRow {
        id: event_id(subject, "decision", 0, 0),
        kind: "decision.made".into(),
        tenant: tenant.into(),
        day,
        subject,
        payload: payload.to_string(),
    }
}

impl Engine {
    /// Committed events after `filter.after`, in sequence order.
    pub async fn events(&self, filter: EventFilter) -> Result<Vec<StoredEvent>, EngineError> {
        self.store()
            .events(filter)
            .await
            .map_err(|e| EngineError::Storage(format!("read events: {e:#}")))
    }

    /// Stores a credit decision made for `tenant` with its `decision.made` event, returning
    /// once both are durable (one transaction, shared with concurrent decisions).
    pub async fn record_decision_for(
        &self,
        row: DecisionRow,
        tenant: &str,
    ) -> Result<(), EngineError> {
        let day = self.loan_day().open_day().unwrap_or(0);
        let event = outbox_enabled().then(|| decision_event(&row, tenant, day));
        self.decisions.record(row, event).await
    }
}
