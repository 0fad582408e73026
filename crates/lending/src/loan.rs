//! The pure loan state machine: `apply(state, command, as_of) -> (state, postings)`.
//!
//! The state is a value and every money movement comes out as a [`PostingIntent`] for the
//! ledger to book; nothing here reads a clock or stores anything. Business dates move one
//! day at a time through [`Command::AdvanceDay`], so replaying the same commands always
//! gives the same state and the same postings.

use crate::product::{
    AllocationOrder, AllocationScope, Component, LoanProduct, OverpaymentCredit,
    PartialPrepaymentEffect, PrepaymentPolicy, RepaymentMethod,
};
use crate::schedule::{Installment, RepaymentTerms, Reshape, ScheduleError, SchedulePlan};
use money::{BusinessDate, Decimal, Money, RateDaily};

/// What a ledger account is for; the ledger maps a purpose to the loan's concrete account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccountPurpose {
    PrincipalReceivable,
    InterestReceivable,
    FeeReceivable,
    PenaltyReceivable,
    InterestIncome,
    FeeIncome,
    PenaltyIncome,
    /// Cash moving between the lender and the borrower (out at disbursement, in on repayment).
    BorrowerCash,
    /// Entrusted payment (受托支付): disbursement paid straight to the borrower's payee.
    PayeeSettlement,
    /// Money received that this loan cannot book (e.g. after write-off), for an operator.
    Suspense,
    WriteOffExpense,
    /// Paid in excess of what was due, owed back to the borrower.
    Overpayment,
    /// Interest recognised day by day but not yet billed. It is one account of the tenant,
    /// not one per loan: a day on which a loan only accrues then needs no posting of that
    /// loan's own (close of business books the day's accrual of all such loans as one
    /// sum). Billing moves an installment's interest from here to the loan's
    /// `InterestReceivable`.
    AccruedInterest,
    /// Cash recovered on written-off amounts: income of the tenant, since the write-off
    /// already took the amounts off the books as an expense or reversed income.
    RecoveryIncome,
}

/// One balanced movement: debit one purpose, credit another, by a positive amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostingIntent {
    pub debit: AccountPurpose,
    pub credit: AccountPurpose,
    pub amount_minor: i64,
}

/// The payee of an entrusted payment, as the borrower named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayeeAccount(pub String);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Disburse {
        payee: Option<PayeeAccount>,
    },
    /// Moves to the next business date: accrues its interest, bills what falls due on it,
    /// charges late fees and penalty interest, updates DPD and writes off when due.
    AdvanceDay,
    Repay {
        amount: Money,
    },
    PrepayFull {
        amount: Money,
    },
    /// Pays what is billed and the interest accrued so far, then prepays principal with
    /// the rest (less the prepayment fee) and reshapes the remaining schedule as the product
    /// says: a shorter term or a lower installment.
    PrepayPartial {
        amount: Money,
    },
    /// Pays the borrower back out of the overpayment credit (any status but signed, so a
    /// paid-off loan can return what is left).
    Refund {
        amount: Money,
    },
    /// Books cash received on a written-off loan as a recovery: it reduces the written-off
    /// claim (principal first, then interest, fees and penalty) and never above it.
    Recover {
        amount: Money,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoanError {
    #[error("command needs a {expected:?} loan, this one is {actual:?}")]
    Status {
        expected: LoanStatus,
        actual: LoanStatus,
    },
    #[error("business date must be {expected}, got {got}")]
    Date {
        expected: BusinessDate,
        got: BusinessDate,
    },
    #[error(
        "disbursements above {threshold_minor} minor units must name a payee (entrusted payment)"
    )]
    PayeeRequired { threshold_minor: i64 },
    #[error(
        "amount must be positive and in the loan's currency, got {} minor units of {}",
        .0.amount_minor(),
        .0.currency().code()
    )]
    Amount(Money),
    #[error("paying off needs {required_minor} minor units")]
    InsufficientForPayoff { required_minor: i64 },
    #[error("a refund may not exceed the overpayment credit of {credit_minor} minor units")]
    RefundAboveCredit { credit_minor: i64 },
    #[error(
        "a recovery may not exceed the {claim_minor} minor units written off and not yet recovered"
    )]
    RecoveryAboveClaim { claim_minor: i64 },
    #[error("the product does not allow this prepayment")]
    PrepaymentNotAllowed,
    #[error("a partial prepayment must prepay at least {minimum_minor} minor units of principal")]
    PartialBelowMinimum { minimum_minor: i64 },
    #[error("a partial prepayment must leave principal outstanding; use a full prepayment")]
    PartialCoversAll,
    #[error("product: {0}")]
    Product(String),
    #[error("schedule: {0}")]
    Schedule(#[from] ScheduleError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoanStatus {
    Signed,
    Active,
    PaidOff,
    WrittenOff,
}

/// Delinquency buckets by days past due: M0 current, M1 1–30, M2 31–60, M3 61–90, M4+ >90.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DelinquencyBucket {
    M0,
    M1,
    M2,
    M3,
    M4Plus,
}

impl DelinquencyBucket {
    pub const ALL: [DelinquencyBucket; 5] = [
        DelinquencyBucket::M0,
        DelinquencyBucket::M1,
        DelinquencyBucket::M2,
        DelinquencyBucket::M3,
        DelinquencyBucket::M4Plus,
    ];

    /// The days past due the bucket spans, inclusive; `None` is unbounded above.
    pub fn dpd_range(self) -> (u32, Option<u32>) {
        match self {
            DelinquencyBucket::M0 => (0, Some(0)),
            DelinquencyBucket::M1 => (1, Some(30)),
            DelinquencyBucket::M2 => (31, Some(60)),
            DelinquencyBucket::M3 => (61, Some(90)),
            DelinquencyBucket::M4Plus => (91, None),
        }
    }
}

pub fn delinquency_bucket(dpd: u32) -> DelinquencyBucket {
    DelinquencyBucket::ALL
        .into_iter()
        .find(|b| b.dpd_range().1.is_none_or(|max| dpd <= max))
        .expect("the last bucket is unbounded")
}

/// Five-tier risk classification (五级分类). The overdue floors follow the 2023 NFRA rules
/// for financial asset risk classification: over 90 days at least substandard, over 270
/// doubtful, over 360 loss; any overdue day is at least special mention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Classification {
    Normal,
    SpecialMention,
    Substandard,
    Doubtful,
    Loss,
}

pub fn classification(dpd: u32) -> Classification {
    match dpd {
        0 => Classification::Normal,
        1..=90 => Classification::SpecialMention,
        91..=270 => Classification::Substandard,
        271..=360 => Classification::Doubtful,
        _ => Classification::Loss,
    }
}

/// Contract terms fixed at signing; later product changes do not reach a signed loan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoanConfig {
    pub principal: Money,
    pub repayment: RepaymentTerms,
    pub penalty_rate_daily: RateDaily,
    /// Penalty interest also runs on overdue interest (复利).
    pub penalty_compounds: bool,
    pub late_fee_minor: i64,
    pub grace_days: u32,
    pub allocation_order: AllocationOrder,
    pub prepayment: PrepaymentPolicy,
    pub entrusted_payment_threshold_minor: i64,
    pub write_off_dpd: u32,
    pub overpayment_credit: OverpaymentCredit,
}

impl LoanConfig {
    pub fn from_product(
        product: &LoanProduct,
        principal: Money,
        term_months: u32,
        write_off_dpd: u32,
    ) -> Result<LoanConfig, LoanError> {
        let product_error = |e: &dyn std::fmt::Display| LoanError::Product(e.to_string());
        if let Err(errors) = product.validate() {
            let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(LoanError::Product(reasons.join("; ")));
        }
        product
            .check_amount(principal)
            .map_err(|e| product_error(&e))?;
        let repayment = product
            .repayment_terms(term_months)
            .map_err(|e| product_error(&e))?;
        let penalty_rate_daily = product
            .penalty_rate_daily()
            .map_err(|e| product_error(&e))?;
        Ok(LoanConfig {
            principal,
            repayment,
            penalty_rate_daily,
            penalty_compounds: product.penalty.compound_on_overdue_interest,
            late_fee_minor: product.late_fee_minor,
            grace_days: product.grace_days,
            allocation_order: product.allocation_order,
            prepayment: product.prepayment,
            entrusted_payment_threshold_minor: product.entrusted_payment_threshold_minor,
            write_off_dpd,
            overpayment_credit: product.overpayment_credit,
        })
    }
}

/// Amounts per component, indexed in `Component` order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ComponentAmounts([i64; 4]);

impl ComponentAmounts {
    pub fn get(&self, component: Component) -> i64 {
        self.0[component_index(component)]
    }

    /// The amounts in `Component` order: penalty, fee, interest, principal.
    pub fn to_array(self) -> [i64; 4] {
        self.0
    }

    pub fn from_array(amounts: [i64; 4]) -> ComponentAmounts {
        ComponentAmounts(amounts)
    }

    fn add(&mut self, component: Component, amount_minor: i64) {
        self.0[component_index(component)] += amount_minor;
    }
}

const COMPONENTS: [Component; 4] = [
    Component::Penalty,
    Component::Fee,
    Component::Interest,
    Component::Principal,
];

fn component_index(component: Component) -> usize {
    match component {
        Component::Penalty => 0,
        Component::Fee => 1,
        Component::Interest => 2,
        Component::Principal => 3,
    }
}

fn receivable(component: Component) -> AccountPurpose {
    match component {
        Component::Penalty => AccountPurpose::PenaltyReceivable,
        Component::Fee => AccountPurpose::FeeReceivable,
        Component::Interest => AccountPurpose::InterestReceivable,
        Component::Principal => AccountPurpose::PrincipalReceivable,
    }
}

fn income(component: Component) -> AccountPurpose {
    match component {
        Component::Penalty => AccountPurpose::PenaltyIncome,
        Component::Fee => AccountPurpose::FeeIncome,
        Component::Interest => AccountPurpose::InterestIncome,
        Component::Principal => AccountPurpose::WriteOffExpense,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallmentState {
    pub scheduled: Installment,
    /// Due and owed: set on the due date.
    pub billed: bool,
    /// Interest of this period recognised so far by daily accrual.
    pub interest_accrued_minor: i64,
    pub late_fee_minor: i64,
    pub penalty_minor: i64,
    /// Exact penalty accrued but below one minor unit, carried to the next day.
    pub penalty_carry: Decimal,
    pub paid: ComponentAmounts,
}

impl InstallmentState {
    fn new(scheduled: Installment) -> InstallmentState {
        InstallmentState {
            scheduled,
            billed: false,
            interest_accrued_minor: 0,
            late_fee_minor: 0,
            penalty_minor: 0,
            penalty_carry: Decimal::ZERO,
            paid: ComponentAmounts::default(),
        }
    }

    pub fn due(&self, component: Component) -> i64 {
        match component {
            Component::Penalty => self.penalty_minor,
            Component::Fee => self.scheduled.fee_minor + self.late_fee_minor,
            Component::Interest => self.scheduled.interest_minor,
            Component::Principal => self.scheduled.principal_minor,
        }
    }

    /// What is owed now: nothing before the due date.
    pub fn outstanding(&self, component: Component) -> i64 {
        if self.billed {
            self.due(component) - self.paid.get(component)
        } else {
            0
        }
    }

    pub fn outstanding_total(&self) -> i64 {
        COMPONENTS.iter().map(|&c| self.outstanding(c)).sum()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loan {
    pub config: LoanConfig,
    pub status: LoanStatus,
    pub business_date: BusinessDate,
    pub disbursed_on: Option<BusinessDate>,
    pub installments: Vec<InstallmentState>,
    pub dpd: u32,
    /// What was taken off the books at write-off, per component, and not yet recovered.
    pub written_off: ComponentAmounts,
    /// Paid beyond what was owed and not yet used or refunded: the balance of the loan's
    /// `Overpayment` liability.
    pub overpayment_credit_minor: i64,
}

impl Loan {
    pub fn signed(config: LoanConfig, signed_on: BusinessDate) -> Loan {
        Loan {
            config,
            status: LoanStatus::Signed,
            business_date: signed_on,
            disbursed_on: None,
            installments: Vec::new(),
            dpd: 0,
            written_off: ComponentAmounts::default(),
            overpayment_credit_minor: 0,
        }
    }

    pub fn bucket(&self) -> DelinquencyBucket {
        delinquency_bucket(self.dpd)
    }

    pub fn classification(&self) -> Classification {
        match self.status {
            LoanStatus::WrittenOff => Classification::Loss,
            _ => classification(self.dpd),
        }
    }

    /// Principal not yet repaid, billed or not.
    pub fn principal_outstanding_minor(&self) -> i64 {
        self.installments
            .iter()
            .map(|i| i.scheduled.principal_minor - i.paid.get(Component::Principal))
            .sum()
    }

    /// Interest recognised and not yet repaid, billed or not (the loan's
    /// `InterestReceivable` account holds only the billed part; see
    /// [`Loan::interest_accrued_unbilled_minor`] for the rest).
    pub fn interest_recognised_unpaid_minor(&self) -> i64 {
        self.installments
            .iter()
            .map(|i| i.interest_accrued_minor - i.paid.get(Component::Interest))
            .sum()
    }

    /// Interest accrued in the current period and not yet billed (the loan's share of the
    /// tenant's `AccruedInterest` account).
    pub fn interest_accrued_unbilled_minor(&self) -> i64 {
        self.installments
            .iter()
            .filter(|i| !i.billed)
            .map(|i| i.interest_accrued_minor)
            .sum()
    }

    /// Billed and unpaid amount of one component across installments.
    pub fn outstanding_minor(&self, component: Component) -> i64 {
        self.installments
            .iter()
            .map(|i| i.outstanding(component))
            .sum()
    }

    fn days_past_due(&self, as_of: BusinessDate) -> u32 {
        self.installments
            .iter()
            .find(|i| i.billed && i.outstanding_total() > 0)
            .map_or(0, |i| days_u32(i.scheduled.due_date, as_of))
    }

    fn require(&self, expected: LoanStatus) -> Result<(), LoanError> {
        if self.status == expected {
            Ok(())
        } else {
            Err(LoanError::Status {
                expected,
                actual: self.status,
            })
        }
    }

    /// Money moves on the loan's own business day only.
    fn require_day(&self, as_of: BusinessDate) -> Result<(), LoanError> {
        if as_of == self.business_date {
            Ok(())
        } else {
            Err(LoanError::Date {
                expected: self.business_date,
                got: as_of,
            })
        }
    }

    fn check_amount(&self, amount: Money) -> Result<i64, LoanError> {
        if amount.currency() == self.config.principal.currency() && amount.is_positive() {
            Ok(amount.amount_minor())
        } else {
            Err(LoanError::Amount(amount))
        }
    }
}

mod credit;
mod day;
mod repay;

use day::advance_day;
pub use day::{fast_forward, quiet_day_accrual_minor, quiet_through};
pub use repay::payoff_minor;
use repay::{allocate_from, prepay_full, prepay_partial, repay};

fn days_u32(from: BusinessDate, to: BusinessDate) -> u32 {
    u32::try_from(from.days_until(to).max(0)).unwrap_or(u32::MAX)
}

/// Collects postings, dropping zeros and merging repeats of the same pair, so one command
/// yields one posting per (debit, credit) pair in first-seen order.
#[derive(Default)]
struct Postings(Vec<PostingIntent>);

impl Postings {
    fn push(&mut self, debit: AccountPurpose, credit: AccountPurpose, amount_minor: i64) {
        assert!(
            amount_minor >= 0,
            "postings are built from non-negative amounts"
        );
        if amount_minor == 0 {
            return;
        }
        match self
            .0
            .iter_mut()
            .find(|p| p.debit == debit && p.credit == credit)
        {
            Some(existing) => existing.amount_minor += amount_minor,
            None => self.0.push(PostingIntent {
                debit,
                credit,
                amount_minor,
            }),
        }
    }
}

/// The whole state machine: a new state and its postings, or a refusal with the state
/// untouched.
pub fn apply(
    state: &Loan,
    command: &Command,
    as_of: BusinessDate,
) -> Result<(Loan, Vec<PostingIntent>), LoanError> {
    let mut loan = state.clone();
    let mut out = Postings::default();
    match command {
        Command::Disburse { payee } => disburse(&mut loan, payee.as_ref(), as_of, &mut out)?,
        Command::AdvanceDay => advance_day(&mut loan, as_of, &mut out)?,
        Command::Repay { amount } => repay(&mut loan, *amount, as_of, &mut out)?,
        Command::PrepayFull { amount } => prepay_full(&mut loan, *amount, as_of, &mut out)?,
        Command::PrepayPartial { amount } => prepay_partial(&mut loan, *amount, as_of, &mut out)?,
        Command::Refund { amount } => credit::refund(&mut loan, *amount, as_of, &mut out)?,
        Command::Recover { amount } => repay::recover(&mut loan, *amount, as_of, &mut out)?,
    }
    Ok((loan, out.0))
}

fn disburse(
    loan: &mut Loan,
    payee: Option<&PayeeAccount>,
    as_of: BusinessDate,
    out: &mut Postings,
) -> Result<(), LoanError> {
    loan.require(LoanStatus::Signed)?;
    if as_of < loan.business_date {
        return Err(LoanError::Date {
            expected: loan.business_date,
            got: as_of,
        });
    }
    let principal = loan.config.principal;
    let threshold_minor = loan.config.entrusted_payment_threshold_minor;
    if payee.is_none() && principal.amount_minor() > threshold_minor {
        return Err(LoanError::PayeeRequired { threshold_minor });
    }
    let schedule = SchedulePlan::new(loan.config.repayment)?.generate(principal, as_of)?;
    let paid_to = match payee {
        Some(_) => AccountPurpose::PayeeSettlement,
        None => AccountPurpose::BorrowerCash,
    };
    let net_minor = schedule.principal_minor - schedule.upfront_fee_minor;
    out.push(AccountPurpose::PrincipalReceivable, paid_to, net_minor);
    out.push(
        AccountPurpose::PrincipalReceivable,
        AccountPurpose::FeeIncome,
        schedule.upfront_fee_minor,
    );
    loan.installments = schedule
        .installments
        .into_iter()
        .map(InstallmentState::new)
        .collect();
    loan.status = LoanStatus::Active;
    loan.business_date = as_of;
    loan.disbursed_on = Some(as_of);
    Ok(())
}

#[cfg(test)]
mod tests;
