//! Use cases over the ledger: one writer task owns the in-memory [`ledger::Book`], groups
//! concurrent commands into one durable transaction (group commit), and answers each command
//! only after that transaction has committed. Reads go to storage, which holds only
//! committed state.

pub mod abs;
mod business_day;
mod cache;
pub mod clock;
pub mod cob;
pub mod colending;
pub mod controls;
pub mod customers;
mod decisions;
pub use decisions::stored_decision;
mod error;
pub mod events;
pub mod loans;
pub mod monitor;
pub mod rc_simulation;
pub mod revolving;
pub mod simulation;
mod verify;
pub mod webhooks;
mod writer;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::EngineError;
pub use verify::{verify, VerifyReport};
pub use writer::{Command, Outcome, Replayed};

use ledger::{
    leaf_data, merkle, Account, AccountId, EntryId, EntryRecord, Hash, HoldId, HoldRecord,
    MerkleTree, SignedTreeHead, TreeHeadSigner,
};
use std::sync::{Arc, Mutex};
use store::{DomainWrite, Store};
use tokio::sync::{mpsc, oneshot};

/// How the writer groups commands.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// Most operations committed in one transaction.
    pub group_ops_max: usize,
    /// Commands waiting for the writer before new ones are refused with 503.
    pub queue_depth_max: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            group_ops_max: 16_384,
            queue_depth_max: 65_536,
        }
    }
}

/// The committed view of the Merkle tree, shared with readers. Leaves past `committed_size`
/// may belong to a group still being written and are never shown.
pub(crate) struct TreeView {
    pub tree: MerkleTree,
    pub committed_size: u64,
    /// Counts the writer's commits, so that the outbox's consumers in the process wait for
    /// the next one instead of polling.
    pub commits: tokio::sync::watch::Sender<u64>,
    /// Accounts whose committed balances are kept in memory (`Engine::watched_usage`).
    pub watched: std::collections::HashMap<AccountId, Watched>,
}

/// A watched account: its balances as committed (`None` until first read), updated by
/// each commit before its requests are answered, and what queued submissions reserved on
/// it, released by the same update when they commit.
#[derive(Default)]
pub(crate) struct Watched {
    pub committed: Option<ledger::Balances>,
    pub reserved_minor: i64,
}

impl TreeView {
    pub(crate) fn release(&mut self, id: AccountId, amount_minor: i64) {
        let w = self.watched.entry(id).or_default();
        w.reserved_minor -= amount_minor;
        assert!(
            w.reserved_minor >= 0,
            "an account's reserved amount stays non-negative"
        );
    }
}

#[derive(Clone)]
pub struct Engine {
    store: Store,
    tx: mpsc::Sender<writer::Envelope>,
    tree: Arc<Mutex<TreeView>>,
    signer: Arc<TreeHeadSigner>,
    decisions: decisions::DecisionLog,
    /// Revolving credit's documents kept in this process, and turns for changing one.
    documents: Arc<revolving::Documents>,
    /// The gate between loan commands and close of business, and the open day.
    loan_day: Arc<business_day::LoanDay>,
    /// Held while a loan that names a credit decision is checked and created, so a decision
    /// prices one loan only (one process writes a store: the store's writer lock).
    decision_uses: Arc<tokio::sync::Mutex<()>>,
    /// Stops the writer task, for fault injection only.
    writer_abort: tokio::task::AbortHandle,
    /// The time of day: hold expiry, timestamps of entries, holds and tree heads.
    clock: Arc<dyn Clock>,
    /// Customers early warning stopped from new borrowing (`monitor::halts`).
    risk_halts: Arc<monitor::Halts>,
    /// Changes after each commit of the writer (`TreeView::commits`).
    commits: tokio::sync::watch::Receiver<u64>,
    /// Halts, the read-only switch and funders' outages in force.
    controls: Arc<controls::Controls>,
    /// Co-lent originations' turn to choose funders and the room they hold.
    originations: Arc<colending::reserve::Originations>,
}

/// An inclusion proof with everything an outside verifier needs.
pub struct EntryProof {
    pub entry: EntryRecord,
    pub leaf_data: Vec<u8>,
    pub leaf_index: u64,
    pub audit_path: Vec<Hash>,
    pub tree_head: SignedTreeHead,
}

/// Logs how the writer task ended when that was not the normal end (every sender dropped).
async fn report_writer_end(task: tokio::task::JoinHandle<()>) {
    match task.await {
        Ok(()) => {}
        Err(e) if e.is_panic() => {
            let p = e.into_panic();
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(
                panic = msg,
                "the ledger writer panicked; no command can commit"
            );
        }
        Err(_) => tracing::error!("the ledger writer was stopped; no command can commit"),
    }
}

/// The `meta` key under which the store keeps the tree heads' Ed25519 signing key: a
/// restored store signs with it, and `ledger extends` checks old heads against it.
pub const SIGNING_KEY_META: &str = "tree_head_signing_key";

impl Engine {
    /// Migrates the store, rebuilds the book from it and starts the writer, on the system
    /// clock.
    pub async fn start(store: Store, config: EngineConfig) -> anyhow::Result<Engine> {
        Engine::start_with_clock(store, config, Arc::new(SystemClock)).await
    }

    /// As [`Engine::start`], reading the time from `clock`.
    pub async fn start_with_clock(
        store: Store,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Engine> {
        store.migrate().await?;
        let controls = Arc::new(controls::load(&store).await?);
        let state = store.load_book_state().await?;
        let mut tree = MerkleTree::new();
        for h in &state.leaf_hashes {
            tree.push(*h);
        }
        let committed_size = tree.len();
        let secret = store
            .meta_init(SIGNING_KEY_META, rand::random::<[u8; 32]>().to_vec())
            .await?;
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| anyhow::anyhow!("stored signing key is not 32 bytes"))?;
        let (commits, commits_seen) = tokio::sync::watch::channel(0);
        let view = Arc::new(Mutex::new(TreeView {
            tree,
            committed_size,
            commits,
            watched: Default::default(),
        }));
        let book = ledger::Book::new(
            state.accounts,
            state.pending_holds,
            state.chain_heads,
            committed_size,
        );
        let (tx, writer_task) =
            writer::spawn(store.clone(), book, view.clone(), config, clock.clone());
        let writer_abort = writer_task.abort_handle();
        tokio::spawn(report_writer_end(writer_task));
        Ok(Engine {
            writer_abort,
            decisions: decisions::DecisionLog::spawn(store.clone()),
            store,
            tx,
            tree: view,
            signer: Arc::new(TreeHeadSigner::from_secret(secret)),
            documents: Arc::default(),
            loan_day: Arc::new(business_day::LoanDay::new()),
            decision_uses: Arc::default(),
            clock,
            risk_halts: Arc::default(),
            commits: commits_seen,
            controls,
            originations: Arc::default(),
        })
    }

    pub(crate) fn originations(&self) -> &Arc<colending::reserve::Originations> {
        &self.originations
    }

    pub(crate) fn decision_uses(&self) -> &tokio::sync::Mutex<()> {
        &self.decision_uses
    }

    /// The time of day as this engine's clock tells it, in milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The clock this engine reads, for work beside it (webhook signatures).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// A receiver that sees a change after each commit of the writer: what was committed
    /// is then readable from storage.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.clone()
    }

    /// The customers halted by early warning, as this process knows them.
    pub fn risk_halts(&self) -> &monitor::Halts {
        &self.risk_halts
    }

    pub(crate) fn documents(&self) -> &revolving::Documents {
        &self.documents
    }

    pub(crate) fn loan_day(&self) -> &business_day::LoanDay {
        &self.loan_day
    }

    /// A loan command's share of the loan day (waits while close of business runs).
    pub async fn loan_day_shared(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.loan_day.shared().await
    }

    /// Close of business's exclusive hold on the loan day.
    pub async fn loan_day_exclusive(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.loan_day.exclusive().await
    }

    /// Stores a credit decision for audit, returning once it is durable. Concurrent
    /// decisions share one transaction (group commit).
    pub async fn record_decision(&self, row: store::DecisionRow) -> Result<(), EngineError> {
        self.decisions.record(row, None).await
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Submits linked commands (all-or-nothing) and waits until they are durable.
    pub async fn submit(&self, commands: Vec<Command>) -> Result<Vec<Outcome>, EngineError> {
        self.submit_with(commands, Vec::new()).await
    }

    /// As [`Engine::submit`], with domain writes (loan state, events, COB marks) committed
    /// in the same transaction if and only if the commands are accepted.
    pub async fn submit_with(
        &self,
        commands: Vec<Command>,
        domain: Vec<DomainWrite>,
    ) -> Result<Vec<Outcome>, EngineError> {
        self.enqueue(commands, domain, false).await
    }

    /// As [`Engine::submit_with`], waiting for queue room instead of refusing when full
    /// (for batch jobs, which would rather slow down than fail).
    pub async fn submit_waiting(
        &self,
        commands: Vec<Command>,
        domain: Vec<DomainWrite>,
    ) -> Result<Vec<Outcome>, EngineError> {
        self.enqueue(commands, domain, true).await
    }

    async fn enqueue(
        &self,
        commands: Vec<Command>,
        domain: Vec<DomainWrite>,
        wait_for_room: bool,
    ) -> Result<Vec<Outcome>, EngineError> {
        let rx = self.send(commands, domain, wait_for_room).await?;
        rx.await.map_err(|_| EngineError::WriterGone)?
    }

    /// Queues a submission for the writer; the receiver gets its answer.
    pub(crate) async fn send(
        &self,
        commands: Vec<Command>,
        domain: Vec<DomainWrite>,
        wait_for_room: bool,
    ) -> Result<oneshot::Receiver<writer::EnvelopeResult>, EngineError> {
        self.send_reserved(commands, domain, wait_for_room, Vec::new())
            .await
    }

    /// As `send`, with reservations on watched accounts that its commit releases.
    pub(crate) async fn send_reserved(
        &self,
        commands: Vec<Command>,
        domain: Vec<DomainWrite>,
        wait_for_room: bool,
        reserved: Vec<(AccountId, i64)>,
    ) -> Result<oneshot::Receiver<writer::EnvelopeResult>, EngineError> {
        let (mut envelope, rx) = writer::Envelope::new(commands, domain);
        envelope.reserved = reserved;
        if wait_for_room {
            self.tx
                .send(envelope)
                .await
                .map_err(|_| EngineError::WriterGone)?;
        } else {
            self.tx.try_send(envelope).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => EngineError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => EngineError::WriterGone,
            })?;
        }
        Ok(rx)
    }

    /// Many independent envelopes at once, waiting for queue room: each commits or fails on
    /// its own (as if submitted separately), but they cost one task instead of one each.
    pub async fn submit_many(
        &self,
        envelopes: Vec<(Vec<Command>, Vec<DomainWrite>)>,
    ) -> Vec<Result<Vec<Outcome>, EngineError>> {
        let mut replies = Vec::with_capacity(envelopes.len());
        for (commands, domain) in envelopes {
            let (envelope, rx) = writer::Envelope::new(commands, domain);
            let sent = self.tx.send(envelope).await.is_ok();
            replies.push(sent.then_some(rx));
        }
        let mut out = Vec::with_capacity(replies.len());
        for rx in replies {
            out.push(match rx {
                Some(rx) => rx.await.unwrap_or(Err(EngineError::WriterGone)),
                None => Err(EngineError::WriterGone),
            });
        }
        out
    }

    pub async fn submit_one(&self, command: Command) -> Result<Outcome, EngineError> {
        let mut out = self.submit(vec![command]).await?;
        Ok(out.pop().expect("one outcome per command"))
    }

    /// An account's committed balances and what queued submissions reserved on it, read
    /// together (see `Watched`); from memory once the account has been read.
    pub(crate) async fn watched_usage(
        &self,
        id: AccountId,
    ) -> anyhow::Result<(ledger::Balances, i64)> {
        {
            let mut v = self.tree.lock().unwrap_or_else(|p| p.into_inner());
            let w = v.watched.entry(id).or_default();
            if let Some(b) = w.committed {
                return Ok((b, w.reserved_minor));
            }
        }
        // Watched before the read: a commit published meanwhile fills the slot, and its
        // balances are at least as new as what was read.
        let read = self.store.account(id).await?.map(|a| a.balances);
        let mut v = self.tree.lock().unwrap_or_else(|p| p.into_inner());
        let w = v.watched.entry(id).or_default();
        let b = *w.committed.get_or_insert(read.unwrap_or_default());
        Ok((b, w.reserved_minor))
    }

    /// Reserves `amount_minor` on a watched account until a submission carrying it commits
    /// (`send_reserved`) or it is released.
    pub(crate) fn reserve_on(&self, id: AccountId, amount_minor: i64) {
        let mut v = self.tree.lock().unwrap_or_else(|p| p.into_inner());
        v.watched.entry(id).or_default().reserved_minor += amount_minor;
    }

    /// Releases a reservation whose submission did not commit.
    pub(crate) fn release_on(&self, id: AccountId, amount_minor: i64) {
        let mut v = self.tree.lock().unwrap_or_else(|p| p.into_inner());
        v.release(id, amount_minor);
    }

    pub async fn account(&self, id: AccountId) -> anyhow::Result<Option<Account>> {
        self.store.account(id).await
    }

    pub async fn entry(&self, id: EntryId) -> anyhow::Result<Option<EntryRecord>> {
        self.store.entry(id).await
    }

    pub async fn hold(&self, id: HoldId) -> anyhow::Result<Option<HoldRecord>> {
        self.store.hold(id).await
    }

    /// A freshly signed head of the committed tree.
    pub fn tree_head(&self) -> SignedTreeHead {
        let view = self.tree.lock().unwrap_or_else(|p| p.into_inner());
        let size = view.committed_size;
        let root = view.tree.root(size).expect("committed size within tree");
        self.signer.sign(size, self.now_ms() as u64, root)
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.signer.public_key()
    }

    /// Inclusion proof of entry `id` in the current committed tree.
    pub async fn proof(&self, id: EntryId) -> anyhow::Result<Option<EntryProof>> {
        let Some(entry) = self.store.entry(id).await? else {
            return Ok(None);
        };
        let view = self.tree.lock().unwrap_or_else(|p| p.into_inner());
        let size = view.committed_size;
        let path = view
            .tree
            .inclusion_proof(entry.seq, size)
            .ok_or_else(|| anyhow::anyhow!("entry {id} is stored but not in the committed tree"))?;
        let root = view.tree.root(size).expect("committed size within tree");
        drop(view);
        let head = self.signer.sign(size, self.now_ms() as u64, root);
        // A proof that does not verify here would not verify for the client either: refuse
        // to serve it (an internal error) rather than hand out a wrong one.
        anyhow::ensure!(
            merkle::verify_inclusion(entry.seq, size, &entry.hash, &path, &root),
            "the inclusion proof of entry {id} does not verify against the committed tree"
        );
        Ok(Some(EntryProof {
            leaf_data: leaf_data(&entry),
            leaf_index: entry.seq,
            audit_path: path,
            tree_head: head,
            entry,
        }))
    }

    /// Inclusion proofs of entries `ids` against one signed head, so a report's proofs all
    /// lead to the same root; None when an entry is not stored.
    pub async fn proofs(
        &self,
        ids: &[EntryId],
    ) -> anyhow::Result<Option<(Vec<EntryProof>, SignedTreeHead)>> {
        let mut entries = Vec::with_capacity(ids.len());
        for &id in ids {
            match self.store.entry(id).await? {
                Some(e) => entries.push(e),
                None => return Ok(None),
            }
        }
        let view = self.tree.lock().unwrap_or_else(|p| p.into_inner());
        let size = view.committed_size;
        let root = view.tree.root(size).expect("committed size within tree");
        let mut paths = Vec::with_capacity(entries.len());
        for e in &entries {
            let path = view.tree.inclusion_proof(e.seq, size).ok_or_else(|| {
                anyhow::anyhow!("entry {} is stored but not in the committed tree", e.id)
            })?;
            paths.push(path);
        }
        drop(view);
        let head = self.signer.sign(size, self.now_ms() as u64, root);
        let mut out = Vec::with_capacity(entries.len());
        for (entry, audit_path) in entries.into_iter().zip(paths) {
            anyhow::ensure!(
                merkle::verify_inclusion(entry.seq, size, &entry.hash, &audit_path, &root),
                "the inclusion proof of entry {} does not verify against the committed tree",
                entry.id
            );
            out.push(EntryProof {
                leaf_data: leaf_data(&entry),
                leaf_index: entry.seq,
                audit_path,
                tree_head: head.clone(),
                entry,
            });
        }
        Ok(Some((out, head)))
    }

    /// Whether the writer task still runs. Once it has stopped (a panic, say), no command
    /// can commit, and the process should make way for a fresh one.
    pub fn writer_alive(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Resolves when the writer task has stopped.
    pub async fn writer_stopped(&self) {
        self.tx.closed().await;
    }

    /// Stops the writer task as a crash would (its queue closes, waiting commands fail with
    /// [`EngineError::WriterGone`]); for tests of what the process does then.
    #[doc(hidden)]
    pub fn stop_writer_for_fault_injection(&self) {
        tracing::warn!("fault injection: stopping the ledger writer");
        self.writer_abort.abort();
    }

    /// Consistency proof between two committed tree sizes.
    pub fn consistency(&self, old_size: u64, new_size: u64) -> Option<Vec<Hash>> {
        let view = self.tree.lock().unwrap_or_else(|p| p.into_inner());
        if new_size > view.committed_size {
            return None;
        }
        view.tree.consistency_proof(old_size, new_size)
    }
}
