//! The unit-periods Appendix J works in: (b)(3)(iii) names the standard intervals (a day,
//! a week, a semimonth, a month, or a multiple of a week or a month up to a year), and
//! (b)(4)(ii) adds the term of a single-advance, single-payment transaction.

use super::location::whole_months_between;
use super::AprError;
use crate::{BusinessDate, Decimal};
use std::fmt;
use std::str::FromStr;

/// The unit-period of Appendix J (b)(4), in one canonical form each: a week is `Weeks(1)`, a
/// year is `Months(12)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnitPeriod {
    /// 365 a year ((b)(5)(iv)).
    Day,
    /// 1 to 52 weeks; 52 / N a year ((b)(5)(iv)).
    Weeks(u32),
    /// 24 a year ((b)(5)(iii)).
    SemiMonth,
    /// 1 to 12 months; 12 / N a year ((b)(5)(ii), (iii) and (v)).
    Months(u32),
    /// The term of a single-advance, single-payment transaction, 2 to 365 days, or a common
    /// period that is no standard interval; 365 / N a year ((b)(5)(vii)).
    Days(u32),
}

impl UnitPeriod {
    pub const WEEK: UnitPeriod = UnitPeriod::Weeks(1);
    pub const MONTH: UnitPeriod = UnitPeriod::Months(1);
    pub const QUARTER: UnitPeriod = UnitPeriod::Months(3);
    pub const HALF_YEAR: UnitPeriod = UnitPeriod::Months(6);
    pub const YEAR: UnitPeriod = UnitPeriod::Months(12);

    /// The unit-period itself, or an error when its count is outside the appendix's range.
    pub fn checked(self) -> Result<UnitPeriod, AprError> {
        let ok = match self {
            UnitPeriod::Day | UnitPeriod::SemiMonth => true,
            UnitPeriod::Weeks(n) => (1..=52).contains(&n),
            UnitPeriod::Months(n) => (1..=12).contains(&n),
            UnitPeriod::Days(n) => (2..=365).contains(&n),
        };
        if ok {
            Ok(self)
        } else {
            Err(AprError::BadUnitPeriod(self))
        }
    }

    /// Unit-periods in a year: 365 days, 52 / N weeks, 24 semimonths, 12 / N months, 365 / N.
    pub fn periods_per_year(self) -> Result<Decimal, AprError> {
        Ok(match self.checked()? {
            UnitPeriod::Day => Decimal::from(365),
            UnitPeriod::Weeks(n) => Decimal::from(52) / Decimal::from(n),
            UnitPeriod::SemiMonth => Decimal::from(24),
            UnitPeriod::Months(n) => Decimal::from(12) / Decimal::from(n),
            UnitPeriod::Days(n) => Decimal::from(365) / Decimal::from(n),
        })
    }

    /// Its length in days on average (a month is 365/12 days), to order unit-periods by
    /// length and to round an average period to the nearest standard interval.
    pub fn nominal_days(self) -> Decimal {
        match self {
            UnitPeriod::Day => Decimal::ONE,
            UnitPeriod::Weeks(n) => Decimal::from(7 * n),
            UnitPeriod::SemiMonth => Decimal::from(365) / Decimal::from(24),
            UnitPeriod::Months(n) => Decimal::from(365 * n) / Decimal::from(12),
            UnitPeriod::Days(n) => Decimal::from(n),
        }
    }

    /// Every standard interval of (b)(3)(iii), shortest first.
    pub fn standard_intervals() -> impl Iterator<Item = UnitPeriod> {
        let weeks = (1..=52).map(UnitPeriod::Weeks);
        let months = (1..=12).map(UnitPeriod::Months);
        let mut all: Vec<UnitPeriod> = std::iter::once(UnitPeriod::Day)
            .chain(weeks)
            .chain(std::iter::once(UnitPeriod::SemiMonth))
            .chain(months)
            .collect();
        all.sort_by_key(|u| u.nominal_days());
        all.into_iter()
    }

    /// Appendix J (b)(4)(ii): a single-advance, single-payment transaction uses its term as
    /// the unit-period, but never more than a year. A term of whole months is that many
    /// months ((b)(5)(vi) allows 12 / months a year), any other term under a year is its
    /// days ((b)(5)(vii)), and a longer term is located in years ((b)(5)(v)).
    pub fn single_payment_term(advance: BusinessDate, payment: BusinessDate) -> UnitPeriod {
        let days = advance.days_until(payment);
        if days <= 1 {
            return UnitPeriod::Day;
        }
        match whole_months_between(advance, payment) {
            Some(months) if months <= 12 => UnitPeriod::Months(months),
            Some(_) => UnitPeriod::YEAR,
            None => match u32::try_from(days) {
                Ok(days) if days <= 365 && payment <= add_year(advance) => UnitPeriod::Days(days),
                _ => UnitPeriod::YEAR,
            },
        }
    }
}

impl UnitPeriod {
    /// As [`UnitPeriod::single_payment_term`], but a term of whole months under a year is
    /// counted in days too, the other choice (b)(5)(vi) allows (365 / days a year): the
    /// natural one for a price quoted per day.
    pub fn single_payment_term_in_days(advance: BusinessDate, payment: BusinessDate) -> UnitPeriod {
        match UnitPeriod::single_payment_term(advance, payment) {
            UnitPeriod::Months(months) if months < 12 => {
                let days = advance.days_until(payment);
                UnitPeriod::Days(u32::try_from(days).expect("under a year of days"))
            }
            unit => unit,
        }
    }

    /// The `k`th date (from 0) of a series that starts on `first` and steps by this
    /// unit-period: months are added to `first` itself, so a series on the 31st keeps
    /// returning to the 31st after a short month; a semimonthly series falls on `first`'s day
    /// and 15 days later in each month. `None` past the calendar's range.
    pub fn nth_date(self, first: BusinessDate, k: u32) -> Option<BusinessDate> {
        match self {
            UnitPeriod::Day => first.add_days(i64::from(k)),
            UnitPeriod::Weeks(n) => first.add_days(7 * i64::from(n) * i64::from(k)),
            UnitPeriod::Days(n) => first.add_days(i64::from(n) * i64::from(k)),
            UnitPeriod::Months(n) => first.add_months(n.checked_mul(k)?),
            UnitPeriod::SemiMonth => {
                first
                    .add_months(k / 2)?
                    .add_days(if k % 2 == 1 { 15 } else { 0 })
            }
        }
    }
}

fn add_year(date: BusinessDate) -> BusinessDate {
    date.add_months(12).unwrap_or(date)
}

/// The names the CLI and the API use: `day`, `week`, `2week` … `52week`, `semimonth`,
/// `month`, `2month`, `quarter`, `4month`, `5month`, `halfyear`, `7month` … `11month`,
/// `year`, and `Nday` for a term of N days.
impl fmt::Display for UnitPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            UnitPeriod::Day => f.write_str("day"),
            UnitPeriod::Weeks(1) => f.write_str("week"),
            UnitPeriod::Weeks(n) => write!(f, "{n}week"),
            UnitPeriod::SemiMonth => f.write_str("semimonth"),
            UnitPeriod::Months(1) => f.write_str("month"),
            UnitPeriod::Months(3) => f.write_str("quarter"),
            UnitPeriod::Months(6) => f.write_str("halfyear"),
            UnitPeriod::Months(12) => f.write_str("year"),
            UnitPeriod::Months(n) => write!(f, "{n}month"),
            UnitPeriod::Days(n) => write!(f, "{n}day"),
        }
    }
}

/// A unit-period name that is none of those [`UnitPeriod`]'s `Display` writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown unit period {0:?}: expected day, week, 2week … 52week, semimonth, month, 2month … 11month, quarter, halfyear, year or Nday (2–365)")]
pub struct UnitPeriodParseError(pub String);

impl FromStr for UnitPeriod {
    type Err = UnitPeriodParseError;

    /// Reads what `Display` writes, plus `3month`, `6month`, `12month`, `1week`, `1month`,
    /// and the older `semi_month` and `days:N`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || UnitPeriodParseError(s.to_owned());
        let unit = match s {
            "day" => UnitPeriod::Day,
            "week" => UnitPeriod::WEEK,
            "semimonth" | "semi_month" => UnitPeriod::SemiMonth,
            "month" => UnitPeriod::MONTH,
            "quarter" => UnitPeriod::QUARTER,
            "halfyear" => UnitPeriod::HALF_YEAR,
            "year" => UnitPeriod::YEAR,
            other => {
                let counted = |suffix: &str| {
                    other
                        .strip_suffix(suffix)
                        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty())
                        .and_then(|n| n.parse::<u32>().ok())
                };
                if let Some(n) = counted("week") {
                    UnitPeriod::Weeks(n)
                } else if let Some(n) = counted("month") {
                    UnitPeriod::Months(n)
                } else if let Some(n) = counted("day").or_else(|| {
                    other
                        .strip_prefix("days:")
                        .and_then(|n| n.parse::<u32>().ok())
                }) {
                    if n == 1 {
                        UnitPeriod::Day
                    } else {
                        UnitPeriod::Days(n)
                    }
                } else {
                    return Err(bad());
                }
            }
        };
        unit.checked().map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> BusinessDate {
        s.parse().unwrap()
    }

    #[test]
    fn names_round_trip_and_bad_names_are_refused() {
        for unit in UnitPeriod::standard_intervals().chain([UnitPeriod::Days(255)]) {
            assert_eq!(unit.to_string().parse::<UnitPeriod>(), Ok(unit), "{unit}");
        }
        assert_eq!("2week".parse(), Ok(UnitPeriod::Weeks(2)));
        assert_eq!("3month".parse(), Ok(UnitPeriod::QUARTER));
        assert_eq!("12month".parse(), Ok(UnitPeriod::YEAR));
        assert_eq!("semi_month".parse(), Ok(UnitPeriod::SemiMonth));
        assert_eq!("days:14".parse(), Ok(UnitPeriod::Days(14)));
        assert_eq!("1day".parse(), Ok(UnitPeriod::Day));
        for bad in [
            "",
            "0week",
            "53week",
            "13month",
            "0month",
            "366day",
            "fortnight",
            "-2week",
        ] {
            assert!(bad.parse::<UnitPeriod>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn periods_per_year_follow_b_5() {
        let ppy = |u: UnitPeriod| u.periods_per_year().unwrap();
        assert_eq!(ppy(UnitPeriod::Day), Decimal::from(365));
        assert_eq!(ppy(UnitPeriod::Weeks(4)), Decimal::from(13));
        assert_eq!(ppy(UnitPeriod::Weeks(2)), Decimal::from(26));
        assert_eq!(ppy(UnitPeriod::SemiMonth), Decimal::from(24));
        assert_eq!(ppy(UnitPeriod::Months(2)), Decimal::from(6));
        assert_eq!(ppy(UnitPeriod::QUARTER), Decimal::from(4));
        assert_eq!(ppy(UnitPeriod::YEAR), Decimal::ONE);
        assert_eq!(
            ppy(UnitPeriod::Days(255)),
            Decimal::from(365) / Decimal::from(255)
        );
        assert_eq!(
            UnitPeriod::Weeks(0).periods_per_year(),
            Err(AprError::BadUnitPeriod(UnitPeriod::Weeks(0)))
        );
        assert!(UnitPeriod::Months(13).periods_per_year().is_err());
        assert!(UnitPeriod::Days(1).periods_per_year().is_err());
    }

    #[test]
    fn series_dates_step_by_the_unit_period() {
        let nth = |u: UnitPeriod, first: &str, k| u.nth_date(d(first), k).unwrap();
        assert_eq!(nth(UnitPeriod::MONTH, "2026-01-31", 1), d("2026-02-28"));
        assert_eq!(nth(UnitPeriod::MONTH, "2026-01-31", 2), d("2026-03-31"));
        assert_eq!(nth(UnitPeriod::QUARTER, "1978-10-01", 4), d("1979-10-01"));
        assert_eq!(nth(UnitPeriod::Weeks(2), "1978-04-11", 19), d("1979-01-02"));
        assert_eq!(nth(UnitPeriod::SemiMonth, "1978-03-01", 3), d("1978-04-16"));
        assert_eq!(nth(UnitPeriod::Day, "1978-03-01", 0), d("1978-03-01"));
        assert_eq!(nth(UnitPeriod::Days(10), "1978-03-01", 2), d("1978-03-21"));
        assert_eq!(UnitPeriod::YEAR.nth_date(d("2026-01-01"), u32::MAX), None);
    }

    #[test]
    fn a_single_payment_term_is_the_unit_period_up_to_a_year() {
        let term = |a, p| UnitPeriod::single_payment_term(d(a), d(p));
        assert_eq!(term("1978-01-03", "1978-09-15"), UnitPeriod::Days(255));
        assert_eq!(term("1978-07-15", "1979-01-15"), UnitPeriod::HALF_YEAR);
        assert_eq!(term("1978-01-31", "1978-02-28"), UnitPeriod::MONTH);
        assert_eq!(term("1978-01-03", "1979-01-03"), UnitPeriod::YEAR);
        assert_eq!(term("1978-01-03", "1979-07-03"), UnitPeriod::YEAR);
        assert_eq!(term("1978-01-03", "1979-01-04"), UnitPeriod::YEAR);
        // 365 days that fall short of a calendar year (over a leap day) are still days.
        assert_eq!(term("2024-01-02", "2025-01-01"), UnitPeriod::Days(365));
        assert_eq!(term("1978-01-03", "1978-01-04"), UnitPeriod::Day);
        let in_days = |a, p| UnitPeriod::single_payment_term_in_days(d(a), d(p));
        assert_eq!(in_days("1978-07-15", "1979-01-15"), UnitPeriod::Days(184));
        assert_eq!(in_days("1978-01-03", "1978-09-15"), UnitPeriod::Days(255));
        assert_eq!(in_days("1978-01-03", "1979-01-03"), UnitPeriod::YEAR);
    }
}
