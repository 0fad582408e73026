pub mod apr;
pub mod cob;
pub mod decisions;
pub mod keys;
pub mod ledger;
pub mod loans;
pub mod revolving;
