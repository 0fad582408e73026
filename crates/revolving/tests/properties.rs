//! Random command sequences over ~400 days: the ledger implied by the postings matches the
//! line after every step, splits conserve minor units, and a borrower who always pays in
//! full by the due date is never charged interest or penalty.

mod support;

use money::{Currency, Decimal, RoundingMode};
use proptest::prelude::*;
use revolving::{Command, FeePayer, LineEvent, LineStatus, Purpose, Terms};
use support::{d, Sim};

#[derive(Clone, Debug)]
enum Op {
    Capture(u32),
    Refund(u32, bool),
    Repay(u32),
    ConvertPurchase(u32, usize, bool),
    ConvertStatement(usize),
    ChangeLimit(u32),
    GrantTemporary(u32, u8),
    Hold(u32),
    Freeze,
    Unfreeze,
    RefundOverpayment(u32),
}

/// A share (in 1/1000) of a base, at least 1.
fn share(base: i64, per_mille: u32) -> i64 {
    (base.max(1) * i64::from(per_mille) / 1000).max(1)
}

/// `repay_weight` (at least 1) sets how diligent the borrower is: at 1 the line mostly goes
/// delinquent; at 6 it is mostly paid ahead.
fn op(repay_weight: u32) -> impl Strategy<Value = Op> {
    let per_mille = 0u32..=1100;
    prop_oneof![
        6 => per_mille.clone().prop_map(Op::Capture),
        2 => (per_mille.clone(), any::<bool>()).prop_map(|(p, plan)| Op::Refund(p, plan)),
        repay_weight => (0u32..=400).prop_map(Op::Repay),
        1 => per_mille.clone().prop_map(Op::Repay),
        2 => (per_mille.clone(), 0usize..4, any::<bool>()).prop_map(|(p, m, merchant)| Op::ConvertPurchase(p, m, merchant)),
        1 => (0usize..4).prop_map(Op::ConvertStatement),
        1 => (0u32..=2000).prop_map(Op::ChangeLimit),
        1 => (per_mille.clone(), 1u8..60).prop_map(|(p, days)| Op::GrantTemporary(p, days)),
        1 => per_mille.prop_map(Op::Hold),
        1 => Just(Op::Freeze),
        1 => Just(Op::Unfreeze),
        1 => (0u32..=1100).prop_map(Op::RefundOverpayment),
    ]
}

fn days_of_ops(repay_weight: u32) -> impl Strategy<Value = Vec<Vec<Op>>> {
    proptest::collection::vec(proptest::collection::vec(op(repay_weight), 0..3), 380..420)
}

fn months(index: usize) -> u32 {
    [3, 6, 12, 5][index] // 5 is not offered
}

fn plan_id(n: u64) -> [u8; 16] {
    let mut id = [0; 16];
    id[..8].copy_from_slice(&n.to_be_bytes());
    id
}

fn command(sim: &Sim, op: &Op, next_plan: &mut u64) -> Command {
    let line = &sim.line;
    match *op {
        Op::Capture(p) => Command::Capture {
            amount_minor: share(line.available_posted_minor(), p),
        },
        Op::Refund(p, with_plan) => {
            let plan_id = line.plans.last().filter(|_| with_plan).map(|plan| plan.id);
            let refundable = line.unbilled_principal_minor + line.billed_principal_minor;
            Command::Refund {
                amount_minor: share(refundable + 1, p),
                plan_id,
            }
        }
        Op::Repay(p) => Command::Repay {
            amount_minor: share(line.payoff_minor(), p),
        },
        Op::ConvertPurchase(p, m, merchant) => {
            *next_plan += 1;
            Command::ConvertPurchase {
                plan_id: plan_id(*next_plan),
                amount_minor: share(line.unbilled_principal_minor, p),
                months: months(m),
                fee_payer: if merchant {
                    FeePayer::Merchant
                } else {
                    FeePayer::Borrower
                },
            }
        }
        Op::ConvertStatement(m) => {
            *next_plan += 1;
            Command::ConvertStatement {
                plan_id: plan_id(*next_plan),
                months: months(m),
            }
        }
        Op::ChangeLimit(p) => Command::ChangeLimit {
            limit_minor: share(line.limit_minor, p) - 1,
            free_minor: sim.free(),
            reason: "test".into(),
        },
        Op::GrantTemporary(p, days) => Command::GrantTemporary {
            amount_minor: share(line.limit_minor, p),
            expires_on: line.business_date.add_days(i64::from(days)).unwrap(),
            free_minor: sim.free(),
            reason: "test".into(),
        },
        Op::Hold(_) | Op::Freeze => Command::Freeze {
            reason: "test".into(),
        },
        Op::Unfreeze => Command::Unfreeze {
            reason: "test".into(),
        },
        // Sometimes more than the overpayment, to be refused.
        Op::RefundOverpayment(p) => Command::RefundOverpayment {
            amount_minor: share(line.overpayment_minor + 1, p),
        },
    }
}

/// New plans split principal and fee without losing a minor unit.
fn check_new_plans(sim: &Sim, from_event: usize) {
    for event in &sim.events[from_event..] {
        let LineEvent::PlanCreated { plan } = event else {
            continue;
        };
        assert_eq!(
            plan.principal_parts_minor.iter().sum::<i64>(),
            plan.principal_minor
        );
        let exact = Decimal::from(plan.principal_minor) * plan.fee_rate;
        let fee = RoundingMode::HalfEven.round_minor(exact).unwrap();
        assert_eq!(plan.fee_total_minor(), fee);
        let parts_max = plan.principal_parts_minor.iter().max().unwrap();
        let parts_min = plan.principal_parts_minor.iter().min().unwrap();
        assert!(parts_max - parts_min <= 1, "{plan:?}");
    }
}

fn terms(statement_day: u32, due_day: u32) -> Terms {
    let due_day = if due_day == statement_day {
        statement_day % 28 + 1
    } else {
        due_day
    };
    Terms {
        statement_day,
        due_day,
        ..Terms::standard(Currency::Cny)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn postings_always_agree_with_the_line(
        statement_day in 1u32..=28,
        due_day in 1u32..=28,
        limit in 1i64..=5_000_000,
        days in (1u32..=6).prop_flat_map(days_of_ops),
        close_on in proptest::option::of(300usize..420),
    ) {
        let mut sim = Sim::open(terms(statement_day, due_day), limit, "2024-01-20");
        let mut next_plan = 0;
        for (day, ops) in days.iter().enumerate() {
            for op in ops {
                if let Op::Hold(p) = op {
                    // Pending holds only narrow what a decrease can take at once.
                    sim.held_minor = share(sim.line.available_posted_minor(), *p).min(sim.line.available_posted_minor());
                    continue;
                }
                let events_before = sim.events.len();
                let command = command(&sim, op, &mut next_plan);
                let _ = sim.try_apply(command); // refusals are checked to change nothing
                check_new_plans(&sim, events_before);
            }
            if close_on == Some(day) {
                let _ = sim.try_apply(Command::Close { free_minor: sim.free(), reason: "test".into() });
            }
            sim.held_minor = sim.held_minor.min(sim.line.available_posted_minor());
            sim.advance();
        }
        // Every statement the line still keeps is consistent with its parts.
        for s in &sim.line.statements {
            let sum = s.revolving_principal_minor + s.installment_principal_minor
                + s.installment_fee_minor + s.interest_minor + s.penalty_minor;
            prop_assert_eq!(s.total_minor, sum);
        }
        if sim.line.status == LineStatus::Closed {
            prop_assert_eq!(sim.line.limit_total_minor(), 0);
        }
    }

    #[test]
    fn paying_every_statement_in_full_by_its_due_date_is_free(
        statement_day in 1u32..=28,
        due_day in 1u32..=28,
        days in days_of_ops(1),
        pay_early_by in 0i64..12,
    ) {
        let mut sim = Sim::open(terms(statement_day, due_day), 2_000_000, "2024-01-20");
        let mut next_plan = 0;
        for ops in &days {
            for op in ops {
                let keep = matches!(op, Op::Capture(_) | Op::Refund(..) | Op::ConvertPurchase(..) | Op::ConvertStatement(_));
                if keep {
                    let command = command(&sim, op, &mut next_plan);
                    let _ = sim.try_apply(command);
                }
            }
            pay_what_is_due(&mut sim, pay_early_by);
            sim.advance();
            prop_assert_eq!((sim.line.interest_minor, sim.line.penalty_minor, sim.line.dpd), (0, 0, 0));
        }
        prop_assert_eq!(sim.journal.total(Purpose::InterestReceivable, Purpose::InterestIncome), 0);
        prop_assert_eq!(sim.journal.total(Purpose::PenaltyReceivable, Purpose::PenaltyIncome), 0);
        let today = sim.line.business_date;
        let past_due = sim.events.iter().filter(|e| matches!(
            e,
            LineEvent::StatementIssued { statement } if statement.due_date < today
        )).count();
        prop_assert!(past_due >= 11);
        prop_assert_eq!(sim.line.on_time_streak as usize, past_due);
    }
}

/// Pays the latest statement's remainder `early_by` days before its due date (or on
/// the due date if the statement came later than that).
fn pay_what_is_due(sim: &mut Sim, early_by: i64) {
    let Some(s) = sim.line.statements.last() else {
        return;
    };
    let today = sim.line.business_date;
    let pay_on = s
        .due_date
        .add_days(-early_by)
        .unwrap()
        .max(s.statement_date);
    let owed = s.total_minor - s.paid_minor;
    if today == pay_on && owed > 0 {
        sim.repay(owed);
    }
}

#[test]
fn the_property_helpers_pick_valid_terms() {
    for statement_day in 1..=28 {
        for due_day in 1..=28 {
            assert_eq!(terms(statement_day, due_day).validate(), Ok(()));
        }
    }
    assert_eq!(d("2024-01-20").day(), 20);
}
