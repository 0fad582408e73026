//! Which unit-period a transaction uses, by Appendix J (b)(3) and (b)(4), from its dates.
//!
//! (b)(3)(i): a period is the interval between advances or between payments, including the
//! one from the start of the term to the first payment. (b)(3)(ii): a common period occurs
//! more than once. (b)(4)(i): the unit-period is the common period, not over a year, that
//! occurs most often; (A) of two equally frequent, the smaller; (B) with none, the average
//! of all periods rounded to the nearest standard interval, the lower when equally near.
//! (b)(4)(ii): a single-advance, single-payment transaction uses its term, up to a year.

use super::location::whole_months_between;
use super::{AprError, UnitPeriod};
use crate::{BusinessDate, Decimal, Money};

/// The unit-period of Appendix J (b)(4) for these advances and payments.
pub fn infer_unit_period(
    advances: &[(BusinessDate, Money)],
    payments: &[(BusinessDate, Money)],
) -> Result<UnitPeriod, AprError> {
    let start = advances
        .iter()
        .map(|&(d, _)| d)
        .min()
        .ok_or(AprError::NoAdvances)?;
    let first_payment = payments
        .iter()
        .map(|&(d, _)| d)
        .min()
        .ok_or(AprError::NoPayments)?;
    if first_payment < start {
        return Err(AprError::BeforeFirstAdvance {
            date: first_payment,
            first_advance: start,
        });
    }
    if let ([(advance, _)], [(payment, _)]) = (advances, payments) {
        return Ok(UnitPeriod::single_payment_term(*advance, *payment));
    }
    Ok(unit_period_of(&periods(start, advances, payments)))
}

/// Every period of (b)(3)(i) as (earlier date, later date), zero-length ones left out.
fn periods(
    start: BusinessDate,
    advances: &[(BusinessDate, Money)],
    payments: &[(BusinessDate, Money)],
) -> Vec<(BusinessDate, BusinessDate)> {
    let sorted_dates = |flows: &[(BusinessDate, Money)]| {
        let mut dates: Vec<BusinessDate> = flows.iter().map(|&(d, _)| d).collect();
        dates.sort();
        dates.dedup();
        dates
    };
    let advance_dates = sorted_dates(advances);
    let payment_dates = sorted_dates(payments);
    let mut periods: Vec<(BusinessDate, BusinessDate)> =
        advance_dates.windows(2).map(|w| (w[0], w[1])).collect();
    periods.push((start, payment_dates[0]));
    periods.extend(payment_dates.windows(2).map(|w| (w[0], w[1])));
    periods.retain(|(from, to)| from < to);
    periods
}

/// The unit-period (b)(4)(i) picks from these periods.
fn unit_period_of(periods: &[(BusinessDate, BusinessDate)]) -> UnitPeriod {
    let mut counts: Vec<(UnitPeriod, usize)> = Vec::new();
    for &(from, to) in periods {
        for interval in intervals(from, to) {
            match counts.iter_mut().find(|(u, _)| *u == interval) {
                Some((_, n)) => *n += 1,
                None => counts.push((interval, 1)),
            }
        }
    }
    // Most frequent first; of equally frequent ones, the smaller ((b)(4)(i)(A)).
    let most_common = counts
        .into_iter()
        .filter(|&(_, n)| n >= 2)
        .min_by(|(a, na), (b, nb)| nb.cmp(na).then(a.nominal_days().cmp(&b.nominal_days())));
    match most_common {
        Some((unit, _)) => unit,
        None => nearest_standard_interval(average_days(periods)),
    }
}

/// What one period measures as: each standard interval it equals exactly (Feb 1 to Mar 1 is
/// both a month and four weeks; 14 days are two weeks and may be a semimonth), or, when it
/// equals none, its own length in days (up to a year), so a period that recurs but is no
/// standard interval can still be the common one.
fn intervals(from: BusinessDate, to: BusinessDate) -> Vec<UnitPeriod> {
    let days = from.days_until(to);
    let mut out = Vec::new();
    if days == 1 {
        out.push(UnitPeriod::Day);
    }
    if days % 7 == 0 && (1..=52).contains(&(days / 7)) {
        out.push(UnitPeriod::Weeks(whole(days / 7)));
    }
    // A semimonth runs from 13 days (Feb 15 to Feb 28) to 17 (Dec 15 to Jan 1).
    if (13..=17).contains(&days) {
        out.push(UnitPeriod::SemiMonth);
    }
    if let Some(months) = whole_months_between(from, to).filter(|m| *m <= 12) {
        out.push(UnitPeriod::Months(months));
    }
    if out.is_empty() && (2..=365).contains(&days) {
        out.push(UnitPeriod::Days(whole(days)));
    }
    out
}

fn whole(count: i64) -> u32 {
    u32::try_from(count).expect("a count within a year fits u32")
}

fn average_days(periods: &[(BusinessDate, BusinessDate)]) -> Decimal {
    assert!(
        !periods.is_empty(),
        "the term to the first payment is a period"
    );
    let total: i64 = periods.iter().map(|(a, b)| a.days_until(*b)).sum();
    Decimal::from(total) / Decimal::from(periods.len())
}

/// (b)(4)(i)(B): the standard interval nearest `days`, the lower of two equally near.
fn nearest_standard_interval(days: Decimal) -> UnitPeriod {
    UnitPeriod::standard_intervals()
        .min_by_key(|u| (u.nominal_days() - days).abs())
        .expect("there are standard intervals")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn d(s: &str) -> BusinessDate {
        s.parse().unwrap()
    }

    fn flows(dates: &[&str]) -> Vec<(BusinessDate, Money)> {
        dates
            .iter()
            .map(|s| (d(s), Money::from_minor(100, Currency::Usd)))
            .collect()
    }

    fn every(first: &str, days: i64, count: i64) -> Vec<(BusinessDate, Money)> {
        (0..count)
            .map(|k| {
                let date = d(first).add_days(days * k).unwrap();
                (date, Money::from_minor(100, Currency::Usd))
            })
            .collect()
    }

    fn infer(advances: &[&str], payments: &[(BusinessDate, Money)]) -> UnitPeriod {
        infer_unit_period(&flows(advances), payments).unwrap()
    }

    #[test]
    fn the_most_frequent_common_period_is_the_unit_period() {
        let monthly = flows(&["2026-02-10", "2026-03-10", "2026-04-10", "2026-05-10"]);
        assert_eq!(infer(&["2026-01-10"], &monthly), UnitPeriod::MONTH);
        assert_eq!(
            infer(&["2026-01-10"], &every("2026-01-17", 7, 10)),
            UnitPeriod::WEEK
        );
        assert_eq!(
            infer(&["2026-01-10"], &every("2026-01-30", 28, 10)),
            UnitPeriod::Weeks(4)
        );
        assert_eq!(
            infer(&["2026-01-10"], &every("2026-01-20", 10, 10)),
            UnitPeriod::Days(10)
        );
        let daily = every("2026-01-11", 1, 30);
        assert_eq!(infer(&["2026-01-10"], &daily), UnitPeriod::Day);
        let quarterly = flows(&["2026-04-01", "2026-07-01", "2026-10-01", "2027-01-01"]);
        assert_eq!(infer(&["2026-01-20"], &quarterly), UnitPeriod::QUARTER);
        let annual = flows(&["2027-01-01", "2028-01-01", "2029-01-01"]);
        assert_eq!(infer(&["2026-01-01"], &annual), UnitPeriod::YEAR);
    }

    #[test]
    fn month_end_and_29th_to_30th_series_are_months() {
        let month_ends = flows(&["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]);
        assert_eq!(infer(&["2026-01-05"], &month_ends), UnitPeriod::MONTH);
        let on_30th = flows(&["2026-01-30", "2026-02-28", "2026-03-30", "2026-04-30"]);
        assert_eq!(infer(&["2026-01-05"], &on_30th), UnitPeriod::MONTH);
    }

    #[test]
    fn ties_go_to_the_smaller_period() {
        // Every 14 days is two weeks and also a semimonth: the smaller, two weeks, wins.
        assert_eq!(
            infer(&["2026-01-10"], &every("2026-01-24", 14, 10)),
            UnitPeriod::Weeks(2)
        );
        // Two monthly periods and two two-monthly ones: the month.
        let mixed = flows(&[
            "2026-01-20",
            "2026-02-20",
            "2026-03-20",
            "2026-05-20",
            "2026-07-20",
        ]);
        assert_eq!(infer(&["2026-01-01"], &mixed), UnitPeriod::MONTH);
        // Semimonthly on the 1st and 15th: every period is a semimonth, only some are 14 days.
        let semi = flows(&[
            "2026-02-01",
            "2026-02-15",
            "2026-03-01",
            "2026-03-15",
            "2026-04-01",
            "2026-04-15",
        ]);
        assert_eq!(infer(&["2026-01-20"], &semi), UnitPeriod::SemiMonth);
    }

    #[test]
    fn without_a_common_period_the_average_is_rounded_to_a_standard_interval() {
        // Periods of 40 and 20 days average 30: nearer a month (30.4) than four weeks.
        let two = flows(&["2026-02-10", "2026-03-02"]);
        assert_eq!(infer(&["2026-01-01"], &two), UnitPeriod::MONTH);
        // 10 and 12 days average 11: between a week (7) and two weeks (14), nearer 14.
        let short = flows(&["2026-01-11", "2026-01-23"]);
        assert_eq!(infer(&["2026-01-01"], &short), UnitPeriod::Weeks(2));
        // 3 and 4 days average 3.5: a day is 2.5 away, a week 3.5.
        let tiny = flows(&["2026-01-04", "2026-01-08"]);
        assert_eq!(infer(&["2026-01-01"], &tiny), UnitPeriod::Day);
        // 4 and 6 days average 5: a day is 4 away, a week 2.
        let five = flows(&["2026-01-05", "2026-01-11"]);
        assert_eq!(infer(&["2026-01-01"], &five), UnitPeriod::WEEK);
        // Exactly halfway, 10.5 days between a week and two weeks: the lower, a week.
        let half = flows(&["2026-01-11", "2026-01-22"]);
        assert_eq!(infer(&["2026-01-01"], &half), UnitPeriod::WEEK);
    }

    #[test]
    fn a_single_advance_and_payment_uses_the_term_and_bad_input_is_an_error() {
        let one = flows(&["1978-09-15"]);
        assert_eq!(infer(&["1978-01-03"], &one), UnitPeriod::Days(255));
        assert_eq!(infer_unit_period(&[], &one), Err(AprError::NoAdvances));
        assert_eq!(
            infer_unit_period(&flows(&["1978-01-03"]), &[]),
            Err(AprError::NoPayments)
        );
        assert!(matches!(
            infer_unit_period(&flows(&["1978-10-01"]), &one),
            Err(AprError::BeforeFirstAdvance { .. })
        ));
    }

    #[test]
    fn periods_between_advances_count_too() {
        // Four monthly advances and two payments a week apart: the advances' month wins.
        let advances = ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"];
        let payments = flows(&["2026-06-01", "2026-06-08"]);
        assert_eq!(infer(&advances, &payments), UnitPeriod::MONTH);
    }
}
