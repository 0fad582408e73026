//! SQLite side of the month-end snapshots and analytics (crates/store/src/analytics.rs).

use super::SqliteStore;
use crate::analytics::{
    concentration_sql, AnalyticsFilter, ConcentrationRow, DecisionMonth, DelinquencyPoint,
    Dimension, Month, RollCell, SnapshotReport, SnapshotRow, VintagePoint, AGGREGATE_BUCKETS,
    AGGREGATE_ROLLS, BUCKET_SQL, DELINQUENCY_SQL, FUNDER_AT_INSERT_SQL, FUNDER_CONCENTRATION_SQL,
    LEAD_FUNDER_SQL, PLATFORM_FUNDER_SQL, SCORE_BINS,
};
use rusqlite::{params, Connection, OptionalExtension};

pub(super) const SCHEMA: &str = include_str!("analytics_schema.sql");

/// PostgreSQL's `$n` placeholders as SQLite's numbered `?n`.
fn q(sql: &str) -> String {
    sql.replace('$', "?")
}

/// A month from a day count since 1970, in SQL.
fn month_of_day(col: &str) -> String {
    format!(
        "(CAST(strftime('%Y', {col} * 86400, 'unixepoch') AS INTEGER) * 12
          + CAST(strftime('%m', {col} * 86400, 'unixepoch') AS INTEGER) - 1)"
    )
}

/// Text of a JSON document field of the borrower's profile, or ''.
fn profile_field(name: &str) -> String {
    format!(
        "coalesce(CASE WHEN json_valid(CAST(d.body AS TEXT))
           THEN json_extract(CAST(d.body AS TEXT), '$.profile.{name}') END, '')"
    )
}

fn insert_snapshot(c: &Connection, month: Month) -> anyhow::Result<u64> {
    let sql = format!(
        "INSERT INTO loan_snapshots (month, loan_id, tenant, product, orig_month, region,
            industry, funder, currency, principal_minor, dpd, bucket, status)
         SELECT ?1, l.id, l.tenant, l.product_id, {orig}, {region}, {industry}, {funder},
                a.currency, a.debits_posted - a.credits_posted, l.dpd, {BUCKET_SQL}, l.stage
         FROM accounts a
         JOIN loans l ON l.id = unhex(replace(substr(a.owner, 6), '-', ''))
         JOIN loan_events e ON e.loan_id = l.id AND e.seq = 0
         LEFT JOIN docs d ON d.kind = 'borrower' AND d.id = unhex(replace(l.borrower, '-', ''))
         WHERE a.purpose = 'principal_receivable' AND a.owner LIKE 'loan:%'
           AND (l.stage = 'active'
                OR (l.stage IN ('paid_off', 'written_off') AND l.day >= ?2
                    AND NOT EXISTS (SELECT 1 FROM loan_snapshots p
                        WHERE p.month = ?1 - 1 AND p.loan_id = l.id AND p.status <> 'active')))",
        orig = month_of_day("e.day"),
        region = profile_field("region_code"),
        industry = profile_field("industry_code"),
        funder = FUNDER_AT_INSERT_SQL,
    );
    let first = month.first_day().to_epoch_days();
    Ok(c.execute(&sql, params![month.0, first])? as u64)
}

/// The month's funder rows (see `snapshot_funders` in the schema) and lead funders.
fn insert_funders(c: &Connection, month: Month) -> anyhow::Result<()> {
    c.execute("DELETE FROM snapshot_funders WHERE month = ?1", [month.0])?;
    // Driven from the funding documents in row-id order, each finding its loan's row by
    // key. By the kind's index they come in (random) id order, and on a store larger than
    // memory each would cost a seek: over 15 minutes for 1,000,000 loans on a slow disk.
    let mut rowids = c
        .prepare("SELECT rowid FROM docs INDEXED BY docs_by_kind WHERE kind = 'loan_funding'")?
        .query_map([], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rowids.sort_unstable();
    let mut insert = c.prepare(
        "INSERT INTO snapshot_funders
            (month, loan_id, funder, tenant, product, currency, principal_minor)
         SELECT s.month, s.loan_id,
                CASE WHEN json_extract(f.value, '$.partner_id')
                          = json_extract(CAST(p.body AS TEXT), '$.platform_partner_id')
                     THEN 'platform' ELSE json_extract(f.value, '$.partner_id') END,
                s.tenant, s.product, s.currency,
                json_extract(f.value, '$.balances.principal_outstanding_minor')
         FROM docs p
         JOIN loan_snapshots s ON s.month = ?1 AND s.loan_id = p.parent
         JOIN json_each(CAST(p.body AS TEXT), '$.funders') f
         WHERE p.rowid = ?2 AND p.kind = 'loan_funding' AND s.status = 'active'
           AND json_extract(f.value, '$.balances.principal_outstanding_minor') > 0",
    )?;
    for rowid in rowids {
        insert.execute(params![month.0, rowid])?;
    }
    c.execute(&q(PLATFORM_FUNDER_SQL), [month.0])?;
    c.execute(&q(LEAD_FUNDER_SQL), [month.0])?;
    Ok(())
}

/// Rows of lagging principal accounts hold older balances than the writer's memory.
fn correct_lagging(
    c: &Connection,
    month: Month,
    lagging: &[(ledger::AccountId, i64)],
) -> anyhow::Result<()> {
    let mut owner = c.prepare_cached(
        "SELECT unhex(replace(substr(owner, 6), '-', '')) FROM accounts
         WHERE id = ?1 AND purpose = 'principal_receivable' AND owner LIKE 'loan:%'",
    )?;
    let mut update = c.prepare_cached(
        "UPDATE loan_snapshots SET principal_minor = ?3 WHERE month = ?1 AND loan_id = ?2",
    )?;
    for (id, balance) in lagging {
        let loan: Option<Vec<u8>> = owner
            .query_row([id.0.as_bytes().as_slice()], |r| r.get(0))
            .optional()?;
        if let Some(loan) = loan {
            update.execute(params![month.0, loan, balance])?;
        }
    }
    Ok(())
}

fn aggregate(c: &Connection, month: Month) -> anyhow::Result<()> {
    c.execute("DELETE FROM snapshot_buckets WHERE month = ?1", [month.0])?;
    c.execute("DELETE FROM snapshot_rolls WHERE month = ?1", [month.0])?;
    c.execute(&q(AGGREGATE_BUCKETS), [month.0])?;
    c.execute(&q(AGGREGATE_ROLLS), [month.0])?;
    Ok(())
}

fn has_month(c: &Connection, month: Month) -> anyhow::Result<bool> {
    Ok(c.query_row(
        "SELECT 1 FROM loan_snapshots WHERE month = ?1 LIMIT 1",
        [month.0],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

fn snapshot_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotRow> {
    let id: Vec<u8> = r.get(1)?;
    let product: Vec<u8> = r.get(3)?;
    let uuid = |b: &[u8]| uuid::Uuid::from_slice(b).unwrap_or_default();
    Ok(SnapshotRow {
        month: Month(r.get(0)?),
        loan_id: uuid(&id),
        tenant: r.get(2)?,
        product: uuid(&product),
        orig_month: Month(r.get(4)?),
        region: r.get(5)?,
        industry: r.get(6)?,
        funder: r.get(7)?,
        currency: r.get(8)?,
        principal_minor: r.get(9)?,
        dpd: r.get(10)?,
        bucket: r.get::<_, i64>(11)? as usize,
        status: r.get(12)?,
    })
}

/// The filter's parameters in the order of the shared SQL (`$1` … `$5`).
fn filter_params(
    f: &AnalyticsFilter,
) -> (Option<String>, i32, i32, Option<Vec<u8>>, Option<String>) {
    (
        f.tenant.clone(),
        f.first_month(),
        f.to_month(),
        f.product_bytes(),
        f.currency.clone(),
    )
}

impl SqliteStore {
    pub async fn write_snapshot(&self, month: Month) -> anyhow::Result<SnapshotReport> {
        let deferred = self.balances.clone();
        self.with_writer(move |c| {
            // Taken before the rows are read, as a commit takes it before it writes.
            let d = super::recovered(&deferred, c)?;
            let lagging: Vec<(ledger::AccountId, i64)> = d
                .lagging()
                .map(|(id, b)| (*id, b.debits_posted_minor - b.credits_posted_minor))
                .collect();
            let tx = c.transaction()?;
            tx.execute("DELETE FROM loan_snapshots WHERE month = ?1", [month.0])?;
            let loans = insert_snapshot(&tx, month)?;
            correct_lagging(&tx, month, &lagging)?;
            insert_funders(&tx, month)?;
            aggregate(&tx, month)?;
            if has_month(&tx, month.next())? {
                aggregate(&tx, month.next())?;
            }
            tx.commit()?;
            drop(d);
            Ok(SnapshotReport { loans })
        })
        .await
    }

    pub async fn snapshot_months(&self) -> anyhow::Result<Vec<Month>> {
        self.with_reader(|c| {
            let mut s =
                c.prepare_cached("SELECT DISTINCT month FROM snapshot_buckets ORDER BY month")?;
            let rows = s.query_map([], |r| Ok(Month(r.get(0)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn vintage_sql(
        &self,
        f: AnalyticsFilter,
        sql: &'static str,
    ) -> anyhow::Result<Vec<VintagePoint>> {
        self.with_reader(move |c| {
            let mut s = c.prepare_cached(&q(sql))?;
            let rows = s.query_map(filter_params(&f), |r| {
                Ok(VintagePoint {
                    orig_month: Month(r.get(0)?),
                    months_on_book: r.get(1)?,
                    currency: r.get(2)?,
                    loans: r.get(3)?,
                    dpd30_loans: r.get(4)?,
                    principal_minor: r.get(5)?,
                    dpd30_principal_minor: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn rolls_sql(
        &self,
        f: AnalyticsFilter,
        sql: &'static str,
    ) -> anyhow::Result<Vec<RollCell>> {
        self.with_reader(move |c| {
            let mut s = c.prepare_cached(&q(sql))?;
            let rows = s.query_map(filter_params(&f), |r| {
                Ok(RollCell {
                    currency: r.get(0)?,
                    from: r.get::<_, i64>(1)? as usize,
                    to: r.get::<_, i64>(2)? as usize,
                    loans: r.get(3)?,
                    principal_minor: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn delinquency(&self, f: AnalyticsFilter) -> anyhow::Result<Vec<DelinquencyPoint>> {
        self.with_reader(move |c| {
            let mut s = c.prepare_cached(&q(DELINQUENCY_SQL))?;
            let rows = s.query_map(filter_params(&f), |r| {
                Ok(DelinquencyPoint {
                    month: Month(r.get(0)?),
                    currency: r.get(1)?,
                    bucket: r.get::<_, i64>(2)? as usize,
                    loans: r.get(3)?,
                    principal_minor: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn concentration(
        &self,
        f: AnalyticsFilter,
        month: Month,
        dim: Dimension,
    ) -> anyhow::Result<Vec<ConcentrationRow>> {
        self.with_reader(move |c| {
            let sql = match dim {
                Dimension::Product => concentration_sql("lower(hex(product))"),
                Dimension::Funder => FUNDER_CONCENTRATION_SQL.to_string(),
                other => concentration_sql(other.column()),
            };
            let mut s = c.prepare_cached(&q(&sql))?;
            let rows = s.query_map(
                params![f.tenant, month.0, f.product_bytes(), f.currency],
                |r| {
                    Ok(ConcentrationRow {
                        currency: r.get(0)?,
                        key: r.get(1)?,
                        loans: r.get(2)?,
                        principal_minor: r.get(3)?,
                    })
                },
            )?;
            let mut out: Vec<ConcentrationRow> = rows.collect::<Result<_, _>>()?;
            if dim == Dimension::Product {
                for r in &mut out {
                    r.key = crate::analytics::hex_uuid(&r.key);
                }
            }
            Ok(out)
        })
        .await
    }

    pub async fn decision_months(&self, f: AnalyticsFilter) -> anyhow::Result<Vec<DecisionMonth>> {
        self.with_reader(move |c| {
            let month = "(CAST(strftime('%Y', created_at_ms / 1000, 'unixepoch') AS INTEGER) * 12
                + CAST(strftime('%m', created_at_ms / 1000, 'unixepoch') AS INTEGER) - 1)";
            let pd = "json_extract(output_json, '$.decision.probability_bad')";
            let sql = format!(
                "SELECT {month} AS m, outcome = 'approve',
                        CASE WHEN {pd} IS NULL THEN -1
                             ELSE min(max(CAST({pd} * {SCORE_BINS} AS INTEGER), 0), {top}) END,
                        count(*)
                 FROM decisions GROUP BY 1, 2, 3 HAVING m >= ?1 AND m <= ?2 ORDER BY 1",
                top = SCORE_BINS - 1
            );
            let mut s = c.prepare(&sql)?;
            let rows = s.query_map(params![f.first_month(), f.to_month()], |r| {
                Ok((
                    r.get::<_, i32>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
            Ok(crate::analytics::decision_months_of(rows))
        })
        .await
    }

    pub async fn snapshot_rows(
        &self,
        month: Month,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> anyhow::Result<Vec<SnapshotRow>> {
        self.with_reader(move |c| {
            let mut s = c.prepare_cached(
                "SELECT month, loan_id, tenant, product, orig_month, region, industry, funder,
                        currency, principal_minor, dpd, bucket, status
                 FROM loan_snapshots WHERE month = ?1 AND (?2 IS NULL OR loan_id > ?2)
                 ORDER BY loan_id LIMIT ?3",
            )?;
            let after = after.map(|a| a.as_bytes().to_vec());
            let rows = s.query_map(params![month.0, after, limit], snapshot_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn load_snapshot_rows(&self, rows: Vec<SnapshotRow>) -> anyhow::Result<()> {
        self.with_writer(move |c| {
            let tx = c.transaction()?;
            {
                let mut s = tx.prepare_cached(
                    "INSERT INTO loan_snapshots (month, loan_id, tenant, product, orig_month,
                        region, industry, funder, currency, principal_minor, dpd, bucket, status)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )?;
                for r in &rows {
                    s.execute(params![
                        r.month.0,
                        r.loan_id.as_bytes().as_slice(),
                        r.tenant,
                        r.product.as_bytes().as_slice(),
                        r.orig_month.0,
                        r.region,
                        r.industry,
                        r.funder,
                        r.currency,
                        r.principal_minor,
                        r.dpd,
                        r.bucket as i64,
                        r.status,
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn aggregate_snapshot(&self, month: Month) -> anyhow::Result<()> {
        self.with_writer(move |c| {
            let tx = c.transaction()?;
            aggregate(&tx, month)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
