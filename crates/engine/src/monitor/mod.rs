//! Real-time risk monitoring: each customer's risk state, kept up to date from the event
//! outbox, early-warning rules evaluated on every change, and their actions.
//!
//! - [`state`]: the risk state document and how an event moves it.
//! - [`signals`]: external signals (bureau alerts, multi-borrowing, merchant revenue),
//!   stored with their own event.
//! - [`run`]: the monitor, a consumer of the outbox with its own durable cursor, that
//!   updates states, evaluates the rule pack and acts.
//! - [`actions`]: running a rule's actions through the use cases, under keys derived from
//!   the cause event and the rule, so a replay never acts twice.
//! - [`halts`]: the customers early warning stopped from borrowing, checked at origination.
//! - [`rules`]: rule pack files (JSON) parsed with field paths.

pub mod actions;
pub mod halts;
pub mod rules;
pub mod run;
pub mod signals;
pub mod state;

pub use halts::Halts;
pub use run::{Monitor, CURSOR, PACE};
pub use signals::{post_signal, NewSignal, Signal};
pub use state::{risk_state, risk_state_in, ActionRecord, RiskState, RuleHit};

use uuid::Uuid;

/// Namespace of the monitor's document ids and action keys.
pub(crate) const NS: Uuid = Uuid::from_u128(0x5d0c_8e21_94a3_4b7f_a2e6_1f39_c07b_d452);

/// Document kinds.
pub const RISK_STATE: &str = "risk_state";
pub const RISK_SIGNAL: &str = "risk_signal";
pub const RISK_HALT: &str = "risk_halt";

/// The risk state document of a customer.
pub fn state_id(customer: Uuid) -> Uuid {
    Uuid::new_v5(&NS, &[customer.as_bytes().as_slice(), b"state"].concat())
}

/// The document whose presence halts a customer's new borrowing.
pub fn halt_id(customer: Uuid) -> Uuid {
    Uuid::new_v5(&NS, &[customer.as_bytes().as_slice(), b"halt"].concat())
}

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("customer not found")]
    NotFound,
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Engine(#[from] crate::EngineError),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

impl From<crate::revolving::RevolvingError> for MonitorError {
    fn from(e: crate::revolving::RevolvingError) -> Self {
        use crate::revolving::RevolvingError as R;
        match e {
            R::NotFound(_) => MonitorError::NotFound,
            R::Invalid { field, message } => MonitorError::Invalid { field, message },
            R::Conflict { code, message } => MonitorError::Conflict { code, message },
            R::Engine(e) => MonitorError::Engine(e),
            R::Storage(e) => MonitorError::Storage(e),
            other => MonitorError::Storage(anyhow::anyhow!("{other}")),
        }
    }
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> MonitorError {
    MonitorError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}
