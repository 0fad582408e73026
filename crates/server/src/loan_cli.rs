//! `puhui loan …` and `puhui cob`: term-loan commands for operators and scripts.

use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum LoanCmd {
    /// Print the repayment schedule and APR of a loan.
    Schedule(ScheduleArgs),
}

#[derive(Args)]
pub struct ScheduleArgs {
    /// Principal in major units, e.g. 10000.00.
    #[arg(long)]
    pub amount: String,
    #[arg(long, default_value = "CNY")]
    pub currency: String,
    /// `1.5%/month`, `0.05%/day` or `18%/year`.
    #[arg(long)]
    pub rate: String,
    #[arg(long)]
    pub term_months: u32,
    /// annuity | equal-principal | interest-only | bullet
    #[arg(long, default_value = "annuity")]
    pub method: String,
    /// Disbursement date, YYYY-MM-DD.
    #[arg(long)]
    pub start: String,
    /// act/360 | act/365f | 30/360 (default: the currency's convention).
    #[arg(long)]
    pub day_count: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: LoanCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        LoanCmd::Schedule(a) => schedule(a),
    }
}

fn schedule(a: ScheduleArgs) -> anyhow::Result<ExitCode> {
    let currency: money::Currency = match a.currency.parse() {
        Ok(c) => c,
        Err(_) => return usage(&format!("--currency: unknown currency {:?}", a.currency)),
    };
    let principal = match money::Money::parse_major(&a.amount, currency) {
        Ok(m) => m,
        Err(e) => return usage(&format!("--amount: {e}")),
    };
    let req = api::SchedulePreviewRequest {
        amount_minor: principal.amount_minor(),
        currency: a.currency,
        rate: a.rate,
        term_months: a.term_months,
        method: a.method,
        start: a.start,
        day_count: a.day_count,
    };
    let terms = match req.parse() {
        Ok(t) => t,
        Err(e) => return usage(&format!("--{}: {}", e.field.replace('_', "-"), e.message)),
    };
    let schedule = match lending::generate(&terms) {
        Ok(s) => s,
        Err(e) => return usage(&e.to_string()),
    };
    let preview = api::SchedulePreview::from_schedule(&schedule);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&preview)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>4}  {:<10}  {:>14}  {:>12}  {:>14}",
        "no", "due", "principal", "interest", "total"
    );
    let fmt = |m: i64| money::Money::from_minor(m, currency).to_string();
    for i in &preview.installments {
        println!(
            "{:>4}  {:<10}  {:>14}  {:>12}  {:>14}",
            i.number,
            i.due_date,
            fmt(i.principal_minor),
            fmt(i.interest_minor),
            fmt(i.total_minor)
        );
    }
    println!(
        "total interest {}, APR {}%",
        fmt(preview.total_interest_minor),
        preview.apr_percent
    );
    Ok(ExitCode::SUCCESS)
}

fn usage(message: &str) -> anyhow::Result<ExitCode> {
    eprintln!("error: {message}");
    Ok(ExitCode::from(2))
}
