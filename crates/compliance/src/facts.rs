//! What the shell knows about an action or a book item, gathered before evaluation.
//!
//! Facts come in groups; a rule is evaluated only when the group it reads is present
//! (a book item about a lender has no customer), and [`crate::unevaluated`] lists the
//! rules of a scope that were skipped for that reason, so the shell can tell a clean
//! result from one that checked nothing.

use crate::pack::{CustomerKind, DisclosureField, LenderKind, Purpose};
use money::{Decimal, Money};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub customer: Option<CustomerFacts>,
    pub loan: Option<LoanFacts>,
    pub colending: Option<ColendingFacts>,
    pub disclosure: Option<DisclosureFacts>,
    pub lender: Option<LenderFacts>,
}

/// The customer the action is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerFacts {
    pub kind: CustomerKind,
    /// Whether an individual is a student (an enterprise's is ignored).
    pub student: bool,
    /// Declared annual incomes, one per calendar year, in any order.
    pub income_history: Vec<AnnualIncome>,
    /// Every balance the customer would owe after the action, across products and funders:
    /// for an origination or a purchase the requested principal is one of them, for a limit
    /// change the new limit is (the shell decides which number stands for a credit line).
    pub exposure: Vec<Exposure>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnnualIncome {
    pub year: i32,
    pub amount: Money,
}

/// One funder's principal in one product of the customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exposure {
    pub product_id: String,
    pub funder_id: String,
    pub funder_kind: LenderKind,
    /// Unsecured credit to an individual for consumption (个人信用消费贷款).
    pub consumer_credit: bool,
    pub principal: Money,
}

/// The loan (or purchase) the action creates or prices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoanFacts {
    pub purpose: Purpose,
    /// Interest, fees, guarantee and insurance together, as an annual rate in percent by
    /// the IRR method (e.g. `money::apr` on every charge's cash flow).
    pub all_in_apr_percent: Decimal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColendingFacts {
    /// The platform's fraction of the loan's principal (0.3 = 30%).
    pub platform_share: Decimal,
}

/// What the borrower is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisclosureFacts {
    pub fields_shown: Vec<DisclosureField>,
    /// The disclosed APR beside the one Appendix J gives, when an APR is disclosed.
    pub apr: Option<AprDisclosure>,
    /// False when a daily or monthly rate is shown more prominently than the annual rate.
    pub annual_rate_at_least_as_prominent: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AprDisclosure {
    pub disclosed_percent: Decimal,
    /// By Regulation Z Appendix J (`money::apr::annual_percentage_rate`), unrounded.
    pub actual_percent: Decimal,
    /// False for an irregular transaction (multiple advances, irregular periods or
    /// amounts, § 1026.22(a)(3)), which gets the ¼-point tolerance.
    pub regular: bool,
}

/// The lender's own balance sheet, for the leverage caps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LenderFacts {
    pub net_assets: Money,
    /// Bank loans, shareholder loans and other non-standard financing outstanding.
    pub borrowing: Money,
    /// Bonds and asset-backed securities outstanding.
    pub bonds_and_abs: Money,
}
