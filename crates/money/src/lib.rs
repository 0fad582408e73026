//! Exact money for a lending core.
//!
//! Amounts are integer minor units (`i64`) tagged with an ISO 4217 currency; every
//! arithmetic step is checked, so an overflow is an error value and never a silent wrap.
//! Rates are `rust_decimal::Decimal` newtypes that carry their period and convert only
//! through a named [`DayCount`]. Rounding is a named [`RoundingMode`]; splits use the
//! largest-remainder method ([`allocate`]); the APR follows Regulation Z Appendix J
//! ([`apr`]). Nothing here reads a clock, a file or the environment: the business date is
//! always an argument.

mod allocate;
pub mod apr;
mod currency;
mod date;
mod daycount;
mod money;
mod rate;
mod rounding;
#[cfg(feature = "serde")]
mod serde_impls;

pub use allocate::{allocate, allocate_by_ratio, AllocError, ALLOCATE_WEIGHTS_MAX};
pub use apr::{apr_from_periodic_cash_flows, apr_percent, AprError, UnitPeriod};
pub use currency::{Currency, CurrencyError};
pub use date::{BusinessDate, DateError};
pub use daycount::DayCount;
pub use money::{Money, MoneyError};
pub use rate::{RateAnnual, RateDaily, RateError, RateMonthly};
pub use rounding::RoundingMode;
pub use rust_decimal::Decimal;
