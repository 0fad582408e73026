//! `account_entries`, the index of postings by account, written a slice per group commit.
//!
//! Indexing each posting as it commits would dirty one page per account in every commit, so
//! postings are indexed in cycles of about `LAG_POSTINGS`, sorted by account: each page of
//! the index is then written about once per cycle. Writing a whole cycle in one commit held
//! that commit up for 80–110 ms every second under load, so a cycle is frozen when it is
//! full and written in key order, a slice per later commit, while the next cycle fills. The
//! watermark (`account_index_mark.through_seq`) moves past a cycle only in the commit that
//! writes its last slice, so every posting below it is indexed; above it, some accounts may
//! already be, which readers' `UNION` with the postings tail absorbs.

use rusqlite::Transaction;
use std::collections::BTreeSet;

/// Postings per cycle: listing an account's entries scans at most about twice this many
/// unindexed postings. Counted in postings, not entries: a close-of-business entry carries
/// up to 64.
const LAG_POSTINGS: usize = 65_536;

/// Fewest rows a commit writes of a frozen cycle, so a cycle ends within about 128 commits
/// even when commits are small.
const SLICE_ROWS_MIN: usize = 512;

/// Rows per multi-row INSERT.
const CHUNK_ROWS: usize = 128;

type Row = ([u8; 16], i64);

/// The unindexed postings this process committed, by account then sequence number.
#[derive(Default)]
pub(super) struct AccountIndex {
    /// False until the first commit with entries has indexed, from storage, what earlier
    /// processes left unindexed: from then on every unindexed posting is in memory.
    caught_up: bool,
    /// The cycle filling up.
    open: BTreeSet<Row>,
    /// The cycle being written, in key order (a vector: taking a slice off a B-tree a
    /// row at a time cost about 2 % of a purchase server's time), the rows of it written,
    /// and the sequence number just past it.
    frozen: Vec<Row>,
    frozen_written: usize,
    frozen_end_seq: i64,
}

/// What a commit wrote, to apply to memory once the commit is durable.
pub(super) struct Pending {
    added: Vec<Row>,
    sliced: usize,
    end_seq: Option<i64>,
}

impl AccountIndex {
    /// Indexes in `tx` what is due with the entries `tx` adds; call `committed` or
    /// `rolled_back` with the result once `tx` has ended.
    pub(super) fn write(
        &mut self,
        tx: &Transaction<'_>,
        entries: &[ledger::EntryRecord],
    ) -> anyhow::Result<Pending> {
        let mut pending = Pending {
            added: Vec::new(),
            sliced: 0,
            end_seq: None,
        };
        let Some(first) = entries.first() else {
            return Ok(pending);
        };
        if !self.caught_up {
            index_from_storage(tx, i64::try_from(first.seq)?)?;
        }
        for e in entries {
            let seq = i64::try_from(e.seq)?;
            for p in &e.postings {
                let row = (*p.account_id.0.as_bytes(), seq);
                if self.open.insert(row) {
                    pending.added.push(row);
                }
            }
            pending.end_seq = Some(seq + 1);
        }
        pending.sliced = self.slice_due();
        match self.write_slice(tx, pending.sliced) {
            Ok(()) => Ok(pending),
            Err(e) => {
                self.rolled_back(pending);
                Err(e)
            }
        }
    }

    fn write_slice(&self, tx: &Transaction<'_>, rows: usize) -> anyhow::Result<()> {
        if rows == 0 {
            return Ok(());
        }
        let start = self.frozen_written;
        insert_rows(tx, &self.frozen[start..start + rows])?;
        if start + rows == self.frozen.len() {
            set_mark(tx, self.frozen_end_seq)?;
        }
        Ok(())
    }

    /// Rows of the frozen cycle this commit writes: its share of the cycle for how full the
    /// open one is, all of the rest once the open one is full.
    fn slice_due(&self) -> usize {
        let left = self.frozen.len() - self.frozen_written;
        if left == 0 {
            return 0;
        }
        let due = self.frozen.len() * self.open.len().min(LAG_POSTINGS) / LAG_POSTINGS;
        due.saturating_sub(self.frozen_written)
            .max(SLICE_ROWS_MIN)
            .min(left)
    }

    pub(super) fn committed(&mut self, p: Pending) {
        let Some(end_seq) = p.end_seq else { return };
        self.caught_up = true;
        self.frozen_written += p.sliced;
        if self.frozen_written == self.frozen.len() && self.open.len() >= LAG_POSTINGS {
            self.frozen = std::mem::take(&mut self.open).into_iter().collect();
            self.frozen_written = 0;
            self.frozen_end_seq = end_seq;
        }
    }

    pub(super) fn rolled_back(&mut self, p: Pending) {
        for row in &p.added {
            self.open.remove(row);
        }
    }
}

fn insert_rows(tx: &Transaction<'_>, rows: &[Row]) -> anyhow::Result<()> {
    for chunk in rows.chunks(CHUNK_ROWS) {
        let values = vec!["(?,?)"; chunk.len()].join(",");
        let mut st = tx.prepare_cached(&format!(
            "INSERT OR IGNORE INTO account_entries (account_id, seq) VALUES {values}"
        ))?;
        for (i, (account, seq)) in chunk.iter().enumerate() {
            st.raw_bind_parameter(2 * i + 1, &account[..])?;
            st.raw_bind_parameter(2 * i + 2, *seq)?;
        }
        st.raw_execute()?;
    }
    Ok(())
}

/// Never moves the watermark back: `index_from_storage` (after a restart, or moving an old
/// SQL index) may have moved it past a cycle this process still has in memory.
fn set_mark(tx: &Transaction<'_>, end_seq: i64) -> anyhow::Result<()> {
    tx.prepare_cached(
        "UPDATE account_index_mark SET through_seq = max(through_seq, ?1) WHERE id = 0",
    )?
    .execute([end_seq])?;
    Ok(())
}

/// Indexes every entry below `end_seq` from `postings`, all at once.
pub(super) fn index_from_storage(tx: &Transaction<'_>, end_seq: i64) -> anyhow::Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO account_entries (account_id, seq) \
         SELECT account_id, seq FROM postings \
         WHERE seq >= (SELECT through_seq FROM account_index_mark WHERE id = 0) AND seq < ?1 \
         ORDER BY account_id, seq",
    )?
    .execute([end_seq])?;
    set_mark(tx, end_seq)
}
