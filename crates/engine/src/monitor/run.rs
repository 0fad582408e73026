//! The monitor: reads the outbox in sequence from its own cursor, moves each customer's
//! risk state, evaluates the early-warning rules and acts.
//!
//! Why this is safe to stop anywhere: a batch's actions go through use cases that are
//! idempotent under keys derived from (cause event, rule, action, line); the states, the
//! action records, their events and the monitor's cursor then commit in one transaction,
//! each state naming the last event it applied. A crash before the commit replays the
//! batch: the same rules fire on the same events, their use cases answer as retries, and
//! the records commit once. A crash after the commit resumes past the batch.
//!
//! A batch is read with a few queries (its lines, customers and states by id), then each
//! customer's events run in sequence while customers run side by side, so a close of
//! business's missed payments act together and their line changes share the writer's group
//! commits. Every customer's part ends before the batch commits or fails, so the argument
//! above holds for the batch as a whole.

use super::actions::{self, Cause};
use super::state::{decode_state, LineRisk, RiskState, RuleHit, SignalSeen};
use super::{state_id, RISK_STATE};
use crate::revolving::{self as rc, LineDoc};
use crate::Engine;
use money::{BusinessDate, Currency};
use risk::early_warning::RulePack;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{DocRow, DomainWrite, EventFilter, EventRow, StoredEvent};
use uuid::Uuid;

/// The monitor's position in the outbox (`event_cursors`).
pub const CURSOR: &str = "risk_monitor";
/// Events read and committed together.
const BATCH_EVENTS: u32 = 1000;
/// Between the starts of two batches that are not full (see [`Monitor::run`]).
pub const PACE: Duration = Duration::from_millis(100);

pub struct Monitor {
    shared: Arc<Shared>,
    /// A borrower id's tenant, `None` when it names no customer.
    customers: HashMap<Uuid, Option<String>>,
    line_owner: HashMap<Uuid, Uuid>,
    cursor: String,
    /// The last event committed under `cursor`; read from the store once, then kept here
    /// (one monitor a store: the writer's lock keeps a second process out).
    after: Option<i64>,
    drop_before_commit: bool,
}

/// What every customer's part of a batch reads.
struct Shared {
    engine: Engine,
    pack: RulePack,
    card: risk::scorecard::Scorecard,
}

/// The batch as read: its events, their payloads, and the lines they touch by id.
struct Batch {
    events: Vec<StoredEvent>,
    payloads: Vec<Value>,
    lines: HashMap<Uuid, DocRow>,
}

/// One customer's part of a batch: the state its events move and what acting produced.
/// Customers' parts run side by side: a state is moved only by its own customer's events,
/// in sequence, and its actions touch only its own lines, so the parts are independent and
/// the line changes of a whole batch meet in the writer's group commits.
struct Part {
    state: RiskState,
    version: Option<i64>,
    dirty: bool,
    events: Vec<EventRow>,
    halts: Vec<DocRow>,
    /// Lines whose state is already the newest this batch knows.
    lines_read: HashSet<Uuid>,
}

impl Monitor {
    pub fn new(engine: Engine, pack: RulePack) -> Monitor {
        Monitor {
            shared: Arc::new(Shared {
                engine,
                pack,
                card: risk::behaviour::scorecard(),
            }),
            customers: HashMap::new(),
            line_owner: HashMap::new(),
            cursor: CURSOR.into(),
            after: None,
            drop_before_commit: false,
        }
    }

    /// Keeps its position under another name (a second monitor replaying the outbox).
    pub fn with_cursor(mut self, name: &str) -> Monitor {
        self.cursor = name.into();
        self.after = None;
        self
    }

    /// Tests only: run each batch's actions, then drop the batch as a crash before its
    /// commit would (no state, record or cursor is written).
    pub fn drop_before_commit(&mut self, on: bool) {
        self.drop_before_commit = on;
    }

    pub fn pack(&self) -> &RulePack {
        &self.shared.pack
    }

    /// Runs until the process ends. While the outbox is quiet it waits for the writer's
    /// next commit, or `idle` at most. A batch starts `pace` at least after the one before
    /// unless that one was full: under a steady load the batches grow instead of
    /// following every commit, so reading lines and states and committing them is paid
    /// once for many events. `pace` is what that adds to the lag from signal to action.
    pub async fn run(mut self, idle: Duration, pace: Duration) {
        let mut commits = self.shared.engine.commits();
        loop {
            let started = tokio::time::Instant::now();
            // Marked before the read: a commit after it wakes the wait below.
            commits.borrow_and_update();
            match self.run_once().await {
                Ok(n) if n >= BATCH_EVENTS as usize => {}
                Ok(n) => {
                    if n == 0 {
                        let _ = tokio::time::timeout(idle, commits.changed()).await;
                    }
                    tokio::time::sleep_until(started + pace).await;
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "risk monitor: batch failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Consumes one batch of events after the cursor; the number read (0: none new).
    pub async fn run_once(&mut self) -> anyhow::Result<usize> {
        let t = Instant::now();
        let store = self.shared.engine.store().clone();
        let after = match self.after {
            Some(seq) => seq,
            None => store.event_cursor(&self.cursor).await?.unwrap_or(0),
        };
        let events = store
            .events(EventFilter {
                after,
                kinds: Vec::new(),
                tenant: None,
                limit: BATCH_EVENTS,
            })
            .await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(0);
        };
        let n = events.len();
        let (batch, parts) = self.prepare(events).await?;
        let read = t.elapsed();
        let customers = parts.len();
        let parts = self.shared.clone().consume_all(batch, parts).await?;
        let acted = t.elapsed();
        if self.drop_before_commit {
            return Ok(n);
        }
        self.commit(parts, last).await?;
        self.after = Some(last);
        tracing::debug!(
            events = n,
            customers,
            read_ms = read.as_secs_f64() * 1e3,
            act_ms = (acted - read).as_secs_f64() * 1e3,
            commit_ms = (t.elapsed() - acted).as_secs_f64() * 1e3,
            "risk monitor batch"
        );
        Ok(n)
    }

    /// Reads, a few queries for the whole batch, what its events need: the lines they
    /// touch (and so the lines' owners), the customers' tenants and their stored states.
    /// Returns each customer's part with the indices of its events, in order of first event.
    async fn prepare(
        &mut self,
        events: Vec<StoredEvent>,
    ) -> anyhow::Result<(Batch, Vec<(Part, Vec<usize>)>)> {
        let store = self.shared.engine.store().clone();
        let payloads: Vec<Value> = events
            .iter()
            .map(|e| serde_json::from_str(&e.event.payload).unwrap_or(Value::Null))
            .collect();
        let line_ids: HashSet<Uuid> = events
            .iter()
            .zip(&payloads)
            .filter_map(|(e, p)| line_of(&e.event, p))
            .collect();
        let lines: HashMap<Uuid, DocRow> = store
            .docs_by_ids(line_ids.into_iter().collect())
            .await?
            .into_iter()
            .filter(|r| r.kind == rc::LINE)
            .map(|r| (r.id, r))
            .collect();
        for row in lines.values() {
            if let Some(owner) = row.parent {
                self.line_owner.insert(row.id, owner);
            }
        }
        let candidates: Vec<Option<Uuid>> = events
            .iter()
            .zip(&payloads)
            .map(|(e, p)| self.candidate(&e.event, p))
            .collect();
        let unknown: HashSet<Uuid> = candidates
            .iter()
            .flatten()
            .filter(|c| !self.customers.contains_key(c))
            .copied()
            .collect();
        let mut tenants: HashMap<Uuid, Option<String>> =
            unknown.iter().map(|c| (*c, None)).collect();
        for row in store.docs_by_ids(unknown.into_iter().collect()).await? {
            if row.kind == rc::BORROWER {
                tenants.insert(row.id, Some(row.tenant));
            }
        }
        self.customers.extend(tenants);
        let mut order: Vec<(Uuid, String, Vec<usize>)> = Vec::new();
        let mut place: HashMap<Uuid, usize> = HashMap::new();
        for (i, c) in candidates.into_iter().enumerate() {
            let Some(c) = c else { continue };
            let Some(tenant) = self.customers[&c].clone() else {
                continue;
            };
            let at = *place.entry(c).or_insert_with(|| {
                order.push((c, tenant, Vec::new()));
                order.len() - 1
            });
            order[at].2.push(i);
        }
        let mut stored: HashMap<Uuid, DocRow> = store
            .docs_by_ids(order.iter().map(|(c, _, _)| state_id(*c)).collect())
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let mut parts = Vec::with_capacity(order.len());
        for (customer, tenant, indices) in order {
            let (state, version) = match stored.remove(&state_id(customer)) {
                Some(row) => {
                    let (s, v) = decode_state(customer, &row)?;
                    (s, Some(v))
                }
                None => (RiskState::new(customer, &tenant), None),
            };
            let part = Part {
                state,
                version,
                dirty: false,
                events: Vec::new(),
                halts: Vec::new(),
                lines_read: HashSet::new(),
            };
            parts.push((part, indices));
        }
        let batch = Batch {
            events,
            payloads,
            lines,
        };
        Ok((batch, parts))
    }

    /// The customer an event concerns, if any, from what is known of the lines' owners;
    /// `None` for events about no customer (merchants, partners, decisions).
    fn candidate(&self, e: &EventRow, p: &Value) -> Option<Uuid> {
        let kind = e.kind.as_str();
        if kind.starts_with("loan.") {
            p["borrower"].as_str().and_then(|b| Uuid::parse_str(b).ok())
        } else if kind.starts_with("line.") || kind.starts_with("purchase.") {
            line_of(e, p).and_then(|l| self.line_owner.get(&l).copied())
        } else if kind == "risk.signal_received" {
            Some(e.subject)
        } else {
            None
        }
    }

    async fn commit(&self, parts: Vec<Part>, last: i64) -> anyhow::Result<()> {
        let mut domain = Vec::new();
        let mut halts = Vec::new();
        let mut events = Vec::new();
        for p in parts {
            halts.extend(p.halts);
            events.extend(p.events);
            if !p.dirty {
                continue;
            }
            let s = p.state;
            let day = s.as_of.map_or(0, |d| d.to_epoch_days());
            domain.push(DomainWrite::Doc {
                row: DocRow {
                    kind: RISK_STATE.into(),
                    id: state_id(s.customer_id),
                    tenant: s.tenant.clone(),
                    parent: Some(s.customer_id),
                    open: false,
                    day,
                    version: p.version.map_or(1, |v| v + 1),
                    body: serde_json::to_vec(&s).expect("risk states serialize"),
                },
                expected_version: p.version,
            });
        }
        let halted: Vec<Uuid> = halts.iter().filter_map(|h: &DocRow| h.parent).collect();
        domain.extend(halts.into_iter().map(|row| DomainWrite::Doc {
            row,
            expected_version: None,
        }));
        domain.extend(events.into_iter().map(DomainWrite::Event));
        domain.push(DomainWrite::EventCursor {
            name: self.cursor.clone(),
            seq: last,
        });
        // A background job: under load it waits for room in the queue rather than fail.
        self.shared
            .engine
            .submit_waiting(Vec::new(), domain)
            .await?;
        for c in halted {
            self.shared.engine.risk_halts().insert(c);
        }
        Ok(())
    }
}

impl Shared {
    /// Runs every customer's part at once and waits for all of them, so that a failed part
    /// leaves none still acting when the batch is tried again; the parts come back in the
    /// order given.
    async fn consume_all(
        self: Arc<Self>,
        batch: Batch,
        parts: Vec<(Part, Vec<usize>)>,
    ) -> anyhow::Result<Vec<Part>> {
        let batch = Arc::new(batch);
        let tasks: Vec<_> = parts
            .into_iter()
            .map(|(part, indices)| {
                let (shared, batch) = (self.clone(), batch.clone());
                tokio::spawn(async move { shared.consume(part, &indices, &batch).await })
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        let mut failed = None;
        for t in tasks {
            match t.await {
                Ok(Ok(p)) => out.push(p),
                Ok(Err(e)) => {
                    failed.get_or_insert(e);
                }
                Err(j) => {
                    failed.get_or_insert(anyhow::anyhow!("risk monitor task: {j}"));
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// Applies one customer's events of the batch in sequence, acting as rules fire.
    async fn consume(
        &self,
        mut part: Part,
        indices: &[usize],
        batch: &Batch,
    ) -> anyhow::Result<Part> {
        for &i in indices {
            let (e, p) = (&batch.events[i], &batch.payloads[i]);
            if part.state.last_seq >= e.seq {
                continue;
            }
            let day = BusinessDate::from_epoch_days(e.event.day).ok_or_else(|| {
                anyhow::anyhow!("event {} has day {} out of range", e.seq, e.event.day)
            })?;
            let s = &mut part.state;
            apply(s, e, p, &batch.lines, &mut part.lines_read)?;
            s.as_of = Some(s.as_of.map_or(day, |d| d.max(day)));
            s.prune(day);
            s.max_dpd = s.max_dpd.max(s.dpd_max());
            s.rescore(&self.card);
            self.evaluate(&mut part, e, day).await?;
            part.state.last_seq = e.seq;
            part.dirty = true;
        }
        Ok(part)
    }

    /// Fires the rules whose condition turned true with this event, and runs their actions.
    async fn evaluate(
        &self,
        part: &mut Part,
        e: &StoredEvent,
        day: BusinessDate,
    ) -> anyhow::Result<()> {
        let s = &mut part.state;
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
                part.events.extend(done.events);
                part.halts.extend(done.halt);
                for (line, risk) in done.lines {
                    part.lines_read.insert(line);
                    s.lines.insert(line, risk);
                }
            }
        }
        Ok(())
    }
}

/// Moves the state by one event.
fn apply(
    s: &mut RiskState,
    e: &StoredEvent,
    p: &Value,
    lines: &HashMap<Uuid, DocRow>,
    lines_read: &mut HashSet<Uuid>,
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
                if let (Some(_), Some::<Currency>(_), Some(day)) = (
                    p["amount_minor"].as_i64(),
                    p["currency"].as_str().and_then(|c| c.parse().ok()),
                    day,
                ) {
                    s.record_borrowing(day);
                }
            }
            _ => {}
        }
        return Ok(());
    }
    if kind.starts_with("line.") || kind.starts_with("purchase.") {
        let Some(line) = line_of(&e.event, p) else {
            return Ok(());
        };
        if kind == "line.payment_allocated" && s.lines.get(&line).is_none_or(|l| l.dpd == 0) {
            s.payments_on_time += 1;
        }
        // The line as the batch read it, once: later events of the batch move it only
        // through this monitor's own actions, which put their result in the state.
        if lines_read.insert(line) {
            if let Some(row) = lines.get(&line) {
                s.lines.insert(line, decode_line(row)?);
            }
        }
        if kind == "purchase.captured" {
            let doc = &p["doc"];
            if let (Some(_), Some::<Currency>(_), Some(day)) = (
                doc["captured_minor"].as_i64(),
                doc["currency"].as_str().and_then(|c| c.parse().ok()),
                day,
            ) {
                s.record_borrowing(day);
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

/// The line an event of a line or a purchase concerns.
fn line_of(e: &EventRow, p: &Value) -> Option<Uuid> {
    let kind = e.kind.as_str();
    if kind.starts_with("line.") {
        Some(e.subject)
    } else if kind.starts_with("purchase.") {
        p["doc"]["line_id"]
            .as_str()
            .and_then(|l| Uuid::parse_str(l).ok())
    } else {
        None
    }
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

fn decode_line(row: &DocRow) -> anyhow::Result<LineRisk> {
    let doc: LineDoc = serde_json::from_slice(&row.body)
        .map_err(|e| anyhow::anyhow!("line {} does not decode: {e}", row.id))?;
    Ok(line_risk(&doc))
}
