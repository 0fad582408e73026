//! The engine's integration tests, one binary (one link of the engine instead of one a
//! file). Run one file with `cargo test -p engine --test it FILE::`.

mod recon_check;

mod abs_live;
mod abs_recoveries;
mod analytics;
mod cob_workers;
mod colending;
mod colending_days;
mod colending_facts;
mod colending_first_loss;
mod colending_guarantee;
mod colending_quota;
mod colending_routed;
mod colending_webhooks;
mod customers;
mod decisions;
mod events;
mod ledger;
mod loan_money;
mod loans;
mod monitor;
mod props;
mod revolving;
