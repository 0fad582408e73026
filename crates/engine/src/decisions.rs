//! Group commit for the decision audit log.
//!
//! Every credit decision is stored before it is answered. One durable commit per decision
//! would make the fsync the ceiling on decisions per second, so a writer task takes every
//! decision waiting, writes them in one transaction and only then answers each of them:
//! nothing is acknowledged before it is durable, and concurrent decisions share one commit.

use crate::EngineError;
use std::sync::Arc;
use store::{DecisionRow, EventRow, Store, DECISIONS_PER_WRITE_MAX};
use tokio::sync::{mpsc, oneshot};

/// The decision inside a stored canonical output: `{"input_hash", "model_version",
/// "policy_version", "decision": {…}}`, as `POST /v1/decisions` keeps it.
pub fn stored_decision(output_json: &str) -> Result<risk::decision::Decision, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Stored {
        decision: risk::decision::Decision,
    }
    serde_json::from_str::<Stored>(output_json).map(|s| s.decision)
}

/// Decisions waiting for the writer before new ones are refused as overloaded.
pub(crate) const DECISIONS_QUEUED_MAX: usize = 16_384;

pub(crate) struct Pending {
    row: DecisionRow,
    /// Written in the decision's transaction.
    event: Option<EventRow>,
    reply: oneshot::Sender<Result<(), EngineError>>,
}

#[derive(Clone)]
pub(crate) struct DecisionLog {
    tx: mpsc::Sender<Pending>,
}

impl DecisionLog {
    pub(crate) fn spawn(store: Store) -> DecisionLog {
        let (tx, rx) = mpsc::channel(DECISIONS_QUEUED_MAX);
        tokio::spawn(run(store, rx));
        DecisionLog { tx }
    }

    /// Returns once the decision is durable; an error means it was not stored.
    pub(crate) async fn record(
        &self,
        row: DecisionRow,
        event: Option<EventRow>,
    ) -> Result<(), EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .try_send(Pending { row, event, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => EngineError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => EngineError::WriterGone,
            })?;
        rx.await.map_err(|_| EngineError::WriterGone)?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, DECISIONS_PER_WRITE_MAX).await > 0 {
        let mut events = Vec::with_capacity(batch.len());
        let (rows, replies): (Vec<_>, Vec<_>) = batch
            .drain(..)
            .map(|p| {
                events.push(p.event);
                (p.row, p.reply)
            })
            .unzip();
        let count = rows.len();
        let started = std::time::Instant::now();
        let rows = Arc::new(rows);
        match store
            .insert_decisions_with_events(
                rows.clone(),
                Arc::new(events.iter().flatten().cloned().collect()),
            )
            .await
        {
            Ok(()) => {
                metrics::histogram!("puhui_decision_commit_seconds")
                    .record(started.elapsed().as_secs_f64());
                metrics::histogram!("puhui_decision_group_size").record(count as f64);
                for reply in replies {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) if count == 1 => {
                let _ = replies
                    .into_iter()
                    .next()
                    .expect("one reply")
                    .send(Err(storage(&e)));
            }
            // One bad row (an id already stored) fails the whole transaction and nothing of
            // it was stored: write each alone, so only that one fails.
            Err(_) => {
                for ((row, event), reply) in rows.iter().zip(events).zip(replies) {
                    let alone = store
                        .insert_decisions_with_events(
                            Arc::new(vec![row.clone()]),
                            Arc::new(event.into_iter().collect()),
                        )
                        .await;
                    let _ = reply.send(alone.map_err(|e| storage(&e)));
                }
            }
        }
    }
}

fn storage(e: &anyhow::Error) -> EngineError {
    tracing::error!(error = %format!("{e:#}"), "store decisions");
    EngineError::Storage(format!("store decision: {e:#}"))
}
