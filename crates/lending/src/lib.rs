//! Term loans: products, exact schedules and (in `loan`) the pure state machine
//! `apply(state, command, as_of) -> (state, postings)`. No I/O, no clock: the business date
//! is an argument.

pub mod loan;
pub mod product;
pub mod schedule;

pub use product::LoanProduct;
pub use schedule::{
    generate, generate_reference, Installment, RepaymentTerms, Schedule, ScheduleError,
    SchedulePlan, ScheduleTerms,
};
