//! Close of business: the loans' day (`day`, `loans`), shared with worker processes on
//! PostgreSQL (`partitions`, `workers`), and the credit lines' and merchants' day
//! (`lines`). It is fed by the loan and revolving use cases and none of them depends on it.

mod day;
pub mod lines;
mod loans;
mod partitions;
pub mod workers;

pub use crate::business_day::{business_date, init_business_date};
pub use day::{close_business_day, CobConfig, CobReport};
pub use loans::{accrual_entry_id, batch_entry_id, AccrualSums};
