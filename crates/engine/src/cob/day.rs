//! Closing one business day: loans partition by partition (pipelined to the writer), then
//! the credit lines and merchants, then the next day opens.

use super::lines;
use super::loans::{
    accrual_entries, add_accrual, pack_chunk, sort_chunk, submit_chunk, AccrualSums,
};
use super::partitions::{Partitions, Work};
use super::workers::WorkerPlan;
use crate::business_day::{business_date, DayState, BUSINESS_DATE_KEY};
use crate::colending;
use crate::{Command, Engine, EngineError};
use anyhow::Context;
use money::BusinessDate;
use store::{DomainWrite, LoanRow};

#[derive(Clone, Copy, Debug, Default)]
pub struct CobReport {
    /// Loans moved to the next day: written, or quiet (booked in their partition's sum).
    pub loans_advanced: u64,
    /// Loans whose day only accrued interest: their rows were left alone.
    pub loans_quiet: u64,
    pub entries_posted: u64,
    pub partitions_done: u32,
    /// Of `partitions_done`, those whose loans a worker process read (PostgreSQL).
    pub partitions_from_workers: u32,
    pub partitions_skipped: u32,
    /// Revolving credit lines moved to the next day, and statements they issued.
    pub lines_advanced: u64,
    pub statements_issued: u64,
    pub merchants_settled: u64,
    /// Co-lent loans written off on the day whose first-loss deposit was drawn.
    pub first_loss_draws: u64,
    /// Loans in the month-end snapshot written when the day closed was a month's last.
    pub snapshot_loans: Option<u64>,
}

/// How close of business runs: loans read per query and loans in flight to the writer.
#[derive(Clone, Copy, Debug)]
pub struct CobConfig {
    pub chunk_loans: u32,
    /// Stop after this many partitions (to test resuming); None runs them all.
    pub partitions_max: Option<u32>,
}

impl Default for CobConfig {
    fn default() -> Self {
        CobConfig {
            chunk_loans: 4096,
            partitions_max: None,
        }
    }
}

/// Closes the open business day: every open loan moves to the next day (accrual, billing,
/// late fees, penalty, DPD, write-off), partition by partition; then the next day opens.
///
/// A loan whose day only accrues interest (see `loan::quiet_through`) is left alone: its
/// accrual is added to its partition's sum, booked as one entry per tenant and currency
/// (`AccruedInterest ← InterestIncome`) in the same transaction as the partition's mark.
/// Every other loan commits its row and postings in a batch. A crash leaves each written
/// loan before or after the day and each partition's sums with its mark, so a re-run
/// picks up exactly the loans and sums still missing. Loan commands wait meanwhile: the
/// sums are taken from the loans as read here.
pub async fn close_business_day(
    engine: &Engine,
    config: CobConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<(BusinessDate, CobReport)> {
    let _day = engine.loan_day().exclusive().await;
    let today = business_date(engine)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no business date is open"))?;
    // Until the next day opens, whatever happens to this run.
    engine.loan_day().set_state(DayState::PartWay);
    let next = today.succ();
    let day = next.to_epoch_days();
    let done = engine.store().cob_done(day).await?;
    let todo: Vec<i32> = (0..store::LOAN_PARTITIONS as i32)
        .filter(|p| !done.contains(p))
        .collect();
    let mut c = Closing {
        engine,
        config,
        next,
        pipe: Pipeline::default(),
        report: CobReport {
            partitions_skipped: store::LOAN_PARTITIONS - todo.len() as u32,
            ..CobReport::default()
        },
        progress,
        colent: colending::cob::any(engine).await?,
    };
    let mut partitions = Partitions::publish(engine.store(), day, todo).await?;
    while config
        .partitions_max
        .is_none_or(|m| c.report.partitions_done < m)
    {
        let (partition, sums) = match partitions.next().await? {
            None => break,
            Some(Work::Own(partition)) => (partition, c.read_partition(partition).await?),
            Some(Work::Planned(partition, plan)) => {
                c.report.partitions_from_workers += 1;
                (partition, c.write_planned(plan).await?)
            }
        };
        // The mark follows the partition's chunks through the pipeline, so it is sent only
        // once every written loan of the partition is committed.
        let accruals = accrual_entries(partition, next, sums);
        c.report.entries_posted += accruals.len() as u64;
        c.pipe.push(Stage::Mark(
            accruals,
            DomainWrite::CobDone {
                day,
                partition,
                done_at_ms: engine.now_ms(),
            },
        ));
        c.report.partitions_done += 1;
    }
    let Closing {
        mut pipe,
        mut report,
        colent,
        ..
    } = c;
    pipe.drain(engine, &mut report, 0, progress).await?;
    for m in pipe.marks.drain(..) {
        m.await??;
    }
    if report.partitions_done + report.partitions_skipped < store::LOAN_PARTITIONS {
        return Ok((today, report));
    }
    if colent {
        report.first_loss_draws = colending::first_loss::draw_due(engine, next).await?;
    }
    let rc = lines::close_day(engine, today, next).await?;
    report.lines_advanced = rc.lines_advanced;
    report.statements_issued = rc.statements_issued;
    report.merchants_settled = rc.merchants_settled;
    let open = DomainWrite::Meta {
        key: BUSINESS_DATE_KEY.into(),
        value: next.to_string().into_bytes(),
    };
    engine.submit_waiting(Vec::new(), vec![open]).await?;
    engine.loan_day().set_open_day(day);
    engine.loan_day().set_state(DayState::Whole);
    if next.month() != today.month() {
        // After the day opens, so loans stand as the month's last close left them; a
        // failure leaves the day closed and the month to `puhui analytics snapshot`.
        match engine
            .store()
            .write_snapshot(store::analytics::Month::of_date(today))
            .await
        {
            Ok(s) => report.snapshot_loans = Some(s.loans),
            Err(e) => tracing::error!(error = %e, month = %today, "month-end snapshot"),
        }
    }
    Ok((next, report))
}

/// One close-of-business day in progress: where its chunks go and what it has done.
struct Closing<'a> {
    engine: &'a Engine,
    config: CobConfig,
    next: BusinessDate,
    pipe: Pipeline,
    report: CobReport,
    progress: &'a (dyn Fn(u64) + Sync),
    /// Whether any loan is co-lent (else no chunk looks its loans' positions up).
    colent: bool,
}

impl Closing<'_> {
    /// Reads a partition and sends its written loans down the pipeline; returns the quiet
    /// loans' sums.
    async fn read_partition(&mut self, partition: i32) -> anyhow::Result<AccrualSums> {
        let mut sums = AccrualSums::new();
        let mut after = None;
        loop {
            let rows = self
                .engine
                .store()
                .loans_for_cob(
                    partition,
                    self.next.to_epoch_days(),
                    after,
                    self.config.chunk_loans,
                )
                .await?;
            let Some(last) = rows.last() else {
                return Ok(sums);
            };
            after = Some(last.id);
            self.send_chunk(rows, &mut sums).await?;
        }
    }

    /// Advances the loans a worker listed; returns the partition's sums (the worker's, and
    /// those of any listed loan that turns out quiet).
    async fn write_planned(&mut self, plan: WorkerPlan) -> anyhow::Result<AccrualSums> {
        let queue =
            (self.engine.store().cob_queue()).expect("planned partitions come from the queue");
        let mut sums = plan.sums;
        self.report.loans_quiet += plan.quiet;
        self.report.loans_advanced += plan.quiet;
        let day = self.next.to_epoch_days();
        for ids in plan.write.chunks(self.config.chunk_loans as usize) {
            let mut rows = queue.loans(ids).await?;
            // Only loans still before the day: the plan was made from these rows, under
            // the loan-day gate, so this drops nothing unless storage changed behind us.
            rows.retain(|r| r.open && r.day < day);
            self.send_chunk(rows, &mut sums).await?;
        }
        (self.progress)(self.report.loans_advanced);
        Ok(sums)
    }

    /// Plans a chunk off the async workers (so the writer is never starved) and submits it.
    async fn send_chunk(
        &mut self,
        rows: Vec<LoanRow>,
        sums: &mut AccrualSums,
    ) -> anyhow::Result<()> {
        let next = self.next;
        let colent = self.colent;
        let plan = match colent {
            false => {
                blocking(move || pack_chunk(sort_chunk(rows, next)?, &Default::default(), next))
                    .await?
            }
            true => {
                let sorted = blocking(move || sort_chunk(rows, next)).await?;
                let positions = colending::cob::load(self.engine, &sorted.written_ids()).await?;
                blocking(move || pack_chunk(sorted, &positions, next)).await?
            }
        };
        self.report.entries_posted += plan.entries;
        self.report.loans_quiet += plan.quiet;
        for ((tenant, currency), amount_minor) in plan.sums {
            add_accrual(sums, &tenant, currency, amount_minor);
        }
        self.pipe.push(Stage::Chunk(tokio::spawn(submit_chunk(
            self.engine.clone(),
            plan.batches,
            plan.quiet,
            next.to_epoch_days(),
        ))));
        self.pipe
            .drain(
                self.engine,
                &mut self.report,
                CHUNKS_IN_FLIGHT_MAX,
                self.progress,
            )
            .await
    }
}

/// Runs CPU work off the async workers, so the writer is never starved.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("join close-of-business planner")?
}

/// Chunks submitted but not yet confirmed: reading and planning the next chunk overlaps
/// with the writer committing the previous ones.
const CHUNKS_IN_FLIGHT_MAX: usize = 3;

/// Loans advanced (written or quiet).
type ChunkResult = anyhow::Result<u64>;

enum Stage {
    Chunk(tokio::task::JoinHandle<ChunkResult>),
    /// A partition's accrual sums and its mark.
    Mark(Vec<Command>, DomainWrite),
}

#[derive(Default)]
struct Pipeline {
    stages: std::collections::VecDeque<Stage>,
    chunks: usize,
    marks: Vec<tokio::task::JoinHandle<Result<Vec<crate::Outcome>, EngineError>>>,
}

impl Pipeline {
    fn push(&mut self, s: Stage) {
        if matches!(s, Stage::Chunk(_)) {
            self.chunks += 1;
        }
        self.stages.push_back(s);
    }

    /// Waits, oldest first, until at most `chunks_max` chunks are in flight; marks reached
    /// on the way are sent (their partitions' loans are all committed by then).
    async fn drain(
        &mut self,
        engine: &Engine,
        report: &mut CobReport,
        chunks_max: usize,
        progress: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<()> {
        while let Some(front) = self.stages.front() {
            if matches!(front, Stage::Chunk(_)) && self.chunks <= chunks_max {
                return Ok(());
            }
            match self.stages.pop_front().expect("front exists") {
                Stage::Chunk(h) => {
                    self.chunks -= 1;
                    report.loans_advanced += h.await??;
                    progress(report.loans_advanced);
                }
                Stage::Mark(accruals, m) => {
                    let engine = engine.clone();
                    self.marks.push(tokio::spawn(async move {
                        engine.submit_waiting(accruals, vec![m]).await
                    }));
                }
            }
        }
        Ok(())
    }
}
