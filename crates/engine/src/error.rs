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
    #[error("storage failed: {0:#}")]
    Storage(String),
}
