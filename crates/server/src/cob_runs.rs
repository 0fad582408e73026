//! Close of business inside the running server: runs started over HTTP or by the daily
//! schedule, one at a time, with their progress.
//!
//! A run closes days in the server's own engine, so the engine that serves requests is the
//! one that moves the business date and the tree: nothing goes stale. Loan commands wait on
//! the engine's loan-day gate while a day closes; everything else keeps being served. Runs
//! are kept in memory (the last `RUNS_KEPT`); a run cut short by a restart is finished by
//! starting another, since close of business resumes where it stopped.

use api::{CobDayWire, CobRunWire};
use engine::cob::{self, CobConfig};
use engine::loans;
use engine::Engine;
use money::BusinessDate;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Finished runs remembered for `GET /v1/close-of-business/{id}` and idempotent retries.
const RUNS_KEPT: usize = 256;
/// Most days one run may close (ten years).
pub const RUN_DAYS_MAX: i32 = 3_660;

#[derive(Default)]
pub struct CobRuns {
    inner: tokio::sync::Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    runs: HashMap<Uuid, Arc<Run>>,
    order: VecDeque<Uuid>,
    current: Option<Uuid>,
}

pub struct Run {
    id: Uuid,
    /// The `to` as asked (None: one day), to tell a retry from a different request.
    asked_to: Option<BusinessDate>,
    from: BusinessDate,
    to: BusinessDate,
    started_by: &'static str,
    started_at_ms: i64,
    /// Loans of the days already closed, and of the day being closed so far.
    loans_closed_days: AtomicU64,
    loans_this_day: AtomicU64,
    state: Mutex<RunState>,
}

struct RunState {
    current: BusinessDate,
    days: Vec<CobDayWire>,
    finished_at_ms: Option<i64>,
    error: Option<String>,
}

/// Why a run was not started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no business date is open")]
    NoBusinessDate,
    #[error("`to` must be after the open business date {open}")]
    NotAfterOpen { open: BusinessDate },
    #[error("`to` is more than {max} days after the open business date {open}", max = RUN_DAYS_MAX)]
    TooFar { open: BusinessDate },
    #[error("close-of-business run {0} is in progress")]
    Busy(Uuid),
    #[error("run {0} was started with a different request")]
    Conflict(Uuid),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of a Unix time in milliseconds.
pub fn rfc3339_ms(ms: i64) -> String {
    const DAY_MS: i64 = 86_400_000;
    let date = BusinessDate::from_epoch_days(ms.div_euclid(DAY_MS) as i32)
        .map_or_else(|| "?".into(), |d| d.to_string());
    let t = ms.rem_euclid(DAY_MS);
    let (h, m, s, milli) = (t / 3_600_000, t / 60_000 % 60, t / 1000 % 60, t % 1000);
    format!("{date}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

impl CobRuns {
    /// Starts a run to `to` (default: one day), or returns the run already started under
    /// `id` with the same request (`false`: not new).
    pub async fn start(
        &self,
        engine: &Engine,
        id: Uuid,
        to: Option<BusinessDate>,
        started_by: &'static str,
    ) -> Result<(Arc<Run>, bool), StartError> {
        let mut reg = self.inner.lock().await;
        if let Some(run) = reg.runs.get(&id) {
            return match run.asked_to == to {
                true => Ok((run.clone(), false)),
                false => Err(StartError::Conflict(id)),
            };
        }
        if let Some(cur) = reg.current {
            return Err(StartError::Busy(cur));
        }
        let open = loans::business_date(engine)
            .await?
            .ok_or(StartError::NoBusinessDate)?;
        let target = to.unwrap_or(open.succ());
        let days = target.to_epoch_days() - open.to_epoch_days();
        if days <= 0 {
            return Err(StartError::NotAfterOpen { open });
        }
        if days > RUN_DAYS_MAX {
            return Err(StartError::TooFar { open });
        }
        let run = Arc::new(Run {
            id,
            asked_to: to,
            from: open,
            to: target,
            started_by,
            started_at_ms: now_ms(),
            loans_closed_days: AtomicU64::new(0),
            loans_this_day: AtomicU64::new(0),
            state: Mutex::new(RunState {
                current: open,
                days: Vec::new(),
                finished_at_ms: None,
                error: None,
            }),
        });
        reg.current = Some(id);
        reg.runs.insert(id, run.clone());
        reg.order.push_back(id);
        while reg.order.len() > RUNS_KEPT {
            let old = reg.order.pop_front().expect("non-empty");
            reg.runs.remove(&old);
        }
        tracing::info!(run = %id, from = %open, to = %target, started_by, "close of business started");
        Ok((run, true))
    }

    pub async fn get(&self, id: Uuid) -> Option<Arc<Run>> {
        self.inner.lock().await.runs.get(&id).cloned()
    }

    pub async fn current(&self) -> Option<Uuid> {
        self.inner.lock().await.current
    }

    /// Closes the run's days in `engine`; the run's state says how it ended.
    pub async fn drive(self: Arc<Self>, engine: Engine, run: Arc<Run>) {
        let result = close_days(&engine, &run).await;
        {
            let mut st = run.state.lock().unwrap_or_else(|p| p.into_inner());
            st.finished_at_ms = Some(now_ms());
            match result {
                Ok(()) => tracing::info!(run = %run.id, to = %run.to, "close of business finished"),
                Err(e) => {
                    tracing::error!(run = %run.id, error = %format!("{e:#}"), "close of business failed");
                    st.error = Some(format!("{e:#}"));
                }
            }
        }
        let mut reg = self.inner.lock().await;
        if reg.current == Some(run.id) {
            reg.current = None;
        }
    }
}

async fn close_days(engine: &Engine, run: &Run) -> anyhow::Result<()> {
    loop {
        let today = loans::business_date(engine)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no business date is open"))?;
        if today >= run.to {
            return Ok(());
        }
        run.state.lock().unwrap_or_else(|p| p.into_inner()).current = today;
        let started = std::time::Instant::now();
        let progress = |n: u64| run.loans_this_day.store(n, Relaxed);
        let (opened, r) = cob::close_business_day(engine, CobConfig::default(), &progress).await?;
        anyhow::ensure!(opened == today.succ(), "close of {today} did not finish");
        // Reset first: a reader meanwhile sees too few loans, never a day counted twice.
        run.loans_this_day.store(0, Relaxed);
        run.loans_closed_days.fetch_add(r.loans_advanced, Relaxed);
        let day = CobDayWire {
            closed: today.to_string(),
            loans_advanced: r.loans_advanced,
            loans_quiet: r.loans_quiet,
            entries_posted: r.entries_posted,
            lines_advanced: r.lines_advanced,
            statements_issued: r.statements_issued,
            seconds: started.elapsed().as_secs_f64(),
        };
        let mut st = run.state.lock().unwrap_or_else(|p| p.into_inner());
        st.current = opened;
        st.days.push(day);
    }
}

impl Run {
    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn wire(&self) -> CobRunWire {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let status = match (&st.finished_at_ms, &st.error) {
            (None, _) => "running",
            (Some(_), None) => "succeeded",
            (Some(_), Some(_)) => "failed",
        };
        CobRunWire {
            id: self.id,
            status: status.into(),
            from: self.from.to_string(),
            to: self.to.to_string(),
            current_date: st.current.to_string(),
            days_done: st.days.len() as u32,
            days_total: (self.to.to_epoch_days() - self.from.to_epoch_days()) as u32,
            loans_processed: self.loans_closed_days.load(Relaxed)
                + self.loans_this_day.load(Relaxed),
            started_by: self.started_by.into(),
            started_at: rfc3339_ms(self.started_at_ms),
            finished_at: st.finished_at_ms.map(rfc3339_ms),
            error: st.error.clone(),
            days: st.days.clone(),
        }
    }
}

/// `serve --cob-at HH:MM`: every day at that time (UTC), closes the business days before
/// the calendar date, so that today's date opens. A day missed while the server was down is
/// caught up at the next run.
pub async fn schedule(runs: Arc<CobRuns>, engine: Engine, minute_of_day: u32) {
    const DAY_MS: i64 = 86_400_000;
    loop {
        let now = now_ms();
        let at = now.div_euclid(DAY_MS) * DAY_MS + i64::from(minute_of_day) * 60_000;
        let next = if at > now { at } else { at + DAY_MS };
        tokio::time::sleep(std::time::Duration::from_millis((next - now) as u64)).await;
        let Some(today) = BusinessDate::from_epoch_days(now_ms().div_euclid(DAY_MS) as i32) else {
            continue;
        };
        match loans::business_date(&engine).await {
            Ok(Some(open)) if open < today => {}
            Ok(_) => continue,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "scheduled close of business: read the business date");
                continue;
            }
        }
        match runs
            .start(&engine, Uuid::now_v7(), Some(today), "schedule")
            .await
        {
            Ok((run, _)) => {
                tokio::spawn(runs.clone().drive(engine.clone(), run));
            }
            Err(e) => tracing::warn!(error = %e, "scheduled close of business not started"),
        }
    }
}

/// Parses `HH:MM` (UTC) into minutes after midnight.
pub fn parse_time_of_day(s: &str) -> Result<u32, String> {
    let bad = || format!("{s:?}: expected HH:MM (UTC), e.g. 00:05");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 || s.len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day() {
        assert_eq!(parse_time_of_day("00:05"), Ok(5));
        assert_eq!(parse_time_of_day("23:59"), Ok(23 * 60 + 59));
        for bad in ["24:00", "12:60", "1:05", "12-05", "", "ab:cd", "12:05:00"] {
            assert!(parse_time_of_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        // 2026-03-01 is day 20,513 after the epoch.
        let ms = 20_513 * 86_400_000 + ((13 * 60 + 7) * 60 + 9) * 1000 + 42;
        assert_eq!(rfc3339_ms(ms), "2026-03-01T13:07:09.042Z");
    }
}
