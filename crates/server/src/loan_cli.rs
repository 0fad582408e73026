//! `puhui loan …` and `puhui cob`: term-loan commands for operators and scripts.

use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum LoanCmd {
    /// Print the repayment schedule and APR of a loan.
    Schedule(ScheduleArgs),
    /// Book cash recovered on a written-off loan, through a running server's API
    /// (`POST /v1/loans/{id}/recoveries`).
    Recover(RecoverArgs),
}

#[derive(Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub server: crate::controls_cli::ServerArgs,
    /// The written-off loan.
    pub loan_id: uuid::Uuid,
    /// Cash recovered, in major units, e.g. 3000.00.
    #[arg(long)]
    pub amount: String,
    #[arg(long, default_value = "CNY")]
    pub currency: String,
    /// The recovery's id and Idempotency-Key (default: a new one); run again with the same
    /// id, the recovery is booked once.
    #[arg(long)]
    pub id: Option<uuid::Uuid>,
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

pub async fn run(cmd: LoanCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        LoanCmd::Schedule(a) => schedule(a),
        LoanCmd::Recover(a) => recover(a).await,
    }
}

async fn recover(a: RecoverArgs) -> anyhow::Result<ExitCode> {
    let amount = match money_arg(&a.amount, &a.currency) {
        Ok(m) => m,
        Err(message) => return usage(&message),
    };
    let currency = amount.currency();
    let key = a.id.unwrap_or_else(uuid::Uuid::now_v7);
    let client = crate::controls_cli::Client::new(&a.server)?;
    let body = serde_json::json!({
        "id": key,
        "amount_minor": amount.amount_minor(),
        "currency": currency.code(),
    });
    let path = format!("/v1/loans/{}/recoveries", a.loan_id);
    let (status, v) = client
        .call_keyed(reqwest::Method::POST, &path, Some(body), key)
        .await?;
    if !(200..300).contains(&status) {
        return Ok(crate::controls_cli::refused(&v));
    }
    if a.server.json {
        println!("{v}");
    } else {
        let claim = v["loan"]["written_off_claim_minor"].as_i64().unwrap_or(0);
        let claim = money::Money::from_minor(claim, currency);
        let again = if status == 200 {
            " (already booked)"
        } else {
            ""
        };
        println!(
            "recovery {key} of {} {} on loan {}{again}; written off and not yet recovered: {}",
            amount.to_major_decimal(),
            currency.code(),
            a.loan_id,
            claim.to_major_decimal(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn schedule(a: ScheduleArgs) -> anyhow::Result<ExitCode> {
    let principal = match money_arg(&a.amount, &a.currency) {
        Ok(m) => m,
        Err(message) => return usage(&message),
    };
    let currency = principal.currency();
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

/// `--amount` in major units of `--currency`, or what is wrong with either.
fn money_arg(amount: &str, currency: &str) -> Result<money::Money, String> {
    let c: money::Currency = currency
        .parse()
        .map_err(|_| format!("--currency: unknown currency {currency:?}"))?;
    money::Money::parse_major(amount, c).map_err(|e| format!("--amount: {e}"))
}

fn usage(message: &str) -> anyhow::Result<ExitCode> {
    eprintln!("error: {message}");
    Ok(ExitCode::from(2))
}

/// `puhui cob`: closes business days one at a time until the open day is `to` (or once).
pub async fn cob(
    store_args: crate::cli::StoreArgs,
    to: Option<String>,
    start: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use engine::loans;
    let parse = |flag: &str, s: &str| -> anyhow::Result<money::BusinessDate> {
        s.parse()
            .map_err(|_| anyhow::anyhow!("--{flag}: must be a date YYYY-MM-DD"))
    };
    let to = to.map(|t| parse("to", &t)).transpose()?;
    let start = start.map(|s| parse("start", &s)).transpose()?;
    let (store, _lock) = store_args.open_writer().await?;
    let engine = engine::Engine::start(store, engine::EngineConfig::default()).await?;
    if let Some(start) = start {
        if let Some(open) = loans::business_date(&engine).await? {
            anyhow::bail!(
                "--start: the business date {open} is already open; it moves only by close \
                 of business (`puhui cob --to DATE`)"
            );
        }
        loans::init_business_date(&engine, start).await?;
        if to.is_none() {
            match json {
                true => println!(
                    "{}",
                    serde_json::json!({"business_date": start.to_string(), "days": []})
                ),
                false => println!("business date is now {start}"),
            }
            return Ok(ExitCode::SUCCESS);
        }
    }
    let mut today = loans::business_date(&engine).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "no business date is open; pass --start YYYY-MM-DD (or start the server, which \
                 opens today's date)"
        )
    })?;
    let target = to.unwrap_or(today.succ());
    anyhow::ensure!(
        target > today,
        "the open business day {today} is not before {target}"
    );
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} closing {msg}: {pos} loans ({per_sec})")
            .expect("valid template"),
    );
    if json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let started = std::time::Instant::now();
    let mut days = Vec::new();
    while today < target {
        bar.set_message(today.to_string());
        bar.set_position(0);
        let t = std::time::Instant::now();
        let (opened, r) =
            engine::cob::close_business_day(&engine, engine::cob::CobConfig::default(), &|n| {
                bar.set_position(n)
            })
            .await?;
        anyhow::ensure!(opened == today.succ(), "close of {today} did not finish");
        days.push(serde_json::json!({
            "closed": today.to_string(),
            "loans_advanced": r.loans_advanced,
            "loans_quiet": r.loans_quiet,
            "entries_posted": r.entries_posted,
            "partitions_resumed_done": r.partitions_skipped,
            "partitions_from_workers": r.partitions_from_workers,
            "seconds": t.elapsed().as_secs_f64(),
        }));
        if !json {
            bar.println(format!(
                "closed {today}: {} loans ({} only accrued), {} entries in {:.2}s",
                r.loans_advanced,
                r.loans_quiet,
                r.entries_posted,
                t.elapsed().as_secs_f64()
            ));
        }
        today = opened;
    }
    bar.finish_and_clear();
    if json {
        let v = serde_json::json!({
            "business_date": today.to_string(),
            "days": days,
            "seconds": started.elapsed().as_secs_f64(),
        });
        println!("{v}");
    } else {
        println!("business date is now {today}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `puhui cob-worker`: plans partitions of whatever close of business is running, until
/// stopped or idle for `idle_exit_secs`.
pub async fn cob_worker(
    store_args: crate::cli::StoreArgs,
    idle_exit_secs: Option<u64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use engine::cob::workers as cob_workers;
    const CHUNK_LOANS: u32 = 4096;
    const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(50);
    // No writer lock: a worker writes only plans, beside the process that holds it.
    let store = store_args.open_beside_writer().await?;
    anyhow::ensure!(
        store.cob_queue().is_some(),
        "close-of-business workers need a PostgreSQL store (--database-url)"
    );
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}: {pos} partitions planned")
            .expect("valid template"),
    );
    if json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_message("waiting for close of business");
    let started = std::time::Instant::now();
    let (mut partitions, mut loans_read, mut quiet, mut to_write) = (0u64, 0u64, 0u64, 0u64);
    let mut idle_since = std::time::Instant::now();
    loop {
        match cob_workers::work_once(&store, CHUNK_LOANS).await? {
            Some(r) => {
                partitions += 1;
                loans_read += r.loans_read;
                quiet += r.quiet;
                to_write += r.to_write;
                bar.set_message(format!("closing {}", r.day.pred()));
                bar.set_position(partitions);
                idle_since = std::time::Instant::now();
            }
            None if idle_exit_secs.is_some_and(|s| idle_since.elapsed().as_secs() >= s) => break,
            None => tokio::time::sleep(IDLE_POLL).await,
        }
    }
    bar.finish_and_clear();
    let summary = serde_json::json!({
        "partitions_planned": partitions,
        "loans_read": loans_read,
        "loans_quiet": quiet,
        "loans_to_write": to_write,
        "seconds": started.elapsed().as_secs_f64(),
    });
    match json {
        true => println!("{summary}"),
        false => println!(
            "planned {partitions} partitions: {loans_read} loans read, {to_write} to write"
        ),
    }
    Ok(ExitCode::SUCCESS)
}
