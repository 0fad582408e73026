//! The balances a repayment pays, finer than [`Bucket`]: principal is billed installment
//! principal, then billed revolving principal, then unbilled purchases.
//!
//! A statement's paid amount fills its components in this same order, so what is left of
//! each component can be derived from `paid_minor` alone. Because the line pays each part
//! oldest amount first, an older open statement's remainder is always contained in every
//! newer statement's remainder, which in turn is contained in the line's balances.

use crate::line::{Line, Statement};
use crate::terms::{Bucket, Terms};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    Penalty,
    Interest,
    Fee,
    InstallmentPrincipal,
    RevolvingPrincipal,
    Unbilled,
}

impl Part {
    pub fn is_principal(self) -> bool {
        matches!(
            self,
            Part::InstallmentPrincipal | Part::RevolvingPrincipal | Part::Unbilled
        )
    }
}

/// The terms' bucket order with principal expanded into its parts.
pub(super) fn order(terms: &Terms) -> Vec<Part> {
    let mut parts = Vec::with_capacity(6);
    for bucket in &terms.allocation_order {
        match bucket {
            Bucket::Penalty => parts.push(Part::Penalty),
            Bucket::Interest => parts.push(Part::Interest),
            Bucket::Fee => parts.push(Part::Fee),
            Bucket::Principal => parts.extend([
                Part::InstallmentPrincipal,
                Part::RevolvingPrincipal,
                Part::Unbilled,
            ]),
        }
    }
    parts
}

pub(super) fn line_balance(line: &Line, part: Part) -> i64 {
    match part {
        Part::Penalty => line.penalty_minor,
        Part::Interest => line.interest_minor,
        Part::Fee => line.fee_minor,
        Part::InstallmentPrincipal => line.billed_installment_principal_minor,
        Part::RevolvingPrincipal => line.billed_principal_minor,
        Part::Unbilled => line.unbilled_principal_minor,
    }
}

pub(super) fn line_balance_mut(line: &mut Line, part: Part) -> &mut i64 {
    match part {
        Part::Penalty => &mut line.penalty_minor,
        Part::Interest => &mut line.interest_minor,
        Part::Fee => &mut line.fee_minor,
        Part::InstallmentPrincipal => &mut line.billed_installment_principal_minor,
        Part::RevolvingPrincipal => &mut line.billed_principal_minor,
        Part::Unbilled => &mut line.unbilled_principal_minor,
    }
}

fn component(statement: &Statement, part: Part) -> i64 {
    match part {
        Part::Penalty => statement.penalty_minor,
        Part::Interest => statement.interest_minor,
        Part::Fee => statement.installment_fee_minor,
        Part::InstallmentPrincipal => statement.installment_principal_minor,
        Part::RevolvingPrincipal => statement.revolving_principal_minor,
        Part::Unbilled => 0,
    }
}

/// What is left unpaid of one component of a statement.
pub(super) fn remaining(statement: &Statement, order: &[Part], part: Part) -> i64 {
    let mut paid_left = statement.paid_minor;
    for &each in order {
        let amount = component(statement, each);
        let covered = paid_left.min(amount);
        if each == part {
            return amount - covered;
        }
        paid_left -= covered;
    }
    0
}
