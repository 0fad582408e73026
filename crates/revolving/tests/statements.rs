//! Statements, due dates, the interest-free period, interest, penalty and the minimum.
// Amounts are written as yuan_fen (1_000_00 is 1,000.00) so they read as money.
#![allow(clippy::inconsistent_digit_grouping)]

mod support;

use money::Currency;
use revolving::line::due_date;
use revolving::{Command, FeePayer, LineError, LineEvent, Purpose, Terms};
use support::{d, Sim};

fn terms_with_days(statement_day: u32, due_day: u32) -> Terms {
    Terms {
        statement_day,
        due_day,
        ..Terms::standard(Currency::Cny)
    }
}

#[test]
fn due_dates_cross_month_and_year_ends() {
    let standard = terms_with_days(1, 10);
    assert_eq!(due_date(&standard, d("2025-02-01")), d("2025-02-10"));
    let late_cut = terms_with_days(25, 5);
    assert_eq!(due_date(&late_cut, d("2024-12-25")), d("2025-01-05"));
    assert_eq!(due_date(&late_cut, d("2024-01-25")), d("2024-02-05"));
    let day_before = terms_with_days(28, 27);
    assert_eq!(due_date(&day_before, d("2024-01-28")), d("2024-02-27"));
    assert_eq!(due_date(&day_before, d("2024-12-28")), d("2025-01-27"));
    let end_of_feb = terms_with_days(20, 28);
    assert_eq!(due_date(&end_of_feb, d("2023-02-20")), d("2023-02-28"));
}

#[test]
fn a_statement_covers_purchases_before_its_day_only() {
    let mut sim = Sim::standard(10_000_00, "2025-01-15");
    sim.capture(1_000_00);
    sim.advance_to("2025-01-31");
    sim.capture(200_00);
    sim.advance_to("2025-02-01");
    sim.capture(50_00); // on the statement day: next cycle
    let s = sim.latest().clone();
    assert_eq!(
        (s.seq, s.period_start, s.statement_date),
        (1, d("2025-01-15"), d("2025-02-01"))
    );
    assert_eq!(s.due_date, d("2025-02-10"));
    assert_eq!(s.revolving_principal_minor, 1_200_00);
    assert_eq!((s.total_minor, s.min_payment_minor), (1_200_00, 120_00));
    assert_eq!(s.utilization_bp, 1_200);
    assert_eq!(sim.line.unbilled_principal_minor, 50_00);
    assert!(sim
        .events
        .iter()
        .any(|e| matches!(e, LineEvent::StatementIssued { statement } if statement.seq == 1)));
    sim.advance_to("2025-03-01");
    assert_eq!(sim.latest().period_start, d("2025-02-01"));
    assert_eq!(sim.latest().seq, 2);
}

#[test]
fn statements_follow_a_late_statement_day_over_the_year_end() {
    let mut sim = Sim::open(terms_with_days(25, 5), 10_000_00, "2024-12-01");
    sim.capture(300_00);
    sim.advance_to("2024-12-25");
    assert_eq!(sim.latest().due_date, d("2025-01-05"));
    sim.repay(300_00);
    sim.advance_to("2025-01-25");
    assert_eq!(
        sim.line.statements.len(),
        1,
        "the settled statement is dropped once flagged"
    );
    assert_eq!(sim.latest().seq, 2);
    assert_eq!(sim.latest().due_date, d("2025-02-05"));
    assert_eq!(sim.line.on_time_streak, 1);
}

#[test]
fn a_statement_paid_in_full_by_its_due_date_costs_no_interest() {
    let mut sim = Sim::standard(10_000_00, "2025-01-15");
    sim.capture(1_000_00);
    sim.advance_to("2025-02-10");
    sim.repay(1_000_00);
    assert!(sim.events.iter().any(
        |e| matches!(e, LineEvent::StatementSettled { seq: 1, on } if *on == d("2025-02-10"))
    ));
    sim.advance_to("2025-05-20");
    assert_eq!(
        (
            sim.line.interest_minor,
            sim.line.penalty_minor,
            sim.line.dpd
        ),
        (0, 0, 0)
    );
    assert_eq!(
        sim.journal
            .total(Purpose::InterestReceivable, Purpose::InterestIncome),
        0
    );
    assert_eq!(
        sim.journal
            .total(Purpose::PenaltyReceivable, Purpose::PenaltyIncome),
        0
    );
    let first = sim.events.iter().find_map(|e| match e {
        LineEvent::StatementIssued { statement } if statement.seq == 1 => Some(statement.clone()),
        _ => None,
    });
    assert_eq!(first.map(|s| s.total_minor), Some(1_000_00));
}

/// 1,000.00 billed on Feb 1, the 100.00 minimum paid on Feb 5, nothing else.
/// Interest: 900.00 × 0.05% = 0.45 a day from Feb 11; Mar 1's statement bills the 19 days
/// (8.55), and the 900.00 keeps accruing until Mar 10 (9 more days) as the Feb statement
/// is still unpaid. Mar's minimum is 90.00 + 8.55 = 98.55; unpaid by Mar 10, so from Mar 11
/// penalty runs on 98.55 × 0.05% = 0.049275 → 0.05 a day and DPD starts.
#[test]
fn revolving_interest_and_penalty_match_a_hand_computation() {
    let mut sim = Sim::standard(10_000_00, "2025-01-15");
    sim.capture(1_000_00);
    sim.advance_to("2025-02-05");
    sim.repay(100_00);
    sim.advance_to("2025-02-10");
    assert_eq!(sim.line.interest_minor, 0);
    sim.advance_to("2025-02-11");
    assert_eq!(sim.line.statements[0].paid_in_full_on_time, Some(false));
    assert_eq!(sim.line.statements[0].min_paid_on_time, Some(true));
    assert_eq!(
        (
            sim.line.interest_minor,
            sim.line.penalty_minor,
            sim.line.dpd
        ),
        (45, 0, 0)
    );
    sim.advance_to("2025-03-01");
    let march = sim.latest().clone();
    assert_eq!(march.interest_minor, 8_55);
    assert_eq!(march.revolving_principal_minor, 900_00);
    assert_eq!(
        (march.total_minor, march.min_payment_minor),
        (908_55, 98_55)
    );
    sim.advance_to("2025-03-10");
    assert_eq!(sim.line.interest_minor, 12_60);
    sim.advance_to("2025-03-11");
    assert_eq!(
        (
            sim.line.interest_minor,
            sim.line.penalty_minor,
            sim.line.dpd
        ),
        (13_05, 5, 1)
    );
    assert_eq!(sim.line.on_time_streak, 0);
    sim.advance_to("2025-03-14");
    assert_eq!((sim.line.penalty_minor, sim.line.dpd), (20, 4));
    // Interest and penalty accrued since the cut are paid first (allocation order), so
    // ending the delinquency takes them plus the statement's minimum; a cent less does not.
    let since_cut = sim.line.interest_minor - march.interest_minor + sim.line.penalty_minor;
    sim.repay(march.min_payment_minor + since_cut - 1);
    assert_eq!(sim.line.dpd, 4);
    sim.repay(1);
    assert_eq!(sim.line.dpd, 0);
    let interest_before = sim.line.interest_minor;
    sim.advance();
    assert_eq!(sim.line.penalty_minor, 0);
    assert!(sim.line.interest_minor > interest_before);
}

#[test]
fn the_minimum_adds_installment_parts_fees_interest_and_penalty_and_rounds_up() {
    let mut sim = Sim::standard(10_000_00, "2025-01-15");
    sim.capture(300_00);
    sim.run(Command::ConvertPurchase {
        plan_id: [7; 16],
        amount_minor: 300_00,
        months: 3,
        fee_payer: FeePayer::Borrower,
    });
    sim.capture(123_45);
    sim.advance_to("2025-02-01");
    let s = sim.latest().clone();
    assert_eq!(s.revolving_principal_minor, 123_45);
    assert_eq!(
        (s.installment_principal_minor, s.installment_fee_minor),
        (100_00, 2_50)
    );
    // ceil(12.345) = 12.35, plus the part and its fee.
    assert_eq!(s.min_payment_minor, 12_35 + 100_00 + 2_50);
    assert_eq!(s.total_minor, 123_45 + 100_00 + 2_50);
    assert_eq!(
        sim.journal
            .total(Purpose::FeeReceivable, Purpose::FeeIncome),
        2_50
    );
    // Utilization counts the unbilled parts of the plan too.
    assert_eq!(s.utilization_bp, (123_45 + 300_00) * 10_000 / 10_000_00);
}

#[test]
fn the_minimum_is_capped_at_the_total() {
    let mut sim = Sim::open(
        Terms {
            min_payment_rate: rust_decimal_macros::dec!(1),
            ..Terms::standard(Currency::Cny)
        },
        10_000_00,
        "2025-01-15",
    );
    sim.capture(10_01);
    sim.advance_to("2025-02-01");
    assert_eq!(sim.latest().min_payment_minor, 10_01);
}

#[test]
fn an_overpayment_pays_the_next_statement_at_its_cut() {
    let mut sim = Sim::standard(10_000_00, "2025-01-15");
    sim.capture(100_00);
    let outcome = sim.repay(150_00);
    assert!(outcome.events.contains(&LineEvent::PaymentAllocated {
        amount_minor: 150_00,
        penalty_minor: 0,
        interest_minor: 0,
        fee_minor: 0,
        principal_minor: 100_00,
        overpayment_minor: 50_00,
    }));
    sim.capture(80_00);
    sim.advance_to("2025-02-01");
    let s = sim.latest().clone();
    assert_eq!((s.total_minor, s.paid_minor), (80_00, 50_00));
    assert_eq!(sim.line.overpayment_minor, 0);
    assert_eq!(
        sim.journal
            .total(Purpose::Overpayment, Purpose::PrincipalReceivable),
        50_00
    );
    sim.repay(30_00);
    sim.advance_to("2025-03-01");
    assert_eq!(sim.line.interest_minor, 0);
}

#[test]
fn commands_must_be_on_the_business_date() {
    let sim = Sim::standard(1_000_00, "2025-01-15");
    let capture = Command::Capture { amount_minor: 1 };
    let refused = revolving::apply(&sim.line, &capture, d("2025-01-16"));
    assert_eq!(
        refused,
        Err(LineError::Date {
            expected: d("2025-01-15"),
            got: d("2025-01-16")
        })
    );
    let advance = Command::AdvanceDay { free_minor: 0 };
    let refused = revolving::apply(&sim.line, &advance, d("2025-01-15"));
    assert_eq!(
        refused,
        Err(LineError::Date {
            expected: d("2025-01-16"),
            got: d("2025-01-15")
        })
    );
}
