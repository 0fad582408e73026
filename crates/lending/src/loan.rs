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
    /// What was taken off the books at write-off, per component, for later recovery.
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

    fn check_amount(&self, amount: Money) -> Result<i64, LoanError> {
        if amount.currency() == self.config.principal.currency() && amount.is_positive() {
            Ok(amount.amount_minor())
        } else {
            Err(LoanError::Amount(amount))
        }
    }
}

mod credit;

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

fn advance_day(loan: &mut Loan, as_of: BusinessDate, out: &mut Postings) -> Result<(), LoanError> {
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
fn accrue_interest(loan: &mut Loan, as_of: BusinessDate, out: &mut Postings) {
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
fn accrued_interest_at(loan: &Loan, index: usize, as_of: BusinessDate) -> i64 {
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
fn bill(installment: &mut InstallmentState, out: &mut Postings) {
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
fn bill_due(loan: &mut Loan, as_of: BusinessDate, out: &mut Postings) {
    for installment in &mut loan.installments {
        if !installment.billed && installment.scheduled.due_date == as_of {
            bill(installment, out);
        }
    }
}

/// One late fee per installment, on the first day past the grace days.
fn charge_late_fees(loan: &mut Loan, as_of: BusinessDate, out: &mut Postings) {
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
fn accrue_penalty(loan: &mut Loan, as_of: BusinessDate, out: &mut Postings) {
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
fn write_off(loan: &mut Loan, out: &mut Postings) {
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

fn repay(
    loan: &mut Loan,
    amount: Money,
    as_of: BusinessDate,
    out: &mut Postings,
) -> Result<(), LoanError> {
    let amount_minor = loan.check_amount(amount)?;
    if as_of != loan.business_date {
        return Err(LoanError::Date {
            expected: loan.business_date,
            got: as_of,
        });
    }
    let unbooked_to = match loan.status {
        LoanStatus::Signed => return loan.require(LoanStatus::Active),
        LoanStatus::Active => AccountPurpose::Overpayment,
        LoanStatus::PaidOff => AccountPurpose::Overpayment,
        // Recoveries on written-off loans need an operator's decision on what they settle.
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

/// Applies cash to billed amounts in the contract's order; returns what is left.
fn allocate_repayment(loan: &mut Loan, amount_minor: i64, out: &mut Postings) -> i64 {
    allocate_from(loan, AccountPurpose::BorrowerCash, amount_minor, out)
}

/// Applies money from `source` (cash, or the overpayment credit) to billed amounts in the
/// contract's order; returns what is left.
fn allocate_from(
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

fn settle_status(loan: &mut Loan, as_of: BusinessDate) {
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
fn payoff_parts(loan: &Loan) -> Result<[i64; 4], LoanError> {
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

fn prepay_full(
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
    if as_of != loan.business_date {
        return Err(LoanError::Date {
            expected: loan.business_date,
            got: as_of,
        });
    }
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
fn split_principal_and_fee(loan: &Loan, available_minor: i64) -> Result<(i64, i64), LoanError> {
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

fn prepay_partial(
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
    if as_of != loan.business_date {
        return Err(LoanError::Date {
            expected: loan.business_date,
            got: as_of,
        });
    }
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
fn reshape_after_prepayment(
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
fn settle_prepaid_period(
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
fn collapse_unbilled(loan: &mut Loan, as_of: BusinessDate, fee_minor: i64, out: &mut Postings) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::product::tests::cny_daily_product;
    use crate::product::{FeeCollection, OriginationFee};
    use money::Currency;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;
    use std::collections::BTreeMap;
    use AccountPurpose::*;

    pub(super) fn d(s: &str) -> BusinessDate {
        s.parse().unwrap()
    }

    pub(super) fn cny(amount_minor: i64) -> Money {
        Money::from_minor(amount_minor, Currency::Cny)
    }

    pub(super) fn post(
        debit: AccountPurpose,
        credit: AccountPurpose,
        amount_minor: i64,
    ) -> PostingIntent {
        PostingIntent {
            debit,
            credit,
            amount_minor,
        }
    }

    /// 10,000.00 CNY, 3 months at 0.05%/day, penalty 1.5× (0.075%/day), grace 3 days, late
    /// fee 10.00, written off at 90 DPD. Schedule (see the schedule tests): due Feb 15,
    /// Mar 15, Apr 15 2026; (principal, interest) = (327,883, 15,500), (333,973, 9,410),
    /// (338,144, 5,241).
    pub(super) fn config() -> LoanConfig {
        let mut product = cny_daily_product();
        product.late_fee_minor = 1_000;
        LoanConfig::from_product(&product, cny(1_000_000), 3, 90).unwrap()
    }

    pub(super) fn disbursed(config: LoanConfig) -> Loan {
        let signed = Loan::signed(config, d("2026-01-15"));
        apply(&signed, &Command::Disburse { payee: None }, d("2026-01-15"))
            .unwrap()
            .0
    }

    /// Advances day by day through `to`, returning the postings of every day.
    pub(super) fn advance_to(loan: &mut Loan, to: &str, journal: &mut Vec<PostingIntent>) {
        while loan.business_date < d(to) {
            let next = loan.business_date.succ();
            let (state, postings) = apply(loan, &Command::AdvanceDay, next).unwrap();
            *loan = state;
            journal.extend(postings);
        }
    }

    pub(super) fn sum_of(
        journal: &[PostingIntent],
        debit: AccountPurpose,
        credit: AccountPurpose,
    ) -> i64 {
        journal
            .iter()
            .filter(|p| p.debit == debit && p.credit == credit)
            .map(|p| p.amount_minor)
            .sum()
    }

    #[test]
    fn an_invalid_product_cannot_sign_a_loan() {
        let mut product = cny_daily_product();
        product.grace_days = 99;
        let refused = LoanConfig::from_product(&product, cny(1_000_000), 3, 90);
        assert!(
            matches!(refused, Err(LoanError::Product(reason)) if reason.starts_with("grace_days"))
        );
        let product = cny_daily_product();
        let too_long = LoanConfig::from_product(&product, cny(1_000_000), 24, 90);
        assert!(
            matches!(too_long, Err(LoanError::Product(reason)) if reason.starts_with("term_months"))
        );
    }

    #[test]
    fn disbursement_goes_to_the_borrower_or_the_named_payee() {
        let loan = disbursed(config());
        assert_eq!(loan.status, LoanStatus::Active);
        assert_eq!(loan.installments.len(), 3);
        let signed = Loan::signed(config(), d("2026-01-15"));
        let (_, postings) =
            apply(&signed, &Command::Disburse { payee: None }, d("2026-01-15")).unwrap();
        assert_eq!(
            postings,
            [post(PrincipalReceivable, BorrowerCash, 1_000_000)]
        );

        // 60,000.00 is above the 50,000.00 entrusted-payment threshold.
        let mut big = config();
        big.principal = cny(6_000_000);
        let signed = Loan::signed(big, d("2026-01-15"));
        let refused = apply(&signed, &Command::Disburse { payee: None }, d("2026-01-15"));
        assert_eq!(
            refused,
            Err(LoanError::PayeeRequired {
                threshold_minor: 5_000_000
            })
        );
        let payee = Some(PayeeAccount("merchant-42".into()));
        let (_, postings) = apply(&signed, &Command::Disburse { payee }, d("2026-01-15")).unwrap();
        assert_eq!(
            postings,
            [post(PrincipalReceivable, PayeeSettlement, 6_000_000)]
        );

        // A second disbursement is refused.
        let again = apply(
            &disbursed(config()),
            &Command::Disburse { payee: None },
            d("2026-01-15"),
        );
        assert!(matches!(again, Err(LoanError::Status { .. })));
    }

    #[test]
    fn upfront_fee_is_withheld_from_the_payout() {
        let mut c = config();
        c.repayment.origination_fee = Some(OriginationFee {
            rate_fraction: dec!(0.01),
            collection: FeeCollection::Upfront,
        });
        let signed = Loan::signed(c, d("2026-01-15"));
        let (_, postings) =
            apply(&signed, &Command::Disburse { payee: None }, d("2026-01-15")).unwrap();
        assert_eq!(
            postings,
            [
                post(PrincipalReceivable, BorrowerCash, 990_000),
                post(PrincipalReceivable, FeeIncome, 10_000)
            ]
        );
    }

    #[test]
    fn daily_accrual_carries_the_remainder_and_meets_the_schedule_on_the_due_date() {
        let mut loan = disbursed(config());
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-02-14", &mut journal);
        // 15,500 over 31 days is exactly 500 a day.
        assert!(journal
            .iter()
            .all(|p| *p == post(AccruedInterest, InterestIncome, 500)));
        assert_eq!(journal.len(), 30);
        journal.clear();
        // The due date accrues its day and bills: the period's interest moves from the
        // accrued account to the loan's receivable.
        advance_to(&mut loan, "2026-02-15", &mut journal);
        assert_eq!(sum_of(&journal, AccruedInterest, InterestIncome), 500);
        assert_eq!(
            sum_of(&journal, InterestReceivable, AccruedInterest),
            15_500
        );
        journal.clear();
        // 9,410 over 28 days is 336.07… a day: 336 most days, the remainder adds a unit
        // now and then (after k days exactly floor(9,410 k / 28) is recognised), and the
        // due date tops the period up to exactly 9,410.
        for k in 1..=27i64 {
            let next = loan.business_date.succ();
            let (state, postings) = apply(&loan, &Command::AdvanceDay, next).unwrap();
            loan = state;
            assert_eq!(loan.installments[1].interest_accrued_minor, 9_410 * k / 28);
            let interest = sum_of(&postings, AccruedInterest, InterestIncome);
            assert!(interest == 336 || interest == 337, "{interest}");
        }
        advance_to(&mut loan, "2026-03-15", &mut journal);
        assert_eq!(loan.installments[1].interest_accrued_minor, 9_410);
        assert_eq!(loan.interest_accrued_unbilled_minor(), 0);
        // Days move one at a time.
        let skipped = apply(&loan, &Command::AdvanceDay, d("2026-03-17"));
        assert_eq!(
            skipped,
            Err(LoanError::Date {
                expected: d("2026-03-16"),
                got: d("2026-03-17")
            })
        );
    }

    #[test]
    fn buckets_tile_the_days_past_due() {
        let mut next = 0;
        for b in DelinquencyBucket::ALL {
            let (min, max) = b.dpd_range();
            assert_eq!(min, next, "{b:?} starts where the previous ends");
            assert_eq!(delinquency_bucket(min), b);
            match max {
                Some(max) => {
                    assert_eq!(delinquency_bucket(max), b);
                    next = max + 1;
                }
                None => assert_eq!(delinquency_bucket(u32::MAX), b),
            }
        }
        assert_eq!(delinquency_bucket(30), DelinquencyBucket::M1);
        assert_eq!(delinquency_bucket(31), DelinquencyBucket::M2);
        assert_eq!(delinquency_bucket(91), DelinquencyBucket::M4Plus);
    }

    #[test]
    fn installment_falls_due_then_dpd_bucket_and_classification_follow() {
        let mut loan = disbursed(config());
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-02-14", &mut journal);
        assert!(!loan.installments[0].billed);
        assert_eq!(loan.outstanding_minor(Component::Principal), 0);
        advance_to(&mut loan, "2026-02-15", &mut journal);
        assert!(loan.installments[0].billed);
        assert_eq!(loan.outstanding_minor(Component::Principal), 327_883);
        assert_eq!(
            (loan.dpd, loan.bucket(), loan.classification()),
            (0, DelinquencyBucket::M0, Classification::Normal)
        );
        advance_to(&mut loan, "2026-02-16", &mut journal);
        assert_eq!(
            (loan.dpd, loan.bucket(), loan.classification()),
            (1, DelinquencyBucket::M1, Classification::SpecialMention)
        );
        advance_to(&mut loan, "2026-03-18", &mut journal);
        assert_eq!((loan.dpd, loan.bucket()), (31, DelinquencyBucket::M2));
        advance_to(&mut loan, "2026-04-17", &mut journal);
        assert_eq!((loan.dpd, loan.bucket()), (61, DelinquencyBucket::M3));
        for (dpd, bucket, class) in [
            (90, DelinquencyBucket::M3, Classification::SpecialMention),
            (91, DelinquencyBucket::M4Plus, Classification::Substandard),
            (271, DelinquencyBucket::M4Plus, Classification::Doubtful),
            (361, DelinquencyBucket::M4Plus, Classification::Loss),
        ] {
            assert_eq!(
                (delinquency_bucket(dpd), classification(dpd)),
                (bucket, class),
                "{dpd}"
            );
        }
    }

    #[test]
    fn penalty_and_late_fee_start_after_the_grace_days() {
        let mut loan = disbursed(config());
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-02-18", &mut journal); // 3 days late: still in grace
        assert_eq!(sum_of(&journal, PenaltyReceivable, PenaltyIncome), 0);
        assert_eq!(sum_of(&journal, FeeReceivable, FeeIncome), 0);
        journal.clear();
        advance_to(&mut loan, "2026-02-19", &mut journal);
        // 327,883 × 0.075% = 245.91225: 245 posted, 0.91225 carried.
        assert_eq!(sum_of(&journal, PenaltyReceivable, PenaltyIncome), 245);
        assert_eq!(loan.installments[0].penalty_carry, dec!(0.91225));
        assert_eq!(sum_of(&journal, FeeReceivable, FeeIncome), 1_000);
        journal.clear();
        advance_to(&mut loan, "2026-02-20", &mut journal);
        assert_eq!(sum_of(&journal, PenaltyReceivable, PenaltyIncome), 246);
        assert_eq!(
            sum_of(&journal, FeeReceivable, FeeIncome),
            0,
            "late fee is charged once"
        );

        // Compounding also charges penalty on the overdue interest: 343,383 × 0.075%.
        let mut c = config();
        c.penalty_compounds = true;
        let mut loan = disbursed(c);
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-02-19", &mut journal);
        assert_eq!(sum_of(&journal, PenaltyReceivable, PenaltyIncome), 257);
        assert_eq!(loan.installments[0].penalty_carry, dec!(0.53725));
    }

    #[test]
    fn repayment_follows_the_allocation_order() {
        let mut loan = disbursed(config());
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-02-20", &mut journal); // penalty 245 + 246, late fee 1,000
        let (after, postings) = apply(
            &loan,
            &Command::Repay { amount: cny(2_000) },
            d("2026-02-20"),
        )
        .unwrap();
        // Penalty first (491), then fee (1,000), then interest (509 of 15,500).
        assert_eq!(
            postings,
            [
                post(BorrowerCash, PenaltyReceivable, 491),
                post(BorrowerCash, FeeReceivable, 1_000),
                post(BorrowerCash, InterestReceivable, 509),
            ]
        );
        assert_eq!(after.dpd, 5);
        // Paying the rest of installment 1 brings the loan current.
        let rest = after.installments[0].outstanding_total();
        let (current, _) = apply(
            &after,
            &Command::Repay { amount: cny(rest) },
            d("2026-02-20"),
        )
        .unwrap();
        assert_eq!((current.dpd, current.bucket()), (0, DelinquencyBucket::M0));
        assert!(matches!(
            apply(&after, &Command::Repay { amount: cny(1) }, d("2026-02-21")),
            Err(LoanError::Date { .. })
        ));
    }

    #[test]
    fn component_first_clears_interest_of_every_installment_before_principal() {
        let mut c = config();
        c.allocation_order.scope = AllocationScope::ComponentFirst;
        c.grace_days = 30; // keep penalties and late fees out of this test
        let mut loan = disbursed(c);
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-03-15", &mut journal); // two installments billed
        let (after, postings) = apply(
            &loan,
            &Command::Repay {
                amount: cny(30_000),
            },
            d("2026-03-15"),
        )
        .unwrap();
        assert_eq!(
            postings,
            [
                post(BorrowerCash, InterestReceivable, 24_910),
                post(BorrowerCash, PrincipalReceivable, 5_090)
            ]
        );
        assert_eq!(after.installments[1].outstanding(Component::Interest), 0);
        assert_eq!(
            after.installments[0].outstanding(Component::Principal),
            327_883 - 5_090
        );
    }

    #[test]
    fn paying_every_installment_closes_the_loan_and_excess_is_overpayment() {
        let mut loan = disbursed(config());
        let mut journal = Vec::new();
        for (due, total) in [
            ("2026-02-15", 343_383),
            ("2026-03-15", 343_383),
            ("2026-04-15", 343_385),
        ] {
            advance_to(&mut loan, due, &mut journal);
            let extra = if due == "2026-04-15" { 100 } else { 0 };
            let (state, postings) = apply(
                &loan,
                &Command::Repay {
                    amount: cny(total + extra),
                },
                d(due),
            )
            .unwrap();
            loan = state;
            journal.extend(postings);
        }
        assert_eq!(loan.status, LoanStatus::PaidOff);
        assert_eq!(sum_of(&journal, BorrowerCash, Overpayment), 100);
        assert_eq!(
            sum_of(&journal, BorrowerCash, PrincipalReceivable),
            1_000_000
        );
        assert_eq!(sum_of(&journal, BorrowerCash, InterestReceivable), 30_151);
        assert_eq!(sum_of(&journal, AccruedInterest, InterestIncome), 30_151);
        assert_eq!(
            sum_of(&journal, InterestReceivable, AccruedInterest),
            30_151
        );
        // A closed loan follows the calendar without posting.
        let (_, postings) = apply(&loan, &Command::AdvanceDay, d("2026-04-16")).unwrap();
        assert!(postings.is_empty());
    }

    #[test]
    fn write_off_at_the_configured_dpd_takes_receivables_off_the_books() {
        let mut loan = disbursed(config());
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-05-15", &mut journal); // 89 DPD
        assert_eq!(loan.status, LoanStatus::Active);
        let principal = loan.principal_outstanding_minor();
        let interest = loan.interest_recognised_unpaid_minor();
        let penalty = loan.outstanding_minor(Component::Penalty);
        let fee = loan.outstanding_minor(Component::Fee);
        journal.clear();
        advance_to(&mut loan, "2026-05-16", &mut journal); // 90 DPD
        assert_eq!(loan.status, LoanStatus::WrittenOff);
        assert_eq!(loan.classification(), Classification::Loss);
        assert_eq!(principal, 1_000_000);
        assert_eq!(interest, 30_151);
        assert_eq!(
            sum_of(&journal, WriteOffExpense, PrincipalReceivable),
            principal
        );
        assert_eq!(
            sum_of(&journal, InterestIncome, InterestReceivable),
            interest
        );
        assert_eq!(loan.written_off.get(Component::Fee), fee);
        assert_eq!(sum_of(&journal, FeeIncome, FeeReceivable), fee);
        let today_penalty = sum_of(&journal, PenaltyReceivable, PenaltyIncome);
        assert_eq!(
            sum_of(&journal, PenaltyIncome, PenaltyReceivable),
            penalty + today_penalty
        );
        // Later cash cannot settle booked receivables: it waits in suspense.
        let (_, postings) = apply(
            &loan,
            &Command::Repay { amount: cny(5_000) },
            d("2026-05-16"),
        )
        .unwrap();
        assert_eq!(postings, [post(BorrowerCash, Suspense, 5_000)]);
    }

    #[test]
    fn full_prepayment_pays_principal_and_interest_accrued_so_far() {
        let mut loan = disbursed(config());
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-02-15", &mut journal);
        let (paid, _) = apply(
            &loan,
            &Command::Repay {
                amount: cny(343_383),
            },
            d("2026-02-15"),
        )
        .unwrap();
        loan = paid;
        advance_to(&mut loan, "2026-02-25", &mut journal);
        // 10 days of 9,410 / 28 = 3,360.71… → 3,360 recognised so far.
        assert_eq!(loan.installments[1].interest_accrued_minor, 3_360);
        let required = payoff_minor(&loan).unwrap();
        assert_eq!(required, 672_117 + 3_360);
        let short = apply(
            &loan,
            &Command::PrepayFull {
                amount: cny(required - 1),
            },
            d("2026-02-25"),
        );
        assert_eq!(
            short,
            Err(LoanError::InsufficientForPayoff {
                required_minor: required
            })
        );
        let (closed, postings) = apply(
            &loan,
            &Command::PrepayFull {
                amount: cny(required),
            },
            d("2026-02-25"),
        )
        .unwrap();
        assert_eq!(closed.status, LoanStatus::PaidOff);
        // Interest before principal, as the allocation order says.
        assert_eq!(
            postings,
            [
                post(InterestReceivable, AccruedInterest, 3_360),
                post(BorrowerCash, InterestReceivable, 3_360),
                post(BorrowerCash, PrincipalReceivable, 672_117)
            ]
        );
        assert_eq!(closed.installments.len(), 2);
    }

    /// Paid installment 1 on Feb 15, then advanced to Feb 25: 3,360 of interest accrued.
    fn loan_on_feb_25(c: LoanConfig) -> Loan {
        let mut loan = disbursed(c);
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-02-15", &mut journal);
        loan = apply(
            &loan,
            &Command::Repay {
                amount: cny(343_383),
            },
            d("2026-02-15"),
        )
        .unwrap()
        .0;
        advance_to(&mut loan, "2026-02-25", &mut journal);
        loan
    }

    fn prepay(loan: &Loan, amount_minor: i64) -> Result<(Loan, Vec<PostingIntent>), LoanError> {
        apply(
            loan,
            &Command::PrepayPartial {
                amount: cny(amount_minor),
            },
            d("2026-02-25"),
        )
    }

    fn shape(loan: &Loan) -> Vec<(u32, BusinessDate, i64, i64)> {
        loan.installments
            .iter()
            .map(|i| {
                (
                    i.scheduled.number,
                    i.scheduled.due_date,
                    i.scheduled.principal_minor,
                    i.scheduled.interest_minor,
                )
            })
            .collect()
    }

    #[test]
    fn partial_prepayment_shortening_the_term() {
        let loan = loan_on_feb_25(config());
        let (after, postings) = prepay(&loan, 403_360).unwrap();
        assert_eq!(
            postings,
            [
                post(InterestReceivable, AccruedInterest, 3_360),
                post(BorrowerCash, InterestReceivable, 3_360),
                post(BorrowerCash, PrincipalReceivable, 400_000)
            ]
        );
        // 272,117 left; the kept installment of 343,383 clears it on Mar 15 (18 days of
        // interest: 2,449), so Apr 15 is gone.
        assert_eq!(
            shape(&after),
            [
                (1, d("2026-02-15"), 327_883, 15_500),
                (2, d("2026-02-25"), 400_000, 3_360),
                (3, d("2026-03-15"), 272_117, 2_449),
            ]
        );
        let mut loan = after;
        let mut journal = Vec::new();
        advance_to(&mut loan, "2026-03-15", &mut journal);
        assert_eq!(sum_of(&journal, AccruedInterest, InterestIncome), 2_449);
        let (closed, _) = apply(
            &loan,
            &Command::Repay {
                amount: cny(274_566),
            },
            d("2026-03-15"),
        )
        .unwrap();
        assert_eq!(closed.status, LoanStatus::PaidOff);
    }

    #[test]
    fn partial_prepayment_lowering_the_installment_with_a_fee() {
        let mut c = config();
        c.prepayment.partial_effect = PartialPrepaymentEffect::LowerInstallment;
        c.prepayment.fee_rate_fraction = dec!(0.01);
        let loan = loan_on_feb_25(c);
        // 400,000 after interest: 396,039 principal + 3,960 fee (1%, half-up) = 399,999,
        // the most principal whose fee still fits; the last unit is an overpayment.
        let (after, postings) = prepay(&loan, 403_360).unwrap();
        assert_eq!(
            postings,
            [
                post(InterestReceivable, AccruedInterest, 3_360),
                post(FeeReceivable, FeeIncome, 3_960),
                post(BorrowerCash, FeeReceivable, 3_960),
                post(BorrowerCash, InterestReceivable, 3_360),
                post(BorrowerCash, PrincipalReceivable, 396_039),
                post(BorrowerCash, Overpayment, 1),
            ]
        );
        let remaining: Vec<BusinessDate> = after.installments[2..]
            .iter()
            .map(|i| i.scheduled.due_date)
            .collect();
        assert_eq!(remaining, [d("2026-03-15"), d("2026-04-15")]);
        assert_eq!(after.principal_outstanding_minor(), 672_117 - 396_039);
        assert!(after.installments[2].scheduled.total_minor < 343_383);
    }

    #[test]
    fn partial_prepayment_limits() {
        let loan = loan_on_feb_25(config());
        assert_eq!(
            prepay(&loan, 3_360 + 9_999),
            Err(LoanError::PartialBelowMinimum {
                minimum_minor: 10_000
            })
        );
        assert_eq!(
            prepay(&loan, 3_360 + 672_117),
            Err(LoanError::PartialCoversAll)
        );
        let mut c = config();
        c.prepayment.partial_allowed = false;
        assert_eq!(
            prepay(&loan_on_feb_25(c), 403_360),
            Err(LoanError::PrepaymentNotAllowed)
        );
    }

    /// Balances per purpose (debit positive) from a journal.
    pub(super) fn balances(journal: &[PostingIntent]) -> BTreeMap<AccountPurpose, i64> {
        let mut map = BTreeMap::new();
        for p in journal {
            *map.entry(p.debit).or_insert(0) += p.amount_minor;
            *map.entry(p.credit).or_insert(0) -= p.amount_minor;
        }
        map
    }

    fn any_config() -> impl Strategy<Value = LoanConfig> {
        let method = prop_oneof![
            Just(crate::product::RepaymentMethod::Annuity),
            Just(crate::product::RepaymentMethod::EqualPrincipal),
            Just(crate::product::RepaymentMethod::InterestOnly),
            Just(crate::product::RepaymentMethod::Bullet),
        ];
        let rate = prop_oneof![
            Just(crate::product::ContractRate::Daily(
                "0.05%".parse().unwrap()
            )),
            Just(crate::product::ContractRate::Monthly(
                "1.5%".parse().unwrap()
            )),
            Just(crate::product::ContractRate::Annual("18%".parse().unwrap())),
        ];
        let fee = prop_oneof![
            Just(None),
            Just(Some(OriginationFee {
                rate_fraction: dec!(0.02),
                collection: FeeCollection::Spread
            })),
            Just(Some(OriginationFee {
                rate_fraction: dec!(0.01),
                collection: FeeCollection::Upfront
            })),
        ];
        let scope = prop_oneof![
            Just(AllocationScope::OldestInstallmentFirst),
            Just(AllocationScope::ComponentFirst)
        ];
        let day_rule = prop_oneof![
            Just(crate::product::RepaymentDayRule::DisbursementDay),
            (1u8..=31).prop_map(crate::product::RepaymentDayRule::FixedDay),
        ];
        let effect = prop_oneof![
            Just(PartialPrepaymentEffect::ShortenTerm),
            Just(PartialPrepaymentEffect::LowerInstallment)
        ];
        (
            (method, rate, fee, scope, day_rule, effect, 0i64..=200),
            (
                3u32..=12,
                10_000i64..=5_000_000,
                any::<bool>(),
                0u32..=5,
                30u32..=120,
                any::<bool>(),
                any::<bool>(),
            ),
        )
            .prop_map(
                |(
                    (method, rate, fee, scope, day_rule, effect, fee_bp),
                    (term, principal, compounds, grace, write_off, late_fee, hold),
                )| {
                    let mut product = cny_daily_product();
                    product.repayment_method = method;
                    product.contract_rate = rate;
                    product.origination_fee = fee;
                    product.allocation_order.scope = scope;
                    product.repayment_day = day_rule;
                    product.penalty.compound_on_overdue_interest = compounds;
                    product.grace_days = grace;
                    product.late_fee_minor = if late_fee { 1_000 } else { 0 };
                    product.prepayment.partial_effect = effect;
                    product.prepayment.fee_rate_fraction = Decimal::new(fee_bp, 4);
                    product.overpayment_credit = if hold {
                        crate::product::OverpaymentCredit::Hold
                    } else {
                        crate::product::OverpaymentCredit::ApplyToNextDue
                    };
                    product.validate().unwrap();
                    LoanConfig::from_product(&product, cny(principal), term, write_off).unwrap()
                },
            )
    }

    proptest! {
        /// Random days and repayments: the receivables the postings imply always equal what
        /// the state says is owed, and every posting is positive.
        #[test]
        fn postings_agree_with_state(
            days in 1usize..200,
            payments in prop::collection::vec((0usize..200, 1i64..400_000), 0..12),
            compounds in any::<bool>(),
        ) {
            let mut c = config();
            c.penalty_compounds = compounds;
            let signed = Loan::signed(c, d("2026-01-15"));
            let (mut loan, mut journal) = apply(&signed, &Command::Disburse { payee: None }, d("2026-01-15")).unwrap();
            for day in 0..days {
                let (state, postings) = apply(&loan, &Command::AdvanceDay, loan.business_date.succ()).unwrap();
                loan = state;
                journal.extend(postings);
                for &(_, amount_minor) in payments.iter().filter(|(on, _)| *on == day) {
                    let (state, postings) = apply(&loan, &Command::Repay { amount: cny(amount_minor) }, loan.business_date).unwrap();
                    loan = state;
                    journal.extend(postings);
                }
                prop_assert!(journal.iter().all(|p| p.amount_minor > 0));
                let b = balances(&journal);
                let get = |purpose| b.get(&purpose).copied().unwrap_or(0);
                let on_books = loan.status == LoanStatus::Active;
                prop_assert_eq!(get(PrincipalReceivable), if on_books { loan.principal_outstanding_minor() } else { 0 });
                prop_assert_eq!(get(InterestReceivable), if on_books { loan.outstanding_minor(Component::Interest) } else { 0 });
                prop_assert_eq!(get(AccruedInterest), if on_books { loan.interest_accrued_unbilled_minor() } else { 0 });
                prop_assert_eq!(get(PenaltyReceivable), if on_books { loan.outstanding_minor(Component::Penalty) } else { 0 });
                prop_assert_eq!(get(FeeReceivable), if on_books { loan.outstanding_minor(Component::Fee) } else { 0 });
                prop_assert_eq!(-get(Overpayment), loan.overpayment_credit_minor);
                prop_assert_eq!(b.values().sum::<i64>(), 0);
            }
        }

        /// On every day `quiet_through` promises, `AdvanceDay` changes nothing but the date and
        /// the accrued interest and posts only `AccruedInterest ← InterestIncome`, by the amount
        /// `quiet_day_accrual_minor` gives; `fast_forward` lands on the same state as stepping.
        #[test]
        fn quiet_days_have_a_closed_form(
            c in any_config(),
            actions in prop::collection::vec((0u8..100, 1i64..600_000), 1..200),
        ) {
            let signed = Loan::signed(c, d("2026-01-31"));
            let (mut loan, _) = apply(&signed, &Command::Disburse { payee: None }, d("2026-01-31")).unwrap();
            for &(kind, amount_minor) in &actions {
                if kind < 15 {
                    if let Ok((state, _)) = apply(&loan, &Command::Repay { amount: cny(amount_minor) }, loan.business_date) {
                        loan = state;
                    }
                }
                let Some(quiet) = quiet_through(&loan) else {
                    loan = apply(&loan, &Command::AdvanceDay, loan.business_date.succ()).unwrap().0;
                    continue;
                };
                let start = loan.clone();
                let mut stepped = loan.clone();
                while stepped.business_date < quiet {
                    let next = stepped.business_date.succ();
                    let expected = quiet_day_accrual_minor(&stepped, next);
                    let (state, postings) = apply(&stepped, &Command::AdvanceDay, next).unwrap();
                    let accrued: i64 = postings.iter().map(|p| p.amount_minor).sum();
                    prop_assert!(postings.iter().all(|p| p.debit == AccruedInterest && p.credit == InterestIncome));
                    prop_assert_eq!(accrued, expected);
                    prop_assert_eq!(quiet_day_accrual_minor(&start, next), expected);
                    stepped = state;
                    let mut jumped = start.clone();
                    prop_assert_eq!(fast_forward(&mut jumped, next), Some(()));
                    prop_assert_eq!(&jumped, &stepped);
                }
                let mut beyond = stepped.clone();
                prop_assert_eq!(fast_forward(&mut beyond, quiet.succ()), None);
                prop_assert_eq!(&beyond, &stepped);
                loan = apply(&stepped, &Command::AdvanceDay, quiet.succ()).unwrap().0;
                if loan.status != LoanStatus::Active {
                    break;
                }
            }
        }

        /// Random products and borrowers: whatever happens, the journal balances, receivables
        /// match the state, a paid-off loan owes nothing and every principal unit is either
        /// repaid or written off.
        #[test]
        fn any_product_keeps_the_books_in_step(
            c in any_config(),
            actions in prop::collection::vec((0u8..100, 1i64..600_000), 60..420),
            pay_percent in 0u8..40,
            prepay_percent in 0u8..3,
        ) {
            let principal_minor = c.principal.amount_minor();
            let signed = Loan::signed(c, d("2026-01-31"));
            let (mut loan, mut journal) = apply(&signed, &Command::Disburse { payee: None }, d("2026-01-31")).unwrap();
            for &(kind, amount_minor) in &actions {
                // Borrowers differ: some pay often, some never, a few pay off early.
                let command = if kind < prepay_percent {
                    match payoff_minor(&loan) {
                        Ok(required) => Command::PrepayFull { amount: cny(required + amount_minor % 3) },
                        Err(_) => Command::AdvanceDay,
                    }
                } else if kind < prepay_percent + 2 {
                    Command::PrepayPartial { amount: cny(amount_minor) }
                } else if kind < prepay_percent + pay_percent {
                    Command::Repay { amount: cny(amount_minor) }
                } else if kind >= 97 && loan.overpayment_credit_minor > 0 {
                    Command::Refund { amount: cny(1 + amount_minor % loan.overpayment_credit_minor) }
                } else {
                    Command::AdvanceDay
                };
                let as_of = match command {
                    Command::AdvanceDay => loan.business_date.succ(),
                    _ => loan.business_date,
                };
                match apply(&loan, &command, as_of) {
                    Ok((state, postings)) => {
                        loan = state;
                        journal.extend(postings);
                    }
                    // A partial prepayment may be refused (too small, too large); nothing
                    // else may fail here.
                    Err(error) => prop_assert!(
                        matches!(command, Command::PrepayPartial { .. })
                            || (loan.status != LoanStatus::Active
                                && !matches!(command, Command::AdvanceDay)),
                        "{}", error
                    ),
                }
            }
            prop_assert!(journal.iter().all(|p| p.amount_minor > 0));
            let b = balances(&journal);
            let get = |purpose| b.get(&purpose).copied().unwrap_or(0);
            prop_assert_eq!(b.values().sum::<i64>(), 0);
            let on_books = loan.status == LoanStatus::Active;
            prop_assert_eq!(get(PrincipalReceivable), if on_books { loan.principal_outstanding_minor() } else { 0 });
            prop_assert_eq!(get(InterestReceivable), if on_books { loan.outstanding_minor(Component::Interest) } else { 0 });
                prop_assert_eq!(get(AccruedInterest), if on_books { loan.interest_accrued_unbilled_minor() } else { 0 });
            prop_assert_eq!(get(FeeReceivable), if on_books { loan.outstanding_minor(Component::Fee) } else { 0 });
            prop_assert_eq!(get(PenaltyReceivable), if on_books { loan.outstanding_minor(Component::Penalty) } else { 0 });
            prop_assert_eq!(-get(Overpayment), loan.overpayment_credit_minor);
            prop_assert!(loan.overpayment_credit_minor >= 0);
            let repaid = sum_of(&journal, BorrowerCash, PrincipalReceivable)
                + sum_of(&journal, Overpayment, PrincipalReceivable);
            let written_off = sum_of(&journal, WriteOffExpense, PrincipalReceivable);
            prop_assert_eq!(repaid + written_off + get(PrincipalReceivable), principal_minor);
            if loan.status == LoanStatus::PaidOff {
                prop_assert!(loan.installments.iter().all(|i| i.billed && i.outstanding_total() == 0));
            }
            let stored = crate::codec::encode_loan(&loan);
            prop_assert_eq!(crate::codec::decode_loan(&stored), Ok(loan.clone()));
            prop_assert!(crate::codec::decode_loan(&stored[..stored.len() - 1]).is_err());
        }
    }
}
