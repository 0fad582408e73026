use super::*;
use crate::product::tests::cny_daily_product;
use crate::product::{FeeCollection, OriginationFee};
use money::Currency;
use proptest::prelude::*;
use rust_decimal_macros::dec;
use std::collections::BTreeMap;
use AccountPurpose::*;

pub(super) fn d(s: &str) -> BusinessDate {
    s.parse().unwrap()
}

pub(super) fn cny(amount_minor: i64) -> Money {
    Money::from_minor(amount_minor, Currency::Cny)
}

pub(super) fn post(
    debit: AccountPurpose,
    credit: AccountPurpose,
    amount_minor: i64,
) -> PostingIntent {
    PostingIntent {
        debit,
        credit,
        amount_minor,
    }
}

/// 10,000.00 CNY, 3 months at 0.05%/day, penalty 1.5× (0.075%/day), grace 3 days, late
/// fee 10.00, written off at 90 DPD. Schedule (see the schedule tests): due Feb 15,
/// Mar 15, Apr 15 2026; (principal, interest) = (327,883, 15,500), (333,973, 9,410),
/// (338,144, 5,241).
pub(super) fn config() -> LoanConfig {
    let mut product = cny_daily_product();
    product.late_fee_minor = 1_000;
    LoanConfig::from_product(&product, cny(1_000_000), 3, 90).unwrap()
}

pub(super) fn disbursed(config: LoanConfig) -> Loan {
    let signed = Loan::signed(config, d("2026-01-15"));
    apply(&signed, &Command::Disburse { payee: None }, d("2026-01-15"))
        .unwrap()
        .0
}

/// Advances day by day through `to`, returning the postings of every day.
pub(super) fn advance_to(loan: &mut Loan, to: &str, journal: &mut Vec<PostingIntent>) {
    while loan.business_date < d(to) {
        let next = loan.business_date.succ();
        let (state, postings) = apply(loan, &Command::AdvanceDay, next).unwrap();
        *loan = state;
        journal.extend(postings);
    }
}

pub(super) fn sum_of(
    journal: &[PostingIntent],
    debit: AccountPurpose,
    credit: AccountPurpose,
) -> i64 {
    journal
        .iter()
        .filter(|p| p.debit == debit && p.credit == credit)
        .map(|p| p.amount_minor)
        .sum()
}

#[test]
fn an_invalid_product_cannot_sign_a_loan() {
    let mut product = cny_daily_product();
    product.grace_days = 99;
    let refused = LoanConfig::from_product(&product, cny(1_000_000), 3, 90);
    assert!(matches!(refused, Err(LoanError::Product(reason)) if reason.starts_with("grace_days")));
    let product = cny_daily_product();
    let too_long = LoanConfig::from_product(&product, cny(1_000_000), 24, 90);
    assert!(
        matches!(too_long, Err(LoanError::Product(reason)) if reason.starts_with("term_months"))
    );
}

#[test]
fn disbursement_goes_to_the_borrower_or_the_named_payee() {
    let loan = disbursed(config());
    assert_eq!(loan.status, LoanStatus::Active);
    assert_eq!(loan.installments.len(), 3);
    let signed = Loan::signed(config(), d("2026-01-15"));
    let (_, postings) =
        apply(&signed, &Command::Disburse { payee: None }, d("2026-01-15")).unwrap();
    assert_eq!(
        postings,
        [post(PrincipalReceivable, BorrowerCash, 1_000_000)]
    );

    // 60,000.00 is above the 50,000.00 entrusted-payment threshold.
    let mut big = config();
    big.principal = cny(6_000_000);
    let signed = Loan::signed(big, d("2026-01-15"));
    let refused = apply(&signed, &Command::Disburse { payee: None }, d("2026-01-15"));
    assert_eq!(
        refused,
        Err(LoanError::PayeeRequired {
            threshold_minor: 5_000_000
        })
    );
    let payee = Some(PayeeAccount("merchant-42".into()));
    let (_, postings) = apply(&signed, &Command::Disburse { payee }, d("2026-01-15")).unwrap();
    assert_eq!(
        postings,
        [post(PrincipalReceivable, PayeeSettlement, 6_000_000)]
    );

    // A second disbursement is refused.
    let again = apply(
        &disbursed(config()),
        &Command::Disburse { payee: None },
        d("2026-01-15"),
    );
    assert!(matches!(again, Err(LoanError::Status { .. })));
}

#[test]
fn upfront_fee_is_withheld_from_the_payout() {
    let mut c = config();
    c.repayment.origination_fee = Some(OriginationFee {
        rate_fraction: dec!(0.01),
        collection: FeeCollection::Upfront,
    });
    let signed = Loan::signed(c, d("2026-01-15"));
    let (_, postings) =
        apply(&signed, &Command::Disburse { payee: None }, d("2026-01-15")).unwrap();
    assert_eq!(
        postings,
        [
            post(PrincipalReceivable, BorrowerCash, 990_000),
            post(PrincipalReceivable, FeeIncome, 10_000)
        ]
    );
}

#[test]
fn daily_accrual_carries_the_remainder_and_meets_the_schedule_on_the_due_date() {
    let mut loan = disbursed(config());
    let mut journal = Vec::new();
    advance_to(&mut loan, "2026-02-14", &mut journal);
    // 15,500 over 31 days is exactly 500 a day.
    assert!(journal
        .iter()
        .all(|p| *p == post(AccruedInterest, InterestIncome, 500)));
    assert_eq!(journal.len(), 30);
    journal.clear();
    // The due date accrues its day and bills: the period's interest moves from the
    // accrued account to the loan's receivable.
    advance_to(&mut loan, "2026-02-15", &mut journal);
    assert_eq!(sum_of(&journal, AccruedInterest, InterestIncome), 500);
    assert_eq!(
        sum_of(&journal, InterestReceivable, AccruedInterest),
        15_500
    );
    journal.clear();
    // 9,410 over 28 days is 336.07… a day: 336 most days, the remainder adds a unit
    // now and then (after k days exactly floor(9,410 k / 28) is recognised), and the
    // due date tops the period up to exactly 9,410.
    for k in 1..=27i64 {
        let next = loan.business_date.succ();
        let (state, postings) = apply(&loan, &Command::AdvanceDay, next).unwrap();
        loan = state;
        assert_eq!(loan.installments[1].interest_accrued_minor, 9_410 * k / 28);
        let interest = sum_of(&postings, AccruedInterest, InterestIncome);
        assert!(interest == 336 || interest == 337, "{interest}");
    }
    advance_to(&mut loan, "2026-03-15", &mut journal);
    assert_eq!(loan.installments[1].interest_accrued_minor, 9_410);
    assert_eq!(loan.interest_accrued_unbilled_minor(), 0);
    // Days move one at a time.
    let skipped = apply(&loan, &Command::AdvanceDay, d("2026-03-17"));
    assert_eq!(
        skipped,
        Err(LoanError::Date {
            expected: d("2026-03-16"),
            got: d("2026-03-17")
        })
    );
}

#[test]
fn buckets_tile_the_days_past_due() {
    let mut next = 0;
    for b in DelinquencyBucket::ALL {
        let (min, max) = b.dpd_range();
        assert_eq!(min, next, "{b:?} starts where the previous ends");
        assert_eq!(delinquency_bucket(min), b);
        match max {
            Some(max) => {
                assert_eq!(delinquency_bucket(max), b);
                next = max + 1;
            }
            None => assert_eq!(delinquency_bucket(u32::MAX), b),
        }
    }
    assert_eq!(delinquency_bucket(30), DelinquencyBucket::M1);
    assert_eq!(delinquency_bucket(31), DelinquencyBucket::M2);
    assert_eq!(delinquency_bucket(91), DelinquencyBucket::M4Plus);
}

#[test]
fn installment_falls_due_then_dpd_bucket_and_classification_follow() {
    let mut loan = disbursed(config());
    let mut journal = Vec::new();
    advance_to(&mut loan, "2026-02-14", &mut journal);
    assert!(!loan.installments[0].billed);
    assert_eq!(loan.outstanding_minor(Component::Principal), 0);
    advance_to(&mut loan, "2026-02-15", &mut journal);
    assert!(loan.installments[0].billed);
    assert_eq!(loan.outstanding_minor(Component::Principal), 327_883);
    assert_eq!(
        (loan.dpd, loan.bucket(), loan.classification()),
        (0, DelinquencyBucket::M0, Classification::Normal)
    );
    advance_to(&mut loan, "2026-02-16", &mut journal);
    assert_eq!(
        (loan.dpd, loan.bucket(), loan.classification()),
        (1, DelinquencyBucket::M1, Classification::SpecialMention)
    );
    advance_to(&mut loan, "2026-03-18", &mut journal);
    assert_eq!((loan.dpd, loan.bucket()), (31, DelinquencyBucket::M2));
    advance_to(&mut loan, "2026-04-17", &mut journal);
    assert_eq!((loan.dpd, loan.bucket()), (61, DelinquencyBucket::M3));
    for (dpd, bucket, class) in [
        (90, DelinquencyBucket::M3, Classification::SpecialMention),
        (91, DelinquencyBucket::M4Plus, Classification::Substandard),
        (271, DelinquencyBucket::M4Plus, Classification::Doubtful),
        (361, DelinquencyBucket::M4Plus, Classification::Loss),
    ] {
        assert_eq!(
            (delinquency_bucket(dpd), classification(dpd)),
            (bucket, class),
            "{dpd}"
        );
    }
}

#[test]
fn penalty_and_late_fee_start_after_the_grace_days() {
    let mut loan = disbursed(config());
    let mut journal = Vec::new();
    advance_to(&mut loan, "2026-02-18", &mut journal); // 3 days late: still in grace
    assert_eq!(sum_of(&journal, PenaltyReceivable, PenaltyIncome), 0);
    assert_eq!(sum_of(&journal, FeeReceivable, FeeIncome), 0);
    journal.clear();
    advance_to(&mut loan, "2026-02-19", &mut journal);
    // 327,883 × 0.075% = 245.91225: 245 posted, 0.91225 carried.
    assert_eq!(sum_of(&journal, PenaltyReceivable, PenaltyIncome), 245);
    assert_eq!(loan.installments[0].penalty_carry, dec!(0.91225));
    assert_eq!(sum_of(&journal, FeeReceivable, FeeIncome), 1_000);
    journal.clear();
    advance_to(&mut loan, "2026-02-20", &mut journal);
    assert_eq!(sum_of(&journal, PenaltyReceivable, PenaltyIncome), 246);
    assert_eq!(
        sum_of(&journal, FeeReceivable, FeeIncome),
        0,
        "late fee is charged once"
    );

    // Compounding also charges penalty on the overdue interest: 343,383 × 0.075%.
    let mut c = config();
    c.penalty_compounds = true;
    let mut loan = disbursed(c);
    let mut journal = Vec::new();
    advance_to(&mut loan, "2026-02-19", &mut journal);
    assert_eq!(sum_of(&journal, PenaltyReceivable, PenaltyIncome), 257);
    assert_eq!(loan.installments[0].penalty_carry, dec!(0.53725));
}

#[test]
fn repayment_follows_the_allocation_order() {
    let mut loan = disbursed(config());
    let mut journal = Vec::new();
    advance_to(&mut loan, "2026-02-20", &mut journal); // penalty 245 + 246, late fee 1,000
    let (after, postings) = apply(
        &loan,
        &Command::Repay { amount: cny(2_000) },
        d("2026-02-20"),
    )
    .unwrap();
    // Penalty first (491), then fee (1,000), then interest (509 of 15,500).
    assert_eq!(
        postings,
        [
            post(BorrowerCash, PenaltyReceivable, 491),
            post(BorrowerCash, FeeReceivable, 1_000),
            post(BorrowerCash, InterestReceivable, 509),
        ]
    );
    assert_eq!(after.dpd, 5);
    // Paying the rest of installment 1 brings the loan current.
    let rest = after.installments[0].outstanding_total();
    let (current, _) = apply(
        &after,
        &Command::Repay { amount: cny(rest) },
        d("2026-02-20"),
    )
    .unwrap();
    assert_eq!((current.dpd, current.bucket()), (0, DelinquencyBucket::M0));
    assert!(matches!(
        apply(&after, &Command::Repay { amount: cny(1) }, d("2026-02-21")),
        Err(LoanError::Date { .. })
    ));
}

#[test]
fn component_first_clears_interest_of_every_installment_before_principal() {
    let mut c = config();
    c.allocation_order.scope = AllocationScope::ComponentFirst;
    c.grace_days = 30; // keep penalties and late fees out of this test
    let mut loan = disbursed(c);
    let mut journal = Vec::new();
    advance_to(&mut loan, "2026-03-15", &mut journal); // two installments billed
    let (after, postings) = apply(
        &loan,
        &Command::Repay {
            amount: cny(30_000),
        },
        d("2026-03-15"),
    )
    .unwrap();
    assert_eq!(
        postings,
        [
            post(BorrowerCash, InterestReceivable, 24_910),
            post(BorrowerCash, PrincipalReceivable, 5_090)
        ]
    );
    assert_eq!(after.installments[1].outstanding(Component::Interest), 0);
    assert_eq!(
        after.installments[0].outstanding(Component::Principal),
        327_883 - 5_090
    );
}

#[test]
fn paying_every_installment_closes_the_loan_and_excess_is_overpayment() {
    let mut loan = disbursed(config());
    let mut journal = Vec::new();
    for (due, total) in [
        ("2026-02-15", 343_383),
        ("2026-03-15", 343_383),
        ("2026-04-15", 343_385),
    ] {
        advance_to(&mut loan, due, &mut journal);
        let extra = if due == "2026-04-15" { 100 } else { 0 };
        let (state, postings) = apply(
            &loan,
            &Command::Repay {
                amount: cny(total + extra),
            },
            d(due),
        )
        .unwrap();
        loan = state;
        journal.extend(postings);
    }
    assert_eq!(loan.status, LoanStatus::PaidOff);
    assert_eq!(sum_of(&journal, BorrowerCash, Overpayment), 100);
    assert_eq!(
        sum_of(&journal, BorrowerCash, PrincipalReceivable),
        1_000_000
    );
    assert_eq!(sum_of(&journal, BorrowerCash, InterestReceivable), 30_151);
    assert_eq!(sum_of(&journal, AccruedInterest, InterestIncome), 30_151);
    assert_eq!(
        sum_of(&journal, InterestReceivable, AccruedInterest),
        30_151
    );
    // A closed loan follows the calendar without posting.
    let (_, postings) = apply(&loan, &Command::AdvanceDay, d("2026-04-16")).unwrap();
    assert!(postings.is_empty());
}

#[test]
fn write_off_at_the_configured_dpd_takes_receivables_off_the_books() {
    let mut loan = disbursed(config());
    let mut journal = Vec::new();
    advance_to(&mut loan, "2026-05-15", &mut journal); // 89 DPD
    assert_eq!(loan.status, LoanStatus::Active);
    let principal = loan.principal_outstanding_minor();
    let interest = loan.interest_recognised_unpaid_minor();
    let penalty = loan.outstanding_minor(Component::Penalty);
    let fee = loan.outstanding_minor(Component::Fee);
    journal.clear();
    advance_to(&mut loan, "2026-05-16", &mut journal); // 90 DPD
    assert_eq!(loan.status, LoanStatus::WrittenOff);
    assert_eq!(loan.classification(), Classification::Loss);
    assert_eq!(principal, 1_000_000);
    assert_eq!(interest, 30_151);
    assert_eq!(
        sum_of(&journal, WriteOffExpense, PrincipalReceivable),
        principal
    );
    assert_eq!(
        sum_of(&journal, InterestIncome, InterestReceivable),
        interest
    );
    assert_eq!(loan.written_off.get(Component::Fee), fee);
    assert_eq!(sum_of(&journal, FeeIncome, FeeReceivable), fee);
    let today_penalty = sum_of(&journal, PenaltyReceivable, PenaltyIncome);
    assert_eq!(
        sum_of(&journal, PenaltyIncome, PenaltyReceivable),
        penalty + today_penalty
    );
    // Later cash cannot settle booked receivables: it waits in suspense.
    let (_, postings) = apply(
        &loan,
        &Command::Repay { amount: cny(5_000) },
        d("2026-05-16"),
    )
    .unwrap();
    assert_eq!(postings, [post(BorrowerCash, Suspense, 5_000)]);
}

#[test]
fn full_prepayment_pays_principal_and_interest_accrued_so_far() {
    let mut loan = disbursed(config());
    let mut journal = Vec::new();
    advance_to(&mut loan, "2026-02-15", &mut journal);
    let (paid, _) = apply(
        &loan,
        &Command::Repay {
            amount: cny(343_383),
        },
        d("2026-02-15"),
    )
    .unwrap();
    loan = paid;
    advance_to(&mut loan, "2026-02-25", &mut journal);
    // 10 days of 9,410 / 28 = 3,360.71… → 3,360 recognised so far.
    assert_eq!(loan.installments[1].interest_accrued_minor, 3_360);
    let required = payoff_minor(&loan).unwrap();
    assert_eq!(required, 672_117 + 3_360);
    let short = apply(
        &loan,
        &Command::PrepayFull {
            amount: cny(required - 1),
        },
        d("2026-02-25"),
    );
    assert_eq!(
        short,
        Err(LoanError::InsufficientForPayoff {
            required_minor: required
        })
    );
    let (closed, postings) = apply(
        &loan,
        &Command::PrepayFull {
            amount: cny(required),
        },
        d("2026-02-25"),
    )
    .unwrap();
    assert_eq!(closed.status, LoanStatus::PaidOff);
    // Interest before principal, as the allocation order says.
    assert_eq!(
        postings,
        [
            post(InterestReceivable, AccruedInterest, 3_360),
            post(BorrowerCash, InterestReceivable, 3_360),
            post(BorrowerCash, PrincipalReceivable, 672_117)
        ]
    );
    assert_eq!(closed.installments.len(), 2);
}

mod prepay;
mod props;

#[test]
fn a_recovery_reduces_the_written_off_claim_principal_first_and_never_beyond_it() {
    let mut loan = disbursed(config());
    let mut journal = Vec::new();
    advance_to(&mut loan, "2026-05-16", &mut journal); // written off at 90 DPD
    assert_eq!(loan.status, LoanStatus::WrittenOff);
    let claim = loan.written_off;
    let claim_minor: i64 = COMPONENTS.iter().map(|&c| claim.get(c)).sum();
    let principal = claim.get(Component::Principal);
    let active = disbursed(config());
    let refused = apply(
        &active,
        &Command::Recover { amount: cny(100) },
        d("2026-01-15"),
    );
    assert!(
        matches!(refused, Err(LoanError::Status { .. })),
        "{refused:?}"
    );
    let (part, postings) = apply(
        &loan,
        &Command::Recover {
            amount: cny(principal + 1),
        },
        d("2026-05-16"),
    )
    .unwrap();
    assert_eq!(
        postings,
        [post(BorrowerCash, RecoveryIncome, principal + 1)]
    );
    assert_eq!(part.written_off.get(Component::Principal), 0);
    assert_eq!(
        part.written_off.get(Component::Interest),
        claim.get(Component::Interest) - 1
    );
    let left_minor = claim_minor - principal - 1;
    let too_much = apply(
        &part,
        &Command::Recover {
            amount: cny(left_minor + 1),
        },
        d("2026-05-16"),
    );
    assert_eq!(
        too_much.unwrap_err(),
        LoanError::RecoveryAboveClaim {
            claim_minor: left_minor
        }
    );
    let (all, _) = apply(
        &part,
        &Command::Recover {
            amount: cny(left_minor),
        },
        d("2026-05-16"),
    )
    .unwrap();
    assert!(COMPONENTS.iter().all(|&c| all.written_off.get(c) == 0));
    assert_eq!(all.status, LoanStatus::WrittenOff);
}
