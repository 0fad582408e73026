//! Exact money for a lending core.
//!
//! Amounts are integer minor units (`i64`) tagged with an ISO 4217 currency; every
//! arithmetic step is checked, so an overflow is an error value and never a silent wrap.
//! Rates are `rust_decimal::Decimal` newtypes that carry their period. Nothing here reads a
//! clock, a file or the environment: the business date is always an argument.

mod currency;
mod date;
mod money;

pub use currency::{Currency, CurrencyError};
pub use date::{BusinessDate, DateError};
pub use money::{Money, MoneyError};
pub use rust_decimal::Decimal;
