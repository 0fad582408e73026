//! Customers: individuals and enterprises with their personal data sealed at rest.
//!
//! A customer is a borrower: its document has kind `borrower`, the fields a revolving
//! borrower has (kind, a name — here the masked one) and a `profile` with the customer's
//! fields, so a customer id is usable wherever a borrower id is (credit lines, a term
//! loan's `borrower`), and `/v1/borrowers` keeps working as an alias. Borrowers made
//! before customers existed read as customers without a profile.
//!
//! - [`keys`]: a tenant's data and index keys, wrapped by the master key, and rotation.
//! - [`profile`]: creating, reading and finding customers; de-duplication by blind index.
//! - [`exposure`]: what a customer owes and may draw across loans, lines and funders.
//! - [`reveal`]: the audit record of every read of personal data in plaintext.

pub mod exposure;
pub mod keys;
pub mod profile;
pub mod reveal;

pub use exposure::{exposure, loan_exposure, Exposure, ExposureItem};
pub use keys::{rotate_master, Rotation, Vault};
pub use profile::*;
pub use reveal::{record_reveal, Reveal, PII_READ};

use crate::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("customer not found")]
    NotFound,
    /// The request is wrong on its face; `field` is the request field at fault.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Another customer of the tenant has this identity number or credit code.
    #[error("{field}: another customer ({existing}) has it")]
    Duplicate {
        field: &'static str,
        existing: uuid::Uuid,
    },
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

impl From<crate::revolving::RevolvingError> for CustomerError {
    fn from(e: crate::revolving::RevolvingError) -> Self {
        use crate::revolving::RevolvingError as R;
        match e {
            R::NotFound(_) => CustomerError::NotFound,
            R::Invalid { field, message } => CustomerError::Invalid { field, message },
            R::Conflict { code, message } => CustomerError::Conflict { code, message },
            R::Engine(e) => CustomerError::Engine(e),
            R::Storage(e) => CustomerError::Storage(e),
            other => CustomerError::Storage(anyhow::anyhow!("{other}")),
        }
    }
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> CustomerError {
    CustomerError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}
