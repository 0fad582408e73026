//! The credit decisions' audit rows, stored in one transaction with their events; apart
//! because nothing else reads or writes them.

use super::{events, SqliteStore};
use crate::{DecisionRow, Hash};
use anyhow::Context;
use rusqlite::{params, OptionalExtension};
use std::sync::Arc;

impl SqliteStore {
    /// Stores decisions in one transaction: all of them or, on any error, none.
    pub async fn insert_decisions(
        &self,
        rows: Arc<Vec<DecisionRow>>,
        decision_events: Arc<Vec<crate::EventRow>>,
    ) -> anyhow::Result<()> {
        self.with_writer(move |c| {
            let tx = c.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO decisions (id, applicant_id, created_at_ms, input_json, \
                     input_hash, model_version, policy_version, outcome, rules_fired, \
                     output_json, output_hash) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?;
                for d in rows.iter() {
                    insert.execute(params![
                        d.id,
                        d.applicant_id,
                        d.created_at_ms,
                        d.input_json,
                        &d.input_hash[..],
                        d.model_version,
                        d.policy_version,
                        d.outcome,
                        d.rules_fired,
                        d.output_json,
                        &d.output_hash[..]
                    ])?;
                }
            }
            events::write(&tx, &decision_events.iter().collect::<Vec<_>>())?;
            tx.commit().context("commit decisions")
        })
        .await
    }

    pub async fn decision(&self, id: String) -> anyhow::Result<Option<DecisionRow>> {
        self.with_reader(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT applicant_id, created_at_ms, input_json, input_hash, model_version, \
                     policy_version, outcome, rules_fired, output_json, output_hash \
                     FROM decisions WHERE id = ?1",
                )?
                .query_row([&id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, String>(8)?,
                        r.get::<_, Vec<u8>>(9)?,
                    ))
                })
                .optional()?;
            row.map(|r| {
                Ok(DecisionRow {
                    id: id.clone(),
                    applicant_id: r.0,
                    created_at_ms: r.1,
                    input_json: r.2,
                    input_hash: hash32(&r.3)?,
                    model_version: r.4,
                    policy_version: r.5,
                    outcome: r.6,
                    rules_fired: r.7,
                    output_json: r.8,
                    output_hash: hash32(&r.9)?,
                })
            })
            .transpose()
        })
        .await
    }
}

fn hash32(bytes: &[u8]) -> anyhow::Result<Hash> {
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("stored hash has {} bytes, not 32", bytes.len()))
}
