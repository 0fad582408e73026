//! `puhui demo` and `puhui serve --demo`: a seeded, realistic book on a new store, so the
//! console has something to show. Consumers and small merchants are decided by the bundled
//! model; approved ones get term loans priced by their decisions (the consumer product
//! co-lent with two partner banks under a fixed funding plan); consumers' credit lines buy
//! from the merchants; and months of close of business run, so that delinquency,
//! statements and vintages exist. The book ends on today's date, so the server serves on
//! from there.

mod client;
mod deal;
mod lines;
mod people;
mod term;

use crate::app::{self, AppState};
use crate::cli::StoreArgs;
use clap::Args;
use engine::cob::{self, CobConfig};
use money::BusinessDate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::process::ExitCode;
use std::time::Instant;

/// The meta key that marks a store as holding the demo book (its seed).
const DEMO_MARK: &str = "demo_book_seed";

#[derive(Args, Clone, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub size: DemoSize,
    /// The address the console will be served at, for the URL printed.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

/// How big the demo book is. The defaults build in well under a minute in a release build.
#[derive(Args, Clone, Copy, Debug)]
pub struct DemoSize {
    /// Applicants for term loans (a fifth of them small merchants).
    #[arg(long = "demo-applicants", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub applicants: u32,
    /// Consumers with credit lines.
    #[arg(long = "demo-lines", default_value_t = 300, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub lines: u32,
    /// Merchants the lines buy from.
    #[arg(long = "demo-merchants", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub merchants: u32,
    /// Business days closed (the book starts this many days before today).
    #[arg(long = "demo-days", default_value_t = 180, value_parser = clap::value_parser!(u32).range(2..=3_650))]
    pub days: u32,
    #[arg(long = "demo-seed", default_value_t = 21)]
    pub seed: u64,
}

/// What was built.
#[derive(Clone, Debug, Default)]
pub struct DemoReport {
    pub key: String,
    pub decisions: u64,
    pub loans: u64,
    pub repayments: u64,
    /// Cash recovered on written-off loans.
    pub recoveries: u64,
    /// Guarantee claims the guarantor paid the consumer loans' funders.
    pub guarantee_claims: u64,
    /// Written-off co-lent loans whose funders the first-loss deposit paid.
    pub first_loss_draws: u64,
    pub lines: u64,
    pub purchases: u64,
    pub declined_purchases: u64,
    pub line_repayments: u64,
    pub statements: u64,
    pub days: u32,
    /// Securitization periods run (none when the book is too short for a deal).
    pub deal_periods: u32,
    /// Codes of the applications the API refused (prices above a cap, say).
    pub refusals: Vec<String>,
    pub seconds: f64,
}

/// Builds the book on `state`'s store, which must be new, starting `size.days` before
/// `today` so that it ends on `today`. The demo's requests go to a server on a port of its
/// own in this process, closed before returning.
pub async fn build(
    state: &AppState,
    size: DemoSize,
    today: BusinessDate,
) -> anyhow::Result<DemoReport> {
    let started = Instant::now();
    let engine = &state.engine;
    anyhow::ensure!(
        engine::loans::business_date(engine).await?.is_none(),
        "the demo book is built on a new store only; this one has a business date open"
    );
    let start = today
        .add_days(-i64::from(size.days))
        .ok_or_else(|| anyhow::anyhow!("date out of range"))?;
    engine::loans::init_business_date(engine, start).await?;
    let key = demo_key(state).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(state.clone(), listener, async move {
        let _ = stopped.await;
    }));
    let api = client::Api::new(base, key.clone());
    let mut report = DemoReport {
        key,
        ..DemoReport::default()
    };
    let result = drive(state, &api, size, &mut report).await;
    let _ = stop.send(());
    server.await??;
    result?;
    state
        .engine
        .store()
        .meta_init(DEMO_MARK, size.seed.to_be_bytes().to_vec())
        .await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn drive(
    state: &AppState,
    api: &client::Api,
    size: DemoSize,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    let engine = &state.engine;
    let mut rng = StdRng::seed_from_u64(size.seed);
    let pop = people::Population::from_model(crate::decisioning::DEFAULT_MODEL)?;
    let mut term = term::TermBook::set_up(api).await?;
    let mut lines = lines::LineBook::open(engine, &mut rng, size.merchants, size.lines).await?;
    report.lines = lines.count() as u64;
    // Applications arrive over all but the last month, so every vintage has some age.
    let arriving_days = size.days.saturating_sub(30).max(1);
    let mut arrivals = vec![0u32; arriving_days as usize];
    for _ in 0..size.applicants {
        arrivals[rng.gen_range(0..arriving_days) as usize] += 1;
    }
    let mut sold: Option<deal::DemoDeal> = None;
    // A deal needs two months of book behind it and three periods ahead.
    let deal_day = (size.days >= deal::CLOSE_DAYS_BEFORE_END + 60)
        .then(|| size.days - deal::CLOSE_DAYS_BEFORE_END);
    for day in 0..size.days {
        let today = engine::loans::business_date(engine)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no business date"))?;
        if Some(day) == deal_day {
            sold = deal::DemoDeal::close(engine, api, today).await?;
        }
        if let Some(d) = sold.as_mut() {
            d.run_due(api, today, report).await?;
        }
        let arriving = arrivals.get(day as usize).copied().unwrap_or(0);
        term.apply_all(api, &pop, &mut rng, today, arriving, report)
            .await?;
        term.repay_due(api, today, report).await?;
        lines.trade(engine, &mut rng, report).await?;
        lines.repay_due(engine, &mut rng, today, report).await?;
        let (_, closed) = cob::close_business_day(engine, CobConfig::default(), &|_| {}).await?;
        report.statements += closed.statements_issued;
        report.days += 1;
    }
    (report.guarantee_claims, report.first_loss_draws) = enhancements(engine).await?;
    Ok(())
}

/// The guarantee claims, and the first-loss draws that paid something, over the book's
/// co-lent loans.
async fn enhancements(engine: &engine::Engine) -> anyhow::Result<(u64, u64)> {
    let (mut claims, mut draws, mut after) = (0, 0, None);
    loop {
        let (page, next) = engine::colending::list_positions(engine, None, after, 1_000).await?;
        claims += page.iter().map(|d| d.claims.len() as u64).sum::<u64>();
        draws += page
            .iter()
            .filter(|d| d.draw.is_some_and(|d| d.amount_minor > 0))
            .count() as u64;
        match next {
            Some(id) => after = Some(id),
            None => return Ok((claims, draws)),
        }
    }
}

/// A new operator key for the demo, shown once.
async fn demo_key(state: &AppState) -> anyhow::Result<String> {
    let key = crate::auth::generate_key();
    state
        .engine
        .store()
        .insert_api_key(store::ApiKeyRow {
            key_hash: crate::auth::hash_key(&key),
            role: "operator".into(),
            tenant: "*".into(),
            label: "demo".into(),
            party_kind: None,
            party_id: None,
            expires_at_ms: None,
            revoked_at_ms: None,
            rate_limit_per_s: None,
        })
        .await?;
    Ok(key)
}

/// Today's date (UTC) as the server's clock tells it.
fn today(state: &AppState) -> anyhow::Result<BusinessDate> {
    BusinessDate::from_epoch_days(state.engine.now_ms().div_euclid(86_400_000) as i32)
        .ok_or_else(|| anyhow::anyhow!("the clock is out of range"))
}

fn print_ready(report: &DemoReport, listen: &str, built: bool) {
    if built {
        println!(
            "demo book: {} decisions, {} term loans, {} repayments, {} recoveries, {} guarantee claims, {} first-loss draws, {} credit lines, {} purchases, \
             {} statements, {} securitization periods, {} days of close of business in {:.1} s",
            report.decisions,
            report.loans,
            report.repayments,
            report.recoveries,
            report.guarantee_claims,
            report.first_loss_draws,
            report.lines,
            report.purchases,
            report.statements,
            report.deal_periods,
            report.days,
            report.seconds
        );
        if !report.refusals.is_empty() {
            let mut codes: std::collections::BTreeMap<&str, u32> = Default::default();
            for c in &report.refusals {
                *codes.entry(c.as_str()).or_default() += 1;
            }
            println!("applications the API refused, by code: {codes:?}");
        }
    }
    println!("demo operator API key: {}", report.key);
    println!("console: http://{listen}/console (sign in with the key above)");
}

/// `serve --demo`: builds the book on a new store, or on a store that holds it already
/// mints a fresh demo key (the first one was shown only once). Refused on a store with
/// other data, which a demo must not touch.
pub async fn prepare_for_serve(
    state: &AppState,
    size: DemoSize,
    listen: &str,
) -> anyhow::Result<()> {
    let store = state.engine.store();
    if store.meta(DEMO_MARK).await?.is_some() {
        let report = DemoReport {
            key: demo_key(state).await?,
            ..DemoReport::default()
        };
        print_ready(&report, listen, false);
        return Ok(());
    }
    anyhow::ensure!(
        engine::loans::business_date(&state.engine).await?.is_none(),
        "--demo: this store holds data that is not the demo book; use a new --data-dir"
    );
    // The bootstrap key works beside the demo's, as the README's examples expect.
    let bootstrap = std::env::var("PUHUI_BOOTSTRAP_API_KEY").ok();
    app::bootstrap_key(store, bootstrap.as_deref()).await?;
    let report = build(state, size, today(state)?).await?;
    print_ready(&report, listen, true);
    Ok(())
}

/// `puhui demo`: builds the book into a new store and exits.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let (store, _lock) = args.store.open_writer().await?;
    let state = app::build_state(store).await?;
    let report = build(&state, args.size, today(&state)?).await?;
    print_ready(&report, &args.listen, true);
    println!(
        "serve it: puhui serve --data-dir {} --listen {}",
        args.store.data_dir.display(),
        args.listen
    );
    Ok(ExitCode::SUCCESS)
}
