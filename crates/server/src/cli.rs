//! The command line: `puhui serve | migrate | ledger verify | bench … | api-key create`.

use crate::app;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
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
    pub async fn open(&self) -> anyhow::Result<Store> {
        match &self.database_url {
            Some(url) if !url.is_empty() => Store::connect_postgres(url).await,
            _ => Store::open_sqlite(&self.data_dir),
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
    },
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
    /// open loan (accrual, billing, late fees, penalty, DPD, write-off). Resumable.
    Cob {
        #[command(flatten)]
        store: StoreArgs,
        /// Close days until this date is the open business day (default: one day).
        #[arg(long)]
        to: Option<String>,
        /// Open the first business day of a new installation.
        #[arg(long)]
        start: Option<String>,
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
    /// Term loans: schedules.
    Loan {
        #[command(subcommand)]
        cmd: crate::loan_cli::LoanCmd,
    },
    /// Revolving credit: the seeded book simulation.
    Revolving {
        #[command(subcommand)]
        cmd: crate::rc_cli::RevolvingCmd,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        cmd: crate::bench::BenchCmd,
    },
}

#[derive(Args)]
pub struct AprArgs {
    /// DATE:AMOUNT in major units, e.g. 1978-01-10:5000.00; repeat for several.
    #[arg(long = "advance", required = true)]
    pub advances: Vec<String>,
    /// DATE:AMOUNT, or DATE:AMOUNTxN for N monthly payments starting on DATE.
    #[arg(long = "payment", required = true)]
    pub payments: Vec<String>,
    /// month, semi_month, week, day, year or days:N; default month (the term itself for a
    /// single advance repaid by a single payment).
    #[arg(long)]
    pub unit_period: Option<String>,
    #[arg(long, default_value = "CNY")]
    pub currency: String,
    #[arg(long)]
    pub json: bool,
}

/// Expands `DATE:AMOUNT[xN]` into dated amounts (N monthly, same day of month, clamped).
fn parse_flows(
    args: &[String],
    currency: money::Currency,
) -> anyhow::Result<Vec<(money::BusinessDate, money::Money)>> {
    let mut out = Vec::new();
    for a in args {
        let (date, rest) = a
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("{a:?}: expected DATE:AMOUNT"))?;
        let (amount, count) = match rest.split_once('x') {
            Some((amt, n)) => (
                amt,
                n.parse::<u32>()
                    .map_err(|_| anyhow::anyhow!("{a:?}: bad repeat count"))?,
            ),
            None => (rest, 1),
        };
        anyhow::ensure!(
            (1..=1200).contains(&count),
            "{a:?}: repeat count must be 1 to 1200"
        );
        let start: money::BusinessDate = date.parse()?;
        let money = money::Money::parse_major(amount, currency)?;
        for k in 0..count {
            out.push((
                start
                    .add_months(k)
                    .ok_or_else(|| anyhow::anyhow!("date out of range"))?,
                money,
            ));
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
        println!(
            "APR {}% (unit period {}, {})",
            r.apr_percent, r.unit_period, r.method
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
        Cmd::Serve { store, listen } => serve(store, &listen).await,
        Cmd::Migrate { store } => {
            store.open().await?.migrate().await?;
            println!("schema is current");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Ledger {
            cmd: LedgerCmd::Verify { store, json },
        } => verify(store, json).await,
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
            let s = store.open().await?;
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
        Cmd::Revolving { cmd } => crate::rc_cli::run(cmd).await,
        Cmd::Loan { cmd } => crate::loan_cli::run(cmd),
        Cmd::Cob {
            store,
            to,
            start,
            json,
        } => crate::loan_cli::cob(store, to, start, json).await,
        Cmd::CobWorker {
            store,
            idle_exit_secs,
            json,
        } => crate::loan_cli::cob_worker(store, idle_exit_secs, json).await,
    }
}

async fn serve(store_args: StoreArgs, listen: &str) -> anyhow::Result<ExitCode> {
    let store = store_args.open().await?;
    let state = app::build_state(store.clone()).await?;
    app::bootstrap_key(
        &store,
        std::env::var("PUHUI_BOOTSTRAP_API_KEY").ok().as_deref(),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = store.backend_name(), "puhui listening");
    // Scripts and tests read this line to learn the port when listening on :0.
    println!("listening on http://{addr}");
    app::serve(state, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

async fn verify(store_args: StoreArgs, json: bool) -> anyhow::Result<ExitCode> {
    let store = store_args.open().await?;
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
        for a in report.bad_accounts.iter().chain(&report.bad_account_index) {
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
