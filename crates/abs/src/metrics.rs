//! Tranche metrics from dated cash flows: weighted-average life, yield (IRR), duration and
//! loss; and the bridge from a projected pool to a deal's period runs.
//!
//! Time is ACT/365F years from the settlement date. The yield is the annual effective rate
//! `y` with `Σ CF(t) / (1 + y)^t = price`, solved by bisection in `Decimal` to 1e-12.

use crate::deal::Deal;
use crate::projection::PoolPeriod;
use crate::waterfall::{run_period, Collections, DealState, IndexRate, Payments, Period, RunError};
use money::BusinessDate;
use rust_decimal::{Decimal, MathematicalOps};

/// One dated payment to a tranche.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrancheFlow {
    pub date: BusinessDate,
    pub interest_minor: i64,
    pub principal_minor: i64,
    /// Residual income (equity).
    pub residual_minor: i64,
}

impl TrancheFlow {
    pub fn total_minor(&self) -> i64 {
        self.interest_minor + self.principal_minor + self.residual_minor
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrancheMetrics {
    /// Weighted-average life in years (`None` when no principal is paid).
    pub wal_years: Option<Decimal>,
    /// Annual effective yield at the given price (`None` when it has no root in (−99%, 1000%)).
    pub yield_annual: Option<Decimal>,
    /// Macaulay duration in years at that yield.
    pub duration_years: Option<Decimal>,
    /// Original balance not repaid as principal.
    pub loss_minor: i64,
    /// `loss / original balance`.
    pub loss_fraction: Decimal,
}

fn years(settle: BusinessDate, date: BusinessDate) -> Decimal {
    Decimal::from(settle.days_until(date)) / Decimal::from(365)
}

/// `(1 + y)^(−t)`: zero when it is too small for `Decimal` (a high yield over decades);
/// `None` when it is too large (a yield near −100 %), which the callers read as larger than
/// any price.
fn discount(y: Decimal, t: Decimal) -> Option<Decimal> {
    // exp(−t ln(1 + y)); exact for t = 0.
    if t.is_zero() {
        return Some(Decimal::ONE);
    }
    let x = -(t * (Decimal::ONE + y).ln());
    match x.checked_exp() {
        None if x.is_sign_negative() => Some(Decimal::ZERO),
        e => e,
    }
}

fn present_value(flows: &[(Decimal, Decimal)], y: Decimal) -> Option<Decimal> {
    flows.iter().try_fold(Decimal::ZERO, |pv, (t, cf)| {
        pv.checked_add(cf.checked_mul(discount(y, *t)?)?)
    })
}

/// WAL, yield, duration and loss of a tranche bought at `price_minor` on `settle`.
pub fn tranche_metrics(
    original_balance_minor: i64,
    price_minor: i64,
    settle: BusinessDate,
    flows: &[TrancheFlow],
) -> TrancheMetrics {
    let principal: i64 = flows.iter().map(|f| f.principal_minor).sum();
    let wal_years = (principal > 0).then(|| {
        flows
            .iter()
            .map(|f| years(settle, f.date) * Decimal::from(f.principal_minor))
            .sum::<Decimal>()
            / Decimal::from(principal)
    });
    let timed: Vec<(Decimal, Decimal)> = flows
        .iter()
        .filter(|f| f.total_minor() != 0)
        .map(|f| (years(settle, f.date), Decimal::from(f.total_minor())))
        .collect();
    let price = Decimal::from(price_minor);
    let yield_annual = solve_yield(&timed, price);
    let duration_years = yield_annual.and_then(|y| {
        let pv = present_value(&timed, y)?;
        if pv.is_zero() {
            return Some(Decimal::ZERO);
        }
        let weighted = timed.iter().try_fold(Decimal::ZERO, |sum, (t, cf)| {
            sum.checked_add(t.checked_mul(*cf)?.checked_mul(discount(y, *t)?)?)
        })?;
        weighted.checked_div(pv)
    });
    let loss_minor = (original_balance_minor - principal).max(0);
    let loss_fraction = if original_balance_minor > 0 {
        Decimal::from(loss_minor) / Decimal::from(original_balance_minor)
    } else {
        Decimal::ZERO
    };
    TrancheMetrics {
        wal_years,
        yield_annual,
        duration_years,
        loss_minor,
        loss_fraction,
    }
}

/// Bisection: present value falls as the yield rises (all flows are receipts).
fn solve_yield(flows: &[(Decimal, Decimal)], price: Decimal) -> Option<Decimal> {
    if flows.is_empty() || price <= Decimal::ZERO {
        return None;
    }
    // Whether the value at `y` is above the price; beyond `Decimal`'s range it is.
    let above = |y: Decimal| present_value(flows, y).is_none_or(|pv| pv > price);
    let below = |y: Decimal| present_value(flows, y).is_some_and(|pv| pv < price);
    let (mut lo, mut hi) = (Decimal::new(-99, 2), Decimal::from(10));
    if below(lo) || above(hi) {
        return None;
    }
    let tolerance = Decimal::new(1, 12);
    while hi - lo > tolerance {
        let mid = (lo + hi) / Decimal::TWO;
        if above(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(((lo + hi) / Decimal::TWO).round_dp(10))
}

/// The deal's collections from a projected pool period. Defaulted loans leave the deal's
/// pool balance when they default, so the principal advanced on them later is cash on
/// defaulted loans, like a recovery: `principal` is scheduled plus prepaid principal,
/// `recovery` is liquidation proceeds plus advanced principal on defaulted loans.
pub fn collections_from(p: &PoolPeriod) -> Collections {
    Collections {
        interest_minor: p.interest_minor,
        principal_minor: p.scheduled_principal_minor + p.prepayment_minor,
        recovery_minor: p.recovery_minor + p.default_amortization_minor,
        new_default_minor: p.new_default_minor,
    }
}

/// Runs a deal over projected pool periods, one per payment date from the first, with the
/// index fixings `index_rates(n)` on the `n`-th (an index scenario). Stops at the end of the
/// projection or when the deal is called.
pub fn run_projection(
    deal: &Deal,
    pool: &[PoolPeriod],
    call_when_exercisable: bool,
    index_rates: impl Fn(usize) -> Vec<IndexRate>,
) -> Result<(DealState, Vec<Payments>), RunError> {
    let mut state = DealState::at_closing(deal);
    let mut out = Vec::with_capacity(pool.len());
    for (n, p) in pool.iter().enumerate() {
        let payment_date = deal
            .dates
            .payment_date(n as u32)
            .ok_or(RunError::Overflow)?;
        let c = collections_from(p);
        let after = state.pool_balance_minor - c.principal_minor - c.new_default_minor;
        let exercise_call =
            call_when_exercisable && crate::waterfall::call_exercisable(deal, after);
        let (next, payments) = run_period(
            deal,
            &state,
            &c,
            &Period {
                payment_date,
                exercise_call,
                index_rates: index_rates(n),
            },
        )?;
        state = next;
        out.push(payments);
        if state.called {
            break;
        }
    }
    Ok((state, out))
}

/// A bond's dated flows from a run's payments.
pub fn bond_flows(payments: &[Payments], bond_index: usize) -> Vec<TrancheFlow> {
    payments
        .iter()
        .map(|p| TrancheFlow {
            date: p.payment_date,
            interest_minor: p.interest_paid_minor[bond_index],
            principal_minor: p.principal_paid_minor[bond_index],
            residual_minor: p.residual_paid_minor[bond_index],
        })
        .collect()
}
