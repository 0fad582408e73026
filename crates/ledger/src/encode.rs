//! Canonical byte encodings: what is hashed into the Merkle tree, and what identifies a
//! request body for idempotency. Changing either breaks every stored proof, so both carry a
//! version tag.

use crate::{EntryRecord, EntryRequest, HoldRequest, Posting};
use money::Currency;
use sha2::{Digest, Sha256};

pub type BodyHash = [u8; 32];

const LEAF_TAG: &[u8] = b"puhui.entry.v1";

fn put_postings(out: &mut Vec<u8>, postings: &[Posting]) {
    out.extend_from_slice(&(postings.len() as u32).to_be_bytes());
    for p in postings {
        out.extend_from_slice(p.account_id.0.as_bytes());
        out.push(match p.direction {
            crate::Side::Debit => b'D',
            crate::Side::Credit => b'C',
        });
        out.extend_from_slice(&p.amount_minor.to_be_bytes());
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The exact bytes whose RFC 6962 leaf hash is the entry's hash. Layout (big-endian):
/// tag "puhui.entry.v1" | seq u64 | partition u16 | prev_hash [32] | id [16] |
/// created_at_ms i64 | currency [3] | kind u8 | reference [16] (zeros if none) |
/// memo (u32 length + UTF-8) | posting count u32 | per posting: account [16], 'D'/'C', amount i64.
pub fn leaf_data(e: &EntryRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + 25 * e.postings.len() + e.memo.len());
    out.extend_from_slice(LEAF_TAG);
    out.extend_from_slice(&e.seq.to_be_bytes());
    out.extend_from_slice(&e.partition.to_be_bytes());
    out.extend_from_slice(&e.prev_hash);
    out.extend_from_slice(e.id.0.as_bytes());
    out.extend_from_slice(&e.created_at_ms.to_be_bytes());
    out.extend_from_slice(e.currency.code().as_bytes());
    out.push(e.kind.code());
    out.extend_from_slice(e.kind.reference().unwrap_or_default().as_bytes());
    put_str(&mut out, &e.memo);
    put_postings(&mut out, &e.postings);
    out
}

fn digest(parts: &[u8]) -> BodyHash {
    Sha256::digest(parts).into()
}

/// What a request says, so that a retry with the same id can be told from a different request
/// reusing the id.
pub enum Body<'a> {
    Entry(&'a EntryRequest),
    Hold(&'a HoldRequest),
    HoldPost {
        hold_id: crate::HoldId,
        amount_minor: Option<i64>,
        memo: &'a str,
    },
    HoldVoid,
    Reversal {
        original: crate::EntryId,
        memo: &'a str,
    },
}

pub fn body_hash(body: Body<'_>) -> BodyHash {
    let mut out = Vec::with_capacity(128);
    match body {
        Body::Entry(r) => {
            out.push(b'E');
            put_currency(&mut out, r.currency);
            put_str(&mut out, &r.memo);
            put_postings(&mut out, &r.postings);
        }
        Body::Hold(h) => {
            out.push(b'H');
            put_currency(&mut out, h.currency);
            out.extend_from_slice(h.debit_account_id.0.as_bytes());
            out.extend_from_slice(h.credit_account_id.0.as_bytes());
            out.extend_from_slice(&h.amount_minor.to_be_bytes());
            out.extend_from_slice(&h.expires_at_ms.unwrap_or(i64::MIN).to_be_bytes());
            put_str(&mut out, &h.memo);
        }
        Body::HoldPost {
            hold_id,
            amount_minor,
            memo,
        } => {
            out.push(b'P');
            out.extend_from_slice(hold_id.0.as_bytes());
            out.extend_from_slice(&amount_minor.unwrap_or(-1).to_be_bytes());
            put_str(&mut out, memo);
        }
        Body::HoldVoid => out.push(b'V'),
        Body::Reversal { original, memo } => {
            out.push(b'R');
            out.extend_from_slice(original.0.as_bytes());
            put_str(&mut out, memo);
        }
    }
    digest(&out)
}

fn put_currency(out: &mut Vec<u8>, c: Currency) {
    out.extend_from_slice(c.code().as_bytes());
}
