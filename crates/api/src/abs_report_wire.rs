//! Running a deal file over a pool, statelessly: a projection of a loan pool under a
//! scenario, or a collection table, through the deal's waterfall, period by period; and the
//! report of what was paid (the JSON of `POST /v1/abs/projections` and `puhui abs
//! run|project|report`).

use crate::abs_pool_wire::{
    index_rates, CollectionRow, IndexRateWire, PoolInput, PoolWire, ScenarioWire, PERIODS_MAX,
};
use crate::abs_wire::DealFile;
use crate::FieldError;
use abs::{
    bond_flows, call_exercisable, collections_from, group_cohorts, project_pool, run_period,
    tranche_metrics, Assumptions, Calendar, Collections, Deal, DealState, IndexRate, Payments,
    Period, PoolPeriod, RunError, WaterfallKind,
};
use money::{BusinessDate, Decimal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A deal file, its pool and a scenario: the pool's cash flows through the deal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectionRequest {
    pub deal: DealFile,
    pub pool: PoolWire,
    /// Required with `pool.loans`; not used with `pool.collections`.
    pub scenario: Option<ScenarioWire>,
    /// Exercise the clean-up call on the first payment date it may be (projections).
    #[serde(default)]
    pub call_when_exercisable: bool,
    /// Fixings used at every reset date of a floating bond (a flat index scenario); a
    /// collection row's own `index_rates` take precedence.
    #[serde(default)]
    pub index_rates: Vec<IndexRateWire>,
    /// Prices paid for the bonds at closing, for their yields; default par.
    #[serde(default)]
    pub prices: Vec<BondPriceWire>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BondPriceWire {
    pub bond: String,
    pub price_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct FeePaid {
    pub name: String,
    pub due_minor: i64,
    pub paid_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct BondPeriod {
    pub name: String,
    pub interest_due_minor: i64,
    pub interest_paid_minor: i64,
    pub principal_paid_minor: i64,
    pub residual_paid_minor: i64,
    /// After the period.
    pub balance_minor: i64,
    /// Balance / original balance, 6 places.
    pub factor: String,
    /// The annual coupon of the next period.
    pub coupon: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AccountPeriod {
    pub name: String,
    pub opening_minor: i64,
    pub closing_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct TriggerState {
    pub name: String,
    pub tripped: bool,
}

/// One payment date of the deal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct PeriodReport {
    pub period: u32,
    pub payment_date: String,
    pub days: i64,
    /// `normal`, `accelerated` or `cleanup`.
    pub waterfall: String,
    pub revolving: bool,
    pub interest_collected_minor: i64,
    pub principal_collected_minor: i64,
    pub recovery_minor: i64,
    pub new_default_minor: i64,
    pub call_proceeds_minor: i64,
    pub purchase_paid_minor: i64,
    pub purchased_balance_minor: i64,
    /// The deal's pool after the period (collections, defaults and purchases).
    pub pool_balance_minor: i64,
    pub cumulative_default_minor: i64,
    pub fees: Vec<FeePaid>,
    pub bonds: Vec<BondPeriod>,
    pub accounts: Vec<AccountPeriod>,
    pub triggers: Vec<TriggerState>,
    /// Annualized excess spread, 6 places (absent when the pool was empty).
    pub excess_spread: Option<String>,
    /// Sources = uses, to the minor unit.
    pub sources_minor: i64,
    pub uses_minor: i64,
}

/// The projected pool in one payment period (projections only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct PoolPeriodReport {
    pub period: u32,
    pub performing_balance_minor: i64,
    pub new_default_minor: i64,
    pub in_recovery_minor: i64,
    pub scheduled_principal_minor: i64,
    pub prepayment_minor: i64,
    pub default_amortization_minor: i64,
    pub interest_minor: i64,
    pub recovery_minor: i64,
    pub loss_minor: i64,
}

/// A tranche's measures at its price on the closing date (ACT/365F years).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct TrancheReport {
    pub name: String,
    pub original_balance_minor: i64,
    pub price_minor: i64,
    pub interest_minor: i64,
    pub principal_minor: i64,
    pub residual_minor: i64,
    /// Weighted-average life in years, 4 places; absent when no principal is paid.
    pub wal_years: Option<String>,
    /// Annual effective yield, 6 places; absent when none solves the price.
    pub yield_annual: Option<String>,
    /// Macaulay duration in years, 4 places.
    pub duration_years: Option<String>,
    /// Original balance not repaid.
    pub loss_minor: i64,
    pub loss_fraction: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct DealReport {
    pub deal: String,
    pub currency: String,
    pub closing: String,
    /// The pool at cut-off.
    pub pool_balance_minor: i64,
    pub periods: Vec<PeriodReport>,
    pub tranches: Vec<TrancheReport>,
    /// The projected pool by payment period (empty for a collection table).
    pub pool: Vec<PoolPeriodReport>,
}

/// A refused run, mapped to the input field at fault. `at` is the row's path with a dot.
fn run_error(e: RunError, at: &str, fixings_field: &str) -> FieldError {
    let code = "run_refused";
    match e {
        RunError::DateNotAfter(_) => {
            FieldError::refused(format!("{at}payment_date"), e.to_string(), "out_of_order")
        }
        RunError::NegativeCollection(name) => {
            FieldError::refused(format!("{at}{name}"), e.to_string(), code)
        }
        RunError::ExceedsPool => FieldError::refused(
            format!("{at}principal_minor"),
            e.to_string(),
            "exceeds_pool",
        ),
        RunError::CallNotExercisable => FieldError::refused(
            format!("{at}exercise_call"),
            e.to_string(),
            "call_not_exercisable",
        ),
        RunError::Ended => {
            FieldError::refused(at.trim_end_matches('.'), e.to_string(), "deal_ended")
        }
        RunError::MissingIndexRate(..) => {
            FieldError::refused(fixings_field, e.to_string(), "missing_index_rate")
        }
        RunError::InvalidDeal(_) | RunError::StateMismatch => {
            FieldError::refused("deal", e.to_string(), code)
        }
        RunError::Overflow => {
            FieldError::refused(at.trim_end_matches('.'), e.to_string(), "overflow")
        }
    }
}

/// The deal's payment dates, at most [`PERIODS_MAX`], up to its stated maturity.
pub fn payment_dates(deal: &Deal) -> Vec<BusinessDate> {
    (0..PERIODS_MAX as u32)
        .map_while(|n| deal.dates.payment_date(n))
        .take_while(|d| *d <= deal.dates.stated_maturity)
        .collect()
}

/// Projects the pool over the deal's payment periods. A monthly deal's periods are
/// projected with their actual lengths (annual rates as `1 − (1 − r)^(days/365)`); a
/// quarterly, semi-annual or annual deal's pool is projected by calendar month and each
/// payment period sums its months.
pub fn project_for_deal(
    deal: &Deal,
    cohorts: &[abs::PoolCohort],
    assumptions: &Assumptions,
) -> Result<Vec<PoolPeriod>, FieldError> {
    let dates = payment_dates(deal);
    let months = deal.dates.frequency.months() as usize;
    let calendar = if months == 1 {
        let mut days = Vec::with_capacity(dates.len());
        let mut prev = deal.dates.closing;
        for d in &dates {
            days.push(u32::try_from(prev.days_until(*d)).unwrap_or(0));
            prev = *d;
        }
        Calendar::Days(days)
    } else {
        Calendar::Monthly
    };
    let grouped = group_cohorts(cohorts);
    let monthly = project_pool(&grouped, assumptions, &calendar)
        .map_err(|e| FieldError::refused("scenario", e.to_string(), "out_of_range"))?;
    if months == 1 {
        return Ok(monthly);
    }
    Ok(monthly
        .chunks(months)
        .take(dates.len())
        .enumerate()
        .map(|(n, chunk)| sum_periods(n as u32 + 1, chunk))
        .collect())
}

fn sum_periods(period: u32, chunk: &[PoolPeriod]) -> PoolPeriod {
    let last = chunk.last().expect("chunks are not empty");
    let sum = |f: fn(&PoolPeriod) -> i64| chunk.iter().map(f).sum();
    PoolPeriod {
        period,
        performing_balance_minor: last.performing_balance_minor,
        new_default_minor: sum(|p| p.new_default_minor),
        in_recovery_minor: last.in_recovery_minor,
        schedule_factor: last.schedule_factor,
        expected_amortization_minor: sum(|p| p.expected_amortization_minor),
        prepayment_minor: sum(|p| p.prepayment_minor),
        default_amortization_minor: sum(|p| p.default_amortization_minor),
        scheduled_principal_minor: sum(|p| p.scheduled_principal_minor),
        expected_interest_minor: sum(|p| p.expected_interest_minor),
        interest_lost_minor: sum(|p| p.interest_lost_minor),
        interest_minor: sum(|p| p.interest_minor),
        recovery_minor: sum(|p| p.recovery_minor),
        loss_minor: sum(|p| p.loss_minor),
        liquidated_minor: sum(|p| p.liquidated_minor),
        mdr: Decimal::ZERO,
        smm: Decimal::ZERO,
    }
}

/// What one run is given per period.
struct Row {
    payment_date: BusinessDate,
    collections: Collections,
    /// `None`: exercise the call when it is exercisable.
    exercise_call: Option<bool>,
    index_rates: Vec<IndexRate>,
}

/// Runs the deal period by period; the states after each period come with the payments.
fn run_rows(
    deal: &Deal,
    rows: Vec<Row>,
    call_when_exercisable: bool,
    at: impl Fn(usize) -> String,
    fixings_field: impl Fn(usize) -> String,
) -> Result<Vec<(Payments, DealState)>, FieldError> {
    let mut state = DealState::at_closing(deal);
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.into_iter().enumerate() {
        let after = state.pool_balance_minor
            - row.collections.principal_minor
            - row.collections.new_default_minor;
        let exercise_call = row
            .exercise_call
            .unwrap_or(call_when_exercisable && after >= 0 && call_exercisable(deal, after));
        let period = Period {
            payment_date: row.payment_date,
            exercise_call,
            index_rates: row.index_rates,
        };
        let (next, payments) = run_period(deal, &state, &row.collections, &period)
            .map_err(|e| run_error(e, &at(n), &fixings_field(n)))?;
        state = next;
        out.push((payments, state.clone()));
        if state.called {
            break;
        }
    }
    Ok(out)
}

/// Runs the deal over the pool: a loan pool projected under `assumptions`, or a collection
/// table. `fixings` are the flat index scenario; `prices_minor` each bond's price (par when
/// absent). `prefix` is the pool's JSON path with its dot, for errors.
pub fn run_deal(
    deal: &Deal,
    pool: &PoolInput,
    assumptions: Option<&Assumptions>,
    call_when_exercisable: bool,
    fixings: &[IndexRate],
    prices_minor: &[Option<i64>],
    prefix: &str,
) -> Result<DealReport, FieldError> {
    let dates = payment_dates(deal);
    let (rows, projected) = match pool {
        PoolInput::Loans(cohorts) => {
            let total: i128 = cohorts.iter().map(|c| i128::from(c.balance_minor)).sum();
            if total != i128::from(deal.pool_balance_minor) {
                return Err(FieldError::refused(
                    format!("{prefix}loans"),
                    format!(
                        "the loans add up to {total}, the deal's pool_balance_minor is {}",
                        deal.pool_balance_minor
                    ),
                    "pool_mismatch",
                ));
            }
            let assumptions = assumptions
                .ok_or_else(|| FieldError::new("scenario", "required with pool loans"))?;
            let projected = project_for_deal(deal, cohorts, assumptions)?;
            let rows = projected
                .iter()
                .zip(&dates)
                .map(|(p, d)| Row {
                    payment_date: *d,
                    collections: collections_from(p),
                    exercise_call: None,
                    index_rates: fixings.to_vec(),
                })
                .collect();
            (rows, projected)
        }
        PoolInput::Collections(table) => {
            let mut rows = Vec::with_capacity(table.len());
            for (n, r) in table.iter().enumerate() {
                let payment_date = match (r.payment_date, dates.get(n)) {
                    (Some(d), _) => d,
                    (None, Some(d)) => *d,
                    (None, None) => {
                        return Err(FieldError::new(
                            format!("{prefix}collections[{n}].payment_date"),
                            "past the deal's stated maturity: give the date",
                        ))
                    }
                };
                rows.push(row_of(r, payment_date, fixings));
            }
            (rows, Vec::new())
        }
    };
    let fixings_at = |n: usize| match pool {
        PoolInput::Loans(_) => "index_rates".to_string(),
        PoolInput::Collections(_) => format!("{prefix}collections[{n}].index_rates"),
    };
    let at = |n: usize| match pool {
        PoolInput::Loans(_) => format!("{prefix}loans."),
        PoolInput::Collections(_) => format!("{prefix}collections[{n}]."),
    };
    let runs = run_rows(deal, rows, call_when_exercisable, at, fixings_at)?;
    Ok(report(deal, &runs, &projected, prices_minor))
}

fn row_of(r: &CollectionRow, payment_date: BusinessDate, fixings: &[IndexRate]) -> Row {
    Row {
        payment_date,
        collections: r.collections.clone(),
        exercise_call: Some(r.exercise_call),
        index_rates: if r.index_rates.is_empty() {
            fixings.to_vec()
        } else {
            r.index_rates.clone()
        },
    }
}

fn fraction_text(part: i64, whole: i64, places: u32) -> String {
    if whole == 0 {
        return "0".into();
    }
    (Decimal::from(part) / Decimal::from(whole))
        .round_dp(places)
        .to_string()
}

fn waterfall_name(k: WaterfallKind) -> &'static str {
    match k {
        WaterfallKind::Normal => "normal",
        WaterfallKind::Accelerated => "accelerated",
        WaterfallKind::CleanUp => "cleanup",
    }
}

fn report(
    deal: &Deal,
    runs: &[(Payments, DealState)],
    projected: &[PoolPeriod],
    prices_minor: &[Option<i64>],
) -> DealReport {
    let periods = runs
        .iter()
        .enumerate()
        .map(|(n, (p, s))| PeriodReport {
            period: n as u32 + 1,
            payment_date: p.payment_date.to_string(),
            days: p.days,
            waterfall: waterfall_name(p.waterfall).into(),
            revolving: p.revolving,
            interest_collected_minor: p.collections.interest_minor,
            principal_collected_minor: p.collections.principal_minor,
            recovery_minor: p.collections.recovery_minor,
            new_default_minor: p.collections.new_default_minor,
            call_proceeds_minor: p.call_proceeds_minor,
            purchase_paid_minor: p.purchase_paid_minor,
            purchased_balance_minor: p.purchased_balance_minor,
            pool_balance_minor: s.pool_balance_minor,
            cumulative_default_minor: s.cumulative_default_minor,
            fees: deal
                .fees
                .iter()
                .enumerate()
                .map(|(f, fee)| FeePaid {
                    name: fee.name.clone(),
                    due_minor: p.fees_due_minor[f],
                    paid_minor: p.fees_paid_minor[f],
                })
                .collect(),
            bonds: deal
                .bonds
                .iter()
                .enumerate()
                .map(|(i, b)| BondPeriod {
                    name: b.name.clone(),
                    interest_due_minor: p.interest_due_minor[i],
                    interest_paid_minor: p.interest_paid_minor[i],
                    principal_paid_minor: p.principal_paid_minor[i],
                    residual_paid_minor: p.residual_paid_minor[i],
                    balance_minor: s.bonds[i].balance_minor,
                    factor: fraction_text(s.bonds[i].balance_minor, b.balance_minor, 6),
                    coupon: s.bonds[i].coupon.normalize().to_string(),
                })
                .collect(),
            accounts: deal
                .accounts
                .iter()
                .enumerate()
                .map(|(a, acc)| AccountPeriod {
                    name: acc.name.clone(),
                    opening_minor: p.accounts_opening_minor[a],
                    closing_minor: p.accounts_closing_minor[a],
                })
                .collect(),
            triggers: deal
                .triggers
                .iter()
                .enumerate()
                .map(|(t, trig)| TriggerState {
                    name: trig.name.clone(),
                    tripped: p.triggers[t],
                })
                .collect(),
            excess_spread: p.excess_spread.map(|x| x.round_dp(6).to_string()),
            sources_minor: p.sources_minor(),
            uses_minor: p.uses_minor(),
        })
        .collect();
    let payments: Vec<Payments> = runs.iter().map(|(p, _)| p.clone()).collect();
    let tranches = deal
        .bonds
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let flows = bond_flows(&payments, i);
            let price = prices_minor
                .get(i)
                .copied()
                .flatten()
                .unwrap_or(b.balance_minor);
            let m = tranche_metrics(b.balance_minor, price, deal.dates.closing, &flows);
            TrancheReport {
                name: b.name.clone(),
                original_balance_minor: b.balance_minor,
                price_minor: price,
                interest_minor: flows.iter().map(|f| f.interest_minor).sum(),
                principal_minor: flows.iter().map(|f| f.principal_minor).sum(),
                residual_minor: flows.iter().map(|f| f.residual_minor).sum(),
                wal_years: m.wal_years.map(|x| x.round_dp(4).to_string()),
                yield_annual: m.yield_annual.map(|x| x.round_dp(6).to_string()),
                duration_years: m.duration_years.map(|x| x.round_dp(4).to_string()),
                loss_minor: m.loss_minor,
                loss_fraction: m.loss_fraction.round_dp(6).to_string(),
            }
        })
        .collect();
    DealReport {
        deal: deal.name.clone(),
        currency: deal.currency.code().to_string(),
        closing: deal.dates.closing.to_string(),
        pool_balance_minor: deal.pool_balance_minor,
        periods,
        tranches,
        pool: projected
            .iter()
            .take(runs.len())
            .map(|p| PoolPeriodReport {
                period: p.period,
                performing_balance_minor: p.performing_balance_minor,
                new_default_minor: p.new_default_minor,
                in_recovery_minor: p.in_recovery_minor,
                scheduled_principal_minor: p.scheduled_principal_minor,
                prepayment_minor: p.prepayment_minor,
                default_amortization_minor: p.default_amortization_minor,
                interest_minor: p.interest_minor,
                recovery_minor: p.recovery_minor,
                loss_minor: p.loss_minor,
            })
            .collect(),
    }
}

impl ProjectionRequest {
    /// Parses, validates and runs the request: 422 with the field at fault otherwise.
    pub fn run(&self) -> Result<DealReport, Vec<FieldError>> {
        let deal = self.deal.parse().map_err(|errors| {
            errors
                .into_iter()
                .map(|mut e| {
                    e.field = format!("deal.{}", e.field);
                    e
                })
                .collect::<Vec<_>>()
        })?;
        let one = |e: FieldError| vec![e];
        let pool = self.pool.parse("pool.").map_err(one)?;
        let assumptions = match (&pool, &self.scenario) {
            (PoolInput::Loans(_), None) => {
                return Err(one(FieldError::new("scenario", "required with pool.loans")))
            }
            (PoolInput::Loans(_), Some(s)) => Some(s.parse("scenario.").map_err(one)?),
            (PoolInput::Collections(_), _) => None,
        };
        let fixings = index_rates("index_rates", &self.index_rates).map_err(one)?;
        let mut prices = vec![None; deal.bonds.len()];
        for (k, p) in self.prices.iter().enumerate() {
            let Some(i) = deal.bond_index(&p.bond) else {
                return Err(one(FieldError::refused(
                    format!("prices[{k}].bond"),
                    format!("no bond named {:?}", p.bond),
                    "unknown_bond",
                )));
            };
            if p.price_minor <= 0 || p.price_minor > crate::abs_wire::DEAL_AMOUNT_MINOR_MAX {
                return Err(one(FieldError::new(
                    format!("prices[{k}].price_minor"),
                    "must be positive and at most 10^15",
                )));
            }
            prices[i] = Some(p.price_minor);
        }
        run_deal(
            &deal,
            &pool,
            assumptions.as_ref(),
            self.call_when_exercisable,
            &fixings,
            &prices,
            "pool.",
        )
        .map_err(one)
    }
}
