//! `puhui webhooks add | list | redeliver` (through a running server's API, which checks
//! the key's role and party) and `puhui webhooks deliver` (one delivery pass over the store,
//! for installations where no server delivers: two workers on one subscription would each
//! send its events, and their requests could interleave).

use crate::cli::StoreArgs;
use clap::Subcommand;
use engine::webhooks::DeliveryConfig;
use serde_json::{json, Value};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// How the worker delivers: `puhui serve` and `puhui webhooks deliver` share these flags.
#[derive(Clone, Debug, clap::Args)]
pub struct DeliveryArgs {
    /// One delivery request's time limit.
    #[arg(long, env = "PUHUI_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,
    /// Consecutive failed deliveries after which a subscription is paused.
    #[arg(long, env = "PUHUI_WEBHOOK_MAX_FAILURES", default_value_t = 8,
          value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub webhook_max_failures: i32,
    /// Retry n waits a uniform draw in [0, min(cap, base · 2^n)] ms.
    #[arg(long, env = "PUHUI_WEBHOOK_BACKOFF_BASE_MS", default_value_t = 1_000)]
    pub webhook_backoff_base_ms: u64,
    #[arg(long, env = "PUHUI_WEBHOOK_BACKOFF_CAP_MS", default_value_t = 300_000)]
    pub webhook_backoff_cap_ms: u64,
}

impl DeliveryArgs {
    pub fn config(&self) -> DeliveryConfig {
        DeliveryConfig {
            timeout_ms: self.webhook_timeout_ms.max(1),
            max_failures: self.webhook_max_failures,
            backoff_base_ms: self.webhook_backoff_base_ms,
            backoff_cap_ms: self.webhook_backoff_cap_ms,
            ..DeliveryConfig::default()
        }
    }
}

#[derive(Clone, Debug, clap::Args)]
pub struct ServerArgs {
    /// A running server's URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "PUHUI_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// An API key: an operator's, or a partner bank's or merchant's bound key.
    #[arg(long, env = "PUHUI_API_KEY")]
    pub api_key: String,
}

#[derive(Subcommand)]
pub enum WebhooksCmd {
    /// Subscribe a URL to events; prints the subscription with its secret (shown once).
    Add {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        url: String,
        /// Event types, comma-separated (`puhui events catalogue`); all when absent.
        #[arg(long)]
        types: Option<String>,
        /// The signing secret (16–256 bytes); generated when absent.
        #[arg(long)]
        secret: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Deliver events after this sequence number (default: from now on).
        #[arg(long)]
        after: Option<i64>,
    },
    /// The subscriptions the key may see, with their status, position and failures.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Resume a paused subscription; with --from-seq, deliver again after that number.
    Redeliver {
        #[command(flatten)]
        server: ServerArgs,
        id: uuid::Uuid,
        #[arg(long)]
        from_seq: Option<i64>,
    },
    /// Deliver every active subscription's pending events once, then exit. For stores no
    /// running server delivers for (`puhui serve` runs the worker itself).
    Deliver {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        delivery: DeliveryArgs,
    },
}

pub async fn run(cmd: WebhooksCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        WebhooksCmd::Add {
            server,
            url,
            types,
            secret,
            description,
            after,
        } => {
            let types: Vec<String> = types
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect();
            let body = json!({
                "url": url, "types": types, "secret": secret,
                "description": description, "after": after,
            });
            let id = uuid::Uuid::now_v7();
            call(&server, "POST", "/v1/webhooks", Some(body), Some(id)).await
        }
        WebhooksCmd::List { server } => {
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    Some(c) => format!("/v1/webhooks?limit=500&cursor={c}"),
                    None => "/v1/webhooks?limit=500".to_string(),
                };
                let page = request(&server, "GET", &path, None, None).await?;
                for w in page["items"].as_array().into_iter().flatten() {
                    println!("{w}");
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => return Ok(ExitCode::SUCCESS),
                }
            }
        }
        WebhooksCmd::Redeliver {
            server,
            id,
            from_seq,
        } => {
            let path = format!("/v1/webhooks/{id}/redeliver");
            call(
                &server,
                "POST",
                &path,
                Some(json!({ "from_seq": from_seq })),
                None,
            )
            .await
        }
        WebhooksCmd::Deliver { store, delivery } => {
            let s = store.open_beside_writer().await?;
            let report =
                engine::webhooks::deliver_once(s, delivery.config(), Arc::new(engine::SystemClock))
                    .await?;
            println!(
                "{} subscriptions: {} events delivered, {} paused",
                report.subscriptions, report.delivered, report.paused
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn call(
    server: &ServerArgs,
    method: &str,
    path: &str,
    body: Option<Value>,
    idem: Option<uuid::Uuid>,
) -> anyhow::Result<ExitCode> {
    let v = request(server, method, path, body, idem).await?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(ExitCode::SUCCESS)
}

/// One API call; a problem answer becomes the error, with its detail.
async fn request(
    server: &ServerArgs,
    method: &str,
    path: &str,
    body: Option<Value>,
    idem: Option<uuid::Uuid>,
) -> anyhow::Result<Value> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!("{}{path}", server.server.trim_end_matches('/'));
    let mut req = match method {
        "GET" => client.get(url),
        _ => client.post(url),
    }
    .bearer_auth(&server.api_key);
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k.to_string());
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    anyhow::ensure!(
        status.is_success(),
        "HTTP {}: {}",
        status.as_u16(),
        v.get("detail").and_then(Value::as_str).unwrap_or("refused")
    );
    Ok(v)
}

#[derive(clap::Args)]
pub struct WebhooksBenchArgs {
    #[command(flatten)]
    target: crate::bench::ScratchStore,
    /// Events (stored decisions) delivered to the local receiver.
    #[arg(long, default_value_t = 5_000)]
    events: u64,
    /// Subscriptions, each receiving every event, delivering concurrently.
    #[arg(long, default_value_t = 1)]
    subscriptions: u64,
}

/// Events/s delivered by one pass of the worker to a receiver on this machine that checks
/// each signature and answers 200 at once: the cost of a delivery without the network's.
pub async fn bench(args: WebhooksBenchArgs) -> anyhow::Result<ExitCode> {
    use axum::routing::post;
    use std::sync::atomic::{AtomicU64, Ordering};
    anyhow::ensure!(
        args.events > 0 && args.subscriptions > 0,
        "counts must be positive"
    );
    let (s, _dir) = args.target.open().await?;
    let backend = s.backend_name();
    let engine = engine::Engine::start(s.clone(), engine::EngineConfig::default()).await?;
    for _ in 0..args.events {
        let id = uuid::Uuid::now_v7().to_string();
        let row = crate::events_cli::fixed_decision_row(id, "{}".into(), engine.now_ms());
        engine.record_decision_for(row, "bench").await?;
    }
    let secret = "bench-secret-0123456789".to_string();
    let (verified, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let app = {
        let (secret, verified, refused) = (secret.clone(), verified.clone(), refused.clone());
        axum::Router::new().route(
            "/hook",
            post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (secret, verified, refused) =
                        (secret.clone(), verified.clone(), refused.clone());
                    async move {
                        let sig = headers
                            .get(engine::webhooks::SIGNATURE_HEADER)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        let now = engine::clock::system_now_ms() / 1000;
                        match engine::webhooks::verify(&secret, sig, &body, now, 300) {
                            Ok(()) => {
                                verified.fetch_add(1, Ordering::Relaxed);
                                axum::http::StatusCode::OK
                            }
                            Err(_) => {
                                refused.fetch_add(1, Ordering::Relaxed);
                                axum::http::StatusCode::BAD_REQUEST
                            }
                        }
                    }
                },
            ),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    for _ in 0..args.subscriptions {
        s.insert_webhook(store::WebhookRow {
            id: uuid::Uuid::now_v7(),
            tenant: "*".into(),
            url: url.clone(),
            types: Vec::new(),
            secret: secret.clone(),
            description: None,
            owner_role: "operator".into(),
            party_kind: None,
            party_id: None,
            status: "active".into(),
            position: 0,
            failures: 0,
            paused_reason: None,
            created_ms: engine.now_ms(),
        })
        .await?;
    }
    let t = std::time::Instant::now();
    let report =
        engine::webhooks::deliver_once(s, DeliveryConfig::default(), engine.clock()).await?;
    let secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.delivered == args.events * args.subscriptions
            && refused.load(Ordering::Relaxed) == 0,
        "delivered {} of {}, {} refused",
        report.delivered,
        args.events * args.subscriptions,
        refused.load(Ordering::Relaxed)
    );
    println!(
        "{} deliveries ({} events × {} subscriptions) in {secs:.2}s on {backend}: {:.0} deliveries/s, each signed, verified and acknowledged",
        report.delivered,
        args.events,
        args.subscriptions,
        report.delivered as f64 / secs
    );
    Ok(ExitCode::SUCCESS)
}
