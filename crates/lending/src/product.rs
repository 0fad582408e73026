//! What a lender offers: bounds, pricing and the rules that later drive the schedule and the
//! loan state machine. Plain data plus `validate()`; nothing here computes a loan.

use crate::schedule::RepaymentTerms;
use money::{Currency, DayCount, Decimal, Money, RateAnnual, RateDaily, RateMonthly, RoundingMode};

/// How principal and interest are spread over the term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RepaymentMethod {
    /// 等额本息: equal installments, interest on the falling balance.
    Annuity,
    /// 等额本金: equal principal parts, interest on the falling balance.
    EqualPrincipal,
    /// 先息后本: interest every period, all principal with the last installment.
    InterestOnly,
    /// 一次性还本付息: principal and interest in one payment at maturity.
    Bullet,
}

/// The contract rate as the contract states it; the period decides how interest is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContractRate {
    /// Interest by actual days under the product's day count (CNY: ACT/360).
    Daily(RateDaily),
    /// Interest of one full period per monthly installment.
    Monthly(RateMonthly),
    /// Annual/12 per monthly installment.
    Annual(RateAnnual),
}

impl ContractRate {
    /// Simple annualisation for caps and disclosure; daily rates need the day count.
    pub fn annual(self, day_count: DayCount) -> Result<RateAnnual, money::RateError> {
        match self {
            ContractRate::Daily(rate) => rate.to_annual(day_count),
            ContractRate::Monthly(rate) => rate.to_annual(),
            ContractRate::Annual(rate) => Ok(rate),
        }
    }

    pub fn fraction(self) -> Decimal {
        match self {
            ContractRate::Daily(rate) => rate.fraction(),
            ContractRate::Monthly(rate) => rate.fraction(),
            ContractRate::Annual(rate) => rate.fraction(),
        }
    }
}

/// The day count a rate in `currency` is quoted on unless the contract says otherwise:
/// ACT/360 for CNY (日利率 = 年利率 / 360), USD and EUR money markets; ACT/365F elsewhere
/// (GBP, HKD, SGD and the rest follow the 365-day convention).
pub fn default_day_count(currency: Currency) -> DayCount {
    match currency {
        Currency::Cny | Currency::Usd | Currency::Eur => DayCount::Act360,
        _ => DayCount::Act365F,
    }
}

/// Which day of the month installments fall due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RepaymentDayRule {
    /// The disbursement day each month, clamped to the month's end (Jan 31 → Feb 28).
    DisbursementDay,
    /// A fixed day (1..=31) each month, clamped to the month's end; the first due date is in
    /// the month after disbursement.
    FixedDay(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FeeCollection {
    /// Deducted from the disbursement: the borrower receives principal minus the fee.
    Upfront,
    /// Spread over the installments by largest remainder, exact to the minor unit.
    Spread,
}

/// Origination fee as a fraction of principal (0.02 is 2%).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OriginationFee {
    pub rate_fraction: Decimal,
    pub collection: FeeCollection,
}

/// Penalty interest (罚息) on overdue principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PenaltyRate {
    Daily(RateDaily),
    /// A multiple of the contract rate expressed daily (1.5 is the common "上浮50%").
    MultipleOfContract(Decimal),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PenaltyInterest {
    pub rate: PenaltyRate,
    /// Also charge penalty on overdue interest (复利); off unless the contract says so.
    pub compound_on_overdue_interest: bool,
}

/// The receivable components a repayment can settle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    Penalty,
    Fee,
    Interest,
    Principal,
}

/// Whether a repayment clears the oldest installment entirely before touching the next, or
/// clears one component across all overdue installments before the next component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AllocationScope {
    OldestInstallmentFirst,
    ComponentFirst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AllocationOrder {
    pub components: [Component; 4],
    pub scope: AllocationScope,
}

impl AllocationOrder {
    /// Penalty → fee → interest → principal, oldest installment first: the usual order.
    pub const STANDARD: AllocationOrder = AllocationOrder {
        components: [
            Component::Penalty,
            Component::Fee,
            Component::Interest,
            Component::Principal,
        ],
        scope: AllocationScope::OldestInstallmentFirst,
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartialPrepaymentEffect {
    /// Keep the installment, finish earlier.
    ShortenTerm,
    /// Keep the term, pay less each month.
    LowerInstallment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PrepaymentPolicy {
    pub full_allowed: bool,
    pub partial_allowed: bool,
    pub partial_effect: PartialPrepaymentEffect,
    /// Fee as a fraction of the principal prepaid (0 for none).
    pub fee_rate_fraction: Decimal,
    pub partial_minimum_minor: i64,
}

/// What happens to money paid beyond what is owed (the borrower's overpayment credit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OverpaymentCredit {
    /// Pays what falls due next, on its due date, in the contract's allocation order, so
    /// an early payment keeps the loan current (the usual expectation of a borrower).
    ApplyToNextDue,
    /// Held until it is refunded or a full prepayment uses it.
    Hold,
}

/// A loan product. Amounts are minor units of `currency`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoanProduct {
    pub currency: Currency,
    pub amount_minor_min: i64,
    pub amount_minor_max: i64,
    pub term_months_min: u32,
    pub term_months_max: u32,
    pub repayment_method: RepaymentMethod,
    pub contract_rate: ContractRate,
    pub day_count: DayCount,
    /// Simple annual rate the contract rate may not exceed (e.g. 24%).
    pub rate_cap: RateAnnual,
    pub interest_rounding: RoundingMode,
    pub repayment_day: RepaymentDayRule,
    /// Days after a due date before the installment counts as overdue.
    pub grace_days: u32,
    pub origination_fee: Option<OriginationFee>,
    /// Flat fee charged once per installment that goes overdue past the grace days.
    pub late_fee_minor: i64,
    pub penalty: PenaltyInterest,
    pub allocation_order: AllocationOrder,
    pub prepayment: PrepaymentPolicy,
    /// Disbursements above this must go to a named payee (受托支付), not the borrower.
    pub entrusted_payment_threshold_minor: i64,
    pub overpayment_credit: OverpaymentCredit,
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

/// Hard limits a product may not exceed, so no configuration can build an unbounded loan.
pub const LOAN_AMOUNT_MINOR_MAX: i64 = 1_000_000_000_000;
pub const TERM_MONTHS_MAX: u32 = 360;
const GRACE_DAYS_MAX: u32 = 30;

impl LoanProduct {
    /// The repayment terms for one loan of `term_months`, after the product's bounds.
    pub fn repayment_terms(&self, term_months: u32) -> Result<RepaymentTerms, FieldError> {
        if !(self.term_months_min..=self.term_months_max).contains(&term_months) {
            return Err(FieldError {
                field: "term_months",
                reason: format!(
                    "{term_months} is outside {}..={}",
                    self.term_months_min, self.term_months_max
                ),
            });
        }
        Ok(RepaymentTerms {
            term_months,
            method: self.repayment_method,
            rate: self.contract_rate,
            day_count: self.day_count,
            rounding: self.interest_rounding,
            repayment_day: self.repayment_day,
            origination_fee: self.origination_fee,
        })
    }

    /// Checks a requested amount against the product's currency and bounds.
    pub fn check_amount(&self, amount: Money) -> Result<(), FieldError> {
        let ok = amount.currency() == self.currency
            && (self.amount_minor_min..=self.amount_minor_max).contains(&amount.amount_minor());
        if ok {
            return Ok(());
        }
        // One unit throughout: minor units, as the request and the product state them.
        let reason = if amount.currency() != self.currency {
            format!(
                "the product lends {}, not {}",
                self.currency,
                amount.currency()
            )
        } else {
            format!(
                "{} is outside {}..={} (minor units of {})",
                amount.amount_minor(),
                self.amount_minor_min,
                self.amount_minor_max,
                self.currency
            )
        };
        Err(FieldError {
            field: "amount",
            reason,
        })
    }

    /// The contract rate per day, for accruals that run daily (penalty interest).
    pub fn contract_rate_daily(&self) -> Result<RateDaily, money::RateError> {
        Ok(self
            .contract_rate
            .annual(self.day_count)?
            .to_daily(self.day_count))
    }

    /// The penalty rate per day: given directly, or as a multiple of the contract rate.
    pub fn penalty_rate_daily(&self) -> Result<RateDaily, money::RateError> {
        match self.penalty.rate {
            PenaltyRate::Daily(rate) => Ok(rate),
            PenaltyRate::MultipleOfContract(multiple) => {
                let daily = self.contract_rate_daily()?.fraction();
                let product = daily
                    .checked_mul(multiple)
                    .ok_or(money::RateError::Overflow)?;
                RateDaily::from_fraction(product)
            }
        }
    }

    /// Every problem at once, each naming its field, so a product editor can show them all.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, field: &'static str, reason: String| {
            if !ok {
                errors.push(FieldError { field, reason });
            }
        };
        check(
            self.amount_minor_min > 0,
            "amount_minor_min",
            "must be positive".into(),
        );
        check(
            self.amount_minor_max >= self.amount_minor_min,
            "amount_minor_max",
            "must be at least amount_minor_min".into(),
        );
        check(
            self.amount_minor_max <= LOAN_AMOUNT_MINOR_MAX,
            "amount_minor_max",
            format!("must be at most {LOAN_AMOUNT_MINOR_MAX}"),
        );
        check(
            self.term_months_min >= 1,
            "term_months_min",
            "must be at least 1".into(),
        );
        check(
            self.term_months_max >= self.term_months_min && self.term_months_max <= TERM_MONTHS_MAX,
            "term_months_max",
            format!("must be within term_months_min..={TERM_MONTHS_MAX}"),
        );
        check(
            self.repayment_method != RepaymentMethod::Bullet || self.term_months_max <= 12,
            "repayment_method",
            "a bullet loan may not run longer than 12 months".into(),
        );
        self.validate_pricing(&mut check);
        self.validate_rules(&mut check);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn validate_pricing(&self, check: &mut impl FnMut(bool, &'static str, String)) {
        match self.contract_rate.annual(self.day_count) {
            Ok(annual) => check(
                annual <= self.rate_cap,
                "contract_rate",
                format!("{annual} is above the cap {}", self.rate_cap),
            ),
            Err(e) => check(false, "contract_rate", e.to_string()),
        }
        check(
            crate::schedule::rate_is_supported(self.contract_rate.fraction()),
            "contract_rate",
            "must be below 10 (1000%) with at most 12 decimal places".into(),
        );
        if let Some(fee) = self.origination_fee {
            check(
                fee.rate_fraction >= Decimal::ZERO && fee.rate_fraction < Decimal::ONE,
                "origination_fee.rate_fraction",
                "must be in [0, 1)".into(),
            );
        }
        check(
            self.late_fee_minor >= 0,
            "late_fee_minor",
            "must not be negative".into(),
        );
        let penalty_ok = match self.penalty.rate {
            PenaltyRate::Daily(_) => true,
            PenaltyRate::MultipleOfContract(m) => m >= Decimal::ONE && m <= Decimal::TEN,
        };
        check(
            penalty_ok,
            "penalty.rate",
            "a multiple of the contract rate must be within 1..=10".into(),
        );
    }

    fn validate_rules(&self, check: &mut impl FnMut(bool, &'static str, String)) {
        if let RepaymentDayRule::FixedDay(day) = self.repayment_day {
            check(
                (1..=31).contains(&day),
                "repayment_day",
                "day must be 1..=31".into(),
            );
        }
        check(
            self.grace_days <= GRACE_DAYS_MAX,
            "grace_days",
            format!("must be at most {GRACE_DAYS_MAX}"),
        );
        let mut components = self.allocation_order.components;
        components.sort();
        check(
            components
                == [
                    Component::Penalty,
                    Component::Fee,
                    Component::Interest,
                    Component::Principal,
                ],
            "allocation_order.components",
            "must name each component exactly once".into(),
        );
        let fee = self.prepayment.fee_rate_fraction;
        check(
            fee >= Decimal::ZERO && fee < Decimal::ONE,
            "prepayment.fee_rate_fraction",
            "must be in [0, 1)".into(),
        );
        check(
            self.prepayment.partial_minimum_minor >= 0,
            "prepayment.partial_minimum_minor",
            "must not be negative".into(),
        );
        check(
            self.entrusted_payment_threshold_minor >= 0,
            "entrusted_payment_threshold_minor",
            "must not be negative".into(),
        );
    }
}

impl LoanProduct {
    /// A Jiebei-like CNY product: 0.05%/day (18% a year ACT/360), 1–12 months, annuity,
    /// 3 grace days, penalty at 1.5× the contract rate, a 10.00 late fee, entrusted payment
    /// above 50,000.00. For examples, simulations and benchmarks.
    pub fn example_cny() -> LoanProduct {
        LoanProduct {
            currency: Currency::Cny,
            amount_minor_min: 10_000,
            amount_minor_max: 20_000_000,
            term_months_min: 1,
            term_months_max: 12,
            repayment_method: RepaymentMethod::Annuity,
            contract_rate: ContractRate::Daily(
                RateDaily::from_fraction(Decimal::new(5, 4)).expect("0.05% is a rate"),
            ),
            day_count: DayCount::Act360,
            rate_cap: RateAnnual::from_fraction(Decimal::new(24, 2)).expect("24% is a rate"),
            interest_rounding: RoundingMode::HalfUp,
            repayment_day: RepaymentDayRule::DisbursementDay,
            grace_days: 3,
            origination_fee: None,
            late_fee_minor: 1_000,
            penalty: PenaltyInterest {
                rate: PenaltyRate::MultipleOfContract(Decimal::new(15, 1)),
                compound_on_overdue_interest: false,
            },
            allocation_order: AllocationOrder::STANDARD,
            prepayment: PrepaymentPolicy {
                full_allowed: true,
                partial_allowed: true,
                partial_effect: PartialPrepaymentEffect::ShortenTerm,
                fee_rate_fraction: Decimal::ZERO,
                partial_minimum_minor: 10_000,
            },
            entrusted_payment_threshold_minor: 5_000_000,
            overpayment_credit: OverpaymentCredit::ApplyToNextDue,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    /// A Jiebei-like CNY product: 0.05%/day (18% a year ACT/360), 3–12 months, annuity.
    pub(crate) fn cny_daily_product() -> LoanProduct {
        LoanProduct {
            currency: Currency::Cny,
            amount_minor_min: 10_000,     // 100.00
            amount_minor_max: 20_000_000, // 200,000.00
            term_months_min: 3,
            term_months_max: 12,
            repayment_method: RepaymentMethod::Annuity,
            contract_rate: ContractRate::Daily("0.05%".parse().unwrap()),
            day_count: default_day_count(Currency::Cny),
            rate_cap: "24%".parse().unwrap(),
            interest_rounding: RoundingMode::HalfUp,
            repayment_day: RepaymentDayRule::DisbursementDay,
            grace_days: 3,
            origination_fee: None,
            late_fee_minor: 0,
            penalty: PenaltyInterest {
                rate: PenaltyRate::MultipleOfContract(dec!(1.5)),
                compound_on_overdue_interest: false,
            },
            allocation_order: AllocationOrder::STANDARD,
            prepayment: PrepaymentPolicy {
                full_allowed: true,
                partial_allowed: true,
                partial_effect: PartialPrepaymentEffect::ShortenTerm,
                fee_rate_fraction: dec!(0),
                partial_minimum_minor: 10_000,
            },
            entrusted_payment_threshold_minor: 5_000_000, // 50,000.00
            overpayment_credit: OverpaymentCredit::ApplyToNextDue,
        }
    }

    fn fields(product: &LoanProduct) -> Vec<&'static str> {
        match product.validate() {
            Ok(()) => vec![],
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn a_sound_product_validates() {
        assert_eq!(fields(&cny_daily_product()), Vec::<&str>::new());
    }

    #[test]
    fn each_broken_field_is_named() {
        let mut p = cny_daily_product();
        p.amount_minor_min = 0;
        p.term_months_max = 2;
        p.contract_rate = ContractRate::Daily("0.1%".parse().unwrap()); // 36% > 24% cap
        p.repayment_day = RepaymentDayRule::FixedDay(32);
        p.grace_days = 31;
        p.allocation_order.components[0] = Component::Fee;
        p.penalty.rate = PenaltyRate::MultipleOfContract(dec!(0.5));
        assert_eq!(
            fields(&p),
            [
                "amount_minor_min",
                "term_months_max",
                "contract_rate",
                "penalty.rate",
                "repayment_day",
                "grace_days",
                "allocation_order.components"
            ]
        );
    }

    #[test]
    fn cny_daily_rates_default_to_act_360() {
        assert_eq!(default_day_count(Currency::Cny), DayCount::Act360);
        assert_eq!(default_day_count(Currency::Gbp), DayCount::Act365F);
        assert_eq!(
            cny_daily_product().day_count,
            default_day_count(Currency::Cny)
        );
        // Quoting the same 0.05% a day on 365 days is a different (higher) annual rate.
        let mut p = cny_daily_product();
        p.day_count = DayCount::Act365F;
        let annual = p.contract_rate.annual(p.day_count).unwrap();
        assert_eq!(annual.fraction(), dec!(0.1825));
    }

    #[test]
    fn loan_terms_respect_the_product_bounds() {
        let p = cny_daily_product();
        assert_eq!(p.repayment_terms(12).unwrap().term_months, 12);
        assert_eq!(p.repayment_terms(13).unwrap_err().field, "term_months");
        assert!(p
            .check_amount(Money::from_minor(10_000, Currency::Cny))
            .is_ok());
        let low = p
            .check_amount(Money::from_minor(9_999, Currency::Cny))
            .unwrap_err();
        // Minor units only: "99.99 CNY is outside 10000..=…" mixed two units.
        assert!(
            low.reason.starts_with("9999 is outside 10000..="),
            "{low:?}"
        );
        let usd = p
            .check_amount(Money::from_minor(10_000, Currency::Usd))
            .unwrap_err();
        assert_eq!(usd.reason, "the product lends CNY, not USD");
        // 0.05% a day × 1.5 = 0.075% a day.
        assert_eq!(p.penalty_rate_daily().unwrap().fraction(), dec!(0.00075));
        let mut monthly = p.clone();
        monthly.contract_rate = ContractRate::Monthly("1.5%".parse().unwrap());
        monthly.penalty.rate = PenaltyRate::MultipleOfContract(dec!(1));
        assert_eq!(
            monthly.penalty_rate_daily().unwrap().fraction(),
            dec!(0.0005)
        );
    }

    #[test]
    fn cap_applies_to_the_annualised_rate() {
        let mut p = cny_daily_product();
        p.contract_rate = ContractRate::Monthly("2%".parse().unwrap()); // exactly 24%
        assert!(p.validate().is_ok());
        p.contract_rate = ContractRate::Monthly("2.01%".parse().unwrap());
        assert_eq!(fields(&p), ["contract_rate"]);
        p.contract_rate = ContractRate::Annual("0.1234567890123%".parse().unwrap());
        assert_eq!(
            fields(&p),
            ["contract_rate"],
            "13 decimal places of fraction"
        );
    }
}
