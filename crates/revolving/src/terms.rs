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
    /// Day of month payment is due (1–28, not the statement day), in the month after the
    /// statement day if it is not after it in the statement's month; default 10.
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
        let per_mille = |n: i64| Decimal::new(n, 3);
        let daily = RateDaily::from_fraction(Decimal::new(5, 4)).expect("0.05% is not negative");
        Terms {
            currency,
            statement_day: 1,
            due_day: 10,
            min_payment_rate: Decimal::new(10, 2),
            revolving_rate_daily: daily,
            penalty_rate_daily: daily,
            installment_fee_rates: vec![
                (3, per_mille(25)),
                (6, per_mille(45)),
                (12, per_mille(88)),
            ],
            allocation_order: vec![
                Bucket::Penalty,
                Bucket::Interest,
                Bucket::Fee,
                Bucket::Principal,
            ],
            rounding: RoundingMode::HalfEven,
        }
    }

    /// Refuses days outside 1–28, a minimum rate outside (0, 1], an empty or repeated
    /// allocation order, duplicate or zero installment terms, fee rates outside [0, 1).
    /// The error names the field (`statement_day`, `installment_fee_rates[1]`, …).
    pub fn validate(&self) -> Result<(), TermsError> {
        check_day("statement_day", self.statement_day)?;
        check_day("due_day", self.due_day)?;
        if self.due_day == self.statement_day {
            // The due date would be the next statement day, and a payment on it would pay
            // the new statement's fees before the old statement's principal.
            let message =
                "must differ from statement_day (the due date would be the next statement day)";
            return Err(TermsError::new("due_day", message));
        }
        if self.min_payment_rate <= Decimal::ZERO || self.min_payment_rate > Decimal::ONE {
            return Err(TermsError::new("min_payment_rate", "must be in (0, 1]"));
        }
        self.validate_allocation_order()?;
        self.validate_installments()
    }

    /// A bucket left out would never be paid, so every bucket must be listed once.
    fn validate_allocation_order(&self) -> Result<(), TermsError> {
        let order = &self.allocation_order;
        let all = [
            Bucket::Penalty,
            Bucket::Interest,
            Bucket::Fee,
            Bucket::Principal,
        ];
        let each_once = order.len() == all.len() && all.iter().all(|b| order.contains(b));
        if !each_once {
            return Err(TermsError::new(
                "allocation_order",
                "must list penalty, interest, fee and principal once each",
            ));
        }
        Ok(())
    }

    fn validate_installments(&self) -> Result<(), TermsError> {
        for (index, &(months, rate)) in self.installment_fee_rates.iter().enumerate() {
            let field = format!("installment_fee_rates[{index}]");
            if !(1..=INSTALLMENT_MONTHS_MAX).contains(&months) {
                let message = format!("months must be 1–{INSTALLMENT_MONTHS_MAX}, got {months}");
                return Err(TermsError::new(&field, &message));
            }
            if rate < Decimal::ZERO || rate >= Decimal::ONE {
                return Err(TermsError::new(&field, "fee rate must be in [0, 1)"));
            }
            let repeated = self.installment_fee_rates[..index]
                .iter()
                .any(|&(earlier, _)| earlier == months);
            if repeated {
                return Err(TermsError::new(&field, "term offered twice"));
            }
        }
        Ok(())
    }

    /// Installment terms offered, in the order the terms list them.
    pub fn offered_months(&self) -> Vec<u32> {
        self.installment_fee_rates.iter().map(|&(m, _)| m).collect()
    }

    /// The total fee rate for an installment term, or None if the term is not offered.
    pub fn installment_fee_rate(&self, months: u32) -> Option<Decimal> {
        self.installment_fee_rates
            .iter()
            .find(|&&(offered, _)| offered == months)
            .map(|&(_, rate)| rate)
    }
}

/// Longest installment term a product may offer: five years of monthly parts keeps a plan
/// (and its APR cash flows) small.
pub const INSTALLMENT_MONTHS_MAX: u32 = 60;

/// Days 29–31 do not exist in every month, so a line could skip a statement or due date.
fn check_day(field: &str, day: u32) -> Result<(), TermsError> {
    if (1..=28).contains(&day) {
        return Ok(());
    }
    Err(TermsError::new(field, &format!("must be 1–28, got {day}")))
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TermsError {
    pub field: String,
    pub message: String,
}

impl TermsError {
    fn new(field: &str, message: &str) -> TermsError {
        TermsError {
            field: field.to_string(),
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn standard_terms_are_the_documented_defaults_and_valid() {
        let terms = Terms::standard(Currency::Cny);
        assert_eq!(terms.validate(), Ok(()));
        assert_eq!((terms.statement_day, terms.due_day), (1, 10));
        assert_eq!(terms.revolving_rate_daily.fraction(), dec!(0.0005));
        assert_eq!(terms.installment_fee_rate(3), Some(dec!(0.025)));
        assert_eq!(terms.installment_fee_rate(6), Some(dec!(0.045)));
        assert_eq!(terms.installment_fee_rate(12), Some(dec!(0.088)));
        assert_eq!(terms.installment_fee_rate(24), None);
    }

    fn field_refused(change: impl FnOnce(&mut Terms)) -> String {
        let mut terms = Terms::standard(Currency::Cny);
        change(&mut terms);
        terms.validate().expect_err("should be refused").field
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(field_refused(|t| t.statement_day = 0), "statement_day");
        assert_eq!(field_refused(|t| t.due_day = 29), "due_day");
        assert_eq!(field_refused(|t| t.due_day = 1), "due_day");
        assert_eq!(
            field_refused(|t| t.min_payment_rate = dec!(0)),
            "min_payment_rate"
        );
        assert_eq!(
            field_refused(|t| t.min_payment_rate = dec!(1.01)),
            "min_payment_rate"
        );
        assert_eq!(
            field_refused(|t| t.allocation_order.clear()),
            "allocation_order"
        );
        assert_eq!(
            field_refused(|t| t.allocation_order[1] = Bucket::Penalty),
            "allocation_order"
        );
        assert_eq!(
            field_refused(|t| t.installment_fee_rates[1] = (3, dec!(0.01))),
            "installment_fee_rates[1]"
        );
        assert_eq!(
            field_refused(|t| t.installment_fee_rates[0] = (0, dec!(0.01))),
            "installment_fee_rates[0]"
        );
        assert_eq!(
            field_refused(|t| t.installment_fee_rates[2] = (12, dec!(1))),
            "installment_fee_rates[2]"
        );
    }
}
