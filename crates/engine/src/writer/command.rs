//! What the writer is asked to do, and what it answers.

use ledger::{
    Account, AccountId, Constraint, EntryId, EntryRecord, EntryRequest, HoldId, HoldRecord,
    HoldRequest, Side,
};
use money::Currency;

#[derive(Clone, Debug)]
pub enum Command {
    CreateAccount {
        tenant: String,
        owner: String,
        purpose: String,
        currency: Currency,
        normal_side: Side,
        constraint: Option<Constraint>,
    },
    Entry(EntryRequest),
    Hold(HoldRequest),
    PostHold {
        hold_id: HoldId,
        entry_id: EntryId,
        amount_minor: Option<i64>,
        memo: String,
    },
    VoidHold {
        hold_id: HoldId,
    },
    Reverse {
        original: EntryId,
        reversal_id: EntryId,
        memo: String,
    },
    ExpireHold {
        hold_id: HoldId,
    },
    /// Creates an account under an id the caller derived (e.g. from a loan id), so the
    /// caller can name it in the same envelope; an account already there with the same
    /// attributes is answered as a replay.
    OpenAccount {
        id: AccountId,
        tenant: String,
        owner: String,
        purpose: String,
        currency: Currency,
        normal_side: Side,
        constraint: Option<Constraint>,
    },
}

/// Whether an answer is the original result of an earlier request with the same id.
pub type Replayed = bool;

#[derive(Clone, Debug)]
pub enum Outcome {
    Account(Account),
    Entry(EntryRecord, Replayed),
    Hold(HoldRecord, Replayed),
}
