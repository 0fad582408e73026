//! Co-lending use cases: funding partners and funding plans as versioned documents, and
//! each co-lent term loan's per-funder positions, kept in the loan's own submission (same
//! transaction, same idempotency key) with their bookings in per-funder control accounts.
//!
//! - `docs`: the documents and their conversion to `colending` types.
//! - `partners`: partners (the platform's own created implicitly) and plans.
//! - `books`: a loan's journal → `colending` events → positions and control-account entries.
//! - `loan_hook`: what a loan command adds to its submission (called from `loans.rs`).
//! - `check`: `ledger verify`'s comparison of control accounts with positions.
//! - `first_loss`: first-loss deposits and their draws at close of business.
//!
//! Money flows and T-accounts: docs/co-lending.md.

pub mod approval;
pub mod books;
pub(crate) mod check;
pub(crate) mod cob;
pub mod docs;
mod facts;
pub mod first_loss;
pub(crate) mod loan_hook;
pub(crate) mod moves;
mod partners;
pub mod recon;
pub(crate) mod reserve;

pub use check::check_positions;
pub use docs::{
    claim_id, guarantor_holder, platform_partner_id, ApprovalDoc, CandidateDoc, ChargeRuleDoc,
    ClaimDoc, DrawDoc, EligibilityDoc, FirstLossRef, FunderDoc, GuaranteeDoc, GuarantorDoc, Kind,
    PartnerDoc, PartnerSpec, PlanDoc, PlanSpec, PositionsDoc, RouteOrderDoc, RoutingDoc, ShareDoc,
    Versioned, TRIGGER_DPD_MAX,
};
pub use first_loss::{create_deposit, deposit, list_deposits, DepositDoc, DepositSpec};
pub use partners::{
    change_partner, create_partner, list_partners, list_positions, loan_funding, partner, plan,
    set_plan, PartnerPage,
};

use crate::EngineError;
use uuid::Uuid;

/// The most funders one plan may name: a limit on what one loan's bookings touch (each
/// holder books in up to 8 accounts; entries carry 8 holders each).
pub const FUNDERS_MAX: usize = 16;

/// One funder's reason for not funding a loan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunderReason {
    pub partner_id: Uuid,
    /// Stable: unknown_partner, ineligible_<rule>, quota, daily_quota, concentration,
    /// declined, callback_timeout, callback_malformed, callback_bad_signature,
    /// callback_status, callback_unreachable, incomplete.
    pub code: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ColendingError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Every problem with the request, each naming its field.
    #[error("{}", describe(.errors))]
    Invalid { errors: Vec<(String, String)> },
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String },
    /// The loan's funding was not approved; nothing was booked.
    #[error("the loan cannot be funded: {}", reasons_text(.reasons))]
    Declined { reasons: Vec<FunderReason> },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

impl ColendingError {
    pub fn invalid(field: &str, message: impl Into<String>) -> ColendingError {
        ColendingError::Invalid {
            errors: vec![(field.to_string(), message.into())],
        }
    }

    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> ColendingError {
        ColendingError::Conflict {
            code,
            message: message.into(),
        }
    }
}

fn describe(errors: &[(String, String)]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|(field, message)| {
            if message.starts_with(field.as_str()) {
                message.clone()
            } else {
                format!("{field}: {message}")
            }
        })
        .collect();
    parts.join("; ")
}

fn reasons_text(reasons: &[FunderReason]) -> String {
    let parts: Vec<String> = reasons
        .iter()
        .map(|r| format!("{}: {}", r.partner_id, r.reason))
        .collect();
    parts.join("; ")
}
