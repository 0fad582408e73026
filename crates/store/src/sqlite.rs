use crate::codec::{self, assemble, EntryRow, HoldRow, PostingRow, StoredEntry};
use crate::loans::DomainWrite;
use crate::{BookState, Existing};
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
mod decisions;
mod docs;
mod events;
mod loans;
mod migrate;
mod portfolio;
mod wal;
mod webhooks;
mod write;
use wal::{restart_wal, spawn_checkpointer, Checkpointer};
use write::write_effect;
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
            write_effect(c, &effect, &domain, (&mut index, &balances))?;
            if restart.swap(false, Relaxed) {
                if let Err(e) = restart_wal(c) {
                    tracing::warn!(error = %e, "sqlite wal restart");
                }
            }
            Ok(())
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
