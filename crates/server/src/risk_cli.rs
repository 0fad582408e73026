//! `puhui risk state | rules validate | rules builtin`, the early-warning rule file the
//! server loads, and `puhui bench risk-lag`.

use crate::bench::ScratchStore;
use crate::cli::StoreArgs;
use clap::Subcommand;
use engine::monitor::{self, Monitor, NewSignal};
use engine::revolving::{self as rc, BorrowerKind, NewLine, NewMerchant, NewPurchase};
use engine::{Engine, EngineConfig};
use money::Currency;
use risk::early_warning::{default_pack, RulePack, SignalKind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Subcommand)]
pub enum RiskCmd {
    /// A customer's risk state as the risk monitor keeps it (reads the store; safe beside a
    /// running server).
    State {
        customer: String,
        #[command(flatten)]
        store: StoreArgs,
        /// Only in this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Early-warning rule files (docs/monitoring.md).
    Rules {
        #[command(subcommand)]
        cmd: RulesCmd,
    },
}

#[derive(Subcommand)]
pub enum RulesCmd {
    /// Check a rule file; prints its rules, or the field at fault (exit status 1).
    Validate { file: PathBuf },
    /// Print the built-in rule pack as a file to start from.
    Builtin,
}

/// The rule pack `serve --early-warning-rules FILE` runs, or the built-in one.
pub fn load_rules(file: Option<&Path>) -> anyhow::Result<RulePack> {
    let Some(f) = file else {
        return Ok(default_pack());
    };
    let text = std::fs::read_to_string(f)
        .map_err(|e| anyhow::anyhow!("early-warning rules {}: {e}", f.display()))?;
    monitor::rules::parse_pack(&text)
        .map_err(|e| anyhow::anyhow!("early-warning rules {}: {e}", f.display()))
}

pub async fn run(cmd: RiskCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        RiskCmd::State {
            customer,
            store,
            tenant,
        } => {
            let id = Uuid::parse_str(&customer)
                .map_err(|_| anyhow::anyhow!("CUSTOMER: must be a customer id (UUID)"))?;
            let s = store.open_beside_writer().await?;
            let tenant = tenant.unwrap_or_else(|| "*".into());
            let state = monitor::risk_state_in(&s, &tenant, id)
                .await
                .map_err(|e| anyhow::anyhow!("customer {id}: {e}"))?;
            let body = api::RiskStateResponse::of(&state);
            println!("{}", serde_json::to_string_pretty(&body)?);
            Ok(ExitCode::SUCCESS)
        }
        RiskCmd::Rules {
            cmd: RulesCmd::Validate { file },
        } => match load_rules(Some(&file)) {
            Ok(pack) => {
                println!("{}: version {}", file.display(), pack.version);
                for r in &pack.rules {
                    let actions: Vec<&str> = r.actions.iter().map(|a| a.name()).collect();
                    let to = r.effective_to.map_or("open".into(), |d| d.to_string());
                    println!(
                        "  {} ({} to {to}): {}",
                        r.id,
                        r.effective_from,
                        actions.join(", ")
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                Ok(ExitCode::from(1))
            }
        },
        RiskCmd::Rules {
            cmd: RulesCmd::Builtin,
        } => {
            println!("{}", serde_json::to_string_pretty(&default_pack())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(clap::Args)]
pub struct RiskLagArgs {
    #[command(flatten)]
    target: ScratchStore,
    /// Customers with a credit line that the load buys on.
    #[arg(long, default_value_t = 300)]
    customers: u64,
    /// Concurrent clients buying on those lines while lags are measured.
    #[arg(long, default_value_t = 64)]
    concurrency: u64,
    /// Signals posted, one every `--signal-interval-ms`, each for a customer of its own.
    #[arg(long, default_value_t = 200)]
    signals: u64,
    /// Milliseconds between two signals.
    #[arg(long, default_value_t = 25)]
    signal_interval_ms: u64,
    /// Customers with a line and a term loan whose first installment goes unpaid: close of
    /// business records the missed payments all on one day.
    #[arg(long, default_value_t = 100)]
    delinquent: u64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn customer_with_line(e: &Engine, limit_minor: i64) -> anyhow::Result<(Uuid, Uuid)> {
    let c = Uuid::now_v7();
    rc::create_borrower(e, c, "bench", BorrowerKind::Individual, "bench".into()).await?;
    let line = Uuid::now_v7();
    rc::open_line(
        e,
        "bench",
        NewLine {
            id: line,
            borrower_id: c,
            limit_minor,
            terms: revolving::Terms::standard(Currency::Cny),
            rules: revolving::LimitRules::default(),
        },
    )
    .await?;
    Ok((c, line))
}

/// When each cause and each action became visible in the outbox, by sequence number; a
/// reader polling every millisecond sees a commit within about that of it.
#[derive(Default)]
struct Seen {
    causes: std::collections::HashMap<i64, Instant>,
    /// (cause seq, rule, seen) of each action, first per cause and rule.
    actions: Vec<(i64, String, Instant)>,
}

async fn observe(s: store::Store, from: i64, stop: Arc<AtomicBool>) -> anyhow::Result<Seen> {
    let mut seen = Seen::default();
    let mut after = from;
    let mut acted = std::collections::HashSet::new();
    while !stop.load(Ordering::Relaxed) {
        let page = s
            .events(store::EventFilter {
                after,
                kinds: vec![
                    "loan.payment_missed".into(),
                    "risk.signal_received".into(),
                    "risk.action_taken".into(),
                ],
                tenant: None,
                limit: 5_000,
            })
            .await?;
        let now = Instant::now();
        for e in &page {
            if e.event.kind == "risk.action_taken" {
                let p: serde_json::Value = serde_json::from_str(&e.event.payload)?;
                let cause = p["cause_seq"].as_i64().unwrap_or(0);
                let rule = p["rule_id"].as_str().unwrap_or("").to_string();
                if acted.insert((cause, rule.clone())) {
                    seen.actions.push((cause, rule, now));
                }
            } else {
                seen.causes.insert(e.seq, now);
            }
        }
        match page.last() {
            Some(last) => after = last.seq,
            None => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
    Ok(seen)
}

/// The lag from the commit of an event (a signal, a missed payment) to the commit of the
/// early-warning action it causes, while concurrent clients buy on credit lines (every
/// purchase is an event the monitor reads and applies too).
pub async fn bench_lag(args: RiskLagArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.customers > 0 && args.concurrency > 0,
        "--customers and --concurrency must be positive"
    );
    let (s, _dir) = args.target.open().await?;
    let backend = s.backend_name();
    let e = Engine::start(s.clone(), EngineConfig::default()).await?;
    let start: money::BusinessDate = "2026-01-15".parse()?;
    engine::loans::init_business_date(&e, start).await?;
    let merchant = Uuid::now_v7();
    rc::create_merchant(
        &e,
        "bench",
        NewMerchant {
            id: merchant,
            name: "bench".into(),
            currency: Currency::Cny,
            discount_rate: "0.006".parse()?,
            settlement_account: "bank:bench".into(),
        },
    )
    .await?;
    let mut lines = Vec::new();
    for _ in 0..args.customers {
        lines.push(customer_with_line(&e, 1_000_000_000).await?.1);
    }
    let mut targets = Vec::new();
    for _ in 0..args.signals {
        targets.push(customer_with_line(&e, 1_000_000).await?.0);
    }
    for _ in 0..args.delinquent {
        let (c, _) = customer_with_line(&e, 1_000_000).await?;
        let config = lending::loan::LoanConfig::from_product(
            &lending::LoanProduct::example_cny(),
            money::Money::from_minor(1_000_000, Currency::Cny),
            6,
            90,
        )?;
        engine::loans::originate(
            &e,
            engine::loans::Application {
                id: Uuid::now_v7(),
                tenant: "bench".into(),
                borrower: c.to_string(),
                product_id: Uuid::nil(),
                product_version: 1,
                config,
                decision_id: None,
            },
            None,
            start,
            Uuid::now_v7(),
        )
        .await?;
    }
    // The monitor first catches up with the setup's events.
    let mut m = Monitor::new(e.clone(), default_pack());
    while m.run_once().await? > 0 {}
    let monitor = tokio::spawn(m.run(Duration::from_millis(5), engine::monitor::PACE));
    let stop_observer = Arc::new(AtomicBool::new(false));
    let observer = tokio::spawn(observe(
        s.clone(),
        s.events_head().await?,
        stop_observer.clone(),
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let bought = Arc::new(AtomicU64::new(0));
    let lines = Arc::new(lines);
    let mut load = Vec::new();
    for k in 0..args.concurrency {
        let (e, stop, bought, lines) = (e.clone(), stop.clone(), bought.clone(), lines.clone());
        load.push(tokio::spawn(async move {
            let mut i = k as usize;
            while !stop.load(Ordering::Relaxed) {
                let line_id = lines[i % lines.len()];
                i += args.concurrency as usize;
                let p = NewPurchase {
                    id: Uuid::now_v7(),
                    line_id,
                    merchant_id: merchant,
                    currency: Currency::Cny,
                    amount_minor: 100,
                };
                // Close of business may lower an unpaid line to what it uses (its limit
                // rules): a decline is the line's answer, not a failure of the run.
                match rc::sale(&e, "bench", p).await {
                    Ok(_) => {
                        bought.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(rc::RevolvingError::Declined { .. }) => {}
                    Err(rc::RevolvingError::Conflict { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            anyhow::Ok(())
        }));
    }
    // Let the load reach its pace before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let head_before = s.events_head().await?;
    let bought_before = bought.load(Ordering::Relaxed);
    let t = Instant::now();
    for c in targets {
        monitor::post_signal(
            &e,
            "bench",
            c,
            Uuid::now_v7(),
            NewSignal {
                kind: SignalKind::MultiBorrowing,
                amount_minor: None,
                currency: None,
                detail: None,
            },
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(args.signal_interval_ms)).await;
    }
    // Close business past the first due date: every delinquent loan misses it on one day.
    let mut days = 0;
    if args.delinquent > 0 {
        while days < 40 {
            engine::cob::close_business_day(&e, engine::cob::CobConfig::default(), &|_| {}).await?;
            days += 1;
        }
    }
    // Wait for every action (bounded: a stuck monitor fails the run instead of hanging).
    let expected = args.signals + 2 * args.delinquent;
    let counted = Instant::now();
    loop {
        let n = s
            .events(store::EventFilter {
                after: head_before,
                kinds: vec!["risk.action_taken".into()],
                tenant: None,
                limit: 100_000,
            })
            .await?
            .len() as u64;
        if n >= expected {
            break;
        }
        anyhow::ensure!(
            counted.elapsed() < Duration::from_secs(120),
            "only {n} of {expected} actions after two minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let secs = t.elapsed().as_secs_f64();
    let purchases = bought.load(Ordering::Relaxed) - bought_before;
    let events = s.events_head().await? - head_before;
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await??;
    }
    stop_observer.store(true, Ordering::Relaxed);
    let seen = observer.await??;
    monitor.abort();
    let mut by_rule: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for (cause, rule, at) in &seen.actions {
        if let Some(c) = seen.causes.get(cause) {
            by_rule
                .entry(rule.clone())
                .or_default()
                .push(at.saturating_duration_since(*c).as_secs_f64());
        }
    }
    let ms = |x: f64| x * 1000.0;
    println!(
        "risk monitor on {backend}: lag from the cause's commit to its action's commit \
         (outbox polled every 1 ms):"
    );
    for (rule, lags) in &mut by_rule {
        lags.sort_by(f64::total_cmp);
        println!(
            "  {rule}: {} actions, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            lags.len(),
            ms(percentile(lags, 0.5)),
            ms(percentile(lags, 0.99)),
            ms(*lags.last().expect("non-empty")),
        );
    }
    println!(
        "load meanwhile: {purchases} purchases ({:.0}/s) from {} clients on {} lines, \
         {days} days of close of business; {events} events ({:.0}/s) read by the monitor",
        purchases as f64 / secs,
        args.concurrency,
        args.customers,
        events as f64 / secs,
    );
    Ok(ExitCode::SUCCESS)
}
