//! PostgreSQL side of the co-lending reads (`crate::colending`).

use super::docs::{doc_row, DOC_SELECT};
use super::PgStore;
use crate::docs::DocRow;
use uuid::Uuid;

impl PgStore {
    pub async fn docs_by_ids(&self, ids: Vec<Uuid>) -> anyhow::Result<Vec<DocRow>> {
        let keys: Vec<Vec<u8>> = ids.iter().map(|i| i.as_bytes().to_vec()).collect();
        sqlx::query(&format!("{DOC_SELECT} WHERE id = ANY($1)"))
            .bind(keys)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(doc_row)
            .collect()
    }

    pub async fn closed_docs_by_day(
        &self,
        kind: String,
        day_from: i32,
        day_to: i32,
        after: Option<(i32, Uuid)>,
        limit: u32,
    ) -> anyhow::Result<Vec<DocRow>> {
        let (after_day, after_id) = match after {
            Some((d, id)) => (d, id.as_bytes().to_vec()),
            None => (day_from, Vec::new()),
        };
        let sql = format!(
            "{DOC_SELECT} WHERE kind = $1 AND NOT open AND day >= $2 AND day <= $3 \
             AND (day, id) > ($4, $5) ORDER BY day, id LIMIT $6"
        );
        sqlx::query(&sql)
            .bind(kind)
            .bind(day_from)
            .bind(day_to)
            .bind(after_day)
            .bind(after_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(doc_row)
            .collect()
    }
}
