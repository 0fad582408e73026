use crate::{Currency, MoneyError};
use rust_decimal::{Decimal, RoundingStrategy};

/// A named rounding rule, applied once where an exact value becomes a posting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoundingMode {
    /// Ties to the even neighbour (banker's rounding): unbiased over many postings.
    HalfEven,
    /// Ties away from zero (四舍五入): what a borrower computes by hand.
    HalfUp,
    /// Toward zero: never charges more than the exact amount.
    Down,
}

impl RoundingMode {
    const fn strategy(self) -> RoundingStrategy {
        match self {
            RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
            RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            RoundingMode::Down => RoundingStrategy::ToZero,
        }
    }

    /// Rounds an exact amount already in minor units (e.g. 1234.5 fen) to whole minor units.
    pub fn round_minor(self, amount_minor: Decimal) -> Result<i64, MoneyError> {
        let rounded = amount_minor.round_dp_with_strategy(0, self.strategy());
        i64::try_from(rounded).map_err(|_| MoneyError::Overflow)
    }

    /// Rounds an exact amount in major units (e.g. 12.345 yuan) to the currency's minor unit.
    pub fn round_major_to_minor(
        self,
        amount_major: Decimal,
        currency: Currency,
    ) -> Result<i64, MoneyError> {
        let amount_minor = amount_major
            .checked_mul(Decimal::from(currency.minor_per_major()))
            .ok_or(MoneyError::Overflow)?;
        self.round_minor(amount_minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn modes_differ_only_where_they_should() {
        let cases = [
            // value, half-even, half-up, down
            (dec!(2.5), 2, 3, 2),
            (dec!(3.5), 4, 4, 3),
            (dec!(-2.5), -2, -3, -2),
            (dec!(2.4999), 2, 2, 2),
            (dec!(2.5001), 3, 3, 2),
            (dec!(-2.7), -3, -3, -2),
            (dec!(7), 7, 7, 7),
        ];
        for (value, even, up, down) in cases {
            assert_eq!(
                RoundingMode::HalfEven.round_minor(value),
                Ok(even),
                "{value}"
            );
            assert_eq!(RoundingMode::HalfUp.round_minor(value), Ok(up), "{value}");
            assert_eq!(RoundingMode::Down.round_minor(value), Ok(down), "{value}");
        }
    }

    #[test]
    fn major_amounts_use_the_currency_scale() {
        let m = RoundingMode::HalfUp;
        assert_eq!(
            m.round_major_to_minor(dec!(12.345), Currency::Cny),
            Ok(1235)
        );
        assert_eq!(m.round_major_to_minor(dec!(12.5), Currency::Jpy), Ok(13));
        assert_eq!(
            m.round_major_to_minor(dec!(1.2345), Currency::Kwd),
            Ok(1235)
        );
    }

    #[test]
    fn out_of_range_is_an_error_not_a_wrap() {
        let huge = Decimal::from(i64::MAX) + dec!(1);
        assert_eq!(
            RoundingMode::Down.round_minor(huge),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            RoundingMode::HalfUp.round_major_to_minor(Decimal::MAX, Currency::Cny),
            Err(MoneyError::Overflow)
        );
    }
}
