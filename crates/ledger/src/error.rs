use crate::{AccountId, Constraint, EntryId, HoldId};
use money::Currency;

/// Why the ledger refused an operation. Each variant names the field or object at fault,
/// so the HTTP layer can say exactly what to fix; a refused operation changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("an entry needs between {min} and {max} postings, got {got}")]
    PostingCount { got: usize, min: usize, max: usize },
    #[error("postings[{index}].amount_minor must be positive, got {amount_minor}")]
    NonPositiveAmount { index: usize, amount_minor: i64 },
    #[error("postings[{index}].account_id {account_id} does not exist")]
    UnknownAccount { index: usize, account_id: AccountId },
    #[error("postings[{index}]: account {account_id} is in {account_currency}, the entry is in {entry_currency}")]
    CurrencyMismatch {
        index: usize,
        account_id: AccountId,
        account_currency: Currency,
        entry_currency: Currency,
    },
    #[error("entry does not balance: debits {debits_minor} ≠ credits {credits_minor}")]
    Unbalanced {
        debits_minor: i128,
        credits_minor: i128,
    },
    #[error("amounts overflow a 64-bit sum on account {account_id}")]
    Overflow { account_id: AccountId },
    #[error("account {account_id} would break its constraint {}", constraint.as_str())]
    ConstraintViolated {
        account_id: AccountId,
        constraint: Constraint,
    },
    #[error("id {id} was already used with a different body")]
    IdConflict { id: String },
    #[error("memo is longer than {max} bytes")]
    MemoTooLong { max: usize },
    #[error("hold {id} does not exist")]
    UnknownHold { id: HoldId },
    #[error("hold {id} is {status}, not pending")]
    HoldNotPending { id: HoldId, status: &'static str },
    #[error("hold {id} expired")]
    HoldExpired { id: HoldId },
    #[error("amount_minor {amount_minor} exceeds the held {held_minor}")]
    HoldAmountExceeded { amount_minor: i64, held_minor: i64 },
    #[error("debit_account_id and credit_account_id must differ")]
    SameAccount,
    #[error("entry {id} does not exist")]
    UnknownEntry { id: EntryId },
    #[error("entry {id} was already reversed")]
    AlreadyReversed { id: EntryId },
    #[error("a linked batch holds between 1 and {max} operations, got {got}")]
    BatchSize { got: usize, max: usize },
    #[error("operation {index} of the linked batch failed: {source}")]
    InBatch {
        index: usize,
        #[source]
        source: Box<LedgerError>,
    },
    #[error("id {id} appears twice in one linked batch")]
    DuplicateInBatch { id: String },
}

impl LedgerError {
    /// The innermost error, past linked-batch wrappers.
    pub fn root(&self) -> &LedgerError {
        match self {
            LedgerError::InBatch { source, .. } => source.root(),
            other => other,
        }
    }
}
