pub mod apr;
pub mod decisions;
pub mod keys;
pub mod ledger;
pub mod lists;
pub mod loans;
pub mod page;
pub mod revolving;
