use std::fmt;
use std::str::FromStr;

/// An ISO 4217 currency this platform books in, with its minor-unit scale.
///
/// A closed list on purpose: a currency nobody configured is rejected at the edge rather
/// than booked with a guessed scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    Cny,
    Hkd,
    Usd,
    Eur,
    Gbp,
    Sgd,
    Jpy,
    Krw,
    Kwd,
    Bhd,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown currency code {0:?} (expected an ISO 4217 code such as CNY)")]
pub struct CurrencyError(pub String);

const ALL: [Currency; 10] = [
    Currency::Cny,
    Currency::Hkd,
    Currency::Usd,
    Currency::Eur,
    Currency::Gbp,
    Currency::Sgd,
    Currency::Jpy,
    Currency::Krw,
    Currency::Kwd,
    Currency::Bhd,
];

impl Currency {
    pub const ALL: [Currency; 10] = ALL;

    /// Three-letter ISO 4217 code.
    pub const fn code(self) -> &'static str {
        match self {
            Currency::Cny => "CNY",
            Currency::Hkd => "HKD",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Sgd => "SGD",
            Currency::Jpy => "JPY",
            Currency::Krw => "KRW",
            Currency::Kwd => "KWD",
            Currency::Bhd => "BHD",
        }
    }

    /// Digits after the decimal point in the minor unit (ISO 4217 "E" column).
    pub const fn scale(self) -> u32 {
        match self {
            Currency::Jpy | Currency::Krw => 0,
            Currency::Kwd | Currency::Bhd => 3,
            _ => 2,
        }
    }

    /// Minor units in one major unit (100 for CNY, 1 for JPY, 1000 for KWD).
    pub const fn minor_per_major(self) -> i64 {
        10i64.pow(self.scale())
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.iter()
            .copied()
            .find(|c| c.code() == s)
            .ok_or_else(|| CurrencyError(s.to_string()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_scales_follow_iso_4217() {
        for c in Currency::ALL {
            assert_eq!(c.code().parse::<Currency>().unwrap(), c);
        }
        assert_eq!(Currency::Cny.scale(), 2);
        assert_eq!(Currency::Jpy.scale(), 0);
        assert_eq!(Currency::Kwd.scale(), 3);
        assert!("cny".parse::<Currency>().is_err());
        assert!("XXX".parse::<Currency>().is_err());
    }
}
