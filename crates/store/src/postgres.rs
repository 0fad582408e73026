use crate::codec::{self, assemble, EntryRow, HoldRow, PostingRow, StoredEntry};
use crate::loans::DomainWrite;
use crate::{BookState, Existing};
use anyhow::Context;
use futures_util::TryStreamExt;
use ledger::{
    Account, AccountId, AccountState, AccountTable, Balances, Effect, EntryId, EntryRecord, HoldId,
    HoldRecord, PARTITIONS,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use std::str::FromStr;
use std::sync::Arc;

const SCHEMA: &str = include_str!("pg_schema.sql");

mod access;
mod analytics;
mod audit;
mod cob;
mod colending;
mod decisions;
mod docs;
mod events;
mod loans;
mod portfolio;
mod webhooks;
mod write;
use write::{insert_accounts, insert_entries, update_balances, upsert_holds, write_domain};

pub use cob::{CobClaim, CobQueue};

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        // synchronous_commit=on: a commit returns after the WAL is flushed, whatever the
        // server's default says.
        let opts = PgConnectOptions::from_str(url)
            .context("parse PostgreSQL URL")?
            .options([("synchronous_commit", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .context("connect to PostgreSQL")?;
        Ok(PgStore { pool })
    }

    pub fn cob_queue(&self) -> CobQueue {
        CobQueue {
            pool: self.pool.clone(),
        }
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::raw_sql(SCHEMA)
            .execute(&self.pool)
            .await
            .context("apply PostgreSQL schema")?;
        sqlx::raw_sql(docs::SCHEMA)
            .execute(&self.pool)
            .await
            .context("apply PostgreSQL document schema")?;
        sqlx::raw_sql(events::SCHEMA)
            .execute(&self.pool)
            .await
            .context("apply PostgreSQL event schema")?;
        sqlx::raw_sql(audit::SCHEMA)
            .execute(&self.pool)
            .await
            .context("apply PostgreSQL audit schema")?;
        sqlx::raw_sql(webhooks::SCHEMA)
            .execute(&self.pool)
            .await
            .context("apply PostgreSQL webhook schema")?;
        sqlx::raw_sql(analytics::SCHEMA)
            .execute(&self.pool)
            .await
            .context("apply PostgreSQL analytics schema")?;
        sqlx::raw_sql(access::MIGRATION)
            .execute(&self.pool)
            .await
            .context("add API key and product tenancy columns")?;
        Ok(())
    }

    pub async fn load_book_state(&self) -> anyhow::Result<BookState> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
            .fetch_one(&self.pool)
            .await?;
        let mut accounts = AccountTable::with_capacity(usize::try_from(count)?);
        let mut rows = sqlx::query(ACCOUNT_SELECT).fetch(&self.pool);
        while let Some(r) = rows.try_next().await? {
            let a = account_from_row(&r)?;
            accounts.insert(a.id, AccountState::of(&a));
        }
        drop(rows);
        let pending_holds = sqlx::query(&format!("{HOLD_SELECT} WHERE status = 'pending'"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| hold_from_row(r).and_then(HoldRow::into_record))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut leaf_hashes = Vec::new();
        let mut chain_heads = [[0u8; 32]; PARTITIONS as usize];
        let mut rows =
            sqlx::query("SELECT seq, partition, hash FROM entries ORDER BY seq").fetch(&self.pool);
        while let Some(r) = rows.try_next().await? {
            let seq: i64 = r.try_get(0)?;
            anyhow::ensure!(
                seq as usize == leaf_hashes.len(),
                "entry sequence has a gap at {seq}"
            );
            let p: i64 = r.try_get(1)?;
            let h = codec::hash_from(&r.try_get::<Vec<u8>, _>(2)?, "hash")?;
            chain_heads[usize::try_from(p)? % PARTITIONS as usize] = h;
            leaf_hashes.push(h);
        }
        Ok(BookState {
            accounts,
            pending_holds,
            chain_heads,
            leaf_hashes,
        })
    }

    pub async fn existing(
        &self,
        entry_ids: Vec<EntryId>,
        hold_ids: Vec<HoldId>,
        reversed: Vec<EntryId>,
    ) -> anyhow::Result<Existing> {
        let mut out = Existing::default();
        if !entry_ids.is_empty() {
            let ids: Vec<Vec<u8>> = entry_ids.iter().map(|i| i.0.as_bytes().to_vec()).collect();
            // A join on UNNEST keeps the unique index in use; `id = ANY($1)` with thousands
            // of ids made the planner scan the whole table (10 s per group at 100k loans).
            let seqs: Vec<i64> = sqlx::query_scalar(
                "SELECT e.seq FROM UNNEST($1::bytea[]) AS u(id) JOIN entries e ON e.id = u.id",
            )
            .bind(&ids)
            .fetch_all(&self.pool)
            .await?;
            for e in self.load_by_seqs(&seqs).await? {
                out.entries.insert(e.id, e);
            }
        }
        if !hold_ids.is_empty() {
            let ids: Vec<Vec<u8>> = hold_ids.iter().map(|i| i.0.as_bytes().to_vec()).collect();
            for r in sqlx::query(&format!("{HOLD_SELECT} WHERE id = ANY($1)"))
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?
            {
                let h = hold_from_row(&r)?.into_record()?;
                out.holds.insert(h.request.id, h);
            }
        }
        if !reversed.is_empty() {
            let ids: Vec<Vec<u8>> = reversed.iter().map(|i| i.0.as_bytes().to_vec()).collect();
            for r in sqlx::query("SELECT e.ref, e.id FROM UNNEST($1::bytea[]) AS u(id) JOIN entries e ON e.ref = u.id AND e.kind = 2")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?
            {
                let orig = codec::uuid_from(&r.try_get::<Vec<u8>, _>(0)?, "reversed")?;
                let by = codec::uuid_from(&r.try_get::<Vec<u8>, _>(1)?, "reversal")?;
                out.reversals.insert(EntryId(orig), EntryId(by));
            }
        }
        Ok(out)
    }

    async fn load_by_seqs(&self, seqs: &[i64]) -> anyhow::Result<Vec<EntryRecord>> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let entries = sqlx::query(&format!("{ENTRY_SELECT} WHERE seq = ANY($1) ORDER BY seq"))
            .bind(seqs)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(entry_from_row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let postings = sqlx::query("SELECT seq, account_id, direction, amount_minor FROM postings WHERE seq = ANY($1) ORDER BY seq, idx")
            .bind(seqs)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(posting_from_row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        assemble(entries, postings)
    }

    pub async fn commit(
        &self,
        e: Arc<Effect>,
        domain: Arc<Vec<DomainWrite>>,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_accounts(&mut tx, &e.accounts_created).await?;
        insert_entries(&mut tx, &e.entries).await?;
        upsert_holds(&mut tx, &e.holds, &e.new_hold_ids).await?;
        update_balances(&mut tx, &e.balances).await?;
        write_domain(&mut tx, &domain).await?;
        events::write(&mut tx, &crate::events::in_writes(&domain)).await?;
        tx.commit().await.context("commit ledger group")?;
        Ok(())
    }

    pub async fn entry(&self, id: EntryId) -> anyhow::Result<Option<EntryRecord>> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM entries WHERE id = $1")
            .bind(id.0.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await?;
        Ok(self
            .load_by_seqs(&seq.into_iter().collect::<Vec<_>>())
            .await?
            .pop())
    }

    pub async fn hold(&self, id: HoldId) -> anyhow::Result<Option<HoldRecord>> {
        sqlx::query(&format!("{HOLD_SELECT} WHERE id = $1"))
            .bind(id.0.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| hold_from_row(&r).and_then(HoldRow::into_record))
            .transpose()
    }

    pub async fn entries_by_account(
        &self,
        account: AccountId,
        after_seq: Option<u64>,
        limit: u32,
    ) -> anyhow::Result<Vec<EntryRecord>> {
        let seqs: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT seq FROM postings WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
            .bind(account.0.as_bytes().to_vec())
            .bind(after_seq.map_or(-1, |s| s as i64))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        self.load_by_seqs(&seqs).await
    }

    pub async fn entries_range(
        &self,
        from_seq: u64,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredEntry>> {
        let from = from_seq as i64;
        let to = from + i64::from(limit);
        let entries = sqlx::query(&format!(
            "{ENTRY_SELECT} WHERE seq >= $1 AND seq < $2 ORDER BY seq"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(entry_from_row)
        .collect::<anyhow::Result<Vec<_>>>()?;
        let postings = sqlx::query("SELECT seq, account_id, direction, amount_minor FROM postings WHERE seq >= $1 AND seq < $2 ORDER BY seq, idx")
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(posting_from_row)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(assemble(entries, postings)?
            .into_iter()
            .map(|record| StoredEntry { record })
            .collect())
    }

    pub async fn accounts(&self) -> anyhow::Result<Vec<Account>> {
        sqlx::query(ACCOUNT_SELECT)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(account_from_row)
            .collect()
    }

    pub async fn account(&self, id: AccountId) -> anyhow::Result<Option<Account>> {
        sqlx::query(&format!("{ACCOUNT_SELECT} WHERE id = $1"))
            .bind(id.0.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| account_from_row(&r))
            .transpose()
    }

    pub async fn meta(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn meta_init(&self, key: &str, value: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn api_key_count(&self) -> anyhow::Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    pub async fn execute_raw(&self, sql: &str) -> anyhow::Result<u64> {
        Ok(sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

pub async fn create_database(admin_url: &str, prefix: &str) -> anyhow::Result<String> {
    use sqlx::Connection;
    anyhow::ensure!(
        prefix.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "database prefix must be lowercase letters and _"
    );
    let name = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("connect to PostgreSQL at {admin_url}"))?;
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .context("create database")?;
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url, String::new()),
    };
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    Ok(format!("{base}/{name}{query}"))
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

const ACCOUNT_SELECT: &str = "SELECT id, tenant, owner, purpose, currency, normal_side, constraint_kind, debits_posted, credits_posted, debits_pending, credits_pending, created_at_ms FROM accounts";
const ENTRY_SELECT: &str = "SELECT seq, id, partition, prev_hash, hash, currency, kind, ref, memo, created_at_ms, body_hash FROM entries";
const HOLD_SELECT: &str = "SELECT id, currency, debit_account_id, credit_account_id, amount_minor, expires_at_ms, memo, status, posted_entry_id, posted_amount_minor, body_hash, created_at_ms FROM holds";

fn entry_from_row(r: &sqlx::postgres::PgRow) -> anyhow::Result<EntryRow> {
    Ok(EntryRow {
        seq: r.try_get(0)?,
        id: r.try_get(1)?,
        partition: r.try_get(2)?,
        prev_hash: r.try_get(3)?,
        hash: r.try_get(4)?,
        currency: r.try_get(5)?,
        kind: r.try_get(6)?,
        reference: r.try_get(7)?,
        memo: r.try_get(8)?,
        created_at_ms: r.try_get(9)?,
        body_hash: r.try_get(10)?,
    })
}

fn posting_from_row(r: &sqlx::postgres::PgRow) -> anyhow::Result<PostingRow> {
    Ok(PostingRow {
        seq: r.try_get(0)?,
        account_id: r.try_get(1)?,
        direction: r.try_get(2)?,
        amount_minor: r.try_get(3)?,
    })
}

fn hold_from_row(r: &sqlx::postgres::PgRow) -> anyhow::Result<HoldRow> {
    Ok(HoldRow {
        id: r.try_get(0)?,
        currency: r.try_get(1)?,
        debit_account_id: r.try_get(2)?,
        credit_account_id: r.try_get(3)?,
        amount_minor: r.try_get(4)?,
        expires_at_ms: r.try_get(5)?,
        memo: r.try_get(6)?,
        status: r.try_get(7)?,
        posted_entry_id: r.try_get(8)?,
        posted_amount_minor: r.try_get(9)?,
        body_hash: r.try_get(10)?,
        created_at_ms: r.try_get(11)?,
    })
}

fn account_from_row(r: &sqlx::postgres::PgRow) -> anyhow::Result<Account> {
    let id: Vec<u8> = r.try_get(0)?;
    let currency: String = r.try_get(4)?;
    let normal: String = r.try_get(5)?;
    Ok(Account {
        id: AccountId(codec::uuid_from(&id, "account")?),
        tenant: r.try_get(1)?,
        owner: r.try_get(2)?,
        purpose: r.try_get(3)?,
        currency: codec::currency_from(&currency)?,
        normal_side: codec::normal_side_from(&normal)?,
        constraint: codec::constraint_from(r.try_get(6)?)?,
        balances: Balances {
            debits_posted_minor: r.try_get(7)?,
            credits_posted_minor: r.try_get(8)?,
            debits_pending_minor: r.try_get(9)?,
            credits_pending_minor: r.try_get(10)?,
        },
        created_at_ms: r.try_get(11)?,
    })
}
