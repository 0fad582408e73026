//! The command line: `puhui serve | migrate | ledger verify | bench … | api-key create`.

use crate::app;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use store::Store;

#[derive(Parser)]
#[command(name = "puhui", version, about = "Puhui lending core")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

/// Where the data lives: a SQLite data directory (the default) or a PostgreSQL URL.
#[derive(Args, Clone, Debug)]
pub struct StoreArgs {
    /// Data directory for the embedded SQLite store.
    #[arg(long, env = "PUHUI_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL; when given, it is used instead of the data directory.
    #[arg(long, env = "PUHUI_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl StoreArgs {
    /// Opens the store to write it, after taking its writer lock (held until the returned
    /// lock is dropped): refused while another process writes the same data directory or
    /// PostgreSQL database.
    pub async fn open_writer(&self) -> anyhow::Result<(Store, store::WriterLock)> {
        match &self.database_url {
            Some(url) if !url.is_empty() => {
                let lock = store::WriterLock::postgres(url).await?;
                Ok((Store::connect_postgres(url).await?, lock))
            }
            _ => {
                let lock = store::WriterLock::sqlite(&self.data_dir)?;
                Ok((Store::open_sqlite(&self.data_dir)?, lock))
            }
        }
    }

    /// Opens the store without the writer lock, for the processes that run beside the
    /// writer by design (close-of-business workers on PostgreSQL write only plans).
    pub async fn open_beside_writer(&self) -> anyhow::Result<Store> {
        match &self.database_url {
            Some(url) if !url.is_empty() => Store::connect_postgres(url).await,
            _ => Store::open_sqlite(&self.data_dir),
        }
    }
}

/// How long clients may take, and how many may be connected at once.
#[derive(Args, Clone, Debug)]
pub struct ServeLimits {
    /// Milliseconds from a request's first byte until its head (request line and headers)
    /// is complete; a slower connection is closed.
    #[arg(long, env = "PUHUI_HEADER_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
    /// Milliseconds from a request's head until its body is complete; a slower request is
    /// answered 408 and its connection closed.
    #[arg(long, env = "PUHUI_BODY_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_ms: u64,
    /// Milliseconds a connection may stay silent, before its first request or between
    /// requests, before it is closed.
    #[arg(long, env = "PUHUI_IDLE_TIMEOUT_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,
    /// Connections open at once; past it, new ones are closed as they arrive (and a warning
    /// is logged).
    #[arg(long, env = "PUHUI_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Routes that panic or stop the ledger writer, to test that failures are contained.
    #[arg(long, hide = true)]
    pub fault_injection: bool,
    /// A role's default requests per second per API key, as ROLE=N (repeat, or separate with
    /// commas); a key created with its own `rate_limit_per_s` keeps that. Over it: 429.
    #[arg(long = "rate-limit", env = "PUHUI_RATE_LIMITS", value_delimiter = ',')]
    pub rate_limit: Vec<String>,
}

impl ServeLimits {
    pub fn config(&self) -> app::ServeConfig {
        use std::time::Duration;
        app::ServeConfig {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_connections: self.max_connections as usize,
            fault_injection: self.fault_injection,
            rate_limits: self.rate_limit.clone(),
        }
    }
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Serve the HTTP API.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, env = "PUHUI_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// The first business date of a new installation (default: today's date, UTC). On a
        /// store whose business date is open, it must be that date.
        #[arg(long, env = "PUHUI_BUSINESS_DATE")]
        business_date: Option<String>,
        /// Close business every day at this time, UTC (HH:MM): the days before the calendar
        /// date close, so that today's date opens.
        #[arg(long, env = "PUHUI_COB_AT")]
        cob_at: Option<String>,
        /// A directory of rule pack files (*.json, docs/compliance.md); the built-in China
        /// and Regulation Z packs otherwise.
        #[arg(long, env = "PUHUI_RULE_PACKS")]
        rule_packs: Option<PathBuf>,
        /// Relay the event outbox to this NATS JetStream server (stream PUHUI_EVENTS,
        /// subjects `puhui.events.<type>`), as `puhui events relay` does.
        #[arg(long, env = "PUHUI_RELAY_NATS")]
        relay_nats: Option<String>,
        /// The early-warning rule file the risk monitor runs (docs/monitoring.md); the
        /// built-in pack otherwise (`puhui risk rules builtin` prints it).
        #[arg(long, env = "PUHUI_EARLY_WARNING_RULES")]
        early_warning_rules: Option<PathBuf>,
        #[command(flatten)]
        webhooks: crate::webhooks_cli::DeliveryArgs,
        #[command(flatten)]
        limits: ServeLimits,
        /// On a new data directory, build the seeded demo book first (`puhui demo`) and
        /// print an operator key for the console.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        demo_size: crate::demo::DemoSize,
    },
    /// Build a seeded demo book (borrowers, merchants, partner banks, term loans, credit
    /// lines, months of close of business) on a new data directory.
    Demo(crate::demo::DemoArgs),
    /// Create or upgrade the database schema.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Ledger maintenance.
    Ledger {
        #[command(subcommand)]
        cmd: LedgerCmd,
    },
    /// API key administration.
    ApiKey {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// APR of cash flows by the Regulation Z Appendix J actuarial method.
    Apr(AprArgs),
    /// Credit models: train from a CSV, score, report, import LightGBM/XGBoost models.
    Model {
        #[command(subcommand)]
        cmd: riskops::ModelCmd,
    },
    /// Close of business: advance the business date one day at a time, servicing every
    /// open loan (accrual, billing, late fees, penalty, DPD, write-off). Resumable. With
    /// `--server`, the running server closes the days and this command shows its progress;
    /// without, it opens the store itself, which is refused while a server runs on it.
    Cob {
        #[command(flatten)]
        store: StoreArgs,
        /// Close days until this date is the open business day (default: one day).
        #[arg(long)]
        to: Option<String>,
        /// Open the first business day of a new installation (and close nothing unless
        /// `--to` is given). Refused when a business date is already open.
        #[arg(long, conflicts_with = "server")]
        start: Option<String>,
        /// A running server's URL, e.g. http://127.0.0.1:8080: close business there.
        #[arg(long, env = "PUHUI_SERVER")]
        server: Option<String>,
        /// An operator API key for `--server`.
        #[arg(long, env = "PUHUI_API_KEY")]
        api_key: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Help a running close of business on PostgreSQL: claim its partitions (`FOR UPDATE
    /// SKIP LOCKED`), read their loans and hand the writing process what each day needs.
    /// Writes no ledger entry; any number may run, on any machine that reaches the database.
    CobWorker {
        #[command(flatten)]
        store: StoreArgs,
        /// Exit once no partition has been open for this many seconds (default: run until
        /// stopped).
        #[arg(long)]
        idle_exit_secs: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Term loans: schedules, recoveries after a write-off.
    Loan {
        #[command(subcommand)]
        cmd: crate::loan_cli::LoanCmd,
    },
    /// Securitization: deal files checked, projected, run and reported.
    Abs {
        #[command(subcommand)]
        cmd: crate::abs_cli::AbsCmd,
    },
    /// Co-lending: funding partners and funding plans.
    Colending {
        #[command(subcommand)]
        cmd: crate::colending_cli::ColendingCmd,
    },
    /// Revolving credit: the seeded book simulation.
    Revolving {
        #[command(subcommand)]
        cmd: crate::rc_cli::RevolvingCmd,
    },
    /// Real-time risk: a customer's risk state, early-warning rule files.
    Risk {
        #[command(subcommand)]
        cmd: crate::risk_cli::RiskCmd,
    },
    /// Emergency controls of a running server: halts, read-only mode, funders' outages.
    Controls {
        #[command(subcommand)]
        cmd: crate::controls_cli::ControlsCmd,
    },
    /// Domain events: the JetStream relay, the catalogue.
    Events {
        #[command(subcommand)]
        cmd: crate::events_cli::EventsCmd,
    },
    /// Webhook subscriptions and their delivery.
    Webhooks {
        #[command(subcommand)]
        cmd: crate::webhooks_cli::WebhooksCmd,
    },
    /// Portfolio analytics from month-end snapshots, and their export.
    Analytics {
        #[command(subcommand)]
        cmd: crate::analytics_cli::AnalyticsCmd,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        cmd: crate::bench::BenchCmd,
    },
    /// Online backup of the store, and restore into a new data directory or database.
    Backup {
        #[command(subcommand)]
        cmd: crate::backup_cli::BackupCmd,
    },
    /// The hash-chained audit log of changes and plaintext reads.
    Audit {
        #[command(subcommand)]
        cmd: crate::audit::AuditCmd,
    },
    /// Master keys of personal data: rotation.
    Keys {
        #[command(subcommand)]
        cmd: crate::customers_cli::KeysCmd,
    },
    /// Regulatory rule packs and the book report.
    Compliance {
        #[command(subcommand)]
        cmd: crate::customers_cli::ComplianceCmd,
    },
}

#[derive(Args)]
pub struct AprArgs {
    /// DATE:AMOUNT in major units, e.g. 1978-01-10:5000.00; repeat for several.
    #[arg(long = "advance", required = true)]
    pub advances: Vec<String>,
    /// DATE:AMOUNT, or DATE:AMOUNTxN for N monthly payments starting on DATE, or
    /// DATE:AMOUNTxN/UNIT for N payments UNIT apart (e.g. 1978-04-21:17.60x30/week).
    #[arg(long = "payment", required = true)]
    pub payments: Vec<String>,
    /// Override the unit-period Appendix J (b)(4) infers from the dates: day, week, 2week …
    /// 52week, semimonth, month, 2month, quarter, halfyear, … 11month, year, or Nday.
    #[arg(long)]
    pub unit_period: Option<String>,
    #[arg(long, default_value = "CNY")]
    pub currency: String,
    #[arg(long)]
    pub json: bool,
}

/// Expands `DATE:AMOUNT[xN[/UNIT]]` into dated amounts: N of them, a UNIT apart (a month
/// unless given), each counted from DATE so a series on the 31st stays on month ends.
fn parse_flows(
    args: &[String],
    currency: money::Currency,
) -> anyhow::Result<Vec<(money::BusinessDate, money::Money)>> {
    let mut out = Vec::new();
    for a in args {
        let (date, rest) = a
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("{a:?}: expected DATE:AMOUNT"))?;
        let (amount, count, step) = match rest.split_once('x') {
            Some((amt, repeat)) => {
                let (n, step) = match repeat.split_once('/') {
                    Some((n, unit)) => (
                        n,
                        unit.parse::<money::UnitPeriod>()
                            .map_err(|e| anyhow::anyhow!("{a:?}: {e}"))?,
                    ),
                    None => (repeat, money::UnitPeriod::MONTH),
                };
                let n = n
                    .parse::<u32>()
                    .map_err(|_| anyhow::anyhow!("{a:?}: bad repeat count"))?;
                (amt, n, step)
            }
            None => (rest, 1, money::UnitPeriod::MONTH),
        };
        anyhow::ensure!(
            (1..=1200).contains(&count),
            "{a:?}: repeat count must be 1 to 1200"
        );
        let start: money::BusinessDate = date.parse()?;
        let money = money::Money::parse_major(amount, currency)?;
        for k in 0..count {
            let date = step
                .nth_date(start, k)
                .ok_or_else(|| anyhow::anyhow!("date out of range"))?;
            out.push((date, money));
        }
    }
    Ok(out)
}

fn apr(a: AprArgs) -> anyhow::Result<ExitCode> {
    let currency: money::Currency = a.currency.parse()?;
    let adv = parse_flows(&a.advances, currency)?;
    let pay = parse_flows(&a.payments, currency)?;
    let unit = a
        .unit_period
        .as_deref()
        .map(|u| api::parse_unit_period("--unit-period", u))
        .transpose()
        .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
    let r = api::compute_apr(&adv, &pay, unit).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        let how = if r.unit_period_inferred {
            "inferred"
        } else {
            "given"
        };
        println!(
            "APR {}% (unit period {}, {how}, {} a year; {})",
            r.apr_percent, r.unit_period, r.unit_periods_per_year, r.method
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum LedgerCmd {
    /// Recompute hash chains, the Merkle root and every cached balance; exit 1 naming the
    /// first bad entry.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        json: bool,
    },
    /// Check that this ledger extends a signed tree head saved earlier (before a backup,
    /// say): its signature, its key, and the consistency proof to today's tree; exit 1 if not.
    Extends(crate::backup_cli::ExtendsArgs),
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Create an API key and print it (only its hash is stored).
    Create {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        role: String,
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "")]
        label: String,
        /// The party the key acts for: borrower, merchant, partner or investor (borrower
        /// and merchant keys must have one).
        #[arg(long, requires = "party_id")]
        party_kind: Option<String>,
        #[arg(long, requires = "party_kind")]
        party_id: Option<String>,
    },
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PUHUI_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("PUHUI_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    // Blocking work is SQLite calls (a handful of connections) and planning; more threads
    // than that only queue on the connections' locks, and each keeps allocator memory.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(16)
        .build()
        .expect("start tokio runtime");
    match rt.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Serve {
            store,
            listen,
            business_date,
            cob_at,
            rule_packs,
            relay_nats,
            webhooks,
            early_warning_rules,
            limits,
            demo,
            demo_size,
        } => {
            let relay = relay_nats.map(crate::events_relay::RelayArgs::defaults);
            let relay = (relay, webhooks.config());
            let demo = demo.then_some(demo_size);
            // Bad rules stop the start, naming the field, before anything is opened.
            let early_warning = crate::risk_cli::load_rules(early_warning_rules.as_deref())?;
            serve(
                store,
                &listen,
                business_date,
                (cob_at, relay, early_warning),
                rule_packs,
                limits.config(),
                demo,
            )
            .await
        }
        Cmd::Demo(args) => crate::demo::run(args).await,
        Cmd::Migrate { store } => {
            let (s, _lock) = store.open_writer().await?;
            s.migrate().await?;
            println!("schema is current");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Ledger {
            cmd: LedgerCmd::Verify { store, json },
        } => verify(store, json).await,
        Cmd::Ledger {
            cmd: LedgerCmd::Extends(a),
        } => crate::backup_cli::extends(a).await,
        Cmd::Backup { cmd } => crate::backup_cli::run(cmd).await,
        Cmd::ApiKey {
            cmd:
                KeyCmd::Create {
                    store,
                    role,
                    tenant,
                    label,
                    party_kind,
                    party_id,
                },
        } => {
            let (s, _lock) = store.open_writer().await?;
            s.migrate().await?;
            let role: crate::auth::Role = role.parse().map_err(anyhow::Error::msg)?;
            if let Some(k) = &party_kind {
                k.parse::<crate::auth::PartyKind>()
                    .map_err(anyhow::Error::msg)?;
            }
            anyhow::ensure!(
                party_kind.is_some()
                    || !matches!(
                        role,
                        crate::auth::Role::Borrower | crate::auth::Role::Merchant
                    ),
                "a {} key must be bound to its party (--party-kind, --party-id)",
                role.as_str()
            );
            let key = crate::auth::generate_key();
            s.insert_api_key(store::ApiKeyRow {
                key_hash: crate::auth::hash_key(&key),
                role: role.as_str().into(),
                tenant,
                label,
                party_kind,
                party_id,
                expires_at_ms: None,
                revoked_at_ms: None,
                rate_limit_per_s: None,
            })
            .await?;
            println!("{key}");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Apr(a) => apr(a),
        // Training is CPU-bound and synchronous: keep it off the async workers.
        Cmd::Model { cmd } => tokio::task::spawn_blocking(move || riskops::run(cmd))
            .await?
            .map(|()| ExitCode::SUCCESS),
        Cmd::Bench { cmd } => crate::bench::run(cmd).await,
        Cmd::Audit { cmd } => crate::audit::run(cmd).await,
        Cmd::Analytics { cmd } => crate::analytics_cli::run(cmd).await,
        Cmd::Keys { cmd } => crate::customers_cli::keys(cmd).await,
        Cmd::Compliance { cmd } => crate::customers_cli::compliance(cmd).await,
        Cmd::Revolving { cmd } => crate::rc_cli::run(cmd).await,
        Cmd::Abs { cmd } => crate::abs_cli::run_async(cmd).await,
        Cmd::Colending { cmd } => crate::colending_cli::run(cmd).await,
        Cmd::Controls { cmd } => crate::controls_cli::run(cmd).await,
        Cmd::Events { cmd } => crate::events_cli::run(cmd).await,
        Cmd::Webhooks { cmd } => crate::webhooks_cli::run(cmd).await,
        Cmd::Risk { cmd } => crate::risk_cli::run(cmd).await,
        Cmd::Loan { cmd } => crate::loan_cli::run(cmd).await,
        Cmd::Cob {
            server: Some(server),
            api_key,
            to,
            json,
            ..
        } => crate::cob_client::run(&server, api_key, to, json).await,
        Cmd::Cob {
            store,
            to,
            start,
            json,
            ..
        } => crate::loan_cli::cob(store, to, start, json).await,
        Cmd::CobWorker {
            store,
            idle_exit_secs,
            json,
        } => crate::loan_cli::cob_worker(store, idle_exit_secs, json).await,
    }
}

async fn serve(
    store_args: StoreArgs,
    listen: &str,
    business_date: Option<String>,
    (cob_at, (relay, webhooks), early_warning): (
        Option<String>,
        (
            Option<crate::events_relay::RelayArgs>,
            engine::webhooks::DeliveryConfig,
        ),
        risk::early_warning::RulePack,
    ),
    rule_packs: Option<PathBuf>,
    config: app::ServeConfig,
    demo: Option<crate::demo::DemoSize>,
) -> anyhow::Result<ExitCode> {
    let business_date = business_date
        .map(|d| d.parse::<money::BusinessDate>())
        .transpose()
        .map_err(|_| anyhow::anyhow!("--business-date: must be a date YYYY-MM-DD"))?;
    let cob_at = cob_at
        .map(|t| crate::cob_runs::parse_time_of_day(&t))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--cob-at: {e}"))?;
    crate::listen::raise_open_file_limit(config.max_connections);
    let (store, _lock) = store_args.open_writer().await?;
    let state = app::build_state(store.clone()).await?;
    crate::customers_cli::configure(&state, &store_args, rule_packs.as_deref())?;
    if let Some(size) = demo {
        crate::demo::prepare_for_serve(&state, size, listen).await?;
    }
    let open = open_first_day(&state.engine, business_date).await?;
    tracing::info!(business_date = %open, "business date");
    if let Some(minute) = cob_at {
        tokio::spawn(crate::cob_runs::schedule(
            state.cob.clone(),
            state.engine.clone(),
            minute,
        ));
    }
    if let Some(relay) = relay {
        tokio::spawn(crate::events_relay::supervise(store.clone(), relay));
    }
    tokio::spawn(engine::webhooks::supervise(
        store.clone(),
        webhooks,
        state.engine.clock(),
    ));
    tracing::info!(version = %early_warning.version, rules = early_warning.rules.len(), "early-warning rules");
    tokio::spawn(
        engine::monitor::Monitor::new(state.engine.clone(), early_warning)
            .run(std::time::Duration::from_millis(10), engine::monitor::PACE),
    );
    app::bootstrap_key(
        &store,
        std::env::var("PUHUI_BOOTSTRAP_API_KEY").ok().as_deref(),
    )
    .await?;
    let listener = crate::listen::bind(listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = store.backend_name(), "puhui listening");
    // Scripts and tests read this line to learn the port when listening on :0.
    println!("listening on http://{addr}");
    let engine = state.engine.clone();
    let writer_stopped = Arc::new(AtomicBool::new(false));
    let stopped = writer_stopped.clone();
    app::serve_with(state, listener, config, async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = engine.writer_stopped() => {
                stopped.store(true, Ordering::SeqCst);
                tracing::error!(
                    "the ledger writer has stopped: /healthz answers 503, open requests are \
                     finished, and the process exits non-zero so that its supervisor starts \
                     a fresh one"
                );
            }
        }
    })
    .await?;
    // Nothing can commit without the writer, so serving on would only fail every write.
    anyhow::ensure!(
        !writer_stopped.load(Ordering::SeqCst),
        "the ledger writer stopped; exiting so that a fresh process can take over"
    );
    Ok(ExitCode::SUCCESS)
}

/// Opens the first business date of a new installation (`--business-date`, or today's date
/// in UTC), so that it is usable at once; on an installation whose date is open, checks that
/// `--business-date`, if given, is that date.
async fn open_first_day(
    engine: &engine::Engine,
    asked: Option<money::BusinessDate>,
) -> anyhow::Result<money::BusinessDate> {
    use engine::loans;
    if let Some(open) = loans::business_date(engine).await? {
        anyhow::ensure!(
            asked.is_none_or(|a| a == open),
            "--business-date: the business date {open} is already open; \
             it moves only by close of business"
        );
        return Ok(open);
    }
    let today = money::BusinessDate::from_epoch_days(
        (crate::cob_runs::now_ms().div_euclid(86_400_000)) as i32,
    )
    .ok_or_else(|| anyhow::anyhow!("the system clock is out of range"))?;
    let open = loans::init_business_date(engine, asked.unwrap_or(today)).await?;
    Ok(open)
}

/// Offline: verification reads the store in many queries, so it runs only while no other
/// process writes (it takes the writer lock like any writer, and refuses beside a server).
async fn verify(store_args: StoreArgs, json: bool) -> anyhow::Result<ExitCode> {
    let (store, _lock) = store_args.open_writer().await?;
    store.migrate().await?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} verified {pos} entries ({per_sec})")
            .expect("valid template"),
    );
    if json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let report = engine::verify(&store, |n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    if json {
        let v = serde_json::json!({
            "ok": report.ok(),
            "entries_checked": report.entries_checked,
            "accounts_checked": report.accounts_checked,
            "tree_size": report.tree_size,
            "root_hash": hex::encode(report.root_hash),
            "first_bad_entry": report.first_bad_entry.as_ref().map(|b| serde_json::json!({"seq": b.seq, "id": b.id, "reason": b.reason})),
            "bad_accounts": report.bad_accounts,
            "bad_account_index": report.bad_account_index,
            "bad_positions": report.bad_positions,
        });
        println!("{v}");
    } else {
        println!(
            "entries checked: {}, accounts checked: {}, root {}",
            report.entries_checked,
            report.accounts_checked,
            hex::encode(report.root_hash)
        );
        if let Some(b) = &report.first_bad_entry {
            println!("BAD ENTRY seq {} id {}: {}", b.seq, b.id, b.reason);
        }
        for a in report
            .bad_accounts
            .iter()
            .chain(&report.bad_account_index)
            .chain(&report.bad_positions)
        {
            println!("BAD {a}");
        }
        println!(
            "{}",
            if report.ok() {
                "ledger verified"
            } else {
                "ledger verification FAILED"
            }
        );
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
