//! Installments (分期): one purchase or a whole statement's revolving principal turned into
//! 3/6/12 equal monthly parts with a total fee, disclosed as an IRR APR.

use money::{Currency, Decimal, Money};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeePayer {
    /// The borrower pays the fee with each part.
    Borrower,
    /// The merchant pays the whole fee at conversion (免息分期): interest-free to the borrower.
    Merchant,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallmentPlan {
    /// Chosen by the shell (e.g. the purchase id's 16 bytes); unique within a line.
    pub id: [u8; 16],
    pub months: u32,
    pub fee_rate: Decimal,
    pub fee_payer: FeePayer,
    pub principal_minor: i64,
    /// Equal parts, the remainder minor units on the first parts; they sum to the principal.
    pub principal_parts_minor: Vec<i64>,
    /// The total fee `principal × fee_rate` (rounded by the terms' rule) split the same way;
    /// all zero when the merchant pays.
    pub fee_parts_minor: Vec<i64>,
    /// How many parts statements have billed so far.
    pub billed_parts: u32,
    /// The borrower's APR by the IRR method, in percent with two decimals (zero when the
    /// merchant pays).
    pub apr_percent: Decimal,
}

impl InstallmentPlan {
    /// Splits `principal_minor` into `months` parts with a total fee of
    /// `principal × fee_rate`; both splits conserve every minor unit.
    pub fn new(
        id: [u8; 16],
        principal: Money,
        months: u32,
        fee_rate: Decimal,
        fee_payer: FeePayer,
        rounding: money::RoundingMode,
    ) -> Result<InstallmentPlan, crate::LineError> {
        todo!("{id:?} {principal} {months} {fee_rate} {fee_payer:?} {rounding:?}")
    }

    /// The whole fee (what the merchant pays when `fee_payer` is Merchant).
    pub fn fee_total_minor(&self) -> i64 {
        todo!()
    }

    /// Principal of parts not yet billed.
    pub fn unbilled_principal_minor(&self) -> i64 {
        todo!()
    }
}

/// The nominal annual percentage rate, by IRR on the actually outstanding principal (PBOC
/// 2021 No. 3), of borrowing 1 and repaying `(1 + fee_rate) / months` each month for
/// `months` months: 3 months at 2.5% → 14.94; 12 months at 8.8% → 15.86.
pub fn installment_apr_percent(
    currency: Currency,
    months: u32,
    fee_rate: Decimal,
) -> Result<Decimal, crate::LineError> {
    todo!("{currency:?} {months} {fee_rate}")
}
