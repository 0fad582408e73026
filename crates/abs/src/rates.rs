//! Rate conventions: annual ↔ per-period rates and the PSA / SDA standard curves.
//!
//! An annual rate `r` (CPR, CDR) becomes a per-period rate by compounding the survival
//! probability: `1 − (1 − r)^(t)` with `t` the period's length in years — `days/365` for a
//! period of `days` days, `1/12` for a month (the SIFMA/BMA SF-9 SMM). The inverse for a
//! month is `1 − (1 − SMM)^12`. Every conversion is `rust_decimal` (28 significant digits;
//! fractional powers through `ln`/`exp`), never binary floating point.

use rust_decimal::{Decimal, MathematicalOps};

/// A rate outside `[0, 1]` (a CPR of 120%, a negative severity).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be between 0 and 1 (as a fraction), got {value}")]
pub struct RateOutOfRange {
    pub what: &'static str,
    pub value: Decimal,
}

/// Checks that `value` is a fraction in `[0, 1]`.
pub fn check_fraction(what: &'static str, value: Decimal) -> Result<Decimal, RateOutOfRange> {
    if value < Decimal::ZERO || value > Decimal::ONE {
        Err(RateOutOfRange { what, value })
    } else {
        Ok(value)
    }
}

/// `1 − (1 − annual)^(years)`, exact at the ends (0 stays 0, 1 stays 1).
fn compound(annual: Decimal, years: Decimal) -> Decimal {
    if annual.is_zero() || years.is_zero() {
        return Decimal::ZERO;
    }
    if annual == Decimal::ONE {
        return Decimal::ONE;
    }
    let survival = (Decimal::ONE - annual).powd(years);
    (Decimal::ONE - survival).clamp(Decimal::ZERO, Decimal::ONE)
}

/// Annual rate (CPR or CDR) to the rate over a period of `days` days: `1 − (1 − r)^(days/365)`.
pub fn annual_to_period(annual: Decimal, days: u32) -> Result<Decimal, RateOutOfRange> {
    let annual = check_fraction("annual rate", annual)?;
    Ok(compound(
        annual,
        Decimal::from(days) / Decimal::from(DAYS_PER_YEAR),
    ))
}

/// Annual rate to a one-month rate (SMM from CPR, MDR from CDR): `1 − (1 − r)^(1/12)`.
pub fn annual_to_monthly(annual: Decimal) -> Result<Decimal, RateOutOfRange> {
    let annual = check_fraction("annual rate", annual)?;
    Ok(compound(annual, Decimal::ONE / Decimal::from(12)))
}

/// One-month rate to its annual equivalent (CPR from SMM): `1 − (1 − m)^12`, exact.
pub fn monthly_to_annual(monthly: Decimal) -> Result<Decimal, RateOutOfRange> {
    let monthly = check_fraction("monthly rate", monthly)?;
    Ok(Decimal::ONE - (Decimal::ONE - monthly).powi(12))
}

/// The days in the year that the period conversion uses (ACT/365 fixed).
pub const DAYS_PER_YEAR: u32 = 365;

/// PSA prepayment curve: the CPR at loan age `age_months` for `speed` (1 = 100% PSA):
/// 0.2% per month of age up to 6% at month 30, flat after.
pub fn psa_cpr(speed: Decimal, age_months: u32) -> Decimal {
    let ramp = Decimal::new(2, 3) * Decimal::from(age_months.min(30));
    (speed * ramp).min(Decimal::ONE)
}

/// SDA default curve: the CDR at loan age `age_months` for `speed` (1 = 100% SDA):
/// 0.02% per month up to 0.60% at month 30, flat to month 60, down by 0.0095% a month to
/// 0.03% at month 120, flat after. (The standard's zero rate in the final months before
/// maturity is the projection's end-of-life rule, not part of the curve.)
pub fn sda_cdr(speed: Decimal, age_months: u32) -> Decimal {
    let age = Decimal::from(age_months);
    let base = if age_months <= 30 {
        Decimal::new(2, 4) * age
    } else if age_months <= 60 {
        Decimal::new(6, 3)
    } else if age_months <= 120 {
        Decimal::new(6, 3) - Decimal::new(95, 6) * (age - Decimal::from(60))
    } else {
        Decimal::new(3, 4)
    };
    (speed * base).min(Decimal::ONE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn ends_are_exact_and_out_of_range_is_refused() {
        assert_eq!(annual_to_monthly(dec!(0)).unwrap(), dec!(0));
        assert_eq!(annual_to_monthly(dec!(1)).unwrap(), dec!(1));
        assert!(annual_to_monthly(dec!(1.2)).is_err());
        assert!(annual_to_period(dec!(-0.01), 30).is_err());
        assert_eq!(annual_to_period(dec!(0.1), 365).unwrap(), dec!(0.1));
    }

    #[test]
    fn monthly_and_annual_round_trip() {
        let smm = annual_to_monthly(dec!(0.06)).unwrap();
        let back = monthly_to_annual(smm).unwrap();
        assert!((back - dec!(0.06)).abs() < dec!(0.000000000001), "{back}");
    }

    #[test]
    fn curves_have_their_corners() {
        assert_eq!(psa_cpr(dec!(1), 30), dec!(0.06));
        assert_eq!(psa_cpr(dec!(1.5), 45), dec!(0.09));
        assert_eq!(sda_cdr(dec!(1), 30), dec!(0.006));
        assert_eq!(sda_cdr(dec!(1), 60), dec!(0.006));
        assert_eq!(sda_cdr(dec!(1), 120), dec!(0.0003));
        assert_eq!(sda_cdr(dec!(1), 200), dec!(0.0003));
    }
}
