//! The monitor: reads the outbox in sequence from its own cursor, moves each customer's
//! risk state, evaluates the early-warning rules and acts.
//!
//! Why this is safe to stop anywhere: a batch's actions go through use cases that are
//! idempotent under keys derived from (cause event, rule, action, line); the states, the
//! action records and their events then commit in one transaction, each state naming the
//! last event it applied; the cursor moves after that. A crash before the commit replays
//! the batch: the same rules fire on the same events, their use cases answer as retries,
//! and the records commit once. A crash after the commit skips, by each state's last
//! event, what was applied.

use super::actions::{self, Cause};
use super::state::{load_state, LineRisk, RiskState, RuleHit, SignalSeen};
use super::{state_id, RISK_STATE};
use crate::revolving::{self as rc, LineDoc};
use crate::Engine;
use money::BusinessDate;
use risk::early_warning::RulePack;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use store::{DocRow, DomainWrite, EventFilter, EventRow, StoredEvent};
use uuid::Uuid;

/// The monitor's position in the outbox (`event_cursors`).
pub const CURSOR: &str = "risk_monitor";
/// Events read and committed together.
const BATCH_EVENTS: u32 = 1000;

pub struct Monitor {
    engine: Engine,
    pack: Arc<RulePack>,
    card: risk::scorecard::Scorecard,
    /// A borrower id's tenant, `None` when it names no customer.
    customers: HashMap<Uuid, Option<String>>,
    line_owner: HashMap<Uuid, Uuid>,
    cursor: String,
    drop_before_commit: bool,
}

/// What one batch changes.
#[derive(Default)]
struct Work {
    states: HashMap<Uuid, (RiskState, Option<i64>, bool)>,
    events: Vec<EventRow>,
    halts: Vec<DocRow>,
    lines_read: HashSet<Uuid>,
}

impl Monitor {
    pub fn new(engine: Engine, pack: RulePack) -> Monitor {
        Monitor {
            engine,
            pack: Arc::new(pack),
            card: risk::behaviour::scorecard(),
            customers: HashMap::new(),
            line_owner: HashMap::new(),
            cursor: CURSOR.into(),
            drop_before_commit: false,
        }
    }

    /// Keeps its position under another name (a second monitor replaying the outbox).
    pub fn with_cursor(mut self, name: &str) -> Monitor {
        self.cursor = name.into();
        self
    }

    /// Tests only: run each batch's actions, then drop the batch as a crash before its
    /// commit would (no state, record or cursor is written).
    pub fn drop_before_commit(&mut self, on: bool) {
        self.drop_before_commit = on;
    }

    pub fn pack(&self) -> &RulePack {
        &self.pack
    }

    /// Runs until the process ends, polling the outbox every `idle` while it is quiet.
    pub async fn run(mut self, idle: Duration) {
        loop {
            match self.run_once().await {
                Ok(0) => tokio::time::sleep(idle).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "risk monitor: batch failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Consumes one batch of events after the cursor; the number read (0: none new).
    pub async fn run_once(&mut self) -> anyhow::Result<usize> {
        let store = self.engine.store().clone();
        let after = store.event_cursor(&self.cursor).await?.unwrap_or(0);
        let batch = store
            .events(EventFilter {
                after,
                kinds: Vec::new(),
                tenant: None,
                limit: BATCH_EVENTS,
            })
            .await?;
        let Some(last) = batch.last().map(|e| e.seq) else {
            return Ok(0);
        };
        let mut w = Work::default();
        for e in &batch {
            self.consume(e, &mut w).await?;
        }
        if self.drop_before_commit {
            return Ok(batch.len());
        }
        self.commit(w).await?;
        store.set_event_cursor(&self.cursor, last).await?;
        Ok(batch.len())
    }

    async fn commit(&self, w: Work) -> anyhow::Result<()> {
        let mut domain = Vec::new();
        for (customer, (s, version, dirty)) in &w.states {
            if !dirty {
                continue;
            }
            let day = s.as_of.map_or(0, |d| d.to_epoch_days());
            domain.push(DomainWrite::Doc {
                row: DocRow {
                    kind: RISK_STATE.into(),
                    id: state_id(*customer),
                    tenant: s.tenant.clone(),
                    parent: Some(*customer),
                    open: false,
                    day,
                    version: version.map_or(1, |v| v + 1),
                    body: serde_json::to_vec(s).expect("risk states serialize"),
                },
                expected_version: *version,
            });
        }
        let halted: Vec<Uuid> = w.halts.iter().filter_map(|h| h.parent).collect();
        domain.extend(w.halts.into_iter().map(|row| DomainWrite::Doc {
            row,
            expected_version: None,
        }));
        domain.extend(w.events.into_iter().map(DomainWrite::Event));
        if domain.is_empty() {
            return Ok(());
        }
        self.engine.submit_with(Vec::new(), domain).await?;
        for c in halted {
            self.engine.risk_halts().insert(c);
        }
        Ok(())
    }

    async fn consume(&mut self, e: &StoredEvent, w: &mut Work) -> anyhow::Result<()> {
        let p: Value = serde_json::from_str(&e.event.payload).unwrap_or(Value::Null);
        let Some((customer, tenant)) = self.customer_of(&e.event, &p).await? else {
            return Ok(());
        };
        let (mut s, version, dirty) = match w.states.remove(&customer) {
            Some(x) => x,
            None => match load_state(self.engine.store(), customer).await? {
                Some((s, v)) => (s, Some(v), false),
                None => (RiskState::new(customer, &tenant), None, false),
            },
        };
        if s.last_seq >= e.seq {
            w.states.insert(customer, (s, version, dirty));
            return Ok(());
        }
        let day = BusinessDate::from_epoch_days(e.event.day).ok_or_else(|| {
            anyhow::anyhow!("event {} has day {} out of range", e.seq, e.event.day)
        })?;
        self.apply(&mut s, e, &p, w).await?;
        s.as_of = Some(s.as_of.map_or(day, |d| d.max(day)));
        s.prune(day);
        s.max_dpd = s.max_dpd.max(s.dpd_max());
        s.rescore(&self.card);
        self.evaluate(&mut s, e, day, w).await?;
        s.last_seq = e.seq;
        w.states.insert(customer, (s, version, true));
        Ok(())
    }

    /// The customer an event concerns, with its tenant; `None` for events about no
    /// customer (merchants, partners, decisions) or about a borrower that is no customer.
    async fn customer_of(
        &mut self,
        e: &EventRow,
        p: &Value,
    ) -> anyhow::Result<Option<(Uuid, String)>> {
        let kind = e.kind.as_str();
        let candidate = if kind.starts_with("loan.") {
            p["borrower"].as_str().and_then(|b| Uuid::parse_str(b).ok())
        } else if kind.starts_with("line.") {
            self.owner_of_line(e.subject).await?
        } else if kind.starts_with("purchase.") {
            match line_of_purchase(p) {
                Some(line) => self.owner_of_line(line).await?,
                None => None,
            }
        } else if kind == "risk.signal_received" {
            Some(e.subject)
        } else {
            None
        };
        let Some(c) = candidate else { return Ok(None) };
        if !self.customers.contains_key(&c) {
            let tenant = self
                .engine
                .store()
                .doc(c)
                .await?
                .filter(|r| r.kind == rc::BORROWER)
                .map(|r| r.tenant);
            self.customers.insert(c, tenant);
        }
        Ok(self.customers[&c].clone().map(|t| (c, t)))
    }

    async fn owner_of_line(&mut self, line: Uuid) -> anyhow::Result<Option<Uuid>> {
        if let Some(o) = self.line_owner.get(&line) {
            return Ok(Some(*o));
        }
        let owner = self
            .engine
            .store()
            .doc(line)
            .await?
            .filter(|r| r.kind == rc::LINE)
            .and_then(|r| r.parent);
        if let Some(o) = owner {
            self.line_owner.insert(line, o);
        }
        Ok(owner)
    }

    /// Moves the state by one event.
    async fn apply(
        &self,
        s: &mut RiskState,
        e: &StoredEvent,
        p: &Value,
        w: &mut Work,
    ) -> anyhow::Result<()> {
        let kind = e.event.kind.as_str();
        let dpd = p["dpd"].as_u64().map(|d| d.min(u64::from(u32::MAX)) as u32);
        let day = BusinessDate::from_epoch_days(e.event.day);
        if kind.starts_with("loan.") {
            let loan = s.loans.entry(e.event.subject).or_default();
            let before = loan.dpd;
            if let Some(d) = dpd {
                loan.dpd = d;
            }
            match kind {
                "loan.payment_missed" => {
                    loan.missed_payments += 1;
                    s.missed_payments += 1;
                }
                "loan.repaid" | "loan.prepaid" | "loan.prepaid_partially" if before == 0 => {
                    s.payments_on_time += 1;
                }
                "loan.disbursed" => {
                    if let (Some(a), Some(c), Some(day)) = (
                        p["amount_minor"].as_i64(),
                        p["currency"].as_str().and_then(|c| c.parse().ok()),
                        day,
                    ) {
                        s.borrowings.push(super::state::Borrowing {
                            day,
                            product: "term_loan".into(),
                            id: e.event.subject,
                            amount_minor: a,
                            currency: c,
                        });
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        if kind.starts_with("line.") || kind.starts_with("purchase.") {
            let line = if kind.starts_with("line.") {
                Some(e.event.subject)
            } else {
                line_of_purchase(p)
            };
            let Some(line) = line else { return Ok(()) };
            if kind == "line.payment_allocated" && s.lines.get(&line).is_none_or(|l| l.dpd == 0) {
                s.payments_on_time += 1;
            }
            if w.lines_read.insert(line) {
                if let Some(l) = read_line(&self.engine, line).await? {
                    s.lines.insert(line, l);
                }
            }
            if kind == "purchase.captured" {
                let doc = &p["doc"];
                if let (Some(a), Some(c), Some(day)) = (
                    doc["captured_minor"].as_i64(),
                    doc["currency"].as_str().and_then(|c| c.parse().ok()),
                    day,
                ) {
                    s.borrowings.push(super::state::Borrowing {
                        day,
                        product: "purchase".into(),
                        id: e.event.subject,
                        amount_minor: a,
                        currency: c,
                    });
                }
            }
            return Ok(());
        }
        if kind == "risk.signal_received" {
            let seen = (|| {
                Some(SignalSeen {
                    id: Uuid::parse_str(p["signal_id"].as_str()?).ok()?,
                    kind: serde_json::from_value(p["kind"].clone()).ok()?,
                    day: day?,
                    amount_minor: p["amount_minor"].as_i64(),
                    currency: p["currency"].as_str().and_then(|c| c.parse().ok()),
                    detail: p["detail"].as_str().map(str::to_string),
                })
            })();
            if let Some(seen) = seen {
                s.signals.push(seen);
            }
        }
        Ok(())
    }

    /// Fires the rules whose condition turned true with this event, and runs their actions.
    async fn evaluate(
        &self,
        s: &mut RiskState,
        e: &StoredEvent,
        day: BusinessDate,
        w: &mut Work,
    ) -> anyhow::Result<()> {
        let facts = s.facts(day);
        let mut active = BTreeSet::new();
        let mut fired = Vec::new();
        for rule in self.pack.in_force(day) {
            if rule.when.holds(&facts) {
                active.insert(rule.id.clone());
                if !s.active_rules.contains(&rule.id) {
                    fired.push(rule.clone());
                }
            }
        }
        s.active_rules = active;
        let mut index = 0u32;
        for rule in fired {
            s.push_hit(RuleHit {
                rule_id: rule.id.clone(),
                pack_version: self.pack.version.clone(),
                cause_event_id: e.event.id,
                cause_seq: e.seq,
                day,
            });
            for action in &rule.actions {
                let cause = Cause {
                    event: e,
                    rule: &rule,
                    pack_version: &self.pack.version,
                    day,
                    index,
                };
                let done = actions::run(&self.engine, s, action, &cause).await?;
                index += 1;
                w.events.extend(done.events);
                w.halts.extend(done.halt);
                for (line, risk) in done.lines {
                    s.lines.insert(line, risk);
                }
            }
        }
        Ok(())
    }
}

fn line_of_purchase(p: &Value) -> Option<Uuid> {
    p["doc"]["line_id"]
        .as_str()
        .and_then(|l| Uuid::parse_str(l).ok())
}

pub(super) fn line_risk(doc: &LineDoc) -> LineRisk {
    let status = serde_json::to_value(doc.line.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    LineRisk {
        currency: doc.line.terms.currency,
        limit_minor: doc.line.limit_minor,
        used_minor: doc.line.used_minor,
        status,
        dpd: doc.line.dpd,
    }
}

async fn read_line(engine: &Engine, id: Uuid) -> anyhow::Result<Option<LineRisk>> {
    let Some(row) = engine.store().doc(id).await? else {
        return Ok(None);
    };
    if row.kind != rc::LINE {
        return Ok(None);
    }
    let doc: LineDoc = serde_json::from_slice(&row.body)
        .map_err(|e| anyhow::anyhow!("line {id} does not decode: {e}"))?;
    Ok(Some(line_risk(&doc)))
}
