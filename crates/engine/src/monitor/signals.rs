//! External signals about a customer: stored as a document under the client's id and
//! reported by a `risk.signal_received` event in the same commit, which is how the monitor
//! learns of them.

use super::{invalid, MonitorError, RISK_SIGNAL};
use crate::customers;
use crate::events::event_id;
use crate::revolving::business_day;
use crate::{Engine, EngineError};
use money::{BusinessDate, Currency};
use risk::early_warning::SignalKind;
use serde::{Deserialize, Serialize};
use store::{DocRow, DomainWrite, EventRow};
use uuid::Uuid;

/// Longest free-text detail kept with a signal.
pub const DETAIL_CHARS_MAX: usize = 2000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSignal {
    pub kind: SignalKind,
    pub amount_minor: Option<i64>,
    pub currency: Option<Currency>,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub id: Uuid,
    pub tenant: String,
    pub customer_id: Uuid,
    pub kind: SignalKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub day: BusinessDate,
}

fn check(n: &NewSignal) -> Result<(), MonitorError> {
    match (n.kind, n.amount_minor, n.currency) {
        (SignalKind::MerchantRevenue, Some(a), Some(_)) if a >= 0 => {}
        (SignalKind::MerchantRevenue, Some(_), Some(_)) => {
            return Err(invalid("amount_minor", "must not be negative"))
        }
        (SignalKind::MerchantRevenue, None, _) => {
            return Err(invalid(
                "amount_minor",
                "merchant_revenue carries the revenue in minor units",
            ))
        }
        (SignalKind::MerchantRevenue, Some(_), None) => {
            return Err(invalid("currency", "goes with amount_minor"))
        }
        (_, Some(_), _) => {
            return Err(invalid(
                "amount_minor",
                "only merchant_revenue carries an amount",
            ))
        }
        (_, None, Some(_)) => return Err(invalid("currency", "goes with amount_minor")),
        _ => {}
    }
    if let Some(d) = &n.detail {
        if d.chars().count() > DETAIL_CHARS_MAX {
            return Err(invalid(
                "detail",
                format!("at most {DETAIL_CHARS_MAX} characters"),
            ));
        }
    }
    Ok(())
}

/// Records a signal for `customer` under `id`. The same id with the same fields answers
/// with the stored signal (`true` = replay); with other fields it is refused. An unknown
/// customer is `NotFound` and nothing is stored.
pub async fn post_signal(
    engine: &Engine,
    tenant: &str,
    customer: Uuid,
    id: Uuid,
    n: NewSignal,
) -> Result<(Signal, bool), MonitorError> {
    check(&n)?;
    let doc = customers::customer_doc(engine, tenant, customer)
        .await
        .map_err(|e| match e {
            customers::CustomerError::NotFound => MonitorError::NotFound,
            e => MonitorError::Storage(anyhow::anyhow!("{e}")),
        })?;
    if let Some(s) = stored(engine, id).await? {
        return same_or_conflict(s, customer, &n);
    }
    let day = business_day(engine).await?;
    let s = Signal {
        id,
        tenant: doc.tenant.clone(),
        customer_id: customer,
        kind: n.kind,
        amount_minor: n.amount_minor,
        currency: n.currency,
        detail: n.detail.clone(),
        day,
    };
    let body = serde_json::to_vec(&s).expect("signals serialize");
    let payload = serde_json::json!({
        "signal_id": id,
        "customer_id": customer,
        "kind": s.kind,
        "amount_minor": s.amount_minor,
        "currency": s.currency,
        "detail": s.detail,
        "day": day,
    });
    let writes = vec![
        DomainWrite::Doc {
            row: DocRow {
                kind: RISK_SIGNAL.into(),
                id,
                tenant: s.tenant.clone(),
                parent: Some(customer),
                open: false,
                day: day.to_epoch_days(),
                version: 1,
                body,
            },
            expected_version: None,
        },
        DomainWrite::Event(EventRow {
            id: event_id(id, "signal", 0, 0),
            kind: "risk.signal_received".into(),
            tenant: s.tenant.clone(),
            day: day.to_epoch_days(),
            subject: customer,
            payload: payload.to_string(),
        }),
    ];
    match engine.submit_with(Vec::new(), writes).await {
        Ok(_) => Ok((s, false)),
        // A twin request with this id committed first: answer as its retry.
        Err(EngineError::StaleDoc { .. }) => match stored(engine, id).await? {
            Some(s) => same_or_conflict(s, customer, &n),
            None => Err(MonitorError::Conflict {
                code: "changed_meanwhile",
                message: "retry".into(),
            }),
        },
        Err(e) => Err(e.into()),
    }
}

async fn stored(engine: &Engine, id: Uuid) -> Result<Option<Signal>, MonitorError> {
    let Some(row) = engine.store().doc(id).await? else {
        return Ok(None);
    };
    if row.kind != RISK_SIGNAL {
        return Err(MonitorError::Conflict {
            code: "id_reused",
            message: "this id names another kind of record".into(),
        });
    }
    let s = serde_json::from_slice(&row.body)
        .map_err(|e| anyhow::anyhow!("stored signal {id} does not decode: {e}"))?;
    Ok(Some(s))
}

fn same_or_conflict(
    s: Signal,
    customer: Uuid,
    n: &NewSignal,
) -> Result<(Signal, bool), MonitorError> {
    let same = s.customer_id == customer
        && s.kind == n.kind
        && s.amount_minor == n.amount_minor
        && s.currency == n.currency
        && s.detail == n.detail;
    if same {
        Ok((s, true))
    } else {
        Err(MonitorError::Conflict {
            code: "id_reused",
            message: "this id was already used with different fields".into(),
        })
    }
}
