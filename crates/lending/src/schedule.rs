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
    assert!(denominator > 0, "rounding divides by a positive number");
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
        assert_eq!(
            installments.iter().map(|i| i.principal_minor).sum::<i64>(),
            principal_minor,
            "a schedule repays exactly its principal"
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
mod tests;
