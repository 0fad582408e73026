//! The overpayment credit: money paid beyond what was owed, held in the loan's
//! `Overpayment` liability. It pays what falls due next (if the contract says so), counts
//! in a payoff, and what is left goes back to the borrower by a refund.

use super::{allocate_from, AccountPurpose, Loan, LoanError, LoanStatus, Postings};
use money::{BusinessDate, Money};

/// Pays billed amounts out of the credit, in the contract's allocation order, as cash
/// would: `Overpayment → receivables`.
pub(super) fn apply_to_billed(loan: &mut Loan, out: &mut Postings) {
    let credit_minor = loan.overpayment_credit_minor;
    if credit_minor == 0 {
        return;
    }
    let left_minor = allocate_from(loan, AccountPurpose::Overpayment, credit_minor, out);
    assert!(
        (0..=credit_minor).contains(&left_minor),
        "the credit pays at most itself"
    );
    loan.overpayment_credit_minor = left_minor;
}

/// Pays `amount` of the credit back to the borrower: `Overpayment → BorrowerCash`.
pub(super) fn refund(
    loan: &mut Loan,
    amount: Money,
    as_of: BusinessDate,
    out: &mut Postings,
) -> Result<(), LoanError> {
    let amount_minor = loan.check_amount(amount)?;
    if loan.status == LoanStatus::Signed {
        return loan.require(LoanStatus::Active);
    }
    loan.require_day(as_of)?;
    let credit_minor = loan.overpayment_credit_minor;
    if amount_minor > credit_minor {
        return Err(LoanError::RefundAboveCredit { credit_minor });
    }
    loan.overpayment_credit_minor = credit_minor - amount_minor;
    out.push(
        AccountPurpose::Overpayment,
        AccountPurpose::BorrowerCash,
        amount_minor,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{advance_to, cny, config, d, disbursed, post, sum_of};
    use super::super::*;
    use crate::product::OverpaymentCredit;
    use AccountPurpose::*;

    fn run(loan: &Loan, command: Command) -> (Loan, Vec<PostingIntent>) {
        apply(loan, &command, loan.business_date).unwrap()
    }

    fn repay(loan: &Loan, amount_minor: i64) -> (Loan, Vec<PostingIntent>) {
        run(
            loan,
            Command::Repay {
                amount: cny(amount_minor),
            },
        )
    }

    /// 50.00 paid before the first bill, then the first installment (343,383) less those
    /// 50.00 on its due date: the borrower owes nothing, so the day after is current.
    #[test]
    fn credit_pays_the_next_installment_on_its_due_date() {
        let mut loan = disbursed(config());
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-01-20", &mut journal);
        let (mut loan, postings) = repay(&loan, 5_000);
        assert_eq!(postings, vec![post(BorrowerCash, Overpayment, 5_000)]);
        assert_eq!(loan.overpayment_credit_minor, 5_000);
        advance_to(&mut loan, "2026-02-15", &mut journal);
        assert_eq!(sum_of(&journal, Overpayment, InterestReceivable), 5_000);
        assert_eq!(loan.overpayment_credit_minor, 0);
        assert_eq!(loan.installments[0].outstanding_total(), 343_383 - 5_000);
        let (mut loan, _) = repay(&loan, 343_383 - 5_000);
        advance_to(&mut loan, "2026-02-20", &mut journal);
        assert_eq!(loan.dpd, 0);
        assert_eq!(loan.classification(), Classification::Normal);
        assert_eq!(sum_of(&journal, PenaltyReceivable, PenaltyIncome), 0);
        assert_eq!(sum_of(&journal, FeeReceivable, FeeIncome), 0);
    }

    /// A credit larger than an installment pays it whole and the rest waits for the next.
    #[test]
    fn credit_beyond_an_installment_carries_to_the_next() {
        let loan = disbursed(config());
        let (mut loan, _) = repay(&loan, 400_000);
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-02-16", &mut journal);
        assert_eq!(loan.installments[0].outstanding_total(), 0);
        assert_eq!(loan.overpayment_credit_minor, 400_000 - 343_383);
        assert_eq!(loan.dpd, 0);
        advance_to(&mut loan, "2026-03-15", &mut journal);
        assert_eq!(loan.overpayment_credit_minor, 0);
        assert_eq!(
            loan.installments[1].outstanding_total(),
            333_973 + 9_410 - (400_000 - 343_383)
        );
    }

    /// Under `Hold` the credit waits for a refund or a payoff, and the installment goes
    /// past due as the contract says.
    #[test]
    fn a_held_credit_is_not_applied() {
        let mut c = config();
        c.overpayment_credit = OverpaymentCredit::Hold;
        let (mut loan, _) = repay(&disbursed(c), 5_000);
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-02-15", &mut journal);
        let (mut loan, _) = repay(&loan, 343_383 - 5_000);
        advance_to(&mut loan, "2026-02-16", &mut journal);
        assert_eq!(loan.overpayment_credit_minor, 5_000);
        assert_eq!(loan.dpd, 1);
        assert_eq!(sum_of(&journal, Overpayment, InterestReceivable), 0);
    }

    /// The quote is net of the credit, a payoff of the quote closes the loan with no
    /// liability left, and the quote holds under either rule.
    #[test]
    fn the_payoff_quote_counts_the_credit() {
        for rule in [OverpaymentCredit::ApplyToNextDue, OverpaymentCredit::Hold] {
            let mut c = config();
            c.overpayment_credit = rule;
            let loan = disbursed(c);
            let before = payoff_minor(&loan).unwrap();
            let (loan, _) = repay(&loan, 5_000);
            let quote = payoff_minor(&loan).unwrap();
            assert_eq!(quote, before - 5_000, "{rule:?}");
            assert_eq!(
                apply(
                    &loan,
                    &Command::PrepayFull {
                        amount: cny(quote - 1)
                    },
                    loan.business_date
                ),
                Err(LoanError::InsufficientForPayoff {
                    required_minor: quote
                })
            );
            let (paid, postings) = run(&loan, Command::PrepayFull { amount: cny(quote) });
            assert_eq!(paid.status, LoanStatus::PaidOff);
            assert_eq!(paid.overpayment_credit_minor, 0);
            let used: i64 = postings
                .iter()
                .filter(|p| p.debit == Overpayment)
                .map(|p| p.amount_minor)
                .sum();
            assert_eq!(used, 5_000, "{rule:?}");
            assert!(postings.iter().all(|p| p.credit != Overpayment));
        }
    }

    /// A credit that covers the payoff: nothing new is needed and the rest stays refundable.
    #[test]
    fn a_payoff_out_of_credit_alone() {
        let loan = disbursed(config());
        let owed = payoff_minor(&loan).unwrap();
        let (loan, _) = repay(&loan, owed + 700);
        assert_eq!(payoff_minor(&loan), Ok(0));
        let (paid, _) = run(&loan, Command::PrepayFull { amount: cny(0) });
        assert_eq!(paid.status, LoanStatus::PaidOff);
        assert_eq!(paid.overpayment_credit_minor, 700);
    }

    /// What is left after payoff is refunded to the borrower, never more than the credit.
    #[test]
    fn a_refund_returns_the_credit_after_payoff() {
        let loan = disbursed(config());
        let owed = payoff_minor(&loan).unwrap();
        let (paid, _) = run(
            &loan,
            Command::PrepayFull {
                amount: cny(owed + 1_234),
            },
        );
        assert_eq!(paid.status, LoanStatus::PaidOff);
        assert_eq!(paid.overpayment_credit_minor, 1_234);
        let refund = |l: &Loan, amount_minor| {
            apply(
                l,
                &Command::Refund {
                    amount: cny(amount_minor),
                },
                l.business_date,
            )
        };
        assert_eq!(
            refund(&paid, 1_235),
            Err(LoanError::RefundAboveCredit {
                credit_minor: 1_234
            })
        );
        assert!(matches!(refund(&paid, 0), Err(LoanError::Amount(_))));
        let (part, postings) = refund(&paid, 1_000).unwrap();
        assert_eq!(postings, vec![post(Overpayment, BorrowerCash, 1_000)]);
        let (rest, _) = refund(&part, 234).unwrap();
        assert_eq!(rest.overpayment_credit_minor, 0);
        assert_eq!(
            refund(&Loan::signed(config(), d("2026-01-15")), 1),
            Err(LoanError::Status {
                expected: LoanStatus::Active,
                actual: LoanStatus::Signed
            })
        );
    }

    /// Credit paying the last installment closes the loan on its due date.
    #[test]
    fn credit_can_pay_a_loan_off() {
        let loan = disbursed(config());
        let (mut loan, _) = repay(&loan, 2_000_000);
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-04-15", &mut journal);
        assert_eq!(loan.status, LoanStatus::PaidOff);
        let scheduled: i64 = 343_383 + 333_973 + 9_410 + 338_144 + 5_241;
        assert_eq!(loan.overpayment_credit_minor, 2_000_000 - scheduled);
    }
}
