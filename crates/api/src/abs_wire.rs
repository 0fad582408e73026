//! Deal files: the JSON shape of a securitization deal (`abs::Deal`) and its conversion.
//!
//! The file mirrors the domain model, so the JSON path of a field is the path the domain's
//! validation reports (`waterfalls.normal[2].account`); the few places where the file is
//! shaped differently (a bond's coupon object, a fee's `amount_minor` and `rate`) are
//! translated back by [`wire_path`]. Amounts are `*_minor` integers in the deal's
//! `currency`, rates and fractions decimal strings, dates `YYYY-MM-DD`. The schema, field by
//! field, is in docs/securitization.md ("Deal files").

use crate::FieldError;
use abs::{
    Account, AccountKind, Bond, BondKind, CleanUpCall, CurveStep, Deal, DealDates, Fee, FeeKind,
    Floating, Frequency, PrincipalLimit, PrincipalMode, ReserveTarget, Step, Trigger,
    TriggerCondition, Waterfalls,
};
use money::{BusinessDate, Currency, Decimal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Accounts, fees, bonds and triggers a deal may have, each.
pub const DEAL_ITEMS_MAX: usize = 100;
/// Steps in one waterfall.
pub const DEAL_STEPS_MAX: usize = 200;
/// Reset dates of one bond, steps of one trigger curve.
pub const DEAL_DATES_MAX: usize = 600;
/// The largest amount a deal file may state: 10^15 minor units (10 trillion yuan). Well
/// inside `i64`, so that arrears carried over hundreds of periods cannot overflow.
pub const DEAL_AMOUNT_MINOR_MAX: i64 = 1_000_000_000_000_000;
const NAME_BYTES_MAX: usize = 200;
/// The longest a deal may live, cut-off to stated maturity.
pub const DEAL_YEARS_MAX: u32 = 100;

/// A securitization deal: its dates, accounts, fees, bonds, waterfalls, triggers and
/// clean-up call.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealFile {
    pub name: String,
    /// ISO 4217; every `*_minor` amount of the file is in it.
    #[schema(example = "CNY")]
    pub currency: String,
    pub dates: DealDatesWire,
    /// The pool's balance at the cut-off date.
    pub pool_balance_minor: i64,
    /// Whether the bonds must add up to the pool balance exactly (default true).
    #[serde(default = "yes")]
    pub bonds_sum_to_pool: bool,
    /// Exactly one `collection` account; any number of `reserve` accounts.
    pub accounts: Vec<AccountWire>,
    #[serde(default)]
    pub fees: Vec<FeeWire>,
    /// Most senior first.
    pub bonds: Vec<BondWire>,
    pub waterfalls: WaterfallsWire,
    #[serde(default)]
    pub triggers: Vec<TriggerWire>,
    pub cleanup_call: Option<CleanUpCallWire>,
    /// Price of revolving purchases per unit of receivable balance, e.g. "1" (par, the
    /// default) or "0.98".
    pub purchase_price: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealDatesWire {
    /// Collections on the pool belong to the deal from this date.
    #[schema(example = "2025-12-31")]
    pub cutoff: String,
    /// Bonds issued; the first interest period starts here.
    pub closing: String,
    pub first_payment: String,
    pub frequency: FrequencyWire,
    /// Last payment date (inclusive) on which principal collections buy new receivables.
    pub revolving_end: Option<String>,
    pub stated_maturity: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FrequencyWire {
    Monthly,
    Quarterly,
    SemiAnnual,
    Annual,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AccountKindWire {
    /// Where collections arrive and what the waterfall leaves stays.
    Collection,
    /// Topped up to its target by `top_up_reserve` steps; its balance is available funds.
    Reserve,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountWire {
    pub name: String,
    pub kind: AccountKindWire,
    /// A reserve's target: exactly one of its two fields.
    pub target: Option<ReserveTargetWire>,
    #[serde(default)]
    pub opening_balance_minor: i64,
}

/// `{"pool_fraction": "0.01"}` (of the pool after the period's collections and purchases)
/// or `{"fixed_minor": 1000000}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveTargetWire {
    pub pool_fraction: Option<String>,
    pub fixed_minor: Option<i64>,
}

/// A fee, by `kind`. Unpaid `fixed`, `monthly_fixed`, `pool_fraction` and
/// `pool_fraction_annual` fees carry as arrears; `one_off` and `target` fees are due until
/// their amount has been paid in total.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FeeWire {
    /// The same amount every period.
    Fixed { name: String, amount_minor: i64 },
    /// An amount a month: × the months of the deal's frequency each period.
    MonthlyFixed { name: String, amount_minor: i64 },
    /// Paid once (on the first payment date with the cash for it).
    OneOff { name: String, amount_minor: i64 },
    /// Due until this total has been paid (a capped fee).
    Target { name: String, amount_minor: i64 },
    /// This fraction of the pool balance at the period's start, each period.
    PoolFraction { name: String, rate: String },
    /// This annual fraction of the pool balance at the period's start, × days/365
    /// (time-weighted by the period's days).
    PoolFractionAnnual { name: String, rate: String },
}

impl FeeWire {
    pub fn name(&self) -> &str {
        match self {
            FeeWire::Fixed { name, .. }
            | FeeWire::MonthlyFixed { name, .. }
            | FeeWire::OneOff { name, .. }
            | FeeWire::Target { name, .. }
            | FeeWire::PoolFraction { name, .. }
            | FeeWire::PoolFractionAnnual { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BondKindWire {
    /// Paid down as the waterfall's principal steps say (sequential or pro rata).
    Amortizing,
    /// Paid down to `pool_fraction` × the pool balance by `to_target` steps.
    TargetBalance,
    /// The residual tranche: no coupon; takes what is left.
    Equity,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BondWire {
    pub name: String,
    pub balance_minor: i64,
    pub kind: BondKindWire,
    /// A `target_balance` bond's target as a fraction of the pool balance.
    pub pool_fraction: Option<String>,
    /// Required except for `equity`, which has none.
    pub coupon: Option<CouponWire>,
}

/// Annual coupons accrue ACT/365F.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CouponWire {
    Fixed {
        /// e.g. "0.045".
        rate: String,
    },
    /// From each reset date (a payment date) on, `max(index fixing + spread, 0)`; the
    /// fixing is given to that date's run.
    Floating {
        /// The coupon until the first reset.
        rate: String,
        /// e.g. `LPR1Y`, `SHIBOR3M`.
        index: String,
        spread: String,
        reset_dates: Vec<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaterfallsWire {
    pub normal: Vec<StepWire>,
    /// Used from the period a trigger trips; required when there are triggers.
    #[serde(default)]
    pub accelerated: Vec<StepWire>,
    /// Used in the period the clean-up call is exercised; required with a call.
    #[serde(default)]
    pub cleanup: Vec<StepWire>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalModeWire {
    /// A bond gets nothing until every bond before it in the list is paid off.
    Sequential,
    /// By balance, largest remainder.
    ProRata,
    /// Each listed target-balance bond down to its target.
    ToTarget,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalLimitWire {
    /// The pool's decline in the period (principal collected and new defaults), less what
    /// earlier principal steps and purchases used.
    #[default]
    PrincipalAmount,
    /// Everything available (turbo).
    AllFunds,
}

/// One waterfall step, by `kind`; each pays the least of what is due and what is left.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepWire {
    PayFee {
        fee: String,
    },
    /// Pro rata by amount due; a shortfall is carried.
    PayInterest {
        bonds: Vec<String>,
    },
    TopUpReserve {
        account: String,
    },
    /// During the revolving period: the principal amount buys new receivables.
    Purchase {},
    PayPrincipal {
        bonds: Vec<String>,
        mode: PrincipalModeWire,
        #[serde(default)]
        limit: PrincipalLimitWire,
    },
    /// Everything left, to the bond as residual income.
    PayResidual {
        bond: String,
    },
}

/// A trigger, by `kind`. A tripped trigger selects the accelerated waterfall and ends the
/// revolving period; a trigger that is not `curable` (the default) stays tripped.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerWire {
    /// Cumulative defaults / the cut-off pool above the rate of the last curve step on or
    /// before the payment date (tested before the waterfall).
    CumulativeDefaultAbove {
        name: String,
        #[serde(default)]
        curable: bool,
        curve: Vec<CurveStepWire>,
    },
    /// Annualized excess spread below the floor (tested before the waterfall).
    ExcessSpreadBelow {
        name: String,
        #[serde(default)]
        curable: bool,
        floor: String,
    },
    /// The target-balance bond above its target after the waterfall (acts next period).
    BondAboveTarget {
        name: String,
        #[serde(default)]
        curable: bool,
        bond: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CurveStepWire {
    pub from: String,
    pub rate: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CleanUpCallWire {
    /// Exercisable at or below this fraction of the cut-off pool, e.g. "0.1".
    pub pool_fraction: String,
}

/// Collects every problem of a file, as the domain's validation does.
#[derive(Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn push(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError::refused(field, message, code));
    }

    pub fn decimal(&mut self, field: &str, text: &str) -> Decimal {
        match parse_decimal(field, text) {
            Ok(d) => d,
            Err(e) => {
                self.0.push(e);
                Decimal::ZERO
            }
        }
    }

    pub fn date(&mut self, field: &str, text: &str) -> BusinessDate {
        match parse_deal_date(field, text) {
            Ok(d) => d,
            Err(e) => {
                self.0.push(e);
                BusinessDate::from_ymd(1970, 1, 1).expect("a valid date")
            }
        }
    }

    pub fn amount(&mut self, field: &str, value_minor: i64) -> i64 {
        if value_minor.unsigned_abs() > DEAL_AMOUNT_MINOR_MAX.unsigned_abs() {
            self.push(
                field,
                "out_of_range",
                format!("must be at most {DEAL_AMOUNT_MINOR_MAX} in absolute value"),
            );
            0
        } else {
            value_minor
        }
    }

    fn count(&mut self, field: &str, n: usize, max: usize) {
        if n > max {
            self.push(field, "too_many", format!("at most {max} items, got {n}"));
        }
    }

    fn name(&mut self, field: &str, name: &str) {
        if let Err(e) = crate::check_name(field, name, NAME_BYTES_MAX) {
            // An empty name is the domain's to report (as `empty`), once.
            if !name.trim().is_empty() {
                self.0.push(e);
            }
        }
    }
}

/// A decimal string (at most 40 characters).
pub fn parse_decimal(field: &str, text: &str) -> Result<Decimal, FieldError> {
    let t = text.trim();
    if t.is_empty() || t.len() > 40 {
        return Err(FieldError::new(
            field,
            format!("must be a decimal string such as \"0.05\", got {text:?}"),
        ));
    }
    t.parse::<Decimal>().map_err(|_| {
        FieldError::new(
            field,
            format!("must be a decimal string such as \"0.05\", got {text:?}"),
        )
    })
}

/// A `YYYY-MM-DD` date.
pub fn parse_deal_date(field: &str, text: &str) -> Result<BusinessDate, FieldError> {
    let ok = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    ok.then(|| text.parse::<BusinessDate>().ok())
        .flatten()
        .ok_or_else(|| FieldError::new(field, format!("must be a date YYYY-MM-DD, got {text:?}")))
}

/// The file's path of a field the domain's validation names, where the two differ.
pub fn wire_path(domain_path: &str, file: &DealFile) -> String {
    let Some(rest) = domain_path.strip_prefix("bonds[") else {
        return fee_path(domain_path);
    };
    let Some((i, tail)) = rest.split_once(']') else {
        return domain_path.to_string();
    };
    match tail {
        ".coupon" => {
            let equity = i
                .parse::<usize>()
                .ok()
                .and_then(|i| file.bonds.get(i))
                .is_some_and(|b| b.kind == BondKindWire::Equity);
            if equity {
                format!("bonds[{i}].coupon")
            } else {
                format!("bonds[{i}].coupon.rate")
            }
        }
        ".floating" => format!("bonds[{i}].coupon"),
        t if t.starts_with(".floating.") => {
            format!("bonds[{i}].coupon.{}", &t[".floating.".len()..])
        }
        _ => domain_path.to_string(),
    }
}

fn fee_path(domain_path: &str) -> String {
    let Some(rest) = domain_path.strip_prefix("fees[") else {
        return domain_path.to_string();
    };
    match rest.split_once(']') {
        Some((i, ".fixed_minor" | ".target_minor")) => format!("fees[{i}].amount_minor"),
        Some((i, ".pool_fraction")) => format!("fees[{i}].rate"),
        _ => domain_path.to_string(),
    }
}

impl DealFile {
    /// The domain deal, validated: every problem of the file, each naming its JSON path
    /// and with a stable `code` (`out_of_order`, `unknown_account`, `sum_mismatch`, …).
    pub fn parse(&self) -> Result<Deal, Vec<FieldError>> {
        let mut p = Problems::default();
        let deal = self.convert(&mut p);
        if !p.0.is_empty() {
            return Err(p.0);
        }
        deal.validate().map_err(|errors| {
            errors
                .into_iter()
                .map(|e| FieldError::refused(wire_path(&e.field, self), e.message, e.code))
                .collect::<Vec<_>>()
        })?;
        Ok(deal)
    }

    fn convert(&self, p: &mut Problems) -> Deal {
        p.name("name", &self.name);
        let currency = self.currency.parse::<Currency>().unwrap_or_else(|_| {
            p.push(
                "currency",
                "invalid_field",
                format!("unknown ISO 4217 currency {:?}", self.currency),
            );
            Currency::Cny
        });
        let d = &self.dates;
        let frequency = match d.frequency {
            FrequencyWire::Monthly => Frequency::Monthly,
            FrequencyWire::Quarterly => Frequency::Quarterly,
            FrequencyWire::SemiAnnual => Frequency::SemiAnnual,
            FrequencyWire::Annual => Frequency::Annual,
        };
        let dates = DealDates {
            cutoff: p.date("dates.cutoff", &d.cutoff),
            closing: p.date("dates.closing", &d.closing),
            first_payment: p.date("dates.first_payment", &d.first_payment),
            frequency,
            revolving_end: d
                .revolving_end
                .as_deref()
                .map(|t| p.date("dates.revolving_end", t)),
            stated_maturity: p.date("dates.stated_maturity", &d.stated_maturity),
        };
        // Accruals over a longer life could leave 64-bit minor units.
        if dates
            .cutoff
            .add_months(12 * DEAL_YEARS_MAX)
            .is_some_and(|end| dates.stated_maturity > end)
        {
            p.push(
                "dates.stated_maturity",
                "out_of_range",
                format!("at most {DEAL_YEARS_MAX} years after the cut-off date"),
            );
        }
        let bonds_total: i128 = self.bonds.iter().map(|b| i128::from(b.balance_minor)).sum();
        if bonds_total > i128::from(DEAL_AMOUNT_MINOR_MAX) {
            p.push(
                "bonds",
                "out_of_range",
                "the bonds add up to more than 10^15",
            );
        }
        p.count("accounts", self.accounts.len(), DEAL_ITEMS_MAX);
        p.count("fees", self.fees.len(), DEAL_ITEMS_MAX);
        p.count("bonds", self.bonds.len(), DEAL_ITEMS_MAX);
        p.count("triggers", self.triggers.len(), DEAL_ITEMS_MAX);
        let accounts = self
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| account(p, i, a))
            .collect();
        let fees = self
            .fees
            .iter()
            .enumerate()
            .map(|(i, f)| fee(p, i, f, frequency))
            .collect();
        let bonds = self
            .bonds
            .iter()
            .enumerate()
            .map(|(i, b)| bond(p, i, b))
            .collect();
        let w = &self.waterfalls;
        let waterfalls = Waterfalls {
            normal: steps(p, "normal", &w.normal),
            accelerated: steps(p, "accelerated", &w.accelerated),
            cleanup: steps(p, "cleanup", &w.cleanup),
        };
        let triggers = self
            .triggers
            .iter()
            .enumerate()
            .map(|(i, t)| trigger(p, i, t))
            .collect();
        let cleanup_call = self.cleanup_call.as_ref().map(|c| CleanUpCall {
            pool_fraction: p.decimal("cleanup_call.pool_fraction", &c.pool_fraction),
        });
        let purchase_price = match &self.purchase_price {
            Some(t) => p.decimal("purchase_price", t),
            None => Decimal::ONE,
        };
        Deal {
            name: self.name.clone(),
            currency,
            dates,
            pool_balance_minor: p.amount("pool_balance_minor", self.pool_balance_minor),
            bonds_sum_to_pool: self.bonds_sum_to_pool,
            accounts,
            fees,
            bonds,
            waterfalls,
            triggers,
            cleanup_call,
            purchase_price,
        }
    }
}

fn account(p: &mut Problems, i: usize, a: &AccountWire) -> Account {
    p.name(&format!("accounts[{i}].name"), &a.name);
    let at = format!("accounts[{i}].target");
    let kind = match (a.kind, &a.target) {
        (AccountKindWire::Collection, None) => AccountKind::Collection,
        (AccountKindWire::Collection, Some(_)) => {
            p.push(at, "invalid_field", "a collection account has no target");
            AccountKind::Collection
        }
        (AccountKindWire::Reserve, None) => {
            p.push(at, "invalid_field", "a reserve account needs a target");
            AccountKind::Collection
        }
        (AccountKindWire::Reserve, Some(t)) => {
            let target = match (&t.pool_fraction, t.fixed_minor) {
                (Some(f), None) => {
                    ReserveTarget::PoolFraction(p.decimal(&format!("{at}.pool_fraction"), f))
                }
                (None, Some(m)) => {
                    ReserveTarget::FixedMinor(p.amount(&format!("{at}.fixed_minor"), m))
                }
                _ => {
                    p.push(
                        at,
                        "invalid_field",
                        "give exactly one of pool_fraction and fixed_minor",
                    );
                    ReserveTarget::FixedMinor(0)
                }
            };
            AccountKind::Reserve { target }
        }
    };
    Account {
        name: a.name.clone(),
        kind,
        opening_balance_minor: p.amount(
            &format!("accounts[{i}].opening_balance_minor"),
            a.opening_balance_minor,
        ),
    }
}

fn fee(p: &mut Problems, i: usize, f: &FeeWire, frequency: Frequency) -> Fee {
    p.name(&format!("fees[{i}].name"), f.name());
    let amount = format!("fees[{i}].amount_minor");
    let rate = format!("fees[{i}].rate");
    let kind = match f {
        FeeWire::Fixed { amount_minor, .. } => {
            FeeKind::FixedMinor(p.amount(&amount, *amount_minor))
        }
        FeeWire::MonthlyFixed { amount_minor, .. } => {
            FeeKind::FixedMinor(p.amount(&amount, *amount_minor) * i64::from(frequency.months()))
        }
        FeeWire::OneOff { amount_minor, .. } | FeeWire::Target { amount_minor, .. } => {
            FeeKind::TargetMinor(p.amount(&amount, *amount_minor))
        }
        FeeWire::PoolFraction { rate: r, .. } => {
            FeeKind::PoolFractionPerPeriod(p.decimal(&rate, r))
        }
        FeeWire::PoolFractionAnnual { rate: r, .. } => FeeKind::PoolFraction(p.decimal(&rate, r)),
    };
    Fee {
        name: f.name().to_string(),
        kind,
    }
}

fn bond(p: &mut Problems, i: usize, b: &BondWire) -> Bond {
    p.name(&format!("bonds[{i}].name"), &b.name);
    let at = |f: &str| format!("bonds[{i}].{f}");
    let kind = match (b.kind, &b.pool_fraction) {
        (BondKindWire::TargetBalance, Some(f)) => BondKind::TargetBalance {
            pool_fraction: p.decimal(&at("pool_fraction"), f),
        },
        (BondKindWire::TargetBalance, None) => {
            p.push(
                at("pool_fraction"),
                "invalid_field",
                "a target_balance bond needs pool_fraction",
            );
            BondKind::Amortizing
        }
        (_, Some(_)) => {
            p.push(
                at("pool_fraction"),
                "invalid_field",
                "only a target_balance bond has pool_fraction",
            );
            BondKind::Amortizing
        }
        (BondKindWire::Amortizing, None) => BondKind::Amortizing,
        (BondKindWire::Equity, None) => BondKind::Equity,
    };
    let (coupon, floating) = match (&b.coupon, b.kind) {
        (None, BondKindWire::Equity) => (Decimal::ZERO, None),
        (None, _) => {
            p.push(at("coupon"), "invalid_field", "a coupon is required");
            (Decimal::ZERO, None)
        }
        (Some(CouponWire::Fixed { rate }), _) => (p.decimal(&at("coupon.rate"), rate), None),
        (
            Some(CouponWire::Floating {
                rate,
                index,
                spread,
                reset_dates,
            }),
            _,
        ) => {
            p.count(&at("coupon.reset_dates"), reset_dates.len(), DEAL_DATES_MAX);
            let floating = Floating {
                index: index.clone(),
                spread: p.decimal(&at("coupon.spread"), spread),
                reset_dates: reset_dates
                    .iter()
                    .enumerate()
                    .map(|(k, d)| p.date(&at(&format!("coupon.reset_dates[{k}]")), d))
                    .collect(),
            };
            (p.decimal(&at("coupon.rate"), rate), Some(floating))
        }
    };
    Bond {
        name: b.name.clone(),
        balance_minor: p.amount(&at("balance_minor"), b.balance_minor),
        coupon,
        kind,
        floating,
    }
}

fn steps(p: &mut Problems, waterfall: &str, list: &[StepWire]) -> Vec<Step> {
    p.count(
        &format!("waterfalls.{waterfall}"),
        list.len(),
        DEAL_STEPS_MAX,
    );
    list.iter()
        .map(|s| match s {
            StepWire::PayFee { fee } => Step::PayFee { fee: fee.clone() },
            StepWire::PayInterest { bonds } => Step::PayInterest {
                bonds: bonds.clone(),
            },
            StepWire::TopUpReserve { account } => Step::TopUpReserve {
                account: account.clone(),
            },
            StepWire::Purchase {} => Step::Purchase,
            StepWire::PayPrincipal { bonds, mode, limit } => Step::PayPrincipal {
                bonds: bonds.clone(),
                mode: match mode {
                    PrincipalModeWire::Sequential => PrincipalMode::Sequential,
                    PrincipalModeWire::ProRata => PrincipalMode::ProRata,
                    PrincipalModeWire::ToTarget => PrincipalMode::ToTarget,
                },
                limit: match limit {
                    PrincipalLimitWire::PrincipalAmount => PrincipalLimit::PrincipalAmount,
                    PrincipalLimitWire::AllFunds => PrincipalLimit::AllFunds,
                },
            },
            StepWire::PayResidual { bond } => Step::PayResidual { bond: bond.clone() },
        })
        .collect()
}

fn trigger(p: &mut Problems, i: usize, t: &TriggerWire) -> Trigger {
    let (name, curable, condition) = match t {
        TriggerWire::CumulativeDefaultAbove {
            name,
            curable,
            curve,
        } => {
            p.count(&format!("triggers[{i}].curve"), curve.len(), DEAL_DATES_MAX);
            let curve = curve
                .iter()
                .enumerate()
                .map(|(k, s)| CurveStep {
                    from: p.date(&format!("triggers[{i}].curve[{k}].from"), &s.from),
                    rate: p.decimal(&format!("triggers[{i}].curve[{k}].rate"), &s.rate),
                })
                .collect();
            (
                name,
                curable,
                TriggerCondition::CumulativeDefaultAbove { curve },
            )
        }
        TriggerWire::ExcessSpreadBelow {
            name,
            curable,
            floor,
        } => (
            name,
            curable,
            TriggerCondition::ExcessSpreadBelow {
                floor: p.decimal(&format!("triggers[{i}].floor"), floor),
            },
        ),
        TriggerWire::BondAboveTarget {
            name,
            curable,
            bond,
        } => (
            name,
            curable,
            TriggerCondition::BondAboveTarget { bond: bond.clone() },
        ),
    };
    p.name(&format!("triggers[{i}].name"), name);
    Trigger {
        name: name.clone(),
        condition,
        curable: *curable,
    }
}
