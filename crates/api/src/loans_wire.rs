//! Wire types of term loans: products, schedule previews and loans, with their parsing into
//! lending types. Every parse error names the field at fault.

use crate::FieldError;
use lending::loan::{Loan, LoanStatus};
use lending::product::{
    AllocationOrder, AllocationScope, Component, ContractRate, FeeCollection, OriginationFee,
    OverpaymentCredit, PartialPrepaymentEffect, PenaltyInterest, PenaltyRate, PrepaymentPolicy,
    RepaymentDayRule, RepaymentMethod,
};
use lending::{LoanProduct, RepaymentTerms, Schedule, ScheduleTerms};
use money::{
    BusinessDate, Currency, DayCount, Decimal, Money, RateAnnual, RateDaily, RateMonthly,
    RoundingMode,
};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use utoipa::ToSchema;
use uuid::Uuid;

fn currency(field: &str, code: &str) -> Result<Currency, FieldError> {
    code.parse()
        .map_err(|_| FieldError::new(field, format!("unknown currency {code:?}")))
}

pub fn parse_date(field: &str, text: &str) -> Result<BusinessDate, FieldError> {
    text.parse()
        .map_err(|_| FieldError::new(field, "must be a date YYYY-MM-DD"))
}

/// `1.5%/month`, `0.05%/day`, `18%/year`: a percentage and the period it is quoted for.
pub fn parse_rate(field: &str, text: &str) -> Result<ContractRate, FieldError> {
    let bad = |why: &str| {
        FieldError::new(
            field,
            format!("{why}; write e.g. 1.5%/month, 0.05%/day or 18%/year"),
        )
    };
    let (number, period) = text
        .trim()
        .split_once("%/")
        .ok_or_else(|| bad("missing %/period"))?;
    let percent = Decimal::from_str(number.trim()).map_err(|_| bad("not a number"))?;
    if percent <= Decimal::ZERO {
        return Err(FieldError::new(field, "must be above zero"));
    }
    let fraction = percent / Decimal::ONE_HUNDRED;
    let out_of_range = |e: money::RateError| FieldError::new(field, e.to_string());
    let rate = match period.trim() {
        "day" => ContractRate::Daily(RateDaily::from_fraction(fraction).map_err(out_of_range)?),
        "month" => {
            ContractRate::Monthly(RateMonthly::from_fraction(fraction).map_err(out_of_range)?)
        }
        "year" => ContractRate::Annual(RateAnnual::from_fraction(fraction).map_err(out_of_range)?),
        _ => return Err(bad("period must be day, month or year")),
    };
    if !lending::schedule::rate_is_supported(rate.fraction()) {
        return Err(FieldError::new(
            field,
            "must be below 1000% with at most 12 decimals",
        ));
    }
    Ok(rate)
}

pub fn format_rate(rate: ContractRate) -> String {
    let (fraction, period) = match rate {
        ContractRate::Daily(r) => (r.fraction(), "day"),
        ContractRate::Monthly(r) => (r.fraction(), "month"),
        ContractRate::Annual(r) => (r.fraction(), "year"),
    };
    format!(
        "{}%/{period}",
        (fraction * Decimal::ONE_HUNDRED).normalize()
    )
}

pub fn parse_method(field: &str, text: &str) -> Result<RepaymentMethod, FieldError> {
    match text {
        "annuity" => Ok(RepaymentMethod::Annuity),
        "equal-principal" | "equal_principal" => Ok(RepaymentMethod::EqualPrincipal),
        "interest-only" | "interest_only" => Ok(RepaymentMethod::InterestOnly),
        "bullet" => Ok(RepaymentMethod::Bullet),
        _ => Err(FieldError::new(
            field,
            "must be annuity, equal-principal, interest-only or bullet",
        )),
    }
}

pub fn method_name(m: RepaymentMethod) -> &'static str {
    match m {
        RepaymentMethod::Annuity => "annuity",
        RepaymentMethod::EqualPrincipal => "equal-principal",
        RepaymentMethod::InterestOnly => "interest-only",
        RepaymentMethod::Bullet => "bullet",
    }
}

pub fn parse_day_count(field: &str, text: &str) -> Result<DayCount, FieldError> {
    match text.to_ascii_lowercase().as_str() {
        "act/360" | "act360" => Ok(DayCount::Act360),
        "act/365f" | "act365f" | "act/365" => Ok(DayCount::Act365F),
        "30/360" | "thirty360" => Ok(DayCount::Thirty360),
        _ => Err(FieldError::new(
            field,
            "must be act/360, act/365f or 30/360",
        )),
    }
}

pub fn day_count_name(d: DayCount) -> &'static str {
    match d {
        DayCount::Act360 => "act/360",
        DayCount::Act365F => "act/365f",
        DayCount::Thirty360 => "30/360",
    }
}

fn parse_rounding(field: &str, text: &str) -> Result<RoundingMode, FieldError> {
    match text {
        "half_even" => Ok(RoundingMode::HalfEven),
        "half_up" => Ok(RoundingMode::HalfUp),
        "down" => Ok(RoundingMode::Down),
        _ => Err(FieldError::new(field, "must be half_even, half_up or down")),
    }
}

fn parse_fraction_percent(field: &str, text: &str) -> Result<Decimal, FieldError> {
    let number = text
        .trim()
        .strip_suffix('%')
        .ok_or_else(|| FieldError::new(field, "must be a percentage such as 2%"))?;
    let percent =
        Decimal::from_str(number.trim()).map_err(|_| FieldError::new(field, "not a number"))?;
    Ok(percent / Decimal::ONE_HUNDRED)
}

// ---------------------------------------------------------------------------------------
// Schedule preview

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePreviewRequest {
    #[schema(example = 1_000_000)]
    pub amount_minor: i64,
    #[schema(example = "CNY")]
    pub currency: String,
    /// `1.5%/month`, `0.05%/day` or `18%/year`.
    #[schema(example = "1.5%/month")]
    pub rate: String,
    #[schema(example = 12)]
    pub term_months: u32,
    /// `annuity`, `equal-principal`, `interest-only` or `bullet`.
    #[schema(example = "annuity")]
    pub method: String,
    /// Disbursement date, YYYY-MM-DD.
    #[schema(example = "2026-01-15")]
    pub start: String,
    /// `act/360` (CNY default), `act/365f` or `30/360`.
    pub day_count: Option<String>,
}

impl SchedulePreviewRequest {
    pub fn parse(&self) -> Result<ScheduleTerms, FieldError> {
        let currency = currency("currency", &self.currency)?;
        if self.amount_minor <= 0 || self.amount_minor > lending::product::LOAN_AMOUNT_MINOR_MAX {
            return Err(FieldError::new(
                "amount_minor",
                "must be positive and at most 1e12",
            ));
        }
        let rate = parse_rate("rate", &self.rate)?;
        let method = parse_method("method", &self.method)?;
        let day_count = match &self.day_count {
            Some(d) => parse_day_count("day_count", d)?,
            None => lending::product::default_day_count(currency),
        };
        let repayment = RepaymentTerms {
            term_months: self.term_months,
            method,
            rate,
            day_count,
            rounding: RoundingMode::HalfEven,
            repayment_day: RepaymentDayRule::DisbursementDay,
            origination_fee: None,
        };
        repayment
            .validate()
            .map_err(|e| FieldError::new(schedule_field(&e), e.to_string()))?;
        Ok(ScheduleTerms {
            principal: Money::from_minor(self.amount_minor, currency),
            disbursed_on: parse_date("start", &self.start)?,
            repayment,
        })
    }
}

fn schedule_field(e: &lending::ScheduleError) -> &'static str {
    use lending::ScheduleError as E;
    match e {
        E::Principal => "amount_minor",
        E::Term => "term_months",
        E::Rate => "rate",
        E::RepaymentDay => "repayment_day",
        E::Fee => "origination_fee",
        _ => "start",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct InstallmentWire {
    pub number: u32,
    pub due_date: String,
    pub principal_minor: i64,
    pub interest_minor: i64,
    pub fee_minor: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SchedulePreview {
    pub currency: String,
    pub installments: Vec<InstallmentWire>,
    pub total_interest_minor: i64,
    /// Regulation Z Appendix J APR in percent, two decimals, as a string.
    #[schema(example = "19.56")]
    pub apr_percent: String,
}

impl SchedulePreview {
    pub fn from_schedule(s: &Schedule) -> SchedulePreview {
        SchedulePreview {
            currency: s.currency.code().to_string(),
            installments: s.installments.iter().map(installment_wire).collect(),
            total_interest_minor: s.total_interest_minor,
            apr_percent: s
                .apr_percent()
                .map(|a| a.to_string())
                .unwrap_or_else(|e| format!("unavailable: {e}")),
        }
    }
}

pub fn installment_wire(i: &lending::Installment) -> InstallmentWire {
    InstallmentWire {
        number: i.number,
        due_date: i.due_date.to_string(),
        principal_minor: i.principal_minor,
        interest_minor: i.interest_minor,
        fee_minor: i.fee_minor,
        total_minor: i.total_minor,
    }
}

// ---------------------------------------------------------------------------------------
// Products

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OriginationFeeWire {
    /// Fraction of principal as a percentage, e.g. `2%`.
    pub rate: String,
    /// `upfront` or `spread`.
    pub collection: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PrepaymentWire {
    pub full_allowed: bool,
    pub partial_allowed: bool,
    /// `shorten_term` or `lower_installment`.
    pub partial_effect: String,
    /// Fee on the principal prepaid, e.g. `1%`.
    pub fee_rate: String,
    pub partial_minimum_minor: i64,
}

/// A loan product version. Versions are immutable: a change is a new version, and loans
/// keep the version they were signed under.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LoanProductWire {
    /// Set to create a new version of an existing product; absent creates a new product.
    pub id: Option<Uuid>,
    pub name: String,
    #[schema(example = "CNY")]
    pub currency: String,
    pub amount_minor_min: i64,
    pub amount_minor_max: i64,
    pub term_months_min: u32,
    pub term_months_max: u32,
    /// `annuity`, `equal-principal`, `interest-only`, `bullet`.
    pub repayment_method: String,
    #[schema(example = "1.5%/month")]
    pub contract_rate: String,
    pub day_count: Option<String>,
    /// Simple annual cap, e.g. `24%/year`.
    #[schema(example = "24%/year")]
    pub rate_cap: String,
    /// `half_even` (default), `half_up`, `down`.
    pub interest_rounding: Option<String>,
    /// Fixed due day 1..=31; absent means the disbursement day.
    pub repayment_day: Option<u8>,
    pub grace_days: u32,
    pub origination_fee: Option<OriginationFeeWire>,
    pub late_fee_minor: i64,
    /// Daily penalty rate (`0.05%/day`) or a multiple of the contract rate (`x1.5`).
    pub penalty_rate: String,
    pub penalty_compounds: bool,
    /// `oldest_installment_first` (default) or `component_first`; order is always
    /// penalty, fee, interest, principal.
    pub allocation_scope: Option<String>,
    pub prepayment: PrepaymentWire,
    pub entrusted_payment_threshold_minor: i64,
    /// Days past due at which a loan is written off.
    pub write_off_dpd: u32,
    /// Money paid beyond what is owed: `apply_to_next_due` (default) pays what falls due
    /// next on its due date; `hold` keeps it until a refund or a full prepayment.
    pub overpayment_credit: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoanProductResponse {
    pub id: Uuid,
    pub version: u32,
    pub product: LoanProductWire,
}

/// A product as the domain sees it, with the loan settings that travel with it.
#[derive(Clone, Debug)]
pub struct ParsedProduct {
    pub product: LoanProduct,
    pub write_off_dpd: u32,
}

impl LoanProductWire {
    /// Parses a product being created: as [`Self::parse`], and its all-in APR at its worst
    /// case is held to its cap (`lending::cap`). Loans are checked again with their own
    /// terms and dates, so a stored product is not re-checked on every application.
    pub fn parse_new(&self) -> Result<ParsedProduct, FieldError> {
        let parsed = self.parse()?;
        if let Err((field, e)) = parsed.product.check_all_in_apr() {
            return Err(match *e {
                lending::cap::CapError::AboveCap { .. } => {
                    FieldError::refused(field.field, field.reason, "apr_above_cap")
                }
                _ => FieldError::new(field.field, field.reason),
            });
        }
        Ok(parsed)
    }

    pub fn parse(&self) -> Result<ParsedProduct, FieldError> {
        crate::check_name("name", &self.name, 128)?;
        let currency = currency("currency", &self.currency)?;
        let day_count = match &self.day_count {
            Some(d) => parse_day_count("day_count", d)?,
            None => lending::product::default_day_count(currency),
        };
        let rate_cap = match parse_rate("rate_cap", &self.rate_cap)? {
            ContractRate::Annual(r) => r,
            _ => return Err(FieldError::new("rate_cap", "must be quoted per year")),
        };
        let penalty_rate =
            match self.penalty_rate.trim().strip_prefix('x') {
                Some(m) => PenaltyRate::MultipleOfContract(Decimal::from_str(m).map_err(|_| {
                    FieldError::new("penalty_rate", "x must be followed by a number")
                })?),
                None => match parse_rate("penalty_rate", &self.penalty_rate)? {
                    ContractRate::Daily(r) => PenaltyRate::Daily(r),
                    _ => {
                        return Err(FieldError::new(
                            "penalty_rate",
                            "must be per day or a multiple xN",
                        ))
                    }
                },
            };
        let origination_fee = self
            .origination_fee
            .as_ref()
            .map(|f| {
                Ok::<_, FieldError>(OriginationFee {
                    rate_fraction: parse_fraction_percent("origination_fee.rate", &f.rate)?,
                    collection: match f.collection.as_str() {
                        "upfront" => FeeCollection::Upfront,
                        "spread" => FeeCollection::Spread,
                        _ => {
                            return Err(FieldError::new(
                                "origination_fee.collection",
                                "must be upfront or spread",
                            ))
                        }
                    },
                })
            })
            .transpose()?;
        let scope = match self.allocation_scope.as_deref() {
            None | Some("oldest_installment_first") => AllocationScope::OldestInstallmentFirst,
            Some("component_first") => AllocationScope::ComponentFirst,
            Some(_) => {
                return Err(FieldError::new(
                    "allocation_scope",
                    "must be oldest_installment_first or component_first",
                ))
            }
        };
        let p = &self.prepayment;
        let product = LoanProduct {
            currency,
            amount_minor_min: self.amount_minor_min,
            amount_minor_max: self.amount_minor_max,
            term_months_min: self.term_months_min,
            term_months_max: self.term_months_max,
            repayment_method: parse_method("repayment_method", &self.repayment_method)?,
            contract_rate: parse_rate("contract_rate", &self.contract_rate)?,
            day_count,
            rate_cap,
            interest_rounding: match &self.interest_rounding {
                Some(r) => parse_rounding("interest_rounding", r)?,
                None => RoundingMode::HalfEven,
            },
            repayment_day: match self.repayment_day {
                Some(d) => RepaymentDayRule::FixedDay(d),
                None => RepaymentDayRule::DisbursementDay,
            },
            grace_days: self.grace_days,
            origination_fee,
            late_fee_minor: self.late_fee_minor,
            penalty: PenaltyInterest {
                rate: penalty_rate,
                compound_on_overdue_interest: self.penalty_compounds,
            },
            allocation_order: AllocationOrder {
                components: [
                    Component::Penalty,
                    Component::Fee,
                    Component::Interest,
                    Component::Principal,
                ],
                scope,
            },
            prepayment: PrepaymentPolicy {
                full_allowed: p.full_allowed,
                partial_allowed: p.partial_allowed,
                partial_effect: match p.partial_effect.as_str() {
                    "shorten_term" => PartialPrepaymentEffect::ShortenTerm,
                    "lower_installment" => PartialPrepaymentEffect::LowerInstallment,
                    _ => {
                        return Err(FieldError::new(
                            "prepayment.partial_effect",
                            "must be shorten_term or lower_installment",
                        ))
                    }
                },
                fee_rate_fraction: parse_fraction_percent("prepayment.fee_rate", &p.fee_rate)?,
                partial_minimum_minor: p.partial_minimum_minor,
            },
            entrusted_payment_threshold_minor: self.entrusted_payment_threshold_minor,
            overpayment_credit: match self.overpayment_credit.as_deref() {
                None | Some("apply_to_next_due") => OverpaymentCredit::ApplyToNextDue,
                Some("hold") => OverpaymentCredit::Hold,
                Some(_) => {
                    return Err(FieldError::new(
                        "overpayment_credit",
                        "must be apply_to_next_due or hold",
                    ))
                }
            },
        };
        if let Err(errors) = product.validate() {
            let first = &errors[0];
            return Err(FieldError::new(first.field, first.reason.clone()));
        }
        if !(1..=3650).contains(&self.write_off_dpd) {
            return Err(FieldError::new("write_off_dpd", "must be 1..=3650"));
        }
        Ok(ParsedProduct {
            product,
            write_off_dpd: self.write_off_dpd,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Loans

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoanApplicationRequest {
    /// Client-chosen loan id; also the Idempotency-Key.
    pub id: Option<Uuid>,
    pub product_id: Uuid,
    /// Defaults to the newest version.
    pub product_version: Option<u32>,
    pub borrower: String,
    pub amount_minor: i64,
    pub term_months: u32,
    /// A stored credit decision (`POST /v1/decisions`) for this borrower, approved and not
    /// yet used for another loan. The loan records it, is held to its limit, and takes its
    /// price (its `annual_rate`) unless `rate` is given.
    pub decision_id: Option<Uuid>,
    /// This loan's contract rate (`1.5%/month`, `0.05%/day`, `18%/year`) instead of the
    /// decision's or the product's. Any rate is held to the product's cap on the all-in APR.
    #[schema(example = "1.5%/month")]
    pub rate: Option<String>,
    /// What the loan is for: consumption (the default), business_operation, education,
    /// medical, home_improvement, securities, property_down_payment, loan_repayment or
    /// other. The rule packs ban some.
    pub purpose: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisburseRequest {
    /// Entrusted payment (受托支付): the payee's account; required above the product
    /// threshold.
    pub payee: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepaymentRequest {
    pub amount_minor: i64,
    pub currency: String,
    /// Must be the open business day.
    pub date: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrepayRequest {
    pub amount_minor: i64,
    pub currency: String,
    pub date: String,
    /// `full` (default) or `partial`.
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PrepaymentQuote {
    pub loan_id: Uuid,
    pub business_date: String,
    pub payoff_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoanInstallmentState {
    #[serde(flatten)]
    pub scheduled: InstallmentWire,
    pub billed: bool,
    pub interest_accrued_minor: i64,
    pub late_fee_minor: i64,
    pub penalty_minor: i64,
    pub outstanding_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoanResponse {
    pub id: Uuid,
    pub borrower: String,
    pub product_id: Uuid,
    pub product_version: u32,
    /// `applied`, `approved`, `declined`, `active`, `paid_off`, `written_off`.
    pub stage: String,
    pub currency: String,
    pub principal_minor: i64,
    pub business_date: String,
    pub dpd: u32,
    pub bucket: String,
    pub classification: String,
    pub principal_outstanding_minor: i64,
    /// Interest billed and not yet paid (the loan's interest receivable account).
    pub interest_receivable_minor: i64,
    /// Interest recognised day by day in the current period, not yet billed.
    pub interest_accrued_minor: i64,
    pub billed_outstanding_minor: i64,
    /// Paid beyond what was owed and not yet used or refunded.
    pub overpayment_credit_minor: i64,
    /// Written off (principal, interest, fees and penalty) and not yet recovered; zero
    /// unless the loan is written off.
    #[serde(default)]
    pub written_off_claim_minor: i64,
    /// The loan's contract rate as priced (product, decision or request).
    #[schema(example = "1.5%/month")]
    pub contract_rate: String,
    /// All-in APR in percent, two decimals (Regulation Z Appendix J actuarial method:
    /// interest and the origination fee, on the amount paid out), from the schedule as
    /// disbursed; before disbursement, as if disbursed on the loan's business date. Absent
    /// only if no APR can be computed.
    #[schema(example = "19.56")]
    pub apr_percent: Option<String>,
    /// The unit-period of the APR (`month`; a bullet's term in days, e.g. `92day`).
    #[schema(example = "month")]
    pub apr_unit_period: Option<String>,
    /// The origination fee, whether taken upfront or spread over the installments.
    pub origination_fee_minor: i64,
    /// What the borrower (or the payee) receives: principal less the fee taken upfront.
    pub net_disbursed_minor: i64,
    /// The payee of an entrusted payment (受托支付); absent when paid to the borrower or
    /// not yet disbursed.
    pub payee: Option<String>,
    /// The credit decision the loan was decided and priced by.
    pub decision_id: Option<Uuid>,
    /// The loan's own ledger accounts (opened at disbursement; the overpayment liability on
    /// first use): read them at `GET /v1/accounts/{id}`.
    pub accounts: LoanAccounts,
    pub installments: Vec<LoanInstallmentState>,
    /// Co-lending: each funder's part after the loan's last command; absent for a loan
    /// without a funding plan (and for a view `as_of` a past date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funding: Option<Vec<crate::LoanFundingWire>>,
    /// Co-lending: the plan's guarantor with the claims it holds; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guarantor: Option<crate::LoanGuarantorWire>,
    /// Co-lending: the plan's first-loss deposit and what it paid; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_loss: Option<crate::LoanFirstLossWire>,
}

/// Ids of a loan's ledger accounts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoanAccounts {
    pub principal_receivable: Uuid,
    pub interest_receivable: Uuid,
    pub fee_receivable: Uuid,
    pub penalty_receivable: Uuid,
    pub overpayment_liability: Uuid,
}

/// The answer to a repayment or a prepayment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepaymentResponse {
    /// Names this repayment (a plain repayment can be reversed by it).
    pub repayment_id: i32,
    pub loan: LoanResponse,
}

/// A refund of the overpayment credit to the borrower.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoanRefundRequest {
    /// Client-chosen id; also the Idempotency-Key.
    pub id: Option<Uuid>,
    pub amount_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoanRefundResponse {
    pub id: Uuid,
    /// The refund's event on the loan.
    pub refund_id: i32,
    pub loan: LoanResponse,
}

/// Cash recovered on a written-off loan (from the borrower, a collection agency or a
/// sale of the claim), booked as recovery income.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoanRecoveryRequest {
    /// Client-chosen id; also the Idempotency-Key.
    pub id: Option<Uuid>,
    pub amount_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoanRecoveryResponse {
    pub id: Uuid,
    /// The recovery's event on the loan.
    pub recovery_id: i32,
    pub loan: LoanResponse,
}

pub fn status_name(s: LoanStatus) -> &'static str {
    match s {
        LoanStatus::Signed => "approved",
        LoanStatus::Active => "active",
        LoanStatus::PaidOff => "paid_off",
        LoanStatus::WrittenOff => "written_off",
    }
}

pub fn loan_installments(loan: &Loan) -> Vec<LoanInstallmentState> {
    loan.installments
        .iter()
        .map(|i| LoanInstallmentState {
            scheduled: installment_wire(&i.scheduled),
            billed: i.billed,
            interest_accrued_minor: i.interest_accrued_minor,
            late_fee_minor: i.late_fee_minor,
            penalty_minor: i.penalty_minor,
            outstanding_minor: i.outstanding_total(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_their_period() {
        assert_eq!(
            format_rate(parse_rate("r", "1.5%/month").unwrap()),
            "1.5%/month"
        );
        assert_eq!(
            format_rate(parse_rate("r", "0.05%/day").unwrap()),
            "0.05%/day"
        );
        assert_eq!(
            format_rate(parse_rate("r", "18%/year").unwrap()),
            "18%/year"
        );
        assert_eq!(parse_rate("r", "0%/month").unwrap_err().field, "r");
        assert!(parse_rate("r", "-1%/month").is_err());
        assert!(parse_rate("r", "1.5%").is_err());
        assert!(parse_rate("r", "1.5%/week").is_err());
    }

    #[test]
    fn preview_names_the_bad_field() {
        let mut req = SchedulePreviewRequest {
            amount_minor: 1_000_000,
            currency: "CNY".into(),
            rate: "1.5%/month".into(),
            term_months: 12,
            method: "annuity".into(),
            start: "2026-01-15".into(),
            day_count: None,
        };
        let terms = req.parse().unwrap();
        let s = lending::generate(&terms).unwrap();
        let p = SchedulePreview::from_schedule(&s);
        assert_eq!(p.installments.len(), 12);
        assert_eq!(
            p.installments
                .iter()
                .map(|i| i.principal_minor)
                .sum::<i64>(),
            1_000_000
        );
        req.term_months = 0;
        assert_eq!(req.parse().unwrap_err().field, "term_months");
        req.term_months = 12;
        req.method = "balloon".into();
        assert_eq!(req.parse().unwrap_err().field, "method");
    }
}
