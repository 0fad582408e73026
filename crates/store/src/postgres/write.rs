//! A group commit's writes (accounts, entries and postings, holds, balances, domain rows),
//! each kind in bulk statements over arrays; apart from the reads, with which they share
//! only the tables.

use super::{docs, Tx};
use crate::codec;
use crate::loans::DomainWrite;
use anyhow::Context;
use ledger::{Account, AccountId, Balances, EntryRecord, HoldRecord};

pub(super) async fn insert_accounts(tx: &mut Tx<'_>, accounts: &[Account]) -> anyhow::Result<()> {
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

pub(super) async fn insert_entries(tx: &mut Tx<'_>, entries: &[EntryRecord]) -> anyhow::Result<()> {
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

pub(super) async fn upsert_holds(
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

pub(super) async fn update_balances(
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

/// Loan rows go in two bulk statements (inserts, version-checked updates); the rest are few.
pub(super) async fn write_domain(tx: &mut Tx<'_>, writes: &[DomainWrite]) -> anyhow::Result<()> {
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
            DomainWrite::EventCursor { name, seq } => {
                sqlx::query(super::events::SET_CURSOR)
                    .bind(name)
                    .bind(seq)
                    .execute(&mut **tx)
                    .await
                    .context("move event cursor")?;
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
