//! Where the partitions of a close-of-business day come from.

use super::workers::WorkerPlan;
use anyhow::Context;
use uuid::Uuid;

/// A partition to close: one this process reads itself, or one a worker process has read.
pub(super) enum Work {
    Own(i32),
    Planned(i32, WorkerPlan),
}

/// Where the partitions of a day come from: a list in this process (SQLite), or the
/// database's queue that worker processes share (PostgreSQL).
pub(super) enum Partitions {
    Local(std::collections::VecDeque<i32>),
    Shared {
        queue: store::CobQueue,
        day: i32,
        run: [u8; 16],
        left: usize,
        planned: std::collections::VecDeque<(i32, Vec<u8>)>,
    },
}

/// How often the writer looks for partitions that workers have planned, when it has none
/// of its own left to read.
const WORKER_POLL: std::time::Duration = std::time::Duration::from_millis(10);

impl Partitions {
    pub(super) async fn publish(
        store: &store::Store,
        day: i32,
        todo: Vec<i32>,
    ) -> anyhow::Result<Partitions> {
        let Some(queue) = store.cob_queue() else {
            return Ok(Partitions::Local(todo.into()));
        };
        let run = *Uuid::now_v7().as_bytes();
        queue.publish(day, &run, &todo).await?;
        Ok(Partitions::Shared {
            queue,
            day,
            run,
            left: todo.len(),
            planned: Default::default(),
        })
    }

    /// The next partition: planned ones first (their reading is done), then one of our
    /// own; waits while workers hold the rest.
    pub(super) async fn next(&mut self) -> anyhow::Result<Option<Work>> {
        let (queue, day, run, left, planned) = match self {
            Partitions::Local(todo) => return Ok(todo.pop_front().map(Work::Own)),
            Partitions::Shared {
                queue,
                day,
                run,
                left,
                planned,
            } => (queue, *day, &*run, left, planned),
        };
        loop {
            if *left == 0 {
                return Ok(None);
            }
            if let Some((partition, bytes)) = planned.pop_front() {
                *left -= 1;
                let plan = WorkerPlan::decode(&bytes)
                    .with_context(|| format!("plan of partition {partition}"))?;
                return Ok(Some(Work::Planned(partition, plan)));
            }
            planned.extend(queue.take_planned(day, run).await?);
            if !planned.is_empty() {
                continue;
            }
            if let Some(partition) = queue.claim_own(day, run).await? {
                *left -= 1;
                return Ok(Some(Work::Own(partition)));
            }
            tokio::time::sleep(WORKER_POLL).await;
        }
    }
}
