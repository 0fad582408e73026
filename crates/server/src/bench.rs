//! `puhui bench …`: throughput and latency measured in-process against a fresh store.

use clap::{Args, Subcommand, ValueEnum};
use engine::{Command, Engine, EngineConfig, Outcome};
use ledger::{AccountId, EntryId, EntryRequest, Posting, Side};
use money::Currency;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use store::Store;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Customers created in process, each with its personal data sealed, a blind index and
    /// a durable commit, from concurrent clients.
    Customers(crate::customers_bench::CustomersArgs),
    /// Purchases on credit lines, each an authorization (a ledger hold) and its capture,
    /// from concurrent clients, durably.
    Authorize(crate::rc_cli::AuthorizeArgs),
    /// Vintage curves and roll rates over a seeded book of month-end snapshots.
    Analytics(crate::analytics_bench::AnalyticsBenchArgs),
    /// Decisions stored with their events, the event feed's and the relay's events/s.
    Events(crate::events_cli::EventsBenchArgs),
    /// Webhook deliveries to a local receiver that verifies each signature: one pass of
    /// the worker over a fresh store's events.
    Webhooks(crate::webhooks_cli::WebhooksBenchArgs),
    /// The risk monitor's lag from a signal's commit to its early-warning action's commit,
    /// under a load of concurrent purchases.
    RiskLag(crate::risk_cli::RiskLagArgs),
    /// Full in-process credit decisions (features, model, rules, price, limit, canonical
    /// output hash), one at a time on one thread; no database.
    Decision {
        #[arg(long, default_value_t = 100_000)]
        decisions: u64,
        /// Model file (default: the shipped German scorecard).
        #[arg(long, env = "PUHUI_DECISION_MODEL")]
        model: Option<std::path::PathBuf>,
        /// Policy file (default: the shipped policy).
        #[arg(long, env = "PUHUI_DECISION_POLICY")]
        policy: Option<std::path::PathBuf>,
        /// Each decision first opens its applicant's sealed personal data (name, identity
        /// number, phone, bank card: four AES-256-GCM fields), as a decision naming a
        /// customer does; compare with a run without it for what encryption adds.
        #[arg(long)]
        open_customer: bool,
        #[arg(long)]
        json: bool,
    },
    /// Post balanced two-posting entries, durably, from concurrent clients.
    Ledger {
        #[command(flatten)]
        target: ScratchStore,
        #[arg(long, default_value_t = 200_000)]
        entries: u64,
        /// Concurrent clients, each waiting for its previous request.
        #[arg(long, default_value_t = 1024)]
        concurrency: u64,
        /// Entries per request (a linked batch); 1 posts entries one by one.
        #[arg(long, default_value_t = 1)]
        batch: u64,
        #[arg(long, default_value_t = 1000)]
        accounts: u64,
        #[arg(long)]
        json: bool,
    },
    /// One close of business over N open loans (set up first, not timed).
    ///
    /// The loans are disbursed on 2026-01-15 with their repayment days spread over the
    /// first `--due-days` days of the month, and the days up to 2026-02-02 are closed
    /// untimed. The timed day is 2026-02-03: the loans due that day bill, those due on the
    /// 1st and 2nd are overdue (nobody repays here), and the rest only accrue. With
    /// `--due-days 1` every loan is overdue on the timed day: the worst case.
    Cob {
        #[command(flatten)]
        target: ScratchStore,
        #[arg(long, default_value_t = 100_000)]
        loans: u64,
        #[arg(long, default_value_t = 28, value_parser = clap::value_parser!(u8).range(1..=28))]
        due_days: u8,
        #[arg(long)]
        json: bool,
        /// `puhui cob-worker` processes started beside the timed day (PostgreSQL only).
        #[arg(long, default_value_t = 0)]
        workers: u32,
        /// Keep the SQLite directory afterwards (its path goes to stderr), so that later
        /// days can be closed on it with `puhui --data-dir DIR cob` in a fresh process.
        #[arg(long)]
        keep_data: bool,
        /// Funders per loan: 1 (no funding plan), 2 (the platform 0.35 and a bank at a 6.8%
        /// yield 0.65) or 3 (the platform 0.35, the bank 0.4, a trust pro rata 0.25), all
        /// approving automatically; close of business moves their positions.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
        funders: u8,
        /// Write no domain events (the outbox), to see what they cost the day.
        #[arg(long)]
        no_events: bool,
    },
}

/// Where a benchmark or simulation runs: a fresh SQLite directory or PostgreSQL database.
#[derive(Args, Clone, Debug)]
pub struct ScratchStore {
    #[arg(long, value_enum, default_value = "sqlite")]
    pub store: Backend,
    /// Where the SQLite database goes (a fresh directory inside it).
    #[arg(long, default_value = "target/bench-data")]
    pub data_dir: std::path::PathBuf,
    /// PostgreSQL server to create a fresh database on.
    #[arg(
        long,
        env = "PUHUI_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres_url: String,
}

impl ScratchStore {
    /// A fresh, empty store; the SQLite directory lives as long as the returned guard.
    pub async fn open(&self) -> anyhow::Result<(Store, Option<tempfile::TempDir>)> {
        fresh_store(self.store, &self.data_dir, &self.postgres_url).await
    }
}

pub async fn fresh_store(
    store: Backend,
    data_dir: &std::path::Path,
    postgres_url: &str,
) -> anyhow::Result<(Store, Option<tempfile::TempDir>)> {
    Ok(match store {
        Backend::Sqlite => {
            std::fs::create_dir_all(data_dir)?;
            let dir = tempfile::tempdir_in(data_dir)?;
            (Store::open_sqlite(dir.path())?, Some(dir))
        }
        Backend::Postgres => {
            let url = Store::create_postgres_database(postgres_url, "puhui_bench_").await?;
            (Store::connect_postgres(&url).await?, None)
        }
    })
}

/// Peak and current resident set size of this process, in MiB (Linux).
pub fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[derive(serde::Serialize)]
pub struct CobBench {
    pub store: String,
    pub loans: u64,
    pub funders: u8,
    /// The day closed in the timed run.
    pub day: String,
    /// Loans whose row the timed day wrote (billed, overdue) and those that only accrued.
    pub loans_written: u64,
    pub loans_quiet: u64,
    /// Origination, and closing the days before the timed one.
    pub setup_seconds: f64,
    /// Origination alone (256 concurrent clients, each loan applied for, approved by every
    /// funder and disbursed in one call).
    pub origination_seconds: f64,
    pub originations_per_s: f64,
    pub cob_seconds: f64,
    pub loans_per_s: f64,
    pub entries_posted: u64,
    /// Worker processes beside the timed day, and the partitions whose loans they read.
    pub workers: u32,
    pub partitions_from_workers: u32,
    pub rss_before_cob_mib: f64,
    pub peak_rss_mib: f64,
    /// With three funders: the bank's reconciliation manifest of the timed day (every
    /// file read and hashed), its time and rows, and the peak RSS after it.
    pub recon_seconds: Option<f64>,
    pub recon_rows: Option<u64>,
    pub peak_rss_after_recon_mib: f64,
}

pub async fn bench_cob(
    store: Store,
    loans_n: u64,
    due_days: u8,
    quiet: bool,
    workers: Option<(u32, &str)>,
    funders: u8,
) -> anyhow::Result<CobBench> {
    use engine::cob::{self, CobConfig};
    use engine::loans;
    let name = store.backend_name().to_string();
    let engine = Engine::start(store, EngineConfig::default()).await?;
    let start = money::BusinessDate::from_ymd(2026, 1, 15).expect("valid date");
    let timed = money::BusinessDate::from_ymd(2026, 2, 3).expect("valid date");
    loans::init_business_date(&engine, start).await?;
    let t = Instant::now();
    if funders > 1 {
        crate::bench_colending::plan(&engine, "bench", funders).await?;
    }
    let t_originate = Instant::now();
    originate_book(&engine, start, loans_n, due_days, quiet).await?;
    let origination_seconds = t_originate.elapsed().as_secs_f64();
    let bar = progress_bar(start.days_until(timed) as u64 - 1, quiet);
    while loans::business_date(&engine).await? < Some(timed.pred()) {
        let (_, r) = cob::close_business_day(&engine, CobConfig::default(), &|_| {}).await?;
        anyhow::ensure!(r.loans_advanced == loans_n, "a setup day left loans behind");
        bar.inc(1);
    }
    bar.finish_and_clear();
    let setup_seconds = t.elapsed().as_secs_f64();
    let (_, rss_before) = rss_mib();
    let helpers = match workers {
        Some((n, url)) => start_cob_workers(n, url).await?,
        None => Vec::new(),
    };
    let bar = progress_bar(loans_n, quiet);
    let t = Instant::now();
    let (opened, r) =
        cob::close_business_day(&engine, CobConfig::default(), &|n| bar.set_position(n)).await?;
    let cob_seconds = t.elapsed().as_secs_f64();
    bar.finish_and_clear();
    anyhow::ensure!(opened == timed, "close of business did not finish");
    anyhow::ensure!(
        r.loans_advanced == loans_n,
        "advanced {} of {loans_n} loans",
        r.loans_advanced
    );
    let (peak, _) = rss_mib();
    let recon = match funders {
        2 | 3 => Some(crate::bench_colending::time_recon(&engine, "bench", timed).await?),
        _ => None,
    };
    for mut h in helpers {
        h.wait()?;
    }
    Ok(CobBench {
        store: name,
        loans: loans_n,
        funders,
        day: timed.to_string(),
        loans_written: r.loans_advanced - r.loans_quiet,
        loans_quiet: r.loans_quiet,
        setup_seconds,
        origination_seconds,
        originations_per_s: loans_n as f64 / origination_seconds,
        cob_seconds,
        loans_per_s: loans_n as f64 / cob_seconds,
        entries_posted: r.entries_posted,
        workers: workers.map_or(0, |(n, _)| n),
        partitions_from_workers: r.partitions_from_workers,
        rss_before_cob_mib: rss_before,
        peak_rss_mib: peak,
        recon_seconds: recon.map(|r| r.0),
        recon_rows: recon.map(|r| r.1),
        peak_rss_after_recon_mib: rss_mib().0,
    })
}

/// Starts `n` `puhui cob-worker` processes on `url`; they exit a second after the day.
async fn start_cob_workers(n: u32, url: &str) -> anyhow::Result<Vec<std::process::Child>> {
    let exe = std::env::current_exe()?;
    let helpers = (0..n)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["cob-worker", "--database-url", url, "--idle-exit-secs", "1"])
                .arg("--json")
                .env("PUHUI_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Connected and polling before the clock starts.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    Ok(helpers)
}

fn progress_bar(n: u64, quiet: bool) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(n);
    if quiet {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

/// `loans_n` loans of 1,000.00–10,990.00 over 1–12 months, disbursed on `start`, loan `i`
/// repaid on day `1 + i % due_days` of the month.
async fn originate_book(
    engine: &Engine,
    start: money::BusinessDate,
    loans_n: u64,
    due_days: u8,
    quiet: bool,
) -> anyhow::Result<()> {
    use engine::loans::{self, Application};
    let products: Arc<Vec<lending::LoanProduct>> = Arc::new(
        (1..=due_days)
            .map(|day| {
                let mut p = lending::LoanProduct::example_cny();
                p.repayment_day = lending::product::RepaymentDayRule::FixedDay(day);
                p
            })
            .collect(),
    );
    let bar = progress_bar(loans_n, quiet);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..256 {
        let (engine, next, bar, products) =
            (engine.clone(), next.clone(), bar.clone(), products.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= loans_n {
                    return anyhow::Ok(());
                }
                let amount =
                    money::Money::from_minor(100_000 + (i % 1_000) as i64 * 1_000, Currency::Cny);
                let product = &products[(i % products.len() as u64) as usize];
                let config = lending::loan::LoanConfig::from_product(
                    product,
                    amount,
                    1 + (i % 12) as u32,
                    90,
                )?;
                let id = uuid::Uuid::from_u128(
                    u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) | 1,
                );
                loans::originate(
                    &engine,
                    Application {
                        id,
                        tenant: "bench".into(),
                        borrower: format!("b{i}"),
                        product_id: uuid::Uuid::nil(),
                        product_version: 1,
                        config,
                        decision_id: None,
                    },
                    None,
                    start,
                    uuid::Uuid::from_u128(u128::from(i) + 1),
                )
                .await
                .map_err(|e| anyhow::anyhow!("originate loan {i}: {e}"))?;
                bar.inc(1);
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    bar.finish_and_clear();
    Ok(())
}

pub async fn run(cmd: BenchCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCmd::Authorize(args) => crate::rc_cli::bench(args).await,
        BenchCmd::Customers(args) => crate::customers_bench::run(args).await,
        BenchCmd::Events(args) => crate::events_cli::bench(args).await,
        BenchCmd::Webhooks(args) => crate::webhooks_cli::bench(args).await,
        BenchCmd::RiskLag(args) => crate::risk_cli::bench_lag(args).await,
        BenchCmd::Analytics(args) => crate::analytics_bench::run(args).await,
        BenchCmd::Cob {
            target,
            loans,
            due_days,
            json,
            workers,
            keep_data,
            funders,
            no_events,
        } => {
            anyhow::ensure!(loans > 0, "--loans must be positive");
            engine::events::set_outbox_enabled(!no_events);
            let (s, dir, url) = match workers {
                0 => {
                    let (s, dir) = target.open().await?;
                    (s, dir, String::new())
                }
                _ => {
                    anyhow::ensure!(
                        target.store == Backend::Postgres,
                        "--workers needs --store postgres"
                    );
                    let url = Store::create_postgres_database(&target.postgres_url, "puhui_bench_")
                        .await?;
                    (Store::connect_postgres(&url).await?, None, url)
                }
            };
            let helpers = (workers > 0).then_some((workers, url.as_str()));
            let r = bench_cob(s, loans, due_days, json, helpers, funders).await?;
            if let Some(dir) = dir.filter(|_| keep_data) {
                eprintln!("kept {}", dir.keep().display());
            }
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "COB of {} over {} loans of {} funders ({} written, {} quiet) on {:?}: {:.2}s ({:.0} loans/s), {} entries, {} of {} partitions read by {} workers; setup {:.1}s; RSS before COB {:.0} MiB, peak {:.0} MiB",
                    r.day, r.loans, r.funders, r.loans_written, r.loans_quiet, target.store, r.cob_seconds, r.loans_per_s, r.entries_posted, r.partitions_from_workers, store::LOAN_PARTITIONS, r.workers, r.setup_seconds, r.rss_before_cob_mib, r.peak_rss_mib
                );
                println!(
                    "origination (untimed above): {} loans in {:.2}s ({:.0} loans/s)",
                    r.loans, r.origination_seconds, r.originations_per_s
                );
                if let (Some(secs), Some(rows)) = (r.recon_seconds, r.recon_rows) {
                    println!(
                        "recon manifest of the bank's {}: {rows} rows in {secs:.2}s ({:.0} rows/s), peak RSS after {:.0} MiB",
                        r.day, rows as f64 / secs, r.peak_rss_after_recon_mib
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCmd::Decision {
            decisions,
            model,
            policy,
            open_customer,
            json,
        } => {
            let svc =
                crate::decisioning::DecisionService::load(model.as_deref(), policy.as_deref())?;
            let r = bench_decision(&svc, decisions, open_customer)?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "{} decisions in {:.3} s: {:.0} decisions/s, p50 {:.1} us, p99 {:.1} us, max {:.1} us ({} approve, {} refer, {} decline)",
                    r.decisions, r.seconds, r.decisions_per_s, r.p50_us, r.p99_us, r.max_us,
                    r.approve, r.refer, r.decline
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCmd::Ledger {
            target,
            entries,
            concurrency,
            batch,
            accounts,
            json,
        } => {
            anyhow::ensure!(
                entries > 0 && concurrency > 0 && batch > 0 && accounts >= 2,
                "entries, concurrency, batch must be positive and accounts ≥ 2"
            );
            let (s, _dir) = target.open().await?;
            let r = bench_ledger(s, entries, concurrency, batch, accounts, json).await?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "{} entries in {:.2}s on {:?}: {:.0} entries/s; request latency p50 {} µs, p99 {} µs, max {} µs (concurrency {}, batch {})",
                    r.entries, r.seconds, target.store, r.entries_per_s, r.p50_us, r.p99_us, r.max_us, concurrency, batch
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(serde::Serialize)]
pub struct LedgerBench {
    pub store: String,
    pub entries: u64,
    pub seconds: f64,
    pub entries_per_s: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub concurrency: u64,
    pub batch: u64,
}

async fn make_accounts(engine: &Engine, n: u64) -> anyhow::Result<Vec<AccountId>> {
    let mut ids = Vec::with_capacity(n as usize);
    let cmds: Vec<Command> = (0..n)
        .map(|i| Command::CreateAccount {
            tenant: "bench".into(),
            owner: format!("owner-{i}"),
            purpose: "bench".into(),
            currency: Currency::Cny,
            normal_side: Side::Debit,
            constraint: None,
        })
        .collect();
    for chunk in cmds.chunks(4096) {
        for o in engine.submit(chunk.to_vec()).await? {
            if let Outcome::Account(a) = o {
                ids.push(a.id);
            }
        }
    }
    Ok(ids)
}

/// Entry `n` of this run. Ids are the run's prefix and `n`, as clients bring their own ids;
/// making a random one per entry here would bill the client's work to the ledger.
fn entry(accounts: &[AccountId], prefix: u64, n: u64) -> Command {
    let a = accounts[(n % accounts.len() as u64) as usize];
    let b = accounts[((n / accounts.len() as u64 + n + 1) % accounts.len() as u64) as usize];
    let b = if a == b {
        accounts[((n + 1) % accounts.len() as u64) as usize]
    } else {
        b
    };
    Command::Entry(EntryRequest {
        id: EntryId(uuid::Uuid::from_u64_pair(prefix, n)),
        currency: Currency::Cny,
        postings: vec![
            Posting {
                account_id: a,
                direction: Side::Debit,
                amount_minor: 1 + (n % 10_000) as i64,
            },
            Posting {
                account_id: b,
                direction: Side::Credit,
                amount_minor: 1 + (n % 10_000) as i64,
            },
        ],
        memo: String::new(),
    })
}

pub async fn bench_ledger(
    store: Store,
    entries: u64,
    concurrency: u64,
    batch: u64,
    accounts: u64,
    quiet: bool,
) -> anyhow::Result<LedgerBench> {
    let name = store.backend_name().to_string();
    let engine = Engine::start(store, EngineConfig::default()).await?;
    let accounts = Arc::new(make_accounts(&engine, accounts).await?);
    let next = Arc::new(AtomicU64::new(0));
    let prefix = uuid::Uuid::now_v7().as_u64_pair().0;
    let bar = indicatif::ProgressBar::new(entries);
    if quiet {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (engine, accounts, next, bar) =
            (engine.clone(), accounts.clone(), next.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let first = next.fetch_add(batch, Ordering::Relaxed);
                if first >= entries {
                    break;
                }
                let cmds: Vec<Command> = (first..(first + batch).min(entries))
                    .map(|n| entry(&accounts, prefix, n))
                    .collect();
                let count = cmds.len() as u64;
                let t = Instant::now();
                engine.submit(cmds).await?;
                lat.push(t.elapsed().as_micros() as u64);
                bar.inc(count);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Ok(LedgerBench {
        store: name,
        entries,
        seconds,
        entries_per_s: entries as f64 / seconds,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        max_us: lat.last().copied().unwrap_or(0),
        concurrency,
        batch,
    })
}

#[derive(serde::Serialize)]
pub struct DecisionBench {
    pub decisions: u64,
    pub seconds: f64,
    pub decisions_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub approve: u64,
    pub refer: u64,
    pub decline: u64,
}

/// Applicants varied by index (age, income, amount, term, history) so every path — approve,
/// refer, decline, capped price — is exercised.
pub fn bench_input(k: u64) -> risk::features::DecisionInput {
    let mut i: risk::features::DecisionInput =
        serde_json::from_str(include_str!("../../../models/example-application.json"))
            .expect("example application parses");
    i.applicant_id = format!("bench-{k}");
    let a = &mut i.application;
    a.age = 19 + (k % 50) as u32;
    a.monthly_income_minor = 300_000 + (k % 17) as i64 * 100_000;
    a.requested_minor = 100_000 + (k % 23) as i64 * 50_000;
    a.term_months = [6, 12, 24, 36, 48][(k % 5) as usize];
    let status = ["... < 0 DM", "0 <= ... < 200 DM", "no checking account"][(k % 3) as usize];
    a.attributes.insert(
        "status_of_existing_checking_account".into(),
        risk::features::Scalar::Text(status.into()),
    );
    i
}

/// One applicant's sealed fields: kind, field name and the sealed value.
type SealedFields = Vec<(vault::FieldKind, &'static str, vault::Sealed)>;

/// 1,024 applicants' personal data sealed under a tenant data key, and the key.
struct SealedApplicants {
    key: vault::DataKey,
    fields: Vec<(uuid::Uuid, SealedFields)>,
}

fn sealed_applicants() -> anyhow::Result<SealedApplicants> {
    use vault::FieldKind as K;
    let mut rng = rand::rngs::OsRng;
    let mut master = zeroize::Zeroizing::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut rng, &mut master[..]);
    let keyring = vault::Keyring::new(vault::MasterKey::from_bytes(
        vault::MasterKeyId(1),
        &master[..],
    )?);
    let (key, _) = keyring.new_data_key(&mut rng, "default", vault::KeyId(1))?;
    let mut fields = Vec::with_capacity(1024);
    for k in 0..1024u64 {
        let p = crate::customers_bench::seeded_person(7, k);
        let id = p.id;
        let mut sealed = Vec::new();
        for (kind, name, value) in [
            (K::Name, "name", p.name.as_str()),
            (K::ResidentId, "id_number", p.id_number.as_str()),
            (K::Phone, "phone", p.phone.as_str()),
            (K::BankCard, "bank_card", "6222021234567890123"),
        ] {
            let binding = vault::Binding::new(id.as_bytes(), name);
            sealed.push((
                kind,
                name,
                vault::seal(kind, value, &key, &binding, &mut rng)?,
            ));
        }
        fields.push((id, sealed));
    }
    Ok(SealedApplicants { key, fields })
}

pub fn bench_decision(
    svc: &crate::decisioning::DecisionService,
    n: u64,
    open_customer: bool,
) -> anyhow::Result<DecisionBench> {
    anyhow::ensure!(
        (1..=10_000_000).contains(&n),
        "decisions must be 1 to 10,000,000"
    );
    let inputs: Vec<_> = (0..1024).map(bench_input).collect();
    let sealed = open_customer.then(sealed_applicants).transpose()?;
    let mut lat_ns: Vec<u64> = Vec::with_capacity(n as usize);
    let (mut approve, mut refer, mut decline) = (0, 0, 0);
    let start = Instant::now();
    for k in 0..n {
        let t = Instant::now();
        if let Some(s) = &sealed {
            let (id, fields) = &s.fields[(k % 1024) as usize];
            for (kind, name, field) in fields {
                let binding = vault::Binding::new(id.as_bytes(), name);
                let plain = vault::open(*kind, field, &s.key, &binding)
                    .map_err(|e| anyhow::anyhow!("open {name}: {e}"))?;
                std::hint::black_box(plain.expose().len());
            }
        }
        let d = svc
            .decide(&inputs[(k % 1024) as usize])
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        lat_ns.push(t.elapsed().as_nanos() as u64);
        match d.decision.outcome {
            risk::decision::Outcome::Approve => approve += 1,
            risk::decision::Outcome::Refer => refer += 1,
            risk::decision::Outcome::Decline => decline += 1,
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    lat_ns.sort_unstable();
    let q = |p: f64| lat_ns[((lat_ns.len() as f64 - 1.0) * p).round() as usize] as f64 / 1e3;
    Ok(DecisionBench {
        decisions: n,
        seconds,
        decisions_per_s: n as f64 / seconds,
        p50_us: q(0.50),
        p99_us: q(0.99),
        max_us: q(1.0),
        approve,
        refer,
        decline,
    })
}
