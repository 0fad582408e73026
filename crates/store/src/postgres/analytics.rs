//! PostgreSQL side of the month-end snapshots and analytics (crates/store/src/analytics.rs).

use super::PgStore;
use crate::analytics::{
    concentration_sql, AnalyticsFilter, ConcentrationRow, DecisionMonth, DelinquencyPoint,
    Dimension, Month, RollCell, SnapshotReport, SnapshotRow, VintagePoint, AGGREGATE_BUCKETS,
    AGGREGATE_ROLLS, BUCKET_SQL, DELINQUENCY_SQL, FUNDER_AT_INSERT_SQL, FUNDER_CONCENTRATION_SQL,
    LEAD_FUNDER_SQL, PLATFORM_FUNDER_SQL, SCORE_BINS,
};
use sqlx::postgres::PgPoolCopyExt;
use sqlx::Row;
use std::fmt::Write;

pub(super) const SCHEMA: &str = include_str!("analytics_schema.sql");

type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

fn month_of_day(col: &str) -> String {
    format!(
        "(EXTRACT(YEAR FROM DATE '1970-01-01' + {col})::INTEGER * 12
          + EXTRACT(MONTH FROM DATE '1970-01-01' + {col})::INTEGER - 1)"
    )
}

fn profile_field(name: &str) -> String {
    format!("coalesce(convert_from(d.body, 'UTF8')::jsonb #>> '{{profile,{name}}}', '')")
}

const UUID_RE: &str =
    "'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'";

async fn insert_snapshot(tx: &mut Tx<'_>, month: Month) -> anyhow::Result<u64> {
    let sql = format!(
        "INSERT INTO loan_snapshots (month, loan_id, tenant, product, orig_month, region,
            industry, funder, currency, principal_minor, dpd, bucket, status)
         SELECT $1, l.id, l.tenant, l.product_id, {orig}, {region}, {industry}, {funder},
                a.currency, a.debits_posted - a.credits_posted, l.dpd, {BUCKET_SQL}, l.stage
         FROM accounts a
         JOIN loans l ON l.id = (CASE WHEN a.owner LIKE 'loan:%'
                THEN decode(replace(substr(a.owner, 6), '-', ''), 'hex') END)
         JOIN loan_events e ON e.loan_id = l.id AND e.seq = 0
         LEFT JOIN docs d ON d.kind = 'borrower' AND d.id = (CASE WHEN l.borrower ~ {UUID_RE}
                THEN decode(replace(l.borrower, '-', ''), 'hex') END)
         WHERE a.purpose = 'principal_receivable' AND a.owner LIKE 'loan:%'
           AND (l.stage = 'active'
                OR (l.stage IN ('paid_off', 'written_off') AND l.day >= $2
                    AND NOT EXISTS (SELECT 1 FROM loan_snapshots p
                        WHERE p.month = $1 - 1 AND p.loan_id = l.id AND p.status <> 'active')))",
        orig = month_of_day("e.day"),
        region = profile_field("region_code"),
        industry = profile_field("industry_code"),
        funder = FUNDER_AT_INSERT_SQL,
    );
    Ok(sqlx::query(&sql)
        .bind(month.0)
        .bind(month.first_day().to_epoch_days())
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// The month's funder rows (see `snapshot_funders` in the schema) and lead funders.
async fn insert_funders(tx: &mut Tx<'_>, month: Month) -> anyhow::Result<()> {
    // Driven from the funding documents (by kind), each finding its loan's row by key.
    for sql in [
        "DELETE FROM snapshot_funders WHERE month = $1",
        "INSERT INTO snapshot_funders
            (month, loan_id, funder, tenant, product, currency, principal_minor)
         SELECT s.month, s.loan_id,
                CASE WHEN f->>'partner_id'
                          = convert_from(p.body, 'UTF8')::jsonb->>'platform_partner_id'
                     THEN 'platform' ELSE f->>'partner_id' END,
                s.tenant, s.product, s.currency,
                (f #>> '{balances,principal_outstanding_minor}')::BIGINT
         FROM docs p
         JOIN loan_snapshots s ON s.month = $1 AND s.loan_id = p.parent
         CROSS JOIN LATERAL jsonb_array_elements(convert_from(p.body, 'UTF8')::jsonb -> 'funders') f
         WHERE p.kind = 'loan_funding' AND s.status = 'active'
           AND (f #>> '{balances,principal_outstanding_minor}')::BIGINT > 0",
        PLATFORM_FUNDER_SQL,
        LEAD_FUNDER_SQL,
    ] {
        sqlx::query(sql).bind(month.0).execute(&mut **tx).await?;
    }
    Ok(())
}

async fn aggregate(tx: &mut Tx<'_>, month: Month) -> anyhow::Result<()> {
    for sql in [
        "DELETE FROM snapshot_buckets WHERE month = $1",
        "DELETE FROM snapshot_rolls WHERE month = $1",
        AGGREGATE_BUCKETS,
        AGGREGATE_ROLLS,
    ] {
        sqlx::query(sql).bind(month.0).execute(&mut **tx).await?;
    }
    Ok(())
}

fn snapshot_row(r: &sqlx::postgres::PgRow) -> anyhow::Result<SnapshotRow> {
    let id: Vec<u8> = r.try_get(1)?;
    let product: Vec<u8> = r.try_get(3)?;
    Ok(SnapshotRow {
        month: Month(r.try_get(0)?),
        loan_id: uuid::Uuid::from_slice(&id)?,
        tenant: r.try_get(2)?,
        product: uuid::Uuid::from_slice(&product)?,
        orig_month: Month(r.try_get(4)?),
        region: r.try_get(5)?,
        industry: r.try_get(6)?,
        funder: r.try_get(7)?,
        currency: r.try_get(8)?,
        principal_minor: r.try_get(9)?,
        dpd: r.try_get(10)?,
        bucket: r.try_get::<i32, _>(11)? as usize,
        status: r.try_get(12)?,
    })
}

/// The shared SQL with the filter's five parameters bound.
fn filtered<'q>(
    sql: &'q str,
    f: &AnalyticsFilter,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql)
        .bind(f.tenant.clone())
        .bind(f.first_month())
        .bind(f.to_month())
        .bind(f.product_bytes())
        .bind(f.currency.clone())
}

/// A COPY text field: backslashes, tabs and newlines escaped.
fn copy_text(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn copy_bytes(out: &mut String, b: &[u8]) {
    out.push_str("\\\\x");
    for byte in b {
        let _ = write!(out, "{byte:02x}");
    }
}

impl PgStore {
    pub async fn write_snapshot(&self, month: Month) -> anyhow::Result<SnapshotReport> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM loan_snapshots WHERE month = $1")
            .bind(month.0)
            .execute(&mut *tx)
            .await?;
        let loans = insert_snapshot(&mut tx, month).await?;
        insert_funders(&mut tx, month).await?;
        aggregate(&mut tx, month).await?;
        let next: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM loan_snapshots WHERE month = $1 LIMIT 1")
                .bind(month.next().0)
                .fetch_optional(&mut *tx)
                .await?;
        if next.is_some() {
            aggregate(&mut tx, month.next()).await?;
        }
        tx.commit().await?;
        Ok(SnapshotReport { loans })
    }

    pub async fn snapshot_months(&self) -> anyhow::Result<Vec<Month>> {
        let rows: Vec<i32> =
            sqlx::query_scalar("SELECT DISTINCT month FROM snapshot_buckets ORDER BY month")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(Month).collect())
    }

    pub async fn vintage_sql(
        &self,
        f: AnalyticsFilter,
        sql: &'static str,
    ) -> anyhow::Result<Vec<VintagePoint>> {
        let rows = filtered(sql, &f).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(VintagePoint {
                    orig_month: Month(r.try_get(0)?),
                    months_on_book: r.try_get(1)?,
                    currency: r.try_get(2)?,
                    loans: r.try_get(3)?,
                    dpd30_loans: r.try_get(4)?,
                    principal_minor: r.try_get(5)?,
                    dpd30_principal_minor: r.try_get(6)?,
                })
            })
            .collect()
    }

    pub async fn rolls_sql(
        &self,
        f: AnalyticsFilter,
        sql: &'static str,
    ) -> anyhow::Result<Vec<RollCell>> {
        let rows = filtered(sql, &f).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(RollCell {
                    currency: r.try_get(0)?,
                    from: r.try_get::<i32, _>(1)? as usize,
                    to: r.try_get::<i32, _>(2)? as usize,
                    loans: r.try_get(3)?,
                    principal_minor: r.try_get(4)?,
                })
            })
            .collect()
    }

    pub async fn delinquency(&self, f: AnalyticsFilter) -> anyhow::Result<Vec<DelinquencyPoint>> {
        let rows = filtered(DELINQUENCY_SQL, &f).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(DelinquencyPoint {
                    month: Month(r.try_get(0)?),
                    currency: r.try_get(1)?,
                    bucket: r.try_get::<i32, _>(2)? as usize,
                    loans: r.try_get(3)?,
                    principal_minor: r.try_get(4)?,
                })
            })
            .collect()
    }

    pub async fn concentration(
        &self,
        f: AnalyticsFilter,
        month: Month,
        dim: Dimension,
    ) -> anyhow::Result<Vec<ConcentrationRow>> {
        let sql = match dim {
            Dimension::Product => concentration_sql("encode(product, 'hex')"),
            Dimension::Funder => FUNDER_CONCENTRATION_SQL.to_string(),
            other => concentration_sql(other.column()),
        };
        let rows = sqlx::query(&sql)
            .bind(f.tenant.clone())
            .bind(month.0)
            .bind(f.product_bytes())
            .bind(f.currency.clone())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let key: String = r.try_get(1)?;
                Ok(ConcentrationRow {
                    currency: r.try_get(0)?,
                    key: if dim == Dimension::Product {
                        crate::analytics::hex_uuid(&key)
                    } else {
                        key
                    },
                    loans: r.try_get(2)?,
                    principal_minor: r.try_get(3)?,
                })
            })
            .collect()
    }

    pub async fn decision_months(&self, f: AnalyticsFilter) -> anyhow::Result<Vec<DecisionMonth>> {
        let month = "(EXTRACT(YEAR FROM to_timestamp(created_at_ms / 1000) AT TIME ZONE 'UTC')::INTEGER * 12
            + EXTRACT(MONTH FROM to_timestamp(created_at_ms / 1000) AT TIME ZONE 'UTC')::INTEGER - 1)";
        let pd = "((output_json::jsonb #>> '{decision,probability_bad}')::DOUBLE PRECISION)";
        let sql = format!(
            "SELECT m, approved, bin, count(*) FROM (
                SELECT {month} AS m, outcome = 'approve' AS approved,
                       CASE WHEN {pd} IS NULL THEN -1
                            ELSE least(greatest(floor({pd} * {SCORE_BINS})::INTEGER, 0), {top}) END AS bin
                FROM decisions) d
             WHERE m >= $1 AND m <= $2 GROUP BY m, approved, bin ORDER BY m",
            top = SCORE_BINS - 1
        );
        let rows = sqlx::query(&sql)
            .bind(f.first_month())
            .bind(f.to_month())
            .fetch_all(&self.pool)
            .await?;
        let rows = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<i32, _>(0)?,
                    r.try_get::<bool, _>(1)?,
                    i64::from(r.try_get::<i32, _>(2)?),
                    r.try_get::<i64, _>(3)?,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(crate::analytics::decision_months_of(rows))
    }

    pub async fn snapshot_rows(
        &self,
        month: Month,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> anyhow::Result<Vec<SnapshotRow>> {
        let rows = sqlx::query(
            "SELECT month, loan_id, tenant, product, orig_month, region, industry, funder,
                    currency, principal_minor, dpd, bucket, status
             FROM loan_snapshots WHERE month = $1 AND ($2::BYTEA IS NULL OR loan_id > $2)
             ORDER BY loan_id LIMIT $3",
        )
        .bind(month.0)
        .bind(after.map(|a| a.as_bytes().to_vec()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(snapshot_row).collect()
    }

    pub async fn load_snapshot_rows(&self, rows: Vec<SnapshotRow>) -> anyhow::Result<()> {
        let mut text = String::with_capacity(rows.len() * 160);
        for r in &rows {
            let _ = write!(text, "{}\t", r.month.0);
            copy_bytes(&mut text, r.loan_id.as_bytes());
            text.push('\t');
            copy_text(&mut text, &r.tenant);
            text.push('\t');
            copy_bytes(&mut text, r.product.as_bytes());
            let _ = write!(text, "\t{}\t", r.orig_month.0);
            for s in [&r.region, &r.industry, &r.funder, &r.currency] {
                copy_text(&mut text, s);
                text.push('\t');
            }
            let _ = write!(text, "{}\t{}\t{}\t", r.principal_minor, r.dpd, r.bucket);
            copy_text(&mut text, &r.status);
            text.push('\n');
        }
        let mut copy = self
            .pool
            .copy_in_raw(
                "COPY loan_snapshots (month, loan_id, tenant, product, orig_month, region,
                    industry, funder, currency, principal_minor, dpd, bucket, status) FROM STDIN",
            )
            .await?;
        copy.send(text.as_bytes()).await?;
        copy.finish().await?;
        Ok(())
    }

    pub async fn aggregate_snapshot(&self, month: Month) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        aggregate(&mut tx, month).await?;
        tx.commit().await?;
        Ok(())
    }
}
