//! The delivery worker: one task per active subscription, each delivering its events one
//! at a time in sequence order. The position moves only after a 2xx, in the transaction
//! that records the attempt, so a crash repeats at most the event in flight (receivers
//! de-duplicate by `Puhui-Event-Id`).

use super::SIGNATURE_HEADER;
use super::{backoff_ms, concerns, signature_header, EVENT_ID_HEADER, EVENT_SEQ_HEADER};
use crate::Clock;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{DeliveryRow, EventFilter, Store, StoredEvent, WebhookFilter, WebhookRow};
use uuid::Uuid;

/// How deliveries are timed and when a subscription gives up.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// One request's limit, connection to last byte of the answer.
    pub timeout_ms: u64,
    /// Consecutive failures after which the subscription is paused.
    pub max_failures: i32,
    /// Backoff before retry n is a uniform draw in [0, min(cap, base · 2^n)].
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    /// How often an idle subscription looks for new events, and the worker for new
    /// subscriptions.
    pub poll_ms: u64,
    /// Events read per round.
    pub batch: u32,
}

impl Default for DeliveryConfig {
    fn default() -> DeliveryConfig {
        DeliveryConfig {
            timeout_ms: 10_000,
            max_failures: 8,
            backoff_base_ms: 1_000,
            backoff_cap_ms: 300_000,
            poll_ms: 200,
            batch: 500,
        }
    }
}

/// What a one-shot run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OnceReport {
    pub subscriptions: usize,
    pub delivered: u64,
    /// Subscriptions that were active and are now paused.
    pub paused: usize,
}

struct Ctx {
    store: Store,
    cfg: DeliveryConfig,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
}

impl Ctx {
    fn new(store: Store, cfg: DeliveryConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Ctx> {
        assert!(cfg.max_failures >= 1, "max_failures must be at least 1");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Ctx {
            store,
            cfg,
            clock,
            client,
        })
    }

    /// One request; the attempt as recorded, and whether it was acknowledged.
    async fn attempt(&self, sub: &WebhookRow, e: &StoredEvent, body: &str) -> (DeliveryRow, bool) {
        let now_ms = self.clock.now_ms();
        let started = Instant::now();
        let sent = self
            .client
            .post(&sub.url)
            .header("content-type", "application/json")
            .header(
                SIGNATURE_HEADER,
                signature_header(&sub.secret, now_ms.div_euclid(1000), body.as_bytes()),
            )
            .header(EVENT_ID_HEADER, e.event.id.to_string())
            .header(EVENT_SEQ_HEADER, e.seq.to_string())
            .body(body.to_string())
            .send()
            .await;
        // The answer is read to its end (within the timeout) so the connection is reused.
        let (status, error) = match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.bytes().await {
                    Ok(_) => (Some(status), None),
                    Err(err) => (Some(status), Some(describe(&err, self.cfg.timeout_ms))),
                }
            }
            Err(err) => (None, Some(describe(&err, self.cfg.timeout_ms))),
        };
        let ok = error.is_none() && status.is_some_and(|s| (200..300).contains(&s));
        let error = match (ok, error, status) {
            (false, None, Some(s)) => Some(format!("answered HTTP {s}")),
            (_, e, _) => e,
        };
        let attempt = DeliveryRow {
            webhook_id: sub.id,
            seq: e.seq,
            event_id: e.event.id,
            attempted_ms: now_ms,
            status_code: status.map(i32::from),
            error,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        };
        (attempt, ok)
    }
}

fn describe(err: &reqwest::Error, timeout_ms: u64) -> String {
    if err.is_timeout() {
        format!("no answer within {timeout_ms} ms")
    } else if err.is_connect() {
        "connection refused or unreachable".to_string()
    } else {
        let mut msg = err.to_string();
        msg.truncate(300);
        msg
    }
}

/// The body: the event as `GET /v1/events` shows it (`EventResponse`), its payload as `sub`
/// may see it (`payload_for`).
fn render(e: &StoredEvent, sub: &WebhookRow) -> String {
    let ev = &e.event;
    let occurred_on = if ev.day == 0 {
        String::new()
    } else {
        money::BusinessDate::from_epoch_days(ev.day).map_or_else(String::new, |d| d.to_string())
    };
    format!(
        r#"{{"seq":{},"id":"{}","type":{},"tenant":{},"occurred_on":"{}","subject_id":"{}","payload":{}}}"#,
        e.seq,
        ev.id,
        serde_json::Value::from(ev.kind.as_str()),
        serde_json::Value::from(ev.tenant.as_str()),
        occurred_on,
        ev.subject,
        super::payload_for(sub, &ev.kind, &ev.payload)
    )
}

/// Delivers one subscription's events in order until it is paused, disabled or gone, or,
/// with `once`, until it has caught up. Returns the events acknowledged.
async fn subscription(ctx: Arc<Ctx>, id: Uuid, once: bool) -> anyhow::Result<u64> {
    let mut delivered = 0;
    'reload: loop {
        let Some(sub) = ctx.store.webhook(id).await? else {
            return Ok(delivered);
        };
        if sub.status != "active" {
            return Ok(delivered);
        }
        let events = ctx
            .store
            .events(EventFilter {
                after: sub.position,
                kinds: sub.types.clone(),
                tenant: (sub.tenant != "*").then(|| sub.tenant.clone()),
                limit: ctx.cfg.batch,
            })
            .await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            if once {
                return Ok(delivered);
            }
            tokio::time::sleep(Duration::from_millis(ctx.cfg.poll_ms)).await;
            continue;
        };
        let mut position = sub.position;
        for e in events.iter().filter(|e| concerns(&sub, e)) {
            let body = render(e, &sub);
            loop {
                let (attempt, ok) = ctx.attempt(&sub, e, &body).await;
                if ok {
                    // Refused when an operator rewound or paused it meanwhile.
                    if !ctx.store.webhook_delivered(position, attempt).await? {
                        continue 'reload;
                    }
                    position = e.seq;
                    delivered += 1;
                    break;
                }
                let reason = format!(
                    "{} consecutive failed deliveries; the last, of event {}: {}",
                    ctx.cfg.max_failures,
                    e.seq,
                    attempt.error.as_deref().unwrap_or("failed")
                );
                let Some(outcome) = ctx
                    .store
                    .webhook_failed(position, attempt, ctx.cfg.max_failures, reason)
                    .await?
                else {
                    continue 'reload;
                };
                if outcome.paused {
                    tracing::warn!(webhook = %id, seq = e.seq, "webhook paused after repeated failures");
                    return Ok(delivered);
                }
                let retry = u32::try_from(outcome.failures - 1).unwrap_or(0);
                let wait = backoff_ms(
                    retry,
                    ctx.cfg.backoff_base_ms,
                    ctx.cfg.backoff_cap_ms,
                    rand::random(),
                );
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
        }
        // Past the events of the page that are not this subscription's.
        if last > position && !ctx.store.webhook_skip(id, position, last).await? {
            continue 'reload;
        }
    }
}

async fn active(store: &Store) -> anyhow::Result<Vec<WebhookRow>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .webhooks(WebhookFilter {
                status: Some("active".into()),
                after,
                limit: 500,
                ..WebhookFilter::default()
            })
            .await?;
        let full = page.len() == 500;
        after = page.last().map(|w| w.id);
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

/// Runs until a storage error: every active subscription delivers in its own task, so a
/// slow or failing receiver holds up only its own subscriptions.
pub async fn run(store: Store, cfg: DeliveryConfig, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let poll = Duration::from_millis(cfg.poll_ms.max(1));
    let ctx = Arc::new(Ctx::new(store, cfg, clock)?);
    let mut running: HashMap<Uuid, tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        running.retain(|_, h| !h.is_finished());
        for sub in active(&ctx.store).await? {
            running.entry(sub.id).or_insert_with(|| {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    if let Err(e) = subscription(ctx, sub.id, false).await {
                        // Started again at the next scan, from the stored position.
                        tracing::warn!(webhook = %sub.id, error = %format!("{e:#}"), "webhook delivery stopped");
                    }
                })
            });
        }
        tokio::time::sleep(poll).await;
    }
}

/// Keeps the worker running beside the server: starts it again a second after it fails.
pub async fn supervise(store: Store, cfg: DeliveryConfig, clock: Arc<dyn Clock>) {
    loop {
        if let Err(e) = run(store.clone(), cfg.clone(), clock.clone()).await {
            tracing::error!(error = %format!("{e:#}"), "webhook worker stopped; restarting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Delivers every active subscription's pending events, concurrently, and returns when
/// each has caught up or been paused.
pub async fn deliver_once(
    store: Store,
    cfg: DeliveryConfig,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<OnceReport> {
    let ctx = Arc::new(Ctx::new(store, cfg, clock)?);
    let subs = active(&ctx.store).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for sub in &subs {
        tasks.spawn(subscription(ctx.clone(), sub.id, true));
    }
    let mut report = OnceReport {
        subscriptions: subs.len(),
        ..OnceReport::default()
    };
    while let Some(r) = tasks.join_next().await {
        report.delivered += r??;
    }
    for sub in &subs {
        if ctx
            .store
            .webhook(sub.id)
            .await?
            .is_some_and(|w| w.status == "paused")
        {
            report.paused += 1;
        }
    }
    Ok(report)
}
