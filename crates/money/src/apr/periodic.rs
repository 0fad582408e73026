//! The APR of periodic cash flows (a principal out, one payment a period), where only the
//! rounded cent is wanted: an `f64` estimate picks the cent and present-value signs, proven in
//! `f64` or decided in `Decimal`, settle it.

use super::solver::{solve_periodic_rate, whole, Flow, RATE_PER_PERIOD_CEILING};
use super::{check_amounts, round_percent, same_currency, AprError};
use crate::Money;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

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
            at: whole(u32::try_from(index + 1).expect("at most APR_FLOWS_MAX payments")),
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
    assert!(rate >= Decimal::ZERO, "rates searched are non-negative");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{allocate, Currency};
    use proptest::prelude::*;
    use rust_decimal::MathematicalOps;
    use rust_decimal_macros::dec;

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
