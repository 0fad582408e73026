//! A group commit's writes (accounts, entries and postings in multi-row statements, holds,
//! domain rows, the outbox) in one transaction; apart from the reads, with which they share
//! only the tables.

use super::{account_index, balances, docs, events};
use crate::codec;
use crate::loans::DomainWrite;
use anyhow::Context;
use ledger::{Effect, EntryRecord};
use rusqlite::{params, Connection};

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
            DomainWrite::EventCursor { name, seq } => {
                tx.prepare_cached(super::events::SET_CURSOR)?
                    .execute(params![name, seq])?;
            }
        }
    }
    Ok(())
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
    &'a std::sync::Mutex<balances::DeferredBalances>,
);

/// Writes a group and commits it. The deferred balances are locked only to plan the rows
/// the group writes and to apply them once committed, not across the commit: an account
/// read meanwhile sees the balances as of the last commit instead of waiting for this one.
pub(super) fn write_effect(
    c: &mut Connection,
    e: &Effect,
    domain: &[DomainWrite],
    (index, balances): WriterMemory<'_>,
) -> anyhow::Result<()> {
    let lock = || balances.lock().unwrap_or_else(|p| p.into_inner());
    let tx = c.transaction()?;
    let lag = lock().write(&tx, e)?;
    let pending = write_group(&tx, e, domain, index)?;
    events::write(&tx, &crate::events::in_writes(domain))?;
    let written = tx.commit().context("commit ledger group");
    match written {
        Ok(()) => {
            index.committed(pending);
            lock().committed(lag);
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
