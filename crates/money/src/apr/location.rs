//! Where a cash flow sits in unit-periods, by Appendix J (b)(5): count whole unit-periods
//! back from the flow's date, and the days left before the first advance become a fraction.

use super::{AprError, UnitPeriod};
use crate::{BusinessDate, Decimal};

/// Where a flow sits: `whole_periods` full unit-periods plus `fraction` of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub whole_periods: u32,
    pub fraction: Decimal,
}

/// Counts back from the later date (Appendix J (b)(5)): whole unit-periods first, and the
/// days left between the first advance and that point are odd days. A date on the last day
/// of its month is read as part of a month-end series; see [`locate_in_series`] when the
/// series falls on another day.
pub fn locate(
    first_advance: BusinessDate,
    date: BusinessDate,
    unit: UnitPeriod,
) -> Result<Location, AprError> {
    locate_in_series(first_advance, date, unit, 31)
}

/// As [`locate`], for a flow in a series scheduled on `series_day` of each month: (b)(3)(iv)
/// measures months from a date to the same date in another month, and a series on the
/// 29th–31st uses the month's last day where the month is shorter. So a payment on Feb 28
/// in a series on the 30th counts back to Jan 30, and one in a series on the 28th to Jan 28.
pub fn locate_in_series(
    first_advance: BusinessDate,
    date: BusinessDate,
    unit: UnitPeriod,
    series_day: u32,
) -> Result<Location, AprError> {
    if date < first_advance {
        return Err(AprError::BeforeFirstAdvance {
            date,
            first_advance,
        });
    }
    // Only a month-end date can stand for a later nominal day; any other date is its own.
    let anchor_day = if date.is_last_day_of_month() {
        series_day.clamp(date.day(), 31)
    } else {
        date.day()
    };
    let months_back = |step_months| months_back(first_advance, date, anchor_day, step_months);
    Ok(match unit.checked()? {
        UnitPeriod::Months(1) => {
            // (b)(5)(ii): full months back from the later date, remaining days / 30.
            let (months, odd_days) = months_back(1);
            location(months, odd_days, 30)
        }
        UnitPeriod::Months(12) => year_location(first_advance, date, anchor_day),
        UnitPeriod::SemiMonth => thirty_day_month_location(months_back(1), 15),
        UnitPeriod::Months(n) => thirty_day_month_location(months_back(1), 30 * i64::from(n)),
        UnitPeriod::Day => location(to_u32(first_advance.days_until(date)), 0, 1),
        UnitPeriod::Weeks(n) => days_location(first_advance, date, 7 * i64::from(n)),
        UnitPeriod::Days(n) => days_location(first_advance, date, i64::from(n)),
    })
}

/// (b)(5)(iii): for a semimonth or a multiple of a month, the days between the dates are 30
/// times the full months back plus the remaining days, divided by 15 or by 30 per month.
fn thirty_day_month_location((months, odd_days): (u32, i64), days_per_unit: i64) -> Location {
    let days = i64::from(months) * 30 + odd_days;
    location(
        to_u32(days / days_per_unit),
        days % days_per_unit,
        days_per_unit,
    )
}

/// (b)(5)(v): full years (12 months each) back from the later date; what remains is its
/// months / 12 when it is a whole number of months, and its days / 365 when it is not.
fn year_location(start: BusinessDate, date: BusinessDate, anchor_day: u32) -> Location {
    let (months, odd_days) = months_back(start, date, anchor_day, 1);
    let years = months / 12;
    if odd_days == 0 {
        return Location {
            whole_periods: years,
            fraction: Decimal::from(months % 12) / Decimal::from(12),
        };
    }
    let year_point = subtract_months(date, years * 12, anchor_day);
    location(years, start.days_until(year_point), 365)
}

/// The whole number of months from `earlier` to `later` by (b)(3)(iv), if it is one: the
/// same date of another month, or a month end read as the end of a series on a later day
/// (Jan 30 to Feb 28 is a month in a series on the 30th, as Jan 31 to Feb 28 is).
pub(crate) fn whole_months_between(earlier: BusinessDate, later: BusinessDate) -> Option<u32> {
    if later <= earlier {
        return None;
    }
    let mut anchors = vec![later.day()];
    if later.is_last_day_of_month() && earlier.day() > later.day() {
        anchors.push(earlier.day());
    }
    anchors.into_iter().find_map(|anchor| {
        let (months, odd_days) = months_back(earlier, later, anchor, 1);
        (odd_days == 0 && months > 0).then_some(months)
    })
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value).expect("periods between two valid dates fit u32")
}

fn location(whole_periods: u32, odd_days: i64, days_per_unit: i64) -> Location {
    assert!(odd_days >= 0, "odd days are counted forward from the start");
    Location {
        whole_periods,
        fraction: Decimal::from(odd_days) / Decimal::from(days_per_unit),
    }
}

fn days_location(start: BusinessDate, date: BusinessDate, days_per_unit: i64) -> Location {
    let days = start.days_until(date);
    location(
        to_u32(days / days_per_unit),
        days % days_per_unit,
        days_per_unit,
    )
}

/// Largest count of `step_months` steps back from `date` that stays on or after `start`,
/// and the days from `start` to that point.
fn months_back(
    start: BusinessDate,
    date: BusinessDate,
    anchor_day: u32,
    step_months: u32,
) -> (u32, i64) {
    let month_gap = (date.year() - start.year()) * 12 + date.month() as i32 - start.month() as i32;
    let mut steps = to_u32(i64::from(month_gap.max(0)) / i64::from(step_months));
    loop {
        let point = subtract_months(date, steps * step_months, anchor_day);
        if point >= start {
            return (steps, start.days_until(point));
        }
        assert!(
            steps > 0,
            "zero steps back is the date itself, on or after start"
        );
        steps -= 1;
    }
}

/// Month arithmetic of (b)(3)(iv): the anchor day in the earlier month, clamped to its end.
fn subtract_months(date: BusinessDate, months: u32, anchor_day: u32) -> BusinessDate {
    if months == 0 {
        return date;
    }
    let index = date.year() * 12 + date.month() as i32 - 1 - months as i32;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
    let day = anchor_day.min(last_day_of_month(year, month));
    BusinessDate::from_ymd(year, month, day).expect("day clamped into the month")
}

fn last_day_of_month(year: i32, month: u32) -> u32 {
    let first = BusinessDate::from_ymd(year, month, 1).expect("first of month is valid");
    let next = first.add_months(1).expect("within chrono range");
    u32::try_from(first.days_until(next)).expect("a month has 28..=31 days")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apr::apr_percent_unrounded;
    use crate::{Currency, Money};
    use rust_decimal_macros::dec;

    fn d(s: &str) -> BusinessDate {
        s.parse().unwrap()
    }

    fn usd(major: &str) -> Money {
        Money::parse_major(major, Currency::Usd).unwrap()
    }

    fn loc(whole_periods: u32, fraction: Decimal) -> Location {
        Location {
            whole_periods,
            fraction,
        }
    }

    #[test]
    fn locates_by_counting_back_from_the_later_date() {
        let m = UnitPeriod::MONTH;
        assert_eq!(
            locate(d("1978-01-10"), d("1978-02-10"), m),
            Ok(loc(1, dec!(0)))
        );
        // Apr 1 back one month is Mar 1; Feb 10 → Mar 1 leaves 19 odd days.
        let at = locate(d("1978-02-10"), d("1978-04-01"), m).unwrap();
        assert_eq!((at.whole_periods, at.fraction), (1, dec!(19) / dec!(30)));
        // Sep 15 back eight months is Jan 15; Jan 10 → Jan 15 is 5 odd days.
        let at = locate(d("1978-01-10"), d("1978-09-15"), m).unwrap();
        assert_eq!((at.whole_periods, at.fraction), (8, dec!(5) / dec!(30)));
        // Month-end series: Feb 28 back one month is Jan 31.
        assert_eq!(
            locate(d("1978-01-31"), d("1978-02-28"), m),
            Ok(loc(1, dec!(0)))
        );
        assert_eq!(
            locate(d("1978-01-31"), d("1978-04-30"), m),
            Ok(loc(3, dec!(0)))
        );
        // The 15th is not a month end: Mar 15 back one month is Feb 15, before Feb 20.
        let at = locate(d("1978-02-20"), d("1978-03-15"), m).unwrap();
        assert_eq!((at.whole_periods, at.fraction), (0, dec!(23) / dec!(30)));
    }

    #[test]
    fn a_series_on_the_28th_to_30th_counts_back_to_its_own_day() {
        let m = UnitPeriod::MONTH;
        let start = d("2026-01-10");
        // Series on the 30th: Feb 28 and Apr 30 both count back to Jan 30 (20 odd days).
        for (date, months) in [("2026-02-28", 1), ("2026-03-30", 2), ("2026-04-30", 3)] {
            let at = locate_in_series(start, d(date), m, 30).unwrap();
            assert_eq!(at, loc(months, dec!(20) / dec!(30)), "{date}");
        }
        // Series on the 28th: Feb 28 is the 28th, not a month end (18 odd days).
        let at = locate_in_series(start, d("2026-02-28"), m, 28).unwrap();
        assert_eq!(at, loc(1, dec!(18) / dec!(30)));
        // Read alone, Feb 28 is a month end and counts back to Jan 31.
        assert_eq!(
            locate(start, d("2026-02-28"), m).unwrap(),
            loc(1, dec!(21) / dec!(30))
        );
        // apr_percent infers the series day from the payments (the 30th here), so all three
        // payments share the same 20 odd days.
        let advances = [(start, usd("1000.00"))];
        let on_30th: Vec<_> = ["2026-02-28", "2026-03-30", "2026-04-30"]
            .iter()
            .map(|s| (d(s), usd("340.00")))
            .collect();
        // The same shape with no month ends at all: advance on the 5th, pay on the 25th.
        let on_25th: Vec<_> = ["2026-02-25", "2026-03-25", "2026-04-25"]
            .iter()
            .map(|s| (d(s), usd("340.00")))
            .collect();
        assert_eq!(
            apr_percent_unrounded(&advances, &on_30th, m),
            apr_percent_unrounded(&[(d("2026-01-05"), usd("1000.00"))], &on_25th, m)
        );
    }

    #[test]
    fn locates_other_unit_periods() {
        let start = d("2026-01-01");
        assert_eq!(
            locate(start, d("2026-01-18"), UnitPeriod::WEEK).unwrap(),
            loc(2, dec!(3) / dec!(7))
        );
        assert_eq!(
            locate(start, d("2026-01-18"), UnitPeriod::Day).unwrap(),
            loc(17, dec!(0))
        );
        // One month (30 days) plus 20 odd days = 50 days = 3 semi-months and 5/15.
        let at = locate(start, d("2026-02-21"), UnitPeriod::SemiMonth).unwrap();
        assert_eq!(at, loc(3, dec!(5) / dec!(15)));
        let at = locate(start, d("2028-01-31"), UnitPeriod::YEAR).unwrap();
        assert_eq!(at, loc(2, dec!(30) / dec!(365)));
        assert!(matches!(
            locate(start, d("2025-12-31"), UnitPeriod::MONTH),
            Err(AprError::BeforeFirstAdvance { .. })
        ));
        assert_eq!(
            locate(start, d("2026-02-01"), UnitPeriod::Days(0)),
            Err(AprError::BadUnitPeriod(UnitPeriod::Days(0)))
        );
    }
}
