//! The deal model: dates, accounts, fees, bonds, waterfalls, triggers and the clean-up call.
//!
//! Plain data, the shape of a deal file; the JSON reading belongs to the API. A deal is used
//! only after [`Deal::validate`], whose every error names the field (`bonds[1].balance_minor`).

use money::{BusinessDate, Currency};
use rust_decimal::Decimal;

/// How often the deal pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    Monthly,
    Quarterly,
    SemiAnnual,
    Annual,
}

impl Frequency {
    pub const fn months(self) -> u32 {
        match self {
            Frequency::Monthly => 1,
            Frequency::Quarterly => 3,
            Frequency::SemiAnnual => 6,
            Frequency::Annual => 12,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DealDates {
    /// Collections on the pool belong to the deal from this date.
    pub cutoff: BusinessDate,
    /// Bonds issued; the first interest period starts here.
    pub closing: BusinessDate,
    pub first_payment: BusinessDate,
    pub frequency: Frequency,
    /// Last payment date on which principal collections buy new receivables (inclusive).
    pub revolving_end: Option<BusinessDate>,
    pub stated_maturity: BusinessDate,
}

impl DealDates {
    /// The `n`-th payment date (0 = the first), by whole months from the first payment.
    pub fn payment_date(&self, n: u32) -> Option<BusinessDate> {
        self.first_payment.add_months(n * self.frequency.months())
    }
}

/// A reserve account's target balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReserveTarget {
    /// A fraction of the pool balance after the period's collections and purchases.
    PoolFraction(Decimal),
    FixedMinor(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountKind {
    /// Where collections arrive and what is left over stays.
    Collection,
    Reserve {
        target: ReserveTarget,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub kind: AccountKind,
    pub opening_balance_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeeKind {
    /// The same amount every period.
    FixedMinor(i64),
    /// An annual fraction of the pool balance at the period's start, × days/365 (ACT/365F).
    PoolFraction(Decimal),
    /// A fraction of the pool balance at the period's start, per period whatever its length.
    PoolFractionPerPeriod(Decimal),
    /// Due until this total has been paid (a one-off fee, a capped fee).
    TargetMinor(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fee {
    pub name: String,
    pub kind: FeeKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BondKind {
    /// Amortizes as the waterfall's principal steps say (sequential or pro rata).
    Amortizing,
    /// Amortizes down to `pool_fraction` × the pool balance (`ToTarget` steps).
    TargetBalance { pool_fraction: Decimal },
    /// The residual tranche (次级): no coupon; takes what is left.
    Equity,
}

/// A floating coupon: from each reset date on, `index + spread` (floored at zero), with the
/// index fixing supplied by the period run whose payment date is the reset date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Floating {
    /// The index's name (e.g. `LPR1Y`, `SHIBOR3M`).
    pub index: String,
    pub spread: Decimal,
    /// Payment dates at which the coupon resets for the following periods.
    pub reset_dates: Vec<BusinessDate>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bond {
    pub name: String,
    pub balance_minor: i64,
    /// Annual coupon, ACT/365F: the fixed coupon, or a floating bond's first coupon (until
    /// its first reset); zero for equity.
    pub coupon: Decimal,
    pub kind: BondKind,
    /// `Some` for a floating-rate bond.
    pub floating: Option<Floating>,
}

/// How a principal step divides its funds among its bonds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrincipalMode {
    /// In the listed order: a bond gets nothing until every bond before it is paid in full.
    Sequential,
    /// By balance (largest remainder, earlier bond on ties).
    ProRata,
    /// Each listed target-balance bond down to its target, in order.
    ToTarget,
}

/// What a principal step may spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrincipalLimit {
    /// The period's principal amount: the pool's decline from scheduled and prepaid
    /// principal and new defaults (or the call proceeds), less what principal steps and
    /// purchases have already used.
    PrincipalAmount,
    /// Everything available (turbo).
    AllFunds,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Pays the fee's due amount and arrears.
    PayFee { fee: String },
    /// Pays the bonds' interest due and shortfalls, pro rata by amount due.
    PayInterest { bonds: Vec<String> },
    /// Fills the reserve account to its target.
    TopUpReserve { account: String },
    /// During the revolving period, spends the principal amount on new receivables.
    Purchase,
    PayPrincipal {
        bonds: Vec<String>,
        mode: PrincipalMode,
        limit: PrincipalLimit,
    },
    /// Pays everything left to the bond, as residual income (its balance unchanged).
    PayResidual { bond: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waterfalls {
    pub normal: Vec<Step>,
    /// Used from the period a trigger trips; ends the revolving period.
    pub accelerated: Vec<Step>,
    /// Used in the period the clean-up call is exercised.
    pub cleanup: Vec<Step>,
}

/// From `from` on, the threshold is `rate` (until the next step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurveStep {
    pub from: BusinessDate,
    pub rate: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TriggerCondition {
    /// Cumulative new defaults / the pool balance at cut-off **above** the curve's rate on
    /// the payment date. Tested before the waterfall.
    CumulativeDefaultAbove { curve: Vec<CurveStep> },
    /// Annualized excess spread **below** the floor:
    /// `(interest collected − fees due − bond interest due) / pool balance × 365 / days`.
    /// Tested before the waterfall.
    ExcessSpreadBelow { floor: Decimal },
    /// The target-balance bond's balance **above** its target after the waterfall; takes
    /// effect from the next period.
    BondAboveTarget { bond: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    pub name: String,
    pub condition: TriggerCondition,
    /// A curable trigger is off again when its condition stops holding; otherwise once
    /// tripped it stays tripped.
    pub curable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanUpCall {
    /// Exercisable when the pool balance is at or below this fraction of the cut-off balance.
    pub pool_fraction: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deal {
    pub name: String,
    pub currency: Currency,
    pub dates: DealDates,
    pub pool_balance_minor: i64,
    /// Whether the bonds must add up to the pool balance exactly.
    pub bonds_sum_to_pool: bool,
    pub accounts: Vec<Account>,
    pub fees: Vec<Fee>,
    pub bonds: Vec<Bond>,
    pub waterfalls: Waterfalls,
    pub triggers: Vec<Trigger>,
    pub cleanup_call: Option<CleanUpCall>,
    /// Price of revolving purchases per unit of receivable balance (1 = par).
    pub purchase_price: Decimal,
}

impl Deal {
    pub fn bond_index(&self, name: &str) -> Option<usize> {
        self.bonds.iter().position(|b| b.name == name)
    }
    pub fn fee_index(&self, name: &str) -> Option<usize> {
        self.fees.iter().position(|f| f.name == name)
    }
    pub fn account_index(&self, name: &str) -> Option<usize> {
        self.accounts.iter().position(|a| a.name == name)
    }
    /// The collection account (validation guarantees exactly one).
    pub fn collection_account(&self) -> usize {
        self.accounts
            .iter()
            .position(|a| a.kind == AccountKind::Collection)
            .expect("a validated deal has a collection account")
    }
}
