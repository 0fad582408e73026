//! Installments (分期): one purchase or a whole statement's revolving principal turned into
//! 3/6/12 equal monthly parts with a total fee, disclosed as an IRR APR.

use crate::LineError;
use money::{allocate, apr_from_periodic_cash_flows, Currency, Decimal, Money, RoundingMode};
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
        let principal_minor = principal.amount_minor();
        if principal_minor <= 0 {
            let got = principal_minor;
            return Err(LineError::NotPositive {
                field: "amount_minor",
                got,
            });
        }
        check_term(months, fee_rate)?;
        let principal_parts_minor = equal_parts(principal_minor, months)?;
        let (fee_parts_minor, apr_percent) = match fee_payer {
            FeePayer::Borrower => (
                equal_parts(fee_minor(principal, fee_rate, rounding)?, months)?,
                installment_apr_percent(principal.currency(), months, fee_rate)?,
            ),
            FeePayer::Merchant => (vec![0; months as usize], Decimal::ZERO),
        };
        Ok(InstallmentPlan {
            id,
            months,
            fee_rate,
            fee_payer,
            principal_minor,
            principal_parts_minor,
            fee_parts_minor,
            billed_parts: 0,
            apr_percent,
        })
    }

    /// The whole fee (what the merchant pays when `fee_payer` is Merchant). A merchant-paid
    /// plan keeps no fee parts, so its fee is recomputed from the current principal, rounded
    /// half-even (the plan does not keep the line's rounding rule).
    pub fn fee_total_minor(&self) -> i64 {
        match self.fee_payer {
            FeePayer::Borrower => self.fee_parts_minor.iter().sum(),
            FeePayer::Merchant => Decimal::from(self.principal_minor)
                .checked_mul(self.fee_rate)
                .and_then(|exact| RoundingMode::HalfEven.round_minor(exact).ok())
                .unwrap_or(i64::MAX),
        }
    }

    /// Principal of parts not yet billed.
    pub fn unbilled_principal_minor(&self) -> i64 {
        self.principal_parts_minor[self.billed_index()..]
            .iter()
            .sum()
    }

    /// Fee the borrower still owes on parts not yet billed (zero when the merchant paid).
    pub fn unbilled_borrower_fee_minor(&self) -> i64 {
        self.fee_parts_minor[self.billed_index()..].iter().sum()
    }

    /// The next part to bill, principal and the borrower's fee, or None when all are billed.
    pub fn next_part(&self) -> Option<(i64, i64)> {
        let index = self.billed_index();
        let principal = *self.principal_parts_minor.get(index)?;
        Some((principal, self.fee_parts_minor[index]))
    }

    fn billed_index(&self) -> usize {
        (self.billed_parts as usize).min(self.principal_parts_minor.len())
    }

    /// Takes `amount_minor` (at most the unbilled principal) off the unbilled parts, last
    /// part first, so the plan ends sooner; a part left with no principal carries no fee.
    pub(crate) fn refund_unbilled(&mut self, amount_minor: i64) {
        let first_unbilled = self.billed_index();
        let mut left = amount_minor;
        for index in (first_unbilled..self.principal_parts_minor.len()).rev() {
            let taken = left.min(self.principal_parts_minor[index]);
            self.principal_parts_minor[index] -= taken;
            left -= taken;
            if self.principal_parts_minor[index] == 0 {
                self.fee_parts_minor[index] = 0;
            }
        }
        self.principal_minor -= amount_minor - left;
    }
}

fn check_term(months: u32, fee_rate: Decimal) -> Result<(), LineError> {
    if !(1..=crate::terms::INSTALLMENT_MONTHS_MAX).contains(&months) {
        return Err(LineError::Invalid(format!(
            "months: {months} is not a term"
        )));
    }
    if fee_rate < Decimal::ZERO || fee_rate >= Decimal::ONE {
        return Err(LineError::Invalid(format!(
            "fee_rate: {fee_rate} outside [0, 1)"
        )));
    }
    Ok(())
}

fn fee_minor(
    principal: Money,
    fee_rate: Decimal,
    rounding: RoundingMode,
) -> Result<i64, LineError> {
    let exact = Decimal::from(principal.amount_minor())
        .checked_mul(fee_rate)
        .ok_or(LineError::Overflow)?;
    rounding.round_minor(exact).map_err(|_| LineError::Overflow)
}

/// Equal parts with the odd minor units on the first parts (largest remainder, ties to the
/// earlier part), so the parts always sum to `total_minor`.
fn equal_parts(total_minor: i64, months: u32) -> Result<Vec<i64>, LineError> {
    let weights = vec![1u64; months as usize];
    // Only the amount matters for the split; the currency is a placeholder.
    let total = Money::from_minor(total_minor, Currency::Cny);
    let parts = allocate(total, &weights).map_err(|e| LineError::Invalid(e.to_string()))?;
    Ok(parts.into_iter().map(Money::amount_minor).collect())
}

/// The nominal annual percentage rate, by IRR on the actually outstanding principal (PBOC
/// 2021 No. 3), of borrowing 1 and repaying `(1 + fee_rate) / months` each month for
/// `months` months: 3 months at 2.5% → 14.94; 12 months at 8.8% → 15.86.
pub fn installment_apr_percent(
    currency: Currency,
    months: u32,
    fee_rate: Decimal,
) -> Result<Decimal, crate::LineError> {
    check_term(months, fee_rate)?;
    if fee_rate.is_zero() {
        return Ok(Decimal::ZERO);
    }
    // A large notional keeps the minor-unit rounding of each payment far below the 0.01
    // the APR is disclosed to.
    let notional_minor = APR_NOTIONAL_MINOR;
    let repaid = fee_minor(
        Money::from_minor(notional_minor, currency),
        fee_rate,
        RoundingMode::HalfEven,
    )?
    .checked_add(notional_minor)
    .ok_or(LineError::Overflow)?;
    let payments: Vec<Money> = equal_parts(repaid, months)?
        .into_iter()
        .map(|minor| Money::from_minor(minor, currency))
        .collect();
    let principal = Money::from_minor(notional_minor, currency);
    apr_from_periodic_cash_flows(principal, &payments, 12)
        .map_err(|e| LineError::Invalid(format!("apr: {e}")))
}

/// 10^12 minor units: big enough that rounding a payment moves the APR by under 10^-6
/// percentage points, small enough that principal plus fee fits an i64 many times over.
const APR_NOTIONAL_MINOR: i64 = 1_000_000_000_000;

#[cfg(test)]
// Amounts are written as yuan_fen (1_000_00 is 1,000.00) so they read as money.
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn cny(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Cny)
    }

    #[test]
    fn disclosed_aprs_match_the_reference_values() {
        let apr = |months, rate| installment_apr_percent(Currency::Cny, months, rate).unwrap();
        assert_eq!(apr(3, dec!(0.025)), dec!(14.94));
        assert_eq!(apr(12, dec!(0.088)), dec!(15.86));
        assert_eq!(apr(3, dec!(0)), dec!(0));
        // The notional is in minor units, so a currency without decimals gives the same rate.
        assert_eq!(
            installment_apr_percent(Currency::Jpy, 3, dec!(0.025)).unwrap(),
            dec!(14.94)
        );
    }

    #[test]
    fn parts_conserve_principal_and_fee_with_the_remainder_first() {
        let plan = InstallmentPlan::new(
            [1; 16],
            cny(100_00),
            3,
            dec!(0.025),
            FeePayer::Borrower,
            RoundingMode::HalfEven,
        )
        .unwrap();
        assert_eq!(plan.principal_parts_minor, vec![3334, 3333, 3333]);
        assert_eq!(plan.fee_parts_minor, vec![84, 83, 83]);
        assert_eq!(plan.fee_total_minor(), 250);
        assert_eq!(plan.apr_percent, dec!(14.94));
        assert_eq!(plan.unbilled_principal_minor(), 100_00);
    }

    #[test]
    fn merchant_paid_plans_show_a_zero_apr_but_keep_the_fee_to_charge_the_merchant() {
        let plan = InstallmentPlan::new(
            [2; 16],
            cny(1_000_00),
            12,
            dec!(0.088),
            FeePayer::Merchant,
            RoundingMode::HalfEven,
        )
        .unwrap();
        assert_eq!(plan.apr_percent, dec!(0));
        assert_eq!(plan.fee_total_minor(), 88_00);
        assert_eq!(plan.next_part(), Some((83_34, 0)));
        assert_eq!(plan.unbilled_borrower_fee_minor(), 0);
    }

    #[test]
    fn bad_plans_are_refused() {
        let new = |minor, months, rate| {
            InstallmentPlan::new(
                [0; 16],
                cny(minor),
                months,
                rate,
                FeePayer::Borrower,
                RoundingMode::HalfEven,
            )
        };
        assert!(matches!(
            new(0, 3, dec!(0.025)),
            Err(LineError::NotPositive { .. })
        ));
        assert!(matches!(
            new(100, 0, dec!(0.025)),
            Err(LineError::Invalid(_))
        ));
        assert!(matches!(new(100, 3, dec!(1)), Err(LineError::Invalid(_))));
    }

    #[test]
    fn a_refund_shortens_the_plan_from_the_end() {
        let mut plan = InstallmentPlan::new(
            [3; 16],
            cny(90_00),
            3,
            dec!(0.03),
            FeePayer::Borrower,
            RoundingMode::HalfEven,
        )
        .unwrap();
        plan.billed_parts = 1;
        plan.refund_unbilled(40_00);
        assert_eq!(plan.principal_parts_minor, vec![30_00, 20_00, 0]);
        assert_eq!(plan.fee_parts_minor, vec![90, 90, 0]);
        assert_eq!(plan.principal_minor, 50_00);
        assert_eq!(plan.unbilled_principal_minor(), 20_00);
    }
}
