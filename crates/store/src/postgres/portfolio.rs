//! PostgreSQL side of the console's portfolio figures (crates/store/src/portfolio.rs).

use super::PgStore;
use crate::portfolio::{add_bucket, Cohort, Outstanding, Portfolio, BOOKED_STAGES};
use sqlx::Row;

impl PgStore {
    pub async fn portfolio(&self, tenant: Option<String>) -> anyhow::Result<Portfolio> {
        let mut p = Portfolio::default();
        let rows = sqlx::query(
            "SELECT stage, count(*) FROM loans WHERE ($1::TEXT IS NULL OR tenant = $1)
             GROUP BY stage ORDER BY stage",
        )
        .bind(&tenant)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            p.loans_by_stage.push((r.try_get(0)?, r.try_get(1)?));
        }
        let rows = sqlx::query(
            "SELECT dpd::BIGINT, count(*) FROM loans
             WHERE stage = 'active' AND ($1::TEXT IS NULL OR tenant = $1) GROUP BY dpd",
        )
        .bind(&tenant)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            add_bucket(&mut p.active_by_bucket, r.try_get(0)?, r.try_get(1)?);
        }
        let rows = sqlx::query(
            "SELECT currency, purpose, sum(debits_posted - credits_posted)::BIGINT FROM accounts
             WHERE purpose IN ('principal_receivable', 'rc_principal_receivable')
               AND ($1::TEXT IS NULL OR tenant = $1)
             GROUP BY currency, purpose ORDER BY currency",
        )
        .bind(&tenant)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let currency: String = r.try_get(0)?;
            let purpose: String = r.try_get(1)?;
            let sum: i64 = r.try_get(2)?;
            if p.outstanding.last().is_none_or(|o| o.currency != currency) {
                p.outstanding.push(Outstanding {
                    currency,
                    ..Outstanding::default()
                });
            }
            let o = p.outstanding.last_mut().expect("pushed above");
            match purpose.as_str() {
                "principal_receivable" => o.loans_minor = sum,
                _ => o.lines_minor = sum,
            }
        }
        let rows = sqlx::query(&format!(
            "SELECT e.day, count(*),
                    sum(CASE WHEN l.dpd > 30 OR l.stage = 'written_off' THEN 1 ELSE 0 END)::BIGINT,
                    sum(CASE WHEN l.stage = 'written_off' THEN 1 ELSE 0 END)::BIGINT,
                    sum(CASE WHEN l.stage = 'paid_off' THEN 1 ELSE 0 END)::BIGINT
             FROM loans l JOIN loan_events e ON e.loan_id = l.id AND e.seq = 0
             WHERE l.stage IN {BOOKED_STAGES} AND ($1::TEXT IS NULL OR l.tenant = $1)
             GROUP BY e.day ORDER BY e.day"
        ))
        .bind(&tenant)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            p.cohorts.push(Cohort {
                day: r.try_get(0)?,
                loans: r.try_get(1)?,
                bad: r.try_get(2)?,
                written_off: r.try_get(3)?,
                paid_off: r.try_get(4)?,
            });
        }
        let rows = sqlx::query(
            "SELECT kind, count(*) FROM docs WHERE kind IN ('line', 'purchase')
               AND ($1::TEXT IS NULL OR tenant = $1) GROUP BY kind",
        )
        .bind(&tenant)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let kind: String = r.try_get(0)?;
            let n: i64 = r.try_get(1)?;
            if kind == "line" {
                p.credit_lines = n;
            } else {
                p.purchases = n;
            }
        }
        Ok(p)
    }
}
