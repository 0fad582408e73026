//! Export of one month's snapshot rows for a warehouse, as CSV or Parquet. Rows are read a
//! page at a time (a Parquet row group each), so memory is bounded by the page, not the book.

use crate::parquet_out::{self, Column, Kind};
use std::path::Path;
use store::analytics::{Month, SnapshotRow, ROLL_TO};
use store::Store;

/// Rows read per query.
const PAGE_ROWS: u32 = 65_536;

pub const COLUMNS: [&str; 14] = [
    "month",
    "loan_id",
    "tenant",
    "product",
    "orig_month",
    "months_on_book",
    "region",
    "industry",
    "funder",
    "currency",
    "principal_minor",
    "dpd",
    "bucket",
    "status",
];

fn cells(r: &SnapshotRow) -> [String; 14] {
    [
        r.month.to_string(),
        r.loan_id.to_string(),
        r.tenant.clone(),
        r.product.to_string(),
        r.orig_month.to_string(),
        (r.month.0 - r.orig_month.0).to_string(),
        r.region.clone(),
        r.industry.clone(),
        r.funder.clone(),
        r.currency.clone(),
        r.principal_minor.to_string(),
        r.dpd.to_string(),
        ROLL_TO[r.bucket].to_string(),
        r.status.clone(),
    ]
}

/// Calls `f` with each page of the month's rows, in loan id order; returns the row count.
async fn pages(
    s: &Store,
    month: Month,
    mut f: impl FnMut(&[SnapshotRow]) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut after = None;
    let mut n = 0;
    loop {
        let page = s.snapshot_rows(month, after, PAGE_ROWS).await?;
        let Some(last) = page.last() else {
            return Ok(n);
        };
        after = Some(last.loan_id);
        n += page.len() as u64;
        f(&page)?;
    }
}

pub async fn csv(s: &Store, month: Month, out: &Path) -> anyhow::Result<u64> {
    let mut w = csv::Writer::from_path(out)?;
    w.write_record(COLUMNS)?;
    let n = pages(s, month, |rows| {
        for r in rows {
            w.write_record(cells(r))?;
        }
        Ok(())
    })
    .await?;
    w.flush()?;
    Ok(n)
}

/// The Parquet types of [`COLUMNS`]: months, ids and codes as text, counts and amounts as
/// integers.
const KINDS: [Kind; 14] = [
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Int32,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Int64,
    Kind::Int64,
    Kind::Text,
    Kind::Text,
];

fn row_group(rows: &[SnapshotRow]) -> Vec<Column> {
    let text = |f: &dyn Fn(&SnapshotRow) -> String| Column::Text(rows.iter().map(f).collect());
    vec![
        text(&|r| r.month.to_string()),
        text(&|r| r.loan_id.to_string()),
        text(&|r| r.tenant.clone()),
        text(&|r| r.product.to_string()),
        text(&|r| r.orig_month.to_string()),
        Column::Int32(rows.iter().map(|r| r.month.0 - r.orig_month.0).collect()),
        text(&|r| r.region.clone()),
        text(&|r| r.industry.clone()),
        text(&|r| r.funder.clone()),
        text(&|r| r.currency.clone()),
        Column::Int64(rows.iter().map(|r| r.principal_minor).collect()),
        Column::Int64(rows.iter().map(|r| r.dpd).collect()),
        text(&|r| ROLL_TO[r.bucket].to_string()),
        text(&|r| r.status.clone()),
    ]
}

pub async fn parquet(s: &Store, month: Month, out: &Path) -> anyhow::Result<u64> {
    let fields: Vec<(&str, Kind)> = COLUMNS.iter().copied().zip(KINDS).collect();
    let file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut w = parquet_out::Writer::new(file, "snapshot", &fields)?;
    let n = pages(s, month, |rows| w.row_group(row_group(rows))).await?;
    w.close()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(n)
}
