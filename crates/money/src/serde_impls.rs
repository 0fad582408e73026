//! Text forms for serde (feature `serde`): a date as `YYYY-MM-DD`, a currency as its ISO
//! code, a rate as its decimal fraction ("0.0005"), a rounding mode by name. The text is the same as
//! `Display`, so stored state stays readable and stable.

use crate::{BusinessDate, Currency, RateAnnual, RateDaily, RateMonthly, RoundingMode};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::str::FromStr;

macro_rules! via_text {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                <$t>::from_str(&text).map_err(D::Error::custom)
            }
        }
    };
}

via_text!(BusinessDate);
via_text!(Currency);
macro_rules! via_fraction {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.fraction())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                <$t>::from_str(&text).map_err(D::Error::custom)
            }
        }
    };
}

via_fraction!(RateDaily);
via_fraction!(RateMonthly);
via_fraction!(RateAnnual);

impl Serialize for RoundingMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            RoundingMode::HalfEven => "half_even",
            RoundingMode::HalfUp => "half_up",
            RoundingMode::Down => "down",
        })
    }
}

impl<'de> Deserialize<'de> for RoundingMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "half_even" => Ok(RoundingMode::HalfEven),
            "half_up" => Ok(RoundingMode::HalfUp),
            "down" => Ok(RoundingMode::Down),
            other => Err(D::Error::custom(format!(
                "unknown rounding mode {other:?}; use half_even, half_up or down"
            ))),
        }
    }
}
