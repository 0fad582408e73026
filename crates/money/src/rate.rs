use crate::DayCount;
use rust_decimal::Decimal;
use std::fmt;
use std::str::FromStr;

/// Why a rate text or value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("rate {0:?} is not a number or a percentage such as \"1.5%\" or \"0.015\"")]
    Parse(String),
    #[error("rate {0} is negative; lending rates are zero or more")]
    Negative(Decimal),
    #[error("rate conversion overflows")]
    Overflow,
}

/// Rejects the one value no lending rate may take; a cap is the product's business.
fn checked_fraction(fraction: Decimal) -> Result<Decimal, RateError> {
    if fraction.is_sign_negative() && !fraction.is_zero() {
        return Err(RateError::Negative(fraction));
    }
    Ok(fraction.normalize())
}

/// Parses "1.5%" as 0.015 and "0.015" as 0.015, exactly.
fn parse_fraction(text: &str) -> Result<Decimal, RateError> {
    let trimmed = text.trim();
    let err = || RateError::Parse(text.to_string());
    let (number, is_percent) = match trimmed.strip_suffix('%') {
        Some(number) => (number.trim_end(), true),
        None => (trimmed, false),
    };
    let value: Decimal = number.parse().map_err(|_| err())?;
    let fraction = if is_percent {
        value.checked_div(Decimal::ONE_HUNDRED).ok_or_else(err)?
    } else {
        value
    };
    checked_fraction(fraction)
}

macro_rules! rate_newtype {
    ($name:ident, $period:literal) => {
        #[doc = concat!("An interest rate per ", $period, ", as a fraction (0.015 is 1.5%).")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Decimal);

        impl $name {
            pub fn from_fraction(fraction: Decimal) -> Result<Self, RateError> {
                checked_fraction(fraction).map($name)
            }

            pub const fn fraction(self) -> Decimal {
                self.0
            }

            /// The rate in percent (0.015 → 1.5).
            pub fn percent(self) -> Decimal {
                (self.0 * Decimal::ONE_HUNDRED).normalize()
            }
        }

        impl FromStr for $name {
            type Err = RateError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                parse_fraction(text).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}% per {}", self.percent(), $period)
            }
        }
    };
}

rate_newtype!(RateDaily, "day");
rate_newtype!(RateMonthly, "month");
rate_newtype!(RateAnnual, "year");

const MONTHS_PER_YEAR: i64 = 12;

impl RateDaily {
    /// Simple (not compounded) annualisation: the day count's year length times the daily rate.
    pub fn to_annual(self, day_count: DayCount) -> Result<RateAnnual, RateError> {
        self.0
            .checked_mul(Decimal::from(day_count.days_per_year()))
            .ok_or(RateError::Overflow)
            .map(RateAnnual)
    }

    pub fn to_monthly(self, day_count: DayCount) -> Result<RateMonthly, RateError> {
        Ok(self.to_annual(day_count)?.to_monthly())
    }
}

impl RateMonthly {
    pub fn to_annual(self) -> Result<RateAnnual, RateError> {
        self.0
            .checked_mul(Decimal::from(MONTHS_PER_YEAR))
            .ok_or(RateError::Overflow)
            .map(RateAnnual)
    }

    pub fn to_daily(self, day_count: DayCount) -> Result<RateDaily, RateError> {
        Ok(self.to_annual()?.to_daily(day_count))
    }
}

impl RateAnnual {
    /// Division can lose digits past Decimal's 28 significant ones, never overflow.
    pub fn to_daily(self, day_count: DayCount) -> RateDaily {
        RateDaily(self.0 / Decimal::from(day_count.days_per_year()))
    }

    pub fn to_monthly(self) -> RateMonthly {
        RateMonthly(self.0 / Decimal::from(MONTHS_PER_YEAR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_percent_and_fraction_forms_exactly() {
        assert_eq!(
            "1.5%".parse::<RateMonthly>().unwrap().fraction(),
            dec!(0.015)
        );
        assert_eq!(
            " 0.015 ".parse::<RateMonthly>().unwrap().fraction(),
            dec!(0.015)
        );
        assert_eq!(
            "0.05 %".parse::<RateDaily>().unwrap().fraction(),
            dec!(0.0005)
        );
        assert_eq!("0%".parse::<RateAnnual>().unwrap().fraction(), dec!(0));
        assert!(matches!(
            "-1%".parse::<RateAnnual>(),
            Err(RateError::Negative(_))
        ));
        for bad in ["", "%", "abc", "1.5%%", "1,5%"] {
            assert!(
                matches!(bad.parse::<RateAnnual>(), Err(RateError::Parse(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn daily_annual_conversion_needs_and_uses_the_day_count() {
        let daily: RateDaily = "0.05%".parse().unwrap();
        assert_eq!(
            daily.to_annual(DayCount::Act360).unwrap().fraction(),
            dec!(0.18)
        );
        assert_eq!(
            daily.to_annual(DayCount::Act365F).unwrap().fraction(),
            dec!(0.1825)
        );
        let annual: RateAnnual = "18%".parse().unwrap();
        assert_eq!(annual.to_daily(DayCount::Act360).fraction(), dec!(0.0005));
        assert_eq!(
            daily.to_monthly(DayCount::Act360).unwrap().fraction(),
            dec!(0.015)
        );
    }

    #[test]
    fn monthly_annual_conversion_is_times_twelve() {
        let monthly: RateMonthly = "1.5%".parse().unwrap();
        assert_eq!(monthly.to_annual().unwrap().fraction(), dec!(0.18));
        assert_eq!(monthly.to_annual().unwrap().to_monthly(), monthly);
        assert_eq!(monthly.to_string(), "1.5% per month");
    }
}
