//! Export of one month's snapshot rows for a warehouse as CSV. Rows are read a page at a
//! time, so memory is bounded by the page, not the book.

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
