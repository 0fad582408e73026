//! One writing process per store. The ledger writer keeps the book, the Merkle tree and the
//! business date in memory; a second process writing the same database would commit on top
//! of state the first does not see (its next commit then fails on the sequence key, and its
//! readers show a stale tree and date). So every command that writes takes this lock first
//! and holds it until it exits:
//!
//! - SQLite: an exclusive `flock` on `puhui.lock` in the data directory. The kernel drops it
//!   when the process dies, however it dies, so a crash never leaves a stale lock. The file
//!   holds the owner's pid, for the message another process prints.
//! - PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a connection of its own,
//!   outside the pool, kept open for the life of the process; the server drops the lock when
//!   that session ends. The session's `application_name` carries the owner's pid.
//!
//! Close-of-business workers on PostgreSQL do not take it: they write only plans, in rows
//! they claim, and run beside the writer by design.

use anyhow::Context;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The advisory lock key on PostgreSQL: "puhu" in ASCII, below 2^31 so that `pg_locks`
/// shows it as `classid = 0, objid = KEY`.
pub const PG_WRITER_LOCK_KEY: i64 = 0x7075_6875;

/// How long a PostgreSQL lock is retried before refusing: a session whose process was just
/// killed is ended by the server only when it reads the closed socket, a moment later.
const PG_RETRY_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

/// Held while this process may write the store; dropping it releases the lock.
pub struct WriterLock {
    _held: Held,
}

/// Kept, never read: dropping the file or the session is what releases the lock.
enum Held {
    File { _file: std::fs::File },
    Postgres { _session: sqlx::PgConnection },
}

/// Another process holds the lock.
#[derive(Debug, thiserror::Error)]
#[error(
    "{what} is in use by another puhui process ({owner}); stop it or use `puhui cob --server URL`"
)]
pub struct StoreInUse {
    pub what: String,
    /// "pid N", or what is known of the owner.
    pub owner: String,
}

impl WriterLock {
    /// Locks the SQLite data directory `data_dir` (created if missing).
    pub fn sqlite(data_dir: &Path) -> anyhow::Result<WriterLock> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("create data directory {}", data_dir.display()))?;
        let path: PathBuf = data_dir.join("puhui.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        use rustix::fs::{flock, FlockOperation};
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut owner = String::new();
                let _ = file.read_to_string(&mut owner);
                return Err(StoreInUse {
                    what: format!("data directory {}", data_dir.display()),
                    owner: owner_text(owner.trim()),
                }
                .into());
            }
            Err(e) => return Err(e).with_context(|| format!("lock {}", path.display())),
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.sync_all()?;
        Ok(WriterLock {
            _held: Held::File { _file: file },
        })
    }

    /// Locks the PostgreSQL database of `url`.
    pub async fn postgres(url: &str) -> anyhow::Result<WriterLock> {
        use sqlx::Connection;
        let name = format!("puhui pid {}", std::process::id());
        let opts = sqlx::postgres::PgConnectOptions::from_str(url)
            .context("parse PostgreSQL URL")?
            .application_name(&name);
        let mut conn = sqlx::PgConnection::connect_with(&opts)
            .await
            .context("connect to PostgreSQL for the writer lock")?;
        let started = std::time::Instant::now();
        loop {
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(PG_WRITER_LOCK_KEY)
                .fetch_one(&mut conn)
                .await
                .context("take the writer lock")?;
            if got {
                return Ok(WriterLock {
                    _held: Held::Postgres { _session: conn },
                });
            }
            if started.elapsed() >= PG_RETRY_WINDOW {
                let owner = pg_lock_owner(&mut conn).await.unwrap_or_default();
                let db = opts.get_database().unwrap_or("(default)").to_string();
                return Err(StoreInUse {
                    what: format!("PostgreSQL database {db}"),
                    owner: owner_text(&owner),
                }
                .into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

fn owner_text(owner: &str) -> String {
    match owner {
        "" => "owner unknown".into(),
        o if o.starts_with("puhui ") => o.trim_start_matches("puhui ").into(),
        o if o.bytes().all(|b| b.is_ascii_digit()) => format!("pid {o}"),
        o => o.into(),
    }
}

/// The `application_name` (and client address) of the session that holds the lock.
async fn pg_lock_owner(conn: &mut sqlx::PgConnection) -> anyhow::Result<String> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT a.application_name, host(a.client_addr) FROM pg_locks l \
         JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 \
           AND l.objid = $1::bigint::oid AND l.objsubid = 1 \
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind(PG_WRITER_LOCK_KEY)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some((Some(app), Some(host))) if !host.is_empty() => format!("{app} on {host}"),
        Some((Some(app), _)) => app,
        _ => String::new(),
    })
}
