use crate::Currency;
use rust_decimal::Decimal;
use std::fmt;

/// An exact amount: integer minor units (fen, cents) of one currency.
///
/// No `Default` and no float conversion on purpose. Arithmetic is checked and refuses to mix
/// currencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    amount_minor: i64,
    currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency mismatch: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount overflows a 64-bit count of minor units")]
    Overflow,
    #[error("amount {text:?} is not a valid {currency} amount (at most {scale} decimal places)")]
    Parse {
        text: String,
        currency: Currency,
        scale: u32,
    },
}

impl Money {
    pub const fn from_minor(amount_minor: i64, currency: Currency) -> Self {
        Money {
            amount_minor,
            currency,
        }
    }

    pub const fn zero(currency: Currency) -> Self {
        Money::from_minor(0, currency)
    }

    pub const fn amount_minor(self) -> i64 {
        self.amount_minor
    }

    pub const fn currency(self) -> Currency {
        self.currency
    }

    pub const fn is_zero(self) -> bool {
        self.amount_minor == 0
    }

    pub const fn is_positive(self) -> bool {
        self.amount_minor > 0
    }

    pub const fn is_negative(self) -> bool {
        self.amount_minor < 0
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount_minor
            .checked_add(other.amount_minor)
            .map(|a| Money::from_minor(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount_minor
            .checked_sub(other.amount_minor)
            .map(|a| Money::from_minor(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_neg(self) -> Result<Money, MoneyError> {
        self.amount_minor
            .checked_neg()
            .map(|a| Money::from_minor(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        self.amount_minor
            .checked_mul(factor)
            .map(|a| Money::from_minor(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    pub fn min(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Ok(if self.amount_minor <= other.amount_minor {
            self
        } else {
            other
        })
    }

    /// The amount in major units as an exact decimal (12345 fen → 123.45).
    pub fn to_major_decimal(self) -> Decimal {
        Decimal::new(self.amount_minor, self.currency.scale())
    }

    /// Parses a major-unit decimal string ("123.45") exactly; more decimal places than the
    /// currency's scale is an error, never a rounding.
    pub fn parse_major(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let err = || MoneyError::Parse {
            text: text.to_string(),
            currency,
            scale: currency.scale(),
        };
        let value: Decimal = text.trim().parse().map_err(|_| err())?;
        let minor = value
            .checked_mul(Decimal::from(currency.minor_per_major()))
            .ok_or(MoneyError::Overflow)?;
        if !minor.fract().is_zero() {
            return Err(err());
        }
        let minor = i64::try_from(minor).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_major_decimal(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_checked_and_single_currency() {
        let a = Money::from_minor(i64::MAX, Currency::Cny);
        assert_eq!(
            a.checked_add(Money::from_minor(1, Currency::Cny)),
            Err(MoneyError::Overflow)
        );
        assert!(matches!(
            Money::zero(Currency::Cny).checked_add(Money::zero(Currency::Usd)),
            Err(MoneyError::CurrencyMismatch(_, _))
        ));
        assert_eq!(
            Money::from_minor(i64::MIN, Currency::Cny).checked_neg(),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn parse_major_is_exact() {
        assert_eq!(
            Money::parse_major("10000.00", Currency::Cny)
                .unwrap()
                .amount_minor(),
            1_000_000
        );
        assert_eq!(
            Money::parse_major("5", Currency::Jpy)
                .unwrap()
                .amount_minor(),
            5
        );
        assert_eq!(
            Money::parse_major("1.234", Currency::Kwd)
                .unwrap()
                .amount_minor(),
            1234
        );
        assert!(Money::parse_major("1.001", Currency::Cny).is_err());
        assert!(Money::parse_major("abc", Currency::Cny).is_err());
        assert_eq!(
            Money::from_minor(12345, Currency::Cny).to_string(),
            "123.45 CNY"
        );
    }
}
