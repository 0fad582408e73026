//! One business day of a loan: accrual, billing, late fees, penalty interest and
//! write-off, and the closed form of a quiet day that lets storage skip writing it.

use super::repay::settle_status;
use super::*;

pub(super) fn advance_day(
    loan: &mut Loan,
    as_of: BusinessDate,
    out: &mut Postings,
) -> Result<(), LoanError> {
    let expected = loan.business_date.succ();
    if as_of != expected {
        return Err(LoanError::Date {
            expected,
            got: as_of,
        });
    }
    loan.business_date = as_of;
    if loan.status != LoanStatus::Active {
        // Signed and closed loans only follow the calendar.
        return Ok(());
    }
    accrue_interest(loan, as_of, out);
    bill_due(loan, as_of, out);
    if loan.config.overpayment_credit == OverpaymentCredit::ApplyToNextDue {
        credit::apply_to_billed(loan, out);
        settle_status(loan, as_of);
        if loan.status != LoanStatus::Active {
            return Ok(());
        }
    }
    charge_late_fees(loan, as_of, out);
    accrue_penalty(loan, as_of, out);
    loan.dpd = loan.days_past_due(as_of);
    if loan.dpd >= loan.config.write_off_dpd {
        write_off(loan, out);
    }
    Ok(())
}

/// Spreads the current period's scheduled interest evenly over its calendar days: after
/// `k` of the period's `n` days, `floor(interest × k / n)` is recognised (the remainder
/// below one minor unit is carried implicitly, exactly, as `interest × k mod n`), and the
/// due date takes what is left, so the period's postings add up to the billed interest.
pub(super) fn accrue_interest(loan: &mut Loan, as_of: BusinessDate, out: &mut Postings) {
    let Some(index) = loan.installments.iter().position(|i| !i.billed) else {
        return;
    };
    let accrued_minor = accrued_interest_at(loan, index, as_of);
    let current = &mut loan.installments[index];
    let posted_minor = accrued_minor - current.interest_accrued_minor;
    assert!(posted_minor >= 0, "accrued interest never goes down");
    current.interest_accrued_minor = accrued_minor;
    out.push(
        AccountPurpose::AccruedInterest,
        AccountPurpose::InterestIncome,
        posted_minor,
    );
}

/// The interest of installment `index`'s period recognised by the end of `as_of`.
pub(super) fn accrued_interest_at(loan: &Loan, index: usize, as_of: BusinessDate) -> i64 {
    let period_start = match index {
        0 => loan.disbursed_on.expect("an active loan was disbursed"),
        _ => loan.installments[index - 1].scheduled.due_date,
    };
    let current = &loan.installments[index];
    let due_date = current.scheduled.due_date;
    let interest_minor = current.scheduled.interest_minor;
    if as_of >= due_date {
        return interest_minor;
    }
    let days = i128::from(period_start.days_until(due_date).max(1));
    let elapsed = i128::from(period_start.days_until(as_of).clamp(0, i64::MAX));
    i64::try_from(i128::from(interest_minor) * elapsed / days).expect("below the period's interest")
}

/// Moves an installment to billed, with its recognised interest from the accrued account
/// to the loan's receivable and its fee recognised.
pub(super) fn bill(installment: &mut InstallmentState, out: &mut Postings) {
    installment.billed = true;
    out.push(
        AccountPurpose::InterestReceivable,
        AccountPurpose::AccruedInterest,
        installment.interest_accrued_minor,
    );
    out.push(
        AccountPurpose::FeeReceivable,
        AccountPurpose::FeeIncome,
        installment.scheduled.fee_minor,
    );
}

/// The last business date up to which every day of this loan only accrues interest: it is
/// active, nothing billed is unpaid, and the current period's due date is later. On such
/// days an `AdvanceDay` changes nothing but the date and the accrued interest, and posts
/// nothing but `AccruedInterest ← InterestIncome`, so [`fast_forward`] can jump over them.
pub fn quiet_through(loan: &Loan) -> Option<BusinessDate> {
    if loan.status != LoanStatus::Active || loan.dpd != 0 {
        return None;
    }
    let mut current = None;
    for i in &loan.installments {
        if i.billed {
            if i.outstanding_total() != 0 {
                return None;
            }
        } else {
            current = Some(i);
            break;
        }
    }
    Some(current?.scheduled.due_date.pred())
}

/// The interest that day `on` accrues for a loan quiet through `on` (see [`quiet_through`]).
pub fn quiet_day_accrual_minor(loan: &Loan, on: BusinessDate) -> i64 {
    assert!(
        quiet_through(loan).is_some_and(|q| on <= q) && on > loan.business_date,
        "only a quiet day's accrual has a closed form"
    );
    let index = loan
        .installments
        .iter()
        .position(|i| !i.billed)
        .expect("a quiet loan has a current period");
    accrued_interest_at(loan, index, on) - accrued_interest_at(loan, index, on.pred())
}

/// The state `AdvanceDay` would reach at `to`, for a loan quiet through `to`, without
/// stepping through the days; `None` (state untouched) if some day before `to` is not
/// quiet.
pub fn fast_forward(loan: &mut Loan, to: BusinessDate) -> Option<()> {
    if to <= loan.business_date {
        return Some(());
    }
    if quiet_through(loan)? < to {
        return None;
    }
    let index = loan.installments.iter().position(|i| !i.billed)?;
    loan.installments[index].interest_accrued_minor = accrued_interest_at(loan, index, to);
    loan.business_date = to;
    Some(())
}

/// An installment falls due on its due date.
pub(super) fn bill_due(loan: &mut Loan, as_of: BusinessDate, out: &mut Postings) {
    for installment in &mut loan.installments {
        if !installment.billed && installment.scheduled.due_date == as_of {
            bill(installment, out);
        }
    }
}

/// One late fee per installment, on the first day past the grace days.
pub(super) fn charge_late_fees(loan: &mut Loan, as_of: BusinessDate, out: &mut Postings) {
    let late_fee_minor = loan.config.late_fee_minor;
    let first_late_day = loan.config.grace_days + 1;
    for installment in &mut loan.installments {
        let days_late = days_u32(installment.scheduled.due_date, as_of);
        if installment.outstanding_total() > 0 && days_late == first_late_day {
            installment.late_fee_minor += late_fee_minor;
            out.push(
                AccountPurpose::FeeReceivable,
                AccountPurpose::FeeIncome,
                late_fee_minor,
            );
        }
    }
}

/// Penalty interest for each day an installment is overdue past the grace days, on its
/// overdue principal (and interest, if the contract compounds).
pub(super) fn accrue_penalty(loan: &mut Loan, as_of: BusinessDate, out: &mut Postings) {
    let rate = loan.config.penalty_rate_daily.fraction();
    let grace_days = loan.config.grace_days;
    let compounds = loan.config.penalty_compounds;
    for installment in &mut loan.installments {
        if !installment.billed || days_u32(installment.scheduled.due_date, as_of) <= grace_days {
            continue;
        }
        let mut base_minor = installment.outstanding(Component::Principal);
        if compounds {
            base_minor += installment.outstanding(Component::Interest);
        }
        installment.penalty_carry += Decimal::from(base_minor) * rate;
        let whole = installment.penalty_carry.floor();
        installment.penalty_carry -= whole;
        let whole_minor = i64::try_from(whole).expect("a day's penalty fits i64");
        installment.penalty_minor += whole_minor;
        out.push(
            AccountPurpose::PenaltyReceivable,
            AccountPurpose::PenaltyIncome,
            whole_minor,
        );
    }
}

/// Takes every receivable off the books: principal to expense, recognised interest, fees and
/// penalty back out of income. The borrower still owes it; `written_off` keeps the amounts.
pub(super) fn write_off(loan: &mut Loan, out: &mut Postings) {
    let mut amounts = ComponentAmounts::default();
    amounts.add(Component::Principal, loan.principal_outstanding_minor());
    let unbilled_interest_minor = loan.interest_accrued_unbilled_minor();
    out.push(
        AccountPurpose::InterestIncome,
        AccountPurpose::AccruedInterest,
        unbilled_interest_minor,
    );
    amounts.add(
        Component::Interest,
        loan.outstanding_minor(Component::Interest),
    );
    amounts.add(Component::Fee, loan.outstanding_minor(Component::Fee));
    amounts.add(
        Component::Penalty,
        loan.outstanding_minor(Component::Penalty),
    );
    for component in COMPONENTS {
        out.push(
            income(component),
            receivable(component),
            amounts.get(component),
        );
    }
    amounts.add(Component::Interest, unbilled_interest_minor);
    loan.written_off = amounts;
    loan.status = LoanStatus::WrittenOff;
}
