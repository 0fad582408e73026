//! Online backup and restore of the embedded store.
//!
//! SQLite's backup API copies `puhui.db` page by page through an ordinary read connection.
//! Copying every page in one step keeps one read transaction open for the whole copy, so the
//! copy is one consistent snapshot: in WAL mode a reader never blocks the writer, and the
//! writer never changes what an open read transaction sees. The snapshot is what a crash at
//! that instant would have left on disk, which the store already knows how to open (rows
//! that lag their postings are recovered at start, see `sqlite/balances.rs`).

use anyhow::{ensure, Context};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The one database file of a data directory.
pub const SQLITE_FILE: &str = "puhui.db";

/// What an online backup or a restore copied.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub path: PathBuf,
    pub pages: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Copies the store of `data_dir` into `out_dir/puhui.db` while its server may keep
/// writing. Refuses an `out_dir` that already holds a database, so that a backup never
/// overwrites another. The copy is written under a temporary name, checked with SQLite's
/// `quick_check`, made durable and only then renamed into place.
pub fn backup_sqlite(data_dir: &Path, out_dir: &Path) -> anyhow::Result<BackupReport> {
    let src_path = data_dir.join(SQLITE_FILE);
    ensure!(src_path.exists(), "no store at {}", src_path.display());
    let target = out_dir.join(SQLITE_FILE);
    ensure!(
        !target.exists(),
        "{} already exists; back up into an empty directory",
        target.display()
    );
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("create backup directory {}", out_dir.display()))?;
    let started = Instant::now();
    let src =
        Connection::open(&src_path).with_context(|| format!("open {}", src_path.display()))?;
    src.busy_timeout(Duration::from_secs(10))?;
    let partial = out_dir.join(format!("{SQLITE_FILE}.partial"));
    remove_if_exists(&partial)?;
    let mut dst =
        Connection::open(&partial).with_context(|| format!("create {}", partial.display()))?;
    let pages = copy_all_pages(&src, &mut dst)?;
    drop(src);
    finish(dst, &partial, &target)?;
    Ok(report(target, pages, started))
}

/// Restores a backup directory made by [`backup_sqlite`] into `data_dir`, which must not
/// hold a store yet (a restore never overwrites live data). The copy goes through the same
/// API, so a backup file being copied elsewhere meanwhile is read consistently too.
pub fn restore_sqlite(backup_dir: &Path, data_dir: &Path) -> anyhow::Result<BackupReport> {
    let src_path = backup_dir.join(SQLITE_FILE);
    ensure!(src_path.exists(), "no backup at {}", src_path.display());
    let target = data_dir.join(SQLITE_FILE);
    ensure!(
        !target.exists(),
        "{} already exists; restore into a new data directory",
        target.display()
    );
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("create data directory {}", data_dir.display()))?;
    let started = Instant::now();
    let src = Connection::open_with_flags(&src_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("open {}", src_path.display()))?;
    let partial = data_dir.join(format!("{SQLITE_FILE}.partial"));
    remove_if_exists(&partial)?;
    let mut dst = Connection::open(&partial)?;
    let pages = copy_all_pages(&src, &mut dst)?;
    drop(src);
    finish(dst, &partial, &target)?;
    Ok(report(target, pages, started))
}

/// One step of all pages: one read transaction, one snapshot. `Busy`/`Locked` (another
/// connection holds a lock the copy needs for a moment) are retried.
fn copy_all_pages(src: &Connection, dst: &mut Connection) -> anyhow::Result<u64> {
    let backup = Backup::new(src, dst).context("start SQLite backup")?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match backup.step(-1).context("copy pages")? {
            StepResult::Done => break,
            StepResult::More => continue,
            StepResult::Busy | StepResult::Locked => {
                ensure!(Instant::now() < deadline, "the database stayed locked");
                std::thread::sleep(Duration::from_millis(50));
            }
            other => anyhow::bail!("unexpected backup step result {other:?}"),
        }
    }
    Ok(u64::try_from(backup.progress().pagecount)?)
}

fn finish(dst: Connection, partial: &Path, target: &Path) -> anyhow::Result<()> {
    let check: String = dst.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    ensure!(
        check == "ok",
        "the copy fails SQLite's quick_check: {check}"
    );
    // The copy carries the source's WAL flag; fold any WAL back so one file is the whole copy.
    dst.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    dst.close().map_err(|(_, e)| e).context("close the copy")?;
    std::fs::File::open(partial)?.sync_all()?;
    for suffix in ["-wal", "-shm"] {
        remove_if_exists(&PathBuf::from(format!("{}{suffix}", partial.display())))?;
    }
    std::fs::rename(partial, target)
        .with_context(|| format!("rename into {}", target.display()))?;
    if let Some(dir) = target.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn report(path: PathBuf, pages: u64, started: Instant) -> BackupReport {
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    BackupReport {
        path,
        pages,
        bytes,
        elapsed: started.elapsed(),
    }
}

fn remove_if_exists(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Tables in the `public` schema of the PostgreSQL database at `url`: a restore goes only
/// into a database that has none.
pub async fn postgres_table_count(url: &str) -> anyhow::Result<i64> {
    use sqlx::Connection as _;
    let mut c = sqlx::PgConnection::connect(url)
        .await
        .with_context(|| "connect to PostgreSQL")?;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&mut c)
    .await?;
    c.close().await?;
    Ok(n)
}
