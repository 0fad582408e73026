//! The `puhui` binary's library half: HTTP application, command line and benchmarks.

pub mod app;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod decisioning;
pub mod openapi;
pub mod problem;
pub mod routes;
