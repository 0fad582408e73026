//! Revolving credit (Huabei-style): a line with a limit, purchases paid to merchants,
//! monthly statements, an interest-free period, a minimum payment, installments and
//! dynamic limits.
//!
//! `apply(line, command, as_of) -> Outcome { line, postings, events }`: a pure state machine
//! like `lending::loan::apply`. No I/O, no clock, no async; the shell maps each
//! [`Purpose`] to a ledger account and books the postings in the same transaction as the
//! new state.
//!
//! Limit accounting (memo accounts in the line's currency, see `docs/revolving-credit.md`):
//! `Available` (credit-normal, must not go below zero counting pending holds), `Used`
//! (credit-normal) and the platform's `LimitPool`. An authorization is a ledger hold
//! `Available → Used` made by the shell; capture posts it. The line keeps
//! `available posted = limit_total − used + shortfall`, where `shortfall` is the part of a
//! limit decrease that could not be taken from `Available` at once (it was reserved by
//! holds or already used): it is still posted in `Available` (or in `Used`) although the
//! limit no longer grants it, so it is taken from principal repayments before they
//! restore `Available`, and by close of business as soon as holds release it.

pub mod installment;
pub mod limits;
pub mod line;
pub mod terms;

pub use installment::{installment_apr_percent, FeePayer, InstallmentPlan};
pub use limits::{LimitRules, RiskSignal};
pub use line::{apply, Command, Line, LineError, LineEvent, LineStatus, Outcome, Statement};
pub use terms::{Bucket, Terms};

/// What a ledger account is for; the shell maps a purpose to the line's concrete account
/// (or the merchant's, for `MerchantPayable`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Purpose {
    /// Limit not in use (memo).
    Available,
    /// Limit in use by captured, unpaid principal (memo).
    Used,
    /// The platform's side of every limit grant (memo).
    LimitPool,
    PrincipalReceivable,
    InterestReceivable,
    FeeReceivable,
    PenaltyReceivable,
    InterestIncome,
    FeeIncome,
    PenaltyIncome,
    /// Money received from the borrower.
    BorrowerCash,
    /// What the platform owes the purchase's merchant.
    MerchantPayable,
    /// Paid beyond everything owed; owed back to the borrower or used by later statements.
    Overpayment,
}

/// One balanced movement: debit one purpose, credit another, by a positive amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostingIntent {
    pub debit: Purpose,
    pub credit: Purpose,
    pub amount_minor: i64,
}
