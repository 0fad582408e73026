use crate::BusinessDate;
use rust_decimal::Decimal;

/// How days between two dates are counted and how many make a year.
///
/// A rate is meaningless without one: 0.05% a day is 18% a year under ACT/360 and 18.25%
/// under ACT/365F, so every daily↔annual conversion names its day count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DayCount {
    /// Actual days over a 360-day year: the CNY daily-rate (日利率) convention.
    Act360,
    /// Actual days over a fixed 365-day year, leap years included.
    Act365F,
    /// 30/360 bond basis (ISDA 2006 4.16(f)): every month counts 30 days.
    Thirty360,
}

impl DayCount {
    pub const fn days_per_year(self) -> i64 {
        match self {
            DayCount::Act360 | DayCount::Thirty360 => 360,
            DayCount::Act365F => 365,
        }
    }

    /// Days from `start` to `end` under this convention (negative when `end` is earlier).
    pub fn days_between(self, start: BusinessDate, end: BusinessDate) -> i64 {
        match self {
            DayCount::Act360 | DayCount::Act365F => start.days_until(end),
            DayCount::Thirty360 => thirty_360_days(start, end),
        }
    }

    /// The span as a fraction of this convention's year, exact (no binary floating point).
    pub fn year_fraction(self, start: BusinessDate, end: BusinessDate) -> Decimal {
        Decimal::from(self.days_between(start, end)) / Decimal::from(self.days_per_year())
    }
}

/// Bond basis: a 31st start is the 30th; a 31st end is the 30th only when the start was the
/// 30th or 31st, so a 30th-to-31st span is zero days, as the convention intends.
fn thirty_360_days(start: BusinessDate, end: BusinessDate) -> i64 {
    let d1 = start.day().min(30);
    let d2 = if d1 == 30 {
        end.day().min(30)
    } else {
        end.day()
    };
    let years = i64::from(end.year() - start.year());
    let months = i64::from(end.month()) - i64::from(start.month());
    360 * years + 30 * months + (i64::from(d2) - i64::from(d1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> BusinessDate {
        s.parse().unwrap()
    }

    #[test]
    fn actual_conventions_count_calendar_days() {
        // 2028 is a leap year: Feb has 29 days.
        assert_eq!(
            DayCount::Act360.days_between(d("2028-02-01"), d("2028-03-01")),
            29
        );
        assert_eq!(
            DayCount::Act365F.days_between(d("2026-01-01"), d("2027-01-01")),
            365
        );
        assert_eq!(
            DayCount::Act360.days_between(d("2026-03-01"), d("2026-02-01")),
            -28
        );
    }

    #[test]
    fn thirty_360_follows_bond_basis() {
        let c = DayCount::Thirty360;
        assert_eq!(c.days_between(d("2026-01-15"), d("2026-02-15")), 30);
        assert_eq!(c.days_between(d("2026-01-31"), d("2026-02-28")), 28);
        assert_eq!(c.days_between(d("2026-01-30"), d("2026-03-31")), 60);
        assert_eq!(c.days_between(d("2026-01-15"), d("2026-03-31")), 76);
        assert_eq!(c.days_between(d("2025-12-31"), d("2026-12-31")), 360);
    }

    #[test]
    fn year_fraction_is_days_over_basis() {
        let (a, b) = (d("2026-01-01"), d("2026-04-01"));
        assert_eq!(DayCount::Act360.year_fraction(a, b), dec!(90) / dec!(360));
        assert_eq!(DayCount::Act365F.year_fraction(a, b), dec!(90) / dec!(365));
        assert_eq!(DayCount::Thirty360.year_fraction(a, b), dec!(0.25));
    }
}
