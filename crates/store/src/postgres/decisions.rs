//! The credit decisions' audit rows, stored in one transaction with their events; apart
//! because nothing else reads or writes them.

use super::{events, PgStore};
use crate::{DecisionRow, Hash};
use anyhow::Context;
use sqlx::Row;
use std::sync::Arc;

impl PgStore {
    /// Stores decisions with one statement (atomic: all of them or none).
    pub async fn insert_decisions(
        &self,
        rows: Arc<Vec<DecisionRow>>,
        decision_events: Arc<Vec<crate::EventRow>>,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let text = |f: fn(&DecisionRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
        let hash =
            |f: fn(&DecisionRow) -> &Hash| rows.iter().map(|d| &f(d)[..]).collect::<Vec<&[u8]>>();
        sqlx::query(
            "INSERT INTO decisions (id, applicant_id, created_at_ms, input_json, input_hash, \
             model_version, policy_version, outcome, rules_fired, output_json, output_hash) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bytea[], \
             $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bytea[])",
        )
        .bind(text(|d| &d.id))
        .bind(text(|d| &d.applicant_id))
        .bind(rows.iter().map(|d| d.created_at_ms).collect::<Vec<i64>>())
        .bind(text(|d| &d.input_json))
        .bind(hash(|d| &d.input_hash))
        .bind(text(|d| &d.model_version))
        .bind(text(|d| &d.policy_version))
        .bind(text(|d| &d.outcome))
        .bind(text(|d| &d.rules_fired))
        .bind(text(|d| &d.output_json))
        .bind(hash(|d| &d.output_hash))
        .execute(&mut *tx)
        .await
        .context("insert decisions")?;
        events::write(&mut tx, &decision_events.iter().collect::<Vec<_>>()).await?;
        tx.commit().await.context("commit decisions")?;
        Ok(())
    }

    pub async fn decision(&self, id: &str) -> anyhow::Result<Option<DecisionRow>> {
        let row = sqlx::query(
            "SELECT applicant_id, created_at_ms, input_json, input_hash, model_version, \
             policy_version, outcome, rules_fired, output_json, output_hash \
             FROM decisions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let hash = |i: usize| -> anyhow::Result<Hash> {
                let b: Vec<u8> = r.try_get(i)?;
                b.as_slice()
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("stored hash has {} bytes, not 32", b.len()))
            };
            Ok(DecisionRow {
                id: id.to_string(),
                applicant_id: r.try_get(0)?,
                created_at_ms: r.try_get(1)?,
                input_json: r.try_get(2)?,
                input_hash: hash(3)?,
                model_version: r.try_get(4)?,
                policy_version: r.try_get(5)?,
                outcome: r.try_get(6)?,
                rules_fired: r.try_get(7)?,
                output_json: r.try_get(8)?,
                output_hash: hash(9)?,
            })
        })
        .transpose()
    }
}
