//! Bringing a data directory's schema up to date, with the one-off rewrites of directories
//! made by earlier versions; apart because it runs once, when the store is opened.

use super::{access, account_index, analytics, audit, docs, events, webhooks, SqliteStore, SCHEMA};
use anyhow::Context;
use rusqlite::{Connection, OptionalExtension};

impl SqliteStore {
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.with_writer(|c| {
            for table in ROWID_TABLES {
                rebuild_as_rowid_table(c, table)?;
            }
            c.execute_batch(SCHEMA).context("apply sqlite schema")?;
            move_account_index(c)?;
            add_balances_seq(c)?;
            c.execute_batch(docs::SCHEMA)
                .context("apply sqlite document schema")?;
            c.execute_batch(events::SCHEMA)
                .context("apply sqlite event schema")?;
            c.execute_batch(audit::SCHEMA)
                .context("apply sqlite audit schema")?;
            c.execute_batch(webhooks::SCHEMA)
                .context("apply sqlite webhook schema")?;
            c.execute_batch(analytics::SCHEMA)
                .context("apply sqlite analytics schema")?;
            access::add_access_columns(c)
        })
        .await
    }
}

/// Data directories from before rows could lag their postings: every row is exact, as of
/// the next entry.
fn add_balances_seq(c: &mut Connection) -> anyhow::Result<()> {
    let has: i64 = c.query_row(
        "SELECT count(*) FROM pragma_table_info('accounts') WHERE name = 'balances_seq'",
        [],
        |r| r.get(0),
    )?;
    if has == 1 {
        return Ok(());
    }
    let tx = c.transaction()?;
    tx.execute_batch(
        "ALTER TABLE accounts ADD COLUMN balances_seq INTEGER NOT NULL DEFAULT 0;
         UPDATE accounts SET balances_seq = (SELECT coalesce(max(seq) + 1, 0) FROM entries);
         UPDATE balance_mark SET through_seq = (SELECT coalesce(max(seq) + 1, 0) FROM entries);",
    )?;
    tx.commit()?;
    Ok(())
}

/// Data directories from before `account_entries` indexed postings with an SQL index;
/// moves that index into the table, all at once.
fn move_account_index(c: &mut Connection) -> anyhow::Result<()> {
    let old: Option<String> = c
        .query_row(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND name = 'postings_by_account'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if old.is_none() {
        return Ok(());
    }
    let tx = c.transaction()?;
    let end: i64 = tx.query_row("SELECT coalesce(max(seq) + 1, 0) FROM entries", [], |r| {
        r.get(0)
    })?;
    account_index::index_from_storage(&tx, end)?;
    tx.execute_batch("DROP INDEX postings_by_account")?;
    tx.commit()
        .context("move the account index into account_entries")
}

/// Tables whose rows outgrow a page; data directories made before they became rowid
/// tables are rebuilt by `migrate`.
const ROWID_TABLES: [&str; 2] = ["decisions", "docs"];

/// Copies a WITHOUT ROWID table into its rowid form from the current schema, in one
/// transaction; a table that is already a rowid table, or absent, is left alone.
fn rebuild_as_rowid_table(c: &mut Connection, table: &str) -> anyhow::Result<()> {
    let sql: Option<String> = c
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )
        .optional()?;
    if !sql.is_some_and(|s| s.contains("WITHOUT ROWID")) {
        return Ok(());
    }
    let old = format!("{table}_without_rowid");
    let tx = c.transaction()?;
    tx.execute_batch(&format!("ALTER TABLE {table} RENAME TO {old}"))?;
    let indexes: Vec<String> = tx
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL")?
        .query_map([&old], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for index in indexes {
        tx.execute_batch(&format!("DROP INDEX {index}"))?;
    }
    tx.execute_batch(SCHEMA)?;
    tx.execute_batch(docs::SCHEMA)?;
    tx.execute_batch(&format!(
        "INSERT INTO {table} SELECT * FROM {old}; DROP TABLE {old};"
    ))?;
    tx.commit()
        .with_context(|| format!("rebuild table {table} as a rowid table"))
}
