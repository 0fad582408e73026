//! `puhui revolving simulate` and `puhui bench authorize`: the revolving-credit book run
//! through a seeded year, and purchase throughput measured in-process.

use crate::bench::ScratchStore;
use clap::{Args, Subcommand};
use engine::rc_simulation::{self, RcSimConfig};
use engine::revolving::{self as rc, BorrowerKind, NewLine, NewMerchant, NewPurchase};
use engine::{Engine, EngineConfig};
use money::Currency;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

#[derive(Subcommand)]
pub enum RevolvingCmd {
    /// A seeded book of credit lines through every close of business of a period, checking
    /// the ledger balances every day and the line promises at the end.
    Simulate {
        #[command(flatten)]
        target: ScratchStore,
        #[arg(long, default_value_t = 5_000)]
        lines: u32,
        #[arg(long, default_value_t = 50)]
        merchants: u32,
        #[arg(long, default_value_t = 365)]
        days: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct AuthorizeArgs {
    #[command(flatten)]
    target: ScratchStore,
    /// Purchases, each an authorization then its capture.
    #[arg(long, default_value_t = 100_000)]
    purchases: u64,
    /// Concurrent clients, each waiting for its previous purchase.
    #[arg(long, default_value_t = 512)]
    concurrency: u64,
    /// Credit lines the purchases spread over.
    #[arg(long, default_value_t = 10_000)]
    lines: u64,
    /// One-step sales (authorization and capture in one commit, as `"capture": true` over
    /// HTTP) instead of an authorization followed by its capture.
    #[arg(long)]
    sale: bool,
    /// Commit without outbox events, to measure what they cost.
    #[arg(long)]
    no_events: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(cmd: RevolvingCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        RevolvingCmd::Simulate {
            target,
            lines,
            merchants,
            days,
            seed,
            json,
        } => {
            let (s, _dir) = target.open().await?;
            let engine = Engine::start(s, EngineConfig::default()).await?;
            let bar = indicatif::ProgressBar::new(u64::from(days));
            if json {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let config = RcSimConfig {
                lines,
                merchants,
                days,
                seed,
                start: money::BusinessDate::from_ymd(2026, 1, 1).expect("valid date"),
            };
            let r =
                rc_simulation::run(&engine, config, &|d| bar.set_position(u64::from(d))).await?;
            bar.finish_and_clear();
            let (peak, _) = crate::bench::rss_mib();
            let out = serde_json::json!({
                "store": format!("{:?}", target.store).to_lowercase(),
                "lines": r.lines, "days": r.days, "purchases": r.purchases,
                "declined": r.declined, "refunds": r.refunds, "conversions": r.conversions,
                "repayments": r.repayments, "statements": r.statements,
                "balanced_days": r.balanced_days,
                "full_payer_lines": r.full_payer_lines,
                "full_payer_interest_minor": r.full_payer_interest_minor,
                "other_interest_minor": r.other_interest_minor,
                "funder_outflow_entries": r.funder_outflow_entries,
                "funder_outflow_minor": r.funder_outflow_minor,
                "seconds": r.seconds, "peak_rss_mib": peak,
            });
            if json {
                println!("{out}");
            } else {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(serde::Serialize)]
pub struct AuthorizeBench {
    pub store: String,
    pub purchases: u64,
    pub declined: u64,
    pub seconds: f64,
    pub purchases_per_s: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub concurrency: u64,
    pub lines: u64,
    /// Whether each purchase was a one-step sale.
    pub sale: bool,
}

pub async fn bench(args: AuthorizeArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.purchases > 0 && args.concurrency > 0 && args.lines > 0,
        "purchases, concurrency and lines must be positive"
    );
    let (s, _dir) = args.target.open().await?;
    let name = s.backend_name().to_string();
    engine::events::set_outbox_enabled(!args.no_events);
    let engine = Engine::start(s, EngineConfig::default()).await?;
    let (merchant, lines) = setup(&engine, args.lines).await?;
    let bar = indicatif::ProgressBar::new(args.purchases);
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let next = Arc::new(AtomicU64::new(0));
    let declined = Arc::new(AtomicU64::new(0));
    let lines = Arc::new(lines);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (engine, next, declined, lines, bar) = (
            engine.clone(),
            next.clone(),
            declined.clone(),
            lines.clone(),
            bar.clone(),
        );
        let (n, sale) = (args.purchases, args.sale);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(lat);
                }
                let line_id = lines[(i.wrapping_mul(2_654_435_761) % lines.len() as u64) as usize];
                let started = Instant::now();
                if !purchase(&engine, line_id, merchant, sale).await? {
                    declined.fetch_add(1, Ordering::Relaxed);
                }
                lat.push(started.elapsed().as_micros() as u64);
                bar.inc(1);
            }
        }));
    }
    let mut lat = Vec::with_capacity(args.purchases as usize);
    for task in tasks {
        lat.extend(task.await??);
    }
    let seconds = t.elapsed().as_secs_f64();
    bar.finish_and_clear();
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let r = AuthorizeBench {
        store: name,
        purchases: args.purchases,
        declined: declined.load(Ordering::Relaxed),
        seconds,
        purchases_per_s: args.purchases as f64 / seconds,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        max_us: *lat.last().unwrap_or(&0),
        concurrency: args.concurrency,
        lines: args.lines,
        sale: args.sale,
    };
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{} purchases ({}) in {:.2}s on {}: {:.0} purchases/s; latency p50 {} µs, p99 {} µs, max {} µs ({} declined; concurrency {}, {} lines)",
            r.purchases, if args.sale { "one-step sales" } else { "authorize + capture" }, r.seconds, r.store, r.purchases_per_s, r.p50_us, r.p99_us, r.max_us, r.declined, r.concurrency, r.lines
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One merchant and `n` lines with limits far above what the run spends.
async fn setup(engine: &Engine, n: u64) -> anyhow::Result<(Uuid, Vec<Uuid>)> {
    engine::loans::init_business_date(engine, money::BusinessDate::from_ymd(2026, 1, 5)?).await?;
    let merchant = Uuid::now_v7();
    rc::create_merchant(
        engine,
        "bench",
        NewMerchant {
            id: merchant,
            name: "bench merchant".into(),
            currency: Currency::Cny,
            discount_rate: money::Decimal::new(8, 3),
            settlement_account: "bank:bench".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tasks = tokio::task::JoinSet::new();
    let mut lines = Vec::new();
    for i in 0..n {
        let (borrower, id) = (Uuid::now_v7(), Uuid::now_v7());
        lines.push(id);
        let engine = engine.clone();
        tasks.spawn(async move {
            rc::create_borrower(
                &engine,
                borrower,
                "bench",
                BorrowerKind::Individual,
                format!("b{i}"),
            )
            .await?;
            rc::open_line(
                &engine,
                "bench",
                NewLine {
                    id,
                    borrower_id: borrower,
                    limit_minor: 1_000_000_000,
                    terms: revolving::Terms::standard(Currency::Cny),
                    rules: revolving::LimitRules::default(),
                },
            )
            .await?;
            Ok::<_, rc::RevolvingError>(())
        });
        if tasks.len() >= 512 {
            if let Some(r) = tasks.join_next().await {
                r?.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
    }
    while let Some(r) = tasks.join_next().await {
        r?.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok((merchant, lines))
}

/// Authorize then capture, or sell in one step; `false` when declined.
async fn purchase(
    engine: &Engine,
    line_id: Uuid,
    merchant_id: Uuid,
    sale: bool,
) -> anyhow::Result<bool> {
    let id = Uuid::now_v7();
    let p = NewPurchase {
        id,
        line_id,
        merchant_id,
        currency: Currency::Cny,
        amount_minor: 12_345,
    };
    if sale {
        return match rc::sale(engine, "bench", p).await {
            Ok(_) => Ok(true),
            Err(rc::RevolvingError::Declined { .. }) => Ok(false),
            Err(e) => anyhow::bail!("sale: {e}"),
        };
    }
    match rc::authorize(engine, "bench", p).await {
        Ok(_) => {}
        Err(rc::RevolvingError::Declined { .. }) => return Ok(false),
        Err(e) => anyhow::bail!("authorize: {e}"),
    }
    rc::capture(engine, "bench", id, None)
        .await
        .map_err(|e| anyhow::anyhow!("capture: {e}"))?;
    Ok(true)
}
