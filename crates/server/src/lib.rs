//! The `puhui` binary's library half: HTTP application, command line and benchmarks.

// A handler's error is built at most once per failed request and moved straight into the
// response; boxing it would add an allocation on every error for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod abs_cli;
pub mod abs_investor_report;
pub mod abs_report;
pub mod analytics_bench;
pub mod analytics_cli;
pub mod analytics_export;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backup_cli;
pub mod bench;
pub mod bench_colending;
pub mod cli;
pub mod cob_client;
pub mod cob_runs;
pub mod colending_cli;
pub mod colending_recon_cli;
pub mod console;
pub mod controls_cli;
pub mod customers;
pub mod customers_bench;
pub mod customers_cli;
pub mod decisioning;
pub mod demo;
pub mod events_cli;
pub mod events_relay;
pub mod exposure_lock;
pub mod faults;
pub mod first_loss_cli;
pub mod json_numbers;
pub mod limits;
pub mod listen;
pub mod loan_cli;
pub mod openapi;
pub mod openapi_ops;
pub mod openapi_schemas;
pub mod parquet_out;
pub mod problem;
pub mod rc_cli;
pub mod risk_cli;
pub mod routes;
pub mod rule_packs;
pub mod webhooks_cli;
