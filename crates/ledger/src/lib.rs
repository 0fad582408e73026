//! The double-entry ledger, as pure data and rules.
//!
//! Accounts carry four running sums (debits/credits, posted/pending) in minor units, as
//! TigerBeetle's do. An entry is at least two postings in one currency whose debits equal
//! its credits. Holds reserve amounts as pending until they are posted (fully or partly),
//! voided or expire. Every posted entry becomes a leaf of an RFC 6962 Merkle tree and is
//! hash-linked to its predecessor in its partition, so a changed amount is detectable.
//!
//! [`Book`] applies operations to in-memory state and records an undo log, so the shell can
//! persist a whole group of operations in one transaction and roll the memory back if that
//! transaction fails. Nothing here does I/O or reads a clock.

mod account;
mod book;
mod encode;
mod entry;
mod error;
pub mod merkle;
mod table;
mod tree_head;

pub use account::{Account, AccountId, Balances, Constraint, Side};
pub use book::{partition_of, Book, Effect, HoldRecord, HoldStatus, Op, OpOutcome, PARTITIONS};
pub use encode::{body_hash, leaf_data, Body, BodyHash};
pub use entry::{
    EntryId, EntryKind, EntryRecord, EntryRequest, HoldId, HoldRequest, Posting, LIMITS,
};
pub use error::LedgerError;
pub use merkle::{Hash, MerkleTree};
pub use table::{names_digest, AccountState, AccountTable};
pub use tree_head::{SignedTreeHead, TreeHeadSigner};
