//! Persistence. The only crate that speaks SQL.
//!
//! Two first-class backends behind one concrete enum: SQLite (the embedded default, one file
//! in a data directory, WAL, `synchronous=FULL`) through rusqlite, and PostgreSQL through
//! sqlx with `synchronous_commit=on`. A group of ledger changes is written in one
//! transaction; nothing is acknowledged before that transaction is durable.

mod access;
pub mod analytics;
mod audit;
pub mod backup;
mod codec;
mod colending;
mod docs;
mod events;
mod loans;
mod lock;
mod portfolio;
mod postgres;
mod sqlite;
mod webhooks;

pub use access::{key_id, uuid_v7_floor, ApiKeyRow, DocFilter, LoanFilter};
pub use audit::{audit_hash, verify_audit, AuditBreak, AuditRow, AuditVerdict, PG_AUDIT_LOCK_KEY};
pub use codec::StoredEntry;
pub use colending::DocScan;
pub use docs::{DocEvent, DocRow};
pub use events::{EventFilter, EventRow, StoredEvent, PG_EVENT_LOCK_KEY};
use ledger::{
    Account, AccountId, AccountTable, BodyHash, Effect, EntryId, EntryRecord, HoldId, HoldRecord,
    PARTITIONS,
};
pub use loans::{
    loan_partition, DomainWrite, LoanEvent, LoanRow, ProductRow, ProductWriteError, LOAN_PARTITIONS,
};
pub use lock::{StoreInUse, WriterLock, PG_WRITER_LOCK_KEY};
pub use portfolio::{dpd_bucket, Cohort, Outstanding, Portfolio, DPD_BUCKETS};
pub use postgres::{CobClaim, CobQueue};
/// How long SQLite lets an account's balance row lag its postings before a commit writes it.
pub use sqlite::BALANCE_ROW_LAG as SQLITE_BALANCE_ROW_LAG;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
pub use webhooks::{DeliveryRow, FailureOutcome, WebhookFilter, WebhookRow, DELIVERIES_KEPT};

/// Most decisions written in one transaction (a bound on one statement's parameters and on
/// the memory a write holds).
pub const DECISIONS_PER_WRITE_MAX: usize = 4_096;

pub type Hash = [u8; 32];

/// What the writer needs at start-up to rebuild its in-memory book.
pub struct BookState {
    pub accounts: AccountTable,
    pub pending_holds: Vec<HoldRecord>,
    pub chain_heads: [Hash; PARTITIONS as usize],
    /// Leaf hashes in sequence order.
    pub leaf_hashes: Vec<Hash>,
}

/// A credit decision as made: the canonical input and output bytes and the versions that
/// produced them, so it can be replayed and compared byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionRow {
    pub id: String,
    pub applicant_id: String,
    pub created_at_ms: i64,
    pub input_json: String,
    pub input_hash: Hash,
    pub model_version: String,
    pub policy_version: String,
    pub outcome: String,
    /// JSON array of rule codes.
    pub rules_fired: String,
    pub output_json: String,
    pub output_hash: Hash,
}

/// Entries and holds already stored under ids a group is about to use.
#[derive(Default)]
pub struct Existing {
    pub entries: HashMap<EntryId, EntryRecord>,
    pub holds: HashMap<HoldId, HoldRecord>,
    /// Original entry id → the entry that reversed it.
    pub reversals: HashMap<EntryId, EntryId>,
}

#[derive(Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens (creating if needed) the SQLite database `puhui.db` in `data_dir`.
    pub fn open_sqlite(data_dir: &Path) -> anyhow::Result<Store> {
        Ok(Store::Sqlite(sqlite::SqliteStore::open(data_dir)?))
    }

    pub async fn connect_postgres(url: &str) -> anyhow::Result<Store> {
        Ok(Store::Postgres(postgres::PgStore::connect(url).await?))
    }

    /// Creates a new empty database on the PostgreSQL server of `admin_url` and returns
    /// its URL (for tests and benchmarks that must not share state).
    pub async fn create_postgres_database(admin_url: &str, prefix: &str) -> anyhow::Result<String> {
        postgres::create_database(admin_url, prefix).await
    }

    /// The close-of-business work queue that worker processes share; PostgreSQL only (an
    /// embedded SQLite store has one process).
    pub fn cob_queue(&self) -> Option<CobQueue> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(s) => Some(s.cob_queue()),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Creates or upgrades the schema; safe to run on every start.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Store::Sqlite(s) => s.migrate().await,
            Store::Postgres(s) => s.migrate().await,
        }
    }

    pub async fn load_book_state(&self) -> anyhow::Result<BookState> {
        match self {
            Store::Sqlite(s) => s.load_book_state().await,
            Store::Postgres(s) => s.load_book_state().await,
        }
    }

    pub async fn existing(
        &self,
        entry_ids: Vec<EntryId>,
        hold_ids: Vec<HoldId>,
        reversed: Vec<EntryId>,
    ) -> anyhow::Result<Existing> {
        match self {
            Store::Sqlite(s) => s.existing(entry_ids, hold_ids, reversed).await,
            Store::Postgres(s) => s.existing(entry_ids, hold_ids, reversed).await,
        }
    }

    /// Writes a group's ledger effects and the domain writes of its accepted envelopes in
    /// one durable transaction.
    pub async fn commit(
        &self,
        effect: std::sync::Arc<Effect>,
        domain: std::sync::Arc<Vec<DomainWrite>>,
    ) -> anyhow::Result<()> {
        match self {
            Store::Sqlite(s) => s.commit(effect, domain).await,
            Store::Postgres(s) => s.commit(effect, domain).await,
        }
    }

    /// Stores a product version; `Ok(false)` when the same version with the same body is
    /// already there (a retry), an error when its body differs (versions are immutable).
    pub async fn insert_product(&self, row: ProductRow) -> Result<bool, ProductWriteError> {
        match self {
            Store::Sqlite(s) => s.insert_product(row).await,
            Store::Postgres(s) => s.insert_product(row).await,
        }
    }

    /// A product version, or its newest version when `version` is None.
    pub async fn product(
        &self,
        id: uuid::Uuid,
        version: Option<i32>,
    ) -> anyhow::Result<Option<ProductRow>> {
        match self {
            Store::Sqlite(s) => s.product(id, version).await,
            Store::Postgres(s) => s.product(id, version).await,
        }
    }

    pub async fn loan(&self, id: uuid::Uuid) -> anyhow::Result<Option<LoanRow>> {
        match self {
            Store::Sqlite(s) => s.loan(id).await,
            Store::Postgres(s) => s.loan(id).await,
        }
    }

    /// Current versions of the loans that exist among `ids`.
    pub async fn loan_versions(
        &self,
        ids: Vec<uuid::Uuid>,
    ) -> anyhow::Result<HashMap<uuid::Uuid, i64>> {
        match self {
            Store::Sqlite(s) => s.loan_versions(ids).await,
            Store::Postgres(s) => s.loan_versions(ids).await,
        }
    }

    pub async fn loan_events(&self, id: uuid::Uuid) -> anyhow::Result<Vec<LoanEvent>> {
        match self {
            Store::Sqlite(s) => s.loan_events(id).await,
            Store::Postgres(s) => s.loan_events(id).await,
        }
    }

    /// Open loans of `partition` still before `before_day`, by id after `after`, at most
    /// `limit`: close of business streams a partition in chunks with this.
    pub async fn loans_for_cob(
        &self,
        partition: i32,
        before_day: i32,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> anyhow::Result<Vec<LoanRow>> {
        match self {
            Store::Sqlite(s) => s.loans_for_cob(partition, before_day, after, limit).await,
            Store::Postgres(s) => s.loans_for_cob(partition, before_day, after, limit).await,
        }
    }

    /// Partitions whose close of business for `day` is finished.
    pub async fn cob_done(&self, day: i32) -> anyhow::Result<Vec<i32>> {
        match self {
            Store::Sqlite(s) => s.cob_done(day).await,
            Store::Postgres(s) => s.cob_done(day).await,
        }
    }

    pub async fn entry(&self, id: EntryId) -> anyhow::Result<Option<EntryRecord>> {
        match self {
            Store::Sqlite(s) => s.entry(id).await,
            Store::Postgres(s) => s.entry(id).await,
        }
    }

    pub async fn hold(&self, id: HoldId) -> anyhow::Result<Option<HoldRecord>> {
        match self {
            Store::Sqlite(s) => s.hold(id).await,
            Store::Postgres(s) => s.hold(id).await,
        }
    }

    /// Entries touching `account`, oldest first, with sequence greater than `after_seq`.
    pub async fn entries_by_account(
        &self,
        account: AccountId,
        after_seq: Option<u64>,
        limit: u32,
    ) -> anyhow::Result<Vec<EntryRecord>> {
        match self {
            Store::Sqlite(s) => s.entries_by_account(account, after_seq, limit).await,
            Store::Postgres(s) => s.entries_by_account(account, after_seq, limit).await,
        }
    }

    /// Entries with sequence in `[from_seq, from_seq + limit)`, as stored (for verification).
    pub async fn entries_range(
        &self,
        from_seq: u64,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredEntry>> {
        match self {
            Store::Sqlite(s) => s.entries_range(from_seq, limit).await,
            Store::Postgres(s) => s.entries_range(from_seq, limit).await,
        }
    }

    pub async fn account(&self, id: AccountId) -> anyhow::Result<Option<Account>> {
        match self {
            Store::Sqlite(s) => s.account(id).await,
            Store::Postgres(s) => s.account(id).await,
        }
    }

    /// Every account with its names, for reports and checks (the writer keeps only states).
    pub async fn accounts(&self) -> anyhow::Result<Vec<Account>> {
        match self {
            Store::Sqlite(s) => s.accounts().await,
            Store::Postgres(s) => s.accounts().await,
        }
    }

    pub async fn meta(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match self {
            Store::Sqlite(s) => s.meta(key).await,
            Store::Postgres(s) => s.meta(key).await,
        }
    }

    /// Sets `key` only if absent; returns the value now stored (first writer wins).
    pub async fn meta_init(&self, key: &str, value: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        match self {
            Store::Sqlite(s) => s.meta_init(key, value).await,
            Store::Postgres(s) => s.meta_init(key, value).await,
        }
    }

    pub async fn api_key_count(&self) -> anyhow::Result<u64> {
        match self {
            Store::Sqlite(s) => s.api_key_count().await,
            Store::Postgres(s) => s.api_key_count().await,
        }
    }

    /// Stores a decision; an id already stored is an error (decisions are never rewritten).
    pub async fn insert_decision(&self, row: DecisionRow) -> anyhow::Result<()> {
        self.insert_decisions(Arc::new(vec![row])).await
    }

    /// Stores decisions in one transaction, so many share one durable commit: all of them,
    /// or (an id already stored, a failed write) none.
    pub async fn insert_decisions(&self, rows: Arc<Vec<DecisionRow>>) -> anyhow::Result<()> {
        self.insert_decisions_with_events(rows, Arc::default())
            .await
    }

    pub async fn decision(&self, id: &str) -> anyhow::Result<Option<DecisionRow>> {
        match self {
            Store::Sqlite(s) => s.decision(id.to_string()).await,
            Store::Postgres(s) => s.decision(id).await,
        }
    }

    /// Runs one SQL statement as is. For operators' repair scripts and for tests that tamper
    /// with stored rows on purpose.
    pub async fn doc(&self, id: uuid::Uuid) -> anyhow::Result<Option<DocRow>> {
        match self {
            Store::Sqlite(s) => s.doc(id).await,
            Store::Postgres(s) => s.doc(id).await,
        }
    }

    pub async fn doc_versions(
        &self,
        ids: Vec<uuid::Uuid>,
    ) -> anyhow::Result<HashMap<uuid::Uuid, i64>> {
        match self {
            Store::Sqlite(s) => s.doc_versions(ids).await,
            Store::Postgres(s) => s.doc_versions(ids).await,
        }
    }

    /// Documents of `kind` by id, after `after`; with `open_before_day`, only open ones
    /// whose day is before it (what close of business still has to visit).
    pub async fn docs(
        &self,
        kind: &str,
        open_before_day: Option<i32>,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> anyhow::Result<Vec<DocRow>> {
        let kind = kind.to_string();
        match self {
            Store::Sqlite(s) => s.docs(kind, open_before_day, after, limit).await,
            Store::Postgres(s) => s.docs(kind, open_before_day, after, limit).await,
        }
    }

    pub async fn doc_events(&self, doc_id: uuid::Uuid) -> anyhow::Result<Vec<DocEvent>> {
        match self {
            Store::Sqlite(s) => s.doc_events(doc_id).await,
            Store::Postgres(s) => s.doc_events(doc_id).await,
        }
    }

    /// Posted debits and credits summed over every account, per currency: equal in a
    /// balanced ledger.
    pub async fn trial_balance(&self) -> anyhow::Result<Vec<(String, i128, i128)>> {
        match self {
            Store::Sqlite(s) => s.trial_balance().await,
            Store::Postgres(s) => s.trial_balance().await,
        }
    }

    /// Where the derived index of entries by account disagrees with the postings (SQLite
    /// builds it in bulk; PostgreSQL's is an SQL index and has nothing to check).
    pub async fn account_index_problems(&self, limit: u32) -> anyhow::Result<Vec<String>> {
        match self {
            Store::Sqlite(s) => s.account_index_problems(limit).await,
            Store::Postgres(_) => Ok(Vec::new()),
        }
    }

    pub async fn execute_raw(&self, sql: &str) -> anyhow::Result<u64> {
        match self {
            Store::Sqlite(s) => s.execute_raw(sql.to_string()).await,
            Store::Postgres(s) => s.execute_raw(sql).await,
        }
    }
}

/// Whether a failed commit hit a unique key (an id that is already stored).
/// A versioned write (loan or document row) found its row at another version than the one
/// it names: something changed it since it was read. Nothing of the transaction is kept.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StaleWrite(pub String);

impl StaleWrite {
    pub fn error(message: String) -> anyhow::Error {
        anyhow::Error::new(StaleWrite(message))
    }
}

/// A group that failed for this reason may succeed when run again with every id and row
/// version looked up first: a stored id (a retry) or a row changed since it was read.
pub fn is_conflict(e: &anyhow::Error) -> bool {
    is_unique_violation(e) || e.chain().any(|c| c.downcast_ref::<StaleWrite>().is_some())
}

pub fn is_unique_violation(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        if let Some(rusqlite::Error::SqliteFailure(f, _)) = cause.downcast_ref::<rusqlite::Error>()
        {
            return f.code == rusqlite::ErrorCode::ConstraintViolation;
        }
        if let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() {
            return db.code().as_deref() == Some("23505");
        }
        false
    })
}

/// Body hashes are stored so a retried id can be compared with the original request.
pub fn same_body(a: &BodyHash, b: &BodyHash) -> bool {
    a == b
}
