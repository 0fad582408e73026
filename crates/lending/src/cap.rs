//! The rate cap on the all-in APR: interest and every fee the schedule makes the borrower
//! pay (the origination fee, upfront or spread), by the actuarial method of Regulation Z
//! Appendix J on the amount actually paid out. Charges that depend on the borrower's
//! conduct (late fees, penalty interest, prepayment fees) are not part of the scheduled
//! payments and so not of the APR, as Appendix J and § 1026.4(c)(2) treat them.
//!
//! A cap on the contract rate alone lets a fee buy any price: 1.9% a month with 5% taken
//! upfront is 22.8% a year on paper and 54.91% for a 3-month loan. So the cap is checked on
//! the APR twice:
//! - for a product, at its worst case ([`LoanProduct::check_all_in_apr`]);
//! - for a loan, with its own amount, term, price and dates ([`check_loan_apr`]).
//!
//! The cap is met when the APR as disclosed (percent, rounded half-up to two decimals, the
//! figure the loan shows) is at most the cap.

use crate::product::{FieldError, LoanProduct, RepaymentDayRule};
use crate::schedule::{RepaymentTerms, ScheduleError, SchedulePlan};
use money::apr::{Apr, AprError};
use money::{BusinessDate, Decimal, Money, RateAnnual};

/// Why a price could not be checked against its cap, or did not meet it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    #[error(
        "the all-in APR of {apr_percent}% (unit period {unit_period}) for {principal} over \
         {term_months} months, disbursed on {disbursed_on}, is above the cap of {cap_percent}% a year"
    )]
    AboveCap {
        apr_percent: Decimal,
        unit_period: String,
        cap_percent: Decimal,
        principal: Money,
        term_months: u32,
        disbursed_on: BusinessDate,
        /// Whether the interest alone (no fee) would have met the cap: the fee then is what
        /// breaks it.
        fee_breaks_it: bool,
    },
    #[error("schedule: {0}")]
    Schedule(#[from] ScheduleError),
    #[error("APR: {0}")]
    Apr(#[from] AprError),
}

/// The all-in APR of one loan: its schedule on `disbursed_on`, the upfront fee taken off the
/// amount advanced and spread fees inside the installments.
pub fn loan_apr(
    terms: &RepaymentTerms,
    principal: Money,
    disbursed_on: BusinessDate,
) -> Result<Apr, CapError> {
    let schedule = SchedulePlan::new(*terms)?.generate(principal, disbursed_on)?;
    Ok(schedule.apr()?)
}

/// Checks one loan's all-in APR against `cap`; returns the APR when it is met.
pub fn check_loan_apr(
    terms: &RepaymentTerms,
    principal: Money,
    disbursed_on: BusinessDate,
    cap: RateAnnual,
) -> Result<Apr, CapError> {
    let apr = loan_apr(terms, principal, disbursed_on)?;
    let cap_percent = cap.fraction() * Decimal::ONE_HUNDRED;
    if apr.percent <= cap_percent {
        return Ok(apr);
    }
    let fee_breaks_it = match terms.origination_fee {
        Some(_) => {
            let interest_only = RepaymentTerms {
                origination_fee: None,
                ..*terms
            };
            loan_apr(&interest_only, principal, disbursed_on)?.percent <= cap_percent
        }
        None => false,
    };
    assert!(apr.percent > cap_percent);
    Err(CapError::AboveCap {
        apr_percent: apr.percent,
        unit_period: apr.unit_period.to_string(),
        cap_percent: cap_percent.normalize(),
        principal,
        term_months: terms.term_months,
        disbursed_on,
        fee_breaks_it,
    })
}

fn apr_of(e: &CapError) -> Decimal {
    match e {
        CapError::AboveCap { apr_percent, .. } => *apr_percent,
        _ => Decimal::ZERO,
    }
}

/// The month a product's worst case is computed in: 31 days, then 28, then 31, so a daily
/// rate's first period is a long one. Any fixed month would do; a fixed one keeps a
/// product's acceptance independent of the day it was created.
const REFERENCE_YEAR: i32 = 2025;

impl LoanProduct {
    /// The disbursement date a product's worst case is computed for: a day from which every
    /// period is a whole month (the product's fixed due day, else the 15th), so the check
    /// measures the price and not a short first period. A loan's own dates are checked at
    /// origination.
    pub fn reference_disbursement_date(&self) -> BusinessDate {
        let day = match self.repayment_day {
            RepaymentDayRule::FixedDay(day) => u32::from(day).clamp(1, 31),
            RepaymentDayRule::DisbursementDay => 15,
        };
        BusinessDate::from_ymd(REFERENCE_YEAR, 1, day).expect("January has 31 days")
    }

    /// Checks the product's all-in APR at its worst case against `rate_cap`.
    ///
    /// The rule: with a fee that is a fraction of the principal, the APR depends on the
    /// amount only through the fee's rounding to the minor unit, and falls as the term
    /// grows (the same fee is spread over more periods, and interest at the contract rate
    /// is the same per period at any term). So the worst case is at the bounds: the four
    /// loans at the smallest and largest amount and the shortest and longest term are
    /// checked, on [`Self::reference_disbursement_date`]. The one with the highest APR above the
    /// cap is returned, naming `contract_rate` when interest alone breaks the cap, else the
    /// origination fee.
    pub fn check_all_in_apr(&self) -> Result<(), (FieldError, Box<CapError>)> {
        let date = self.reference_disbursement_date();
        let mut terms_months = vec![self.term_months_min];
        if self.term_months_max != self.term_months_min {
            terms_months.push(self.term_months_max);
        }
        let mut amounts_minor = vec![self.amount_minor_min];
        if self.amount_minor_max != self.amount_minor_min {
            amounts_minor.push(self.amount_minor_max);
        }
        let mut worst: Option<CapError> = None;
        for &term in &terms_months {
            let terms = self
                .repayment_terms(term)
                .map_err(|e| (e.clone(), Box::new(CapError::Schedule(ScheduleError::Term))))?;
            for &amount_minor in &amounts_minor {
                let principal = Money::from_minor(amount_minor, self.currency);
                let e = match check_loan_apr(&terms, principal, date, self.rate_cap) {
                    Ok(_) => continue,
                    Err(e @ CapError::AboveCap { .. }) => e,
                    Err(e) => {
                        let reason = e.to_string();
                        let field = FieldError {
                            field: "contract_rate",
                            reason,
                        };
                        return Err((field, Box::new(e)));
                    }
                };
                if worst.as_ref().is_none_or(|w| apr_of(&e) > apr_of(w)) {
                    worst = Some(e);
                }
            }
        }
        if let Some(e) = worst {
            let field = match &e {
                CapError::AboveCap {
                    fee_breaks_it: true,
                    ..
                } => "origination_fee.rate",
                _ => "contract_rate",
            };
            let reason = format!("at the product's worst case, {e}");
            return Err((FieldError { field, reason }, Box::new(e)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::product::tests::cny_daily_product;
    use crate::product::{ContractRate, FeeCollection, OriginationFee};
    use money::Currency;
    use rust_decimal_macros::dec;

    fn monthly_with_fee(
        rate: &str,
        fee: Option<Decimal>,
        collection: FeeCollection,
    ) -> LoanProduct {
        let mut p = cny_daily_product();
        p.contract_rate = ContractRate::Monthly(rate.parse().unwrap());
        p.origination_fee = fee.map(|rate_fraction| OriginationFee {
            rate_fraction,
            collection,
        });
        p
    }

    #[test]
    fn an_upfront_fee_counts_against_the_cap() {
        // 1.9% a month is 22.8% a year: under a 24% cap on the contract rate alone.
        let plain = monthly_with_fee("1.9%", None, FeeCollection::Upfront);
        assert!(plain.validate().is_ok());
        assert!(plain.check_all_in_apr().is_ok());
        // 5% taken upfront on a 3-month loan makes it 54.91% (what POST /v1/apr gives).
        let p = monthly_with_fee("1.9%", Some(dec!(0.05)), FeeCollection::Upfront);
        assert!(p.validate().is_ok(), "the contract rate alone passes");
        let (field, e) = p.check_all_in_apr().unwrap_err();
        assert_eq!(field.field, "origination_fee.rate");
        let CapError::AboveCap {
            apr_percent,
            unit_period,
            term_months,
            fee_breaks_it,
            ..
        } = *e
        else {
            panic!("{e:?}")
        };
        // The worst case is the shortest term at the smallest amount, where rounding the
        // installments to the fen costs most: 54.95% on 100.00 CNY.
        assert_eq!((apr_percent, term_months), (dec!(54.95), 3));
        assert_eq!(unit_period, "month");
        assert!(fee_breaks_it);
        assert!(field.reason.contains("54.95%"), "{}", field.reason);
        assert!(field.reason.contains("100.00 CNY"), "{}", field.reason);
        assert!(field.reason.contains("24% a year"), "{}", field.reason);
        // 10,000.00 CNY over 3 months: 54.91%, the figure of the report.
        let apr = loan_apr(
            &p.repayment_terms(3).unwrap(),
            Money::from_minor(1_000_000, Currency::Cny),
            p.reference_disbursement_date(),
        )
        .unwrap();
        assert_eq!(apr.percent, dec!(54.91));
    }

    #[test]
    fn the_shortest_term_is_the_worst_case() {
        // 1.5% a month with 2% spread: fine over 12 months, too dear over 3.
        let mut p = monthly_with_fee("1.5%", Some(dec!(0.02)), FeeCollection::Spread);
        p.term_months_min = 12;
        let twelve = check_loan_apr(
            &p.repayment_terms(12).unwrap(),
            Money::from_minor(1_000_000, Currency::Cny),
            p.reference_disbursement_date(),
            p.rate_cap,
        )
        .unwrap();
        assert!(twelve.percent < dec!(24), "{twelve:?}");
        assert!(p.check_all_in_apr().is_ok());
        p.term_months_min = 3;
        let (field, e) = p.check_all_in_apr().unwrap_err();
        assert_eq!(field.field, "origination_fee.rate", "{e}");
        assert!(
            matches!(*e, CapError::AboveCap { term_months: 3, .. }),
            "{e}"
        );
    }

    #[test]
    fn a_daily_rate_at_the_simple_cap_is_above_it_all_in() {
        // 24%/360 a day meets a 24% cap as a simple rate, but a month of 31 days
        // charges 2.07%: the APR is above 24% with no fee at all, and the rate is named.
        let mut p = cny_daily_product();
        p.contract_rate =
            ContractRate::Daily(money::RateDaily::from_fraction(dec!(0.24) / dec!(360)).unwrap());
        p.term_months_min = 1;
        p.term_months_max = 1;
        let (field, e) = p.check_all_in_apr().unwrap_err();
        assert_eq!(field.field, "contract_rate", "{e}");
    }

    #[test]
    fn a_short_first_period_shows_only_at_origination() {
        // A fixed due day: the product is checked from that day, whole months; a loan
        // disbursed the day before its first due date pays a month's interest for a day.
        let mut p = monthly_with_fee("1.5%", Some(dec!(0.01)), FeeCollection::Upfront);
        p.repayment_day = RepaymentDayRule::FixedDay(1);
        p.term_months_min = 6;
        assert!(p.check_all_in_apr().is_ok());
        let terms = p.repayment_terms(6).unwrap();
        let principal = Money::from_minor(1_000_000, Currency::Cny);
        let whole = check_loan_apr(&terms, principal, "2026-01-01".parse().unwrap(), p.rate_cap);
        assert!(whole.is_ok(), "{whole:?}");
        let short = check_loan_apr(&terms, principal, "2026-01-31".parse().unwrap(), p.rate_cap);
        assert!(matches!(short, Err(CapError::AboveCap { .. })), "{short:?}");
    }
}
