use crate::codec::{self, assemble, EntryRow, HoldRow, PostingRow, StoredEntry};
use crate::loans::{DomainWrite, LoanEvent, LoanRow, ProductRow, ProductWriteError};
use crate::{BookState, DecisionRow, Existing, Hash};
use anyhow::Context;
use ledger::{
    Account, AccountId, AccountState, AccountTable, Balances, Effect, EntryId, EntryRecord, HoldId,
    HoldRecord, PARTITIONS,
};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

const SCHEMA: &str = include_str!("sqlite_schema.sql");

mod account_index;
mod balances;
pub use balances::FLUSH_AGE as BALANCE_ROW_LAG;
mod access;
mod analytics;
mod audit;
mod colending;
mod docs;
mod events;
mod portfolio;
mod webhooks;
const READERS: usize = 4;

/// One writer connection (the ledger has a single writer) and a few readers; WAL lets readers
/// proceed while the writer commits.
#[derive(Clone)]
pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Connection>>>,
    _checkpointer: Arc<Checkpointer>,
    /// Set by the checkpointer when the WAL should start over; the writer does it.
    restart_wal: Arc<AtomicBool>,
    /// Postings committed and not yet in `account_entries`; only the writer touches it.
    account_index: Arc<Mutex<account_index::AccountIndex>>,
    /// Balances of accounts whose rows lag; the writer changes it, readers overlay it.
    balances: Arc<Mutex<balances::DeferredBalances>>,
}

const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn open_conn(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("open {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(256);
    // FULL: a commit returns only after the WAL is fsync'd, so an acknowledged entry survives
    // power loss, not just a process crash. A 16 MiB page cache, not more: measured, commits
    // got slower as a larger cache filled (SQLite scans its page hash when a write
    // transaction ends), and the operating system caches the file anyway.
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;
         PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=0;",
    )?;
    Ok(conn)
}

/// Copies the WAL back into the database from its own thread, so that commits never pay
/// for checkpoints (SQLite's automatic checkpoint runs inside the committing writer).
/// PASSIVE never blocks the writer. The thread stops when the last store handle is dropped.
struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
    }
}

/// How often the checkpointer copies the WAL back. Short passes disturb commits less than
/// long ones: under purchase load, commits' longest time fell from 18–30 ms at 250 ms to
/// 9–13 ms at 20 ms, and the load's p99 from 14.6 to 10.5–11.2 ms.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(20);

/// WAL frames (4 KiB pages, so 256 MiB) past which the log should start over.
const WAL_RESTART_FRAMES: i64 = 65_536;

/// Under a steady stream of commits a passive checkpoint never quite catches up with the
/// end of the log, and SQLite starts the log over only when one has: the WAL then grows
/// without bound (41 GB after setting up a million loans, with the file system allocating
/// and zeroing every new block). Past `WAL_RESTART_FRAMES` the checkpointer asks the writer
/// to restart the log (`restart_wal`).
fn checkpoint(
    conn: &Connection,
    restart_wanted: &AtomicBool,
    asked_at: &mut Option<std::time::Instant>,
) -> rusqlite::Result<()> {
    let t = std::time::Instant::now();
    let mut log_frames = passive(conn)?;
    let mut passes = 1;
    let may_ask = asked_at.is_none_or(|at| at.elapsed() >= RESTART_ASK_INTERVAL_MIN);
    if log_frames >= WAL_RESTART_FRAMES && may_ask {
        *asked_at = Some(t);
        // Passes again while the writer added much during the last pass, so the restart,
        // which holds commits back, has little left to copy.
        while passes < 8 {
            let before = log_frames;
            log_frames = passive(conn)?;
            passes += 1;
            if log_frames - before <= RESTART_LEFT_FRAMES_MAX {
                break;
            }
        }
        restart_wanted.store(true, Relaxed);
    }
    tracing::debug!(
        log_frames,
        passes,
        ms = t.elapsed().as_secs_f64() * 1e3,
        "sqlite checkpoint"
    );
    Ok(())
}

/// A restart that readers keep from finishing costs the writer up to 5 ms; ask again no
/// sooner than this, so a long read cannot take more than 2 % of the writer's time.
const RESTART_ASK_INTERVAL_MIN: std::time::Duration = std::time::Duration::from_millis(250);

/// Frames the restart may have to copy. Each pass copies the frames the writer added during
/// the one before, and copying costs about a random write per page, so the last passes
/// before a restart are short.
const RESTART_LEFT_FRAMES_MAX: i64 = 256;

/// A passive pass; the log's frames (all copied unless the writer added some meanwhile).
fn passive(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}

/// Called by the writer between commits when asked. A RESTART checkpoint holds commits back
/// while it copies what the last passive pass left and waits for readers, so the next
/// commit writes from the start of the file. Run by the checkpointer's own connection it
/// first waited for the writer's lock in the busy handler's coarse sleeps, and held commits
/// back 3–125 ms (measured under purchase load); the writer runs it between two of its own
/// commits, right after a passive pass. It waits at most 5 ms for readers; if they are not
/// done it gives up and a later pass asks again.
fn restart_wal(conn: &Connection) -> rusqlite::Result<()> {
    let t = std::time::Instant::now();
    conn.busy_timeout(std::time::Duration::from_millis(5))?;
    let done = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
    conn.busy_timeout(BUSY_TIMEOUT)?;
    tracing::debug!(
        busy = done?,
        ms = t.elapsed().as_secs_f64() * 1e3,
        "sqlite wal restart"
    );
    Ok(())
}

fn spawn_checkpointer(
    conn: Connection,
    restart_wanted: Arc<AtomicBool>,
) -> anyhow::Result<Checkpointer> {
    conn.busy_timeout(std::time::Duration::from_millis(100))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut asked_at = None;
            while !flag.load(Relaxed) {
                std::thread::sleep(CHECKPOINT_INTERVAL);
                if let Err(e) = checkpoint(&conn, &restart_wanted, &mut asked_at) {
                    tracing::warn!(error = %e, "sqlite checkpoint");
                }
            }
        })?;
    Ok(Checkpointer { stop })
}

impl SqliteStore {
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("create data directory {}", data_dir.display()))?;
        let path = data_dir.join("puhui.db");
        let writer = open_conn(&path)?;
        let readers = (0..READERS)
            .map(|_| open_conn(&path).map(Mutex::new))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let restart_wal = Arc::new(AtomicBool::new(false));
        let checkpointer = Arc::new(spawn_checkpointer(open_conn(&path)?, restart_wal.clone())?);
        Ok(SqliteStore {
            _checkpointer: checkpointer,
            restart_wal,
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(readers),
            account_index: Arc::default(),
            balances: Arc::default(),
        })
    }

    async fn with_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let w = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = w.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .context("join sqlite writer task")?
    }

    async fn with_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            for r in readers.iter() {
                if let Ok(conn) = r.try_lock() {
                    return f(&conn);
                }
            }
            let conn = readers[0].lock().unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
        .context("join sqlite reader task")?
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.with_writer(|c| {
            for table in ROWID_TABLES {
                rebuild_as_rowid_table(c, table)?;
            }
            c.execute_batch(SCHEMA).context("apply sqlite schema")?;
            move_account_index(c)?;
            add_balances_seq(c)?;
            c.execute_batch(docs::SCHEMA)
                .context("apply sqlite document schema")?;
            c.execute_batch(events::SCHEMA)
                .context("apply sqlite event schema")?;
            c.execute_batch(audit::SCHEMA)
                .context("apply sqlite audit schema")?;
            c.execute_batch(webhooks::SCHEMA)
                .context("apply sqlite webhook schema")?;
            c.execute_batch(analytics::SCHEMA)
                .context("apply sqlite analytics schema")?;
            access::add_access_columns(c)
        })
        .await
    }

    pub async fn load_book_state(&self) -> anyhow::Result<BookState> {
        let deferred = self.balances.clone();
        self.with_reader(move |c| {
            // One snapshot: rows, the postings they lag and the holds must agree.
            let c = c.unchecked_transaction()?;
            let recovered = balances::recover(&c)?;
            let count: i64 = c.query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))?;
            let mut accounts = AccountTable::with_capacity(usize::try_from(count)?);
            let mut stmt = c.prepare(ACCOUNT_SELECT)?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let a = account_row(r)??;
                accounts.insert(a.id, AccountState::of(&a));
            }
            let pending_holds = c
                .prepare(&format!("{HOLD_SELECT} WHERE status = 'pending'"))?
                .query_map([], hold_row)?
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .map(HoldRow::into_record)
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut leaf_hashes = Vec::new();
            let mut chain_heads = [[0u8; 32]; PARTITIONS as usize];
            let mut stmt = c.prepare("SELECT seq, partition, hash FROM entries ORDER BY seq")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let seq: i64 = r.get(0)?;
                anyhow::ensure!(
                    seq as usize == leaf_hashes.len(),
                    "entry sequence has a gap at {seq}"
                );
                let p: i64 = r.get(1)?;
                let h = codec::hash_from(&r.get::<_, Vec<u8>>(2)?, "hash")?;
                chain_heads[usize::try_from(p)? % PARTITIONS as usize] = h;
                leaf_hashes.push(h);
            }
            for (id, b, _) in &recovered.lagging {
                if let Some(a) = accounts.get_mut(id) {
                    a.balances = *b;
                }
            }
            deferred
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .adopt(&recovered);
            Ok(BookState {
                accounts,
                pending_holds,
                chain_heads,
                leaf_hashes,
            })
        })
        .await
    }

    pub async fn existing(
        &self,
        entry_ids: Vec<EntryId>,
        hold_ids: Vec<HoldId>,
        reversed: Vec<EntryId>,
    ) -> anyhow::Result<Existing> {
        self.with_reader(move |c| {
            let mut out = Existing::default();
            let mut seqs = Vec::new();
            {
                let mut stmt = c.prepare_cached("SELECT seq FROM entries WHERE id = ?1")?;
                for id in &entry_ids {
                    if let Some(seq) = stmt
                        .query_row([id.0.as_bytes()], |r| r.get::<_, i64>(0))
                        .optional()?
                    {
                        seqs.push(seq);
                    }
                }
            }
            for e in load_by_seqs(c, &seqs)? {
                out.entries.insert(e.id, e);
            }
            let mut stmt = c.prepare_cached(&format!("{HOLD_SELECT} WHERE id = ?1"))?;
            for id in &hold_ids {
                if let Some(h) = stmt.query_row([id.0.as_bytes()], hold_row).optional()? {
                    out.holds.insert(*id, h.into_record()?);
                }
            }
            let mut stmt =
                c.prepare_cached("SELECT id FROM entries WHERE kind = 2 AND ref = ?1")?;
            for id in &reversed {
                if let Some(r) = stmt
                    .query_row([id.0.as_bytes()], |r| r.get::<_, Vec<u8>>(0))
                    .optional()?
                {
                    out.reversals
                        .insert(*id, EntryId(codec::uuid_from(&r, "reversal")?));
                }
            }
            Ok(out)
        })
        .await
    }

    pub async fn commit(
        &self,
        effect: Arc<Effect>,
        domain: Arc<Vec<DomainWrite>>,
    ) -> anyhow::Result<()> {
        let (index, restart) = (self.account_index.clone(), self.restart_wal.clone());
        let balances = self.balances.clone();
        self.with_writer(move |c| {
            let mut index = index.lock().unwrap_or_else(|p| p.into_inner());
            let mut balances = balances.lock().unwrap_or_else(|p| p.into_inner());
            write_effect(c, &effect, &domain, (&mut index, &mut balances))?;
            if restart.swap(false, Relaxed) {
                if let Err(e) = restart_wal(c) {
                    tracing::warn!(error = %e, "sqlite wal restart");
                }
            }
            Ok(())
        })
        .await
    }

    pub async fn insert_product(&self, row: ProductRow) -> Result<bool, ProductWriteError> {
        let outcome = self
            .with_writer(move |c| {
                let n = c.execute(
                    "INSERT OR IGNORE INTO loan_products (id, version, body, created_at_ms, tenant) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![row.id.as_bytes(), row.version, row.body, row.created_at_ms, row.tenant],
                )?;
                if n == 1 {
                    return Ok(Some(true));
                }
                let (body, tenant): (Vec<u8>, String) = c.query_row(
                    "SELECT body, tenant FROM loan_products WHERE id = ?1 AND version = ?2",
                    params![row.id.as_bytes(), row.version],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                Ok((body == row.body && tenant == row.tenant).then_some(false))
            })
            .await?;
        outcome.ok_or(ProductWriteError::VersionExists {
            id: row.id,
            version: row.version,
        })
    }

    pub async fn product(
        &self,
        id: uuid::Uuid,
        version: Option<i32>,
    ) -> anyhow::Result<Option<ProductRow>> {
        self.with_reader(move |c| {
            let sql = "SELECT version, body, created_at_ms, tenant FROM loan_products WHERE id = ?1 AND (?2 IS NULL OR version = ?2) ORDER BY version DESC LIMIT 1";
            Ok(c.prepare_cached(sql)?
                .query_row(params![id.as_bytes(), version], |r| {
                    Ok(ProductRow {
                        id,
                        version: r.get(0)?,
                        body: r.get(1)?,
                        created_at_ms: r.get(2)?,
                        tenant: r.get(3)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    pub async fn loan(&self, id: uuid::Uuid) -> anyhow::Result<Option<LoanRow>> {
        self.with_reader(move |c| {
            c.prepare_cached(&format!("{LOAN_SELECT} WHERE id = ?1"))?
                .query_row([id.as_bytes()], loan_row)
                .optional()?
                .transpose()
        })
        .await
    }

    pub async fn loan_versions(
        &self,
        ids: Vec<uuid::Uuid>,
    ) -> anyhow::Result<std::collections::HashMap<uuid::Uuid, i64>> {
        self.with_reader(move |c| {
            let mut out = std::collections::HashMap::new();
            let mut stmt = c.prepare_cached("SELECT version FROM loans WHERE id = ?1")?;
            for id in ids {
                if let Some(v) = stmt
                    .query_row([id.as_bytes()], |r| r.get::<_, i64>(0))
                    .optional()?
                {
                    out.insert(id, v);
                }
            }
            Ok(out)
        })
        .await
    }

    pub async fn loan_events(&self, id: uuid::Uuid) -> anyhow::Result<Vec<LoanEvent>> {
        self.with_reader(move |c| {
            let rows = c
                .prepare_cached(
                    "SELECT seq, day, kind, body FROM loan_events WHERE loan_id = ?1 ORDER BY seq",
                )?
                .query_map([id.as_bytes()], |r| {
                    Ok(LoanEvent {
                        loan_id: id,
                        seq: r.get(0)?,
                        day: r.get(1)?,
                        kind: r.get(2)?,
                        body: r.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn loans_for_cob(
        &self,
        partition: i32,
        before_day: i32,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> anyhow::Result<Vec<LoanRow>> {
        self.with_reader(move |c| {
            let after = after.map_or_else(Vec::new, |a| a.as_bytes().to_vec());
            c.prepare_cached(&format!(
                "{LOAN_SELECT} WHERE partition = ?1 AND open = 1 AND id > ?2 AND day < ?3 ORDER BY id LIMIT ?4"
            ))?
            .query_map(params![partition, after, before_day, limit], loan_row)?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .collect()
        })
        .await
    }

    pub async fn cob_done(&self, day: i32) -> anyhow::Result<Vec<i32>> {
        self.with_reader(move |c| {
            Ok(
                c.prepare_cached("SELECT partition FROM cob_progress WHERE day = ?1")?
                    .query_map([day], |r| r.get(0))?
                    .collect::<Result<Vec<_>, _>>()?,
            )
        })
        .await
    }

    pub async fn entry(&self, id: EntryId) -> anyhow::Result<Option<EntryRecord>> {
        self.with_reader(move |c| {
            let seq: Option<i64> = c
                .prepare_cached("SELECT seq FROM entries WHERE id = ?1")?
                .query_row([id.0.as_bytes()], |r| r.get(0))
                .optional()?;
            Ok(load_by_seqs(c, &seq.into_iter().collect::<Vec<_>>())?.pop())
        })
        .await
    }

    pub async fn hold(&self, id: HoldId) -> anyhow::Result<Option<HoldRecord>> {
        self.with_reader(move |c| {
            c.prepare_cached(&format!("{HOLD_SELECT} WHERE id = ?1"))?
                .query_row([id.0.as_bytes()], hold_row)
                .optional()?
                .map(HoldRow::into_record)
                .transpose()
        })
        .await
    }

    pub async fn entries_by_account(
        &self,
        account: AccountId,
        after_seq: Option<u64>,
        limit: u32,
    ) -> anyhow::Result<Vec<EntryRecord>> {
        self.with_reader(move |c| {
            let after = after_seq.map_or(-1, |s| s as i64);
            let seqs = c
                .prepare_cached(
                    "SELECT seq FROM account_entries WHERE account_id = ?1 AND seq > ?2 \
                     UNION \
                     SELECT seq FROM postings WHERE seq >= (SELECT through_seq FROM account_index_mark WHERE id = 0) \
                     AND seq > ?2 AND account_id = ?1 \
                     ORDER BY seq LIMIT ?3",
                )?
                .query_map(params![account.0.as_bytes(), after, limit], |r| r.get::<_, i64>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            load_by_seqs(c, &seqs)
        })
        .await
    }

    /// Postings below the watermark missing from `account_entries`, and rows of it that name
    /// no posting (rows above the watermark may be there already), as "missing"/"extra" lines
    /// naming the account and entry; at most `limit`.
    pub async fn account_index_problems(&self, limit: u32) -> anyhow::Result<Vec<String>> {
        self.with_reader(move |c| {
            let mut st = c.prepare(
                "WITH m AS (SELECT through_seq FROM account_index_mark WHERE id = 0), \
                 p AS (SELECT account_id, seq FROM postings WHERE seq < (SELECT through_seq FROM m)) \
                 SELECT 'missing', account_id, seq FROM (SELECT account_id, seq FROM p EXCEPT SELECT account_id, seq FROM account_entries) \
                 UNION ALL \
                 SELECT 'extra', account_id, seq FROM (SELECT account_id, seq FROM account_entries EXCEPT SELECT account_id, seq FROM postings) \
                 LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            rows.map(|row| {
                let (what, account, seq) = row?;
                let account = uuid::Uuid::from_slice(&account)?;
                Ok(format!(
                    "account index: entry seq {seq} for account {account} is {what}"
                ))
            })
            .collect()
        })
        .await
    }

    pub async fn entries_range(
        &self,
        from_seq: u64,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredEntry>> {
        self.with_reader(move |c| {
            let from = from_seq as i64;
            let to = from + i64::from(limit);
            let entries = c
                .prepare_cached(&format!("{ENTRY_SELECT} WHERE seq >= ?1 AND seq < ?2 ORDER BY seq"))?
                .query_map([from, to], entry_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let postings = c
                .prepare_cached("SELECT seq, account_id, direction, amount_minor FROM postings WHERE seq >= ?1 AND seq < ?2 ORDER BY seq, idx")?
                .query_map([from, to], posting_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(assemble(entries, postings)?.into_iter().map(|record| StoredEntry { record }).collect())
        })
        .await
    }

    /// Every account with its latest committed balances (rows overlaid with what lags).
    pub async fn accounts(&self) -> anyhow::Result<Vec<Account>> {
        let deferred = self.balances.clone();
        self.with_reader(move |c| {
            let deferred = recovered(&deferred, c)?;
            let mut accounts: Vec<Account> = c
                .prepare(ACCOUNT_SELECT)?
                .query_map([], account_row)?
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .collect::<anyhow::Result<_>>()?;
            for a in &mut accounts {
                if let Some(b) = deferred.latest(&a.id) {
                    a.balances = b;
                }
            }
            Ok(accounts)
        })
        .await
    }

    pub async fn account(&self, id: AccountId) -> anyhow::Result<Option<Account>> {
        let deferred = self.balances.clone();
        self.with_reader(move |c| {
            let deferred = recovered(&deferred, c)?;
            let row = c
                .prepare_cached(&format!("{ACCOUNT_SELECT} WHERE id = ?1"))?
                .query_row([id.0.as_bytes()], account_row)
                .optional()?
                .transpose()?;
            let latest = deferred.latest(&id);
            Ok(row.map(|mut a| {
                if let Some(b) = latest {
                    a.balances = b;
                }
                a
            }))
        })
        .await
    }

    /// Per currency, the sums of all accounts' posted debits and credits.
    pub async fn trial_balance(&self) -> anyhow::Result<Vec<(String, i128, i128)>> {
        let mut sums: std::collections::BTreeMap<String, (i128, i128)> = Default::default();
        for a in self.accounts().await? {
            let s = sums.entry(a.currency.code().to_string()).or_default();
            s.0 += i128::from(a.balances.debits_posted_minor);
            s.1 += i128::from(a.balances.credits_posted_minor);
        }
        Ok(sums.into_iter().map(|(c, (d, k))| (c, d, k)).collect())
    }

    pub async fn meta(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let key = key.to_string();
        self.with_reader(move |c| {
            Ok(c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    pub async fn meta_init(&self, key: &str, value: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        let key = key.to_string();
        self.with_writer(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
            Ok(c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))?)
        })
        .await
    }

    /// Stores decisions in one transaction: all of them or, on any error, none.
    pub async fn insert_decisions(
        &self,
        rows: Arc<Vec<DecisionRow>>,
        decision_events: Arc<Vec<crate::EventRow>>,
    ) -> anyhow::Result<()> {
        self.with_writer(move |c| {
            let tx = c.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO decisions (id, applicant_id, created_at_ms, input_json, \
                     input_hash, model_version, policy_version, outcome, rules_fired, \
                     output_json, output_hash) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?;
                for d in rows.iter() {
                    insert.execute(params![
                        d.id,
                        d.applicant_id,
                        d.created_at_ms,
                        d.input_json,
                        &d.input_hash[..],
                        d.model_version,
                        d.policy_version,
                        d.outcome,
                        d.rules_fired,
                        d.output_json,
                        &d.output_hash[..]
                    ])?;
                }
            }
            events::write(&tx, &decision_events.iter().collect::<Vec<_>>())?;
            tx.commit().context("commit decisions")
        })
        .await
    }

    pub async fn decision(&self, id: String) -> anyhow::Result<Option<DecisionRow>> {
        self.with_reader(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT applicant_id, created_at_ms, input_json, input_hash, model_version, \
                     policy_version, outcome, rules_fired, output_json, output_hash \
                     FROM decisions WHERE id = ?1",
                )?
                .query_row([&id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, String>(8)?,
                        r.get::<_, Vec<u8>>(9)?,
                    ))
                })
                .optional()?;
            row.map(|r| {
                Ok(DecisionRow {
                    id: id.clone(),
                    applicant_id: r.0,
                    created_at_ms: r.1,
                    input_json: r.2,
                    input_hash: hash32(&r.3)?,
                    model_version: r.4,
                    policy_version: r.5,
                    outcome: r.6,
                    rules_fired: r.7,
                    output_json: r.8,
                    output_hash: hash32(&r.9)?,
                })
            })
            .transpose()
        })
        .await
    }

    pub async fn api_key_count(&self) -> anyhow::Result<u64> {
        self.with_reader(|c| {
            Ok(c.query_row("SELECT COUNT(*) FROM api_keys", [], |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }

    pub async fn execute_raw(&self, sql: String) -> anyhow::Result<u64> {
        self.with_writer(move |c| Ok(c.execute(&sql, [])? as u64))
            .await
    }
}

const LOAN_SELECT: &str = "SELECT id, partition, tenant, borrower, product_id, product_version, stage, day, open, version, state, dpd FROM loans";

fn loan_row(r: &Row<'_>) -> rusqlite::Result<anyhow::Result<LoanRow>> {
    let id: Vec<u8> = r.get(0)?;
    let product: Vec<u8> = r.get(4)?;
    let (partition, tenant, borrower, product_version, stage, day, open, version, state) = (
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get::<_, i64>(8)?,
        r.get(9)?,
        r.get(10)?,
    );
    Ok((|| {
        Ok(LoanRow {
            id: codec::uuid_from(&id, "loan")?,
            partition,
            tenant,
            borrower,
            product_id: codec::uuid_from(&product, "product")?,
            product_version,
            stage,
            day,
            open: open == 1,
            version,
            dpd: r.get(11)?,
            state,
        })
    })())
}

fn write_domain(tx: &rusqlite::Transaction<'_>, writes: &[DomainWrite]) -> anyhow::Result<()> {
    for w in writes {
        match w {
            DomainWrite::Loan {
                row,
                expected_version: None,
            } => {
                tx.prepare_cached("INSERT INTO loans (id, partition, tenant, borrower, product_id, product_version, stage, day, open, version, state, dpd) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")?
                    .execute(params![row.id.as_bytes(), row.partition, row.tenant, row.borrower, row.product_id.as_bytes(), row.product_version, row.stage, row.day, i64::from(row.open), row.version, row.state, row.dpd])?;
            }
            DomainWrite::Loan {
                row,
                expected_version: Some(v),
            } => {
                // By the primary key (partition, id): one B-tree search, not two via `loans_id`.
                let n = tx
                    .prepare_cached("UPDATE loans SET stage = ?2, day = ?3, open = ?4, version = ?5, state = ?6, dpd = ?9 WHERE partition = ?8 AND id = ?1 AND version = ?7")?
                    .execute(params![row.id.as_bytes(), row.stage, row.day, i64::from(row.open), row.version, row.state, v, row.partition, row.dpd])?;
                if n != 1 {
                    return Err(crate::StaleWrite::error(format!(
                        "loan {} is no longer at version {v}",
                        row.id
                    )));
                }
            }
            DomainWrite::LoanEvent(e) => {
                tx.prepare_cached("INSERT INTO loan_events (loan_id, seq, day, kind, body) VALUES (?1, ?2, ?3, ?4, ?5)")?
                    .execute(params![e.loan_id.as_bytes(), e.seq, e.day, e.kind, e.body])?;
            }
            DomainWrite::CobDone {
                day,
                partition,
                done_at_ms,
            } => {
                tx.prepare_cached("INSERT OR IGNORE INTO cob_progress (day, partition, done_at_ms) VALUES (?1, ?2, ?3)")?
                    .execute(params![day, partition, done_at_ms])?;
            }
            DomainWrite::Doc {
                row,
                expected_version,
            } => docs::write_doc(tx, row, *expected_version)?,
            DomainWrite::DocEvent(e) => docs::write_doc_event(tx, e)?,
            DomainWrite::DocAt { id, version } => docs::check_doc_version(tx, *id, *version)?,
            // Numbered and written together, last (`events::write`).
            DomainWrite::Event(_) => {}
            DomainWrite::Meta { key, value } => {
                tx.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
                    .execute(params![key, value])?;
            }
        }
    }
    Ok(())
}

const ACCOUNT_SELECT: &str = "SELECT id, tenant, owner, purpose, currency, normal_side, constraint_kind, debits_posted, credits_posted, debits_pending, credits_pending, created_at_ms FROM accounts";
const ENTRY_SELECT: &str = "SELECT seq, id, partition, prev_hash, hash, currency, kind, ref, memo, created_at_ms, body_hash FROM entries";
const HOLD_SELECT: &str = "SELECT id, currency, debit_account_id, credit_account_id, amount_minor, expires_at_ms, memo, status, posted_entry_id, posted_amount_minor, body_hash, created_at_ms FROM holds";

fn entry_row(r: &Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok(EntryRow {
        seq: r.get(0)?,
        id: r.get(1)?,
        partition: r.get(2)?,
        prev_hash: r.get(3)?,
        hash: r.get(4)?,
        currency: r.get(5)?,
        kind: r.get(6)?,
        reference: r.get(7)?,
        memo: r.get(8)?,
        created_at_ms: r.get(9)?,
        body_hash: r.get(10)?,
    })
}

fn posting_row(r: &Row<'_>) -> rusqlite::Result<PostingRow> {
    Ok(PostingRow {
        seq: r.get(0)?,
        account_id: r.get(1)?,
        direction: r.get(2)?,
        amount_minor: r.get(3)?,
    })
}

fn hold_row(r: &Row<'_>) -> rusqlite::Result<HoldRow> {
    Ok(HoldRow {
        id: r.get(0)?,
        currency: r.get(1)?,
        debit_account_id: r.get(2)?,
        credit_account_id: r.get(3)?,
        amount_minor: r.get(4)?,
        expires_at_ms: r.get(5)?,
        memo: r.get(6)?,
        status: r.get(7)?,
        posted_entry_id: r.get(8)?,
        posted_amount_minor: r.get(9)?,
        body_hash: r.get(10)?,
        created_at_ms: r.get(11)?,
    })
}

/// The lagging balances, once what an earlier process left is known. Read rows while
/// holding it: the writer holds it from before a commit until its accounts have left the
/// overlay, so rows and overlay are of the same moment (a row read first could predate a
/// commit that wrote it and took its account out of the overlay).
fn recovered<'a>(
    deferred: &'a Mutex<balances::DeferredBalances>,
    c: &Connection,
) -> anyhow::Result<std::sync::MutexGuard<'a, balances::DeferredBalances>> {
    let mut d = deferred.lock().unwrap_or_else(|p| p.into_inner());
    if !d.is_recovered() {
        // No commit can come between: the writer takes this lock before it writes.
        let snapshot = c.unchecked_transaction()?;
        let r = balances::recover(&snapshot)?;
        d.adopt(&r);
    }
    Ok(d)
}

fn account_row(r: &Row<'_>) -> rusqlite::Result<anyhow::Result<Account>> {
    let id: Vec<u8> = r.get(0)?;
    let currency: String = r.get(4)?;
    let normal: String = r.get(5)?;
    let constraint: Option<String> = r.get(6)?;
    let balances = Balances {
        debits_posted_minor: r.get(7)?,
        credits_posted_minor: r.get(8)?,
        debits_pending_minor: r.get(9)?,
        credits_pending_minor: r.get(10)?,
    };
    let (tenant, owner, purpose, created_at_ms) = (r.get(1)?, r.get(2)?, r.get(3)?, r.get(11)?);
    Ok((|| {
        Ok(Account {
            id: AccountId(codec::uuid_from(&id, "account")?),
            tenant,
            owner,
            purpose,
            currency: codec::currency_from(&currency)?,
            normal_side: codec::normal_side_from(&normal)?,
            constraint: codec::constraint_from(constraint)?,
            balances,
            created_at_ms,
        })
    })())
}

fn load_by_seqs(c: &Connection, seqs: &[i64]) -> anyhow::Result<Vec<EntryRecord>> {
    let mut entries = Vec::with_capacity(seqs.len());
    let mut postings = Vec::new();
    let mut es = c.prepare_cached(&format!("{ENTRY_SELECT} WHERE seq = ?1"))?;
    let mut ps = c.prepare_cached(
        "SELECT seq, account_id, direction, amount_minor FROM postings WHERE seq = ?1 ORDER BY idx",
    )?;
    for s in seqs {
        entries.push(es.query_row([s], entry_row)?);
        for p in ps.query_map([s], posting_row)? {
            postings.push(p?);
        }
    }
    assemble(entries, postings)
}

/// Rows per multi-row INSERT: one statement per chunk instead of per row. The multi-row
/// statements say OR ROLLBACK: any conflict fails the whole group transaction anyway, and
/// without it SQLite copies every page such a statement touches into a statement journal.
const CHUNK_ROWS: usize = 64;

fn values_sql(head: &str, columns: usize, rows: usize) -> String {
    let one = format!("({})", vec!["?"; columns].join(","));
    format!("{head} VALUES {}", vec![one; rows].join(","))
}

fn insert_entries(tx: &rusqlite::Transaction<'_>, entries: &[EntryRecord]) -> anyhow::Result<()> {
    const ENTRY_HEAD: &str = "INSERT OR ROLLBACK INTO entries (seq, id, partition, prev_hash, hash, currency, kind, ref, memo, created_at_ms, body_hash)";
    const POSTING_HEAD: &str =
        "INSERT OR ROLLBACK INTO postings (seq, idx, account_id, direction, amount_minor)";
    for chunk in entries.chunks(CHUNK_ROWS) {
        let mut st = tx.prepare_cached(&values_sql(ENTRY_HEAD, 11, chunk.len()))?;
        let mut i = 1;
        for r in chunk {
            st.raw_bind_parameter(i, i64::try_from(r.seq)?)?;
            st.raw_bind_parameter(i + 1, &r.id.0.as_bytes()[..])?;
            st.raw_bind_parameter(i + 2, r.partition)?;
            st.raw_bind_parameter(i + 3, &r.prev_hash[..])?;
            st.raw_bind_parameter(i + 4, &r.hash[..])?;
            st.raw_bind_parameter(i + 5, r.currency.code())?;
            st.raw_bind_parameter(i + 6, r.kind.code())?;
            st.raw_bind_parameter(i + 7, r.kind.reference().map(|u| u.as_bytes().to_vec()))?;
            st.raw_bind_parameter(i + 8, r.memo.as_str())?;
            st.raw_bind_parameter(i + 9, r.created_at_ms)?;
            st.raw_bind_parameter(i + 10, &r.body_hash[..])?;
            i += 11;
        }
        st.raw_execute()?;
    }
    let postings: Vec<(i64, usize, &ledger::Posting)> = entries
        .iter()
        .flat_map(|r| {
            r.postings
                .iter()
                .enumerate()
                .map(move |(idx, p)| (r.seq as i64, idx, p))
        })
        .collect();
    for chunk in postings.chunks(CHUNK_ROWS) {
        let mut st = tx.prepare_cached(&values_sql(POSTING_HEAD, 5, chunk.len()))?;
        let mut i = 1;
        for (seq, idx, p) in chunk {
            st.raw_bind_parameter(i, *seq)?;
            st.raw_bind_parameter(i + 1, *idx as i64)?;
            st.raw_bind_parameter(i + 2, &p.account_id.0.as_bytes()[..])?;
            st.raw_bind_parameter(i + 3, codec::side_code(p.direction))?;
            st.raw_bind_parameter(i + 4, p.amount_minor)?;
            i += 5;
        }
        st.raw_execute()?;
    }
    Ok(())
}

type WriterMemory<'a> = (
    &'a mut account_index::AccountIndex,
    &'a mut balances::DeferredBalances,
);

fn write_effect(
    c: &mut Connection,
    e: &Effect,
    domain: &[DomainWrite],
    (index, balances): WriterMemory<'_>,
) -> anyhow::Result<()> {
    let tx = c.transaction()?;
    let lag = balances.write(&tx, e)?;
    let pending = write_group(&tx, e, domain, index)?;
    events::write(&tx, &crate::events::in_writes(domain))?;
    let written = tx.commit().context("commit ledger group");
    match written {
        Ok(()) => {
            index.committed(pending);
            balances.committed(lag);
        }
        Err(_) => index.rolled_back(pending),
    }
    written
}

/// Everything of a group commit but the commit and the balances. Fails without touching
/// `index`.
fn write_group(
    tx: &rusqlite::Transaction<'_>,
    e: &Effect,
    domain: &[DomainWrite],
    index: &mut account_index::AccountIndex,
) -> anyhow::Result<account_index::Pending> {
    {
        let mut acc = tx.prepare_cached("INSERT INTO accounts (id, tenant, owner, purpose, currency, normal_side, constraint_kind, debits_posted, credits_posted, debits_pending, credits_pending, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, 0, 0, ?8)")?;
        for a in &e.accounts_created {
            acc.execute(params![
                a.id.0.as_bytes(),
                a.tenant,
                a.owner,
                a.purpose,
                a.currency.code(),
                a.normal_side.as_str(),
                a.constraint.map(|c| c.as_str()),
                a.created_at_ms
            ])?;
        }
        insert_entries(tx, &e.entries)?;
        write_holds(tx, e)?;
    }
    write_domain(tx, domain)?;
    // Last, so that nothing after it can fail and leave `index` ahead of storage.
    index.write(tx, &e.entries)
}

fn write_holds(tx: &rusqlite::Transaction<'_>, e: &Effect) -> anyhow::Result<()> {
    let mut insert = tx.prepare_cached("INSERT INTO holds (id, currency, debit_account_id, credit_account_id, amount_minor, expires_at_ms, memo, status, posted_entry_id, posted_amount_minor, body_hash, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")?;
    let mut update = tx.prepare_cached("UPDATE holds SET status = ?2, posted_entry_id = ?3, posted_amount_minor = ?4 WHERE id = ?1 AND status = 'pending'")?;
    let mut to_insert: std::collections::HashSet<_> = e.new_hold_ids.iter().collect();
    for h in &e.holds {
        let r = &h.request;
        if to_insert.remove(&r.id) {
            insert.execute(params![
                r.id.0.as_bytes(),
                r.currency.code(),
                r.debit_account_id.0.as_bytes(),
                r.credit_account_id.0.as_bytes(),
                r.amount_minor,
                r.expires_at_ms,
                r.memo,
                h.status.as_str(),
                h.posted_entry_id.map(|e| e.0.as_bytes().to_vec()),
                h.posted_amount_minor,
                &h.body_hash[..],
                h.created_at_ms
            ])?;
        } else {
            let n = update.execute(params![
                r.id.0.as_bytes(),
                h.status.as_str(),
                h.posted_entry_id.map(|e| e.0.as_bytes().to_vec()),
                h.posted_amount_minor
            ])?;
            anyhow::ensure!(n == 1, "hold {} is no longer pending in storage", r.id);
        }
    }
    Ok(())
}

/// Data directories from before rows could lag their postings: every row is exact, as of
/// the next entry.
fn add_balances_seq(c: &mut Connection) -> anyhow::Result<()> {
    let has: i64 = c.query_row(
        "SELECT count(*) FROM pragma_table_info('accounts') WHERE name = 'balances_seq'",
        [],
        |r| r.get(0),
    )?;
    if has == 1 {
        return Ok(());
    }
    let tx = c.transaction()?;
    tx.execute_batch(
        "ALTER TABLE accounts ADD COLUMN balances_seq INTEGER NOT NULL DEFAULT 0;
         UPDATE accounts SET balances_seq = (SELECT coalesce(max(seq) + 1, 0) FROM entries);
         UPDATE balance_mark SET through_seq = (SELECT coalesce(max(seq) + 1, 0) FROM entries);",
    )?;
    tx.commit()?;
    Ok(())
}

/// Data directories from before `account_entries` indexed postings with an SQL index;
/// moves that index into the table, all at once.
fn move_account_index(c: &mut Connection) -> anyhow::Result<()> {
    let old: Option<String> = c
        .query_row(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND name = 'postings_by_account'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if old.is_none() {
        return Ok(());
    }
    let tx = c.transaction()?;
    let end: i64 = tx.query_row("SELECT coalesce(max(seq) + 1, 0) FROM entries", [], |r| {
        r.get(0)
    })?;
    account_index::index_from_storage(&tx, end)?;
    tx.execute_batch("DROP INDEX postings_by_account")?;
    tx.commit()
        .context("move the account index into account_entries")
}

/// Tables whose rows outgrow a page; data directories made before they became rowid
/// tables are rebuilt by `migrate`.
const ROWID_TABLES: [&str; 2] = ["decisions", "docs"];

/// Copies a WITHOUT ROWID table into its rowid form from the current schema, in one
/// transaction; a table that is already a rowid table, or absent, is left alone.
fn rebuild_as_rowid_table(c: &mut Connection, table: &str) -> anyhow::Result<()> {
    let sql: Option<String> = c
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )
        .optional()?;
    if !sql.is_some_and(|s| s.contains("WITHOUT ROWID")) {
        return Ok(());
    }
    let old = format!("{table}_without_rowid");
    let tx = c.transaction()?;
    tx.execute_batch(&format!("ALTER TABLE {table} RENAME TO {old}"))?;
    let indexes: Vec<String> = tx
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL")?
        .query_map([&old], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for index in indexes {
        tx.execute_batch(&format!("DROP INDEX {index}"))?;
    }
    tx.execute_batch(SCHEMA)?;
    tx.execute_batch(docs::SCHEMA)?;
    tx.execute_batch(&format!(
        "INSERT INTO {table} SELECT * FROM {old}; DROP TABLE {old};"
    ))?;
    tx.commit()
        .with_context(|| format!("rebuild table {table} as a rowid table"))
}

fn hash32(bytes: &[u8]) -> anyhow::Result<Hash> {
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("stored hash has {} bytes, not 32", bytes.len()))
}
