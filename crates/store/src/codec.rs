//! Column encodings shared by both backends.

use anyhow::{anyhow, Context};
use ledger::{
    AccountId, Constraint, EntryId, EntryKind, EntryRecord, HoldId, HoldRecord, HoldRequest,
    HoldStatus, Posting, Side,
};
use money::Currency;

/// An entry exactly as stored, before any check: verification must see what is on disk.
#[derive(Clone, Debug)]
pub struct StoredEntry {
    pub record: EntryRecord,
}

pub fn uuid_from(bytes: &[u8], what: &str) -> anyhow::Result<uuid::Uuid> {
    uuid::Uuid::from_slice(bytes).with_context(|| format!("decode {what} id"))
}

pub fn hash_from(bytes: &[u8], what: &str) -> anyhow::Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| anyhow!("{what} is {} bytes, expected 32", bytes.len()))
}

pub fn currency_from(s: &str) -> anyhow::Result<Currency> {
    s.parse().context("decode currency")
}

pub fn side_code(s: Side) -> i16 {
    match s {
        Side::Debit => 0,
        Side::Credit => 1,
    }
}

pub fn side_from(code: i64) -> anyhow::Result<Side> {
    match code {
        0 => Ok(Side::Debit),
        1 => Ok(Side::Credit),
        other => Err(anyhow!("unknown posting direction {other}")),
    }
}

pub fn constraint_from(s: Option<String>) -> anyhow::Result<Option<Constraint>> {
    s.map(|s| Constraint::parse(&s).ok_or_else(|| anyhow!("unknown constraint {s}")))
        .transpose()
}

pub fn normal_side_from(s: &str) -> anyhow::Result<Side> {
    Side::parse(s).ok_or_else(|| anyhow!("unknown normal side {s}"))
}

pub fn kind_from(code: i64, reference: Option<Vec<u8>>) -> anyhow::Result<EntryKind> {
    let reference = reference
        .map(|r| uuid_from(&r, "entry reference"))
        .transpose()?;
    u8::try_from(code)
        .ok()
        .and_then(|c| EntryKind::from_parts(c, reference))
        .ok_or_else(|| anyhow!("bad entry kind {code}"))
}

pub struct EntryRow {
    pub seq: i64,
    pub id: Vec<u8>,
    pub partition: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    pub currency: String,
    pub kind: i64,
    pub reference: Option<Vec<u8>>,
    pub memo: String,
    pub created_at_ms: i64,
    pub body_hash: Vec<u8>,
}

pub struct PostingRow {
    pub seq: i64,
    pub account_id: Vec<u8>,
    pub direction: i64,
    pub amount_minor: i64,
}

impl EntryRow {
    pub fn into_record(self, postings: Vec<Posting>) -> anyhow::Result<EntryRecord> {
        Ok(EntryRecord {
            id: EntryId(uuid_from(&self.id, "entry")?),
            seq: u64::try_from(self.seq).context("negative seq")?,
            partition: u16::try_from(self.partition).context("bad partition")?,
            prev_hash: hash_from(&self.prev_hash, "prev_hash")?,
            hash: hash_from(&self.hash, "hash")?,
            currency: currency_from(&self.currency)?,
            kind: kind_from(self.kind, self.reference)?,
            memo: self.memo,
            postings,
            created_at_ms: self.created_at_ms,
            body_hash: hash_from(&self.body_hash, "body_hash")?,
        })
    }
}

impl PostingRow {
    pub fn into_posting(self) -> anyhow::Result<Posting> {
        Ok(Posting {
            account_id: AccountId(uuid_from(&self.account_id, "posting account")?),
            direction: side_from(self.direction)?,
            amount_minor: self.amount_minor,
        })
    }
}

/// Joins entry rows with their posting rows (both sorted by seq; postings by idx within).
pub fn assemble(
    entries: Vec<EntryRow>,
    postings: Vec<PostingRow>,
) -> anyhow::Result<Vec<EntryRecord>> {
    let mut by_seq: std::collections::HashMap<i64, Vec<Posting>> = std::collections::HashMap::new();
    for p in postings {
        let seq = p.seq;
        by_seq.entry(seq).or_default().push(p.into_posting()?);
    }
    entries
        .into_iter()
        .map(|e| {
            let ps = by_seq.remove(&e.seq).unwrap_or_default();
            e.into_record(ps)
        })
        .collect()
}

pub struct HoldRow {
    pub id: Vec<u8>,
    pub currency: String,
    pub debit_account_id: Vec<u8>,
    pub credit_account_id: Vec<u8>,
    pub amount_minor: i64,
    pub expires_at_ms: Option<i64>,
    pub memo: String,
    pub status: String,
    pub posted_entry_id: Option<Vec<u8>>,
    pub posted_amount_minor: i64,
    pub body_hash: Vec<u8>,
    pub created_at_ms: i64,
}

impl HoldRow {
    pub fn into_record(self) -> anyhow::Result<HoldRecord> {
        Ok(HoldRecord {
            request: HoldRequest {
                id: HoldId(uuid_from(&self.id, "hold")?),
                currency: currency_from(&self.currency)?,
                debit_account_id: AccountId(uuid_from(&self.debit_account_id, "debit account")?),
                credit_account_id: AccountId(uuid_from(&self.credit_account_id, "credit account")?),
                amount_minor: self.amount_minor,
                expires_at_ms: self.expires_at_ms,
                memo: self.memo,
            },
            status: HoldStatus::parse(&self.status)
                .ok_or_else(|| anyhow!("unknown hold status {}", self.status))?,
            posted_entry_id: self
                .posted_entry_id
                .map(|b| uuid_from(&b, "posted entry").map(EntryId))
                .transpose()?,
            posted_amount_minor: self.posted_amount_minor,
            body_hash: hash_from(&self.body_hash, "hold body_hash")?,
            created_at_ms: self.created_at_ms,
        })
    }
}
