//! Full and partial prepayment, and the schedule after it.

use super::*;

/// Paid installment 1 on Feb 15, then advanced to Feb 25: 3,360 of interest accrued.
fn loan_on_feb_25(c: LoanConfig) -> Loan {
    let mut loan = disbursed(c);
    let mut journal = Vec::new();
    advance_to(&mut loan, "2026-02-15", &mut journal);
    loan = apply(
        &loan,
        &Command::Repay {
            amount: cny(343_383),
        },
        d("2026-02-15"),
    )
    .unwrap()
    .0;
    advance_to(&mut loan, "2026-02-25", &mut journal);
    loan
}

fn prepay(loan: &Loan, amount_minor: i64) -> Result<(Loan, Vec<PostingIntent>), LoanError> {
    apply(
        loan,
        &Command::PrepayPartial {
            amount: cny(amount_minor),
        },
        d("2026-02-25"),
    )
}

fn shape(loan: &Loan) -> Vec<(u32, BusinessDate, i64, i64)> {
    loan.installments
        .iter()
        .map(|i| {
            (
                i.scheduled.number,
                i.scheduled.due_date,
                i.scheduled.principal_minor,
                i.scheduled.interest_minor,
            )
        })
        .collect()
}

#[test]
fn partial_prepayment_shortening_the_term() {
    let loan = loan_on_feb_25(config());
    let (after, postings) = prepay(&loan, 403_360).unwrap();
    assert_eq!(
        postings,
        [
            post(InterestReceivable, AccruedInterest, 3_360),
            post(BorrowerCash, InterestReceivable, 3_360),
            post(BorrowerCash, PrincipalReceivable, 400_000)
        ]
    );
    // 272,117 left; the kept installment of 343,383 clears it on Mar 15 (18 days of
    // interest: 2,449), so Apr 15 is gone.
    assert_eq!(
        shape(&after),
        [
            (1, d("2026-02-15"), 327_883, 15_500),
            (2, d("2026-02-25"), 400_000, 3_360),
            (3, d("2026-03-15"), 272_117, 2_449),
        ]
    );
    let mut loan = after;
    let mut journal = Vec::new();
    advance_to(&mut loan, "2026-03-15", &mut journal);
    assert_eq!(sum_of(&journal, AccruedInterest, InterestIncome), 2_449);
    let (closed, _) = apply(
        &loan,
        &Command::Repay {
            amount: cny(274_566),
        },
        d("2026-03-15"),
    )
    .unwrap();
    assert_eq!(closed.status, LoanStatus::PaidOff);
}

#[test]
fn partial_prepayment_lowering_the_installment_with_a_fee() {
    let mut c = config();
    c.prepayment.partial_effect = PartialPrepaymentEffect::LowerInstallment;
    c.prepayment.fee_rate_fraction = dec!(0.01);
    let loan = loan_on_feb_25(c);
    // 400,000 after interest: 396,039 principal + 3,960 fee (1%, half-up) = 399,999,
    // the most principal whose fee still fits; the last unit is an overpayment.
    let (after, postings) = prepay(&loan, 403_360).unwrap();
    assert_eq!(
        postings,
        [
            post(InterestReceivable, AccruedInterest, 3_360),
            post(FeeReceivable, FeeIncome, 3_960),
            post(BorrowerCash, FeeReceivable, 3_960),
            post(BorrowerCash, InterestReceivable, 3_360),
            post(BorrowerCash, PrincipalReceivable, 396_039),
            post(BorrowerCash, Overpayment, 1),
        ]
    );
    let remaining: Vec<BusinessDate> = after.installments[2..]
        .iter()
        .map(|i| i.scheduled.due_date)
        .collect();
    assert_eq!(remaining, [d("2026-03-15"), d("2026-04-15")]);
    assert_eq!(after.principal_outstanding_minor(), 672_117 - 396_039);
    assert!(after.installments[2].scheduled.total_minor < 343_383);
}

#[test]
fn partial_prepayment_limits() {
    let loan = loan_on_feb_25(config());
    assert_eq!(
        prepay(&loan, 3_360 + 9_999),
        Err(LoanError::PartialBelowMinimum {
            minimum_minor: 10_000
        })
    );
    assert_eq!(
        prepay(&loan, 3_360 + 672_117),
        Err(LoanError::PartialCoversAll)
    );
    let mut c = config();
    c.prepayment.partial_allowed = false;
    assert_eq!(
        prepay(&loan_on_feb_25(c), 403_360),
        Err(LoanError::PrepaymentNotAllowed)
    );
}
