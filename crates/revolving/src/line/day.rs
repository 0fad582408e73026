//! Close of business: temporary limit expiry, on-time flags, accrual, statement cut.

use super::book::Book;
use super::{limit, payments, statements};
use crate::limits::DEFAULT_HIGH_UTILIZATION_BP;
use crate::line::{Line, LineError, LineEvent, Statement};
use crate::Purpose;
use money::{BusinessDate, Decimal, RateDaily};

pub(super) fn advance(
    line: &mut Line,
    as_of: BusinessDate,
    free: i64,
    book: &mut Book,
) -> Result<(), LineError> {
    line.business_date = as_of;
    let mut free = free;
    if let Some(temp) = line.temp_limit.filter(|t| t.expires_on <= as_of) {
        let reason = format!("temporary limit expired on {}", temp.expires_on);
        free -= limit::set(line, line.limit_minor, None, free, &reason, book);
    }
    statements::mark_due(line, as_of, DEFAULT_HIGH_UTILIZATION_BP);
    accrue(line, as_of, book)?;
    if as_of.day() == line.terms.statement_day {
        cut(line, as_of, book);
    }
    limit::sweep_shortfall(line, free, book);
    Ok(())
}

fn one_day(line: &Line, base: i64, rate: RateDaily) -> Result<i64, LineError> {
    let exact = Decimal::from(base)
        .checked_mul(rate.fraction())
        .ok_or(LineError::Overflow)?;
    line.terms
        .rounding
        .round_minor(exact)
        .map_err(|_| LineError::Overflow)
}

/// A day of revolving interest on principal left unpaid after its due date, and of penalty
/// on the unpaid minimum; nothing accrues on a statement paid in full by its due date.
fn accrue(line: &mut Line, as_of: BusinessDate, book: &mut Book) -> Result<(), LineError> {
    let interest = one_day(
        line,
        statements::interest_base(line, as_of),
        line.terms.revolving_rate_daily,
    )?;
    let penalty = one_day(
        line,
        statements::penalty_base(line, as_of),
        line.terms.penalty_rate_daily,
    )?;
    line.interest_minor = line
        .interest_minor
        .checked_add(interest)
        .ok_or(LineError::Overflow)?;
    line.penalty_minor = line
        .penalty_minor
        .checked_add(penalty)
        .ok_or(LineError::Overflow)?;
    book.post(
        Purpose::InterestReceivable,
        Purpose::InterestIncome,
        interest,
    );
    book.post(Purpose::PenaltyReceivable, Purpose::PenaltyIncome, penalty);
    Ok(())
}

/// Bills the next part of every plan; the borrower's fee is earned when billed.
fn bill_plans(line: &mut Line, book: &mut Book) {
    for plan in &mut line.plans {
        let Some((principal, fee)) = plan.next_part() else {
            continue;
        };
        plan.billed_parts += 1;
        line.billed_installment_principal_minor += principal;
        line.fee_minor += fee;
        book.post(Purpose::FeeReceivable, Purpose::FeeIncome, fee);
    }
}

fn cut(line: &mut Line, as_of: BusinessDate, book: &mut Book) {
    bill_plans(line, book);
    line.billed_principal_minor += line.unbilled_principal_minor;
    line.unbilled_principal_minor = 0;
    let statement = new_statement(line, as_of);
    let (seq, empty) = (statement.seq, statement.total_minor == 0);
    line.statements.push(statement);
    // Booked apart so the statement is reported (already paid by the overpayment) before
    // the settlement the overpayment may cause.
    let mut after = Book::default();
    payments::use_overpayment(line, as_of, &mut after);
    let issued = line.statements.last().expect("just pushed").clone();
    book.event(LineEvent::StatementIssued { statement: issued });
    if empty {
        book.event(LineEvent::StatementSettled { seq, on: as_of });
    }
    book.append(after);
}

/// Everything billed and unpaid: the previous statement's remainder rolls into this one,
/// so a statement paid in full leaves nothing billed behind it.
fn new_statement(line: &Line, as_of: BusinessDate) -> Statement {
    let previous = line.statements.last();
    let mut statement = Statement {
        seq: previous.map_or(1, |s| s.seq + 1),
        period_start: previous.map_or(line.opened_on, |s| s.statement_date),
        statement_date: as_of,
        due_date: statements::due_date(&line.terms, as_of),
        revolving_principal_minor: line.billed_principal_minor,
        installment_principal_minor: line.billed_installment_principal_minor,
        installment_fee_minor: line.fee_minor,
        interest_minor: line.interest_minor,
        penalty_minor: line.penalty_minor,
        total_minor: 0,
        min_payment_minor: 0,
        paid_minor: 0,
        paid_in_full_on_time: None,
        min_paid_on_time: None,
        utilization_bp: utilization_bp(line),
    };
    statements::recompute(&mut statement, &line.terms);
    statement
}

/// Principal outstanding (revolving and installment) over the total limit; a line with
/// no limit left but debt counts as fully used.
fn utilization_bp(line: &Line) -> u32 {
    let outstanding = i128::from(line.principal_outstanding_minor());
    let limit = i128::from(line.limit_total_minor());
    if limit <= 0 {
        return if outstanding > 0 { 10_000 } else { 0 };
    }
    u32::try_from(outstanding * 10_000 / limit).unwrap_or(u32::MAX)
}
