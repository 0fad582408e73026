//! Documents: the rows of revolving credit (borrowers, merchants, credit lines, purchases,
//! settlements). Each is a versioned JSON body under `(kind, id)`; the shell owns the body's
//! shape, storage only knows the columns it must search by.

use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocRow {
    /// `borrower`, `merchant`, `line`, `purchase`, …
    pub kind: String,
    pub id: Uuid,
    pub tenant: String,
    /// The document this one belongs to (a purchase's line), if any.
    pub parent: Option<Uuid>,
    /// Whether close of business must still visit it.
    pub open: bool,
    /// Business day of the state, as days since 1970-01-01 (0 where it has none).
    pub day: i32,
    /// Bumped on every write; a write names the version it read.
    pub version: i64,
    pub body: Vec<u8>,
}

/// An append-only record about a document (limit changes, statements, status changes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocEvent {
    pub doc_id: Uuid,
    pub seq: i32,
    pub day: i32,
    pub kind: String,
    pub body: Vec<u8>,
}
