//! Money coming in: repayments by the allocation order, payoff, full and partial
//! prepayment with the schedule reshaped after it, and recoveries after a write-off.

use super::*;

pub(super) fn repay(
    loan: &mut Loan,
    amount: Money,
    as_of: BusinessDate,
    out: &mut Postings,
) -> Result<(), LoanError> {
    let amount_minor = loan.check_amount(amount)?;
    loan.require_day(as_of)?;
    let unbooked_to = match loan.status {
        LoanStatus::Signed => return loan.require(LoanStatus::Active),
        LoanStatus::Active => AccountPurpose::Overpayment,
        LoanStatus::PaidOff => AccountPurpose::Overpayment,
        // Cash for a written-off loan is a recovery only when an operator books it so
        // (`Command::Recover`); a repayment waits in suspense.
        LoanStatus::WrittenOff => AccountPurpose::Suspense,
    };
    let remaining_minor = if loan.status == LoanStatus::Active {
        allocate_repayment(loan, amount_minor, out)
    } else {
        amount_minor
    };
    if unbooked_to == AccountPurpose::Overpayment {
        loan.overpayment_credit_minor += remaining_minor;
    }
    out.push(AccountPurpose::BorrowerCash, unbooked_to, remaining_minor);
    settle_status(loan, as_of);
    Ok(())
}

/// Books `amount` recovered on a written-off loan: `BorrowerCash → RecoveryIncome`, taken
/// off the written-off claim principal first (the order loss-given-default is measured in),
/// then interest, fees and penalty. More than the claim left is refused: an operator
/// returns the surplus rather than parking it on a closed loan.
pub(super) fn recover(
    loan: &mut Loan,
    amount: Money,
    as_of: BusinessDate,
    out: &mut Postings,
) -> Result<(), LoanError> {
    let amount_minor = loan.check_amount(amount)?;
    loan.require(LoanStatus::WrittenOff)?;
    loan.require_day(as_of)?;
    let claim_minor: i64 = COMPONENTS.iter().map(|&c| loan.written_off.get(c)).sum();
    if amount_minor > claim_minor {
        return Err(LoanError::RecoveryAboveClaim { claim_minor });
    }
    let mut left_minor = amount_minor;
    let order = [
        Component::Principal,
        Component::Interest,
        Component::Fee,
        Component::Penalty,
    ];
    for component in order {
        let taken_minor = left_minor.min(loan.written_off.get(component));
        loan.written_off.add(component, -taken_minor);
        left_minor -= taken_minor;
    }
    out.push(
        AccountPurpose::BorrowerCash,
        AccountPurpose::RecoveryIncome,
        amount_minor,
    );
    Ok(())
}

/// Applies cash to billed amounts in the contract's order; returns what is left.
pub(super) fn allocate_repayment(loan: &mut Loan, amount_minor: i64, out: &mut Postings) -> i64 {
    allocate_from(loan, AccountPurpose::BorrowerCash, amount_minor, out)
}

/// Applies money from `source` (cash, or the overpayment credit) to billed amounts in the
/// contract's order; returns what is left.
pub(super) fn allocate_from(
    loan: &mut Loan,
    source: AccountPurpose,
    amount_minor: i64,
    out: &mut Postings,
) -> i64 {
    let order = loan.config.allocation_order;
    let mut remaining_minor = amount_minor;
    let mut pay = |installment: &mut InstallmentState, component: Component| {
        let paid_minor = remaining_minor.min(installment.outstanding(component));
        installment.paid.add(component, paid_minor);
        remaining_minor -= paid_minor;
        out.push(source, receivable(component), paid_minor);
    };
    match order.scope {
        AllocationScope::OldestInstallmentFirst => {
            for installment in &mut loan.installments {
                for component in order.components {
                    pay(installment, component);
                }
            }
        }
        AllocationScope::ComponentFirst => {
            for component in order.components {
                for installment in &mut loan.installments {
                    pay(installment, component);
                }
            }
        }
    }
    remaining_minor
}

pub(super) fn settle_status(loan: &mut Loan, as_of: BusinessDate) {
    if loan.status != LoanStatus::Active {
        return;
    }
    loan.dpd = loan.days_past_due(as_of);
    let settled = loan
        .installments
        .iter()
        .all(|i| i.billed && i.outstanding_total() == 0);
    if settled {
        loan.status = LoanStatus::PaidOff;
    }
}

/// What paying off today costs in new money: everything billed, all unbilled principal,
/// interest accrued so far in the current period, and the prepayment fee on the unbilled
/// principal, less the overpayment credit (which a full prepayment uses first). Unbilled
/// future interest and fees are not owed.
pub fn payoff_minor(loan: &Loan) -> Result<i64, LoanError> {
    loan.require(LoanStatus::Active)?;
    let owed_minor: i64 = payoff_parts(loan)?.iter().sum();
    Ok((owed_minor - loan.overpayment_credit_minor).max(0))
}

/// [billed outstanding, unbilled principal, accrued current interest, prepayment fee].
pub(super) fn payoff_parts(loan: &Loan) -> Result<[i64; 4], LoanError> {
    let billed: i64 = loan
        .installments
        .iter()
        .map(|i| i.outstanding_total())
        .sum();
    let unbilled = loan.installments.iter().filter(|i| !i.billed);
    let principal: i64 = unbilled.clone().map(|i| i.scheduled.principal_minor).sum();
    let interest: i64 = unbilled.map(|i| i.interest_accrued_minor).sum();
    let fee_exact = Decimal::from(principal) * loan.config.prepayment.fee_rate_fraction;
    let fee = loan
        .config
        .repayment
        .rounding
        .round_minor(fee_exact)
        .map_err(|_| LoanError::Schedule(ScheduleError::Overflow))?;
    Ok([billed, principal, interest, fee])
}

pub(super) fn prepay_full(
    loan: &mut Loan,
    amount: Money,
    as_of: BusinessDate,
    out: &mut Postings,
) -> Result<(), LoanError> {
    // Zero is a valid payment when the overpayment credit covers the payoff.
    if amount.currency() != loan.config.principal.currency() || amount.is_negative() {
        return Err(LoanError::Amount(amount));
    }
    let amount_minor = amount.amount_minor();
    loan.require(LoanStatus::Active)?;
    if !loan.config.prepayment.full_allowed {
        return Err(LoanError::PrepaymentNotAllowed);
    }
    loan.require_day(as_of)?;
    let [billed, principal, interest, fee] = payoff_parts(loan)?;
    let owed_minor = billed + principal + interest + fee;
    let credit_minor = loan.overpayment_credit_minor;
    let required_minor = (owed_minor - credit_minor).max(0);
    if amount_minor < required_minor {
        return Err(LoanError::InsufficientForPayoff { required_minor });
    }
    // The credit pays first, then the cash, at each step, in the contract's order.
    let credit_left = allocate_from(loan, AccountPurpose::Overpayment, credit_minor, out);
    let cash_left = allocate_repayment(loan, amount_minor, out);
    assert_eq!(
        credit_minor - credit_left + amount_minor - cash_left,
        billed,
        "billed amounts are paid first"
    );
    collapse_unbilled(loan, as_of, fee, out);
    out.push(
        AccountPurpose::FeeReceivable,
        AccountPurpose::FeeIncome,
        fee,
    );
    let credit_left = allocate_from(loan, AccountPurpose::Overpayment, credit_left, out);
    let cash_left = allocate_repayment(loan, cash_left, out);
    assert_eq!(
        credit_left + cash_left,
        credit_minor + amount_minor - owed_minor
    );
    out.push(
        AccountPurpose::BorrowerCash,
        AccountPurpose::Overpayment,
        cash_left,
    );
    loan.overpayment_credit_minor = credit_left + cash_left;
    settle_status(loan, as_of);
    assert_eq!(loan.status, LoanStatus::PaidOff);
    Ok(())
}

/// Principal and fee out of `available`: the most principal whose fee still fits.
pub(super) fn split_principal_and_fee(
    loan: &Loan,
    available_minor: i64,
) -> Result<(i64, i64), LoanError> {
    let rate = loan.config.prepayment.fee_rate_fraction;
    let rounding = loan.config.repayment.rounding;
    let fee_of = |principal_minor: i64| {
        rounding
            .round_minor(Decimal::from(principal_minor) * rate)
            .map_err(|_| LoanError::Schedule(ScheduleError::Overflow))
    };
    let estimate = Decimal::from(available_minor) / (Decimal::ONE + rate);
    let mut principal_minor = i64::try_from(estimate.floor()).expect("below the amount paid");
    // Rounding the fee up can push the sum one unit over; step back until it fits.
    while principal_minor > 0 && principal_minor + fee_of(principal_minor)? > available_minor {
        principal_minor -= 1;
    }
    Ok((principal_minor, fee_of(principal_minor)?))
}

pub(super) fn prepay_partial(
    loan: &mut Loan,
    amount: Money,
    as_of: BusinessDate,
    out: &mut Postings,
) -> Result<(), LoanError> {
    let amount_minor = loan.check_amount(amount)?;
    loan.require(LoanStatus::Active)?;
    if !loan.config.prepayment.partial_allowed {
        return Err(LoanError::PrepaymentNotAllowed);
    }
    loan.require_day(as_of)?;
    let [billed, unbilled_principal, accrued, _] = payoff_parts(loan)?;
    let available_minor = amount_minor - billed - accrued;
    let (principal_minor, fee_minor) = split_principal_and_fee(loan, available_minor.max(0))?;
    let minimum_minor = loan.config.prepayment.partial_minimum_minor.max(1);
    if principal_minor < minimum_minor {
        return Err(LoanError::PartialBelowMinimum { minimum_minor });
    }
    if principal_minor >= unbilled_principal {
        return Err(LoanError::PartialCoversAll);
    }
    let first = loan
        .installments
        .iter()
        .position(|i| !i.billed)
        .expect("unbilled principal means an unbilled installment");
    let reshaped =
        reshape_after_prepayment(loan, first, unbilled_principal - principal_minor, as_of)?;
    let left_minor = allocate_repayment(loan, amount_minor, out);
    assert_eq!(
        left_minor,
        amount_minor - billed,
        "billed amounts are paid first"
    );
    settle_prepaid_period(
        loan,
        first,
        as_of,
        principal_minor,
        fee_minor,
        reshaped,
        out,
    );
    out.push(
        AccountPurpose::FeeReceivable,
        AccountPurpose::FeeIncome,
        fee_minor,
    );
    let left_minor = allocate_repayment(loan, left_minor, out);
    out.push(
        AccountPurpose::BorrowerCash,
        AccountPurpose::Overpayment,
        left_minor,
    );
    loan.overpayment_credit_minor += left_minor;
    settle_status(loan, as_of);
    Ok(())
}

/// The schedule for what is left after the prepayment, on the remaining due dates.
pub(super) fn reshape_after_prepayment(
    loan: &Loan,
    first: usize,
    balance_minor: i64,
    as_of: BusinessDate,
) -> Result<Vec<Installment>, LoanError> {
    let plan = SchedulePlan::new(loan.config.repayment)?;
    let original_minor = loan.config.principal.amount_minor();
    let reshape = match (
        loan.config.prepayment.partial_effect,
        loan.config.repayment.method,
    ) {
        (PartialPrepaymentEffect::LowerInstallment, _) => Reshape::SpreadOverDates,
        (PartialPrepaymentEffect::ShortenTerm, RepaymentMethod::Annuity) => {
            Reshape::KeepInstallment(plan.level_installment_minor(original_minor))
        }
        (PartialPrepaymentEffect::ShortenTerm, RepaymentMethod::EqualPrincipal) => {
            let term_months = i64::from(loan.config.repayment.term_months);
            Reshape::KeepPrincipalPart(original_minor / term_months)
        }
        // Interest-only and bullet loans have no principal to bring forward.
        (PartialPrepaymentEffect::ShortenTerm, _) => Reshape::SpreadOverDates,
    };
    let due_dates: Vec<BusinessDate> = loan.installments[first..]
        .iter()
        .map(|i| i.scheduled.due_date)
        .collect();
    Ok(plan.reamortize(balance_minor, as_of, &due_dates, reshape)?)
}

/// Closes the current period today as a settled-to-be installment of the prepaid principal,
/// the interest accrued so far and the fee, followed by the reshaped installments. Each
/// kept due date keeps its spread fee; fees of dropped dates are waived.
pub(super) fn settle_prepaid_period(
    loan: &mut Loan,
    first: usize,
    as_of: BusinessDate,
    principal_minor: i64,
    fee_minor: i64,
    reshaped: Vec<Installment>,
    out: &mut Postings,
) {
    let fees: Vec<i64> = loan.installments[first..]
        .iter()
        .map(|i| i.scheduled.fee_minor)
        .collect();
    let current = &mut loan.installments[first];
    let interest_minor = current.interest_accrued_minor;
    current.scheduled = Installment {
        number: current.scheduled.number,
        due_date: as_of,
        principal_minor,
        interest_minor,
        fee_minor,
        total_minor: principal_minor + interest_minor + fee_minor,
    };
    current.billed = true;
    out.push(
        AccountPurpose::InterestReceivable,
        AccountPurpose::AccruedInterest,
        interest_minor,
    );
    loan.installments.truncate(first + 1);
    for (mut installment, fee) in reshaped.into_iter().zip(fees) {
        installment.fee_minor = fee;
        installment.total_minor += fee;
        loan.installments.push(InstallmentState::new(installment));
    }
    for (index, installment) in loan.installments.iter_mut().enumerate() {
        installment.scheduled.number = u32::try_from(index + 1).expect("bounded term");
    }
}

/// Turns the unbilled installments into one installment due today: all their principal, the
/// interest accrued so far, and the prepayment fee in place of their unbilled fees.
pub(super) fn collapse_unbilled(
    loan: &mut Loan,
    as_of: BusinessDate,
    fee_minor: i64,
    out: &mut Postings,
) {
    let Some(first) = loan.installments.iter().position(|i| !i.billed) else {
        return;
    };
    let principal_minor: i64 = loan.installments[first..]
        .iter()
        .map(|i| i.scheduled.principal_minor)
        .sum();
    loan.installments.truncate(first + 1);
    let current = &mut loan.installments[first];
    let interest_minor = current.interest_accrued_minor;
    current.scheduled = Installment {
        number: current.scheduled.number,
        due_date: as_of,
        principal_minor,
        interest_minor,
        fee_minor,
        total_minor: principal_minor + interest_minor + fee_minor,
    };
    current.billed = true;
    out.push(
        AccountPurpose::InterestReceivable,
        AccountPurpose::AccruedInterest,
        interest_minor,
    );
}
