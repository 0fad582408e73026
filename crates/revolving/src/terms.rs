//! A line's product terms: statement and due days, rates, minimum payment, installment
//! fees, repayment order.

use money::{Currency, Decimal, RateDaily, RoundingMode};
use serde::{Deserialize, Serialize};

/// A repayment bucket; `Terms::allocation_order` lists them in the order a repayment pays
/// them. Principal is paid billed-first (installment parts billed, then revolving principal
/// of the oldest statement), then unbilled principal; anything left is `Overpayment`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Penalty,
    Interest,
    Fee,
    Principal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    pub currency: Currency,
    /// Day of month the statement is cut (1–28); default 1.
    pub statement_day: u32,
    /// Day of month payment is due (1–28), in the month after the statement day if it is
    /// not after it in the statement's month; default 10.
    pub due_day: u32,
    /// Share of the statement's revolving principal in the minimum payment; default 0.10.
    pub min_payment_rate: Decimal,
    /// Revolving interest on billed principal left unpaid after the due day; default 0.0005.
    pub revolving_rate_daily: RateDaily,
    /// Penalty on the unpaid part of the minimum payment after the due day; default 0.0005.
    pub penalty_rate_daily: RateDaily,
    /// Installment terms offered (months, total fee rate): default 3/0.025, 6/0.045, 12/0.088.
    pub installment_fee_rates: Vec<(u32, Decimal)>,
    pub allocation_order: Vec<Bucket>,
    /// Rounding of each day's interest and penalty and of fee and minimum-payment amounts.
    pub rounding: RoundingMode,
}

impl Terms {
    /// The defaults of issue text: statement day 1, due day 10, minimum 10%, 0.05%/day
    /// revolving interest and penalty, installment fees 2.5%/4.5%/8.8%, order penalty,
    /// interest, fee, principal, rounding half-even.
    pub fn standard(currency: Currency) -> Terms {
        todo!("{currency:?}")
    }

    /// Refuses days outside 1–28, a minimum rate outside (0, 1], an empty or repeated
    /// allocation order, duplicate or zero installment terms, fee rates outside [0, 1).
    /// The error names the field (`statement_day`, `installment_fee_rates[1]`, …).
    pub fn validate(&self) -> Result<(), TermsError> {
        todo!()
    }

    /// The total fee rate for an installment term, or None if the term is not offered.
    pub fn installment_fee_rate(&self, months: u32) -> Option<Decimal> {
        todo!("{months}")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TermsError {
    pub field: String,
    pub message: String,
}
