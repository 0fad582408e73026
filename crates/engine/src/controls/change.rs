//! Changing the controls: each change is checked, then made under the gate's write side,
//! persisted with its event through the single writer, and only then put in force in
//! memory and answered.

use super::model::{
    check_reason, outage_doc_id, read_only_doc_id, Halt, Lift, NewHalt, Operation, Outage,
    OutageAction, ReadOnly, Scope, HALT, MODE, OUTAGE,
};
use crate::{Engine, EngineError};
use store::{DocEvent, DocFilter, DocRow, DomainWrite};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request is wrong on its face; `field` is the request field at fault.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

fn invalid(field: &str, message: impl Into<String>) -> ControlError {
    ControlError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn conflict(code: &'static str, message: impl Into<String>) -> ControlError {
    ControlError::Conflict {
        code,
        message: message.into(),
    }
}

fn sees(tenant: &str, of: &str) -> bool {
    tenant == "*" || tenant == of
}

fn day(engine: &Engine) -> i32 {
    engine.loan_day().open_day().unwrap_or(0)
}

fn doc_write(
    kind: &str,
    id: Uuid,
    tenant: &str,
    open: bool,
    day: i32,
    body: Vec<u8>,
    read: Option<i64>,
) -> DomainWrite {
    DomainWrite::Doc {
        row: DocRow {
            kind: kind.into(),
            id,
            tenant: tenant.into(),
            parent: None,
            open,
            day,
            version: read.map_or(1, |v| v + 1),
            body,
        },
        expected_version: read,
    }
}

/// Whether the scope's target exists for `tenant`; `Err` names the field when not.
async fn check_target(engine: &Engine, tenant: &str, scope: &Scope) -> Result<(), ControlError> {
    let store = engine.store();
    let (field, what, found) = match scope {
        Scope::Everywhere | Scope::Revolving => return Ok(()),
        Scope::Product { product_id } => (
            "scope.product_id",
            "loan product",
            store
                .product(*product_id, None)
                .await?
                .is_some_and(|p| sees(tenant, &p.tenant)),
        ),
        Scope::Merchant { merchant_id } => (
            "scope.merchant_id",
            "merchant",
            store
                .doc(*merchant_id)
                .await?
                .is_some_and(|d| d.kind == "merchant" && sees(tenant, &d.tenant)),
        ),
        Scope::Funder { partner_id } => (
            "scope.partner_id",
            "funding partner",
            store.doc(*partner_id).await?.is_some_and(|d| {
                d.kind == crate::colending::docs::PARTNER && sees(tenant, &d.tenant)
            }),
        ),
    };
    if found {
        Ok(())
    } else {
        Err(invalid(field, format!("no such {what}")))
    }
}

/// Throws a halt, or answers with the stored one when the same id comes again with the
/// same fields (`true` = replay). In force for every request after this returns.
pub async fn halt(engine: &Engine, n: NewHalt) -> Result<(Halt, bool), ControlError> {
    check_reason(&n.reason).map_err(|m| invalid("reason", m))?;
    let mut operations = n.operations.clone();
    operations.sort();
    operations.dedup();
    if operations.is_empty() {
        return Err(invalid(
            "operations",
            "name originations, purchases or both",
        ));
    }
    let only = match n.scope {
        Scope::Product { .. } | Scope::Funder { .. } => Some(Operation::Originations),
        Scope::Merchant { .. } => Some(Operation::Purchases),
        Scope::Everywhere | Scope::Revolving => None,
    };
    if let Some(op) = only {
        if operations != [op] {
            return Err(invalid(
                "operations",
                format!("a halt of {} stops {} only", n.scope.describe(), op.name()),
            ));
        }
    }
    check_target(engine, &n.tenant, &n.scope).await?;
    let _change = engine.controls.gate.write().await;
    if let Some(row) = engine.store().doc(n.id).await? {
        let stored: Option<Halt> = (row.kind == HALT && sees(&n.tenant, &row.tenant))
            .then(|| serde_json::from_slice(&row.body))
            .transpose()
            .map_err(|e| anyhow::anyhow!("stored halt {}: {e}", n.id))?;
        return match stored {
            Some(h) if h.scope == n.scope && h.operations == operations && h.reason == n.reason => {
                Ok((h, true))
            }
            _ => Err(conflict(
                "id_reused",
                "this id was already used with different fields",
            )),
        };
    }
    let halt = Halt {
        id: n.id,
        tenant: n.tenant,
        scope: n.scope,
        operations,
        reason: n.reason,
        by: n.by,
        at_ms: engine.now_ms(),
        lifted: None,
    };
    let body = serde_json::to_vec(&halt).expect("halts serialize");
    let write = doc_write(HALT, halt.id, &halt.tenant, false, day(engine), body, None);
    submit(engine, vec![write]).await?;
    engine.controls.write().halts.push(halt.clone());
    Ok((halt, false))
}

async fn submit(engine: &Engine, writes: Vec<DomainWrite>) -> Result<(), ControlError> {
    engine
        .submit_with(Vec::new(), writes)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            EngineError::StaleDoc { .. } => conflict(
                "changed_meanwhile",
                "another request changed this meanwhile; read it and retry",
            ),
            other => other.into(),
        })
}

/// A halt of `tenant` (any tenant's for `*`).
pub async fn stored_halt(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
) -> Result<(Halt, i64), ControlError> {
    let row = engine
        .store()
        .doc(id)
        .await?
        .filter(|r| r.kind == HALT && sees(tenant, &r.tenant))
        .ok_or(ControlError::NotFound("halt"))?;
    let h: Halt =
        serde_json::from_slice(&row.body).map_err(|e| anyhow::anyhow!("stored halt {id}: {e}"))?;
    Ok((h, row.version))
}

/// Lifts an active halt; from this call's answer on, requests it stopped go through.
pub async fn lift(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
    by: Uuid,
    reason: String,
) -> Result<Halt, ControlError> {
    check_reason(&reason).map_err(|m| invalid("reason", m))?;
    stored_halt(engine, tenant, id).await?;
    let _change = engine.controls.gate.write().await;
    let (mut halt, version) = stored_halt(engine, tenant, id).await?;
    if halt.lifted.is_some() {
        return Err(conflict(
            "not_active",
            format!("halt {id} is already lifted"),
        ));
    }
    halt.lifted = Some(Lift {
        by,
        at_ms: engine.now_ms(),
        reason,
    });
    let body = serde_json::to_vec(&halt).expect("halts serialize");
    let write = doc_write(
        HALT,
        id,
        &halt.tenant,
        false,
        day(engine),
        body,
        Some(version),
    );
    submit(engine, vec![write]).await?;
    engine.controls.write().halts.retain(|h| h.id != id);
    Ok(halt)
}

pub struct HaltPage {
    pub halts: Vec<Halt>,
    /// The last id read, when the page was full.
    pub next_after: Option<Uuid>,
}

/// Halts in id order after `after`, active and lifted (`active` narrows), of `tenant`
/// (every tenant's for `*`).
pub async fn halts_page(
    engine: &Engine,
    tenant: &str,
    active: Option<bool>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<HaltPage, ControlError> {
    let rows = engine
        .store()
        .docs_page(DocFilter {
            kind: HALT.into(),
            tenant: (tenant != "*").then(|| tenant.to_string()),
            parent: None,
            id_from: None,
            id_to: None,
            after,
            limit,
        })
        .await?;
    let next_after = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let mut halts = Vec::with_capacity(rows.len());
    for row in rows {
        let h: Halt = serde_json::from_slice(&row.body)
            .map_err(|e| anyhow::anyhow!("stored halt {}: {e}", row.id))?;
        if active.is_none_or(|a| a == h.lifted.is_none()) {
            halts.push(h);
        }
    }
    Ok(HaltPage { halts, next_after })
}

/// Turns the read-only mode on or off (audited as an event of its document).
pub async fn set_read_only(
    engine: &Engine,
    on: bool,
    reason: String,
    by: Uuid,
) -> Result<ReadOnly, ControlError> {
    check_reason(&reason).map_err(|m| invalid("reason", m))?;
    let _change = engine.controls.gate.write().await;
    let read = engine.controls.read().read_only_version;
    let mode = ReadOnly {
        on,
        reason,
        by: Some(by),
        at_ms: engine.now_ms(),
    };
    let body = serde_json::to_vec(&mode).expect("modes serialize");
    let id = read_only_doc_id();
    let day = day(engine);
    let event = DomainWrite::DocEvent(DocEvent {
        doc_id: id,
        seq: read.unwrap_or(0) as i32,
        day,
        kind: "read_only_set".into(),
        body: body.clone(),
    });
    submit(
        engine,
        vec![doc_write(MODE, id, "*", false, day, body, read), event],
    )
    .await?;
    let mut state = engine.controls.write();
    state.read_only = mode.clone();
    state.read_only_version = Some(read.unwrap_or(0) + 1);
    engine
        .controls
        .read_only
        .store(on, std::sync::atomic::Ordering::Release);
    Ok(mode)
}

/// Starts (`action` Some) or ends (None) a funding partner's outage (audited as an event of
/// its outage document).
pub async fn set_outage(
    engine: &Engine,
    tenant: &str,
    partner_id: Uuid,
    action: Option<OutageAction>,
    reason: String,
    by: Uuid,
) -> Result<Outage, ControlError> {
    check_reason(&reason).map_err(|m| invalid("reason", m))?;
    let partner = engine
        .store()
        .doc(partner_id)
        .await?
        .filter(|d| d.kind == crate::colending::docs::PARTNER && sees(tenant, &d.tenant))
        .ok_or_else(|| invalid("partner_id", "no such funding partner"))?;
    let doc: crate::colending::PartnerDoc = serde_json::from_slice(&partner.body)
        .map_err(|e| anyhow::anyhow!("stored partner {partner_id}: {e}"))?;
    if doc.spec.kind == crate::colending::Kind::Platform {
        return Err(invalid(
            "partner_id",
            "the platform's own share has no outage: halt its originations instead",
        ));
    }
    let _change = engine.controls.gate.write().await;
    let read = engine
        .controls
        .read()
        .outages
        .get(&partner_id)
        .map(|(_, v)| *v);
    let outage = Outage {
        partner_id,
        tenant: partner.tenant.clone(),
        action,
        reason,
        by,
        at_ms: engine.now_ms(),
    };
    let body = serde_json::to_vec(&outage).expect("outages serialize");
    let id = outage_doc_id(partner_id);
    let day = day(engine);
    let event = DomainWrite::DocEvent(DocEvent {
        doc_id: id,
        seq: read.unwrap_or(0) as i32,
        day,
        kind: "outage_set".into(),
        body: body.clone(),
    });
    let write = doc_write(OUTAGE, id, &partner.tenant, false, day, body, read);
    submit(engine, vec![write, event]).await?;
    engine
        .controls
        .write()
        .outages
        .insert(partner_id, (outage.clone(), read.unwrap_or(0) + 1));
    Ok(outage)
}
