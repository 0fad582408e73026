//! The `puhui` binary's library half: HTTP application, command line and benchmarks.

// A handler's error is built at most once per failed request and moved straight into the
// response; boxing it would add an allocation on every error for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod app;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod cob_client;
pub mod cob_runs;
pub mod colending_cli;
pub mod console;
pub mod decisioning;
pub mod demo;
pub mod faults;
pub mod json_numbers;
pub mod listen;
pub mod loan_cli;
pub mod openapi;
pub mod openapi_ops;
pub mod openapi_schemas;
pub mod problem;
pub mod rc_cli;
pub mod routes;
