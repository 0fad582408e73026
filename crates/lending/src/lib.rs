//! Term loans: products, exact schedules and the pure loan state machine.
//!
//! - [`product`]: what a lender offers, validated field by field.
//! - [`schedule`]: repayment schedules exact to the minor unit, with a fast `i128` path held
//!   bit-identical to a `Decimal` reference.
//! - [`loan`]: `apply(state, command, as_of) -> (state, postings)`.
//! - [`cap`]: the rate cap on the all-in APR, for a product's worst case and for one loan.
//!
//! Invariants, mostly about what is deliberately absent:
//! - No I/O, no clock, no environment, no async: the business date is an argument and the
//!   same commands always give the same state and postings.
//! - No floating point for money; rounding is a named `RoundingMode`, applied once where an
//!   exact value becomes a posting, and sub-unit remainders are carried, not dropped.
//! - Principal parts of a schedule sum to the principal; every posting is a positive,
//!   balanced (debit, credit) pair; receivables implied by the postings equal what the
//!   state says is owed (checked by property tests over random products and borrowers).
//! - The loan state does not store balances it can derive: outstanding amounts are computed
//!   from the installments.

pub mod cap;
pub mod codec;
pub mod loan;
pub mod product;
pub mod schedule;

pub use product::LoanProduct;
pub use schedule::{
    generate, generate_reference, Installment, RepaymentTerms, Schedule, ScheduleError,
    SchedulePlan, ScheduleTerms,
};
