use chrono::{Datelike, NaiveDate};
use std::fmt;
use std::str::FromStr;

/// A calendar day used for accounting, without time zone. It moves only when close of
/// business says so; domain code receives it as an argument and never asks a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BusinessDate(NaiveDate);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {0:?} (expected YYYY-MM-DD)")]
pub struct DateError(pub String);

impl BusinessDate {
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Result<Self, DateError> {
        NaiveDate::from_ymd_opt(year, month, day)
            .map(BusinessDate)
            .ok_or_else(|| DateError(format!("{year:04}-{month:02}-{day:02}")))
    }

    pub const fn from_naive(date: NaiveDate) -> Self {
        BusinessDate(date)
    }

    pub const fn naive(self) -> NaiveDate {
        self.0
    }

    pub fn year(self) -> i32 {
        self.0.year()
    }

    pub fn month(self) -> u32 {
        self.0.month()
    }

    pub fn day(self) -> u32 {
        self.0.day()
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: BusinessDate) -> i64 {
        (later.0 - self.0).num_days()
    }

    pub fn add_days(self, days: i64) -> Option<BusinessDate> {
        self.0
            .checked_add_signed(chrono::TimeDelta::try_days(days)?)
            .map(BusinessDate)
    }

    pub fn succ(self) -> BusinessDate {
        BusinessDate(self.0.succ_opt().expect("date within chrono's range"))
    }

    pub fn pred(self) -> BusinessDate {
        BusinessDate(self.0.pred_opt().expect("date within chrono's range"))
    }

    /// Adds whole months, clamping to the month's last day (Jan 31 + 1 month = Feb 28/29).
    pub fn add_months(self, months: u32) -> Option<BusinessDate> {
        self.0
            .checked_add_months(chrono::Months::new(months))
            .map(BusinessDate)
    }

    pub fn is_last_day_of_month(self) -> bool {
        self.succ().day() == 1
    }

    /// Days since 1970-01-01, a compact key for storage.
    pub fn to_epoch_days(self) -> i32 {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid epoch");
        i32::try_from((self.0 - epoch).num_days()).expect("date within i32 days of 1970")
    }

    pub fn from_epoch_days(days: i32) -> Option<BusinessDate> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid epoch");
        epoch
            .checked_add_signed(chrono::TimeDelta::try_days(i64::from(days))?)
            .map(BusinessDate)
    }
}

impl FromStr for BusinessDate {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(BusinessDate)
            .map_err(|_| DateError(s.to_string()))
    }
}

/// Written by hand: chrono's `format` interprets its pattern on every call, and documents
/// and responses print several dates per request (about 1 % of a purchase server's time).
impl fmt::Display for BusinessDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let year = self.0.year();
        if !(0..=9999).contains(&year) {
            return write!(f, "{}", self.0.format("%Y-%m-%d"));
        }
        let mut text = *b"0000-00-00";
        let digits = |out: &mut [u8], mut n: u32| {
            for d in out.iter_mut().rev() {
                *d = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        digits(&mut text[0..4], year.unsigned_abs());
        digits(&mut text[5..7], self.0.month());
        digits(&mut text[8..10], self.0.day());
        f.write_str(std::str::from_utf8(&text).expect("ASCII digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_arithmetic_clamps_to_month_end() {
        let jan31: BusinessDate = "2026-01-31".parse().unwrap();
        assert_eq!(jan31.add_months(1).unwrap().to_string(), "2026-02-28");
        let leap: BusinessDate = "2028-01-31".parse().unwrap();
        assert_eq!(leap.add_months(1).unwrap().to_string(), "2028-02-29");
        assert!("2026-02-30".parse::<BusinessDate>().is_err());
    }

    #[test]
    fn display_is_iso_8601_like_chrono_s() {
        let first = BusinessDate::from_ymd(1, 1, 1).unwrap().to_epoch_days();
        let last = BusinessDate::from_ymd(9999, 12, 31)
            .unwrap()
            .to_epoch_days();
        for days in (first..=last).step_by(97).chain([first, last]) {
            let d = BusinessDate::from_epoch_days(days).unwrap();
            assert_eq!(d.to_string(), d.naive().format("%Y-%m-%d").to_string());
        }
        assert_eq!(
            BusinessDate::from_ymd(10_000, 1, 1).unwrap().to_string(),
            "+10000-01-01"
        );
    }

    #[test]
    fn epoch_days_round_trip() {
        let d: BusinessDate = "2026-11-26".parse().unwrap();
        assert_eq!(BusinessDate::from_epoch_days(d.to_epoch_days()), Some(d));
        assert_eq!(
            BusinessDate::from_ymd(1970, 1, 1).unwrap().to_epoch_days(),
            0
        );
    }
}
