//! The single ledger writer and its group commit.
//!
//! Commands arrive on a bounded channel. The writer takes what is waiting (up to a limit),
//! answers idempotent retries from storage, applies the rest to the in-memory book — each
//! envelope all-or-nothing — writes every change of the group in one transaction, and only
//! then replies. If the transaction fails, the book is rolled back and every envelope of the
//! group is told so: nothing was acknowledged, nothing is half-applied.

mod apply;
mod command;

pub use command::{Command, Outcome, Replayed};

use crate::{Clock, EngineConfig, EngineError, TreeView};
use apply::{apply_envelope, Seen};
use ledger::{AccountId, Book, EntryId, HoldId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use store::{DomainWrite, Existing, Store};
use tokio::sync::{mpsc, oneshot};

pub(crate) struct Envelope {
    pub commands: Vec<Command>,
    /// Written in the group's transaction iff this envelope is accepted.
    pub domain: Vec<DomainWrite>,
    /// Amounts reserved on watched accounts (`TreeView::watched`) until this envelope
    /// commits: released in the same step that publishes its balances.
    pub reserved: Vec<(AccountId, i64)>,
    pub reply: oneshot::Sender<Result<Vec<Outcome>, EngineError>>,
}

pub(crate) type Reply = oneshot::Receiver<Result<Vec<Outcome>, EngineError>>;

impl Envelope {
    /// An envelope and the receiver its answer arrives on.
    pub(crate) fn new(commands: Vec<Command>, domain: Vec<DomainWrite>) -> (Envelope, Reply) {
        let (reply, rx) = oneshot::channel();
        let envelope = Envelope {
            commands,
            domain,
            reserved: Vec::new(),
            reply,
        };
        (envelope, rx)
    }
}

pub(crate) fn spawn(
    store: Store,
    book: Book,
    view: Arc<Mutex<TreeView>>,
    config: EngineConfig,
    clock: Arc<dyn Clock>,
) -> (mpsc::Sender<Envelope>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(config.queue_depth_max);
    let task = tokio::spawn(run(rx, store, book, view, config, clock));
    (tx, task)
}

async fn run(
    mut rx: mpsc::Receiver<Envelope>,
    store: Store,
    mut book: Book,
    view: Arc<Mutex<TreeView>>,
    config: EngineConfig,
    clock: Arc<dyn Clock>,
) {
    let clock = &*clock;
    let mut expiry = tokio::time::interval(std::time::Duration::from_millis(500));
    let mut inflight: Option<InFlight> = None;
    loop {
        let Some(mut f) = inflight.take() else {
            let first = tokio::select! {
                env = rx.recv() => match env {
                    Some(e) => e,
                    None => break,
                },
                _ = expiry.tick() => match expiry_envelope(&book, clock) {
                    Some(e) => e,
                    None => continue,
                },
                _ = clock.jumped() => match expiry_envelope(&book, clock) {
                    Some(e) => e,
                    None => continue,
                },
            };
            let mut next = Staged::new(book.group_mark());
            next.add(
                (&store, clock),
                &mut book,
                gather(&mut rx, vec![first], config),
                None,
            )
            .await;
            inflight = launch(&store, &mut book, &view, next);
            continue;
        };
        // While one group commits, apply what arrives on top of it, so the CPU work of the
        // next group overlaps the disk work of this one and the next group is as large as
        // what arrived meanwhile.
        let mut next = Staged::new(book.group_mark());
        let committed = loop {
            let room = next.ops < config.group_ops_max;
            tokio::select! {
                biased;
                r = &mut f.handle => break r,
                Some(env) = rx.recv(), if room => {
                    let chunk = gather(&mut rx, vec![env], config);
                    next.add((&store, clock), &mut book, chunk, Some(&f.staged.seen))
                        .await;
                }
            }
        };
        if let Err(e) = committed.unwrap_or_else(|j| Err(anyhow::anyhow!("commit task: {j}"))) {
            // Both groups leave memory; each is run again on its own.
            book.rollback_to(0);
            retry_failed((&store, clock), &mut book, &view, f.staged.group, e).await;
            if !next.group.is_empty() {
                process_group((&store, clock), &mut book, &view, next.group).await;
            }
            continue;
        }
        book.forget_undo_before(next.mark);
        publish(
            &view,
            &f.staged.effect,
            committed_reservations(&f.staged.group, &f.staged.results),
        );
        record_metrics(&f.staged);
        reply(f.staged.group, f.staged.results);
        inflight = launch(&store, &mut book, &view, next);
    }
}

/// Starts the commit of a staged group; a group that changes nothing is answered at once.
fn launch(
    store: &Store,
    book: &mut Book,
    view: &Arc<Mutex<TreeView>>,
    mut next: Staged,
) -> Option<InFlight> {
    if next.group.is_empty() {
        return None;
    }
    next.effect = Arc::new(book.take_effect());
    if next.effect.is_empty() && next.domain.is_empty() {
        book.finish_group();
        release_unchanged(view, &next.group, &next.results);
        reply(next.group, next.results);
        return None;
    }
    let (s, effect, mut domain) = (store.clone(), next.effect.clone(), next.domain.clone());
    let handle = tokio::spawn(async move {
        let t = std::time::Instant::now();
        let n = effect.entries.len();
        // Off the writer's loop: it stages the next group meanwhile.
        crate::events::append(&mut domain);
        let r = s.commit(effect, Arc::new(domain)).await;
        tracing::debug!(
            entries = n,
            ms = t.elapsed().as_secs_f64() * 1e3,
            "group committed"
        );
        r
    });
    Some(InFlight {
        staged: next,
        handle,
    })
}

/// Takes what is waiting on the channel, up to the group limit, without waiting.
fn gather(
    rx: &mut mpsc::Receiver<Envelope>,
    mut group: Vec<Envelope>,
    config: EngineConfig,
) -> Vec<Envelope> {
    let mut ops: usize = group.iter().map(|e| e.commands.len()).sum();
    while ops < config.group_ops_max {
        match rx.try_recv() {
            Ok(e) => {
                ops += e.commands.len();
                group.push(e);
            }
            Err(_) => break,
        }
    }
    group
}

struct InFlight {
    staged: Staged,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A group applied to the book and waiting to be made durable.
struct Staged {
    group: Vec<Envelope>,
    results: Vec<EnvelopeResult>,
    effect: Arc<ledger::Effect>,
    domain: Vec<DomainWrite>,
    seen: Seen,
    /// The book's undo log position where this group starts.
    mark: usize,
    /// Commands in the group.
    ops: usize,
}

impl Staged {
    fn new(mark: usize) -> Staged {
        Staged {
            group: Vec::new(),
            results: Vec::new(),
            effect: Arc::default(),
            domain: Vec::new(),
            seen: Seen::default(),
            mark,
            ops: 0,
        }
    }

    /// Applies more envelopes to the book as part of this group. If storage cannot be read
    /// for them, nothing of them was applied and each is told so; the group goes on.
    async fn add(
        &mut self,
        (store, clock): (&Store, &dyn Clock),
        book: &mut Book,
        chunk: Vec<Envelope>,
        prev: Option<&Seen>,
    ) {
        let t = std::time::Instant::now();
        let n = chunk.len();
        let r = stage((store, clock), book, &chunk, prev, &mut self.seen, true).await;
        tracing::debug!(
            envelopes = n,
            ms = t.elapsed().as_secs_f64() * 1e3,
            "staged"
        );
        match r {
            Ok(out) => {
                self.ops += chunk.iter().map(|e| e.commands.len()).sum::<usize>();
                self.results.extend(out.results);
                self.domain.extend(out.domain);
                self.group.extend(chunk);
            }
            Err(e) => reply_error(chunk, &format!("{e:#}")),
        }
    }
}

fn reply(group: Vec<Envelope>, results: Vec<EnvelopeResult>) {
    for (env, r) in group.into_iter().zip(results) {
        let _ = env.reply.send(r);
    }
}

fn reply_error(group: Vec<Envelope>, msg: &str) {
    tracing::error!(error = %msg, "ledger group failed");
    for env in group {
        let _ = env.reply.send(Err(EngineError::Storage(msg.to_string())));
    }
}

fn record_metrics(s: &Staged) {
    metrics::histogram!("puhui_ledger_group_requests").record(s.group.len() as f64);
    metrics::counter!("puhui_ledger_entries_committed_total")
        .increment(s.effect.entries.len() as u64);
}

/// A group whose commit failed: an id already stored means some request was a retry, and a
/// row at another version means some request was stale, so the group runs again with every
/// id and version looked up; any other failure is reported to every request.
async fn retry_failed(
    (store, clock): (&Store, &dyn Clock),
    book: &mut Book,
    view: &Arc<Mutex<TreeView>>,
    group: Vec<Envelope>,
    e: anyhow::Error,
) {
    if store::is_conflict(&e) {
        match try_group((store, clock), book, view, &group, false).await {
            Ok(results) => reply(group, results),
            Err(e) => reply_error(group, &format!("{e:#}")),
        }
    } else {
        reply_error(group, &format!("{e:#}"));
    }
}

fn expiry_envelope(book: &Book, clock: &dyn Clock) -> Option<Envelope> {
    let ids = book.expired_holds(clock.now_ms(), 1024);
    if ids.is_empty() {
        return None;
    }
    let (reply, _) = oneshot::channel();
    // Each expiry stands alone: one hold failing to expire must not keep the others.
    Some(Envelope {
        reserved: Vec::new(),
        commands: ids
            .into_iter()
            .map(|hold_id| Command::ExpireHold { hold_id })
            .collect(),
        domain: Vec::new(),
        reply,
    })
}

/// Ids a group refers to, to look up in storage once for the whole group. Optimistically,
/// new entries and holds are not looked up: a retry of a committed one makes the commit fail
/// on its unique id, and the group is then run again with every id looked up. Nor is a
/// hold the book holds pending, or the entry posting it: the book is the authority on
/// pending holds (a hold posted, voided or expired has left it), so such a hold is applied
/// whatever storage says, and an entry id already taken fails the commit like a new entry's.
fn referenced_ids(
    group: &[Envelope],
    optimistic: bool,
    book: &Book,
) -> (Vec<EntryId>, Vec<HoldId>, Vec<EntryId>) {
    let pending = |id: &HoldId| optimistic && book.pending_hold(*id).is_some();
    let (mut entries, mut holds, mut reversed) = (Vec::new(), Vec::new(), Vec::new());
    for c in group.iter().flat_map(|e| &e.commands) {
        match c {
            Command::Entry(r) if !optimistic => entries.push(r.id),
            Command::Hold(h) if !optimistic => holds.push(h.id),
            Command::Entry(_) | Command::Hold(_) => {}
            Command::PostHold { hold_id, .. } | Command::VoidHold { hold_id }
                if pending(hold_id) => {}
            Command::PostHold {
                hold_id, entry_id, ..
            } => {
                entries.push(*entry_id);
                holds.push(*hold_id);
            }
            Command::VoidHold { hold_id } => holds.push(*hold_id),
            Command::Reverse {
                original,
                reversal_id,
                ..
            } => {
                entries.push(*original);
                entries.push(*reversal_id);
                reversed.push(*original);
            }
            Command::CreateAccount { .. }
            | Command::ExpireHold { .. }
            | Command::OpenAccount { .. } => {}
        }
    }
    (entries, holds, reversed)
}

/// Runs one group on its own: stage, commit, and on a stored id, again with lookups.
async fn process_group(
    (store, clock): (&Store, &dyn Clock),
    book: &mut Book,
    view: &Arc<Mutex<TreeView>>,
    group: Vec<Envelope>,
) {
    match try_group((store, clock), book, view, &group, true).await {
        Ok(results) => reply(group, results),
        Err(e) => retry_failed((store, clock), book, view, group, e).await,
    }
}

pub(crate) type EnvelopeResult = Result<Vec<Outcome>, EngineError>;

/// Looks up what the group needs and applies it to the book (not yet durable).
async fn stage(
    (store, clock): (&Store, &dyn Clock),
    book: &mut Book,
    group: &[Envelope],
    prev: Option<&Seen>,
    seen: &mut Seen,
    optimistic: bool,
) -> anyhow::Result<StageOutput> {
    let (entry_ids, hold_ids, reversed) = referenced_ids(group, optimistic, book);
    let existing = if entry_ids.is_empty() && hold_ids.is_empty() && reversed.is_empty() {
        Existing::default()
    } else {
        store.existing(entry_ids, hold_ids, reversed).await?
    };
    let mut loans = LoanVersions::load(store, group, [prev, Some(seen)], optimistic).await?;
    let now = clock.now_ms();
    let mut results = Vec::with_capacity(group.len());
    let mut domain = Vec::new();
    for env in group {
        let r = match loans.admit(&env.domain) {
            Err(e) => Err(e),
            Ok(()) => apply_envelope(book, &existing, (seen, prev), &env.commands, now)
                .map_err(EngineError::from),
        };
        if r.is_ok() {
            loans.commit(&env.domain, seen);
            domain.extend(env.domain.iter().cloned());
        }
        results.push(r);
    }
    Ok(StageOutput { results, domain })
}

/// What staging some envelopes produced besides their changes to the book (whose effect
/// the caller takes when the group is complete).
struct StageOutput {
    results: Vec<EnvelopeResult>,
    domain: Vec<DomainWrite>,
}

/// Stages and commits one group with nothing else in flight; on failure the book is as before.
async fn try_group(
    (store, clock): (&Store, &dyn Clock),
    book: &mut Book,
    view: &Arc<Mutex<TreeView>>,
    group: &[Envelope],
    optimistic: bool,
) -> anyhow::Result<Vec<EnvelopeResult>> {
    let out = match stage(
        (store, clock),
        book,
        group,
        None,
        &mut Seen::default(),
        optimistic,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            book.rollback_group();
            return Err(e);
        }
    };
    let effect = book.take_effect();
    if !effect.is_empty() || !out.domain.is_empty() {
        let effect = Arc::new(effect);
        let mut domain = out.domain;
        crate::events::append(&mut domain);
        if let Err(e) = store.commit(effect.clone(), Arc::new(domain)).await {
            book.rollback_group();
            return Err(e);
        }
        publish(view, &effect, committed_reservations(group, &out.results));
        metrics::counter!("puhui_ledger_entries_committed_total")
            .increment(effect.entries.len() as u64);
    } else {
        release_unchanged(view, group, &out.results);
    }
    book.finish_group();
    Ok(out.results)
}

/// Loan row versions as of this group: what storage holds, then what the group still being
/// committed wrote, then what earlier envelopes of this group wrote. A loan write naming
/// another version is refused before anything of its envelope is applied, so the single
/// writer serialises changes to one loan.
///
/// Optimistically, storage is not read: a write whose row this group has not touched is
/// admitted as it names itself, and storage's own check (`UPDATE … WHERE version = …`, a
/// unique key for inserts) fails the commit if it was stale; the group then runs again
/// with every version read, and only the stale envelope is refused.
struct LoanVersions {
    current: HashMap<uuid::Uuid, i64>,
    complete: bool,
}

impl LoanVersions {
    async fn load(
        store: &Store,
        group: &[Envelope],
        overlays: [Option<&Seen>; 2],
        optimistic: bool,
    ) -> anyhow::Result<LoanVersions> {
        let (mut loans, mut docs) = (Vec::new(), Vec::new());
        for w in group.iter().flat_map(|e| &e.domain) {
            match w {
                DomainWrite::Loan { row, .. } => loans.push(row.id),
                DomainWrite::Doc { row, .. } => docs.push(row.id),
                DomainWrite::DocAt { id, .. } => docs.push(*id),
                _ => {}
            }
        }
        let mut current = HashMap::new();
        if !loans.is_empty() && !optimistic {
            current.extend(store.loan_versions(loans.clone()).await?);
        }
        if !docs.is_empty() && !optimistic {
            current.extend(store.doc_versions(docs.clone()).await?);
        }
        // Later overlays are newer: the group in flight, then earlier parts of this group.
        for seen in overlays.into_iter().flatten() {
            for id in loans.iter().chain(&docs) {
                if let Some(v) = seen.loan_versions.get(id) {
                    current.insert(*id, *v);
                }
            }
        }
        Ok(LoanVersions {
            current,
            complete: !optimistic,
        })
    }

    fn admit(&self, writes: &[DomainWrite]) -> Result<(), EngineError> {
        for w in writes {
            if let DomainWrite::DocAt { id, version } = w {
                let now = self.current.get(id).copied();
                if now.is_some_and(|v| v != *version) || (now.is_none() && self.complete) {
                    return Err(EngineError::StaleDoc { id: *id });
                }
                continue;
            }
            let (id, version, expected, stale) = match w {
                DomainWrite::Loan {
                    row,
                    expected_version,
                } => (
                    row.id,
                    row.version,
                    expected_version,
                    EngineError::StaleLoan { id: row.id },
                ),
                DomainWrite::Doc {
                    row,
                    expected_version,
                } => (
                    row.id,
                    row.version,
                    expected_version,
                    EngineError::StaleDoc { id: row.id },
                ),
                _ => continue,
            };
            let now = match self.current.get(&id) {
                Some(v) => Some(*v),
                None if self.complete => None,
                None => *expected,
            };
            if now != *expected {
                return Err(stale);
            }
            assert!(
                now.is_none_or(|v| version > v),
                "a versioned write moves its version forward"
            );
        }
        Ok(())
    }

    fn commit(&mut self, writes: &[DomainWrite], seen: &mut Seen) {
        for w in writes {
            let (id, version) = match w {
                DomainWrite::Loan { row, .. } => (row.id, row.version),
                DomainWrite::Doc { row, .. } => (row.id, row.version),
                _ => continue,
            };
            self.current.insert(id, version);
            seen.loan_versions.insert(id, version);
        }
    }
}

/// Makes the group's entries visible to proofs, in sequence order, and tells those waiting
/// for a commit.
/// Releases the reservations of a group that changed nothing (nothing to publish).
fn release_unchanged(view: &Arc<Mutex<TreeView>>, group: &[Envelope], results: &[EnvelopeResult]) {
    let mut v = view.lock().unwrap_or_else(|p| p.into_inner());
    for (id, amount_minor) in committed_reservations(group, results) {
        v.release(*id, *amount_minor);
    }
}

/// The reservations of a group's envelopes that committed.
fn committed_reservations<'a>(
    group: &'a [Envelope],
    results: &'a [EnvelopeResult],
) -> impl Iterator<Item = &'a (AccountId, i64)> {
    group
        .iter()
        .zip(results)
        .filter(|(_, r)| r.is_ok())
        .flat_map(|(e, _)| &e.reserved)
}

fn publish<'a>(
    view: &Arc<Mutex<TreeView>>,
    effect: &ledger::Effect,
    released: impl Iterator<Item = &'a (AccountId, i64)>,
) {
    let mut v = view.lock().unwrap_or_else(|p| p.into_inner());
    for e in &effect.entries {
        assert_eq!(
            e.seq,
            v.tree.len(),
            "entries are committed in sequence order"
        );
        v.tree.push(e.hash);
    }
    v.committed_size = v.tree.len();
    if !v.watched.is_empty() {
        for (id, b) in &effect.balances {
            if let Some(w) = v.watched.get_mut(id) {
                w.committed = Some(*b);
            }
        }
        for (id, amount_minor) in released {
            v.release(*id, *amount_minor);
        }
    }
    v.commits.send_modify(|n| *n = n.wrapping_add(1));
}
