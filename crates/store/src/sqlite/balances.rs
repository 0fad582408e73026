//! Account balances kept in the writer's memory and written to `accounts` lazily.
//!
//! Updating each touched account's row in every group commit dirtied one page per account
//! in every commit: a third of the pages a purchase load wrote, and its largest single cost
//! (measured: HTTP sales/s +37–57 % without those updates). A balance is already implied by
//! the postings, which every commit writes anyway, so a row may lag them:
//!
//! - `accounts.balances_seq`: the row's posted balances include exactly the postings of
//!   entries with `seq < balances_seq`. Its pending balances are not trusted at all: they are
//!   the sum of the account's pending holds, which every commit writes.
//! - `balance_mark.through_seq`: every row includes every posting below it, so recovery
//!   reads only the postings from the mark on (`recover`).
//!
//! A commit writes the rows of accounts that have been behind longest (for at least
//! `FLUSH_AGE`, at most `FLUSH_ROWS_MAX` a commit) and moves the mark. Meanwhile the
//! latest committed balances of lagging accounts are in memory (`DeferredBalances`), and
//! readers in this process overlay them on the rows.

use ledger::{AccountId, Balances, Effect, Side};
use rusqlite::{Connection, OptionalExtension};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long an account's row may lag before a commit writes it. An account touched many
/// times meanwhile has its row written once; recovery reads at most about this long's
/// postings again (at 20,000 sales/s, 320,000 rows). At 1 s the HTTP purchase load's p99
/// was 9.0–10.1 ms; at 4 s (and 128 rows a commit instead of 256), 8.4–9.8 ms in
/// interleaved runs.
pub const FLUSH_AGE: Duration = Duration::from_secs(4);

/// Most lagging rows one commit writes, so that writing them never holds a commit up long.
const FLUSH_ROWS_MAX: usize = 128;

/// Lagging accounts past which rows are written whatever their age, to bound memory.
const LAGGING_MAX: usize = 262_144;

/// Rows per multi-row UPDATE.
const CHUNK_ROWS: usize = 128;

struct Lagging {
    balances: Balances,
    /// No posting of this account with `seq` below this is missing from its row.
    since_seq: u64,
}

/// The latest committed balances of accounts whose rows lag. Only the writer changes it.
#[derive(Default)]
pub(super) struct DeferredBalances {
    /// False until the rows' lag left by an earlier process is known (`recover`); until
    /// then nothing may be written, or the mark could pass postings no row includes.
    recovered: bool,
    lagging: HashMap<AccountId, Lagging>,
    by_since: BTreeSet<(u64, AccountId)>,
    /// The `seq` the next entry will have.
    next_seq: u64,
    mark: u64,
    /// `next_seq` after each recent commit and when it committed, oldest first.
    commits: VecDeque<(u64, Instant)>,
    /// Rows lagging from below this `seq` have lagged at least `FLUSH_AGE`.
    aged_seq: u64,
}

/// What a commit wrote, to apply to memory once it has committed.
pub(super) struct Pending {
    written: Vec<AccountId>,
    lagging: Vec<(AccountId, Balances)>,
    first_seq: u64,
    next_seq: u64,
    mark: u64,
    at: Instant,
}

/// Balances as storage implies them, and how far rows lag.
pub(super) struct Recovered {
    /// Accounts whose rows are behind: exact balances, and the lowest `seq` a posting
    /// missing from the row may have.
    pub lagging: Vec<(AccountId, Balances, u64)>,
    pub next_seq: u64,
    pub mark: u64,
}

impl DeferredBalances {
    pub(super) fn is_recovered(&self) -> bool {
        self.recovered
    }

    /// Takes over what `recover` found, once: later calls (a verification while the
    /// store runs) must not replace what this process has committed since.
    pub(super) fn adopt(&mut self, r: &Recovered) {
        if self.recovered {
            return;
        }
        for (id, b, since) in &r.lagging {
            self.lagging.insert(
                *id,
                Lagging {
                    balances: *b,
                    since_seq: *since,
                },
            );
            self.by_since.insert((*since, *id));
        }
        self.next_seq = r.next_seq;
        self.mark = r.mark;
        self.aged_seq = r.next_seq;
        self.recovered = true;
    }

    /// Every account whose row lags, with its latest committed balances (for aggregates
    /// over rows, which add the difference).
    pub(super) fn lagging(&self) -> impl Iterator<Item = (&AccountId, Balances)> {
        self.lagging.iter().map(|(id, l)| (id, l.balances))
    }

    /// The latest committed balances of `id` if its row lags.
    pub(super) fn latest(&self, id: &AccountId) -> Option<Balances> {
        self.lagging.get(id).map(|l| l.balances)
    }

    /// Writes in `tx` the rows that are due and the mark; call `committed` with the
    /// result once `tx` has committed (on failure, just drop it). Call it before anything
    /// else of the group is in `tx`: the first call recovers what storage implies from
    /// `tx`, and a group that then rolls back must not be part of it.
    pub(super) fn write(&mut self, tx: &Connection, e: &Effect) -> anyhow::Result<Pending> {
        let seqs = e
            .entries
            .first()
            .zip(e.entries.last())
            .map(|(first, last)| (first.seq, last.seq + 1));
        self.write_at(tx, seqs, &e.balances, Instant::now())
    }

    /// As `write`, for a group of entries `seqs` (first, next) whose accounts end with
    /// `balances`, at `now`.
    fn write_at(
        &mut self,
        tx: &Connection,
        seqs: Option<(u64, u64)>,
        balances: &[(AccountId, Balances)],
        now: Instant,
    ) -> anyhow::Result<Pending> {
        if !self.recovered {
            let r = recover(tx)?;
            self.adopt(&r);
        }
        let (first_seq, next_seq) = seqs.unwrap_or((self.next_seq, self.next_seq));
        let touched: HashMap<AccountId, Balances> = balances.iter().copied().collect();
        let due = self.due(now);
        let rows: Vec<(AccountId, Balances)> = due
            .iter()
            .map(|id| {
                (
                    *id,
                    touched
                        .get(id)
                        .copied()
                        .unwrap_or_else(|| self.lagging[id].balances),
                )
            })
            .collect();
        write_rows(tx, &rows, next_seq)?;
        let lagging: Vec<(AccountId, Balances)> = balances
            .iter()
            .filter(|(id, _)| !due.contains(id))
            .copied()
            .collect();
        let mark = self.mark_after(due.len(), &lagging, first_seq, next_seq);
        if mark != self.mark {
            tx.prepare_cached("UPDATE balance_mark SET through_seq = ?1 WHERE id = 0")?
                .execute([i64::try_from(mark)?])?;
        }
        Ok(Pending {
            written: due,
            lagging,
            first_seq,
            next_seq,
            mark,
            at: now,
        })
    }

    pub(super) fn committed(&mut self, p: Pending) {
        for id in &p.written {
            if let Some(l) = self.lagging.remove(id) {
                self.by_since.remove(&(l.since_seq, *id));
            }
        }
        for (id, balances) in p.lagging {
            let since_seq = match self.lagging.get(&id) {
                Some(l) => l.since_seq,
                None => {
                    self.by_since.insert((p.first_seq, id));
                    p.first_seq
                }
            };
            self.lagging.insert(
                id,
                Lagging {
                    balances,
                    since_seq,
                },
            );
        }
        self.next_seq = p.next_seq;
        self.mark = p.mark;
        self.commits.push_back((p.next_seq, p.at));
    }

    /// Lagging accounts whose rows this commit writes, longest lagging first.
    fn due(&mut self, now: Instant) -> Vec<AccountId> {
        while let Some(&(seq, at)) = self.commits.front() {
            if now.saturating_duration_since(at) < FLUSH_AGE {
                break;
            }
            self.aged_seq = seq;
            self.commits.pop_front();
        }
        let crowded = self.lagging.len() > LAGGING_MAX;
        self.by_since
            .iter()
            .take_while(|(since, _)| crowded || *since < self.aged_seq)
            .take(FLUSH_ROWS_MAX)
            .map(|(_, id)| *id)
            .collect()
    }

    /// The mark once `written` of the longest lagging rows are written and `lagging` (of a
    /// commit of entries `first_seq..next_seq`) lag.
    fn mark_after(
        &self,
        written: usize,
        lagging: &[(AccountId, Balances)],
        first_seq: u64,
        next_seq: u64,
    ) -> u64 {
        let oldest_left = self.by_since.iter().nth(written).map(|(since, _)| *since);
        let newly = lagging
            .iter()
            .any(|(id, _)| !self.lagging.contains_key(id))
            .then_some(first_seq);
        [oldest_left, newly]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(next_seq)
            .min(next_seq)
    }
}

fn write_rows(tx: &Connection, rows: &[(AccountId, Balances)], seq: u64) -> anyhow::Result<()> {
    let mut sorted: Vec<&(AccountId, Balances)> = rows.iter().collect();
    // In key order, so the updates walk the table's B-tree once.
    sorted.sort_unstable_by_key(|(id, _)| *id);
    let seq = i64::try_from(seq)?;
    for chunk in sorted.chunks(CHUNK_ROWS) {
        let values = vec!["(?,?,?,?,?,?)"; chunk.len()].join(",");
        let sql = format!("UPDATE OR ROLLBACK accounts SET debits_posted = v.column2, credits_posted = v.column3, debits_pending = v.column4, credits_pending = v.column5, balances_seq = v.column6 FROM (VALUES {values}) AS v WHERE accounts.id = v.column1");
        let mut st = tx.prepare_cached(&sql)?;
        let mut i = 1;
        for (id, b) in chunk {
            st.raw_bind_parameter(i, &id.0.as_bytes()[..])?;
            st.raw_bind_parameter(i + 1, b.debits_posted_minor)?;
            st.raw_bind_parameter(i + 2, b.credits_posted_minor)?;
            st.raw_bind_parameter(i + 3, b.debits_pending_minor)?;
            st.raw_bind_parameter(i + 4, b.credits_pending_minor)?;
            st.raw_bind_parameter(i + 5, seq)?;
            i += 6;
        }
        let n = st.raw_execute()?;
        anyhow::ensure!(
            n == chunk.len(),
            "balance update touched {n} of {} accounts",
            chunk.len()
        );
    }
    Ok(())
}

/// What storage implies (in one read transaction's snapshot): rows plus the postings they
/// lag, and pending balances from pending holds.
pub(super) fn recover(c: &Connection) -> anyhow::Result<Recovered> {
    let mark: i64 = c.query_row(
        "SELECT through_seq FROM balance_mark WHERE id = 0",
        [],
        |r| r.get(0),
    )?;
    let next_seq: i64 = c
        .query_row("SELECT max(seq) FROM entries", [], |r| {
            r.get::<_, Option<i64>>(0)
        })
        .optional()?
        .flatten()
        .map_or(0, |s| s + 1);
    let mut rows: HashMap<AccountId, (Balances, i64)> = HashMap::new();
    let mut st = c.prepare_cached("SELECT id, debits_posted, credits_posted, debits_pending, credits_pending, balances_seq FROM accounts")?;
    let mut q = st.query([])?;
    while let Some(r) = q.next()? {
        let id = AccountId(crate::codec::uuid_from(
            &r.get::<_, Vec<u8>>(0)?,
            "account",
        )?);
        let b = Balances {
            debits_posted_minor: r.get(1)?,
            credits_posted_minor: r.get(2)?,
            debits_pending_minor: r.get(3)?,
            credits_pending_minor: r.get(4)?,
        };
        rows.insert(id, (b, r.get(5)?));
    }
    let mut exact: HashMap<AccountId, Balances> = rows
        .iter()
        .map(|(id, (b, _))| {
            let posted_only = Balances {
                debits_pending_minor: 0,
                credits_pending_minor: 0,
                ..*b
            };
            (*id, posted_only)
        })
        .collect();
    add_lagged_postings(c, mark, &rows, &mut exact)?;
    add_pending_holds(c, &mut exact)?;
    let mut lagging = Vec::new();
    for (id, b) in exact {
        let (stored, balances_seq) = rows[&id];
        if b != stored {
            lagging.push((id, b, u64::try_from(mark.max(balances_seq))?));
        }
    }
    Ok(Recovered {
        lagging,
        next_seq: u64::try_from(next_seq)?,
        mark: u64::try_from(mark)?,
    })
}

fn add_lagged_postings(
    c: &Connection,
    mark: i64,
    rows: &HashMap<AccountId, (Balances, i64)>,
    exact: &mut HashMap<AccountId, Balances>,
) -> anyhow::Result<()> {
    let mut st = c.prepare_cached(
        "SELECT seq, account_id, direction, amount_minor FROM postings WHERE seq >= ?1",
    )?;
    let mut q = st.query([mark])?;
    while let Some(r) = q.next()? {
        let seq: i64 = r.get(0)?;
        let id = AccountId(crate::codec::uuid_from(
            &r.get::<_, Vec<u8>>(1)?,
            "account",
        )?);
        let (_, balances_seq) = rows
            .get(&id)
            .ok_or_else(|| anyhow::anyhow!("posting at {seq} names unknown account {id}"))?;
        if seq < *balances_seq {
            continue;
        }
        let amount: i64 = r.get(3)?;
        let b = exact.get_mut(&id).expect("every row has a balance");
        match crate::codec::side_from(r.get(2)?)? {
            Side::Debit => b.debits_posted_minor += amount,
            Side::Credit => b.credits_posted_minor += amount,
        }
    }
    Ok(())
}

fn add_pending_holds(
    c: &Connection,
    exact: &mut HashMap<AccountId, Balances>,
) -> anyhow::Result<()> {
    let mut st = c.prepare_cached(
        "SELECT debit_account_id, credit_account_id, amount_minor FROM holds WHERE status = 'pending'",
    )?;
    let mut q = st.query([])?;
    while let Some(r) = q.next()? {
        let amount: i64 = r.get(2)?;
        for (col, debit) in [(0, true), (1, false)] {
            let id = AccountId(crate::codec::uuid_from(
                &r.get::<_, Vec<u8>>(col)?,
                "account",
            )?);
            let b = exact
                .get_mut(&id)
                .ok_or_else(|| anyhow::anyhow!("pending hold names unknown account {id}"))?;
            if debit {
                b.debits_pending_minor += amount;
            } else {
                b.credits_pending_minor += amount;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::side_code;

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    const ACCOUNTS: u128 = 5;

    fn account(i: u128) -> AccountId {
        AccountId(uuid::Uuid::from_u128(i + 1))
    }

    fn store() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(super::super::SCHEMA).unwrap();
        for i in 0..ACCOUNTS {
            c.execute(
                "INSERT INTO accounts (id, tenant, owner, purpose, currency, normal_side, debits_posted, credits_posted, debits_pending, credits_pending, created_at_ms) VALUES (?1, 't', 'o', 'p', 'CNY', 'debit', 0, 0, 0, 0, 0)",
                [account(i).0.as_bytes()],
            )
            .unwrap();
        }
        c
    }

    fn post(c: &Connection, seq: u64, postings: [(AccountId, Side, i64); 2]) {
        c.execute(
            "INSERT INTO entries (seq, id, partition, prev_hash, hash, currency, kind, memo, created_at_ms, body_hash) VALUES (?1, ?2, 0, x'', x'', 'CNY', 0, '', 0, x'')",
            rusqlite::params![seq as i64, uuid::Uuid::from_u128(1 << 64 | u128::from(seq)).as_bytes()],
        )
        .unwrap();
        for (idx, (id, side, amount)) in postings.into_iter().enumerate() {
            c.execute(
                "INSERT INTO postings (seq, idx, account_id, direction, amount_minor) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![seq as i64, idx as i64, id.0.as_bytes(), side_code(side), amount],
            )
            .unwrap();
        }
    }

    fn hold(c: &Connection, n: u64, debit: AccountId, credit: AccountId, amount: i64) {
        c.execute(
            "INSERT INTO holds (id, currency, debit_account_id, credit_account_id, amount_minor, memo, status, posted_amount_minor, body_hash, created_at_ms) VALUES (?1, 'CNY', ?2, ?3, ?4, '', 'pending', 0, x'', 0)",
            rusqlite::params![uuid::Uuid::from_u128(2 << 64 | u128::from(n)).as_bytes(), debit.0.as_bytes(), credit.0.as_bytes(), amount],
        )
        .unwrap();
    }

    fn row(c: &Connection, id: AccountId) -> Balances {
        c.query_row(
            "SELECT debits_posted, credits_posted, debits_pending, credits_pending FROM accounts WHERE id = ?1",
            [id.0.as_bytes()],
            |r| {
                Ok(Balances {
                    debits_posted_minor: r.get(0)?,
                    credits_posted_minor: r.get(1)?,
                    debits_pending_minor: r.get(2)?,
                    credits_pending_minor: r.get(3)?,
                })
            },
        )
        .unwrap()
    }

    /// What a reader sees, and what a store opened again rebuilds, are the balances the
    /// committed groups left, through failed groups and restarts; and once no account has
    /// moved for the allowed lag, every row is exact and the mark is at the end.
    #[test]
    fn rows_overlay_and_recovery_agree_with_every_committed_group() {
        let c = store();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut d = DeferredBalances::default();
        let mut truth: HashMap<AccountId, Balances> = (0..ACCOUNTS)
            .map(|i| (account(i), Balances::default()))
            .collect();
        let mut pending_holds: Vec<(u64, AccountId, AccountId, i64)> = Vec::new();
        let (mut next_seq, mut holds_made, mut written_rows) = (0u64, 0u64, 0usize);
        let mut now = Instant::now();
        for _ in 0..600 {
            now += Duration::from_millis(rng.below(1500));
            if rng.below(20) == 0 {
                d = DeferredBalances::default();
            }
            let tx = c.unchecked_transaction().unwrap();
            let mut after = truth.clone();
            let mut touched = std::collections::BTreeSet::new();
            // What the group writes, applied to `tx` after `write_at`, as a group commit does.
            let mut entries = Vec::new();
            let mut new_hold = None;
            let mut voided = None;
            let (first_seq, mut seq) = (next_seq, next_seq);
            for _ in 0..rng.below(4) {
                let (from, to) = (rng.below(ACCOUNTS as u64), rng.below(ACCOUNTS as u64));
                let (from, to) = (account(u128::from(from)), account(u128::from(to)));
                let amount = 1 + rng.below(1000) as i64;
                entries.push((
                    seq,
                    [(from, Side::Debit, amount), (to, Side::Credit, amount)],
                ));
                after.get_mut(&from).unwrap().debits_posted_minor += amount;
                after.get_mut(&to).unwrap().credits_posted_minor += amount;
                touched.extend([from, to]);
                seq += 1;
            }
            let mut holds_after = pending_holds.clone();
            if rng.below(3) == 0 {
                let (debit, credit) = (account(rng.below(5).into()), account(rng.below(5).into()));
                let amount = 1 + rng.below(500) as i64;
                new_hold = Some((holds_made, debit, credit, amount));
                holds_after.push((holds_made, debit, credit, amount));
                holds_made += 1;
            }
            if rng.below(4) == 0 && !holds_after.is_empty() {
                let (n, debit, credit, _) = holds_after.remove(0);
                voided = Some(n);
                touched.extend([debit, credit]);
            }
            for b in after.values_mut() {
                (b.debits_pending_minor, b.credits_pending_minor) = (0, 0);
            }
            for (_, debit, credit, amount) in &holds_after {
                after.get_mut(debit).unwrap().debits_pending_minor += amount;
                after.get_mut(credit).unwrap().credits_pending_minor += amount;
                touched.extend([*debit, *credit]);
            }
            let balances: Vec<_> = touched.iter().map(|id| (*id, after[id])).collect();
            let seqs = (seq > first_seq).then_some((first_seq, seq));
            let p = d.write_at(&tx, seqs, &balances, now).unwrap();
            for (seq, postings) in entries {
                post(&tx, seq, postings);
            }
            if let Some((n, debit, credit, amount)) = new_hold {
                hold(&tx, n, debit, credit, amount);
            }
            if let Some(n) = voided {
                tx.execute(
                    "UPDATE holds SET status = 'voided' WHERE id = ?1",
                    [uuid::Uuid::from_u128(2 << 64 | u128::from(n)).as_bytes()],
                )
                .unwrap();
            }
            written_rows += p.written.len();
            if rng.below(10) == 0 {
                drop(tx);
            } else {
                tx.commit().unwrap();
                d.committed(p);
                (truth, pending_holds, next_seq) = (after, holds_after, seq);
            }
            check(&c, &mut d, &truth);
        }
        assert!(written_rows > 0, "some rows were written on the way");
        // Nothing moves for longer than the lag: the next commits write every row.
        now += FLUSH_AGE + Duration::from_secs(1);
        while !d.lagging.is_empty() {
            let tx = c.unchecked_transaction().unwrap();
            let p = d.write_at(&tx, None, &[], now).unwrap();
            tx.commit().unwrap();
            d.committed(p);
        }
        for (id, b) in &truth {
            assert_eq!(row(&c, *id), *b);
        }
        let mark: i64 = c
            .query_row("SELECT through_seq FROM balance_mark", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mark as u64, next_seq);
    }

    fn check(c: &Connection, d: &mut DeferredBalances, truth: &HashMap<AccountId, Balances>) {
        if !d.is_recovered() {
            d.adopt(&recover(c).unwrap());
        }
        let r = recover(c).unwrap();
        for (id, b) in truth {
            let seen = d.latest(id).unwrap_or_else(|| row(c, *id));
            assert_eq!(seen, *b, "what a reader sees of {id}");
            let rebuilt = r
                .lagging
                .iter()
                .find(|(lag, _, _)| lag == id)
                .map_or_else(|| row(c, *id), |(_, b, _)| *b);
            assert_eq!(rebuilt, *b, "what a store opened again rebuilds of {id}");
        }
    }
}
