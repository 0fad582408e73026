//! One payment period of a deal: collections in, the waterfall, payments and the new state.
//!
//! ## Sources and uses
//! Sources are the opening balances of every account (the reserve is available funds) plus
//! the period's interest, principal and recovery collections (plus the call proceeds when
//! the clean-up call is exercised). The chosen waterfall spends them step by step; what a
//! step cannot pay is carried (fee arrears, interest shortfall). Uses are fees, interest,
//! principal, residual, purchases and the closing balances of every account: the reserve
//! holds what its top-up step put there, the collection account keeps the rest. Sources =
//! uses to the minor unit, every period ([`Payments::sources_minor`], [`Payments::uses_minor`]).
//!
//! ## Rounding
//! Accruals (`balance × rate × days / 365`, ACT/365F) and targets (`pool × fraction`) round
//! half to even to the minor unit ([`WATERFALL_ROUNDING`]); pro-rata splits use the largest
//! remainder method, so they add up exactly.

use crate::deal::*;
use crate::validate::FieldError;
use money::{allocate, BusinessDate, Money, RoundingMode};
use rust_decimal::Decimal;

pub const WATERFALL_ROUNDING: RoundingMode = RoundingMode::HalfEven;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BondState {
    pub balance_minor: i64,
    /// The annual coupon of the next interest period (changes at a floating bond's resets).
    pub coupon: Decimal,
    /// Interest due and not paid, carried to the next period (no interest on it).
    pub interest_shortfall_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeeState {
    pub arrears_minor: i64,
    pub paid_total_minor: i64,
}

/// Everything a period run needs from the past. Indices follow the deal's lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DealState {
    pub periods_run: u32,
    /// Start of the next interest period (closing, then each payment date).
    pub accrual_start: BusinessDate,
    pub pool_balance_minor: i64,
    pub cumulative_default_minor: i64,
    pub bonds: Vec<BondState>,
    pub fees: Vec<FeeState>,
    pub accounts_minor: Vec<i64>,
    pub triggers: Vec<bool>,
    /// The clean-up call was exercised; the deal has ended.
    pub called: bool,
}

impl DealState {
    /// The state at closing.
    pub fn at_closing(deal: &Deal) -> DealState {
        DealState {
            periods_run: 0,
            accrual_start: deal.dates.closing,
            pool_balance_minor: deal.pool_balance_minor,
            cumulative_default_minor: 0,
            bonds: deal
                .bonds
                .iter()
                .map(|b| BondState {
                    balance_minor: b.balance_minor,
                    coupon: b.coupon,
                    interest_shortfall_minor: 0,
                })
                .collect(),
            fees: vec![
                FeeState {
                    arrears_minor: 0,
                    paid_total_minor: 0
                };
                deal.fees.len()
            ],
            accounts_minor: deal
                .accounts
                .iter()
                .map(|a| a.opening_balance_minor)
                .collect(),
            triggers: vec![false; deal.triggers.len()],
            called: false,
        }
    }
}

/// What the pool produced in the period (from servicing or from [`crate::project`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Collections {
    pub interest_minor: i64,
    /// Scheduled and prepaid principal of performing loans (and advanced principal).
    pub principal_minor: i64,
    /// Cash recovered on loans that defaulted earlier.
    pub recovery_minor: i64,
    /// Balance of loans that defaulted in the period (no cash; leaves the pool balance).
    pub new_default_minor: i64,
}

/// An index fixing for the floating bonds that reset on this payment date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexRate {
    pub index: String,
    pub rate: Decimal,
}

/// The period to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub payment_date: BusinessDate,
    /// Exercise the clean-up call: the pool is bought at its balance and the deal ends.
    pub exercise_call: bool,
    /// Fixings of the indexes of the bonds that reset on `payment_date` (others ignored).
    pub index_rates: Vec<IndexRate>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaterfallKind {
    Normal,
    Accelerated,
    CleanUp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payments {
    pub payment_date: BusinessDate,
    pub days: i64,
    pub waterfall: WaterfallKind,
    pub revolving: bool,
    pub accounts_opening_minor: Vec<i64>,
    pub collections: Collections,
    pub call_proceeds_minor: i64,
    pub fees_due_minor: Vec<i64>,
    pub fees_paid_minor: Vec<i64>,
    pub interest_due_minor: Vec<i64>,
    pub interest_paid_minor: Vec<i64>,
    pub principal_paid_minor: Vec<i64>,
    pub residual_paid_minor: Vec<i64>,
    /// Cash spent on new receivables (the engine picks the loans).
    pub purchase_paid_minor: i64,
    /// Receivable balance bought (`paid / purchase_price`).
    pub purchased_balance_minor: i64,
    pub accounts_closing_minor: Vec<i64>,
    /// Annualized excess spread of the period (`None` when the pool was empty).
    pub excess_spread: Option<Decimal>,
    /// Trigger states after this period.
    pub triggers: Vec<bool>,
}

impl Payments {
    pub fn sources_minor(&self) -> i64 {
        self.accounts_opening_minor.iter().sum::<i64>()
            + self.collections.interest_minor
            + self.collections.principal_minor
            + self.collections.recovery_minor
            + self.call_proceeds_minor
    }
    pub fn uses_minor(&self) -> i64 {
        self.fees_paid_minor.iter().sum::<i64>()
            + self.interest_paid_minor.iter().sum::<i64>()
            + self.principal_paid_minor.iter().sum::<i64>()
            + self.residual_paid_minor.iter().sum::<i64>()
            + self.purchase_paid_minor
            + self.accounts_closing_minor.iter().sum::<i64>()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("the deal is not valid: {} problem(s), the first: {}", .0.len(), .0[0])]
    InvalidDeal(Vec<FieldError>),
    #[error("payment_date must be after the last payment date {0}")]
    DateNotAfter(BusinessDate),
    #[error("the state does not belong to this deal (its bonds, fees, accounts or triggers differ in number)")]
    StateMismatch,
    #[error("the deal has ended: its clean-up call was exercised")]
    Ended,
    #[error("collections.{0} must not be negative")]
    NegativeCollection(&'static str),
    #[error("collections: principal and defaults exceed the pool balance")]
    ExceedsPool,
    #[error("exercise_call: the clean-up call is not exercisable (pool above the threshold, or no call)")]
    CallNotExercisable,
    #[error("index_rates: no fixing of {0:?}, which bonds[{1}] resets on this payment date")]
    MissingIndexRate(String, usize),
    #[error("amount overflows 64-bit minor units")]
    Overflow,
}

fn round(x: Decimal) -> Result<i64, RunError> {
    WATERFALL_ROUNDING
        .round_minor(x)
        .map_err(|_| RunError::Overflow)
}

/// Accrual `amount × rate × days / 365`.
fn accrue(amount_minor: i64, rate: Decimal, days: i64) -> Result<i64, RunError> {
    round(Decimal::from(amount_minor) * rate * Decimal::from(days) / Decimal::from(365))
}

/// Largest-remainder split of `amount` by non-negative weights (all zero → nothing).
fn split(amount_minor: i64, weights: &[i64]) -> Vec<i64> {
    let w: Vec<u64> = weights.iter().map(|&x| x.max(0).unsigned_abs()).collect();
    if amount_minor == 0 || w.iter().all(|&x| x == 0) {
        return vec![0; weights.len()];
    }
    allocate(Money::from_minor(amount_minor, money::Currency::Cny), &w)
        .expect("weights are not all zero")
        .into_iter()
        .map(Money::amount_minor)
        .collect()
}

fn threshold_on(curve: &[CurveStep], date: BusinessDate) -> Option<Decimal> {
    curve.iter().rev().find(|s| s.from <= date).map(|s| s.rate)
}

/// Whether the clean-up call may be exercised on a pool of this balance.
pub fn call_exercisable(deal: &Deal, pool_balance_minor: i64) -> bool {
    deal.cleanup_call.as_ref().is_some_and(|c| {
        Decimal::from(pool_balance_minor)
            <= c.pool_fraction * Decimal::from(deal.pool_balance_minor)
    })
}

/// Runs one period of a deal. Returns the new state and what was paid; the input state is
/// not changed, so a refused run changes nothing. The deal is validated first (a few
/// microseconds), so the lookups below cannot miss and an invalid deal is an error, not a
/// panic.
pub fn run_period(
    deal: &Deal,
    state: &DealState,
    collections: &Collections,
    period: &Period,
) -> Result<(DealState, Payments), RunError> {
    deal.validate().map_err(RunError::InvalidDeal)?;
    if state.bonds.len() != deal.bonds.len()
        || state.fees.len() != deal.fees.len()
        || state.accounts_minor.len() != deal.accounts.len()
        || state.triggers.len() != deal.triggers.len()
    {
        return Err(RunError::StateMismatch);
    }
    if state.called {
        return Err(RunError::Ended);
    }
    if period.payment_date <= state.accrual_start {
        return Err(RunError::DateNotAfter(state.accrual_start));
    }
    for (name, v) in [
        ("interest_minor", collections.interest_minor),
        ("principal_minor", collections.principal_minor),
        ("recovery_minor", collections.recovery_minor),
        ("new_default_minor", collections.new_default_minor),
    ] {
        if v < 0 {
            return Err(RunError::NegativeCollection(name));
        }
    }
    let days = state.accrual_start.days_until(period.payment_date);
    let pool_begin = state.pool_balance_minor;
    let pool_after = pool_begin
        .checked_sub(collections.principal_minor)
        .and_then(|x| x.checked_sub(collections.new_default_minor))
        .filter(|&x| x >= 0)
        .ok_or(RunError::ExceedsPool)?;
    if period.exercise_call && !call_exercisable(deal, pool_after) {
        return Err(RunError::CallNotExercisable);
    }
    let call_proceeds = if period.exercise_call { pool_after } else { 0 };

    let mut next = state.clone();
    next.periods_run += 1;
    next.accrual_start = period.payment_date;
    next.cumulative_default_minor += collections.new_default_minor;

    // Amounts due this period (current) and with carried arrears.
    let mut fees_current = Vec::with_capacity(deal.fees.len());
    let mut fees_due = Vec::with_capacity(deal.fees.len());
    for (fee, fs) in deal.fees.iter().zip(&state.fees) {
        let (current, due) = match &fee.kind {
            FeeKind::FixedMinor(m) => (*m, m + fs.arrears_minor),
            FeeKind::PoolFraction(r) => {
                let c = accrue(pool_begin, *r, days)?;
                (c, c + fs.arrears_minor)
            }
            FeeKind::PoolFractionPerPeriod(r) => {
                let c = round(Decimal::from(pool_begin) * r)?;
                (c, c + fs.arrears_minor)
            }
            FeeKind::TargetMinor(t) => {
                let left = (t - fs.paid_total_minor).max(0);
                (left, left)
            }
        };
        fees_current.push(current);
        fees_due.push(due);
    }
    let mut interest_current = Vec::with_capacity(deal.bonds.len());
    for bs in &state.bonds {
        interest_current.push(accrue(bs.balance_minor, bs.coupon, days)?);
    }
    let interest_due: Vec<i64> = interest_current
        .iter()
        .zip(&state.bonds)
        .map(|(c, bs)| c + bs.interest_shortfall_minor)
        .collect();

    // Triggers tested before the waterfall.
    let excess_spread = (pool_begin > 0).then(|| {
        let spread = collections.interest_minor
            - fees_current.iter().sum::<i64>()
            - interest_current.iter().sum::<i64>();
        Decimal::from(spread) / Decimal::from(pool_begin) * Decimal::from(365) / Decimal::from(days)
    });
    for (t, trig) in deal.triggers.iter().enumerate() {
        let holds = match &trig.condition {
            TriggerCondition::CumulativeDefaultAbove { curve } => {
                threshold_on(curve, period.payment_date).is_some_and(|limit| {
                    Decimal::from(next.cumulative_default_minor)
                        > limit * Decimal::from(deal.pool_balance_minor)
                })
            }
            TriggerCondition::ExcessSpreadBelow { floor } => {
                excess_spread.is_some_and(|s| s < *floor)
            }
            TriggerCondition::BondAboveTarget { .. } => continue,
        };
        next.triggers[t] = holds || (!trig.curable && state.triggers[t]);
    }
    let tripped = next.triggers.iter().any(|&t| t);
    let (kind, steps) = if period.exercise_call {
        (WaterfallKind::CleanUp, &deal.waterfalls.cleanup)
    } else if tripped {
        (WaterfallKind::Accelerated, &deal.waterfalls.accelerated)
    } else {
        (WaterfallKind::Normal, &deal.waterfalls.normal)
    };
    let revolving = kind == WaterfallKind::Normal
        && deal
            .dates
            .revolving_end
            .is_some_and(|end| period.payment_date <= end);

    let checked_sum = |parts: &[i64]| {
        parts
            .iter()
            .try_fold(0i64, |acc, &x| acc.checked_add(x))
            .ok_or(RunError::Overflow)
    };
    let opening = checked_sum(&state.accounts_minor)?;
    let mut cash = checked_sum(&[
        opening,
        collections.interest_minor,
        collections.principal_minor,
        collections.recovery_minor,
        call_proceeds,
    ])?;
    let mut principal_amount = checked_sum(&[
        collections.principal_minor,
        collections.new_default_minor,
        call_proceeds,
    ])?;
    let mut pool_end = if period.exercise_call { 0 } else { pool_after };

    let n_bonds = deal.bonds.len();
    let mut fees_paid = vec![0i64; deal.fees.len()];
    let mut interest_paid = vec![0i64; n_bonds];
    let mut principal_paid = vec![0i64; n_bonds];
    let mut residual_paid = vec![0i64; n_bonds];
    let mut accounts_closing = vec![0i64; deal.accounts.len()];
    let (mut purchase_paid, mut purchased_balance) = (0i64, 0i64);

    for step in steps {
        match step {
            Step::PayFee { fee } => {
                let f = deal.fee_index(fee).expect("validated");
                let pay = (fees_due[f] - fees_paid[f]).min(cash);
                fees_paid[f] += pay;
                cash -= pay;
            }
            Step::PayInterest { bonds } => {
                let idx: Vec<usize> = bonds
                    .iter()
                    .map(|b| deal.bond_index(b).expect("validated"))
                    .collect();
                let left: Vec<i64> = idx
                    .iter()
                    .map(|&i| interest_due[i] - interest_paid[i])
                    .collect();
                let pay = left.iter().sum::<i64>().min(cash);
                for (k, part) in split(pay, &left).into_iter().enumerate() {
                    interest_paid[idx[k]] += part;
                }
                cash -= pay;
            }
            Step::TopUpReserve { account } => {
                let a = deal.account_index(account).expect("validated");
                let target = match &deal.accounts[a].kind {
                    AccountKind::Reserve {
                        target: ReserveTarget::PoolFraction(f),
                    } => round(Decimal::from(pool_end) * f)?,
                    AccountKind::Reserve {
                        target: ReserveTarget::FixedMinor(m),
                    } => *m,
                    AccountKind::Collection => unreachable!("validated: a reserve"),
                };
                let deposit = (target - accounts_closing[a]).max(0).min(cash);
                accounts_closing[a] += deposit;
                cash -= deposit;
            }
            Step::Purchase if revolving => {
                let paid = principal_amount.min(cash);
                let balance = round(Decimal::from(paid) / deal.purchase_price)?;
                purchase_paid += paid;
                purchased_balance += balance;
                pool_end += balance;
                principal_amount -= paid;
                cash -= paid;
            }
            Step::Purchase => {}
            Step::PayPrincipal { bonds, mode, limit } => {
                let idx: Vec<usize> = bonds
                    .iter()
                    .map(|b| deal.bond_index(b).expect("validated"))
                    .collect();
                let mut budget = match limit {
                    PrincipalLimit::PrincipalAmount => principal_amount.min(cash),
                    PrincipalLimit::AllFunds => cash,
                };
                let outstanding = |i: usize, paid: &[i64]| next.bonds[i].balance_minor - paid[i];
                let spent_before = budget;
                match mode {
                    PrincipalMode::Sequential => {
                        for &i in &idx {
                            let pay = outstanding(i, &principal_paid).min(budget);
                            principal_paid[i] += pay;
                            budget -= pay;
                        }
                    }
                    PrincipalMode::ProRata => {
                        let balances: Vec<i64> = idx
                            .iter()
                            .map(|&i| outstanding(i, &principal_paid))
                            .collect();
                        let pay = balances.iter().sum::<i64>().min(budget);
                        for (k, part) in split(pay, &balances).into_iter().enumerate() {
                            principal_paid[idx[k]] += part;
                        }
                        budget -= pay;
                    }
                    PrincipalMode::ToTarget => {
                        for &i in &idx {
                            let BondKind::TargetBalance { pool_fraction } = deal.bonds[i].kind
                            else {
                                unreachable!("validated: target-balance bonds")
                            };
                            let target = round(Decimal::from(pool_end) * pool_fraction)?;
                            let pay = (outstanding(i, &principal_paid) - target)
                                .max(0)
                                .min(budget);
                            principal_paid[i] += pay;
                            budget -= pay;
                        }
                    }
                }
                let spent = spent_before - budget;
                cash -= spent;
                principal_amount = (principal_amount - spent).max(0);
            }
            Step::PayResidual { bond } => {
                let i = deal.bond_index(bond).expect("validated");
                residual_paid[i] += cash;
                cash = 0;
            }
        }
    }
    accounts_closing[deal.collection_account()] += cash;

    for (f, fs) in next.fees.iter_mut().enumerate() {
        fs.paid_total_minor += fees_paid[f];
        fs.arrears_minor = match deal.fees[f].kind {
            FeeKind::TargetMinor(_) => 0,
            _ => fees_due[f] - fees_paid[f],
        };
    }
    for (i, bs) in next.bonds.iter_mut().enumerate() {
        bs.balance_minor -= principal_paid[i];
        bs.interest_shortfall_minor = interest_due[i] - interest_paid[i];
    }
    // Floating coupons reset on this payment date apply from the next period.
    for (i, b) in deal.bonds.iter().enumerate() {
        let Some(f) = &b.floating else { continue };
        if f.reset_dates.contains(&period.payment_date) {
            let fixing = period
                .index_rates
                .iter()
                .find(|r| r.index == f.index)
                .ok_or_else(|| RunError::MissingIndexRate(f.index.clone(), i))?;
            next.bonds[i].coupon = (fixing.rate + f.spread).max(Decimal::ZERO);
        }
    }
    next.pool_balance_minor = pool_end;
    next.accounts_minor = accounts_closing.clone();
    next.called = period.exercise_call;

    // Triggers tested after the waterfall (effective next period).
    for (t, trig) in deal.triggers.iter().enumerate() {
        if let TriggerCondition::BondAboveTarget { bond } = &trig.condition {
            let i = deal.bond_index(bond).expect("validated");
            let BondKind::TargetBalance { pool_fraction } = deal.bonds[i].kind else {
                unreachable!("validated: a target-balance bond")
            };
            let holds =
                next.bonds[i].balance_minor > round(Decimal::from(pool_end) * pool_fraction)?;
            next.triggers[t] = holds || (!trig.curable && state.triggers[t]);
        }
    }

    let payments = Payments {
        payment_date: period.payment_date,
        days,
        waterfall: kind,
        revolving,
        accounts_opening_minor: state.accounts_minor.clone(),
        collections: collections.clone(),
        call_proceeds_minor: call_proceeds,
        fees_due_minor: fees_due,
        fees_paid_minor: fees_paid,
        interest_due_minor: interest_due,
        interest_paid_minor: interest_paid,
        principal_paid_minor: principal_paid,
        residual_paid_minor: residual_paid,
        purchase_paid_minor: purchase_paid,
        purchased_balance_minor: purchased_balance,
        accounts_closing_minor: accounts_closing,
        excess_spread,
        triggers: next.triggers.clone(),
    };
    assert_eq!(
        payments.sources_minor(),
        payments.uses_minor(),
        "a period run spends exactly what it has"
    );
    Ok((next, payments))
}
