//! A ledger model for tests: books every posting (and the shell's capture hold) and
//! checks the balances against the line after each step.
#![allow(dead_code)]

use money::{BusinessDate, Currency};
use revolving::{
    apply, Command, Line, LineError, LineEvent, Outcome, PostingIntent, Purpose, Terms,
};
use std::collections::BTreeMap;

pub fn d(text: &str) -> BusinessDate {
    text.parse().unwrap()
}

/// Balances, debit positive.
#[derive(Default, Debug)]
pub struct Journal {
    pub balances: BTreeMap<Purpose, i64>,
    pub postings: Vec<PostingIntent>,
}

impl Journal {
    pub fn book(&mut self, postings: &[PostingIntent]) {
        for p in postings {
            assert!(p.amount_minor > 0, "non-positive posting {p:?}");
            assert_ne!(p.debit, p.credit, "posting to itself {p:?}");
            *self.balances.entry(p.debit).or_default() += p.amount_minor;
            *self.balances.entry(p.credit).or_default() -= p.amount_minor;
            self.postings.push(*p);
        }
    }

    pub fn debit_balance(&self, purpose: Purpose) -> i64 {
        self.balances.get(&purpose).copied().unwrap_or(0)
    }

    pub fn credit_balance(&self, purpose: Purpose) -> i64 {
        -self.debit_balance(purpose)
    }

    /// Everything ever booked from `debit` to `credit`.
    pub fn total(&self, debit: Purpose, credit: Purpose) -> i64 {
        self.postings
            .iter()
            .filter(|p| p.debit == debit && p.credit == credit)
            .map(|p| p.amount_minor)
            .sum()
    }

    /// The ledger agrees with the line: receivables, overpayment and the limit memo.
    pub fn check(&self, line: &Line) {
        let r = |p| self.debit_balance(p);
        assert_eq!(
            r(Purpose::PrincipalReceivable),
            line.principal_outstanding_minor(),
            "principal"
        );
        assert_eq!(
            r(Purpose::InterestReceivable),
            line.interest_minor,
            "interest"
        );
        assert_eq!(r(Purpose::PenaltyReceivable), line.penalty_minor, "penalty");
        assert_eq!(r(Purpose::FeeReceivable), line.fee_minor, "fee");
        assert_eq!(
            self.credit_balance(Purpose::Overpayment),
            line.overpayment_minor,
            "overpayment"
        );
        assert_eq!(
            self.credit_balance(Purpose::Available),
            line.available_posted_minor(),
            "available"
        );
        assert_eq!(self.credit_balance(Purpose::Used), line.used_minor, "used");
        assert!(line.available_posted_minor() >= 0, "available below zero");
        for value in [
            line.used_minor,
            line.shortfall_minor,
            line.unbilled_principal_minor,
            line.billed_principal_minor,
            line.billed_installment_principal_minor,
            line.fee_minor,
            line.interest_minor,
            line.penalty_minor,
            line.overpayment_minor,
        ] {
            assert!(value >= 0, "negative balance in {line:?}");
        }
        assert_eq!(
            line.used_minor,
            line.principal_outstanding_minor(),
            "used is principal"
        );
        for plan in &line.plans {
            assert_eq!(
                plan.principal_parts_minor.iter().sum::<i64>(),
                plan.principal_minor
            );
            assert_eq!(plan.principal_parts_minor.len(), plan.months as usize);
            assert_eq!(plan.fee_parts_minor.len(), plan.months as usize);
        }
        for s in &line.statements {
            assert!(
                s.paid_minor <= s.total_minor && s.min_payment_minor <= s.total_minor,
                "{s:?}"
            );
        }
    }
}

/// A line driven the way the shell drives it, with the ledger booked alongside.
pub struct Sim {
    pub line: Line,
    pub journal: Journal,
    pub events: Vec<LineEvent>,
    /// Pending holds the shell has not captured yet; they reduce `free_minor`.
    pub held_minor: i64,
}

impl Sim {
    pub fn open(terms: Terms, limit_minor: i64, on: &str) -> Sim {
        let (line, postings, events) = Line::open(terms, limit_minor, d(on)).unwrap();
        let mut journal = Journal::default();
        journal.book(&postings);
        Sim {
            line,
            journal,
            events,
            held_minor: 0,
        }
    }

    pub fn standard(limit_minor: i64, on: &str) -> Sim {
        Sim::open(Terms::standard(Currency::Cny), limit_minor, on)
    }

    pub fn free(&self) -> i64 {
        self.line.available_posted_minor() - self.held_minor
    }

    pub fn try_apply(&mut self, command: Command) -> Result<Outcome, LineError> {
        let as_of = match command {
            Command::AdvanceDay { .. } => self.line.business_date.succ(),
            _ => self.line.business_date,
        };
        let before = self.line.clone();
        let result = apply(&self.line, &command, as_of);
        match &result {
            Ok(outcome) => {
                if let Command::Capture { amount_minor } = command {
                    // The shell's hold Available → Used, posted by the capture.
                    self.journal.book(&[PostingIntent {
                        debit: Purpose::Available,
                        credit: Purpose::Used,
                        amount_minor,
                    }]);
                }
                self.journal.book(&outcome.postings);
                self.events.extend(outcome.events.iter().cloned());
                self.line = outcome.line.clone();
            }
            Err(_) => assert_eq!(self.line, before),
        }
        self.journal.check(&self.line);
        result
    }

    pub fn run(&mut self, command: Command) -> Outcome {
        let shown = format!("{command:?}");
        self.try_apply(command)
            .unwrap_or_else(|e| panic!("{shown}: {e}"))
    }

    pub fn advance(&mut self) -> Outcome {
        let free_minor = self.free();
        self.run(Command::AdvanceDay { free_minor })
    }

    /// Advances day by day until the business date is `to`.
    pub fn advance_to(&mut self, to: &str) {
        let to = d(to);
        while self.line.business_date < to {
            self.advance();
        }
    }

    pub fn capture(&mut self, amount_minor: i64) {
        self.run(Command::Capture { amount_minor });
    }

    pub fn repay(&mut self, amount_minor: i64) -> Outcome {
        self.run(Command::Repay { amount_minor })
    }

    pub fn latest(&self) -> &revolving::Statement {
        self.line.statements.last().expect("a statement")
    }
}
