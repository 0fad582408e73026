//! Customers stopped from new borrowing by an early-warning rule (`halt_new_loans`).
//!
//! A halt is a `risk_halt` document committed with the monitor's state; this process keeps
//! the set in memory so that a purchase checks it without a read. One process writes a
//! store (its writer lock), and the monitor runs in it, so the set cannot miss a halt.

use super::{halt_id, RISK_HALT};
use crate::Engine;
use std::collections::HashSet;
use std::sync::RwLock;
use store::DocFilter;
use tokio::sync::OnceCell;
use uuid::Uuid;

#[derive(Default)]
pub struct Halts {
    loaded: OnceCell<()>,
    set: RwLock<HashSet<Uuid>>,
}

/// Why a halted customer's request is refused.
pub fn refusal(customer: Uuid) -> String {
    format!("customer {customer} is halted by an early-warning rule: no new loan, line or purchase")
}

impl Halts {
    /// Loads the stored halts once per process.
    pub async fn ensure_loaded(&self, engine: &Engine) -> anyhow::Result<()> {
        self.loaded
            .get_or_try_init(|| async {
                let mut after = None;
                loop {
                    let rows = engine
                        .store()
                        .docs_page(DocFilter {
                            kind: RISK_HALT.into(),
                            after,
                            limit: 1000,
                            ..DocFilter::default()
                        })
                        .await?;
                    {
                        let mut set = self.set.write().expect("halts lock");
                        set.extend(rows.iter().filter_map(|r| r.parent));
                    }
                    let Some(last) = rows.last() else { break };
                    after = Some(last.id);
                }
                anyhow::Ok(())
            })
            .await?;
        Ok(())
    }

    /// Whether `customer` is halted (after [`Halts::ensure_loaded`]).
    pub fn is_halted(&self, customer: Uuid) -> bool {
        self.set.read().expect("halts lock").contains(&customer)
    }

    pub(super) fn insert(&self, customer: Uuid) {
        self.set.write().expect("halts lock").insert(customer);
    }
}

/// Whether the customer named by `borrower` may not borrow now.
pub async fn halted(engine: &Engine, borrower: Uuid) -> anyhow::Result<bool> {
    engine.risk_halts().ensure_loaded(engine).await?;
    Ok(engine.risk_halts().is_halted(borrower))
}

/// The halt document of a customer (its presence is the halt).
pub(super) fn halt_row(customer: Uuid, tenant: &str, day: i32, body: Vec<u8>) -> store::DocRow {
    store::DocRow {
        kind: RISK_HALT.into(),
        id: halt_id(customer),
        tenant: tenant.into(),
        parent: Some(customer),
        open: true,
        day,
        version: 1,
        body,
    }
}
