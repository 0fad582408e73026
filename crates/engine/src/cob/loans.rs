//! Loan-days of close of business: a quiet loan's accrual goes into its partition's sums;
//! every other loan is advanced one day and packed with others into a batch that commits
//! its rows and one entry holding all their postings.

use crate::colending::{
    self,
    cob::{BatchControl, ChunkPositions, DayMove},
};
use crate::loans::accounts::{
    account_id, dated_entry_id, day_partition_id, next_row, per_loan, NS,
};
use crate::loans::{advance_to, catch_up_quietly, LoanView};
use crate::{Command, Engine};
use ledger::{EntryId, EntryRequest, Posting, Side};
use lending::loan::{self, AccountPurpose, Loan, PostingIntent};
use money::{BusinessDate, Currency};
use store::{DomainWrite, LoanRow};
use uuid::Uuid;

/// Quiet loans' accrual of one partition-day, by tenant and currency (a handful of keys,
/// so a list: adding to it allocates nothing for a known key).
pub type AccrualSums = Vec<((String, Currency), i64)>;

pub(crate) fn add_accrual(
    sums: &mut AccrualSums,
    tenant: &str,
    currency: Currency,
    amount_minor: i64,
) {
    match sums
        .iter_mut()
        .find(|((t, c), _)| t == tenant && *c == currency)
    {
        Some((_, sum)) => *sum += amount_minor,
        None => sums.push(((tenant.to_string(), currency), amount_minor)),
    }
}

/// One entry per tenant and currency: the partition's quiet loans' accrual of the day.
pub(super) fn accrual_entries(
    partition: i32,
    day: BusinessDate,
    sums: AccrualSums,
) -> Vec<Command> {
    sums.into_iter()
        .filter(|(_, amount_minor)| *amount_minor > 0)
        .map(|((tenant, currency), amount_minor)| {
            let account = |p| account_id(Uuid::nil(), &tenant, currency, p);
            Command::Entry(EntryRequest {
                id: accrual_entry_id(partition, &tenant, currency, day),
                currency,
                postings: vec![
                    Posting {
                        account_id: account(AccountPurpose::AccruedInterest),
                        direction: Side::Debit,
                        amount_minor,
                    },
                    Posting {
                        account_id: account(AccountPurpose::InterestIncome),
                        direction: Side::Credit,
                        amount_minor,
                    },
                ],
                memo: format!("accrued interest of partition {partition}'s quiet loans on {day}"),
            })
        })
        .collect()
}

/// `[day (u32 BE), partition, 11 bytes of UUIDv5(tenant, currency, partition, day)]`, laid
/// out like [`day_entry_id`]; one per partition-day, so a re-run cannot book it twice.
pub fn accrual_entry_id(
    partition: i32,
    tenant: &str,
    currency: Currency,
    day: BusinessDate,
) -> EntryId {
    let name = format!("accrual:{tenant}:{}:{partition}:{day}", currency.code());
    day_partition_id(day, partition, Uuid::new_v5(&NS, name.as_bytes()))
}

/// Loans whose day commits together: their rows and at most one entry carrying all their
/// postings (a loan's own accounts posting by posting, the shared income and expense
/// accounts summed). A day's accrual is one posting per loan this way instead of an entry
/// with two postings, which is most of what close of business writes.
pub(super) struct Batch {
    ids: Vec<Uuid>,
    commands: Vec<Command>,
    domain: Vec<DomainWrite>,
}

/// Builds batches up to the ledger's postings limit.
#[derive(Default)]
struct BatchBuilder {
    ids: Vec<Uuid>,
    currency: Option<Currency>,
    own: Vec<Posting>,
    shared: Vec<Posting>,
    domain: Vec<DomainWrite>,
    /// Co-lent loans' control-account deltas, posted in entries of their own.
    control: BatchControl,
}

impl BatchBuilder {
    fn postings_with(&self, currency: Currency, own: usize, shared: &[Posting]) -> Option<usize> {
        if self.currency.is_some_and(|c| c != currency) {
            return None;
        }
        let new_shared = shared
            .iter()
            .filter(|p| !self.shared.iter().any(|q| same_side(p, q)))
            .count();
        Some(self.own.len() + own + self.shared.len() + new_shared)
    }

    fn add(
        &mut self,
        id: Uuid,
        currency: Currency,
        split: SplitPostings,
        row: DomainWrite,
        colent: Option<DayMove>,
    ) {
        self.ids.push(id);
        self.currency = Some(currency);
        self.own.extend(split.own);
        for p in split.shared {
            match self.shared.iter_mut().find(|q| same_side(&p, q)) {
                Some(q) => q.amount_minor += p.amount_minor,
                None => self.shared.push(p),
            }
        }
        self.domain.push(row);
        if let Some(m) = colent {
            colending::cob::add_control(&mut self.control, &m);
            self.domain.extend(m.writes);
        }
    }

    fn finish(&mut self, next: BusinessDate) -> Option<Batch> {
        let b = std::mem::take(self);
        let first = *b.ids.first()?;
        let mut postings = b.own;
        postings.extend(b.shared);
        let mut commands = match b.currency {
            Some(currency) if !postings.is_empty() => vec![Command::Entry(EntryRequest {
                id: batch_entry_id(first, next),
                currency,
                postings,
                memo: String::new(),
            })],
            _ => Vec::new(),
        };
        if let Some(currency) = b.currency {
            commands.extend(colending::cob::control_entries(b.control, currency, |i| {
                dated_entry_id(first, next, &format!("cob-colending-{i}"))
            }));
        }
        Some(Batch {
            ids: b.ids,
            commands,
            domain: b.domain,
        })
    }
}

fn same_side(a: &Posting, b: &Posting) -> bool {
    a.account_id == b.account_id && a.direction == b.direction
}

/// One loan-day's postings: to the loan's own accounts, and to shared ones.
#[derive(Default)]
struct SplitPostings {
    own: Vec<Posting>,
    shared: Vec<Posting>,
}

fn split_postings(row: &LoanRow, currency: Currency, intents: &[PostingIntent]) -> SplitPostings {
    let mut out = SplitPostings::default();
    for i in intents {
        assert!(
            i.amount_minor > 0,
            "the state machine posts positive amounts"
        );
        for (purpose, direction) in [(i.debit, Side::Debit), (i.credit, Side::Credit)] {
            let posting = Posting {
                account_id: account_id(row.id, &row.tenant, currency, purpose),
                direction,
                amount_minor: i.amount_minor,
            };
            match per_loan(purpose) {
                true => out.own.push(posting),
                false => out.shared.push(posting),
            }
        }
    }
    out
}

/// The entry of a close-of-business batch, laid out like [`day_entry_id`] and named by the
/// batch's first loan: a loan-day is committed once, so no two batches share a first
/// loan-day.
pub fn batch_entry_id(first_loan_id: Uuid, day: BusinessDate) -> EntryId {
    dated_entry_id(first_loan_id, day, "cob")
}

/// The accrual of a loan's day `next` if that day is quiet (nothing but accrual), else
/// `None`: the loan must be advanced and written.
pub(crate) fn quiet_day_accrual(view: &LoanView, next: BusinessDate) -> Option<i64> {
    loan::quiet_through(&view.loan)
        .is_some_and(|q| q >= next)
        .then(|| loan::quiet_day_accrual_minor(&view.loan, next))
}

/// A chunk of loans planned: batches of the written ones, and the quiet ones' sums.
pub(super) struct ChunkPlan {
    pub(super) batches: Vec<Batch>,
    pub(super) entries: u64,
    pub(super) quiet: u64,
    pub(super) sums: AccrualSums,
}

/// A loan advanced one day: its row as read, the loan after the day and the day's postings.
pub(super) struct Advanced {
    row: LoanRow,
    currency: Currency,
    after: Loan,
    intents: Vec<PostingIntent>,
}

/// A chunk sorted: the loans to write, and the quiet ones' count and sums.
pub(super) struct Sorted {
    pub(super) advanced: Vec<Advanced>,
    quiet: u64,
    sums: AccrualSums,
}

impl Sorted {
    /// The loans whose co-lent positions the day may move (or whose delinquency it starts).
    pub(super) fn written_ids(&self) -> Vec<Uuid> {
        self.advanced.iter().map(|a| a.row.id).collect()
    }
}

/// Sorts a chunk of loans: a quiet loan adds its day's accrual to the sums; any other is
/// brought over the quiet days since its row was written and advanced one day.
pub(super) fn sort_chunk(rows: Vec<LoanRow>, next: BusinessDate) -> anyhow::Result<Sorted> {
    let mut out = Sorted {
        advanced: Vec::new(),
        quiet: 0,
        sums: AccrualSums::new(),
    };
    for row in rows {
        let mut view = LoanView::decode(row)?;
        let currency = view.currency();
        if let Some(accrued_minor) = quiet_day_accrual(&view, next) {
            add_accrual(&mut out.sums, &view.row.tenant, currency, accrued_minor);
            out.quiet += 1;
            continue;
        }
        catch_up_quietly(&mut view.loan, next.pred())?;
        let (after, mut days) = advance_to(view.loan, next)?;
        let intents = match days.len() {
            0 => Vec::new(),
            1 => days.pop().expect("one day").1,
            _ => unreachable!("a loan caught up to the day before moves one day"),
        };
        out.advanced.push(Advanced {
            row: view.row,
            currency,
            after,
            intents,
        });
    }
    Ok(out)
}

/// Packs the advanced loans into batches up to the ledger's postings limit; a co-lent
/// loan's day moves its positions (`positions`) in the same batch.
pub(super) fn pack_chunk(
    sorted: Sorted,
    positions: &ChunkPositions,
    next: BusinessDate,
) -> anyhow::Result<ChunkPlan> {
    let postings_max = ledger::LIMITS.postings_max;
    let mut plan = ChunkPlan {
        batches: Vec::new(),
        entries: 0,
        quiet: sorted.quiet,
        sums: sorted.sums,
    };
    let mut builder = BatchBuilder::default();
    for a in sorted.advanced {
        let currency = a.currency;
        let split = split_postings(&a.row, currency, &a.intents);
        let colent = match positions.get(&a.row.id) {
            Some(p) => colending::cob::day_move(p, &a.after, &a.intents, next)?,
            _ => None,
        };
        let fits = |b: &BatchBuilder| {
            b.postings_with(currency, split.own.len(), &split.shared)
                .is_some_and(|n| n <= postings_max)
        };
        if !fits(&builder) {
            let batch = builder.finish(next).expect("a full batch has loans");
            plan.entries += batch.commands.len() as u64;
            plan.batches.push(batch);
        }
        assert!(fits(&builder), "one loan-day fits in an entry");
        let row = DomainWrite::Loan {
            row: next_row(&a.row, &a.after),
            expected_version: Some(a.row.version),
        };
        builder.add(a.row.id, currency, split, row, colent);
    }
    if let Some(batch) = builder.finish(next) {
        plan.entries += batch.commands.len() as u64;
        plan.batches.push(batch);
    }
    Ok(plan)
}

/// Submits the batches and waits for all; returns how many loans moved, `quiet` included.
/// Loan commands wait for close of business, so a stale batch means something outside
/// this process wrote a loan: the day stops with an error rather than guess.
pub(super) async fn submit_chunk(
    engine: Engine,
    batches: Vec<Batch>,
    quiet: u64,
    day: i32,
) -> anyhow::Result<u64> {
    let mut ids = Vec::with_capacity(batches.len());
    let mut envelopes = Vec::with_capacity(batches.len());
    for b in batches {
        ids.push(b.ids);
        envelopes.push((b.commands, b.domain));
    }
    let results = engine.submit_many(envelopes).await;
    let mut advanced = quiet;
    for (ids, result) in ids.into_iter().zip(results) {
        match result {
            Ok(_) => advanced += ids.len() as u64,
            Err(e) => anyhow::bail!("close day {day} for loans {ids:?}: {e}"),
        }
    }
    Ok(advanced)
}
