//! Errors, the JSON documents (borrowers, merchants, lines, purchases) and their writes.

use crate::{Engine, EngineError};
use money::{BusinessDate, Currency, Decimal};
use revolving::{LimitRules, Line, LineEvent, LineStatus};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use store::{DocEvent, DocRow, DomainWrite};
use uuid::Uuid;

pub(super) const NS: Uuid = Uuid::from_u128(0x3a8e_2c41_7d0b_4f6e_9b15_c2d7_0e84_a619);
pub const BORROWER: &str = "borrower";
pub const MERCHANT: &str = "merchant";
pub const LINE: &str = "line";
pub const PURCHASE: &str = "purchase";
/// A line change as requested, under its Idempotency-Key, so a retry is answered, not
/// applied again.
pub const LINE_CHANGE: &str = "line_change";
pub(super) const STALE_RETRIES_MAX: usize = 16;
/// An authorization not captured within this long is released by the ledger.
pub const AUTHORIZATION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum RevolvingError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request is wrong on its face; `field` is the request field at fault.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The request is fine but the state does not allow it (frozen line, voided purchase).
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String },
    /// An authorization the available limit cannot cover: declined, nothing stored.
    #[error("declined: {reason}")]
    Declined {
        reason: &'static str,
        detail: String,
    },
    #[error(transparent)]
    Line(#[from] revolving::LineError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

pub(super) fn invalid(field: &str, message: impl Into<String>) -> RevolvingError {
    RevolvingError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> RevolvingError {
    RevolvingError::Conflict {
        code,
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------
// Documents

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BorrowerKind {
    Individual,
    Enterprise,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Borrower {
    pub id: Uuid,
    pub tenant: String,
    pub kind: BorrowerKind,
    pub name: String,
    pub created_on: BusinessDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merchant {
    pub id: Uuid,
    pub tenant: String,
    pub name: String,
    pub currency: Currency,
    /// Merchant discount rate (MDR), e.g. 0.008: the share of each settled amount the
    /// platform keeps.
    pub discount_rate: Decimal,
    /// Where settlements are paid (the merchant's bank or wallet account reference).
    pub settlement_account: String,
    pub created_on: BusinessDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDoc {
    pub id: Uuid,
    pub tenant: String,
    pub borrower_id: Uuid,
    pub line: Line,
    pub rules: LimitRules,
    /// Sequence of the next event.
    pub event_seq: i32,
    /// How the line's account ids derive from its id; absent in lines opened before
    /// `Prefixed`, which keep `Hashed`.
    #[serde(default)]
    pub account_ids: LineAccountIds,
}

/// How a line's account ids derive from its id (`line_account`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineAccountIds {
    /// A UUIDv5 of the line id and the purpose: the accounts are scattered over the
    /// accounts table, so a purchase's balance updates dirtied three pages of it.
    #[default]
    Hashed,
    /// The line id's first 8 bytes, then 8 bytes of that UUIDv5: a line's accounts are
    /// adjacent in storage, and a purchase's balance updates dirty one page of them.
    Prefixed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseStatus {
    Authorized,
    Captured,
    Voided,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: Uuid,
    pub amount_minor: i64,
    pub entry_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    pub id: Uuid,
    pub tenant: String,
    pub line_id: Uuid,
    pub merchant_id: Uuid,
    pub currency: Currency,
    pub amount_minor: i64,
    pub status: PurchaseStatus,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub authorized_on: BusinessDate,
    pub captured_on: Option<BusinessDate>,
    pub refunds: Vec<Refund>,
    pub installment_months: Option<u32>,
}

/// A document and the version it was read at.
#[derive(Clone, Debug)]
pub struct Versioned<T> {
    pub doc: T,
    pub version: i64,
}

pub(super) fn encode<T: Serialize>(doc: &T) -> Vec<u8> {
    serde_json::to_vec(doc).expect("documents serialize")
}

pub(super) async fn load<T: DeserializeOwned>(
    engine: &Engine,
    kind: &'static str,
    id: Uuid,
    tenant: &str,
) -> Result<Versioned<T>, RevolvingError> {
    let row = engine
        .store()
        .doc(id)
        .await?
        .filter(|r| r.kind == kind && (tenant == "*" || r.tenant == tenant))
        .ok_or(RevolvingError::NotFound(kind))?;
    let doc = serde_json::from_slice(&row.body)
        .map_err(|e| anyhow::anyhow!("stored {kind} {id} does not decode: {e}"))?;
    Ok(Versioned {
        doc,
        version: row.version,
    })
}

/// Where a document sits: its kind, id, tenant and the document it belongs to.
pub(super) struct Place<'a> {
    pub(super) kind: &'a str,
    pub(super) id: Uuid,
    pub(super) tenant: &'a str,
    pub(super) parent: Option<Uuid>,
}

pub(super) fn doc_write(
    at: Place<'_>,
    open: bool,
    day: BusinessDate,
    body: Vec<u8>,
    read_version: Option<i64>,
) -> DomainWrite {
    DomainWrite::Doc {
        row: DocRow {
            kind: at.kind.into(),
            id: at.id,
            tenant: at.tenant.into(),
            parent: at.parent,
            open,
            day: day.to_epoch_days(),
            version: read_version.map_or(1, |v| v + 1),
            body,
        },
        expected_version: read_version,
    }
}

pub(super) fn line_write(l: &LineDoc, read_version: Option<i64>) -> DomainWrite {
    let open = l.line.status != LineStatus::Closed || l.line.payoff_minor() != 0;
    doc_write(
        Place {
            kind: LINE,
            id: l.id,
            tenant: &l.tenant,
            parent: Some(l.borrower_id),
        },
        open,
        l.line.business_date,
        encode(l),
        read_version,
    )
}

pub(super) fn purchase_write(p: &Purchase, read_version: Option<i64>) -> DomainWrite {
    let day = p.captured_on.unwrap_or(p.authorized_on);
    doc_write(
        Place {
            kind: PURCHASE,
            id: p.id,
            tenant: &p.tenant,
            parent: Some(p.line_id),
        },
        false,
        day,
        encode(p),
        read_version,
    )
}

/// Events of a line, numbered from its `event_seq`, which moves past them.
pub(super) fn line_events(
    l: &mut LineDoc,
    day: BusinessDate,
    events: &[LineEvent],
) -> Vec<DomainWrite> {
    events
        .iter()
        .map(|e| {
            let body = serde_json::to_value(e).expect("events serialize");
            let kind = body["kind"].as_str().unwrap_or("event").to_string();
            let seq = l.event_seq;
            l.event_seq += 1;
            DomainWrite::DocEvent(DocEvent {
                doc_id: l.id,
                seq,
                day: day.to_epoch_days(),
                kind,
                body: serde_json::to_vec(&body).expect("events serialize"),
            })
        })
        .collect()
}
