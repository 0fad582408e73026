//! Compliance (合规): checked identity numbers, masking of personal data, and regulatory rule
//! packs evaluated against facts the shell gathers. Pure: no I/O, no clock, no environment;
//! the business date is always an argument.
//!
//! - [`identity`]: the PRC resident identity number (GB 11643-1999) and the unified social
//!   credit code (GB 32100-2015), each parsed with its check character verified.
//! - [`mask`]: masking of identity numbers, phone numbers, bank cards and names for display.
//! - [`pack`]: rule packs, versioned data with effective dates whose rules name their scope,
//!   message, source and condition; [`PackSet`] holds every version and refuses overlaps.
//! - [`builtin`]: China's online lending pack and US Regulation Z.
//! - [`facts`] and [`evaluate()`]: the breaches of the rules of a scope in effect on a date by
//!   what the shell knows of an action, and [`report`] over a whole book, by rule.
//!
//! Conventions and the source of every rule: docs/compliance.md.
//!
//! ```
//! use compliance::{builtin_packs, Facts, LoanFacts, Purpose, Scope, Value};
//! use money::{BusinessDate, Decimal};
//!
//! let on: BusinessDate = "2026-12-06".parse().unwrap();
//! let facts = Facts {
//!     loan: Some(LoanFacts {
//!         purpose: Purpose::Consumption,
//!         all_in_apr_percent: Decimal::new(2450, 2), // 24.50%
//!     }),
//!     ..Facts::default()
//! };
//! let breaches = builtin_packs().evaluate(Scope::Pricing, &facts, on);
//! assert_eq!(breaches[0].rule_id, "cn.all_in_apr_max"); // the 422 problem's code
//! assert_eq!(breaches[0].limit, Value::Percent(Decimal::from(24)));
//! ```

pub mod builtin;
mod evaluate;
pub mod facts;
pub mod identity;
pub mod mask;
pub mod pack;

pub use builtin::{builtin_packs, china_online_lending, us_regulation_z};
pub use evaluate::{evaluate, report, unevaluated, Breach, Finding, Report, Value};
pub use facts::{
    AnnualIncome, AprDisclosure, ColendingFacts, CustomerFacts, DisclosureFacts, Exposure, Facts,
    LenderFacts, LoanFacts,
};
pub use identity::{
    credit_code_check_char, resident_id_check_char, CreditCode, CreditCodeError, ResidentId,
    ResidentIdError, Sex,
};
pub use mask::{mask_bank_card, mask_name, mask_phone, mask_resident_id};
pub use pack::{
    Condition, CustomerKind, DisclosureField, Fraction, FundingKind, LenderKind, PackError,
    PackProblem, PackSet, Purpose, Rule, RuleKind, RulePack, Scope, Source, SourceStatus,
};
