//! Co-lending (联合贷款): several funders per loan, exact splits, per-funder positions and
//! credit enhancement. Pure: no I/O, no clock, no async; dates and usage are arguments.
//!
//! - [`partner`]: funding partners and their validation, eligibility of a request.
//! - [`plan`]: fixed plans (shares summing to exactly 1, the platform at or above its
//!   minimum) and [`routing`] policies that choose funders per loan, with fallback.
//! - [`split`]: largest-remainder splits; ties go to the earlier funder in the plan.
//! - [`position`] and [`event`]: each holder's balances of a loan, moved by loan-level
//!   events; for every balance the holders' sum equals the loan's total (asserted).
//! - [`guarantee`]: guarantee claims (代偿) with subrogation, and first-loss deposits.
//!
//! Conventions and money flows: docs/co-lending.md.

pub mod event;
pub mod guarantee;
pub mod partner;
pub mod plan;
pub mod position;
pub mod routing;
pub mod split;

pub use event::{apply_event, Charge, EventError, LoanEvent, Outcome, Repayment};
pub use guarantee::{
    claim_guarantee, draw_first_loss, guarantee_fee_minor, ClaimId, ClaimOutcome, ClaimPayment,
    FirstLossDeposit, FirstLossOutcome, GuaranteeClaim, GuaranteeError, GuaranteeTerms,
};
pub use partner::{
    ApprovalMode, Eligibility, FundingPartner, Ineligible, LoanRequest, PartnerError, PartnerId,
    PartnerKind,
};
pub use plan::{
    BookUsage, Decline, DeclineReason, FundingPlan, PartnerUsage, PlanError, PlanRules, Share,
    PLATFORM_SHARE_MIN_DEFAULT,
};
pub use position::{
    Agreement, Balance, Balances, Change, ChargeRule, Component, FunderPosition, FunderTerms,
    GuarantorPosition, Holder, LoanFunding,
};
pub use routing::{route, Candidate, RouteOrder, RoutingPolicy};
pub use split::{reduce_toward_shares, split_by_shares, split_by_weights};
