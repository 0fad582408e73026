//! Emergency controls on the wire: halts (the kill switch), the read-only switch and
//! funding partners' outages.

use engine::controls::{Halt, Operation, Outage, OutageAction, ReadOnly, Scope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// What a halt stops: new originations and purchases everywhere, of one loan product, of
/// all revolving credit (line openings and purchases), at one merchant (a purchase's
/// channel), or of loans whose product's co-lending plan names one funding partner.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HaltScopeWire {
    Everywhere,
    Product { product_id: Uuid },
    Revolving,
    Merchant { merchant_id: Uuid },
    Funder { partner_id: Uuid },
}

impl HaltScopeWire {
    pub fn to_domain(&self) -> Scope {
        match *self {
            HaltScopeWire::Everywhere => Scope::Everywhere,
            HaltScopeWire::Product { product_id } => Scope::Product { product_id },
            HaltScopeWire::Revolving => Scope::Revolving,
            HaltScopeWire::Merchant { merchant_id } => Scope::Merchant { merchant_id },
            HaltScopeWire::Funder { partner_id } => Scope::Funder { partner_id },
        }
    }

    pub fn from_domain(s: &Scope) -> HaltScopeWire {
        match *s {
            Scope::Everywhere => HaltScopeWire::Everywhere,
            Scope::Product { product_id } => HaltScopeWire::Product { product_id },
            Scope::Revolving => HaltScopeWire::Revolving,
            Scope::Merchant { merchant_id } => HaltScopeWire::Merchant { merchant_id },
            Scope::Funder { partner_id } => HaltScopeWire::Funder { partner_id },
        }
    }

    /// The operations a halt of this scope stops when the request names none.
    pub fn default_operations(&self) -> Vec<Operation> {
        match self {
            HaltScopeWire::Everywhere | HaltScopeWire::Revolving => {
                vec![Operation::Originations, Operation::Purchases]
            }
            HaltScopeWire::Product { .. } | HaltScopeWire::Funder { .. } => {
                vec![Operation::Originations]
            }
            HaltScopeWire::Merchant { .. } => vec![Operation::Purchases],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperationWire {
    /// Loan applications, disbursements and one-step originations; line openings.
    Originations,
    /// Purchase authorizations and sales.
    Purchases,
}

impl OperationWire {
    fn to_domain(self) -> Operation {
        match self {
            OperationWire::Originations => Operation::Originations,
            OperationWire::Purchases => Operation::Purchases,
        }
    }

    fn from_domain(o: Operation) -> OperationWire {
        match o {
            Operation::Originations => OperationWire::Originations,
            Operation::Purchases => OperationWire::Purchases,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HaltRequest {
    /// Client-chosen halt id; defaults to the Idempotency-Key.
    pub id: Option<Uuid>,
    pub scope: HaltScopeWire,
    /// What it stops; defaults to every operation the scope covers.
    pub operations: Option<Vec<OperationWire>>,
    /// Why (required, 1–500 bytes): kept with the halt and its event.
    pub reason: String,
}

impl HaltRequest {
    pub fn operations(&self) -> Vec<Operation> {
        match &self.operations {
            Some(ops) => ops.iter().map(|o| o.to_domain()).collect(),
            None => self.scope.default_operations(),
        }
    }
}

/// A lift, or a switch of the read-only mode: the reason is required.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftRequest {
    /// Why (required, 1–500 bytes).
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HaltResponse {
    pub id: Uuid,
    /// The tenant it covers (`*`: every tenant).
    pub tenant: String,
    pub scope: HaltScopeWire,
    pub operations: Vec<OperationWire>,
    /// `active` or `lifted`.
    pub status: String,
    pub reason: String,
    /// The API key that threw it.
    pub halted_by: Uuid,
    pub halted_at_ms: i64,
    pub lifted_by: Option<Uuid>,
    pub lifted_at_ms: Option<i64>,
    pub lift_reason: Option<String>,
}

impl From<&Halt> for HaltResponse {
    fn from(h: &Halt) -> HaltResponse {
        HaltResponse {
            id: h.id,
            tenant: h.tenant.clone(),
            scope: HaltScopeWire::from_domain(&h.scope),
            operations: h
                .operations
                .iter()
                .map(|o| OperationWire::from_domain(*o))
                .collect(),
            status: if h.lifted.is_some() {
                "lifted"
            } else {
                "active"
            }
            .into(),
            reason: h.reason.clone(),
            halted_by: h.by,
            halted_at_ms: h.at_ms,
            lifted_by: h.lifted.as_ref().map(|l| l.by),
            lifted_at_ms: h.lifted.as_ref().map(|l| l.at_ms),
            lift_reason: h.lifted.as_ref().map(|l| l.reason.clone()),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HaltPage {
    pub items: Vec<HaltResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadOnlyRequest {
    /// `true` turns the read-only mode on: every mutating route answers 503 `read_only`.
    pub on: bool,
    /// Why (required, 1–500 bytes).
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadOnlyResponse {
    pub on: bool,
    pub reason: String,
    /// The API key that last switched it (absent if never switched).
    pub changed_by: Option<Uuid>,
    pub changed_at_ms: i64,
}

impl From<&ReadOnly> for ReadOnlyResponse {
    fn from(r: &ReadOnly) -> ReadOnlyResponse {
        ReadOnlyResponse {
            on: r.on,
            reason: r.reason.clone(),
            changed_by: r.by,
            changed_at_ms: r.at_ms,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutageActionWire {
    /// The partner's share goes to the plan's other funders (the platform takes what
    /// they cannot).
    Reroute,
    /// Loans whose plan names the partner are refused (409 `funder_outage`).
    Pause,
    /// The outage is over.
    End,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutageRequest {
    pub partner_id: Uuid,
    /// What the partner's agreement says happens during the outage, or `end`.
    pub action: OutageActionWire,
    /// Why (required, 1–500 bytes).
    pub reason: String,
}

impl OutageRequest {
    pub fn action(&self) -> Option<OutageAction> {
        match self.action {
            OutageActionWire::Reroute => Some(OutageAction::Reroute),
            OutageActionWire::Pause => Some(OutageAction::Pause),
            OutageActionWire::End => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutageResponse {
    pub partner_id: Uuid,
    /// `reroute`, `pause`, or `end` once over.
    pub action: OutageActionWire,
    pub reason: String,
    pub changed_by: Uuid,
    pub changed_at_ms: i64,
}

impl From<&Outage> for OutageResponse {
    fn from(o: &Outage) -> OutageResponse {
        OutageResponse {
            partner_id: o.partner_id,
            action: match o.action {
                Some(OutageAction::Reroute) => OutageActionWire::Reroute,
                Some(OutageAction::Pause) => OutageActionWire::Pause,
                None => OutageActionWire::End,
            },
            reason: o.reason.clone(),
            changed_by: o.by,
            changed_at_ms: o.at_ms,
        }
    }
}

/// Partners in an outage now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutageList {
    pub items: Vec<OutageResponse>,
}
