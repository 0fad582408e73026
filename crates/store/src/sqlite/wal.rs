//! The WAL's checkpoints, run by a thread of their own so that commits never pay for them,
//! and the log's restart that the writer does between commits; apart because they concern
//! the database file, not its rows.

use super::BUSY_TIMEOUT;
use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

/// Copies the WAL back into the database from its own thread, so that commits never pay
/// for checkpoints (SQLite's automatic checkpoint runs inside the committing writer).
/// PASSIVE never blocks the writer. The thread stops when the last store handle is dropped.
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
    }
}

/// How often the checkpointer copies the WAL back. Short passes disturb commits less than
/// long ones: under purchase load, commits' longest time fell from 18–30 ms at 250 ms to
/// 9–13 ms at 20 ms, and the load's p99 from 14.6 to 10.5–11.2 ms.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(20);

/// WAL frames (4 KiB pages, so 256 MiB) past which the log should start over.
const WAL_RESTART_FRAMES: i64 = 65_536;

/// Under a steady stream of commits a passive checkpoint never quite catches up with the
/// end of the log, and SQLite starts the log over only when one has: the WAL then grows
/// without bound (41 GB after setting up a million loans, with the file system allocating
/// and zeroing every new block). Past `WAL_RESTART_FRAMES` the checkpointer asks the writer
/// to restart the log (`restart_wal`).
fn checkpoint(
    conn: &Connection,
    restart_wanted: &AtomicBool,
    asked_at: &mut Option<std::time::Instant>,
) -> rusqlite::Result<()> {
    let t = std::time::Instant::now();
    let mut log_frames = passive(conn)?;
    let mut passes = 1;
    let may_ask = asked_at.is_none_or(|at| at.elapsed() >= RESTART_ASK_INTERVAL_MIN);
    if log_frames >= WAL_RESTART_FRAMES && may_ask {
        *asked_at = Some(t);
        // Passes again while the writer added much during the last pass, so the restart,
        // which holds commits back, has little left to copy.
        while passes < 8 {
            let before = log_frames;
            log_frames = passive(conn)?;
            passes += 1;
            if log_frames - before <= RESTART_LEFT_FRAMES_MAX {
                break;
            }
        }
        restart_wanted.store(true, Relaxed);
    }
    tracing::debug!(
        log_frames,
        passes,
        ms = t.elapsed().as_secs_f64() * 1e3,
        "sqlite checkpoint"
    );
    Ok(())
}

/// A restart that readers keep from finishing costs the writer up to 5 ms; ask again no
/// sooner than this, so a long read cannot take more than 2 % of the writer's time.
const RESTART_ASK_INTERVAL_MIN: std::time::Duration = std::time::Duration::from_millis(250);

/// Frames the restart may have to copy. Each pass copies the frames the writer added during
/// the one before, and copying costs about a random write per page, so the last passes
/// before a restart are short.
const RESTART_LEFT_FRAMES_MAX: i64 = 256;

/// A passive pass; the log's frames (all copied unless the writer added some meanwhile).
fn passive(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}

/// Called by the writer between commits when asked. A RESTART checkpoint holds commits back
/// while it copies what the last passive pass left and waits for readers, so the next
/// commit writes from the start of the file. Run by the checkpointer's own connection it
/// first waited for the writer's lock in the busy handler's coarse sleeps, and held commits
/// back 3–125 ms (measured under purchase load); the writer runs it between two of its own
/// commits, right after a passive pass. It waits at most 5 ms for readers; if they are not
/// done it gives up and a later pass asks again.
pub(super) fn restart_wal(conn: &Connection) -> rusqlite::Result<()> {
    let t = std::time::Instant::now();
    conn.busy_timeout(std::time::Duration::from_millis(5))?;
    let done = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
    conn.busy_timeout(BUSY_TIMEOUT)?;
    tracing::debug!(
        busy = done?,
        ms = t.elapsed().as_secs_f64() * 1e3,
        "sqlite wal restart"
    );
    Ok(())
}

pub(super) fn spawn_checkpointer(
    conn: Connection,
    restart_wanted: Arc<AtomicBool>,
) -> anyhow::Result<Checkpointer> {
    conn.busy_timeout(std::time::Duration::from_millis(100))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut asked_at = None;
            while !flag.load(Relaxed) {
                std::thread::sleep(CHECKPOINT_INTERVAL);
                if let Err(e) = checkpoint(&conn, &restart_wanted, &mut asked_at) {
                    tracing::warn!(error = %e, "sqlite checkpoint");
                }
            }
        })?;
    Ok(Checkpointer { stop })
}
