//! Installment conversions of a purchase or of a statement.

use super::book::Book;
use super::parts::{order, remaining, Part};
use super::statements;
use crate::installment::{FeePayer, InstallmentPlan};
use crate::line::{Line, LineError, LineEvent};
use crate::Purpose;
use money::{BusinessDate, Decimal, Money};

fn offered_rate(line: &Line, months: u32) -> Result<Decimal, LineError> {
    line.terms
        .installment_fee_rate(months)
        .ok_or_else(|| LineError::TermNotOffered {
            months,
            offered: line.terms.offered_months(),
        })
}

fn new_plan(
    line: &Line,
    id: [u8; 16],
    amount: i64,
    months: u32,
    fee_payer: FeePayer,
) -> Result<InstallmentPlan, LineError> {
    if line.plans.iter().any(|p| p.id == id) {
        return Err(LineError::Invalid(
            "plan_id: already used on this line".to_string(),
        ));
    }
    let fee_rate = offered_rate(line, months)?;
    let principal = Money::from_minor(amount, line.terms.currency);
    InstallmentPlan::new(
        id,
        principal,
        months,
        fee_rate,
        fee_payer,
        line.terms.rounding,
    )
}

fn add_plan(line: &mut Line, plan: InstallmentPlan, book: &mut Book) {
    book.event(LineEvent::PlanCreated { plan: plan.clone() });
    line.plans.push(plan);
}

pub(super) fn purchase(
    line: &mut Line,
    id: [u8; 16],
    amount: i64,
    months: u32,
    fee_payer: FeePayer,
    book: &mut Book,
) -> Result<(), LineError> {
    if amount > line.unbilled_principal_minor {
        return Err(LineError::TooLarge {
            field: "amount_minor",
            what: "converted from purchases not yet billed",
            got: amount,
            max: line.unbilled_principal_minor,
        });
    }
    let plan = new_plan(line, id, amount, months, fee_payer)?;
    line.unbilled_principal_minor -= amount;
    if fee_payer == FeePayer::Merchant {
        book.post(
            Purpose::MerchantPayable,
            Purpose::FeeIncome,
            plan.fee_total_minor(),
        );
    }
    add_plan(line, plan, book);
    Ok(())
}

/// Only the latest statement, up to its due date, and only while nothing older is
/// outstanding: converting debt already past due would be a restructuring, not a plan.
fn convertible(line: &Line, as_of: BusinessDate) -> Result<i64, LineError> {
    let refuse = |why: &str| Err(LineError::Invalid(why.to_string()));
    let Some((latest, older)) = line.statements.split_last() else {
        return refuse("no statement to convert");
    };
    if as_of > latest.due_date {
        return refuse("the statement is past its due date");
    }
    if older.iter().any(|s| !statements::is_settled(s)) {
        return refuse("an earlier statement is still outstanding");
    }
    let amount = remaining(latest, &order(&line.terms), Part::RevolvingPrincipal);
    if amount == 0 {
        return refuse("the statement has no unpaid revolving principal");
    }
    Ok(amount)
}

pub(super) fn statement(
    line: &mut Line,
    id: [u8; 16],
    months: u32,
    as_of: BusinessDate,
    book: &mut Book,
) -> Result<(), LineError> {
    let amount = convertible(line, as_of)?;
    let plan = new_plan(line, id, amount, months, FeePayer::Borrower)?;
    line.billed_principal_minor -= amount;
    statements::reduce_revolving(line, amount, as_of, book);
    add_plan(line, plan, book);
    Ok(())
}
