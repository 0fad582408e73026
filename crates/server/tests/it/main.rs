//! The server's integration tests, one binary: each file was its own test binary, and
//! linking the whole server into ~35 of them cost CI minutes. Run one file with
//! `cargo test -p server --test it FILE::`.

mod common;
mod webhook_receiver;

mod abs_deals_http;
mod abs_http;
mod abs_investor_http;
mod access_hardening;
mod access_http;
mod access_matrix;
mod analytics_http;
mod backup_restore;
mod cob_crash;
mod cob_workers;
mod colending_callback;
mod colending_http;
mod colending_isolation;
mod console_browser;
mod console_http;
mod controls_http;
mod crash;
mod crash_mixed;
mod customers_at_rest;
mod customers_cli;
mod customers_http;
mod decisions;
mod events_http;
mod events_relay;
mod hardening;
mod http;
mod idempotency_walk;
mod loan_pricing_http;
mod loans_http;
mod lock_cob;
mod revolving_http;
mod risk_http;
mod serve_limits;
mod tamper;
mod webhooks_crash;
mod webhooks_http;
