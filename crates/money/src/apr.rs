//! Annual percentage rate by the actuarial method of US Regulation Z, Appendix J
//! (12 CFR 1026), plus the periodic IRR form used for China's annualised-rate disclosure
//! (PBOC announcement 2021 No. 3: IRR on the principal actually outstanding).
//!
//! Every advance and payment is located from the first advance as `t` whole unit-periods
//! plus a fraction `f` of a unit-period, and the periodic rate `i` solves the general
//! equation (b)(8):  Σ A / ((1 + f·i)(1 + i)^t)  =  Σ P / ((1 + f·i)(1 + i)^t).
//! APR = i × unit-periods per year. The root is found in `Decimal`, bracketed, by Newton
//! steps that fall back to bisection, so a bad input is an error and never a panic or a
//! silent NaN.
//!
//! The rounded APR of periodic cash flows (what a price quotes) needs no 20-digit root: it
//! is the cent whose two half-cent neighbours give present values of opposite sign. An `f64`
//! estimate picks the cent; each sign is taken from `f64` only where a proven error bound
//! makes it certain, and from `Decimal` otherwise, so the result is the one exact arithmetic
//! gives and never depends on floating-point luck.
//!
//! ```
//! use money::{apr_percent, BusinessDate, Currency, Decimal, Money, UnitPeriod};
//!
//! let date = |s: &str| s.parse::<BusinessDate>().unwrap();
//! let usd = |s: &str| Money::parse_major(s, Currency::Usd).unwrap();
//! // Appendix J: 5,000.00 advanced on 1978-01-10, 24 monthly payments of 230.00.
//! let advances = [(date("1978-01-10"), usd("5000.00"))];
//! let payments: Vec<_> = (0..24)
//!     .map(|k| (date("1978-02-10").add_months(k).unwrap(), usd("230.00")))
//!     .collect();
//! let apr = apr_percent(&advances, &payments, UnitPeriod::Month).unwrap();
//! assert_eq!(apr, Decimal::new(969, 2)); // 9.69%
//! ```

use crate::{BusinessDate, Currency, Money};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, MathematicalOps, RoundingStrategy};

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
    #[error("unit period of {0} days is outside 1..=365")]
    BadUnitPeriod(u32),
    #[error("periods per year must be at least 1")]
    BadPeriodsPerYear,
    #[error("the payments never repay the advances at any non-negative rate")]
    NoSolution,
}

/// A bound on one computation: 50 years of weekly payments fits.
pub const APR_FLOWS_MAX: usize = 4_000;

/// The unit-period of Appendix J (b)(4): normally the most frequent payment interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnitPeriod {
    Day,
    Week,
    SemiMonth,
    Month,
    Year,
    /// A unit-period of N days (e.g. 14 for fortnightly, or a single-payment term).
    Days(u32),
}

impl UnitPeriod {
    /// Unit-periods in a year: 12 months, 24 semi-months, 52 weeks, 365 days, 365/N.
    pub fn periods_per_year(self) -> Result<Decimal, AprError> {
        Ok(match self {
            UnitPeriod::Day => Decimal::from(365),
            UnitPeriod::Week => Decimal::from(52),
            UnitPeriod::SemiMonth => Decimal::from(24),
            UnitPeriod::Month => Decimal::from(12),
            UnitPeriod::Year => Decimal::ONE,
            UnitPeriod::Days(days) => {
                if !(1..=365).contains(&days) {
                    return Err(AprError::BadUnitPeriod(days));
                }
                Decimal::from(365) / Decimal::from(days)
            }
        })
    }

    /// Appendix J (b)(4)(iii): a single-advance, single-payment transaction uses its term as
    /// the unit-period, but never more than a year.
    pub fn single_payment_term(advance: BusinessDate, payment: BusinessDate) -> UnitPeriod {
        let days = advance.days_until(payment);
        match u32::try_from(days) {
            Ok(days) if (1..365).contains(&days) => UnitPeriod::Days(days),
            _ => UnitPeriod::Year,
        }
    }
}

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

/// As [`locate`], for a flow in a series scheduled on `series_day` of each month: (b)(3)
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
    Ok(match unit {
        UnitPeriod::Month => {
            let (months, odd_days) = months_back(1);
            // (b)(5)(iv): odd days in a monthly unit-period are days / 30.
            location(months, odd_days, 30)
        }
        UnitPeriod::Year => {
            let (years, odd_days) = months_back(12);
            location(years, odd_days, 365)
        }
        UnitPeriod::SemiMonth => {
            // Full months count 30 days each, so two semi-months of 15 days.
            let (months, odd_days) = months_back(1);
            let days = i64::from(months) * 30 + odd_days;
            location(to_u32(days / 15), days % 15, 15)
        }
        UnitPeriod::Day => location(to_u32(first_advance.days_until(date)), 0, 1),
        UnitPeriod::Week => days_location(first_advance, date, 7),
        UnitPeriod::Days(n) => {
            unit.periods_per_year()?;
            days_location(first_advance, date, i64::from(n))
        }
    })
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value).expect("periods between two valid dates fit u32")
}

fn location(whole_periods: u32, odd_days: i64, days_per_unit: i64) -> Location {
    debug_assert!(odd_days >= 0);
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

/// Month arithmetic of (b)(3): the anchor day in the earlier month, clamped to its end.
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

/// A located cash flow: positive for a payment, negative for an advance.
#[derive(Clone, Copy, Debug)]
struct Flow {
    at: Location,
    amount_minor: i64,
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

fn round_percent(percent: Decimal) -> Decimal {
    percent.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Nominal annual rate in percent, unrounded, for `principal` paid out at period 0 and
/// `payments_per_period[k]` received at the end of period k + 1 (a zero payment is allowed
/// for a period with nothing due).
pub fn apr_from_periodic_cash_flows_unrounded(
    principal: Money,
    payments_per_period: &[Money],
    periods_per_year: u32,
) -> Result<Decimal, AprError> {
    check_periodic(principal, payments_per_period, periods_per_year)?;
    let mut flows = vec![Flow {
        at: whole(0),
        amount_minor: -principal.amount_minor(),
    }];
    for (index, payment) in payments_per_period.iter().enumerate() {
        flows.push(Flow {
            at: whole(to_u32(index as i64 + 1)),
            amount_minor: payment.amount_minor(),
        });
    }
    let periodic_rate = solve_periodic_rate(&mut flows)?;
    Ok(periodic_rate * Decimal::from(periods_per_year) * Decimal::ONE_HUNDRED)
}

/// As [`apr_from_periodic_cash_flows_unrounded`], rounded half-up to two decimals.
///
/// Only the rounded value is wanted, so the root is not polished to 20 digits: an estimate
/// names a candidate cent, and the sign of the net present value at the two rates where the
/// rounding changes (cent ± ½) proves it, in `Decimal`. One lender's advance followed by
/// payments makes the present value strictly decreasing in the rate, so two signs settle
/// which cent the root rounds to. Inputs the estimate cannot place go to the full solver.
pub fn apr_from_periodic_cash_flows(
    principal: Money,
    payments_per_period: &[Money],
    periods_per_year: u32,
) -> Result<Decimal, AprError> {
    check_periodic(principal, payments_per_period, periods_per_year)?;
    if let Some(apr) = periodic_apr_cents(principal, payments_per_period, periods_per_year) {
        return Ok(apr);
    }
    apr_from_periodic_cash_flows_unrounded(principal, payments_per_period, periods_per_year)
        .map(round_percent)
}

/// Whether [`apr_from_periodic_cash_flows`] would return at most `cap_percent`, with the same
/// errors, from the sign of one or two present values instead of a solve: the rounded APR is
/// at most the cap exactly when the unrounded one is below the cap (floored to a cent) plus
/// half a cent.
pub fn apr_from_periodic_cash_flows_at_most(
    principal: Money,
    payments_per_period: &[Money],
    periods_per_year: u32,
    cap_percent: Decimal,
) -> Result<bool, AprError> {
    check_periodic(principal, payments_per_period, periods_per_year)?;
    let undiscounted = undiscounted_gain_minor(principal, payments_per_period);
    if undiscounted < 0 {
        return Err(AprError::NoSolution);
    }
    if undiscounted == 0 {
        return Ok(cap_percent >= Decimal::ZERO);
    }
    if cap_percent < Decimal::ZERO {
        return Ok(false);
    }
    // Beyond 10^13 percent every boundary is past the ceiling, for any periods per year.
    let cap_cents = cap_percent
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|c| c.floor().to_i64())
        .map_or(CAP_CENTS_MAX, |c| c.min(CAP_CENTS_MAX));
    let negative = |thousandths| {
        present_value_negative(
            principal,
            payments_per_period,
            thousandths,
            periods_per_year,
        )
    };
    let ceiling = ceiling_thousandths(periods_per_year);
    let boundary = cap_cents * 10 + 5;
    if boundary < ceiling && negative(boundary) {
        return Ok(true);
    }
    // The full solver gives up when even the ceiling leaves value on the table.
    if !negative(ceiling) {
        return Err(AprError::NoSolution);
    }
    Ok(boundary >= ceiling)
}

/// [`RATE_PER_PERIOD_CEILING`] as thousandths of a percent a year (at most 6.9e15).
fn ceiling_thousandths(periods_per_year: u32) -> i64 {
    RATE_PER_PERIOD_CEILING * 100 * 1000 * i64::from(periods_per_year)
}

fn check_periodic(
    principal: Money,
    payments_per_period: &[Money],
    periods_per_year: u32,
) -> Result<(), AprError> {
    if periods_per_year == 0 {
        return Err(AprError::BadPeriodsPerYear);
    }
    check_amounts(&[principal], AprError::NoAdvances, 0, false)?;
    check_amounts(payments_per_period, AprError::NoPayments, 1, true)?;
    same_currency(principal, payments_per_period.iter().copied())
}

/// Payments minus principal, exactly (at most 4,000 flows of `i64` fit `i128`).
fn undiscounted_gain_minor(principal: Money, payments: &[Money]) -> i128 {
    let paid: i128 = payments.iter().map(|p| i128::from(p.amount_minor())).sum();
    paid - i128::from(principal.amount_minor())
}

/// An annual percent in thousandths (24.005% is 24,005) → rate per period.
fn periodic_rate(percent_thousandths: i64, periods_per_year: u32) -> Decimal {
    Decimal::new(percent_thousandths, 3) / (Decimal::ONE_HUNDRED * Decimal::from(periods_per_year))
}

/// Whether the present value is negative at the periodic rate of `percent_thousandths` a
/// year, i.e. whether the APR is below that rate. `f64` answers when its error bound
/// proves the sign; otherwise (within about 1e-12 of the rate, or amounts too large for
/// `f64` to hold exactly) `Decimal` decides.
fn present_value_negative(
    principal: Money,
    payments: &[Money],
    percent_thousandths: i64,
    periods_per_year: u32,
) -> bool {
    present_value_negative_f64(principal, payments, percent_thousandths, periods_per_year)
        .unwrap_or_else(|| {
            let rate = periodic_rate(percent_thousandths, periods_per_year);
            periodic_npv(principal, payments, rate) < Decimal::ZERO
        })
}

/// The sign of [`periodic_npv`] computed in `f64`, or `None` when the value is too close to
/// zero for that sign to be certain.
///
/// Error bound (u = 2^-53, n payments): every amount is exact in `f64`; the rate comes from
/// two divisions (relative error ≤ 2u) and the discount factor `v` from an addition and a
/// division, so `v` is within 4.02u of the `Decimal` one. Each payment's term `a·v^k` goes
/// through at most 2k roundings and k factors of `v`: relative error ≤ 6.02·k·u. All terms
/// are non-negative and `v ≤ 1`, so the sum is within 6.02·n·u of the exact one times the
/// total paid; subtracting the principal adds u of the larger side, and the `Decimal` value
/// itself is within ~1e-27 relative. The bound used, 32·(n + 2)·u·(paid + principal), is
/// five times that; a value beyond it has the sign the `Decimal` value has.
fn present_value_negative_f64(
    principal: Money,
    payments: &[Money],
    percent_thousandths: i64,
    periods_per_year: u32,
) -> Option<bool> {
    const EXACT_MAX: i64 = 1 << 53;
    let principal = principal.amount_minor();
    if !(0..EXACT_MAX).contains(&percent_thousandths) || principal >= EXACT_MAX {
        return None;
    }
    // 1000 and 100 × periods per year (< 2^39) are exact: two roundings.
    let rate = percent_thousandths as f64 / 1000.0 / (100.0 * f64::from(periods_per_year));
    let discount = 1.0 / (1.0 + rate);
    let (mut value, mut paid) = (0.0f64, 0.0f64);
    for payment in payments.iter().rev() {
        let amount = payment.amount_minor();
        if amount >= EXACT_MAX {
            return None;
        }
        value = (value + amount as f64) * discount;
        paid += amount as f64;
    }
    let npv = value - principal as f64;
    let bound = 16.0 * f64::EPSILON * (payments.len() as f64 + 2.0) * (paid + principal as f64);
    if npv < -bound {
        Some(true)
    } else if npv > bound {
        Some(false)
    } else {
        None
    }
}

/// Net present value at a non-negative periodic `rate` of `principal` out at period 0 and
/// `payments[k]` in at period k + 1, by Horner's rule: one multiplication and one addition
/// per payment and a single division. Every partial sum is at most the total paid, so
/// nothing overflows, and the rounding error (about 1e-19 of the total) is far below what
/// one cent of APR moves the value.
fn periodic_npv(principal: Money, payments: &[Money], rate: Decimal) -> Decimal {
    debug_assert!(rate >= Decimal::ZERO);
    let discount = Decimal::ONE / (Decimal::ONE + rate);
    let mut value = Decimal::ZERO;
    for payment in payments.iter().rev() {
        value = (value + Decimal::from(payment.amount_minor())) * discount;
    }
    value - Decimal::from(principal.amount_minor())
}

/// The rounded APR proved by present-value signs around an estimated cent; `None` when the
/// estimate is unusable (no gain, or a rate beyond [`ESTIMATE_RATE_MAX`]) or misses by more
/// than a few cents, which leaves the input to the full solver.
fn periodic_apr_cents(
    principal: Money,
    payments: &[Money],
    periods_per_year: u32,
) -> Option<Decimal> {
    if undiscounted_gain_minor(principal, payments) <= 0 {
        return None;
    }
    let estimate = periodic_rate_estimate(principal, payments)?;
    // Below 8 × u32::MAX × 100 percent: the cents and ten times them fit i64.
    let mut cents = (estimate * f64::from(periods_per_year) * 100.0 * 100.0).round() as i64;
    let negative =
        |thousandths| present_value_negative(principal, payments, thousandths, periods_per_year);
    for _ in 0..ESTIMATE_MISS_CENTS_MAX {
        // The APR rounds to `cents` when it lies in [cents − ½, cents + ½) hundredths.
        if cents > 0 && negative(cents * 10 - 5) {
            cents -= 1;
            continue;
        }
        if !negative(cents * 10 + 5) {
            cents += 1;
            continue;
        }
        return Some(Decimal::new(cents, 2));
    }
    None
}

/// Periodic rates the estimate is trusted for; above it the full solver decides, with its
/// own bracket and its own `NoSolution`.
const ESTIMATE_RATE_MAX: f64 = 8.0;
/// A converged estimate is off by far less than a cent; more misses than this mean it did
/// not converge.
const ESTIMATE_MISS_CENTS_MAX: usize = 4;

/// Newton's method in `f64` from a simple-interest guess: only a guess of which cent to
/// test, so its rounding never reaches the result. The present value is convex and
/// decreasing in the rate, so after at most one step past the root Newton approaches it
/// from above and never below −1.
fn periodic_rate_estimate(principal: Money, payments: &[Money]) -> Option<f64> {
    let principal = principal.amount_minor() as f64;
    let (mut paid, mut paid_t) = (0.0, 0.0);
    for (k, p) in payments.iter().enumerate() {
        let amount = p.amount_minor() as f64;
        paid += amount;
        paid_t += amount * (k + 1) as f64;
    }
    let mut rate = (paid - principal) / principal / (paid_t / paid);
    for _ in 0..ESTIMATE_STEPS_MAX {
        let discount = 1.0 / (1.0 + rate);
        // h(v) = Σ a_(k+1) v^k and h'(v) together by Horner; the value is v·h(v) − principal.
        let (mut h, mut dh) = (0.0, 0.0);
        for p in payments.iter().rev() {
            dh = dh * discount + h;
            h = h * discount + p.amount_minor() as f64;
        }
        let value = discount * h - principal;
        let slope = -(h + discount * dh) * discount * discount;
        let step = value / slope;
        rate -= step;
        if !rate.is_finite() || rate <= -1.0 {
            return None;
        }
        if step.abs() <= 1e-13 * rate.abs().max(1e-6) {
            break;
        }
    }
    (rate > 0.0 && rate < ESTIMATE_RATE_MAX).then_some(rate)
}

const ESTIMATE_STEPS_MAX: usize = 100;
const CAP_CENTS_MAX: i64 = 1_000_000_000_000_000;

fn whole(periods: u32) -> Location {
    Location {
        whole_periods: periods,
        fraction: Decimal::ZERO,
    }
}

fn check_amounts(
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

fn same_currency(first: Money, rest: impl Iterator<Item = Money>) -> Result<(), AprError> {
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

fn dated_flows(
    advances: &[(BusinessDate, Money)],
    payments: &[(BusinessDate, Money)],
    unit: UnitPeriod,
) -> Result<Vec<Flow>, AprError> {
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
    )?;
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

/// Present value at rate `i` of all flows (payments positive, advances negative) and its
/// derivative in `i`. Flows must be sorted by whole periods.
/// Net gain per unit of money lent per unit-period it was out, time-weighted by amount.
fn simple_interest_guess(flows: &[Flow]) -> Option<Decimal> {
    let (mut paid, mut lent, mut paid_t, mut lent_t) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for f in flows {
        let t = Decimal::from(f.at.whole_periods) + f.at.fraction;
        let amount = Decimal::from(f.amount_minor);
        if f.amount_minor > 0 {
            paid += amount;
            paid_t += amount * t;
        } else {
            lent -= amount;
            lent_t -= amount * t;
        }
    }
    if paid.is_zero() || lent.is_zero() {
        return None;
    }
    let span = paid_t / paid - lent_t / lent;
    (span > Decimal::ZERO).then(|| (paid - lent) / lent / span)
}

fn npv_and_slope(flows: &[Flow], rate: Decimal) -> (Decimal, Decimal) {
    // Discount with v = 1/(1+i) < 1 so powers shrink toward zero and never overflow.
    let discount = Decimal::ONE / (Decimal::ONE + rate);
    let mut power = Decimal::ONE;
    let mut power_periods = 0u32;
    let mut value = Decimal::ZERO;
    let mut slope = Decimal::ZERO;
    for flow in flows {
        let periods = flow.at.whole_periods;
        debug_assert!(periods >= power_periods, "flows are sorted");
        // Sorted flows only ever need the power raised a little further, usually one period.
        power *= discount.powi(i64::from(periods - power_periods));
        power_periods = periods;
        let simple = Decimal::ONE + flow.at.fraction * rate;
        let term = Decimal::from(flow.amount_minor) * power / simple;
        value += term;
        // d/di [v^t / (1 + f·i)] = −v^t/(1 + f·i) · (t·v + f/(1 + f·i)).
        slope -= term * (Decimal::from(periods) * discount + flow.at.fraction / simple);
    }
    (value, slope)
}

/// Rates per unit-period searched: up to 1000% a period covers any lawful or usurious loan.
const RATE_PER_PERIOD_MAX: i64 = 10;
/// Where the bracket search gives up: it doubles 1, 2, 4, 8, 16 and stops at the first
/// bound past [`RATE_PER_PERIOD_MAX`], so a root exists exactly when the present value at
/// this rate is negative.
const RATE_PER_PERIOD_CEILING: i64 = 16;
/// Iteration stops once a step moves the periodic rate by less than this (1e-20).
const RATE_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 20);
const SOLVER_STEPS_MAX: u32 = 300;

/// Finds the non-negative periodic rate where the flows' net present value is zero:
/// Newton's method kept inside a bracket that shrinks every step, falling back to bisection
/// whenever a Newton step would leave it, so it always converges and never divides by zero.
fn solve_periodic_rate(flows: &mut [Flow]) -> Result<Decimal, AprError> {
    flows.sort_by_key(|flow| flow.at.whole_periods);
    let npv = |rate| npv_and_slope(flows, rate).0;
    let undiscounted = npv(Decimal::ZERO);
    if undiscounted.is_zero() {
        return Ok(Decimal::ZERO);
    }
    if undiscounted.is_sign_negative() {
        // Payments total less than advances: the lender never gets the money back.
        return Err(AprError::NoSolution);
    }
    let mut low = Decimal::ZERO;
    let mut high = Decimal::ONE;
    while npv(high) >= Decimal::ZERO {
        if high >= Decimal::from(RATE_PER_PERIOD_MAX) {
            return Err(AprError::NoSolution);
        }
        low = high;
        high *= Decimal::TWO;
    }
    // Newton from a simple-interest estimate converges in a few steps; from the middle of
    // the bracket it often needs dozens of bisections first.
    let mut rate = simple_interest_guess(flows)
        .filter(|g| *g > low && *g < high)
        .unwrap_or((low + high) / Decimal::TWO);
    for _ in 0..SOLVER_STEPS_MAX {
        let (value, slope) = npv_and_slope(flows, rate);
        if value.is_zero() {
            return Ok(rate);
        }
        if value.is_sign_positive() {
            low = rate;
        } else {
            high = rate;
        }
        let newton = value
            .checked_div(slope)
            .and_then(|step| rate.checked_sub(step));
        let next = match newton {
            Some(next) if next > low && next < high => next,
            _ => (low + high) / Decimal::TWO,
        };
        if (next - rate).abs() < RATE_TOLERANCE || high - low < RATE_TOLERANCE {
            return Ok(next);
        }
        rate = next;
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{allocate, Currency};
    use proptest::prelude::*;
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

    fn loc(whole_periods: u32, fraction: Decimal) -> Location {
        Location {
            whole_periods,
            fraction,
        }
    }

    #[test]
    fn locates_by_counting_back_from_the_later_date() {
        let m = UnitPeriod::Month;
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
        let m = UnitPeriod::Month;
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
            locate(start, d("2026-01-18"), UnitPeriod::Week).unwrap(),
            loc(2, dec!(3) / dec!(7))
        );
        assert_eq!(
            locate(start, d("2026-01-18"), UnitPeriod::Day).unwrap(),
            loc(17, dec!(0))
        );
        // One month (30 days) plus 20 odd days = 50 days = 3 semi-months and 5/15.
        let at = locate(start, d("2026-02-21"), UnitPeriod::SemiMonth).unwrap();
        assert_eq!(at, loc(3, dec!(5) / dec!(15)));
        let at = locate(start, d("2028-01-31"), UnitPeriod::Year).unwrap();
        assert_eq!(at, loc(2, dec!(30) / dec!(365)));
        assert!(matches!(
            locate(start, d("2025-12-31"), UnitPeriod::Month),
            Err(AprError::BeforeFirstAdvance { .. })
        ));
        assert_eq!(
            locate(start, d("2026-02-01"), UnitPeriod::Days(0)),
            Err(AprError::BadUnitPeriod(0))
        );
    }

    #[test]
    fn appendix_j_regular_monthly_payments() {
        let advances = [(d("1978-01-10"), usd("5000.00"))];
        let payments = monthly_series("1978-02-10", 24, "230.00");
        assert_eq!(
            apr_percent(&advances, &payments, UnitPeriod::Month),
            Ok(dec!(9.69))
        );
    }

    #[test]
    fn appendix_j_long_odd_first_period() {
        let advances = [(d("1978-02-10"), usd("6000.00"))];
        let payments = monthly_series("1978-04-01", 36, "200.00");
        assert_eq!(
            apr_percent(&advances, &payments, UnitPeriod::Month),
            Ok(dec!(11.82))
        );
    }

    #[test]
    fn appendix_j_odd_first_payment() {
        let advances = [(d("1978-01-10"), usd("5000.00"))];
        let mut payments = vec![(d("1978-02-10"), usd("250.00"))];
        payments.extend(monthly_series("1978-03-10", 23, "230.00"));
        assert_eq!(
            apr_percent(&advances, &payments, UnitPeriod::Month),
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
            UnitPeriod::Year
        );
    }

    fn cny(amount_minor: i64) -> Money {
        Money::from_minor(amount_minor, Currency::Cny)
    }

    /// Principal 100,000.00 repaid with a total fee of `fee_per_mille` ‰ in equal instalments.
    fn installment_apr(fee_per_mille: i64, months: usize) -> Result<Decimal, AprError> {
        let principal_minor = 10_000_000;
        let total_minor = principal_minor + principal_minor * fee_per_mille / 1000;
        let payments = allocate(cny(total_minor), &vec![1; months]).unwrap();
        apr_from_periodic_cash_flows(cny(principal_minor), &payments, 12)
    }

    #[test]
    fn installment_fees_annualised_by_irr() {
        assert_eq!(installment_apr(88, 12), Ok(dec!(15.86)));
        assert_eq!(installment_apr(25, 3), Ok(dec!(14.94)));
        assert_eq!(installment_apr(0, 6), Ok(dec!(0)));
    }

    #[test]
    fn bad_input_is_an_error() {
        let a = [(d("2026-01-01"), cny(1000))];
        let p = [(d("2026-02-01"), cny(1100))];
        let m = UnitPeriod::Month;
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

    #[test]
    fn the_f64_sign_leaves_an_exact_zero_to_decimal() {
        // 80,000 lent, 80,001 back a month later: exactly 0.015% a year at 12 periods.
        let (lent, back) = (cny(80_000), [cny(80_001)]);
        assert_eq!(present_value_negative_f64(lent, &back, 15, 12), None);
        assert_eq!(
            periodic_npv(lent, &back, periodic_rate(15, 12)),
            Decimal::ZERO
        );
        assert!(!present_value_negative(lent, &back, 15, 12));
        assert_eq!(present_value_negative_f64(lent, &back, 16, 12), Some(true));
        assert_eq!(present_value_negative_f64(lent, &back, 14, 12), Some(false));
        // Amounts f64 cannot hold exactly are left to Decimal.
        let huge = [cny(1 << 53)];
        assert_eq!(present_value_negative_f64(lent, &huge, 15, 12), None);
        assert!(!present_value_negative(lent, &huge, 15, 12));
    }

    /// What the fast paths must agree with: the full solver's root, rounded.
    fn solved_and_rounded(principal: Money, payments: &[Money]) -> Result<Decimal, AprError> {
        apr_from_periodic_cash_flows_unrounded(principal, payments, 12).map(round_percent)
    }

    #[test]
    fn rates_beyond_the_solver_ceiling_have_no_solution_on_every_path() {
        // 100 lent, 1,300 back after one period: 1,200% a period, between the search limit of
        // 1,000% and the ceiling of 1,600% where the bracket search gives up, so it is solved.
        let (lent, solvable, hopeless) = (cny(100), [cny(1_300)], [cny(1_800)]);
        assert_eq!(solved_and_rounded(lent, &solvable), Ok(dec!(14400)));
        assert_eq!(
            apr_from_periodic_cash_flows(lent, &solvable, 12),
            Ok(dec!(14400))
        );
        assert_eq!(
            apr_from_periodic_cash_flows_at_most(lent, &solvable, 12, dec!(24)),
            Ok(false)
        );
        assert_eq!(
            apr_from_periodic_cash_flows_at_most(lent, &solvable, 12, dec!(20000)),
            Ok(true)
        );
        // 1,700% a period is past the ceiling: no solution, whatever the cap.
        for cap in [dec!(24), dec!(30000), dec!(1e20)] {
            assert_eq!(
                apr_from_periodic_cash_flows_at_most(lent, &hopeless, 12, cap),
                Err(AprError::NoSolution),
                "{cap}"
            );
        }
        assert_eq!(
            apr_from_periodic_cash_flows(lent, &hopeless, 12),
            Err(AprError::NoSolution)
        );
        assert_eq!(
            solved_and_rounded(lent, &hopeless),
            Err(AprError::NoSolution)
        );
    }

    #[test]
    fn the_cap_test_rounds_like_the_apr() {
        // One period, 80,000 lent and 80,001 back: exactly 0.00125% a month, so 0.015% a year,
        // which rounds half-up to 0.02%.
        let (lent, back) = (cny(80_000), [cny(80_001)]);
        assert_eq!(
            apr_from_periodic_cash_flows(lent, &back, 12),
            Ok(dec!(0.02))
        );
        let at_most = |cap| apr_from_periodic_cash_flows_at_most(lent, &back, 12, cap);
        assert_eq!(at_most(dec!(0.02)), Ok(true));
        assert_eq!(at_most(dec!(0.019)), Ok(false));
        assert_eq!(at_most(dec!(0.01)), Ok(false));
        assert_eq!(at_most(dec!(-1)), Ok(false));
        // Nothing gained is 0%, within any cap but a negative one.
        let even = [cny(80_000)];
        assert_eq!(apr_from_periodic_cash_flows(lent, &even, 12), Ok(dec!(0)));
        assert_eq!(
            apr_from_periodic_cash_flows_at_most(lent, &even, 12, dec!(0)),
            Ok(true)
        );
        let short = [cny(79_999)];
        assert_eq!(
            apr_from_periodic_cash_flows_at_most(lent, &short, 12, dec!(24)),
            Err(AprError::NoSolution)
        );
        assert_eq!(
            apr_from_periodic_cash_flows_at_most(lent, &[], 12, dec!(24)),
            Err(AprError::NoPayments)
        );
    }

    proptest! {
        /// Whenever `f64` claims a sign, `Decimal` agrees; and it claims one unless the
        /// value is within its error bound of zero.
        #[test]
        fn the_f64_sign_is_the_decimal_sign(
            principal_minor in 1i64..1_000_000_000_000,
            payment_minor in 0i64..100_000_000_000,
            months in 1usize..400,
            percent_thousandths in 0i64..10_000_000,
            periods_per_year in 1u32..400,
        ) {
            let payments = vec![cny(payment_minor); months];
            let principal = cny(principal_minor);
            let rate = periodic_rate(percent_thousandths, periods_per_year);
            let exact = periodic_npv(principal, &payments, rate);
            let fast = present_value_negative_f64(
                principal, &payments, percent_thousandths, periods_per_year);
            if let Some(negative) = fast {
                prop_assert_eq!(negative, exact < Decimal::ZERO, "{}", exact);
            } else {
                // Undecided only near zero: within 1e-9 of the amounts involved.
                let scale = Decimal::from(principal_minor) + Decimal::from(payment_minor) * Decimal::from(months as u64);
                prop_assert!(exact.abs() < scale * dec!(1e-9), "{} of {}", exact, scale);
            }
        }

        /// The rounded APR found from an estimate and two present-value signs is the full
        /// solver's root rounded, and the cap test agrees with comparing that APR, for loans
        /// with a fee taken up front, unequal and skipped payments, over a wide range of rates.
        #[test]
        fn fast_paths_agree_with_the_full_solver(
            principal_minor in 1_000i64..100_000_000,
            rate_bp in 0i64..2_000,
            months in 1usize..72,
            fee_bp in 0i64..1_500,
            skip in 0usize..80,
            balloon_bp in 0i64..3_000,
            cap_shift_cents in -3i64..=3,
        ) {
            let rate = Decimal::new(rate_bp, 4);
            let payment = if rate.is_zero() {
                Decimal::from(principal_minor) / Decimal::from(months as u64)
            } else {
                let factor = (Decimal::ONE + rate).powi(-(months as i64));
                Decimal::from(principal_minor) * rate / (Decimal::ONE - factor)
            };
            let payment_minor = i64::try_from(payment.round()).unwrap().max(1);
            let mut payments = vec![cny(payment_minor); months];
            if skip < months {
                payments[skip] = cny(0);
            }
            let last = months - 1;
            payments[last] = cny(payment_minor + principal_minor * balloon_bp / 10_000);
            let net = cny(principal_minor - principal_minor * fee_bp / 10_000);
            let expected = solved_and_rounded(net, &payments);
            prop_assert_eq!(apr_from_periodic_cash_flows(net, &payments, 12), expected.clone());
            // The estimate and the signs settle every positive APR here; none falls back.
            if let Ok(apr) = &expected {
                if apr > &Decimal::ZERO {
                    prop_assert_eq!(periodic_apr_cents(net, &payments, 12), Some(*apr));
                }
            }
            let cap = match &expected {
                Ok(apr) => apr + Decimal::new(cap_shift_cents, 2),
                Err(_) => dec!(24),
            };
            for cap in [cap, cap + dec!(0.004), cap - dec!(0.001)] {
                prop_assert_eq!(
                    apr_from_periodic_cash_flows_at_most(net, &payments, 12, cap),
                    expected.clone().map(|apr| apr <= cap),
                    "cap {}", cap
                );
            }
        }

        /// Payments built from a known monthly rate give that rate back (to the rounding of
        /// the payment to whole fen, which a large principal makes negligible).
        #[test]
        fn recovers_the_rate_that_built_the_payments(
            rate_bp in 1i64..500,
            months in 1usize..60,
        ) {
            let rate = Decimal::new(rate_bp, 4);
            let principal_minor = 100_000_000_000i64;
            let factor = (Decimal::ONE + rate).powi(-(months as i64));
            let payment = Decimal::from(principal_minor) * rate / (Decimal::ONE - factor);
            let payment_minor = i64::try_from(payment.round()).unwrap();
            let payments = vec![cny(payment_minor); months];
            let apr = apr_from_periodic_cash_flows_unrounded(cny(principal_minor), &payments, 12).unwrap();
            let expected = rate * dec!(1200);
            prop_assert!((apr - expected).abs() < dec!(0.000001), "{apr} vs {expected}");
        }
    }
}
