pub mod keys;
pub mod ledger;
