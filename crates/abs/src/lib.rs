//! Securitization (资产证券化, ABS): pool projection, deals, waterfalls and tranche metrics.
//! Pure: no I/O, no clock, no async; dates, collections and assumptions are arguments.
//!
//! - [`rates`]: CPR/CDR ↔ per-period rates (`1 − (1 − r)^(days/365)`, SMM), PSA and SDA.
//! - [`projection`]: pool cash flows in the SIFMA/BMA Standard Formulas order (defaults,
//!   prepayments, scheduled amortization; recoveries after a lag, with or without advancing).
//! - [`cohorts`]: loan-level pools grouped into cohorts and projected once per cohort.
//! - [`deal`] and [`validate`]: the deal file's model and its field-path validation.
//! - [`waterfall`]: one payment period — triggers, the chosen waterfall, revolving
//!   purchases, the clean-up call; sources = uses to the minor unit.
//! - [`montecarlo`]: one-factor Gaussian copula → pool and tranche loss distributions.
//! - [`metrics`]: projected pool → deal runs → per-tranche WAL, yield, duration and loss.
//!
//! Conventions and money flows: docs/securitization.md.

pub mod cohorts;
pub mod deal;
pub mod metrics;
pub mod montecarlo;
pub mod projection;
pub mod rates;
pub mod validate;
pub mod waterfall;

pub use cohorts::{group_cohorts, project_pool};
pub use deal::*;
pub use metrics::{
    bond_flows, collections_from, run_projection, tranche_metrics, TrancheFlow, TrancheMetrics,
};
pub use montecarlo::{
    inverse_normal_cdf, simulate, simulate_range, tranche_stats, CopulaLoan, Simulation,
    SimulationError, Tranche, TrancheLossStats,
};
pub use validate::FieldError;
pub use waterfall::{
    call_exercisable, run_period, BondState, Collections, DealState, FeeState, IndexRate, Payments,
    Period, RunError, WaterfallKind, WATERFALL_ROUNDING,
};

pub use projection::{
    project, project_cached, Amortization, Assumptions, Calendar, DefaultRate, PoolCohort,
    PoolPeriod, Prepayment, ProjectionError, RateCache, PROJECTION_ROUNDING,
};
pub use rates::{
    annual_to_monthly, annual_to_period, monthly_to_annual, psa_cpr, sda_cdr, RateOutOfRange,
    DAYS_PER_YEAR,
};
