//! The outbox relay to NATS JetStream: publishes committed events in sequence order, one
//! subject per type (`<prefix>.<type>`), each with `Nats-Msg-Id` = the event id, and stores
//! its position (`event_cursors`) only after JetStream acknowledged everything up to it.
//!
//! After a crash it starts again from the stored position: what it had published past it is
//! published again and the stream drops it as a duplicate (same `Nats-Msg-Id` within the
//! stream's duplicate window), so a consumer sees every event once, in sequence order. The
//! duplicate window must exceed the time a crashed relay takes to come back; it is
//! `--duplicate-window-secs` (default 10 minutes).

use anyhow::Context;
use async_nats::jetstream;
use std::time::{Duration, Instant};
use store::{EventFilter, Store};

#[derive(Clone, Debug, clap::Args)]
pub struct RelayArgs {
    /// NATS server URL, e.g. nats://127.0.0.1:4222.
    #[arg(long = "nats", env = "PUHUI_RELAY_NATS")]
    pub nats_url: String,
    /// JetStream stream that captures `<subject-prefix>.>` (created when missing).
    #[arg(long, default_value = "PUHUI_EVENTS")]
    pub stream: String,
    #[arg(long, default_value = "puhui.events")]
    pub subject_prefix: String,
    /// How far back the stream de-duplicates by `Nats-Msg-Id` (for a new stream).
    #[arg(long, default_value_t = 600)]
    pub duplicate_window_secs: u64,
    /// Events read and published per round (their acknowledgements are awaited together).
    #[arg(long, default_value_t = 2_000)]
    pub batch: u32,
}

impl RelayArgs {
    /// The defaults for a NATS URL (`serve --relay-nats`).
    pub fn defaults(nats_url: String) -> RelayArgs {
        RelayArgs {
            nats_url,
            stream: "PUHUI_EVENTS".into(),
            subject_prefix: "puhui.events".into(),
            duplicate_window_secs: 600,
            batch: 2_000,
        }
    }

    /// The name under which the position is stored: one per stream.
    pub fn cursor_name(&self) -> String {
        format!("nats:{}", self.stream)
    }
}

/// Runs until an error (a lost connection, a refused publish): the caller starts it again,
/// and it resumes from the stored position.
pub async fn run(store: Store, args: RelayArgs) -> anyhow::Result<()> {
    let client = async_nats::connect(&args.nats_url)
        .await
        .with_context(|| format!("connect to NATS at {}", args.nats_url))?;
    let js = jetstream::new(client);
    js.get_or_create_stream(jetstream::stream::Config {
        name: args.stream.clone(),
        subjects: vec![format!("{}.>", args.subject_prefix)],
        duplicate_window: Duration::from_secs(args.duplicate_window_secs),
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow::anyhow!("create stream {}: {e}", args.stream))?;
    let cursor = args.cursor_name();
    let mut after = store.event_cursor(&cursor).await?.unwrap_or(0);
    tracing::info!(after, stream = %args.stream, "event relay started");
    let (mut relayed, mut since) = (0u64, Instant::now());
    loop {
        let events = store
            .events(EventFilter {
                after,
                limit: args.batch,
                ..EventFilter::default()
            })
            .await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        // Sent back to back on one connection, so the stream stores them in this order;
        // the acknowledgements are awaited afterwards.
        let mut acks = Vec::with_capacity(events.len());
        for e in &events {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", e.event.id.to_string().as_str());
            headers.insert("Puhui-Seq", e.seq.to_string().as_str());
            headers.insert("Puhui-Tenant", e.event.tenant.as_str());
            let subject = format!("{}.{}", args.subject_prefix, e.event.kind);
            let mut body = String::with_capacity(320);
            api::render_event(&mut body, e);
            let ack = js
                .publish_with_headers(subject, headers, body.into())
                .await
                .map_err(|err| anyhow::anyhow!("publish event {}: {err}", e.seq))?;
            acks.push(ack);
        }
        for (ack, e) in acks.into_iter().zip(&events) {
            ack.await
                .map_err(|err| anyhow::anyhow!("JetStream ack of event {}: {err}", e.seq))?;
        }
        store.set_event_cursor(&cursor, last).await?;
        relayed += events.len() as u64;
        after = last;
        if since.elapsed() >= Duration::from_secs(10) {
            tracing::info!(after, relayed, "event relay position");
            (relayed, since) = (0, Instant::now());
        }
    }
}

/// Keeps a relay running beside the server: restarts it a second after it fails.
pub async fn supervise(store: Store, args: RelayArgs) {
    loop {
        if let Err(e) = run(store.clone(), args.clone()).await {
            tracing::error!(error = %format!("{e:#}"), "event relay stopped; restarting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
