//! The open business day: stored in `meta` under `business_date`, cached here once read.
//! Loan and line commands run on it; close of business (`crate::cob`) moves it.

use crate::Engine;
use money::BusinessDate;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub(crate) const BUSINESS_DATE_KEY: &str = "business_date";

/// Whether the open day's close of business is part-way through, as far as this process
/// knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DayState {
    /// Not read from storage yet.
    Unknown = 0,
    Whole = 1,
    PartWay = 2,
}

/// The loans' business day in this process: the gate between loan commands and close of
/// business, and what is known of the open day.
pub(crate) struct LoanDay {
    /// Loan commands hold it shared; close of business holds it exclusively while it closes
    /// the loans' day. A quiet loan's day is booked in its partition's sum without touching
    /// the loan, from the loan as close of business read it, so no command may change a
    /// loan between that read and the day's end (see `cob::close_business_day`).
    gate: RwLock<()>,
    state: AtomicU8,
    /// The open business day (days since 1970) once read or set here; `i32::MIN` until
    /// then. Only close of business (under the gate) and the first initialisation move it.
    open_day: AtomicI32,
}

impl LoanDay {
    pub(crate) fn new() -> LoanDay {
        LoanDay {
            gate: RwLock::new(()),
            state: AtomicU8::new(DayState::Unknown as u8),
            open_day: AtomicI32::new(i32::MIN),
        }
    }

    /// A loan command's share of the day (waits while close of business runs).
    pub(crate) async fn shared(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().await
    }

    /// Close of business's exclusive hold on the day.
    pub(crate) async fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().await
    }

    pub(crate) fn state(&self) -> DayState {
        match self.state.load(Ordering::Acquire) {
            1 => DayState::Whole,
            2 => DayState::PartWay,
            _ => DayState::Unknown,
        }
    }

    pub(crate) fn set_state(&self, state: DayState) {
        self.state.store(state as u8, Ordering::Release);
    }

    pub(crate) fn open_day(&self) -> Option<i32> {
        let day = self.open_day.load(Ordering::Acquire);
        (day != i32::MIN).then_some(day)
    }

    pub(crate) fn set_open_day(&self, epoch_days: i32) {
        self.open_day.store(epoch_days, Ordering::Release);
    }
}

pub async fn business_date(engine: &Engine) -> anyhow::Result<Option<BusinessDate>> {
    if let Some(day) = engine.loan_day().open_day() {
        return Ok(BusinessDate::from_epoch_days(day));
    }
    match engine.store().meta(BUSINESS_DATE_KEY).await? {
        None => Ok(None),
        Some(raw) => {
            let date = parse_business_date(raw)?;
            engine.loan_day().set_open_day(date.to_epoch_days());
            Ok(Some(date))
        }
    }
}

fn parse_business_date(raw: Vec<u8>) -> anyhow::Result<BusinessDate> {
    String::from_utf8(raw)?
        .parse()
        .map_err(|e| anyhow::anyhow!("stored business date: {e:?}"))
}

/// Sets the first business date of a new installation; later calls leave it alone.
pub async fn init_business_date(
    engine: &Engine,
    date: BusinessDate,
) -> anyhow::Result<BusinessDate> {
    let raw = engine
        .store()
        .meta_init(BUSINESS_DATE_KEY, date.to_string().into_bytes())
        .await?;
    let open = parse_business_date(raw)?;
    engine.loan_day().set_open_day(open.to_epoch_days());
    Ok(open)
}
