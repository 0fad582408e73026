//! SQLite side of the console's portfolio figures (crates/store/src/portfolio.rs). Account
//! rows may lag their postings (`balances.rs`); the outstanding sums add the lagging
//! accounts' latest balances from the writer's memory, so they are exact.

use super::SqliteStore;
use crate::portfolio::{add_bucket, Cohort, Outstanding, Portfolio, BOOKED_STAGES};
use ledger::AccountId;
use rusqlite::Connection;

const PRINCIPAL_PURPOSES: &str = "('principal_receivable', 'rc_principal_receivable')";

/// Rows of lagging accounts hold older balances than the writer's memory: what each such
/// principal account adds on top of its row, by currency and purpose.
fn lag_corrections(
    c: &Connection,
    tenant: &Option<String>,
    lagging: &[(AccountId, i64)],
) -> anyhow::Result<Vec<(String, String, i64)>> {
    let mut out = Vec::new();
    for chunk in lagging.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT id, currency, purpose, debits_posted - credits_posted FROM accounts
             WHERE purpose IN {PRINCIPAL_PURPOSES} AND (?1 IS NULL OR tenant = ?1)
               AND id IN ({marks})"
        );
        let mut q = c.prepare(&sql)?;
        let ids: Vec<Vec<u8>> = chunk
            .iter()
            .map(|(id, _)| id.0.as_bytes().to_vec())
            .collect();
        let mut args: Vec<&dyn rusqlite::ToSql> = vec![tenant];
        args.extend(ids.iter().map(|b| b as &dyn rusqlite::ToSql));
        let rows = q.query_map(args.as_slice(), |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        for row in rows {
            let (id, currency, purpose, on_row) = row?;
            let latest = chunk
                .iter()
                .find(|(a, _)| a.0.as_bytes().as_slice() == id.as_slice())
                .map_or(on_row, |(_, b)| *b);
            out.push((currency, purpose, latest - on_row));
        }
    }
    Ok(out)
}

fn outstanding(
    c: &Connection,
    tenant: &Option<String>,
    lagging: &[(AccountId, i64)],
) -> anyhow::Result<Vec<Outstanding>> {
    let mut out: Vec<Outstanding> = Vec::new();
    let mut q = c.prepare_cached(&format!(
        "SELECT currency, purpose, sum(debits_posted - credits_posted) FROM accounts
         WHERE purpose IN {PRINCIPAL_PURPOSES} AND (?1 IS NULL OR tenant = ?1)
         GROUP BY currency, purpose ORDER BY currency"
    ))?;
    let rows = q.query_map([tenant], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let sums = rows.collect::<Result<Vec<_>, _>>()?;
    for (currency, purpose, sum) in sums.into_iter().chain(lag_corrections(c, tenant, lagging)?) {
        let at = match out.iter().position(|o| o.currency == currency) {
            Some(i) => i,
            None => {
                out.push(Outstanding {
                    currency,
                    ..Outstanding::default()
                });
                out.len() - 1
            }
        };
        match purpose.as_str() {
            "principal_receivable" => out[at].loans_minor += sum,
            _ => out[at].lines_minor += sum,
        }
    }
    Ok(out)
}

fn read(
    c: &Connection,
    tenant: Option<String>,
    lagging: &[(AccountId, i64)],
) -> anyhow::Result<Portfolio> {
    let mut p = Portfolio::default();
    let mut q = c.prepare_cached(
        "SELECT stage, count(*) FROM loans WHERE (?1 IS NULL OR tenant = ?1)
         GROUP BY stage ORDER BY stage",
    )?;
    p.loans_by_stage = q
        .query_map([&tenant], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut q = c.prepare_cached(
        "SELECT dpd, count(*) FROM loans WHERE stage = 'active' AND (?1 IS NULL OR tenant = ?1)
         GROUP BY dpd",
    )?;
    for row in q.query_map([&tenant], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    })? {
        let (dpd, n) = row?;
        add_bucket(&mut p.active_by_bucket, dpd, n);
    }
    p.outstanding = outstanding(c, &tenant, lagging)?;
    let mut q = c.prepare_cached(&format!(
        "SELECT e.day, count(*),
                sum(CASE WHEN l.dpd > 30 OR l.stage = 'written_off' THEN 1 ELSE 0 END),
                sum(CASE WHEN l.stage = 'written_off' THEN 1 ELSE 0 END),
                sum(CASE WHEN l.stage = 'paid_off' THEN 1 ELSE 0 END)
         FROM loans l JOIN loan_events e ON e.loan_id = l.id AND e.seq = 0
         WHERE l.stage IN {BOOKED_STAGES} AND (?1 IS NULL OR l.tenant = ?1)
         GROUP BY e.day ORDER BY e.day"
    ))?;
    p.cohorts = q
        .query_map([&tenant], |r| {
            Ok(Cohort {
                day: r.get(0)?,
                loans: r.get(1)?,
                bad: r.get(2)?,
                written_off: r.get(3)?,
                paid_off: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut q = c.prepare_cached(
        "SELECT kind, count(*) FROM docs WHERE kind IN ('line', 'purchase')
           AND (?1 IS NULL OR tenant = ?1) GROUP BY kind",
    )?;
    for row in q.query_map([&tenant], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })? {
        match row? {
            (k, n) if k == "line" => p.credit_lines = n,
            (_, n) => p.purchases = n,
        }
    }
    Ok(p)
}

impl SqliteStore {
    pub async fn portfolio(&self, tenant: Option<String>) -> anyhow::Result<Portfolio> {
        let deferred = self.balances.clone();
        self.with_reader(move |c| {
            // Held while reading: the writer takes it before it writes, so the rows and
            // the lagging balances are of the same commit.
            let d = super::recovered(&deferred, c)?;
            let lagging: Vec<(AccountId, i64)> = d
                .lagging()
                .map(|(id, b)| (*id, b.debits_posted_minor - b.credits_posted_minor))
                .collect();
            read(c, tenant, &lagging)
        })
        .await
    }
}
