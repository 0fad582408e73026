//! Compliance (合规): checked identity numbers, masking of personal data, and regulatory rule
//! packs evaluated against facts the shell gathers. Pure: no I/O, no clock, no environment;
//! the business date is always an argument.
//!
//! - [`identity`]: the PRC resident identity number (GB 11643-1999) and the unified social
//!   credit code (GB 32100-2015), each parsed with its check character verified.
//! - [`mask`]: masking of identity numbers, phone numbers, bank cards and names for display.
//!
//! Conventions and the source of every rule: docs/compliance.md.

pub mod identity;
pub mod mask;

pub use identity::{
    credit_code_check_char, resident_id_check_char, CreditCode, CreditCodeError, ResidentId,
    ResidentIdError, Sex,
};
pub use mask::{mask_bank_card, mask_name, mask_phone, mask_resident_id};
