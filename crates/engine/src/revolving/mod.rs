//! Revolving credit use cases (Huabei-style): borrowers, merchants, credit lines, purchases
//! paid to merchants, repayments, installments, limit changes and their close of business.
//!
//! - Documents (`store::DocRow`) hold borrowers, merchants, lines and purchases as versioned
//!   JSON; every change of a line or a purchase commits in the same writer envelope as the
//!   ledger commands it caused, and names the version it read.
//! - Limit is money-like and lives in the ledger: a line's `available` account (credit-normal,
//!   debits must not exceed credits, pending holds counted) and `used` account. An
//!   authorization is a hold `available → used`; the ledger's constraint makes "the sum of
//!   holds never exceeds the limit" true under any concurrency, without a lock here.
//! - Money never reaches the borrower: a capture books principal receivable against the
//!   merchant's payable; close of business settles each merchant's payable from the funder's
//!   cash, net of the merchant discount.
//! - Ids are UUIDv5 of what caused them, so retries and re-runs never post twice.

mod accounts;
mod cache;
mod docs;
mod lines;
mod purchases;
mod traces;

pub use accounts::*;
pub(crate) use cache::Documents;
pub use docs::*;
pub use lines::*;
pub use purchases::*;
pub use traces::*;
