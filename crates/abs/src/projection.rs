//! Pool cash-flow projection under prepayment, default, severity and recovery-lag
//! assumptions, following the SIFMA/BMA *Standard Formulas* (SF-28 "Cash Flow A").
//!
//! ## Order of events in period `i` (all amounts on the balances at the end of `i − 1`)
//! With `AF(i) = SCH(i)/SCH(i−1)` the scheduled balance factor of the pool's amortization:
//! 1. **Defaults** first: `new default = PERF(i−1) × MDR(i)`; the defaulted balance leaves
//!    the performing balance and enters recovery.
//! 2. **Voluntary prepayment** on the surviving scheduled balance: `PERF(i−1) × AF(i) × SMM(i)`
//!    (capped at what is left after defaults and scheduled principal, which matters only
//!    when MDR + SMM > 1).
//! 3. **Scheduled amortization** of the loans that did not default:
//!    `(PERF(i−1) − new default) × (1 − AF(i))`; the whole remainder in the last period.
//! 4. `PERF(i) = PERF(i−1) − new default − scheduled − prepayment`.
//! 5. **Recoveries**: the default cohort of period `i − lag` is liquidated: its balance
//!    (amortized on schedule while advanced; the defaulted amount when not advanced)
//!    splits into `loss = min(defaulted amount × severity, balance)` and
//!    `recovery = balance − loss`.
//! 6. **Advancing**: when principal and interest are advanced, every cohort still in
//!    recovery amortizes by `AF(i)` and that amortization is paid as principal
//!    ("amortization from defaults"). Interest is lost on the balance in recovery and on the
//!    new defaults (`interest lost = (in recovery(i−1) + new default) × coupon`).
//! 7. **End of life**: no new defaults in the last `lag` periods of the pool's remaining term,
//!    so every default is liquidated by the final period (the standard's convention).
//!
//! ## Rounding
//! Every amount is computed in `Decimal` on integer minor-unit balances and rounded once to
//! a whole minor unit by [`PROJECTION_ROUNDING`] (half to even); the balances carried to
//! the next period are those rounded amounts, so each period's balance identity holds to the
//! minor unit.

use crate::rates::RateOutOfRange;
use crate::rates::{annual_to_monthly, annual_to_period, check_fraction, psa_cpr, sda_cdr};
use money::RoundingMode;
use rust_decimal::{Decimal, MathematicalOps};
use std::collections::HashMap;

/// The rounding rule of every projected amount.
pub const PROJECTION_ROUNDING: RoundingMode = RoundingMode::HalfEven;

/// How the pool's scheduled principal runs down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amortization {
    /// Level payment (等额本息): `SCH(i) ∝ (1+c)^n − (1+c)^i`.
    LevelPayment,
    /// Equal principal (等额本金): `SCH(i) ∝ n − i`.
    EqualPrincipal,
    /// Interest only, principal at maturity.
    Bullet,
}

/// A pool, or one cohort of it, as one representative loan.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolCohort {
    pub balance_minor: i64,
    /// Weighted-average coupon, annual fraction; the period coupon is `wac / 12`.
    pub wac: Decimal,
    /// Scheduled periods (months) left.
    pub remaining_term_months: u32,
    /// Months since origination (drives PSA / SDA).
    pub age_months: u32,
    pub amortization: Amortization,
}

/// Prepayment assumption.
#[derive(Clone, Debug, PartialEq)]
pub enum Prepayment {
    /// Single monthly mortality, as a fraction per month.
    Smm(Decimal),
    /// Conditional prepayment rate, annual fraction.
    Cpr(Decimal),
    /// PSA speed (1 = 100% PSA).
    Psa(Decimal),
    /// One SMM per projected period; the last repeats (empty: zero).
    SmmVector(Vec<Decimal>),
}

/// Default assumption (named so as not to shadow the `Default` trait).
#[derive(Clone, Debug, PartialEq)]
pub enum DefaultRate {
    /// Monthly default rate, fraction per month.
    Mdr(Decimal),
    /// Constant default rate, annual fraction.
    Cdr(Decimal),
    /// SDA speed (1 = 100% SDA).
    Sda(Decimal),
    /// One MDR per projected period; the last repeats (empty: zero).
    MdrVector(Vec<Decimal>),
}

/// The assumptions of one projection.
#[derive(Clone, Debug, PartialEq)]
pub struct Assumptions {
    pub prepayment: Prepayment,
    pub default: DefaultRate,
    /// Fraction of the defaulted amount lost at liquidation.
    pub severity: Decimal,
    /// Periods from default to liquidation.
    pub recovery_lag_months: u32,
    /// Whether the servicer advances scheduled principal and interest on defaulted loans.
    pub advanced: bool,
}

/// The lengths of the projected periods, for converting annual rates.
#[derive(Clone, Debug, PartialEq)]
pub enum Calendar {
    /// Calendar months: an annual rate becomes `1 − (1 − r)^(1/12)`; runs to the end of
    /// the pool's life.
    Monthly,
    /// Periods of these many days each (the deal's payment dates): an annual rate becomes
    /// `1 − (1 − r)^(days/365)`. Each period is still one step of the monthly schedule, so
    /// this is for monthly payment dates with their actual lengths.
    Days(Vec<u32>),
}

/// One projected period of the pool (the columns of SF-28, in minor units).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolPeriod {
    pub period: u32,
    pub performing_balance_minor: i64,
    pub new_default_minor: i64,
    /// Balance of defaulted loans awaiting liquidation, after this period's amortization.
    pub in_recovery_minor: i64,
    /// `SCH(i)/SCH(0)`.
    pub schedule_factor: Decimal,
    /// Scheduled principal of performing and defaulted loans together.
    pub expected_amortization_minor: i64,
    pub prepayment_minor: i64,
    /// Scheduled principal advanced on defaulted loans (0 when not advanced).
    pub default_amortization_minor: i64,
    /// Scheduled principal of the loans that did not default.
    pub scheduled_principal_minor: i64,
    pub expected_interest_minor: i64,
    pub interest_lost_minor: i64,
    pub interest_minor: i64,
    pub recovery_minor: i64,
    pub loss_minor: i64,
    /// Balance liquidated this period (= recovery + loss).
    pub liquidated_minor: i64,
    pub mdr: Decimal,
    pub smm: Decimal,
}

impl PoolPeriod {
    /// All principal cash: scheduled, advanced, prepaid and recovered.
    pub fn principal_cash_minor(&self) -> i64 {
        self.scheduled_principal_minor
            + self.default_amortization_minor
            + self.prepayment_minor
            + self.recovery_minor
    }
}

/// Why a projection cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Rate(#[from] RateOutOfRange),
    #[error("balance_minor must not be negative")]
    NegativeBalance,
    #[error("remaining_term_months must be at least 1")]
    NoTerm,
    #[error("amount overflows 64-bit minor units")]
    Overflow,
}

fn round(x: Decimal) -> Result<i64, ProjectionError> {
    PROJECTION_ROUNDING
        .round_minor(x)
        .map_err(|_| ProjectionError::Overflow)
}

fn mul(amount_minor: i64, factor: Decimal) -> Result<i64, ProjectionError> {
    round(Decimal::from(amount_minor) * factor)
}

/// `SCH(i)/SCH(0)` for every `i` in `0..=n` (exact powers).
fn schedule(cohort: &PoolCohort) -> Vec<Decimal> {
    let n = cohort.remaining_term_months;
    let c = cohort.wac / Decimal::from(12);
    let mut out = Vec::with_capacity(n as usize + 1);
    match cohort.amortization {
        Amortization::LevelPayment if !c.is_zero() => {
            let growth = Decimal::ONE + c;
            let total = growth.powi(i64::from(n));
            let mut g = Decimal::ONE;
            for _ in 0..=n {
                out.push((total - g) / (total - Decimal::ONE));
                g *= growth;
            }
        }
        Amortization::LevelPayment | Amortization::EqualPrincipal => {
            for i in 0..=n {
                out.push(Decimal::from(n - i) / Decimal::from(n));
            }
        }
        Amortization::Bullet => {
            out.extend(std::iter::repeat_n(Decimal::ONE, n as usize));
            out.push(Decimal::ZERO);
        }
    }
    out
}

/// Per-period rates from annual rates, memoized: the fractional power (`ln`/`exp`) is the
/// costly step, and a pool's cohorts share the same (annual rate, period length) pairs.
#[derive(Default)]
pub struct RateCache(HashMap<(Decimal, u32), Decimal>);

impl RateCache {
    /// `days` 0 stands for a calendar month (`1/12` of a year).
    fn period_rate(&mut self, annual: Decimal, days: u32) -> Result<Decimal, RateOutOfRange> {
        if let Some(r) = self.0.get(&(annual, days)) {
            return Ok(*r);
        }
        let r = if days == 0 {
            annual_to_monthly(annual)?
        } else {
            annual_to_period(annual, days)?
        };
        self.0.insert((annual, days), r);
        Ok(r)
    }
}

fn period_rate_from_annual(
    cache: &mut RateCache,
    annual: Decimal,
    calendar: &Calendar,
    index: usize,
) -> Result<Decimal, RateOutOfRange> {
    match calendar {
        Calendar::Monthly => cache.period_rate(annual, 0),
        Calendar::Days(days) => cache.period_rate(annual, days[index]),
    }
}

fn vector_at(v: &[Decimal], index: usize) -> Decimal {
    v.get(index).or(v.last()).copied().unwrap_or(Decimal::ZERO)
}

/// The per-period (prepayment, default) rates, already checked to be in `[0, 1]`.
struct Rates<'a> {
    a: &'a Assumptions,
    smm_const: Option<Decimal>,
    mdr_const: Option<Decimal>,
}

impl<'a> Rates<'a> {
    fn new(a: &'a Assumptions, calendar: &Calendar) -> Result<Self, ProjectionError> {
        check_fraction("severity", a.severity)?;
        let monthly = matches!(calendar, Calendar::Monthly);
        let smm_const = match &a.prepayment {
            Prepayment::Smm(s) => Some(check_fraction("smm", *s)?),
            Prepayment::Cpr(c) if monthly => Some(annual_to_monthly(*c)?),
            Prepayment::Cpr(c) => {
                check_fraction("cpr", *c)?;
                None
            }
            Prepayment::Psa(s) => {
                non_negative("psa speed", *s)?;
                None
            }
            Prepayment::SmmVector(v) => {
                for s in v {
                    check_fraction("smm", *s)?;
                }
                None
            }
        };
        let mdr_const = match &a.default {
            DefaultRate::Mdr(m) => Some(check_fraction("mdr", *m)?),
            DefaultRate::Cdr(c) if monthly => Some(annual_to_monthly(*c)?),
            DefaultRate::Cdr(c) => {
                check_fraction("cdr", *c)?;
                None
            }
            DefaultRate::Sda(s) => {
                non_negative("sda speed", *s)?;
                None
            }
            DefaultRate::MdrVector(v) => {
                for m in v {
                    check_fraction("mdr", *m)?;
                }
                None
            }
        };
        Ok(Rates {
            a,
            smm_const,
            mdr_const,
        })
    }

    fn smm(
        &self,
        cache: &mut RateCache,
        calendar: &Calendar,
        index: usize,
        age: u32,
    ) -> Result<Decimal, RateOutOfRange> {
        if let Some(s) = self.smm_const {
            return Ok(s);
        }
        match &self.a.prepayment {
            Prepayment::Cpr(c) => period_rate_from_annual(cache, *c, calendar, index),
            Prepayment::Psa(s) => period_rate_from_annual(cache, psa_cpr(*s, age), calendar, index),
            Prepayment::SmmVector(v) => Ok(vector_at(v, index)),
            Prepayment::Smm(s) => Ok(*s),
        }
    }

    fn mdr(
        &self,
        cache: &mut RateCache,
        calendar: &Calendar,
        index: usize,
        age: u32,
    ) -> Result<Decimal, RateOutOfRange> {
        if let Some(m) = self.mdr_const {
            return Ok(m);
        }
        match &self.a.default {
            DefaultRate::Cdr(c) => period_rate_from_annual(cache, *c, calendar, index),
            DefaultRate::Sda(s) => {
                period_rate_from_annual(cache, sda_cdr(*s, age), calendar, index)
            }
            DefaultRate::MdrVector(v) => Ok(vector_at(v, index)),
            DefaultRate::Mdr(m) => Ok(*m),
        }
    }
}

fn non_negative(what: &'static str, value: Decimal) -> Result<(), RateOutOfRange> {
    if value < Decimal::ZERO {
        Err(RateOutOfRange { what, value })
    } else {
        Ok(())
    }
}

/// A default cohort waiting for liquidation.
struct InRecovery {
    period: u32,
    defaulted_minor: i64,
    balance_minor: i64,
}

/// Liquidates the cohorts `due` selects: each loses `min(defaulted × severity, balance)`.
fn liquidate(
    pipeline: &mut Vec<InRecovery>,
    due: impl Fn(&InRecovery) -> bool,
    severity: Decimal,
    liquidated: &mut i64,
    loss: &mut i64,
) -> Result<(), ProjectionError> {
    let mut kept = Vec::with_capacity(pipeline.len());
    for c in pipeline.drain(..) {
        if due(&c) {
            *liquidated += c.balance_minor;
            *loss += mul(c.defaulted_minor, severity)?.min(c.balance_minor);
        } else {
            kept.push(c);
        }
    }
    *pipeline = kept;
    Ok(())
}

/// Projects one cohort. With [`Calendar::Monthly`] it runs until the performing balance and
/// the recovery pipeline are both empty; with [`Calendar::Days`] for exactly that many
/// periods (or fewer, if the pool runs off first).
pub fn project(
    cohort: &PoolCohort,
    assumptions: &Assumptions,
    calendar: &Calendar,
) -> Result<Vec<PoolPeriod>, ProjectionError> {
    project_cached(cohort, assumptions, calendar, &mut RateCache::default())
}

/// [`project`] with a rate cache shared across cohorts.
pub fn project_cached(
    cohort: &PoolCohort,
    assumptions: &Assumptions,
    calendar: &Calendar,
    cache: &mut RateCache,
) -> Result<Vec<PoolPeriod>, ProjectionError> {
    if cohort.balance_minor < 0 {
        return Err(ProjectionError::NegativeBalance);
    }
    if cohort.remaining_term_months == 0 {
        return Err(ProjectionError::NoTerm);
    }
    check_fraction("wac", cohort.wac)?;
    let rates = Rates::new(assumptions, calendar)?;
    let sch = schedule(cohort);
    let n = cohort.remaining_term_months;
    let lag = assumptions.recovery_lag_months;
    let coupon = cohort.wac / Decimal::from(12);
    let horizon = match calendar {
        Calendar::Monthly => n + lag,
        Calendar::Days(days) => days.len() as u32,
    };
    let mut out = Vec::with_capacity(horizon as usize);
    let mut perf = cohort.balance_minor;
    let mut pipeline: Vec<InRecovery> = Vec::new();
    for i in 1..=horizon {
        let index = (i - 1) as usize;
        let in_recovery_before: i64 = pipeline.iter().map(|c| c.balance_minor).sum();
        if perf == 0 && pipeline.is_empty() {
            break;
        }
        let age = cohort.age_months + i;
        let (af, factor) = if i <= n {
            let prev = sch[(i - 1) as usize];
            let now = sch[i as usize];
            let af = if prev.is_zero() {
                Decimal::ZERO
            } else {
                now / prev
            };
            (af, now)
        } else {
            (Decimal::ONE, Decimal::ZERO)
        };
        // Rule 7: no defaults that could not be liquidated by the end of the term.
        let mdr = if i + lag > n {
            Decimal::ZERO
        } else {
            rates.mdr(cache, calendar, index, age)?
        };
        let smm = if i > n {
            Decimal::ZERO
        } else {
            rates.smm(cache, calendar, index, age)?
        };
        let new_default = mul(perf, mdr)?;
        let scheduled = if i >= n {
            perf - new_default
        } else {
            mul(perf - new_default, Decimal::ONE - af)?
        };
        // The standard prepays on the whole surviving schedule `PERF × AF`, defaults
        // included; when MDR + SMM > 1 that would exceed what is left, so it is capped.
        let prepayment = mul(perf, af * smm)?.min(perf - new_default - scheduled);
        let interest_expected = mul(perf + in_recovery_before, coupon)?;
        let interest_lost = mul(in_recovery_before + new_default, coupon)?;

        // Liquidation of the cohort that defaulted `lag` periods ago (before amortizing).
        let (mut liquidated, mut loss) = (0i64, 0i64);
        liquidate(
            &mut pipeline,
            |c| c.period + lag <= i,
            assumptions.severity,
            &mut liquidated,
            &mut loss,
        )?;
        if new_default > 0 {
            pipeline.push(InRecovery {
                period: i,
                defaulted_minor: new_default,
                balance_minor: new_default,
            });
        }
        let mut default_amortization = 0i64;
        if assumptions.advanced {
            for c in pipeline.iter_mut() {
                let after = mul(c.balance_minor, af)?;
                default_amortization += c.balance_minor - after;
                c.balance_minor = after;
            }
        }
        // A lag of zero liquidates this period's defaults at once.
        if lag == 0 {
            liquidate(
                &mut pipeline,
                |_| true,
                assumptions.severity,
                &mut liquidated,
                &mut loss,
            )?;
        }
        perf = perf - new_default - scheduled - prepayment;
        assert!(perf >= 0, "the performing balance never goes negative");
        out.push(PoolPeriod {
            period: i,
            performing_balance_minor: perf,
            new_default_minor: new_default,
            in_recovery_minor: pipeline.iter().map(|c| c.balance_minor).sum(),
            schedule_factor: factor,
            expected_amortization_minor: scheduled + default_amortization,
            prepayment_minor: prepayment,
            default_amortization_minor: default_amortization,
            scheduled_principal_minor: scheduled,
            expected_interest_minor: interest_expected,
            interest_lost_minor: interest_lost,
            interest_minor: interest_expected - interest_lost,
            recovery_minor: liquidated - loss,
            loss_minor: loss,
            liquidated_minor: liquidated,
            mdr,
            smm,
        });
    }
    Ok(out)
}
