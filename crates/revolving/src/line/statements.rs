//! Statement arithmetic: due dates, totals and minimums, on-time flags, DPD.

use super::book::Book;
use super::parts::{order, remaining, Part};
use crate::line::{Line, LineEvent, Statement};
use crate::terms::Terms;
use money::{BusinessDate, Decimal};

/// The due day of the statement's month when it falls after the statement day, else of the
/// next month. Days are 1–28, so the date always exists.
pub fn due_date(terms: &Terms, statement_date: BusinessDate) -> BusinessDate {
    let month_of_due = if terms.due_day > terms.statement_day {
        statement_date
    } else {
        statement_date
            .add_months(1)
            .expect("a month later is within the calendar")
    };
    BusinessDate::from_ymd(month_of_due.year(), month_of_due.month(), terms.due_day)
        .expect("days 1–28 exist in every month")
}

pub(super) fn is_settled(statement: &Statement) -> bool {
    statement.paid_minor >= statement.total_minor
}

/// Sets the total and the minimum from the five billed amounts; the minimum's revolving
/// share is rounded up so a borrower paying it never falls short by a fraction of a cent.
pub(super) fn recompute(statement: &mut Statement, terms: &Terms) {
    let s = &*statement;
    let other = s.installment_principal_minor + s.installment_fee_minor + s.interest_minor;
    let total = s.revolving_principal_minor + other + s.penalty_minor;
    let share = (Decimal::from(s.revolving_principal_minor) * terms.min_payment_rate).ceil();
    let share = i64::try_from(share).unwrap_or(s.revolving_principal_minor);
    statement.total_minor = total;
    statement.min_payment_minor = (share + other + statement.penalty_minor).min(total);
}

/// Applies `change` to every open statement and reports the ones it settles.
pub(super) fn for_each_open(
    line: &mut Line,
    on: BusinessDate,
    book: &mut Book,
    mut change: impl FnMut(&mut Statement, &[Part]),
) {
    let order = order(&line.terms);
    for statement in &mut line.statements {
        let was_settled = is_settled(statement);
        change(statement, &order);
        if !was_settled && is_settled(statement) {
            book.event(LineEvent::StatementSettled {
                seq: statement.seq,
                on,
            });
        }
    }
}

/// Credits each open statement with what a payment (or an overpayment) put on `part`, up
/// to what the statement still shows for it.
pub(super) fn credit(line: &mut Line, part: Part, paid: i64, on: BusinessDate, book: &mut Book) {
    for_each_open(line, on, book, |statement, order| {
        statement.paid_minor += paid.min(remaining(statement, order, part));
    });
}

/// Takes revolving principal that left the line other than by payment (refund,
/// conversion) off each open statement, oldest amount first like a payment.
pub(super) fn reduce_revolving(line: &mut Line, amount: i64, on: BusinessDate, book: &mut Book) {
    let terms = line.terms.clone();
    for_each_open(line, on, book, |statement, order| {
        let cut = amount.min(remaining(statement, order, Part::RevolvingPrincipal));
        statement.revolving_principal_minor -= cut;
        recompute(statement, &terms);
    });
}

/// On the day after a due date: whether the statement was paid by then, and the streaks.
pub(super) fn mark_due(line: &mut Line, as_of: BusinessDate, high_use_bp: u32) {
    for index in 0..line.statements.len() {
        let statement = &mut line.statements[index];
        if statement.due_date >= as_of || statement.paid_in_full_on_time.is_some() {
            continue;
        }
        let in_full = is_settled(statement);
        let min_paid = statement.paid_minor >= statement.min_payment_minor;
        statement.paid_in_full_on_time = Some(in_full);
        statement.min_paid_on_time = Some(min_paid);
        let high_use = statement.utilization_bp >= high_use_bp;
        line.on_time_streak = if min_paid { line.on_time_streak + 1 } else { 0 };
        line.high_use_on_time_streak = if in_full && high_use {
            line.high_use_on_time_streak + 1
        } else {
            0
        };
    }
}

/// Days past the due date of the oldest statement whose minimum is still unpaid.
pub(super) fn dpd(line: &Line) -> u32 {
    line.statements
        .iter()
        .find(|s| s.due_date < line.business_date && s.paid_minor < s.min_payment_minor)
        .map_or(0, |s| {
            u32::try_from(s.due_date.days_until(line.business_date)).unwrap_or(u32::MAX)
        })
}

/// Keeps open statements, statements still waiting for their on-time flags, and the latest.
pub(super) fn prune(line: &mut Line) {
    let latest = line.statements.last().map(|s| s.seq);
    line.statements
        .retain(|s| Some(s.seq) == latest || !is_settled(s) || s.paid_in_full_on_time.is_none());
}

/// Revolving principal still unpaid of the newest statement past its due date and not paid
/// in full: the base of revolving interest. Statements nest, so it covers older ones too.
pub(super) fn interest_base(line: &Line, as_of: BusinessDate) -> i64 {
    let order = order(&line.terms);
    line.statements
        .iter()
        .rev()
        .find(|s| s.due_date < as_of && !is_settled(s))
        .map_or(0, |s| remaining(s, &order, Part::RevolvingPrincipal))
}

/// The overdue amount: the largest unpaid minimum among statements past their due date.
/// Statements nest, so adding them up would count the same debt twice.
pub(super) fn penalty_base(line: &Line, as_of: BusinessDate) -> i64 {
    line.statements
        .iter()
        .filter(|s| s.due_date < as_of)
        .map(|s| (s.min_payment_minor - s.paid_minor).max(0))
        .max()
        .unwrap_or(0)
}
