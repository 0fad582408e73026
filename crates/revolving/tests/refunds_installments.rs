//! Refunds and installment conversions.
// Amounts are written as yuan_fen (1_000_00 is 1,000.00) so they read as money.
#![allow(clippy::inconsistent_digit_grouping)]

mod support;

use revolving::{Command, FeePayer, LineError, LineEvent, Purpose};
use rust_decimal_macros::dec;
use support::Sim;

#[test]
fn a_refund_before_the_statement_takes_the_purchase_back_and_frees_the_limit() {
    let mut sim = Sim::standard(1_000_00, "2025-01-15");
    sim.capture(500_00);
    sim.run(Command::Refund {
        amount_minor: 200_00,
        plan_id: None,
    });
    assert_eq!(
        (sim.line.unbilled_principal_minor, sim.line.used_minor),
        (300_00, 300_00)
    );
    assert_eq!(sim.line.available_posted_minor(), 700_00);
    assert_eq!(
        sim.journal
            .total(Purpose::MerchantPayable, Purpose::PrincipalReceivable),
        200_00
    );
    assert_eq!(sim.journal.total(Purpose::Used, Purpose::Available), 200_00);
}

#[test]
fn a_refund_after_the_statement_corrects_it() {
    let mut sim = Sim::standard(10_000_00, "2025-01-15");
    sim.capture(1_000_00);
    sim.advance_to("2025-02-03");
    sim.capture(50_00);
    sim.run(Command::Refund {
        amount_minor: 450_00,
        plan_id: None,
    });
    let s = sim.latest().clone();
    assert_eq!(sim.line.unbilled_principal_minor, 0);
    assert_eq!(sim.line.billed_principal_minor, 600_00);
    assert_eq!(
        (
            s.revolving_principal_minor,
            s.total_minor,
            s.min_payment_minor
        ),
        (600_00, 600_00, 60_00)
    );
    sim.repay(600_00);
    assert!(sim
        .events
        .iter()
        .any(|e| matches!(e, LineEvent::StatementSettled { seq: 1, .. })));
    sim.advance_to("2025-03-02");
    assert_eq!(sim.line.interest_minor, 0);
}

#[test]
fn a_refund_of_principal_already_repaid_becomes_a_credit_balance() {
    let mut sim = Sim::standard(1_000_00, "2025-01-15");
    sim.capture(100_00);
    sim.run(Command::Repay {
        amount_minor: 60_00,
    });
    assert_eq!(sim.line.unbilled_principal_minor, 40_00);
    sim.run(Command::Refund {
        amount_minor: 100_00,
        plan_id: None,
    });
    assert_eq!(sim.line.principal_outstanding_minor(), 0);
    assert_eq!(sim.line.overpayment_minor, 60_00);
    assert_eq!(sim.line.used_minor, 0);
    assert_eq!(sim.line.payoff_minor(), -60_00);
    let unknown = sim.try_apply(Command::Refund {
        amount_minor: 1,
        plan_id: Some([9; 16]),
    });
    assert!(matches!(unknown, Err(LineError::Invalid(_))));
}

/// The credit balance goes back to the borrower, never more than it holds, also after the
/// line is closed.
#[test]
fn an_overpayment_is_refunded_to_the_borrower() {
    let mut sim = Sim::standard(1_000_00, "2025-01-15");
    sim.capture(100_00);
    sim.run(Command::Repay {
        amount_minor: 160_00,
    });
    assert_eq!(sim.line.overpayment_minor, 60_00);
    let too_much = sim.try_apply(Command::RefundOverpayment {
        amount_minor: 60_01,
    });
    assert!(
        matches!(
            too_much,
            Err(LineError::TooLarge {
                field: "amount_minor",
                max: 60_00,
                ..
            })
        ),
        "{too_much:?}"
    );
    sim.run(Command::RefundOverpayment {
        amount_minor: 10_00,
    });
    assert_eq!(sim.line.overpayment_minor, 50_00);
    assert_eq!(
        sim.journal
            .total(Purpose::Overpayment, Purpose::BorrowerCash),
        10_00
    );
    sim.run(Command::Close {
        free_minor: sim.line.available_posted_minor(),
        reason: "customer left".to_string(),
    });
    sim.run(Command::RefundOverpayment {
        amount_minor: 50_00,
    });
    assert_eq!(
        (sim.line.overpayment_minor, sim.line.payoff_minor()),
        (0, 0)
    );
    assert!(sim.events.contains(&LineEvent::OverpaymentRefunded {
        amount_minor: 50_00
    }));
}

#[test]
fn a_refund_reaches_the_unbilled_parts_of_the_plan_named() {
    let mut sim = Sim::standard(10_000_00, "2025-01-15");
    sim.capture(300_00);
    sim.run(Command::ConvertPurchase {
        plan_id: [1; 16],
        amount_minor: 300_00,
        months: 3,
        fee_payer: FeePayer::Borrower,
    });
    sim.advance_to("2025-02-01");
    sim.run(Command::Refund {
        amount_minor: 150_00,
        plan_id: Some([1; 16]),
    });
    let plan = &sim.line.plans[0];
    assert_eq!(plan.principal_parts_minor, vec![100_00, 50_00, 0]);
    assert_eq!(plan.fee_parts_minor, vec![2_50, 2_50, 0]);
    assert_eq!(sim.line.used_minor, 150_00);
}

#[test]
fn converting_a_purchase_bills_a_part_and_its_fee_each_statement() {
    let mut sim = Sim::standard(10_000_00, "2025-01-15");
    sim.capture(1_000_00);
    let outcome = sim.run(Command::ConvertPurchase {
        plan_id: [2; 16],
        amount_minor: 1_000_00,
        months: 12,
        fee_payer: FeePayer::Borrower,
    });
    let LineEvent::PlanCreated { plan } = &outcome.events[0] else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        (plan.fee_total_minor(), plan.apr_percent),
        (88_00, dec!(15.86))
    );
    assert_eq!(plan.principal_parts_minor[0], 83_34);
    assert!(
        outcome.postings.is_empty(),
        "the principal stays receivable as it was"
    );
    assert_eq!(sim.line.unbilled_principal_minor, 0);
    for month in ["2025-02-01", "2025-03-01", "2025-04-01"] {
        sim.advance_to(month);
        let s = sim.latest().clone();
        assert_eq!(
            (
                s.installment_principal_minor,
                s.installment_fee_minor,
                s.total_minor
            ),
            (83_34, 7_34, 90_68)
        );
        sim.repay(s.total_minor);
    }
    assert_eq!(sim.line.plans[0].billed_parts, 3);
    assert_eq!(
        sim.journal
            .total(Purpose::FeeReceivable, Purpose::FeeIncome),
        3 * 7_34
    );
    assert_eq!(sim.line.principal_outstanding_minor(), 1_000_00 - 3 * 83_34);
    assert_eq!(sim.line.interest_minor, 0);
    let payoff = sim.line.payoff_minor();
    assert_eq!(payoff, 1_000_00 - 3 * 83_34 + 88_00 - 3 * 7_34);
}

#[test]
fn a_merchant_paid_plan_costs_the_borrower_nothing() {
    let mut sim = Sim::standard(10_000_00, "2025-01-15");
    sim.capture(300_00);
    let outcome = sim.run(Command::ConvertPurchase {
        plan_id: [3; 16],
        amount_minor: 300_00,
        months: 3,
        fee_payer: FeePayer::Merchant,
    });
    assert_eq!(outcome.postings.len(), 1);
    assert_eq!(
        sim.journal
            .total(Purpose::MerchantPayable, Purpose::FeeIncome),
        7_50
    );
    assert_eq!(sim.line.plans[0].apr_percent, dec!(0));
    sim.advance_to("2025-02-01");
    assert_eq!(sim.latest().installment_fee_minor, 0);
    assert_eq!(sim.latest().total_minor, 100_00);
}

#[test]
fn conversions_check_the_term_the_amount_and_the_status() {
    let mut sim = Sim::standard(10_000_00, "2025-01-15");
    sim.capture(100_00);
    let convert = |months, amount_minor| Command::ConvertPurchase {
        plan_id: [4; 16],
        amount_minor,
        months,
        fee_payer: FeePayer::Borrower,
    };
    assert_eq!(
        sim.try_apply(convert(24, 100_00)),
        Err(LineError::TermNotOffered {
            months: 24,
            offered: vec![3, 6, 12]
        })
    );
    assert!(matches!(
        sim.try_apply(convert(3, 100_01)),
        Err(LineError::TooLarge { .. })
    ));
    assert!(matches!(
        sim.try_apply(convert(3, 0)),
        Err(LineError::NotPositive { .. })
    ));
    sim.run(convert(3, 60_00));
    assert!(
        matches!(sim.try_apply(convert(3, 40_00)), Err(LineError::Invalid(_))),
        "plan id reused"
    );
    sim.run(Command::Freeze {
        reason: "test".into(),
    });
    let refused = sim.try_apply(Command::ConvertPurchase {
        plan_id: [5; 16],
        amount_minor: 40_00,
        months: 3,
        fee_payer: FeePayer::Borrower,
    });
    assert!(matches!(refused, Err(LineError::Status { .. })));
}

#[test]
fn converting_a_statement_settles_it_and_moves_its_principal_into_parts() {
    let mut sim = Sim::standard(10_000_00, "2025-01-15");
    sim.capture(1_000_00);
    sim.advance_to("2025-02-03");
    sim.repay(100_00);
    sim.run(Command::ConvertStatement {
        plan_id: [6; 16],
        months: 3,
    });
    let s = sim.latest().clone();
    assert_eq!(
        (s.revolving_principal_minor, s.total_minor, s.paid_minor),
        (100_00, 100_00, 100_00)
    );
    assert_eq!(sim.line.billed_principal_minor, 0);
    let plan = &sim.line.plans[0];
    assert_eq!(
        (plan.principal_minor, plan.fee_total_minor()),
        (900_00, 22_50)
    );
    assert!(sim
        .events
        .iter()
        .any(|e| matches!(e, LineEvent::StatementSettled { seq: 1, .. })));
    let again = sim.try_apply(Command::ConvertStatement {
        plan_id: [7; 16],
        months: 3,
    });
    assert!(matches!(again, Err(LineError::Invalid(_))));
    sim.advance_to("2025-03-01");
    assert_eq!(
        sim.line.interest_minor, 0,
        "a converted statement is not revolving"
    );
    let march = sim.latest().clone();
    assert_eq!(
        (
            march.installment_principal_minor,
            march.installment_fee_minor
        ),
        (300_00, 7_50)
    );
    assert_eq!(march.min_payment_minor, march.total_minor);
}

#[test]
fn a_statement_cannot_be_converted_after_its_due_date() {
    let mut sim = Sim::standard(10_000_00, "2025-01-15");
    sim.capture(1_000_00);
    sim.advance_to("2025-02-11");
    let late = sim.try_apply(Command::ConvertStatement {
        plan_id: [8; 16],
        months: 3,
    });
    assert!(matches!(late, Err(LineError::Invalid(_))));
}
