//! A customer's risk state: what the monitor knows from the events it consumed, kept as a
//! versioned document (`risk_state`, one per customer).

use super::{state_id, MonitorError, RISK_STATE};
use crate::revolving as rc;
use crate::Engine;
use money::{BusinessDate, Currency};
use risk::behaviour::{self, History};
use risk::early_warning::{Facts, SignalKind};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use store::{DocRow, Store};
use uuid::Uuid;

/// Rule hits and actions kept in the document (the events keep them all).
pub const HISTORY_MAX: usize = 200;
/// Days a borrowing or a signal counts.
const WINDOW_DAYS: i32 = 90;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoanRisk {
    pub dpd: u32,
    pub missed_payments: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRisk {
    pub currency: Currency,
    pub limit_minor: i64,
    pub used_minor: i64,
    pub status: String,
    pub dpd: u32,
}

/// The new loans and purchases of one business day, for the borrowing counts. A count a day,
/// not a record a purchase: the state is read and written again at every batch that touches
/// the customer, and a customer who buys many times a day would make it grow without bound.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BorrowingDay {
    pub day: BusinessDate,
    pub count: u32,
}

/// A new loan or purchase as states written before [`BorrowingDay`] kept it; read once and
/// folded into the day counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Borrowing {
    pub day: BusinessDate,
    /// `term_loan` or `purchase`.
    pub product: String,
    pub id: Uuid,
    pub amount_minor: i64,
    pub currency: Currency,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalSeen {
    pub id: Uuid,
    pub kind: SignalKind,
    pub day: BusinessDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleHit {
    pub rule_id: String,
    pub pack_version: String,
    pub cause_event_id: Uuid,
    pub cause_seq: i64,
    pub day: BusinessDate,
}

/// One action a rule took (or could not take), with its cause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub rule_id: String,
    pub action: String,
    pub cause_event_id: Uuid,
    pub cause_seq: i64,
    pub day: BusinessDate,
    /// The lines changed or the funders notified.
    pub targets: Vec<Uuid>,
    /// `done`, `skipped: …` or `failed: …`.
    pub result: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RiskState {
    pub customer_id: Uuid,
    pub tenant: String,
    /// The last event applied: an event at or below it is not applied again.
    pub last_seq: i64,
    pub as_of: Option<BusinessDate>,
    pub loans: BTreeMap<Uuid, LoanRisk>,
    pub lines: BTreeMap<Uuid, LineRisk>,
    #[serde(default)]
    pub borrowing_days: Vec<BorrowingDay>,
    /// Only in states written before `borrowing_days`: folded into it by [`RiskState::prune`].
    #[serde(default, skip_serializing)]
    pub borrowings: Vec<Borrowing>,
    pub signals: Vec<SignalSeen>,
    pub missed_payments: u32,
    pub payments_on_time: u32,
    pub max_dpd: u32,
    pub behaviour_score: Option<Decimal>,
    /// Rules whose condition held at the last event: they act again only after it stops.
    pub active_rules: BTreeSet<String>,
    pub halted: bool,
    pub in_collections: bool,
    pub hits: Vec<RuleHit>,
    pub actions: Vec<ActionRecord>,
}

impl RiskState {
    pub fn new(customer_id: Uuid, tenant: &str) -> Self {
        RiskState {
            customer_id,
            tenant: tenant.into(),
            last_seq: 0,
            as_of: None,
            loans: BTreeMap::new(),
            lines: BTreeMap::new(),
            borrowing_days: Vec::new(),
            borrowings: Vec::new(),
            signals: Vec::new(),
            missed_payments: 0,
            payments_on_time: 0,
            max_dpd: 0,
            behaviour_score: None,
            active_rules: BTreeSet::new(),
            halted: false,
            in_collections: false,
            hits: Vec::new(),
            actions: Vec::new(),
        }
    }

    /// The largest days past due among the customer's loans and lines now.
    pub fn dpd_max(&self) -> u32 {
        let loans = self.loans.values().map(|l| l.dpd);
        let lines = self.lines.values().map(|l| l.dpd);
        loans.chain(lines).max().unwrap_or(0)
    }

    /// Used over limit across the open lines; `None` without one (or with no limit).
    pub fn utilization(&self) -> Option<Decimal> {
        let open = self.lines.values().filter(|l| l.status != "closed");
        let (used, limit) = open.fold((0i64, 0i64), |(u, l), x| {
            (
                u.saturating_add(x.used_minor),
                l.saturating_add(x.limit_minor),
            )
        });
        (limit > 0).then(|| (Decimal::from(used) / Decimal::from(limit)).round_dp(4))
    }

    pub fn on_time_ratio(&self) -> Option<Decimal> {
        let due = self.payments_on_time + self.missed_payments;
        (due > 0).then(|| (Decimal::from(self.payments_on_time) / Decimal::from(due)).round_dp(4))
    }

    /// Forgets borrowings and signals older than the window ending on `day`.
    pub fn prune(&mut self, day: BusinessDate) {
        for b in std::mem::take(&mut self.borrowings) {
            self.record_borrowing(b.day);
        }
        let from = day.to_epoch_days() - WINDOW_DAYS;
        self.borrowing_days.retain(|b| b.day.to_epoch_days() > from);
        self.signals.retain(|s| s.day.to_epoch_days() > from);
    }

    /// Counts a new loan or purchase on `day`.
    pub fn record_borrowing(&mut self, day: BusinessDate) {
        match self.borrowing_days.iter_mut().rev().find(|b| b.day == day) {
            Some(b) => b.count += 1,
            None => {
                self.borrowing_days.push(BorrowingDay { day, count: 1 });
                self.borrowing_days.sort_by_key(|b| b.day);
            }
        }
    }

    fn borrowings_since(&self, day: BusinessDate, days: i32) -> u32 {
        let from = day.to_epoch_days() - days;
        self.borrowing_days
            .iter()
            .filter(|b| b.day.to_epoch_days() > from)
            .map(|b| b.count)
            .sum()
    }

    /// Recomputes the behaviour score from the history.
    pub fn rescore(&mut self, card: &risk::scorecard::Scorecard) {
        let history = History {
            on_time_ratio: self.on_time_ratio().and_then(|r| r.to_f64()),
            max_dpd: self.max_dpd,
            utilization: self.utilization().and_then(|u| u.to_f64()),
            missed_payments: self.missed_payments,
        };
        self.behaviour_score = Some(behaviour::score(card, &history).0);
    }

    pub fn facts(&self, day: BusinessDate) -> Facts {
        let mut signals: Vec<SignalKind> = self.signals.iter().map(|s| s.kind).collect();
        signals.sort();
        signals.dedup();
        Facts {
            dpd_max: self.dpd_max(),
            missed_payments: self.missed_payments,
            utilization: self.utilization(),
            signals,
            behaviour_score: self.behaviour_score,
            borrowings_30d: self.borrowings_since(day, 30),
            borrowings_90d: self.borrowings_since(day, WINDOW_DAYS),
        }
    }

    pub(super) fn push_hit(&mut self, hit: RuleHit) {
        self.hits.push(hit);
        if self.hits.len() > HISTORY_MAX {
            self.hits.remove(0);
        }
    }

    pub(super) fn push_action(&mut self, a: ActionRecord) {
        self.actions.push(a);
        if self.actions.len() > HISTORY_MAX {
            self.actions.remove(0);
        }
    }
}

/// The stored state and its version (`None`: none stored yet).
pub(super) async fn load_state(
    store: &Store,
    customer: Uuid,
) -> anyhow::Result<Option<(RiskState, i64)>> {
    let Some(row) = store.doc(state_id(customer)).await? else {
        return Ok(None);
    };
    decode_state(customer, &row).map(Some)
}

/// A stored state document read back, with its version.
pub(super) fn decode_state(customer: Uuid, row: &DocRow) -> anyhow::Result<(RiskState, i64)> {
    anyhow::ensure!(
        row.kind == RISK_STATE,
        "document {} is not a risk state",
        row.id
    );
    let s = serde_json::from_slice(&row.body)
        .map_err(|e| anyhow::anyhow!("stored risk state of {customer} does not decode: {e}"))?;
    Ok((s, row.version))
}

/// A customer's risk state (an empty one before the monitor saw any event of it).
pub async fn risk_state(
    engine: &Engine,
    tenant: &str,
    customer: Uuid,
) -> Result<RiskState, MonitorError> {
    risk_state_in(engine.store(), tenant, customer).await
}

/// [`risk_state`] read from a store directly (beside a running server: reads only).
pub async fn risk_state_in(
    store: &Store,
    tenant: &str,
    customer: Uuid,
) -> Result<RiskState, MonitorError> {
    let row = store
        .doc(customer)
        .await?
        .filter(|r| r.kind == rc::BORROWER && (tenant == "*" || r.tenant == tenant))
        .ok_or(MonitorError::NotFound)?;
    Ok(load_state(store, customer)
        .await?
        .map_or_else(|| RiskState::new(customer, &row.tenant), |(s, _)| s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> BusinessDate {
        s.parse().unwrap()
    }

    #[test]
    fn borrowings_are_counted_by_day_and_old_records_fold_into_the_counts() {
        let mut s = RiskState::new(Uuid::nil(), "t1");
        for _ in 0..500 {
            s.record_borrowing(d("2026-03-10"));
        }
        s.record_borrowing(d("2026-01-20"));
        s.record_borrowing(d("2026-03-01"));
        assert_eq!(
            s.borrowing_days.len(),
            3,
            "one count a day, however many purchases"
        );
        // A state written before the day counts: its records are read and folded.
        let mut old = serde_json::to_value(&s).unwrap();
        old.as_object_mut().unwrap().remove("borrowing_days");
        old["borrowings"] = serde_json::json!([{"day": "2026-03-02", "product": "purchase",
            "id": Uuid::nil(), "amount_minor": 100, "currency": "CNY"}]);
        let mut legacy: RiskState = serde_json::from_value(old).unwrap();
        legacy.prune(d("2026-03-10"));
        assert!(legacy.borrowings.is_empty());
        assert_eq!(legacy.borrowings_since(d("2026-03-10"), 90), 1);
        s.prune(d("2026-03-10"));
        // 2026-01-20 is 49 days back: inside 90 days, outside 30.
        assert_eq!(s.borrowings_since(d("2026-03-10"), 30), 501);
        assert_eq!(s.borrowings_since(d("2026-03-10"), 90), 502);
        // 91 days after it, the window has left 2026-01-20 behind.
        s.prune(d("2026-04-21"));
        assert_eq!(s.borrowings_since(d("2026-04-21"), 90), 501);
        assert!(serde_json::to_value(&s)
            .unwrap()
            .get("borrowings")
            .is_none());
    }
}
