//! `puhui cob --server URL`: close of business in a running server, with its progress.
//!
//! The server closes the days in its own engine (`POST /v1/close-of-business`); this
//! command only starts the run and polls it. Stopping this command does not stop the run.

use api::{CobRunRequest, CobRunWire};
use std::process::ExitCode;
use std::time::Duration;

const POLL: Duration = Duration::from_millis(200);
/// Consecutive failed polls tolerated (a restarting proxy, a slow answer) before giving up.
const POLL_FAILURES_MAX: u32 = 25;

pub async fn run(
    server: &str,
    api_key: Option<String>,
    to: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let key = api_key.filter(|k| !k.is_empty()).ok_or_else(|| {
        anyhow::anyhow!("--server needs --api-key (or PUHUI_API_KEY): an operator key")
    })?;
    if let Some(t) = &to {
        t.parse::<money::BusinessDate>()
            .map_err(|_| anyhow::anyhow!("--to: must be a date YYYY-MM-DD"))?;
    }
    let base = server.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let id = uuid::Uuid::now_v7();
    let mut run = start(&client, base, &key, id, to).await?;
    let bar = progress_bar(json);
    let mut shown = 0;
    let mut failures = 0;
    loop {
        for d in &run.days[shown..] {
            if !json {
                bar.println(format!(
                    "closed {}: {} loans ({} only accrued), {} entries, {} lines in {:.2}s",
                    d.closed,
                    d.loans_advanced,
                    d.loans_quiet,
                    d.entries_posted,
                    d.lines_advanced,
                    d.seconds
                ));
            }
        }
        shown = run.days.len();
        bar.set_length(u64::from(run.days_total));
        bar.set_position(u64::from(run.days_done));
        bar.set_message(format!(
            "closing {}: {} loans",
            run.current_date, run.loans_processed
        ));
        if run.status != "running" {
            break;
        }
        tokio::time::sleep(POLL).await;
        match get(&client, base, &key, id).await {
            Ok(r) => {
                run = r;
                failures = 0;
            }
            Err(e) if failures < POLL_FAILURES_MAX => {
                failures += 1;
                tracing::warn!(error = %format!("{e:#}"), "poll close-of-business run");
            }
            Err(e) => return Err(e.context(format!("run {id} may still be running"))),
        }
    }
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string(&run)?);
    } else if run.status == "succeeded" {
        println!("business date is now {} (run {id})", run.to);
    }
    match run.error {
        None => Ok(ExitCode::SUCCESS),
        Some(e) => {
            eprintln!(
                "error: close of business failed at {}: {e}",
                run.current_date
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn progress_bar(json: bool) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{pos}/{len} days] {msg} ({elapsed})")
            .expect("valid template"),
    );
    if json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

async fn start(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    id: uuid::Uuid,
    to: Option<String>,
) -> anyhow::Result<CobRunWire> {
    let body = CobRunRequest { id: None, to };
    let r = client
        .post(format!("{base}/v1/close-of-business"))
        .bearer_auth(key)
        .header("idempotency-key", id.to_string())
        .json(&body)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reach {base}: {e}"))?;
    answer(r).await
}

async fn get(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    id: uuid::Uuid,
) -> anyhow::Result<CobRunWire> {
    let r = client
        .get(format!("{base}/v1/close-of-business/{id}"))
        .bearer_auth(key)
        .send()
        .await?;
    answer(r).await
}

/// The run, or the server's problem as the error.
async fn answer(r: reqwest::Response) -> anyhow::Result<CobRunWire> {
    let status = r.status();
    if status.is_success() {
        return Ok(r.json().await?);
    }
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    let detail = body["detail"].as_str().unwrap_or("");
    let title = body["title"].as_str().unwrap_or("");
    anyhow::bail!("server answered {status}: {title}: {detail}")
}
