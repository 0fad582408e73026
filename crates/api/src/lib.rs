//! Wire types: the JSON shapes of the HTTP API with their OpenAPI schemas, and conversions
//! to domain types. Amounts are integer minor units next to a currency code; hashes are hex;
//! exact signed bytes are base64. Unknown fields are refused so a typo cannot pass silently.

mod access_wire;
mod ledger_wire;
mod loans_wire;
mod problem;

pub use access_wire::*;
pub use ledger_wire::*;
pub use loans_wire::*;
pub use problem::{check_name, DeclinedPurchase, FieldError, FunderDecline, Problem};
mod revolving_wire;
pub use revolving_wire::*;
mod apr_wire;
pub use apr_wire::*;
mod decision_wire;
pub use decision_wire::*;
mod cob_wire;
pub use cob_wire::*;
mod colending_wire;
pub use colending_wire::*;
mod abs_investor_wire;
mod abs_live_wire;
mod abs_mc_wire;
mod abs_pool_wire;
mod abs_report_wire;
pub mod abs_tape;
mod abs_wire;
pub use abs_investor_wire::*;
pub use abs_live_wire::*;
pub use abs_mc_wire::*;
pub use abs_pool_wire::*;
pub use abs_report_wire::*;
pub use abs_wire::*;
mod customers_wire;
pub use customers_wire::*;
mod colending_recon_wire;
pub use colending_recon_wire::*;
mod events_wire;
pub use events_wire::*;
