//! `puhui events relay | catalogue` and `puhui bench events`.

use crate::bench::ScratchStore;
use crate::cli::StoreArgs;
use crate::events_relay::{self, RelayArgs};
use clap::Subcommand;
use engine::{Engine, EngineConfig};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::EventFilter;

#[derive(Subcommand)]
pub enum EventsCmd {
    /// Publish the event outbox to NATS JetStream in sequence order, resuming from the
    /// stored position; runs until stopped. Runs beside the server (it writes only its
    /// position); `serve --relay-nats URL` runs the same relay inside the server.
    Relay {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        relay: RelayArgs,
    },
    /// Print the event catalogue (type and meaning), one per line.
    Catalogue,
}

pub async fn run(cmd: EventsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        EventsCmd::Relay { store, relay } => {
            let s = store.open_beside_writer().await?;
            events_relay::run(s, relay).await?;
            Ok(ExitCode::SUCCESS)
        }
        EventsCmd::Catalogue => {
            for (kind, meaning) in engine::events::CATALOGUE {
                println!("{kind}\t{meaning}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(clap::Args)]
pub struct EventsBenchArgs {
    #[command(flatten)]
    target: ScratchStore,
    /// Decisions stored through the decision log, each with its event.
    #[arg(long, default_value_t = 50_000)]
    decisions: u64,
    /// Concurrent clients, each waiting for its previous decision.
    #[arg(long, default_value_t = 256)]
    concurrency: u64,
    /// Store the decisions without events, to measure what the outbox costs.
    #[arg(long)]
    no_events: bool,
    /// Make each decision first (features, the shipped model and policy, price, limit, the
    /// canonical output hash) and store the record `POST /v1/decisions` stores; without
    /// it, a fixed 1 KiB record is stored, which isolates the decision log's commit.
    #[arg(long)]
    decide: bool,
    /// Then relay every event to this NATS server (a fresh stream) and time it.
    #[arg(long)]
    relay_nats: Option<String>,
}

/// What the bench stores: the record of a decision made on one of 1,024 applications, or
/// a fixed record.
enum DecisionRows {
    Decide(
        Box<crate::decisioning::DecisionService>,
        Vec<risk::features::DecisionInput>,
    ),
    Fixed(String),
}

impl DecisionRows {
    fn new(decide: bool) -> anyhow::Result<DecisionRows> {
        if !decide {
            return Ok(DecisionRows::Fixed(format!(
                "{{\"applicant\":\"{}\"}}",
                "x".repeat(900)
            )));
        }
        let svc = crate::decisioning::DecisionService::load(None, None)?;
        let inputs = (0..1024).map(crate::bench::bench_input).collect();
        Ok(DecisionRows::Decide(Box::new(svc), inputs))
    }

    fn row(&self, k: u64, now_ms: i64) -> anyhow::Result<store::DecisionRow> {
        let id = uuid::Uuid::now_v7().to_string();
        Ok(match self {
            DecisionRows::Decide(svc, inputs) => {
                let input = &inputs[(k % 1024) as usize];
                let d = svc.decide(input).map_err(|e| anyhow::anyhow!("{e}"))?;
                d.into_row(svc, &input.applicant_id, id, now_ms).0
            }
            DecisionRows::Fixed(input_json) => fixed_decision_row(id, input_json.clone(), now_ms),
        })
    }
}

/// A stand-in decision record for benchmarks that need stored decisions and their events,
/// not decisions made.
pub(crate) fn fixed_decision_row(
    id: String,
    input_json: String,
    created_at_ms: i64,
) -> store::DecisionRow {
    store::DecisionRow {
        id,
        applicant_id: "bench".into(),
        created_at_ms,
        input_json,
        input_hash: [7; 32],
        model_version: "bench-model".into(),
        policy_version: "bench-policy".into(),
        outcome: "approve".into(),
        rules_fired: "[]".into(),
        output_json: "{\"outcome\":\"approve\"}".into(),
        output_hash: [8; 32],
    }
}

/// Decisions/s through the decision log; then the feed's events/s (reading and rendering
/// pages of 5,000 as `GET /v1/events` does); then, with `--relay-nats`, the relay's.
pub async fn bench(args: EventsBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.decisions > 0 && args.concurrency > 0,
        "counts must be positive"
    );
    let (s, _dir) = args.target.open().await?;
    let backend = s.backend_name();
    engine::events::set_outbox_enabled(!args.no_events);
    let engine = Engine::start(s.clone(), EngineConfig::default()).await?;
    let rows = Arc::new(DecisionRows::new(args.decide)?);
    let next = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (engine, next, rows, n) = (engine.clone(), next.clone(), rows.clone(), args.decisions);
        tasks.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= n {
                    break;
                }
                let row = rows.row(k, engine.now_ms())?;
                engine.record_decision_for(row, "bench").await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} decisions {} in {secs:.2}s on {backend}: {:.0} decisions/s ({}; concurrency {})",
        args.decisions,
        if args.decide {
            "made and stored"
        } else {
            "stored"
        },
        args.decisions as f64 / secs,
        if args.no_events {
            "no events"
        } else {
            "with events"
        },
        args.concurrency
    );
    if args.no_events {
        return Ok(ExitCode::SUCCESS);
    }
    let head = s.events_head().await?;
    let t = Instant::now();
    let (mut after, mut bytes) = (0, 0usize);
    while after < head {
        let page = s
            .events(EventFilter {
                after,
                limit: crate::routes::events::EVENTS_LIMIT_MAX,
                ..EventFilter::default()
            })
            .await?;
        bytes += api::render_event_page(&page, after).len();
        after = page.last().map_or(head, |e| e.seq);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "feed: {head} events read and rendered in {secs:.2}s: {:.0} events/s ({:.1} MB of JSON)",
        head as f64 / secs,
        bytes as f64 / 1e6
    );
    if let Some(url) = args.relay_nats {
        let stream = format!("PUHUI_BENCH_{}", uuid::Uuid::new_v4().simple());
        let relay = RelayArgs {
            nats_url: url,
            subject_prefix: format!("bench.{}", &stream[12..20]),
            stream,
            duplicate_window_secs: 600,
            batch: 2_000,
        };
        let cursor = relay.cursor_name();
        let t = Instant::now();
        let task = tokio::spawn(events_relay::run(s.clone(), relay));
        while s.event_cursor(&cursor).await?.unwrap_or(0) < head {
            anyhow::ensure!(!task.is_finished(), "relay stopped: {:?}", task.await?);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let secs = t.elapsed().as_secs_f64();
        task.abort();
        println!(
            "relay: {head} events published and acknowledged by JetStream in {secs:.2}s: {:.0} events/s",
            head as f64 / secs
        );
    }
    Ok(ExitCode::SUCCESS)
}
