//! Row types of term loans. The loan state itself is an opaque blob here (lending's codec);
//! storage only needs its id, partition, business day and version.

use uuid::Uuid;

/// Number of close-of-business partitions; a loan's partition is fixed at creation.
pub const LOAN_PARTITIONS: u32 = 64;

pub fn loan_partition(id: Uuid) -> i32 {
    let b = id.as_bytes();
    // The last bytes of a UUIDv4/v7 are random, so partitions fill evenly.
    (u32::from_le_bytes([b[12], b[13], b[14], b[15]]) % LOAN_PARTITIONS) as i32
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductRow {
    pub id: Uuid,
    pub version: i32,
    /// The tenant whose operators made it; only that tenant sees and lends under it.
    pub tenant: String,
    pub body: Vec<u8>,
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoanRow {
    pub id: Uuid,
    pub partition: i32,
    pub tenant: String,
    pub borrower: String,
    pub product_id: Uuid,
    pub product_version: i32,
    /// applied, approved, declined, active, paid_off, written_off.
    pub stage: String,
    /// Business day of the state, as days since 1970-01-01.
    pub day: i32,
    /// Whether close of business must still advance this loan.
    pub open: bool,
    /// Bumped on every write; a write names the version it read.
    pub version: i64,
    /// Days past due in `state`, kept beside it so lists can filter by delinquency.
    pub dpd: i32,
    pub state: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoanEvent {
    pub loan_id: Uuid,
    pub seq: i32,
    pub day: i32,
    pub kind: String,
    pub body: Vec<u8>,
}

/// A non-ledger write committed in the same transaction as a ledger envelope, and only if
/// that envelope was accepted.
#[derive(Clone, Debug)]
pub enum DomainWrite {
    /// Insert (`expected_version` None) or update a loan that is still at `expected_version`.
    Loan {
        row: LoanRow,
        expected_version: Option<i64>,
    },
    LoanEvent(LoanEvent),
    CobDone {
        day: i32,
        partition: i32,
        done_at_ms: i64,
    },
    Meta {
        key: String,
        value: Vec<u8>,
    },
    /// Insert (`expected_version` None) or update a document still at `expected_version`.
    Doc {
        row: crate::DocRow,
        expected_version: Option<i64>,
    },
    DocEvent(crate::DocEvent),
    /// Writes nothing; the commit fails (`StaleWrite`) unless document `id` is still at
    /// `version`. A change that depends on a document it does not rewrite (an authorization
    /// on a line) names the version it read this way.
    DocAt {
        id: Uuid,
        version: i64,
    },
    /// An outbox event; numbered when the transaction commits.
    Event(crate::EventRow),
    /// Moves a consumer's outbox cursor forward (never back) in the same transaction as
    /// what it derived from the events, so the two cannot part in a crash.
    EventCursor {
        name: String,
        seq: i64,
    },
}

/// Why a product version could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum ProductWriteError {
    #[error("product {id} version {version} exists with different terms; create a new version")]
    VersionExists { id: Uuid, version: i32 },
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}
