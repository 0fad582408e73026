use crate::{AccountId, Side};
use money::Currency;
use std::fmt;

/// Client-chosen entry id; it doubles as the idempotency key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(pub uuid::Uuid);

/// Client-chosen hold id; also an idempotency key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HoldId(pub uuid::Uuid);

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Hard limits on what one request may ask for.
pub struct Limits {
    pub postings_min: usize,
    pub postings_max: usize,
    pub memo_bytes_max: usize,
    pub batch_ops_max: usize,
}

pub const LIMITS: Limits = Limits {
    postings_min: 2,
    postings_max: 64,
    memo_bytes_max: 512,
    batch_ops_max: 8190,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Posting {
    pub account_id: AccountId,
    pub direction: Side,
    pub amount_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRequest {
    pub id: EntryId,
    pub currency: Currency,
    pub postings: Vec<Posting>,
    pub memo: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldRequest {
    pub id: HoldId,
    pub currency: Currency,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    pub amount_minor: i64,
    /// Wall-clock expiry in Unix milliseconds; `None` holds until posted or voided.
    pub expires_at_ms: Option<i64>,
    pub memo: String,
}

/// What caused an entry: a plain posting, the posting of a hold, or a reversal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    Plain,
    HoldPost(HoldId),
    Reversal(EntryId),
}

impl EntryKind {
    pub const fn code(self) -> u8 {
        match self {
            EntryKind::Plain => 0,
            EntryKind::HoldPost(_) => 1,
            EntryKind::Reversal(_) => 2,
        }
    }

    pub fn reference(self) -> Option<uuid::Uuid> {
        match self {
            EntryKind::Plain => None,
            EntryKind::HoldPost(h) => Some(h.0),
            EntryKind::Reversal(e) => Some(e.0),
        }
    }

    pub fn from_parts(code: u8, reference: Option<uuid::Uuid>) -> Option<EntryKind> {
        match (code, reference) {
            (0, None) => Some(EntryKind::Plain),
            (1, Some(r)) => Some(EntryKind::HoldPost(HoldId(r))),
            (2, Some(r)) => Some(EntryKind::Reversal(EntryId(r))),
            _ => None,
        }
    }
}

/// A posted journal entry as stored: immutable once written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRecord {
    pub id: EntryId,
    /// Position in the global Merkle tree (0-based leaf index).
    pub seq: u64,
    pub partition: u16,
    pub prev_hash: [u8; 32],
    /// RFC 6962 leaf hash of [`crate::leaf_data`]; the next entry of the partition links to it.
    pub hash: [u8; 32],
    pub currency: Currency,
    pub kind: EntryKind,
    pub memo: String,
    pub postings: Vec<Posting>,
    pub created_at_ms: i64,
    pub body_hash: [u8; 32],
}
