pub mod apr;
pub mod keys;
pub mod ledger;
pub mod loans;
