//! Securitization on the live book: deals kept as documents, pools drawn from the term
//! loans' platform share, the true sale at closing and the period runs posted to the ledger.
//!
//! - `docs`: the deal document, its pool, closing and periods, and the ids derived here.
//! - `deals`: create, read and list deals.
//! - `pool`: eligibility criteria → the pooled loans' sold shares; one pool per loan.
//! - `close`: the true sale entry and the SPV's accounts.
//! - `periods`: collections on the sold share → `abs::run_period` → the remittance and the
//!   waterfall's entries.
//! - `purchases`: revolving purchases of newly eligible loans' platform share.
//! - `repurchase`: a loan bought back for a broken warranty.
//! - `report`: a period with inclusion proofs of its collection entries.
//!
//! The deal file is parsed by the caller (`api::DealFile`), so the engine receives both the
//! JSON to keep and the domain `abs::Deal` to run. Money flows: docs/securitization.md.

pub mod close;
pub mod deals;
pub mod docs;
pub mod periods;
pub mod pool;
pub mod purchases;
pub mod report;
pub mod repurchase;

pub use close::{close_deal, Closing};
pub use deals::{create_deal, deal, list_deals};
pub use docs::{
    ClosingDoc, DealDoc, DealStatus, DelinquencyDoc, PeriodDoc, PoolCriteria, PoolDoc, PooledLoan,
    RepurchaseDoc, StateDoc,
};
pub use periods::{run_period, run_period_with};
pub use pool::pool_deal;
pub use report::{period_evidence, PeriodEvidence};
pub use repurchase::repurchase;

use crate::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum AbsError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request at fault, naming its field and a stable code.
    #[error("{field}: {message}")]
    Invalid {
        field: String,
        code: &'static str,
        message: String,
    },
    /// The deal's state forbids it (already closed, a period already run, an id reused).
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

impl AbsError {
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> AbsError {
        AbsError::Invalid {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> AbsError {
        AbsError::Conflict {
            code,
            message: message.into(),
        }
    }
}

async fn open_day(engine: &crate::Engine) -> Result<money::BusinessDate, AbsError> {
    crate::business_day::business_date(engine)
        .await?
        .ok_or_else(|| AbsError::conflict("no_business_date", "no business date is open yet"))
}
