use ledger::LedgerError;

/// Why a command was not carried out. `Rejected` and `Conflict` are the caller's to fix;
/// the others are ours, and nothing was committed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Rejected(#[from] LedgerError),
    #[error("the ledger writer is overloaded; retry with the same id")]
    Overloaded,
    #[error("the ledger writer stopped")]
    WriterGone,
    #[error("loan {id} changed meanwhile; read it again and retry")]
    StaleLoan { id: uuid::Uuid },
    #[error("{id} changed meanwhile; read it again and retry")]
    StaleDoc { id: uuid::Uuid },
    /// An emergency halt stops this origination or purchase; nothing was done.
    #[error("halted by halt {halt_id}: {reason}")]
    Halted { halt_id: uuid::Uuid, reason: String },
    /// A funder the loan needs is in an outage whose agreement pauses its loans.
    #[error("funding partner {partner_id} is in an outage that pauses its loans: {reason}")]
    FunderOutage {
        partner_id: uuid::Uuid,
        reason: String,
    },
    #[error("storage failed: {0:#}")]
    Storage(String),
}
