//! Limit changes, shortfall, temporary limits, statuses and the dynamic-limit rules.
// Amounts are written as yuan_fen (1_000_00 is 1,000.00) so they read as money.
#![allow(clippy::inconsistent_digit_grouping)]

mod support;

use revolving::limits::{on_signal, review, RAISE_REASON};
use revolving::{Command, LimitRules, LineError, LineEvent, LineStatus, Purpose, RiskSignal};
use rust_decimal_macros::dec;
use support::{d, Sim};

fn change(sim: &mut Sim, limit_minor: i64) {
    let free_minor = sim.free();
    sim.run(Command::ChangeLimit {
        limit_minor,
        free_minor,
        reason: "ops".into(),
    });
}

#[test]
fn opening_grants_the_limit_into_available() {
    let sim = Sim::standard(1_000_00, "2025-01-15");
    assert_eq!(
        sim.journal.total(Purpose::LimitPool, Purpose::Available),
        1_000_00
    );
    assert!(matches!(
        sim.events[0],
        LineEvent::LimitChanged {
            new_limit_minor: 1_000_00,
            ..
        }
    ));
}

#[test]
fn a_decrease_below_use_leaves_a_shortfall_that_repayments_fill_first() {
    let mut sim = Sim::standard(1_000_00, "2025-01-15");
    sim.capture(800_00);
    change(&mut sim, 500_00);
    assert_eq!(
        (sim.line.shortfall_minor, sim.line.available_posted_minor()),
        (300_00, 0)
    );
    assert_eq!(
        sim.journal.total(Purpose::Available, Purpose::LimitPool),
        200_00
    );
    let refused = sim.try_apply(Command::Capture { amount_minor: 1 });
    assert!(matches!(refused, Err(LineError::TooLarge { .. })));
    sim.repay(400_00);
    assert_eq!(
        (sim.line.shortfall_minor, sim.line.available_posted_minor()),
        (0, 100_00)
    );
    assert_eq!(sim.journal.total(Purpose::Used, Purpose::LimitPool), 300_00);
    assert_eq!(sim.journal.total(Purpose::Used, Purpose::Available), 100_00);
}

#[test]
fn an_increase_cancels_the_shortfall_before_adding_to_available() {
    let mut sim = Sim::standard(1_000_00, "2025-01-15");
    sim.capture(800_00);
    change(&mut sim, 500_00);
    change(&mut sim, 900_00);
    assert_eq!(
        (sim.line.shortfall_minor, sim.line.available_posted_minor()),
        (0, 100_00)
    );
    assert_eq!(
        sim.journal.total(Purpose::LimitPool, Purpose::Available),
        1_000_00 + 100_00
    );
}

#[test]
fn a_decrease_held_up_by_pending_holds_is_taken_when_they_release() {
    let mut sim = Sim::standard(1_000_00, "2025-01-15");
    sim.held_minor = 600_00;
    change(&mut sim, 500_00);
    assert_eq!(
        (sim.line.shortfall_minor, sim.line.available_posted_minor()),
        (100_00, 600_00)
    );
    sim.advance();
    assert_eq!(sim.line.shortfall_minor, 100_00, "still held");
    sim.held_minor = 0;
    sim.advance();
    assert_eq!(
        (sim.line.shortfall_minor, sim.line.available_posted_minor()),
        (0, 500_00)
    );
}

#[test]
fn a_temporary_limit_expires_as_a_decrease() {
    let mut sim = Sim::standard(1_000_00, "2025-01-15");
    let free_minor = sim.free();
    sim.run(Command::GrantTemporary {
        amount_minor: 500_00,
        expires_on: d("2025-01-20"),
        free_minor,
        reason: "holiday".into(),
    });
    assert_eq!(sim.line.limit_total_minor(), 1_500_00);
    sim.capture(1_200_00);
    sim.advance_to("2025-01-19");
    assert_eq!(sim.line.limit_total_minor(), 1_500_00);
    let outcome = sim.advance();
    assert_eq!(sim.line.temp_limit, None);
    assert_eq!(
        (sim.line.shortfall_minor, sim.line.available_posted_minor()),
        (200_00, 0)
    );
    assert!(outcome.events.iter().any(|e| matches!(
        e,
        LineEvent::LimitChanged {
            old_temp_minor: 500_00,
            new_temp_minor: 0,
            ..
        }
    )));
    let past = sim.try_apply(Command::GrantTemporary {
        amount_minor: 1,
        expires_on: d("2025-01-20"),
        free_minor: 0,
        reason: "late".into(),
    });
    assert!(matches!(past, Err(LineError::Invalid(_))));
}

#[test]
fn frozen_and_closed_lines_take_no_purchases_but_take_repayments() {
    let mut sim = Sim::standard(1_000_00, "2025-01-15");
    sim.capture(300_00);
    sim.run(Command::Freeze {
        reason: "review".into(),
    });
    let refused = sim.try_apply(Command::Capture { amount_minor: 1 });
    assert_eq!(
        refused,
        Err(LineError::Status {
            status: LineStatus::Frozen
        })
    );
    sim.repay(100_00);
    sim.run(Command::Unfreeze {
        reason: "cleared".into(),
    });
    sim.capture(1);
    let free_minor = sim.free();
    sim.run(Command::Close {
        free_minor,
        reason: "customer".into(),
    });
    assert_eq!(
        (sim.line.status, sim.line.limit_total_minor()),
        (LineStatus::Closed, 0)
    );
    assert_eq!(sim.line.available_posted_minor(), 0);
    let refused = sim.try_apply(Command::Capture { amount_minor: 1 });
    assert_eq!(
        refused,
        Err(LineError::Status {
            status: LineStatus::Closed
        })
    );
    sim.repay(200_01);
    assert_eq!(
        (sim.line.used_minor, sim.line.available_posted_minor()),
        (0, 0)
    );
    let reopen = sim.try_apply(Command::Unfreeze {
        reason: "no".into(),
    });
    assert!(matches!(reopen, Err(LineError::Status { .. })));
}

/// Three statements paid in full on time at 80% use earn a 20% raise. The raise itself
/// drops the next statement below 70% (the old purchase against the new limit), so the
/// streak starts again and the second raise comes three statements later.
#[test]
fn the_raise_rule_needs_the_streak_and_spacing() {
    let rules = LimitRules::default();
    let mut sim = Sim::standard(1_000_00, "2024-12-15");
    let mut raised_on = Vec::new();
    while sim.line.business_date < d("2025-08-12") {
        sim.advance();
        let today = sim.line.business_date;
        if today.day() == 2 {
            let owed = sim.latest().total_minor - sim.latest().paid_minor;
            if owed > 0 {
                sim.repay(owed);
            }
            let amount = sim.line.limit_total_minor() * 8 / 10;
            sim.capture(amount);
        }
        if let Some(command) = review(&sim.line, &rules, today, sim.free()) {
            raised_on.push(today);
            sim.run(command);
        }
    }
    // Jan 1 is empty; Feb 1, Mar 1 and Apr 1 are at 80%, the third flagged on Apr 11.
    assert_eq!(raised_on, vec![d("2025-04-11"), d("2025-08-11")]);
    assert_eq!(sim.line.limit_minor, 1_440_00);
    assert_eq!(sim.line.last_raise_on, Some(d("2025-08-11")));
    assert!(sim
        .events
        .iter()
        .any(|e| matches!(e, LineEvent::LimitChanged { reason, .. } if reason == RAISE_REASON)));
}

#[test]
fn raises_are_spaced_out_even_when_the_streak_goes_on() {
    let rules = LimitRules::default();
    let mut sim = Sim::standard(1_000_00, "2025-01-15");
    sim.capture(900_00);
    sim.advance_to("2025-02-05");
    sim.repay(900_00);
    sim.advance_to("2025-02-11");
    assert_eq!(sim.line.high_use_on_time_streak, 1);
    let mut line = sim.line.clone();
    assert_eq!(
        review(&line, &rules, d("2025-02-11"), 0),
        None,
        "streak too short"
    );
    line.high_use_on_time_streak = 5;
    line.last_raise_on = Some(d("2024-11-14"));
    assert_eq!(
        review(&line, &rules, d("2025-02-11"), 0),
        None,
        "89 days after a raise"
    );
    line.last_raise_on = Some(d("2024-11-13"));
    let raise = review(&line, &rules, d("2025-02-11"), 0);
    assert!(matches!(
        raise,
        Some(Command::ChangeLimit {
            limit_minor: 1_200_00,
            ..
        })
    ));
    line.limit_minor = 4_500_000;
    let capped = review(&line, &rules, d("2025-02-11"), 0);
    assert!(matches!(
        capped,
        Some(Command::ChangeLimit {
            limit_minor: 5_000_000,
            ..
        })
    ));
    line.limit_minor = 5_000_000;
    assert_eq!(
        review(&line, &rules, d("2025-02-11"), 0),
        None,
        "at the maximum"
    );
}

#[test]
fn delinquency_lowers_the_limit_once_then_freezes() {
    let rules = LimitRules::default();
    let mut sim = Sim::standard(1_000_00, "2025-01-15");
    sim.capture(400_00);
    let mut commands = Vec::new();
    sim.advance_to("2025-02-10");
    while sim.line.business_date < d("2025-03-20") {
        sim.advance();
        if let Some(command) = review(&sim.line, &rules, sim.line.business_date, sim.free()) {
            commands.push((sim.line.business_date, command.clone()));
            sim.run(command);
        }
    }
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert_eq!(commands[0].0, d("2025-02-11"));
    assert!(matches!(
        &commands[0].1,
        Command::ChangeLimit {
            limit_minor: 400_00,
            ..
        }
    ));
    assert_eq!(commands[1].0, d("2025-03-12"));
    assert!(matches!(&commands[1].1, Command::Freeze { .. }));
    assert_eq!(sim.line.status, LineStatus::Frozen);
}

#[test]
fn risk_signals_become_commands() {
    let sim = Sim::standard(1_000_00, "2025-01-15");
    let lower = RiskSignal::Lower {
        fraction: dec!(0.25),
        reason: "bureau".into(),
    };
    assert!(matches!(
        on_signal(&sim.line, &lower, 0),
        Command::ChangeLimit {
            limit_minor: 750_00,
            ..
        }
    ));
    let freeze = RiskSignal::Freeze {
        reason: "fraud".into(),
    };
    assert!(matches!(
        on_signal(&sim.line, &freeze, 0),
        Command::Freeze { .. }
    ));
}
