use crate::codec::{self, assemble, EntryRow, HoldRow, PostingRow, StoredEntry};
use crate::loans::{DomainWrite, LoanEvent, LoanRow, ProductRow, ProductWriteError};
use crate::{BookState, DecisionRow, Existing, Hash};
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
mod docs;
mod events;
mod portfolio;
mod webhooks;

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

    pub async fn insert_product(&self, row: ProductRow) -> Result<bool, ProductWriteError> {
        let n = sqlx::query("INSERT INTO loan_products (id, version, body, created_at_ms, tenant) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
            .bind(row.id.as_bytes().to_vec())
            .bind(row.version)
            .bind(&row.body)
            .bind(row.created_at_ms)
            .bind(&row.tenant)
            .execute(&self.pool)
            .await
            .context("insert product")?
            .rows_affected();
        if n == 1 {
            return Ok(true);
        }
        let (body, tenant): (Vec<u8>, String) =
            sqlx::query_as("SELECT body, tenant FROM loan_products WHERE id = $1 AND version = $2")
                .bind(row.id.as_bytes().to_vec())
                .bind(row.version)
                .fetch_one(&self.pool)
                .await
                .context("read product")?;
        if body == row.body && tenant == row.tenant {
            Ok(false)
        } else {
            Err(ProductWriteError::VersionExists {
                id: row.id,
                version: row.version,
            })
        }
    }

    pub async fn product(
        &self,
        id: uuid::Uuid,
        version: Option<i32>,
    ) -> anyhow::Result<Option<ProductRow>> {
        let row = sqlx::query("SELECT version, body, created_at_ms, tenant FROM loan_products WHERE id = $1 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1")
            .bind(id.as_bytes().to_vec())
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(ProductRow {
                id,
                version: r.try_get(0)?,
                body: r.try_get(1)?,
                created_at_ms: r.try_get(2)?,
                tenant: r.try_get(3)?,
            })
        })
        .transpose()
    }

    pub async fn loan(&self, id: uuid::Uuid) -> anyhow::Result<Option<LoanRow>> {
        sqlx::query(&format!("{LOAN_SELECT} WHERE id = $1"))
            .bind(id.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| loan_from_row(&r))
            .transpose()
    }

    pub async fn loan_versions(
        &self,
        ids: Vec<uuid::Uuid>,
    ) -> anyhow::Result<std::collections::HashMap<uuid::Uuid, i64>> {
        let raw: Vec<Vec<u8>> = ids.iter().map(|i| i.as_bytes().to_vec()).collect();
        let mut out = std::collections::HashMap::new();
        for r in sqlx::query(
            "SELECT l.id, l.version FROM UNNEST($1::bytea[]) AS u(id) JOIN loans l ON l.id = u.id",
        )
        .bind(raw)
        .fetch_all(&self.pool)
        .await?
        {
            out.insert(
                codec::uuid_from(&r.try_get::<Vec<u8>, _>(0)?, "loan")?,
                r.try_get(1)?,
            );
        }
        Ok(out)
    }

    pub async fn loan_events(&self, id: uuid::Uuid) -> anyhow::Result<Vec<LoanEvent>> {
        sqlx::query("SELECT seq, day, kind, body FROM loan_events WHERE loan_id = $1 ORDER BY seq")
            .bind(id.as_bytes().to_vec())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(LoanEvent {
                    loan_id: id,
                    seq: r.try_get(0)?,
                    day: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    body: r.try_get(3)?,
                })
            })
            .collect()
    }

    pub async fn loans_for_cob(
        &self,
        partition: i32,
        before_day: i32,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> anyhow::Result<Vec<LoanRow>> {
        loans_for_cob_on(&self.pool, partition, before_day, after, limit).await
    }

    pub async fn cob_done(&self, day: i32) -> anyhow::Result<Vec<i32>> {
        Ok(
            sqlx::query_scalar("SELECT partition FROM cob_progress WHERE day = $1")
                .bind(day)
                .fetch_all(&self.pool)
                .await?,
        )
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

    /// Stores decisions with one statement (atomic: all of them or none).
    pub async fn insert_decisions(
        &self,
        rows: Arc<Vec<DecisionRow>>,
        decision_events: Arc<Vec<crate::EventRow>>,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let text = |f: fn(&DecisionRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
        let hash =
            |f: fn(&DecisionRow) -> &Hash| rows.iter().map(|d| &f(d)[..]).collect::<Vec<&[u8]>>();
        sqlx::query(
            "INSERT INTO decisions (id, applicant_id, created_at_ms, input_json, input_hash, \
             model_version, policy_version, outcome, rules_fired, output_json, output_hash) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bytea[], \
             $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bytea[])",
        )
        .bind(text(|d| &d.id))
        .bind(text(|d| &d.applicant_id))
        .bind(rows.iter().map(|d| d.created_at_ms).collect::<Vec<i64>>())
        .bind(text(|d| &d.input_json))
        .bind(hash(|d| &d.input_hash))
        .bind(text(|d| &d.model_version))
        .bind(text(|d| &d.policy_version))
        .bind(text(|d| &d.outcome))
        .bind(text(|d| &d.rules_fired))
        .bind(text(|d| &d.output_json))
        .bind(hash(|d| &d.output_hash))
        .execute(&mut *tx)
        .await
        .context("insert decisions")?;
        events::write(&mut tx, &decision_events.iter().collect::<Vec<_>>()).await?;
        tx.commit().await.context("commit decisions")?;
        Ok(())
    }

    pub async fn decision(&self, id: &str) -> anyhow::Result<Option<DecisionRow>> {
        let row = sqlx::query(
            "SELECT applicant_id, created_at_ms, input_json, input_hash, model_version, \
             policy_version, outcome, rules_fired, output_json, output_hash \
             FROM decisions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let hash = |i: usize| -> anyhow::Result<Hash> {
                let b: Vec<u8> = r.try_get(i)?;
                b.as_slice()
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("stored hash has {} bytes, not 32", b.len()))
            };
            Ok(DecisionRow {
                id: id.to_string(),
                applicant_id: r.try_get(0)?,
                created_at_ms: r.try_get(1)?,
                input_json: r.try_get(2)?,
                input_hash: hash(3)?,
                model_version: r.try_get(4)?,
                policy_version: r.try_get(5)?,
                outcome: r.try_get(6)?,
                rules_fired: r.try_get(7)?,
                output_json: r.try_get(8)?,
                output_hash: hash(9)?,
            })
        })
        .transpose()
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

async fn insert_accounts(tx: &mut Tx<'_>, accounts: &[Account]) -> anyhow::Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    let ids: Vec<Vec<u8>> = accounts
        .iter()
        .map(|a| a.id.0.as_bytes().to_vec())
        .collect();
    let tenants: Vec<&str> = accounts.iter().map(|a| a.tenant.as_str()).collect();
    let owners: Vec<&str> = accounts.iter().map(|a| a.owner.as_str()).collect();
    let purposes: Vec<&str> = accounts.iter().map(|a| a.purpose.as_str()).collect();
    let currencies: Vec<&str> = accounts.iter().map(|a| a.currency.code()).collect();
    let sides: Vec<&str> = accounts.iter().map(|a| a.normal_side.as_str()).collect();
    let constraints: Vec<Option<&str>> = accounts
        .iter()
        .map(|a| a.constraint.map(|c| c.as_str()))
        .collect();
    let created: Vec<i64> = accounts.iter().map(|a| a.created_at_ms).collect();
    sqlx::query("INSERT INTO accounts (id, tenant, owner, purpose, currency, normal_side, constraint_kind, debits_posted, credits_posted, debits_pending, credits_pending, created_at_ms) SELECT id, t, o, p, c, s, k, 0, 0, 0, 0, m FROM UNNEST($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[]) AS u(id, t, o, p, c, s, k, m)")
        .bind(ids).bind(tenants).bind(owners).bind(purposes).bind(currencies).bind(sides).bind(constraints).bind(created)
        .execute(&mut **tx)
        .await
        .context("insert accounts")?;
    Ok(())
}

async fn insert_entries(tx: &mut Tx<'_>, entries: &[EntryRecord]) -> anyhow::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut seq = Vec::with_capacity(entries.len());
    let mut id = Vec::with_capacity(entries.len());
    let mut part = Vec::with_capacity(entries.len());
    let mut prev = Vec::with_capacity(entries.len());
    let mut hash = Vec::with_capacity(entries.len());
    let mut cur = Vec::with_capacity(entries.len());
    let mut kind = Vec::with_capacity(entries.len());
    let mut refs: Vec<Option<Vec<u8>>> = Vec::with_capacity(entries.len());
    let mut memo = Vec::with_capacity(entries.len());
    let mut created = Vec::with_capacity(entries.len());
    let mut body = Vec::with_capacity(entries.len());
    let (mut p_seq, mut p_idx, mut p_acc, mut p_dir, mut p_amt) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in entries {
        let s = i64::try_from(r.seq)?;
        seq.push(s);
        id.push(r.id.0.as_bytes().to_vec());
        part.push(i64::from(r.partition));
        prev.push(r.prev_hash.to_vec());
        hash.push(r.hash.to_vec());
        cur.push(r.currency.code());
        kind.push(i64::from(r.kind.code()));
        refs.push(r.kind.reference().map(|u| u.as_bytes().to_vec()));
        memo.push(r.memo.as_str());
        created.push(r.created_at_ms);
        body.push(r.body_hash.to_vec());
        for (i, p) in r.postings.iter().enumerate() {
            p_seq.push(s);
            p_idx.push(i as i64);
            p_acc.push(p.account_id.0.as_bytes().to_vec());
            p_dir.push(i64::from(codec::side_code(p.direction)));
            p_amt.push(p.amount_minor);
        }
    }
    sqlx::query("INSERT INTO entries (seq, id, partition, prev_hash, hash, currency, kind, ref, memo, created_at_ms, body_hash) SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::bigint[], $4::bytea[], $5::bytea[], $6::text[], $7::bigint[], $8::bytea[], $9::text[], $10::bigint[], $11::bytea[])")
        .bind(seq).bind(id).bind(part).bind(prev).bind(hash).bind(cur).bind(kind).bind(refs).bind(memo).bind(created).bind(body)
        .execute(&mut **tx)
        .await
        .context("insert entries")?;
    sqlx::query("INSERT INTO postings (seq, idx, account_id, direction, amount_minor) SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[], $4::bigint[], $5::bigint[])")
        .bind(p_seq).bind(p_idx).bind(p_acc).bind(p_dir).bind(p_amt)
        .execute(&mut **tx)
        .await
        .context("insert postings")?;
    Ok(())
}

async fn upsert_holds(
    tx: &mut Tx<'_>,
    holds: &[HoldRecord],
    new_ids: &[ledger::HoldId],
) -> anyhow::Result<()> {
    // A group may touch one hold twice (created, then posted): the first record of a new hold
    // is an insert, every other an update of a still-pending hold.
    let mut to_insert: std::collections::HashSet<_> = new_ids.iter().collect();
    for h in holds {
        let r = &h.request;
        if to_insert.remove(&r.id) {
            sqlx::query("INSERT INTO holds (id, currency, debit_account_id, credit_account_id, amount_minor, expires_at_ms, memo, status, posted_entry_id, posted_amount_minor, body_hash, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
                .bind(r.id.0.as_bytes().to_vec()).bind(r.currency.code()).bind(r.debit_account_id.0.as_bytes().to_vec()).bind(r.credit_account_id.0.as_bytes().to_vec())
                .bind(r.amount_minor).bind(r.expires_at_ms).bind(&r.memo).bind(h.status.as_str()).bind(h.posted_entry_id.map(|e| e.0.as_bytes().to_vec()))
                .bind(h.posted_amount_minor).bind(h.body_hash.to_vec()).bind(h.created_at_ms)
                .execute(&mut **tx)
                .await
                .context("insert hold")?;
        } else {
            let n = sqlx::query("UPDATE holds SET status = $2, posted_entry_id = $3, posted_amount_minor = $4 WHERE id = $1 AND status = 'pending'")
                .bind(r.id.0.as_bytes().to_vec()).bind(h.status.as_str()).bind(h.posted_entry_id.map(|e| e.0.as_bytes().to_vec())).bind(h.posted_amount_minor)
                .execute(&mut **tx)
                .await
                .context("update hold")?
                .rows_affected();
            anyhow::ensure!(n == 1, "hold {} is no longer pending in storage", r.id);
        }
    }
    Ok(())
}

async fn update_balances(
    tx: &mut Tx<'_>,
    balances: &[(AccountId, Balances)],
) -> anyhow::Result<()> {
    if balances.is_empty() {
        return Ok(());
    }
    let ids: Vec<Vec<u8>> = balances
        .iter()
        .map(|(id, _)| id.0.as_bytes().to_vec())
        .collect();
    let dp: Vec<i64> = balances
        .iter()
        .map(|(_, b)| b.debits_posted_minor)
        .collect();
    let cp: Vec<i64> = balances
        .iter()
        .map(|(_, b)| b.credits_posted_minor)
        .collect();
    let dq: Vec<i64> = balances
        .iter()
        .map(|(_, b)| b.debits_pending_minor)
        .collect();
    let cq: Vec<i64> = balances
        .iter()
        .map(|(_, b)| b.credits_pending_minor)
        .collect();
    let n = sqlx::query("UPDATE accounts a SET debits_posted = u.dp, credits_posted = u.cp, debits_pending = u.dq, credits_pending = u.cq FROM UNNEST($1::bytea[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(id, dp, cp, dq, cq) WHERE a.id = u.id")
        .bind(ids).bind(dp).bind(cp).bind(dq).bind(cq)
        .execute(&mut **tx)
        .await
        .context("update balances")?
        .rows_affected();
    anyhow::ensure!(
        n as usize == balances.len(),
        "balance update touched {n} of {} accounts",
        balances.len()
    );
    Ok(())
}

const LOAN_SELECT: &str = "SELECT id, partition, tenant, borrower, product_id, product_version, stage, day, open, version, state, dpd FROM loans";

/// Open loans of `partition` still before `before_day`, by id after `after`, on any
/// connection (a worker's claim reads inside its transaction).
async fn loans_for_cob_on<'e, E>(
    executor: E,
    partition: i32,
    before_day: i32,
    after: Option<uuid::Uuid>,
    limit: u32,
) -> anyhow::Result<Vec<LoanRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    let after = after.map_or_else(Vec::new, |a| a.as_bytes().to_vec());
    sqlx::query(&format!(
        "{LOAN_SELECT} WHERE partition = $1 AND open AND id > $2 AND day < $3 ORDER BY id LIMIT $4"
    ))
    .bind(partition)
    .bind(after)
    .bind(before_day)
    .bind(i64::from(limit))
    .fetch_all(executor)
    .await?
    .iter()
    .map(loan_from_row)
    .collect()
}

fn loan_from_row(r: &sqlx::postgres::PgRow) -> anyhow::Result<LoanRow> {
    Ok(LoanRow {
        id: codec::uuid_from(&r.try_get::<Vec<u8>, _>(0)?, "loan")?,
        partition: r.try_get(1)?,
        tenant: r.try_get(2)?,
        borrower: r.try_get(3)?,
        product_id: codec::uuid_from(&r.try_get::<Vec<u8>, _>(4)?, "product")?,
        product_version: r.try_get(5)?,
        stage: r.try_get(6)?,
        day: r.try_get(7)?,
        open: r.try_get(8)?,
        version: r.try_get(9)?,
        state: r.try_get(10)?,
        dpd: r.try_get(11)?,
    })
}

/// Loan rows go in two bulk statements (inserts, version-checked updates); the rest are few.
async fn write_domain(tx: &mut Tx<'_>, writes: &[DomainWrite]) -> anyhow::Result<()> {
    let (mut inserts, mut updates) = (Vec::new(), Vec::new());
    for w in writes {
        match w {
            DomainWrite::Loan {
                row,
                expected_version: None,
            } => inserts.push(row),
            DomainWrite::Loan {
                row,
                expected_version: Some(v),
            } => updates.push((row, *v)),
            DomainWrite::LoanEvent(e) => {
                sqlx::query("INSERT INTO loan_events (loan_id, seq, day, kind, body) VALUES ($1, $2, $3, $4, $5)")
                    .bind(e.loan_id.as_bytes().to_vec()).bind(e.seq).bind(e.day).bind(&e.kind).bind(&e.body)
                    .execute(&mut **tx).await.context("insert loan event")?;
            }
            DomainWrite::CobDone {
                day,
                partition,
                done_at_ms,
            } => {
                sqlx::query("INSERT INTO cob_progress (day, partition, done_at_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(day).bind(partition).bind(done_at_ms)
                    .execute(&mut **tx).await.context("mark COB partition")?;
            }
            DomainWrite::Doc {
                row,
                expected_version,
            } => docs::write_doc(tx, row, *expected_version).await?,
            DomainWrite::DocEvent(e) => docs::write_doc_event(tx, e).await?,
            DomainWrite::DocAt { id, version } => {
                docs::check_doc_version(tx, *id, *version).await?
            }
            DomainWrite::Meta { key, value } => {
                sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                    .bind(key).bind(value)
                    .execute(&mut **tx).await.context("set meta")?;
            }
            // Numbered and written together, last (`events::write`).
            DomainWrite::Event(_) => {}
        }
    }
    if !inserts.is_empty() {
        let ids: Vec<Vec<u8>> = inserts.iter().map(|r| r.id.as_bytes().to_vec()).collect();
        let parts: Vec<i32> = inserts.iter().map(|r| r.partition).collect();
        let tenants: Vec<&str> = inserts.iter().map(|r| r.tenant.as_str()).collect();
        let borrowers: Vec<&str> = inserts.iter().map(|r| r.borrower.as_str()).collect();
        let products: Vec<Vec<u8>> = inserts
            .iter()
            .map(|r| r.product_id.as_bytes().to_vec())
            .collect();
        let pvs: Vec<i32> = inserts.iter().map(|r| r.product_version).collect();
        let stages: Vec<&str> = inserts.iter().map(|r| r.stage.as_str()).collect();
        let days: Vec<i32> = inserts.iter().map(|r| r.day).collect();
        let opens: Vec<bool> = inserts.iter().map(|r| r.open).collect();
        let versions: Vec<i64> = inserts.iter().map(|r| r.version).collect();
        let states: Vec<&[u8]> = inserts.iter().map(|r| r.state.as_slice()).collect();
        let dpds: Vec<i32> = inserts.iter().map(|r| r.dpd).collect();
        sqlx::query("INSERT INTO loans (id, partition, tenant, borrower, product_id, product_version, stage, day, open, version, state, dpd) SELECT * FROM UNNEST($1::bytea[], $2::int[], $3::text[], $4::text[], $5::bytea[], $6::int[], $7::text[], $8::int[], $9::bool[], $10::bigint[], $11::bytea[], $12::int[])")
            .bind(ids).bind(parts).bind(tenants).bind(borrowers).bind(products).bind(pvs).bind(stages).bind(days).bind(opens).bind(versions).bind(states).bind(dpds)
            .execute(&mut **tx).await.context("insert loans")?;
    }
    if !updates.is_empty() {
        let ids: Vec<Vec<u8>> = updates
            .iter()
            .map(|(r, _)| r.id.as_bytes().to_vec())
            .collect();
        let stages: Vec<&str> = updates.iter().map(|(r, _)| r.stage.as_str()).collect();
        let days: Vec<i32> = updates.iter().map(|(r, _)| r.day).collect();
        let opens: Vec<bool> = updates.iter().map(|(r, _)| r.open).collect();
        let versions: Vec<i64> = updates.iter().map(|(r, _)| r.version).collect();
        let states: Vec<&[u8]> = updates.iter().map(|(r, _)| r.state.as_slice()).collect();
        let expected: Vec<i64> = updates.iter().map(|(_, v)| *v).collect();
        let dpds: Vec<i32> = updates.iter().map(|(r, _)| r.dpd).collect();
        let n = sqlx::query("UPDATE loans l SET stage = u.stage, day = u.day, open = u.open, version = u.version, state = u.state, dpd = u.dpd FROM UNNEST($1::bytea[], $2::text[], $3::int[], $4::bool[], $5::bigint[], $6::bytea[], $7::bigint[], $8::int[]) AS u(id, stage, day, open, version, state, expected, dpd) WHERE l.id = u.id AND l.version = u.expected")
            .bind(ids).bind(stages).bind(days).bind(opens).bind(versions).bind(states).bind(expected).bind(dpds)
            .execute(&mut **tx).await.context("update loans")?.rows_affected();
        if n as usize != updates.len() {
            return Err(crate::StaleWrite::error(format!(
                "{} of {} loans changed under this group",
                updates.len() - n as usize,
                updates.len()
            )));
        }
    }
    Ok(())
}

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
