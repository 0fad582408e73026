//! Repayments, the overpayment a statement uses, and refunds.

use super::book::Book;
use super::parts::{line_balance, line_balance_mut, order, Part};
use super::{limit, statements};
use crate::line::{Line, LineError, LineEvent};
use crate::Purpose;
use money::BusinessDate;

/// What a payment paid, by part, in the order paid.
struct Paid(Vec<(Part, i64)>);

impl Paid {
    fn of(&self, wanted: impl Fn(Part) -> bool) -> i64 {
        self.0
            .iter()
            .filter(|(p, _)| wanted(*p))
            .map(|(_, a)| a)
            .sum()
    }
}

/// Pays the line's balances in the terms' order from `source`, crediting statements and
/// freeing limit for the principal. Returns what is left of `amount`.
fn pay(
    line: &mut Line,
    amount: i64,
    source: Purpose,
    on: BusinessDate,
    book: &mut Book,
) -> (i64, Paid) {
    let mut left = amount;
    let mut paid = Vec::new();
    for part in order(&line.terms) {
        let take = left.min(line_balance(line, part));
        if take == 0 {
            continue;
        }
        *line_balance_mut(line, part) -= take;
        left -= take;
        statements::credit(line, part, take, on, book);
        paid.push((part, take));
    }
    let paid = Paid(paid);
    book.post(
        source,
        Purpose::PenaltyReceivable,
        paid.of(|p| p == Part::Penalty),
    );
    book.post(
        source,
        Purpose::InterestReceivable,
        paid.of(|p| p == Part::Interest),
    );
    book.post(source, Purpose::FeeReceivable, paid.of(|p| p == Part::Fee));
    let principal = paid.of(Part::is_principal);
    book.post(source, Purpose::PrincipalReceivable, principal);
    limit::restore(line, principal, book);
    (left, paid)
}

pub(super) fn repay(line: &mut Line, amount: i64, on: BusinessDate, book: &mut Book) {
    let (left, paid) = pay(line, amount, Purpose::BorrowerCash, on, book);
    line.overpayment_minor += left;
    book.post(Purpose::BorrowerCash, Purpose::Overpayment, left);
    book.event(LineEvent::PaymentAllocated {
        amount_minor: amount,
        penalty_minor: paid.of(|p| p == Part::Penalty),
        interest_minor: paid.of(|p| p == Part::Interest),
        fee_minor: paid.of(|p| p == Part::Fee),
        principal_minor: paid.of(Part::is_principal),
        overpayment_minor: left,
    });
}

/// At a statement cut, money paid in advance pays what was just billed.
pub(super) fn use_overpayment(line: &mut Line, on: BusinessDate, book: &mut Book) {
    if line.overpayment_minor == 0 {
        return;
    }
    let (left, _) = pay(line, line.overpayment_minor, Purpose::Overpayment, on, book);
    line.overpayment_minor = left;
}

/// Pays `amount` of the overpayment back to the borrower.
pub(super) fn refund_overpayment(
    line: &mut Line,
    amount: i64,
    book: &mut Book,
) -> Result<(), LineError> {
    if amount > line.overpayment_minor {
        return Err(LineError::TooLarge {
            field: "amount_minor",
            what: "refunded from the overpayment",
            got: amount,
            max: line.overpayment_minor,
        });
    }
    line.overpayment_minor -= amount;
    book.post(Purpose::Overpayment, Purpose::BorrowerCash, amount);
    book.event(LineEvent::OverpaymentRefunded {
        amount_minor: amount,
    });
    Ok(())
}

/// The most a refund can take back: unbilled and billed revolving principal, and the
/// unbilled parts of the plan named.
fn refundable(line: &Line, plan: Option<usize>) -> i64 {
    let plan_part = plan.map_or(0, |i| line.plans[i].unbilled_principal_minor());
    line.unbilled_principal_minor + line.billed_principal_minor + plan_part
}

pub(super) fn refund(
    line: &mut Line,
    amount: i64,
    plan_id: Option<[u8; 16]>,
    on: BusinessDate,
    book: &mut Book,
) -> Result<(), LineError> {
    let plan = match plan_id {
        Some(id) => Some(plan_index(line, id)?),
        None => None,
    };
    // Principal the borrower already repaid comes back as a credit balance: the shell
    // checks the refund against what the purchase captured.
    let principal = amount.min(refundable(line, plan));
    let excess = amount - principal;
    let from_unbilled = principal.min(line.unbilled_principal_minor);
    line.unbilled_principal_minor -= from_unbilled;
    let from_billed = (principal - from_unbilled).min(line.billed_principal_minor);
    line.billed_principal_minor -= from_billed;
    statements::reduce_revolving(line, from_billed, on, book);
    if let Some(index) = plan {
        line.plans[index].refund_unbilled(principal - from_unbilled - from_billed);
    }
    book.post(
        Purpose::MerchantPayable,
        Purpose::PrincipalReceivable,
        principal,
    );
    limit::restore(line, principal, book);
    line.overpayment_minor += excess;
    book.post(Purpose::MerchantPayable, Purpose::Overpayment, excess);
    Ok(())
}

pub(super) fn plan_index(line: &Line, id: [u8; 16]) -> Result<usize, LineError> {
    line.plans
        .iter()
        .position(|p| p.id == id)
        .ok_or_else(|| LineError::Invalid("plan_id: no such installment plan".to_string()))
}
