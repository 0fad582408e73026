//! The root of the general equation (b)(8) in `Decimal`: Newton's method inside a bracket.

use super::{AprError, Location};
use rust_decimal::{Decimal, MathematicalOps};

/// A located cash flow: positive for a payment, negative for an advance.
#[derive(Clone, Copy, Debug)]
pub(super) struct Flow {
    pub(super) at: Location,
    pub(super) amount_minor: i64,
}

/// A flow at the end of whole unit-period `periods`.
pub(super) fn whole(periods: u32) -> Location {
    Location {
        whole_periods: periods,
        fraction: Decimal::ZERO,
    }
}

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

/// Present value at rate `i` of all flows (payments positive, advances negative) and its
/// derivative in `i`. Flows must be sorted by whole periods.
fn npv_and_slope(flows: &[Flow], rate: Decimal) -> (Decimal, Decimal) {
    // Discount with v = 1/(1+i) < 1 so powers shrink toward zero and never overflow.
    let discount = Decimal::ONE / (Decimal::ONE + rate);
    let mut power = Decimal::ONE;
    let mut power_periods = 0u32;
    let mut value = Decimal::ZERO;
    let mut slope = Decimal::ZERO;
    for flow in flows {
        let periods = flow.at.whole_periods;
        assert!(periods >= power_periods, "flows are sorted");
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
pub(super) const RATE_PER_PERIOD_CEILING: i64 = 16;
/// Iteration stops once a step moves the periodic rate by less than this (1e-20).
const RATE_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 20);
const SOLVER_STEPS_MAX: u32 = 300;

/// Finds the non-negative periodic rate where the flows' net present value is zero:
/// Newton's method kept inside a bracket that shrinks every step, falling back to bisection
/// whenever a Newton step would leave it, so it always converges and never divides by zero.
pub(super) fn solve_periodic_rate(flows: &mut [Flow]) -> Result<Decimal, AprError> {
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
