//! Repayment schedules exact to the minor unit.
//!
//! Conventions, each chosen so a borrower can redo the arithmetic by hand:
//! - Interest is rounded once per installment with the product's named `RoundingMode`, from
//!   the exact product `balance × rate × units` (no intermediate rounding of the rate).
//! - A monthly rate charges one full period per installment: `balance × r_monthly`.
//! - An annual rate with monthly installments charges `balance × r_annual / 12` per period.
//! - A daily rate charges actual days under the day count: `balance × r_daily × days`, days
//!   running from the previous due date (or disbursement) to this due date.
//! - Annuity installments are `round(P × F)` with the annuity factor
//!   `F = r / (1 − (1+r)^−n)` kept to [`ANNUITY_FACTOR_SCALE`] decimals and r the monthly
//!   rate (for a daily rate, `r_daily × days_per_year / 12`). Each installment's principal
//!   is the installment minus its interest, kept within the outstanding balance, and the
//!   last installment takes whatever balance remains, so principal always sums to the amount.
//! - Equal-principal parts are `amount / n` truncated; the residue (< n minor units) goes
//!   on the last installment so no part is ever negative.
//!
//! Interest and `P × F` have two implementations: exact rational arithmetic in `i128` (the
//! fast path) and `Decimal` (the reference). Within the bounds that
//! [`RepaymentTerms::validate`] and the principal limit enforce, both are exact, so they
//! agree to the bit; a property test holds them to it. The factor itself is computed once
//! per [`SchedulePlan`], in `Decimal`, and shared by both.
//!
//! ```
//! use lending::product::{ContractRate, RepaymentDayRule, RepaymentMethod};
//! use lending::{RepaymentTerms, SchedulePlan};
//! use money::{BusinessDate, Currency, DayCount, Money, RoundingMode};
//!
//! // 10,000.00 CNY over 12 months at 1.5% a month, interest rounded half-up.
//! let plan = SchedulePlan::new(RepaymentTerms {
//!     term_months: 12,
//!     method: RepaymentMethod::Annuity,
//!     rate: ContractRate::Monthly("1.5%".parse().unwrap()),
//!     day_count: DayCount::Act360,
//!     rounding: RoundingMode::HalfUp,
//!     repayment_day: RepaymentDayRule::DisbursementDay,
//!     origination_fee: None,
//! })
//! .unwrap();
//! let disbursed_on: BusinessDate = "2026-01-15".parse().unwrap();
//! let schedule = plan.generate(Money::from_minor(1_000_000, Currency::Cny), disbursed_on).unwrap();
//! assert_eq!(schedule.installments[0].total_minor, 91_680);
//! assert_eq!(schedule.installments[11].total_minor, 91_681);
//! assert_eq!(schedule.total_interest_minor, 100_161);
//! ```

use crate::product::{
    ContractRate, FeeCollection, OriginationFee, RepaymentDayRule, RepaymentMethod,
    LOAN_AMOUNT_MINOR_MAX, TERM_MONTHS_MAX,
};
use money::apr::{self, AprError, UnitPeriod};
use money::{allocate, BusinessDate, Currency, DayCount, Decimal, Money, RoundingMode};
use rust_decimal::{MathematicalOps, RoundingStrategy};

/// What decides a schedule apart from the amount and the date: one per product and term,
/// so it is validated and its annuity factor computed once, then reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepaymentTerms {
    pub term_months: u32,
    pub method: RepaymentMethod,
    pub rate: ContractRate,
    pub day_count: DayCount,
    pub rounding: RoundingMode,
    pub repayment_day: RepaymentDayRule,
    pub origination_fee: Option<OriginationFee>,
}

/// Everything that decides one schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduleTerms {
    pub principal: Money,
    pub disbursed_on: BusinessDate,
    pub repayment: RepaymentTerms,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Installment {
    pub number: u32,
    pub due_date: BusinessDate,
    pub principal_minor: i64,
    pub interest_minor: i64,
    pub fee_minor: i64,
    pub total_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub currency: Currency,
    pub disbursed_on: BusinessDate,
    pub principal_minor: i64,
    /// Fee deducted at disbursement (zero unless the fee is collected upfront).
    pub upfront_fee_minor: i64,
    pub installments: Vec<Installment>,
    pub total_interest_minor: i64,
    pub total_fee_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("principal must be within 1..={LOAN_AMOUNT_MINOR_MAX} minor units")]
    Principal,
    #[error("term must be within 1..={TERM_MONTHS_MAX} months (a bullet at most {BULLET_TERM_MONTHS_MAX})")]
    Term,
    #[error("rate must be below 10 (1000%) with at most {RATE_SCALE_MAX} decimal places")]
    Rate,
    #[error("repayment day must be 1..=31")]
    RepaymentDay,
    #[error("origination fee rate must be in [0, 1)")]
    Fee,
    #[error("a due date falls outside the calendar")]
    Date,
    #[error("amount overflows")]
    Overflow,
}

/// Rate decimals beyond this would make `balance × rate × days` inexact in `Decimal`.
pub const RATE_SCALE_MAX: u32 = 12;
/// A bullet accrues all its days in one multiplication; this keeps that product exact.
pub const BULLET_TERM_MONTHS_MAX: u32 = 60;
/// Decimals kept in the annuity factor: `principal × factor` stays exact in `Decimal`
/// (1e12 × 1.1e16 < 7.9e28) and the factor's error moves an installment by under 1e-3 of
/// a minor unit even at the largest principal.
pub const ANNUITY_FACTOR_SCALE: u32 = 15;

/// Whether a rate fraction is inside the range where both interest paths are exact.
pub fn rate_is_supported(fraction: Decimal) -> bool {
    let normalized = fraction.normalize();
    !normalized.is_sign_negative()
        && normalized < Decimal::TEN
        && normalized.scale() <= RATE_SCALE_MAX
}

impl RepaymentTerms {
    pub fn validate(&self) -> Result<(), ScheduleError> {
        let term_max = match self.method {
            RepaymentMethod::Bullet => BULLET_TERM_MONTHS_MAX,
            _ => TERM_MONTHS_MAX,
        };
        if !(1..=term_max).contains(&self.term_months) {
            return Err(ScheduleError::Term);
        }
        if !rate_is_supported(self.rate.fraction()) {
            return Err(ScheduleError::Rate);
        }
        if let RepaymentDayRule::FixedDay(day) = self.repayment_day {
            if !(1..=31).contains(&day) {
                return Err(ScheduleError::RepaymentDay);
            }
        }
        if let Some(fee) = self.origination_fee {
            if fee.rate_fraction.is_sign_negative() || fee.rate_fraction >= Decimal::ONE {
                return Err(ScheduleError::Fee);
            }
        }
        Ok(())
    }
}

/// Due dates of one schedule: installment k falls k months after the disbursement month on
/// the rule's day, clamped to the month's end and always computed from the anchor so month
/// ends never drift (Jan 31 → Feb 28 → Mar 31).
#[derive(Clone, Copy, Debug)]
struct DueDates {
    month_index: i32,
    day: u32,
}

impl DueDates {
    fn new(disbursed_on: BusinessDate, rule: RepaymentDayRule) -> DueDates {
        let day = match rule {
            RepaymentDayRule::DisbursementDay => disbursed_on.day(),
            RepaymentDayRule::FixedDay(day) => u32::from(day),
        };
        DueDates {
            month_index: disbursed_on.year() * 12 + disbursed_on.month() as i32 - 1,
            day,
        }
    }

    fn due_date(self, number: u32) -> Result<BusinessDate, ScheduleError> {
        let index = self.month_index + number as i32;
        let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
        let clamped = self.day.min(days_in_month(year, month));
        BusinessDate::from_ymd(year, month, clamped).map_err(|_| ScheduleError::Date)
    }
}

/// Due date of installment `number` (1-based) under `rule`.
pub fn due_date(
    disbursed_on: BusinessDate,
    rule: RepaymentDayRule,
    number: u32,
) -> Result<BusinessDate, ScheduleError> {
    DueDates::new(disbursed_on, rule).due_date(number)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// The period rate as an exact ratio: interest = balance × mantissa × units / denominator,
/// where units are days for a daily rate and periods otherwise.
#[derive(Clone, Copy, Debug)]
struct ExactRate {
    fraction: Decimal,
    mantissa: i128,
    denominator: i128,
    divisor: i64,
    per_day: bool,
}

impl ExactRate {
    fn new(rate: ContractRate) -> ExactRate {
        let fraction = rate.fraction().normalize();
        let divisor = match rate {
            ContractRate::Annual(_) => 12,
            _ => 1,
        };
        ExactRate {
            fraction,
            mantissa: fraction.mantissa(),
            denominator: 10i128.pow(fraction.scale()) * i128::from(divisor),
            divisor,
            per_day: matches!(rate, ContractRate::Daily(_)),
        }
    }

    /// The same rate charged by days, for a period cut short by a prepayment: a monthly
    /// rate r becomes r × 12 / days_per_year a day, an annual rate a / days_per_year.
    fn by_days(self, day_count: DayCount) -> ExactRate {
        if self.per_day {
            return self;
        }
        let days_per_year = day_count.days_per_year();
        let months = if self.divisor == 12 { 1 } else { 12 };
        ExactRate {
            fraction: self.fraction * Decimal::from(months),
            mantissa: self.mantissa * i128::from(months),
            denominator: self.denominator / i128::from(self.divisor) * i128::from(days_per_year),
            divisor: days_per_year,
            per_day: true,
        }
    }
}

/// The two places the fast path and the reference differ: interest for a period and the
/// level installment `principal × annuity factor`.
trait Arithmetic {
    fn interest_minor(&self, rate: &ExactRate, balance_minor: i64, units: i64) -> i64;
    fn installment_minor(&self, plan: &SchedulePlan, principal_minor: i64) -> i64;
}

/// Exact rational rounding in `i128`: |balance| ≤ 1e12, mantissa < 1e13, units < 2e3, and
/// principal ≤ 1e12 times a factor mantissa < 1.1e16, all far inside i128.
struct FixedPoint(RoundingMode);

impl Arithmetic for FixedPoint {
    #[inline]
    fn interest_minor(&self, rate: &ExactRate, balance_minor: i64, units: i64) -> i64 {
        let numerator = i128::from(balance_minor) * rate.mantissa * i128::from(units);
        let rounded = round_ratio(numerator, rate.denominator, self.0);
        i64::try_from(rounded).expect("interest bounded by validated terms")
    }

    #[inline]
    fn installment_minor(&self, plan: &SchedulePlan, principal_minor: i64) -> i64 {
        let numerator = i128::from(principal_minor) * plan.annuity_factor.mantissa();
        let denominator = 10i128.pow(ANNUITY_FACTOR_SCALE);
        let rounded = round_ratio(numerator, denominator, self.0);
        i64::try_from(rounded).expect("installment bounded by validated terms")
    }
}

/// Divides with the named rounding; `denominator` is positive.
#[inline]
pub(crate) fn round_ratio(numerator: i128, denominator: i128, mode: RoundingMode) -> i128 {
    debug_assert!(denominator > 0);
    // Day-to-day interest fits 64 bits, and a 64-bit division is several times cheaper
    // than a 128-bit one, which is a library call.
    if let (Ok(n), Ok(d)) = (i64::try_from(numerator), i64::try_from(denominator)) {
        let quotient = n / d;
        let remainder = n - quotient * d;
        let away = rounds_away(
            u128::from(remainder.unsigned_abs()),
            u128::from(d.unsigned_abs()),
            quotient % 2 != 0,
            mode,
        );
        return i128::from(step_away(quotient, away, n < 0));
    }
    let quotient = numerator / denominator;
    let remainder = numerator - quotient * denominator;
    let away = rounds_away(
        remainder.unsigned_abs(),
        denominator.unsigned_abs(),
        quotient % 2 != 0,
        mode,
    );
    match (away, numerator < 0) {
        (false, _) => quotient,
        (true, true) => quotient - 1,
        (true, false) => quotient + 1,
    }
}

#[inline]
fn step_away(quotient: i64, away: bool, negative: bool) -> i64 {
    match (away, negative) {
        (false, _) => quotient,
        (true, true) => quotient - 1,
        (true, false) => quotient + 1,
    }
}

/// Whether a truncated quotient moves one unit away from zero; `remainder < denominator`.
#[inline]
fn rounds_away(
    remainder: u128,
    denominator: u128,
    quotient_is_odd: bool,
    mode: RoundingMode,
) -> bool {
    let twice = remainder * 2;
    match mode {
        RoundingMode::Down => false,
        RoundingMode::HalfUp => twice >= denominator,
        RoundingMode::HalfEven => twice > denominator || (twice == denominator && quotient_is_odd),
    }
}

/// The reference: the same formulas in `Decimal`, rounded by `RoundingMode::round_minor`.
struct DecimalReference(RoundingMode);

impl Arithmetic for DecimalReference {
    fn interest_minor(&self, rate: &ExactRate, balance_minor: i64, units: i64) -> i64 {
        let exact = Decimal::from(balance_minor) * rate.fraction * Decimal::from(units)
            / Decimal::from(rate.divisor);
        self.0
            .round_minor(exact)
            .expect("interest bounded by validated terms")
    }

    fn installment_minor(&self, plan: &SchedulePlan, principal_minor: i64) -> i64 {
        let exact = Decimal::from(principal_minor) * plan.annuity_factor;
        self.0
            .round_minor(exact)
            .expect("installment bounded by validated terms")
    }
}

/// Builds one schedule on the fast path; see [`SchedulePlan`] to reuse the terms.
pub fn generate(terms: &ScheduleTerms) -> Result<Schedule, ScheduleError> {
    SchedulePlan::new(terms.repayment)?.generate(terms.principal, terms.disbursed_on)
}

/// Builds one schedule with `Decimal` arithmetic, the yardstick for [`generate`].
pub fn generate_reference(terms: &ScheduleTerms) -> Result<Schedule, ScheduleError> {
    SchedulePlan::new(terms.repayment)?.generate_reference(terms.principal, terms.disbursed_on)
}

/// `r / (1 − (1+r)^−n)` (or `1/n` at a zero rate), rounded half-even to
/// [`ANNUITY_FACTOR_SCALE`] decimals: the level installment is `round(P × factor)`.
pub fn annuity_factor(monthly_rate: Decimal, term_months: u32) -> Decimal {
    assert!(term_months >= 1, "a schedule has at least one installment");
    let exact = if monthly_rate.is_zero() {
        Decimal::ONE / Decimal::from(term_months)
    } else {
        // r·g / (g − 1) with g = (1+r)^n: the same value as r / (1 − (1+r)^−n) with one
        // division instead of two, which is most of what building a plan costs.
        let growth = (Decimal::ONE + monthly_rate).powi(i64::from(term_months));
        monthly_rate * growth / (growth - Decimal::ONE)
    };
    exact.round_dp_with_strategy(ANNUITY_FACTOR_SCALE, RoundingStrategy::MidpointNearestEven)
}

/// Validated repayment terms with their annuity factor computed once.
#[derive(Clone, Copy, Debug)]
pub struct SchedulePlan {
    terms: RepaymentTerms,
    rate: ExactRate,
    annuity_factor: Decimal,
}

impl SchedulePlan {
    pub fn new(terms: RepaymentTerms) -> Result<SchedulePlan, ScheduleError> {
        terms.validate()?;
        // Only an annuity uses the factor, and it is most of what a plan costs to build.
        let factor = match terms.method {
            RepaymentMethod::Annuity => {
                annuity_factor(annuity_monthly_rate(&terms), terms.term_months)
            }
            _ => Decimal::ZERO,
        };
        Ok(SchedulePlan {
            terms,
            rate: ExactRate::new(terms.rate),
            // Keep the scale fixed so the fast path can use the mantissa directly.
            annuity_factor: rescaled(factor, ANNUITY_FACTOR_SCALE),
        })
    }

    pub fn terms(&self) -> &RepaymentTerms {
        &self.terms
    }

    /// The annuity factor (zero for methods other than annuity).
    pub fn annuity_factor(&self) -> Decimal {
        self.annuity_factor
    }

    pub fn generate(
        &self,
        principal: Money,
        disbursed_on: BusinessDate,
    ) -> Result<Schedule, ScheduleError> {
        self.build(principal, disbursed_on, &FixedPoint(self.terms.rounding))
    }

    pub fn generate_reference(
        &self,
        principal: Money,
        disbursed_on: BusinessDate,
    ) -> Result<Schedule, ScheduleError> {
        self.build(
            principal,
            disbursed_on,
            &DecimalReference(self.terms.rounding),
        )
    }

    fn build(
        &self,
        principal: Money,
        disbursed_on: BusinessDate,
        arithmetic: &impl Arithmetic,
    ) -> Result<Schedule, ScheduleError> {
        let principal_minor = principal.amount_minor();
        if !(1..=LOAN_AMOUNT_MINOR_MAX).contains(&principal_minor) {
            return Err(ScheduleError::Principal);
        }
        let due_dates = DueDates::new(disbursed_on, self.terms.repayment_day);
        let mut installments = match self.terms.method {
            RepaymentMethod::Bullet => {
                vec![self.bullet(principal_minor, disbursed_on, due_dates, arithmetic)?]
            }
            _ => self.amortizing(principal_minor, disbursed_on, due_dates, arithmetic)?,
        };
        let (upfront_fee_minor, total_fee_minor) = self.apply_fee(principal, &mut installments)?;
        let total_interest_minor = installments.iter().map(|i| i.interest_minor).sum();
        debug_assert_eq!(
            installments.iter().map(|i| i.principal_minor).sum::<i64>(),
            principal_minor
        );
        Ok(Schedule {
            currency: principal.currency(),
            disbursed_on,
            principal_minor,
            upfront_fee_minor,
            installments,
            total_interest_minor,
            total_fee_minor,
        })
    }

    fn bullet(
        &self,
        principal_minor: i64,
        disbursed_on: BusinessDate,
        due_dates: DueDates,
        arithmetic: &impl Arithmetic,
    ) -> Result<Installment, ScheduleError> {
        let due_date = due_dates.due_date(self.terms.term_months)?;
        let units = if self.rate.per_day {
            self.terms.day_count.days_between(disbursed_on, due_date)
        } else {
            i64::from(self.terms.term_months)
        };
        let interest_minor = arithmetic.interest_minor(&self.rate, principal_minor, units);
        Ok(installment(1, due_date, principal_minor, interest_minor))
    }

    fn amortizing(
        &self,
        principal_minor: i64,
        disbursed_on: BusinessDate,
        due_dates: DueDates,
        arithmetic: &impl Arithmetic,
    ) -> Result<Vec<Installment>, ScheduleError> {
        let n = self.terms.term_months;
        let method = self.terms.method;
        // What an installment before the last pays: the level installment (annuity) or the
        // level principal part (equal principal).
        let level_minor = match method {
            RepaymentMethod::Annuity => arithmetic.installment_minor(self, principal_minor),
            RepaymentMethod::EqualPrincipal => principal_minor / i64::from(n),
            _ => 0,
        };
        let mut installments = Vec::with_capacity(n as usize);
        let mut balance_minor = principal_minor;
        let mut period_start = disbursed_on;
        for number in 1..=n {
            let due_date = due_dates.due_date(number)?;
            let units = if self.rate.per_day {
                self.terms.day_count.days_between(period_start, due_date)
            } else {
                1
            };
            let interest_minor = arithmetic.interest_minor(&self.rate, balance_minor, units);
            let principal_part = if number == n {
                balance_minor
            } else {
                match method {
                    // A long first period can cost more interest than the installment; the
                    // principal part then is zero rather than negative.
                    RepaymentMethod::Annuity => {
                        (level_minor - interest_minor).clamp(0, balance_minor)
                    }
                    RepaymentMethod::EqualPrincipal => level_minor,
                    _ => 0,
                }
            };
            balance_minor -= principal_part;
            installments.push(installment(
                number,
                due_date,
                principal_part,
                interest_minor,
            ));
            period_start = due_date;
        }
        assert_eq!(balance_minor, 0, "the last installment clears the balance");
        Ok(installments)
    }

    /// Adds the origination fee: deducted upfront, or spread exactly over the installments.
    fn apply_fee(
        &self,
        principal: Money,
        installments: &mut [Installment],
    ) -> Result<(i64, i64), ScheduleError> {
        let Some(fee) = self.terms.origination_fee else {
            return Ok((0, 0));
        };
        let exact = Decimal::from(principal.amount_minor()) * fee.rate_fraction;
        let fee_minor = self
            .terms
            .rounding
            .round_minor(exact)
            .map_err(|_| ScheduleError::Overflow)?;
        match fee.collection {
            FeeCollection::Upfront => Ok((fee_minor, fee_minor)),
            FeeCollection::Spread => {
                let total = Money::from_minor(fee_minor, principal.currency());
                let shares = allocate(total, &vec![1; installments.len()])
                    .map_err(|_| ScheduleError::Fee)?;
                for (item, share) in installments.iter_mut().zip(shares) {
                    item.fee_minor = share.amount_minor();
                    item.total_minor += item.fee_minor;
                }
                Ok((0, fee_minor))
            }
        }
    }
}

/// How a partial prepayment reshapes the rest of a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reshape {
    /// Keep asking this principal + interest each time (annuity) and finish earlier.
    KeepInstallment(i64),
    /// Keep this principal part (equal principal) and finish earlier.
    KeepPrincipalPart(i64),
    /// Keep every remaining due date and ask less at each.
    SpreadOverDates,
}

impl SchedulePlan {
    /// Re-amortizes `balance_minor` from `start` over at most `due_dates`, after a partial
    /// prepayment on `start`. The first period runs from `start` to the first due date and
    /// is charged by days at the rate's daily equivalent (it is cut short); later periods
    /// follow the usual conventions. When reshaping keeps the installment or principal part,
    /// the balance may clear before the last date and the remaining dates are dropped.
    /// Installments are numbered from 1; fees are left to the caller.
    pub fn reamortize(
        &self,
        balance_minor: i64,
        start: BusinessDate,
        due_dates: &[BusinessDate],
        reshape: Reshape,
    ) -> Result<Vec<Installment>, ScheduleError> {
        if !(1..=LOAN_AMOUNT_MINOR_MAX).contains(&balance_minor) {
            return Err(ScheduleError::Principal);
        }
        let dates_ok = due_dates.len() <= TERM_MONTHS_MAX as usize
            && due_dates.first().is_some_and(|&first| first > start)
            && due_dates.windows(2).all(|pair| pair[0] < pair[1]);
        if !dates_ok {
            return Err(ScheduleError::Date);
        }
        let arithmetic = FixedPoint(self.terms.rounding);
        let level_minor = self.reshaped_level(balance_minor, due_dates.len(), reshape);
        let day_count = self.terms.day_count;
        let broken_rate = self.rate.by_days(day_count);
        let mut installments = Vec::with_capacity(due_dates.len());
        let mut balance = balance_minor;
        let mut period_start = start;
        for (index, &due_date) in due_dates.iter().enumerate() {
            let (rate, units) = match (index, self.rate.per_day) {
                (0, _) | (_, true) => {
                    (&broken_rate, day_count.days_between(period_start, due_date))
                }
                _ => (&self.rate, 1),
            };
            let interest_minor = arithmetic.interest_minor(rate, balance, units);
            let principal_part = if index + 1 == due_dates.len() {
                balance
            } else {
                match self.terms.method {
                    RepaymentMethod::Annuity => (level_minor - interest_minor).clamp(0, balance),
                    RepaymentMethod::EqualPrincipal => level_minor.min(balance),
                    _ => 0,
                }
            };
            balance -= principal_part;
            let number = u32::try_from(index + 1).expect("bounded by TERM_MONTHS_MAX");
            installments.push(installment(
                number,
                due_date,
                principal_part,
                interest_minor,
            ));
            period_start = due_date;
            if balance == 0 {
                break;
            }
        }
        assert_eq!(balance, 0, "the last date clears the balance");
        Ok(installments)
    }

    /// The installment (annuity) or principal part (equal principal) that reshaping keeps.
    fn reshaped_level(&self, balance_minor: i64, dates: usize, reshape: Reshape) -> i64 {
        let count = u32::try_from(dates).expect("bounded by TERM_MONTHS_MAX");
        match (self.terms.method, reshape) {
            (RepaymentMethod::Annuity, Reshape::KeepInstallment(level)) => level,
            (RepaymentMethod::Annuity, _) => {
                let factor = annuity_factor(annuity_monthly_rate(&self.terms), count);
                let factor = rescaled(factor, ANNUITY_FACTOR_SCALE);
                let numerator = i128::from(balance_minor) * factor.mantissa();
                let rounded = round_ratio(
                    numerator,
                    10i128.pow(ANNUITY_FACTOR_SCALE),
                    self.terms.rounding,
                );
                i64::try_from(rounded).expect("installment bounded by the balance")
            }
            (RepaymentMethod::EqualPrincipal, Reshape::KeepPrincipalPart(part)) => part,
            (RepaymentMethod::EqualPrincipal, _) => balance_minor / i64::from(count),
            _ => 0,
        }
    }

    /// The level installment of the original schedule for `principal_minor` (annuity).
    pub fn level_installment_minor(&self, principal_minor: i64) -> i64 {
        FixedPoint(self.terms.rounding).installment_minor(self, principal_minor)
    }
}

fn rescaled(value: Decimal, scale: u32) -> Decimal {
    let mut value = value;
    value.rescale(scale);
    value
}

/// The monthly rate the annuity installment is sized with.
fn annuity_monthly_rate(terms: &RepaymentTerms) -> Decimal {
    match terms.rate {
        ContractRate::Monthly(rate) => rate.fraction(),
        ContractRate::Annual(rate) => rate.fraction() / Decimal::from(12),
        ContractRate::Daily(rate) => {
            rate.fraction() * Decimal::from(terms.day_count.days_per_year()) / Decimal::from(12)
        }
    }
}

fn installment(
    number: u32,
    due_date: BusinessDate,
    principal_minor: i64,
    interest_minor: i64,
) -> Installment {
    Installment {
        number,
        due_date,
        principal_minor,
        interest_minor,
        fee_minor: 0,
        total_minor: principal_minor + interest_minor,
    }
}

impl Schedule {
    fn payments(&self) -> Vec<(BusinessDate, Money)> {
        self.installments
            .iter()
            .map(|i| (i.due_date, Money::from_minor(i.total_minor, self.currency)))
            .collect()
    }

    /// What the borrower receives: the principal less the fee taken upfront.
    pub fn amount_financed(&self) -> Money {
        Money::from_minor(self.principal_minor - self.upfront_fee_minor, self.currency)
    }

    /// Regulation Z Appendix J APR in percent (2 decimals) on the amount actually paid out.
    pub fn apr_percent(&self) -> Result<Decimal, AprError> {
        self.apr().map(|apr| apr.percent)
    }

    /// The Appendix J APR on the amount actually paid out, with the unit-period used.
    pub fn apr(&self) -> Result<apr::Apr, AprError> {
        let advance = [(self.disbursed_on, self.amount_financed())];
        let payments = self.payments();
        // A bullet's term counted in days, as (b)(5)(vi) allows, matches a daily price;
        // otherwise the unit-period is the one (b)(4) infers from the due dates.
        let unit = match payments.as_slice() {
            [(due_date, _)] => Some(UnitPeriod::single_payment_term_in_days(
                self.disbursed_on,
                *due_date,
            )),
            _ => None,
        };
        apr::annual_percentage_rate(&advance, &payments, unit)
    }

    /// Annualised IRR in percent treating installments as whole months (PBOC 2021 No. 3).
    pub fn irr_annual_percent(&self) -> Result<Decimal, AprError> {
        let totals: Vec<Money> = self
            .installments
            .iter()
            .map(|i| Money::from_minor(i.total_minor, self.currency))
            .collect();
        apr::apr_from_periodic_cash_flows(self.amount_financed(), &totals, 12)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::product::FeeCollection;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> BusinessDate {
        s.parse().unwrap()
    }

    fn terms(
        principal_minor: i64,
        term_months: u32,
        method: RepaymentMethod,
        rate: ContractRate,
    ) -> ScheduleTerms {
        ScheduleTerms {
            principal: Money::from_minor(principal_minor, Currency::Cny),
            disbursed_on: d("2026-01-15"),
            repayment: RepaymentTerms {
                term_months,
                method,
                rate,
                day_count: DayCount::Act360,
                rounding: RoundingMode::HalfUp,
                repayment_day: RepaymentDayRule::DisbursementDay,
                origination_fee: None,
            },
        }
    }

    fn monthly(text: &str) -> ContractRate {
        ContractRate::Monthly(text.parse().unwrap())
    }

    fn daily(text: &str) -> ContractRate {
        ContractRate::Daily(text.parse().unwrap())
    }

    /// (principal, interest, total) per installment.
    fn parts(schedule: &Schedule) -> Vec<(i64, i64, i64)> {
        schedule
            .installments
            .iter()
            .map(|i| (i.principal_minor, i.interest_minor, i.total_minor))
            .collect()
    }

    #[test]
    fn worked_example_annuity_monthly_rate_half_up() {
        // 10,000.00 CNY, 12 months, 1.5% a month, interest rounded half-up each period.
        let schedule = generate(&terms(
            1_000_000,
            12,
            RepaymentMethod::Annuity,
            monthly("1.5%"),
        ))
        .unwrap();
        let totals: Vec<i64> = schedule
            .installments
            .iter()
            .map(|i| i.total_minor)
            .collect();
        assert_eq!(totals[..11], [91_680; 11]);
        assert_eq!(totals[11], 91_681);
        assert_eq!(schedule.total_interest_minor, 100_161);
        assert_eq!(schedule.installments[0].interest_minor, 15_000);
        assert_eq!(schedule.installments[11].due_date, d("2027-01-15"));
        // 1.5% a month with no odd days is 18% a year, both by Appendix J and by IRR.
        assert_eq!(schedule.apr_percent(), Ok(dec!(18.00)));
        assert_eq!(schedule.irr_annual_percent(), Ok(dec!(18.00)));
    }

    #[test]
    fn daily_rate_charges_actual_days() {
        // 0.05%/day ACT/360 sizes the installment at 1.5% a month: 15,000 / (1 − 1.015^−3)
        // = 343,382.96 → 343,383. Interest: 31 days → 15,500; 28 days on 672,117 →
        // 9,409.638 → 9,410; 31 days on 338,144 → 5,241.232 → 5,241; the last takes 338,144.
        let schedule = generate(&terms(
            1_000_000,
            3,
            RepaymentMethod::Annuity,
            daily("0.05%"),
        ))
        .unwrap();
        assert_eq!(
            parts(&schedule),
            [
                (327_883, 15_500, 343_383),
                (333_973, 9_410, 343_383),
                (338_144, 5_241, 343_385)
            ]
        );
    }

    #[test]
    fn equal_principal_interest_only_and_bullet() {
        let ep = generate(&terms(
            1_000_000,
            3,
            RepaymentMethod::EqualPrincipal,
            monthly("1%"),
        ))
        .unwrap();
        assert_eq!(
            parts(&ep),
            [
                (333_333, 10_000, 343_333),
                (333_333, 6_667, 340_000),
                (333_334, 3_333, 336_667)
            ]
        );
        let io = generate(&terms(
            1_000_000,
            3,
            RepaymentMethod::InterestOnly,
            monthly("1%"),
        ))
        .unwrap();
        assert_eq!(
            parts(&io),
            [
                (0, 10_000, 10_000),
                (0, 10_000, 10_000),
                (1_000_000, 10_000, 1_010_000)
            ]
        );
        // Jan 15 → Apr 15 2026 is 90 days at 0.05% a day.
        let bullet = generate(&terms(
            1_000_000,
            3,
            RepaymentMethod::Bullet,
            daily("0.05%"),
        ))
        .unwrap();
        assert_eq!(parts(&bullet), [(1_000_000, 45_000, 1_045_000)]);
        assert_eq!(bullet.installments[0].due_date, d("2026-04-15"));
        // Appendix J single payment: 4.5% over a 90-day term is 4.5% × 365/90 = 18.25%.
        assert_eq!(bullet.apr_percent(), Ok(dec!(18.25)));
    }

    #[test]
    fn annual_rate_charges_a_twelfth_per_month() {
        let rate = ContractRate::Annual("12%".parse().unwrap());
        let schedule = generate(&terms(1_000_000, 12, RepaymentMethod::Annuity, rate)).unwrap();
        let by_monthly = generate(&terms(
            1_000_000,
            12,
            RepaymentMethod::Annuity,
            monthly("1%"),
        ))
        .unwrap();
        assert_eq!(schedule.installments[0].interest_minor, 10_000);
        assert_eq!(parts(&schedule), parts(&by_monthly));
        // 10% a year is not a whole number of basis points a month; interest stays exact:
        // 1,000,000 × 0.10 / 12 = 8,333.33 → 8,333.
        let rate = ContractRate::Annual("10%".parse().unwrap());
        let schedule = generate(&terms(1_000_000, 12, RepaymentMethod::Annuity, rate)).unwrap();
        assert_eq!(schedule.installments[0].interest_minor, 8_333);
    }

    #[test]
    fn due_dates_clamp_to_month_end_without_drifting() {
        let jan31 = d("2026-01-31");
        let dates: Vec<String> = (1..=4)
            .map(|k| {
                due_date(jan31, RepaymentDayRule::DisbursementDay, k)
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            dates,
            ["2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]
        );
        let fixed: Vec<String> = (1..=2)
            .map(|k| {
                due_date(d("2027-12-10"), RepaymentDayRule::FixedDay(30), k)
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(fixed, ["2028-01-30", "2028-02-29"]);
    }

    #[test]
    fn origination_fee_spread_or_upfront() {
        let mut t = terms(1_000_000, 12, RepaymentMethod::Annuity, monthly("1.5%"));
        t.repayment.origination_fee = Some(OriginationFee {
            rate_fraction: dec!(0.02),
            collection: FeeCollection::Spread,
        });
        let spread = generate(&t).unwrap();
        let fees: Vec<i64> = spread.installments.iter().map(|i| i.fee_minor).collect();
        assert_eq!(
            fees,
            [1667, 1667, 1667, 1667, 1667, 1667, 1667, 1667, 1666, 1666, 1666, 1666]
        );
        assert_eq!(
            (spread.total_fee_minor, spread.upfront_fee_minor),
            (20_000, 0)
        );
        assert_eq!(spread.installments[0].total_minor, 91_680 + 1667);
        t.repayment.origination_fee.as_mut().unwrap().collection = FeeCollection::Upfront;
        let upfront = generate(&t).unwrap();
        assert_eq!(
            (upfront.total_fee_minor, upfront.upfront_fee_minor),
            (20_000, 20_000)
        );
        // Same fee, paid earlier, costs the borrower more.
        assert!(upfront.apr_percent().unwrap() > spread.apr_percent().unwrap());
        assert!(spread.apr_percent().unwrap() > dec!(18.00));
    }

    #[test]
    fn out_of_bounds_terms_are_errors() {
        let ok = terms(1_000_000, 12, RepaymentMethod::Annuity, monthly("1.5%"));
        let mut t = ok;
        t.principal = Money::from_minor(0, Currency::Cny);
        assert_eq!(generate(&t), Err(ScheduleError::Principal));
        t = ok;
        t.repayment.term_months = 0;
        assert_eq!(generate(&t), Err(ScheduleError::Term));
        t = terms(1_000_000, 61, RepaymentMethod::Bullet, monthly("1%"));
        assert_eq!(generate(&t), Err(ScheduleError::Term));
        t = ok;
        t.repayment.rate = monthly("0.0000000000001");
        assert_eq!(generate(&t), Err(ScheduleError::Rate));
        t = ok;
        t.repayment.repayment_day = RepaymentDayRule::FixedDay(0);
        assert_eq!(generate(&t), Err(ScheduleError::RepaymentDay));
    }

    fn plan(method: RepaymentMethod, rate: ContractRate, term_months: u32) -> SchedulePlan {
        SchedulePlan::new(terms(1_000_000, term_months, method, rate).repayment).unwrap()
    }

    #[test]
    fn reamortizing_charges_the_cut_period_by_days() {
        let dates = [d("2026-03-15"), d("2026-04-15")];
        // Monthly 1.5% is 18% a year: 18 days of ACT/360 on 1,000,000 is exactly 9,000.
        let monthly_plan = plan(RepaymentMethod::Annuity, monthly("1.5%"), 3);
        let spread = monthly_plan
            .reamortize(1_000_000, d("2026-02-25"), &dates, Reshape::SpreadOverDates)
            .unwrap();
        assert_eq!(spread[0].interest_minor, 9_000);
        assert_eq!(
            spread.iter().map(|i| i.principal_minor).sum::<i64>(),
            1_000_000
        );
        // Then a full month at 1.5% on what is left.
        let left = spread[1].principal_minor;
        let expected = RoundingMode::HalfUp
            .round_minor(Decimal::from(left) * dec!(0.015))
            .unwrap();
        assert_eq!(spread[1].interest_minor, expected);
        // Annual 12% with 10 days cut: 1,000,000 × 0.12 × 10 / 360 = 3,333.33 → 3,333.
        let annual = ContractRate::Annual("12%".parse().unwrap());
        let io = plan(RepaymentMethod::InterestOnly, annual, 3)
            .reamortize(1_000_000, d("2026-03-05"), &dates, Reshape::SpreadOverDates)
            .unwrap();
        let io_parts: Vec<(i64, i64)> = io
            .iter()
            .map(|i| (i.principal_minor, i.interest_minor))
            .collect();
        assert_eq!(io_parts, [(0, 3_333), (1_000_000, 10_000)]);
    }

    #[test]
    fn keeping_the_installment_finishes_earlier() {
        let annuity = plan(RepaymentMethod::Annuity, daily("0.05%"), 3);
        let dates = [d("2026-03-15"), d("2026-04-15")];
        // 272,117 left on Feb 25: 18 days cost 2,449.053 → 2,449, and the kept installment of
        // 343,383 clears the rest on Mar 15, so Apr 15 is dropped.
        let kept = annuity
            .reamortize(
                272_117,
                d("2026-02-25"),
                &dates,
                Reshape::KeepInstallment(343_383),
            )
            .unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (kept[0].principal_minor, kept[0].interest_minor),
            (272_117, 2_449)
        );
        // Lowering the installment instead keeps both dates at about half the amount.
        let lowered = annuity
            .reamortize(272_117, d("2026-02-25"), &dates, Reshape::SpreadOverDates)
            .unwrap();
        assert_eq!(lowered.len(), 2);
        assert_eq!(lowered[0].interest_minor, 2_449);
        assert!(lowered[0].total_minor < 343_383 / 2 + 2_449);
        assert_eq!(
            lowered.iter().map(|i| i.principal_minor).sum::<i64>(),
            272_117
        );
        let equal = plan(RepaymentMethod::EqualPrincipal, monthly("1%"), 3);
        let kept = equal
            .reamortize(
                400_000,
                d("2026-02-25"),
                &dates,
                Reshape::KeepPrincipalPart(333_333),
            )
            .unwrap();
        assert_eq!(
            kept.iter().map(|i| i.principal_minor).collect::<Vec<_>>(),
            [333_333, 66_667]
        );
        let bad_dates = [d("2026-04-15"), d("2026-03-15")];
        assert_eq!(
            annuity.reamortize(1, d("2026-02-25"), &bad_dates, Reshape::SpreadOverDates),
            Err(ScheduleError::Date)
        );
        assert_eq!(
            annuity.reamortize(1, d("2026-03-15"), &dates, Reshape::SpreadOverDates),
            Err(ScheduleError::Date)
        );
    }

    #[test]
    fn round_ratio_matches_the_named_modes() {
        // Past i64 the 128-bit path takes over; both must round alike.
        let big = i128::from(i64::MAX / 2) * 1000 + 500;
        let cases = [
            (5, 2),
            (7, 2),
            (-5, 2),
            (-7, 2),
            (1, 3),
            (2, 3),
            (-2, 3),
            (0, 7),
            (big, 1000),
            (-big, 1000),
            (big + 1000, 1000),
            (big, 10i128.pow(20)),
        ];
        for (num, den) in cases {
            for mode in [
                RoundingMode::HalfUp,
                RoundingMode::HalfEven,
                RoundingMode::Down,
            ] {
                let expected = mode
                    .round_minor(Decimal::from(num) / Decimal::from(den))
                    .unwrap();
                assert_eq!(
                    round_ratio(num, den, mode),
                    i128::from(expected),
                    "{num}/{den} {mode:?}"
                );
            }
        }
    }

    fn any_rate() -> impl Strategy<Value = ContractRate> {
        prop_oneof![
            (0i64..=500).prop_map(|bp| ContractRate::Monthly(
                money::RateMonthly::from_fraction(Decimal::new(bp, 4)).unwrap()
            )),
            (0i64..=2_000).prop_map(|p| ContractRate::Daily(
                money::RateDaily::from_fraction(Decimal::new(p, 6)).unwrap()
            )),
            (0i64..=3_600_000).prop_map(|p| ContractRate::Annual(
                money::RateAnnual::from_fraction(Decimal::new(p, 7)).unwrap()
            )),
        ]
    }

    fn any_terms() -> impl Strategy<Value = ScheduleTerms> {
        let method = prop_oneof![
            Just(RepaymentMethod::Annuity),
            Just(RepaymentMethod::EqualPrincipal),
            Just(RepaymentMethod::InterestOnly),
            Just(RepaymentMethod::Bullet),
        ];
        let rounding = prop_oneof![
            Just(RoundingMode::HalfUp),
            Just(RoundingMode::HalfEven),
            Just(RoundingMode::Down)
        ];
        let day_count = prop_oneof![
            Just(DayCount::Act360),
            Just(DayCount::Act365F),
            Just(DayCount::Thirty360)
        ];
        let day_rule = prop_oneof![
            Just(RepaymentDayRule::DisbursementDay),
            (1u8..=31).prop_map(RepaymentDayRule::FixedDay)
        ];
        (
            1i64..=LOAN_AMOUNT_MINOR_MAX,
            1u32..=60,
            method,
            any_rate(),
            rounding,
            day_count,
            day_rule,
            0i32..4000,
        )
            .prop_map(
                |(
                    principal_minor,
                    term_months,
                    method,
                    rate,
                    rounding,
                    day_count,
                    repayment_day,
                    offset,
                )| ScheduleTerms {
                    principal: Money::from_minor(principal_minor, Currency::Cny),
                    disbursed_on: BusinessDate::from_epoch_days(19_000 + offset).unwrap(),
                    repayment: RepaymentTerms {
                        term_months,
                        method,
                        rate,
                        day_count,
                        rounding,
                        repayment_day,
                        origination_fee: None,
                    },
                },
            )
    }

    /// round(exact) with the terms' rounding; `exact` in minor units.
    fn rounded(t: &ScheduleTerms, exact: Decimal) -> i64 {
        t.repayment.rounding.round_minor(exact).unwrap()
    }

    proptest! {
        #[test]
        fn fast_path_is_bit_identical_to_the_decimal_reference(t in any_terms()) {
            prop_assert_eq!(generate(&t), generate_reference(&t));
        }

        #[test]
        fn principal_sums_to_the_amount_and_parts_add_up(t in any_terms()) {
            let s = generate(&t).unwrap();
            let expected_count = if t.repayment.method == RepaymentMethod::Bullet { 1 } else { t.repayment.term_months as usize };
            prop_assert_eq!(s.installments.len(), expected_count);
            prop_assert_eq!(s.installments.iter().map(|i| i.principal_minor).sum::<i64>(), t.principal.amount_minor());
            prop_assert_eq!(s.installments.iter().map(|i| i.interest_minor).sum::<i64>(), s.total_interest_minor);
            let mut previous = t.disbursed_on;
            for i in &s.installments {
                prop_assert!(i.principal_minor >= 0 && i.interest_minor >= 0);
                prop_assert_eq!(i.total_minor, i.principal_minor + i.interest_minor + i.fee_minor);
                prop_assert!(i.due_date > previous);
                previous = i.due_date;
            }
        }

        #[test]
        fn interest_of_each_period_is_the_rounded_balance_times_rate(t in any_terms()) {
            let s = generate(&t).unwrap();
            let mut balance = t.principal.amount_minor();
            let mut start = t.disbursed_on;
            // A bullet's single period spans the whole term: n months, or its days.
            let months = match t.repayment.method {
                RepaymentMethod::Bullet => Decimal::from(t.repayment.term_months),
                _ => Decimal::ONE,
            };
            for i in &s.installments {
                let b = Decimal::from(balance);
                let exact = match t.repayment.rate {
                    ContractRate::Monthly(r) => b * r.fraction() * months,
                    ContractRate::Annual(r) => b * r.fraction() * months / dec!(12),
                    ContractRate::Daily(r) => b * r.fraction() * Decimal::from(t.repayment.day_count.days_between(start, i.due_date)),
                };
                prop_assert_eq!(i.interest_minor, rounded(&t, exact));
                balance -= i.principal_minor;
                start = i.due_date;
            }
        }

        #[test]
        fn annuity_installments_match_the_closed_form(
            principal_minor in 100_000i64..=1_000_000_000,
            term_months in 1u32..=60,
            bp in 0i64..=500,
            t0 in any_terms(),
        ) {
            let r = Decimal::new(bp, 4);
            let mut t = t0;
            t.principal = Money::from_minor(principal_minor, Currency::Cny);
            t.repayment.method = RepaymentMethod::Annuity;
            t.repayment.term_months = term_months;
            t.repayment.rate = ContractRate::Monthly(money::RateMonthly::from_fraction(r).unwrap());
            let s = generate(&t).unwrap();
            // Written as P·r·(1+r)^n / ((1+r)^n − 1), a different evaluation from the code's.
            let p = Decimal::from(principal_minor);
            let exact = if r.is_zero() {
                p / Decimal::from(term_months)
            } else {
                let growth = (Decimal::ONE + r).powi(i64::from(term_months));
                p * r * growth / (growth - Decimal::ONE)
            };
            let level = rounded(&t, exact);
            let (last, rest) = s.installments.split_last().unwrap();
            for i in rest {
                prop_assert_eq!(i.total_minor, level, "installment {}", i.number);
            }
            // The last differs from the level only by rounding carried through the term: the
            // level's and each period's interest rounding (each under one unit) compound at r,
            // so |last − level| < 2·Σ(1+r)^k + 1.
            let compounded: Decimal = (0..term_months).map(|k| (Decimal::ONE + r).powi(i64::from(k))).sum();
            let bound = dec!(2) * compounded + Decimal::ONE;
            prop_assert!(Decimal::from((last.total_minor - level).abs()) < bound);
        }

        #[test]
        fn equal_principal_parts_are_amount_over_n_with_residue_last(t0 in any_terms()) {
            let mut t = t0;
            t.repayment.method = RepaymentMethod::EqualPrincipal;
            let s = generate(&t).unwrap();
            let n = i64::from(t.repayment.term_months);
            let part = t.principal.amount_minor() / n;
            let (last, rest) = s.installments.split_last().unwrap();
            for i in rest {
                prop_assert_eq!(i.principal_minor, part);
            }
            prop_assert_eq!(last.principal_minor, t.principal.amount_minor() - part * (n - 1));
        }
    }
}
