//! The controls' documents: what a halt covers, who threw and lifted it, the read-only
//! switch, a partner's outage.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Document kind of a halt (one document per halt; lifting writes its second version).
pub const HALT: &str = "halt";
/// Document kind of the read-only switch (one document).
pub const MODE: &str = "control_mode";
/// Document kind of a partner's outage (one document per partner).
pub const OUTAGE: &str = "funder_outage";

const NS: Uuid = Uuid::from_u128(0x2d8b_61f4_0c3a_4a5e_b7d9_13e2_84c0_5f6a);

pub(crate) fn read_only_doc_id() -> Uuid {
    Uuid::new_v5(&NS, b"read_only")
}

pub(crate) fn outage_doc_id(partner_id: Uuid) -> Uuid {
    Uuid::new_v5(&NS, format!("outage:{partner_id}").as_bytes())
}

/// What a halt stops. Channels are a purchase's merchant; term loans have no channel of
/// their own, so a loan is reached by its product or its funders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scope {
    Everywhere,
    /// Term loans of one loan product.
    Product {
        product_id: Uuid,
    },
    /// All revolving credit: line openings and purchases.
    Revolving,
    /// Purchases at one merchant.
    Merchant {
        merchant_id: Uuid,
    },
    /// Term loans whose product's co-lending plan names this funding partner.
    Funder {
        partner_id: Uuid,
    },
}

impl Scope {
    pub fn describe(&self) -> String {
        match self {
            Scope::Everywhere => "everywhere".into(),
            Scope::Product { product_id } => format!("product {product_id}"),
            Scope::Revolving => "revolving credit".into(),
            Scope::Merchant { merchant_id } => format!("merchant {merchant_id}"),
            Scope::Funder { partner_id } => format!("funder {partner_id}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Loan applications, disbursements, one-step originations and line openings.
    Originations,
    /// Purchase authorizations and sales.
    Purchases,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::Originations => "originations",
            Operation::Purchases => "purchases",
        }
    }
}

/// A halt as requested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHalt {
    pub id: Uuid,
    pub tenant: String,
    pub scope: Scope,
    pub operations: Vec<Operation>,
    pub reason: String,
    /// The API key that asked.
    pub by: Uuid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lift {
    pub by: Uuid,
    pub at_ms: i64,
    pub reason: String,
}

/// A halt as stored: who threw it, when and why, and its lift once lifted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Halt {
    pub id: Uuid,
    /// The tenant it covers (`*`: every tenant).
    pub tenant: String,
    pub scope: Scope,
    pub operations: Vec<Operation>,
    pub reason: String,
    pub by: Uuid,
    pub at_ms: i64,
    pub lifted: Option<Lift>,
}

impl Halt {
    pub(crate) fn applies_to(&self, tenant: &str, op: Operation) -> bool {
        self.lifted.is_none()
            && self.operations.contains(&op)
            && (self.tenant == "*" || self.tenant == tenant)
    }
}

/// The read-only switch as last set (off, never set, by default).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOnly {
    pub on: bool,
    pub reason: String,
    pub by: Option<Uuid>,
    pub at_ms: i64,
}

/// What a partner's agreement says happens to its share while it cannot fund.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutageAction {
    /// Its share goes to the plan's other funders, in proportion to their shares, within
    /// each one's quotas; the platform takes what they cannot.
    Reroute,
    /// Loans whose plan names it are refused (`funder_outage`).
    Pause,
}

/// A partner's outage record; `action` None is the end of an outage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    pub partner_id: Uuid,
    pub tenant: String,
    pub action: Option<OutageAction>,
    pub reason: String,
    pub by: Uuid,
    pub at_ms: i64,
}

impl Outage {
    pub fn active(&self) -> bool {
        self.action.is_some()
    }
}

/// The most bytes of a reason: enough for a sentence and a ticket reference.
pub const REASON_BYTES_MAX: usize = 500;

/// A reason's problem, if any (`field` names it).
pub(crate) fn check_reason(reason: &str) -> Result<(), String> {
    if reason.trim().is_empty() {
        return Err("required: say why".into());
    }
    if reason.len() > REASON_BYTES_MAX {
        return Err(format!("at most {REASON_BYTES_MAX} bytes"));
    }
    if reason.chars().any(char::is_control) {
        return Err("no control characters".into());
    }
    Ok(())
}
