//! Annual percentage rate by the actuarial method of US Regulation Z, Appendix J
//! (12 CFR 1026), plus the periodic IRR form used for China's annualised-rate disclosure
//! (PBOC announcement 2021 No. 3: IRR on the principal actually outstanding).
//!
//! The unit-period is inferred from the dates by (b)(3)–(b)(4) unless the caller names one
//! ([`infer`]); every advance and payment is then located from the first advance as `t` whole
//! unit-periods plus a fraction `f` of one by (b)(5) ([`location`]), and the periodic rate
//! `i` solves the general equation (b)(8):
//! Σ A / ((1 + f·i)(1 + i)^t)  =  Σ P / ((1 + f·i)(1 + i)^t).
//! APR = i × unit-periods per year. The root is found in `Decimal`, bracketed, by Newton
//! steps that fall back to bisection ([`solver`]), so a bad input is an error and never a
//! panic or a silent NaN. [`tolerance`] holds the § 1026.22(a)(2)–(3) accuracy test.
//!
//! The rounded APR of periodic cash flows (what a price quotes) needs no 20-digit root: it
//! is the cent whose two half-cent neighbours give present values of opposite sign. An `f64`
//! estimate picks the cent; each sign is taken from `f64` only where a proven error bound
//! makes it certain, and from `Decimal` otherwise, so the result is the one exact arithmetic
//! gives and never depends on floating-point luck ([`periodic`]).
//!
//! ```
//! use money::apr::{annual_percentage_rate, UnitPeriod};
//! use money::{BusinessDate, Currency, Decimal, Money};
//!
//! let date = |s: &str| s.parse::<BusinessDate>().unwrap();
//! let usd = |s: &str| Money::parse_major(s, Currency::Usd).unwrap();
//! // Appendix J (c)(1)(i): 5,000.00 advanced on 1978-01-10, 24 monthly payments of 230.00.
//! let advances = [(date("1978-01-10"), usd("5000.00"))];
//! let payments: Vec<_> = (0..24)
//!     .map(|k| (date("1978-02-10").add_months(k).unwrap(), usd("230.00")))
//!     .collect();
//! let apr = annual_percentage_rate(&advances, &payments, None).unwrap();
//! assert_eq!(apr.unit_period, UnitPeriod::MONTH);
//! assert_eq!(apr.percent, Decimal::new(969, 2)); // 9.69%
//! ```

mod infer;
mod location;
mod periodic;
mod solver;
mod tolerance;
mod unit_period;

pub use infer::infer_unit_period;
pub use location::{locate, locate_in_series, Location};
pub use periodic::{
    apr_from_periodic_cash_flows, apr_from_periodic_cash_flows_at_most,
    apr_from_periodic_cash_flows_unrounded,
};
pub use tolerance::{
    within_disclosure_tolerance, IRREGULAR_TOLERANCE_PERCENT, REGULAR_TOLERANCE_PERCENT,
};
pub use unit_period::{UnitPeriod, UnitPeriodParseError};

use crate::{BusinessDate, Currency, Money};
use rust_decimal::{Decimal, RoundingStrategy};
use solver::{solve_periodic_rate, Flow};

/// Why no APR could be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AprError {
    #[error("no advances")]
    NoAdvances,
    #[error("no payments")]
    NoPayments,
    #[error("too many cash flows ({0}); the limit is {APR_FLOWS_MAX}")]
    TooManyFlows(usize),
    #[error("cash flow {index} is {amount}, but every advance and payment must be positive")]
    NonPositiveAmount { index: usize, amount: Money },
    #[error("cash flows mix currencies {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("a cash flow on {date} precedes the first advance on {first_advance}")]
    BeforeFirstAdvance {
        date: BusinessDate,
        first_advance: BusinessDate,
    },
    #[error(
        "unit period {0:?} is outside the appendix's range (1–52 weeks, 1–12 months, 2–365 days)"
    )]
    BadUnitPeriod(UnitPeriod),
    #[error("periods per year must be at least 1")]
    BadPeriodsPerYear,
    #[error("the payments never repay the advances at any non-negative rate")]
    NoSolution,
}

/// A bound on one computation: 50 years of weekly payments fits.
pub const APR_FLOWS_MAX: usize = 4_000;

/// The unit-period of Appendix J (b)(4): normally the most frequent payment interval.
/// An APR and the unit-period it was computed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Apr {
    /// Rounded half-up to two decimals, e.g. 9.69.
    pub percent: Decimal,
    pub percent_unrounded: Decimal,
    pub unit_period: UnitPeriod,
}

/// The APR of these advances and payments with `unit_period`, or with the unit-period
/// Appendix J (b)(4) infers from their dates when it is `None`.
pub fn annual_percentage_rate(
    advances: &[(BusinessDate, Money)],
    payments: &[(BusinessDate, Money)],
    unit_period: Option<UnitPeriod>,
) -> Result<Apr, AprError> {
    check_flows(advances, payments)?;
    let unit = match unit_period {
        Some(unit) => unit.checked()?,
        None => infer_unit_period(advances, payments)?,
    };
    let percent_unrounded = apr_percent_unrounded(advances, payments, unit)?;
    Ok(Apr {
        percent: round_percent(percent_unrounded),
        percent_unrounded,
        unit_period: unit,
    })
}

/// The APR in percent, unrounded, of advances and payments located by `unit`.
pub fn apr_percent_unrounded(
    advances: &[(BusinessDate, Money)],
    payments: &[(BusinessDate, Money)],
    unit: UnitPeriod,
) -> Result<Decimal, AprError> {
    let mut flows = dated_flows(advances, payments, unit)?;
    let periodic_rate = solve_periodic_rate(&mut flows)?;
    Ok(periodic_rate * unit.periods_per_year()? * Decimal::ONE_HUNDRED)
}

/// The APR in percent, rounded half-up to two decimals (e.g. 9.69).
pub fn apr_percent(
    advances: &[(BusinessDate, Money)],
    payments: &[(BusinessDate, Money)],
    unit: UnitPeriod,
) -> Result<Decimal, AprError> {
    apr_percent_unrounded(advances, payments, unit).map(round_percent)
}

pub(crate) fn round_percent(percent: Decimal) -> Decimal {
    percent.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}
pub(crate) fn check_amounts(
    amounts: &[Money],
    empty: AprError,
    index_offset: usize,
    zero_allowed: bool,
) -> Result<(), AprError> {
    if amounts.is_empty() {
        return Err(empty);
    }
    if amounts.len() > APR_FLOWS_MAX {
        return Err(AprError::TooManyFlows(amounts.len()));
    }
    for (index, &amount) in amounts.iter().enumerate() {
        if amount.is_negative() || (amount.is_zero() && !zero_allowed) {
            return Err(AprError::NonPositiveAmount {
                index: index + index_offset,
                amount,
            });
        }
    }
    Ok(())
}

pub(crate) fn same_currency(
    first: Money,
    rest: impl Iterator<Item = Money>,
) -> Result<(), AprError> {
    for other in rest {
        if other.currency() != first.currency() {
            return Err(AprError::CurrencyMismatch(
                first.currency(),
                other.currency(),
            ));
        }
    }
    Ok(())
}

/// Amounts positive, at most [`APR_FLOWS_MAX`] of each, one currency.
fn check_flows(
    advances: &[(BusinessDate, Money)],
    payments: &[(BusinessDate, Money)],
) -> Result<(), AprError> {
    let advance_amounts: Vec<Money> = advances.iter().map(|&(_, m)| m).collect();
    let payment_amounts: Vec<Money> = payments.iter().map(|&(_, m)| m).collect();
    check_amounts(&advance_amounts, AprError::NoAdvances, 0, false)?;
    check_amounts(
        &payment_amounts,
        AprError::NoPayments,
        advances.len(),
        false,
    )?;
    same_currency(
        advance_amounts[0],
        advance_amounts.iter().chain(&payment_amounts).copied(),
    )
}

fn dated_flows(
    advances: &[(BusinessDate, Money)],
    payments: &[(BusinessDate, Money)],
    unit: UnitPeriod,
) -> Result<Vec<Flow>, AprError> {
    check_flows(advances, payments)?;
    // (b)(2): the term begins on the date of the first advance.
    let first_advance = advances.iter().map(|&(d, _)| d).min().expect("non-empty");
    let series_day = |flows: &[(BusinessDate, Money)]| flows.iter().map(|(d, _)| d.day()).max();
    let advance_day = series_day(advances).expect("non-empty");
    let payment_day = series_day(payments).expect("non-empty");
    let mut flows = Vec::with_capacity(advances.len() + payments.len());
    for &(date, amount) in advances {
        let at = locate_in_series(first_advance, date, unit, advance_day)?;
        flows.push(Flow {
            at,
            amount_minor: -amount.amount_minor(),
        });
    }
    for &(date, amount) in payments {
        let at = locate_in_series(first_advance, date, unit, payment_day)?;
        flows.push(Flow {
            at,
            amount_minor: amount.amount_minor(),
        });
    }
    Ok(flows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> BusinessDate {
        s.parse().unwrap()
    }

    fn usd(major: &str) -> Money {
        Money::parse_major(major, Currency::Usd).unwrap()
    }

    fn monthly_series(first: &str, count: u32, amount: &str) -> Vec<(BusinessDate, Money)> {
        (0..count)
            .map(|k| (d(first).add_months(k).unwrap(), usd(amount)))
            .collect()
    }

    fn cny(amount_minor: i64) -> Money {
        Money::from_minor(amount_minor, Currency::Cny)
    }

    #[test]
    fn appendix_j_regular_monthly_payments() {
        let advances = [(d("1978-01-10"), usd("5000.00"))];
        let payments = monthly_series("1978-02-10", 24, "230.00");
        assert_eq!(
            apr_percent(&advances, &payments, UnitPeriod::MONTH),
            Ok(dec!(9.69))
        );
    }

    #[test]
    fn appendix_j_long_odd_first_period() {
        let advances = [(d("1978-02-10"), usd("6000.00"))];
        let payments = monthly_series("1978-04-01", 36, "200.00");
        assert_eq!(
            apr_percent(&advances, &payments, UnitPeriod::MONTH),
            Ok(dec!(11.82))
        );
    }

    #[test]
    fn appendix_j_odd_first_payment() {
        let advances = [(d("1978-01-10"), usd("5000.00"))];
        let mut payments = vec![(d("1978-02-10"), usd("250.00"))];
        payments.extend(monthly_series("1978-03-10", 23, "230.00"));
        assert_eq!(
            apr_percent(&advances, &payments, UnitPeriod::MONTH),
            Ok(dec!(10.08))
        );
    }

    #[test]
    fn appendix_j_single_advance_single_payment() {
        let (advance, payment) = (d("1978-01-03"), d("1978-09-15"));
        let unit = UnitPeriod::single_payment_term(advance, payment);
        assert_eq!(unit, UnitPeriod::Days(255));
        let apr = apr_percent(
            &[(advance, usd("1000.00"))],
            &[(payment, usd("1080.00"))],
            unit,
        );
        assert_eq!(apr, Ok(dec!(11.45)));
        // The term is never longer than a year.
        assert_eq!(
            UnitPeriod::single_payment_term(advance, d("1979-06-01")),
            UnitPeriod::YEAR
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let a = [(d("2026-01-01"), cny(1000))];
        let p = [(d("2026-02-01"), cny(1100))];
        let m = UnitPeriod::MONTH;
        assert_eq!(apr_percent(&[], &p, m), Err(AprError::NoAdvances));
        assert_eq!(apr_percent(&a, &[], m), Err(AprError::NoPayments));
        let short = [(d("2026-02-01"), cny(999))];
        assert_eq!(apr_percent(&a, &short, m), Err(AprError::NoSolution));
        let early = [(d("2025-12-01"), cny(1100))];
        assert!(matches!(
            apr_percent(&a, &early, m),
            Err(AprError::BeforeFirstAdvance { .. })
        ));
        let zero = [(d("2026-02-01"), cny(0))];
        assert!(matches!(
            apr_percent(&a, &zero, m),
            Err(AprError::NonPositiveAmount { index: 1, .. })
        ));
        let usd_pay = [(d("2026-02-01"), Money::from_minor(1100, Currency::Usd))];
        assert!(matches!(
            apr_percent(&a, &usd_pay, m),
            Err(AprError::CurrencyMismatch(..))
        ));
        // 1 fen back on 1 yuan after one month is over 1000% a month: refused, not looped on.
        let usurious = [(d("2026-02-01"), cny(100_000))];
        assert_eq!(
            apr_percent(&[(d("2026-01-01"), cny(1))], &usurious, m),
            Err(AprError::NoSolution)
        );
        assert_eq!(
            apr_from_periodic_cash_flows(cny(100), &[cny(50)], 12),
            Err(AprError::NoSolution)
        );
        assert_eq!(
            apr_from_periodic_cash_flows(cny(100), &[cny(101)], 0),
            Err(AprError::BadPeriodsPerYear)
        );
        assert_eq!(
            apr_from_periodic_cash_flows(cny(100), &[], 12),
            Err(AprError::NoPayments)
        );
    }
}
