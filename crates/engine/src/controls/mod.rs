//! Emergency controls: halts of new originations and purchases by scope (the kill switch),
//! the platform's read-only mode, and funding partners' outages.
//!
//! Every control is a document (`halt`, `control_mode`, `funder_outage`) written through
//! the single writer, so it is persisted with its domain event in one transaction and
//! reloaded at start. What is in force is also kept in this process: a change takes the
//! gate's write side, persists, and updates memory before it answers; originations and
//! purchases hold the gate's read side from their check to their commit. So a request
//! checked before a halt commits before the halt does, and every request after the halt's
//! answer sees it (docs/operations.md, "Emergency controls").
//!
//! - `model`: scopes, operations, halts, outages and their validation.
//! - `change`: throwing and lifting halts, the read-only switch, outages.

mod change;
mod model;

pub use change::{
    halt, halts_page, lift, set_outage, set_read_only, stored_halt, ControlError, HaltPage,
};
pub use model::{
    Halt, Lift, NewHalt, Operation, Outage, OutageAction, ReadOnly, Scope, HALT, MODE, OUTAGE,
};

use crate::{Engine, EngineError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;
use store::{DocFilter, Store};
use uuid::Uuid;

/// What is in force, as this process knows it.
#[derive(Default)]
pub(crate) struct State {
    /// Active halts only.
    pub halts: Vec<Halt>,
    pub read_only: ReadOnly,
    pub read_only_version: Option<i64>,
    /// Every partner's last outage record (active or ended), with its document's version.
    pub outages: HashMap<Uuid, (Outage, i64)>,
}

/// The controls of one engine.
#[derive(Default)]
pub struct Controls {
    /// Orders control changes against the requests they govern (see the module's
    /// documentation); holds no data.
    gate: tokio::sync::RwLock<()>,
    /// Read without the gate where order does not matter (listing, outages at funding).
    state: RwLock<State>,
    /// Mirrors `state.read_only` for the check every request makes.
    read_only: AtomicBool,
}

/// What a request about to originate or purchase is, for matching it against halts.
#[derive(Clone, Copy, Debug)]
pub enum Admission<'a> {
    /// A term loan's application, disbursement or one-step origination.
    Loan { tenant: &'a str, product_id: Uuid },
    /// A credit line's opening.
    Line { tenant: &'a str },
    /// A purchase's authorization or sale at a merchant.
    Purchase { tenant: &'a str, merchant_id: Uuid },
}

/// Held from a request's check until its commit has answered.
pub type Admitted<'a> = tokio::sync::RwLockReadGuard<'a, ()>;

impl Controls {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the platform answers mutating requests with `read_only`.
    pub fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Acquire)
    }

    /// The read-only switch as last set.
    pub fn read_only(&self) -> ReadOnly {
        self.read().read_only.clone()
    }

    /// Active halts, oldest first.
    pub fn active_halts(&self) -> Vec<Halt> {
        let mut halts = self.read().halts.clone();
        halts.sort_by_key(|h| (h.at_ms, h.id));
        halts
    }

    /// Partners now in outage.
    pub fn outages(&self) -> Vec<Outage> {
        let mut list: Vec<Outage> = self
            .read()
            .outages
            .values()
            .filter(|(o, _)| o.active())
            .map(|(o, _)| o.clone())
            .collect();
        list.sort_by_key(|o| o.partner_id);
        list
    }

    /// The outage of `partner_id`, if it is in one.
    pub fn outage_of(&self, partner_id: Uuid) -> Option<Outage> {
        self.read()
            .outages
            .get(&partner_id)
            .map(|(o, _)| o.clone())
            .filter(Outage::active)
    }
}

/// Reads every control in force from `store` (at start).
pub(crate) async fn load(store: &Store) -> anyhow::Result<Controls> {
    let mut state = State::default();
    for row in all_docs(store, HALT).await? {
        let h: Halt = serde_json::from_slice(&row.body)
            .map_err(|e| anyhow::anyhow!("stored halt {}: {e}", row.id))?;
        if h.lifted.is_none() {
            state.halts.push(h);
        }
    }
    if let Some(row) = store.doc(model::read_only_doc_id()).await? {
        state.read_only = serde_json::from_slice(&row.body)
            .map_err(|e| anyhow::anyhow!("stored read-only switch: {e}"))?;
        state.read_only_version = Some(row.version);
    }
    for row in all_docs(store, OUTAGE).await? {
        let o: Outage = serde_json::from_slice(&row.body)
            .map_err(|e| anyhow::anyhow!("stored outage {}: {e}", row.id))?;
        state.outages.insert(o.partner_id, (o, row.version));
    }
    let on = state.read_only.on;
    Ok(Controls {
        gate: Default::default(),
        state: RwLock::new(state),
        read_only: AtomicBool::new(on),
    })
}

async fn all_docs(store: &Store, kind: &str) -> anyhow::Result<Vec<store::DocRow>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .docs_page(DocFilter {
                kind: kind.into(),
                tenant: None,
                parent: None,
                id_from: None,
                id_to: None,
                after,
                limit: 1000,
            })
            .await?;
        let full = page.len() == 1000;
        after = page.last().map(|r| r.id);
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

impl Engine {
    pub fn controls(&self) -> &Controls {
        &self.controls
    }

    /// Checks a new origination or purchase against the halts in force, and holds the gate
    /// until the returned guard drops (after the request's commit). Call it before any
    /// other lock a request takes (the loan day, a line's turn), or a halt waiting for the
    /// gate could wait for a request that waits for it.
    pub async fn admit(&self, what: Admission<'_>) -> Result<Admitted<'_>, EngineError> {
        let guard = self.controls.gate.read().await;
        let (tenant, op) = match what {
            Admission::Loan { tenant, .. } | Admission::Line { tenant } => {
                (tenant, Operation::Originations)
            }
            Admission::Purchase { tenant, .. } => (tenant, Operation::Purchases),
        };
        let candidates: Vec<Halt> = self
            .controls
            .read()
            .halts
            .iter()
            .filter(|h| h.applies_to(tenant, op))
            .cloned()
            .collect();
        let mut plan_funders: Option<Vec<Uuid>> = None;
        for h in candidates {
            let hit = match (&h.scope, what) {
                (Scope::Everywhere, _) => true,
                (Scope::Product { product_id }, Admission::Loan { product_id: p, .. }) => {
                    *product_id == p
                }
                (Scope::Revolving, Admission::Line { .. } | Admission::Purchase { .. }) => true,
                (Scope::Merchant { merchant_id }, Admission::Purchase { merchant_id: m, .. }) => {
                    *merchant_id == m
                }
                (Scope::Funder { partner_id }, Admission::Loan { product_id, .. }) => {
                    if plan_funders.is_none() {
                        plan_funders = Some(funders_of_product(self, product_id).await?);
                    }
                    plan_funders
                        .as_ref()
                        .is_some_and(|f| f.contains(partner_id))
                }
                _ => false,
            };
            if hit {
                return Err(EngineError::Halted {
                    halt_id: h.id,
                    reason: h.reason.clone(),
                });
            }
        }
        Ok(guard)
    }
}

impl Engine {
    /// [`Engine::admit`] for a disbursement of loan `id` (None when there is no such loan:
    /// the command finds that out itself).
    pub(crate) async fn admit_loan(&self, id: Uuid) -> Result<Option<Admitted<'_>>, EngineError> {
        let row = self
            .store()
            .loan(id)
            .await
            .map_err(|e| EngineError::Storage(format!("read loan {id}: {e:#}")))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let what = Admission::Loan {
            tenant: &row.tenant,
            product_id: row.product_id,
        };
        Ok(Some(self.admit(what).await?))
    }
}

/// The funders of a product's co-lending plan (none for a product without one).
async fn funders_of_product(engine: &Engine, product_id: Uuid) -> Result<Vec<Uuid>, EngineError> {
    let id = crate::colending::docs::plan_doc_id(product_id);
    let row = engine
        .store()
        .doc(id)
        .await
        .map_err(|e| EngineError::Storage(format!("read a funding plan: {e:#}")))?;
    let Some(row) = row.filter(|r| r.kind == crate::colending::docs::PLAN) else {
        return Ok(Vec::new());
    };
    let plan: crate::colending::PlanDoc = serde_json::from_slice(&row.body)
        .map_err(|e| EngineError::Storage(format!("stored plan {id}: {e}")))?;
    Ok(plan.spec.partner_ids())
}
