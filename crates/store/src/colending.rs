//! Reads co-lending needs beyond the document API: several documents by id in one round
//! trip (close of business looks up a chunk's co-lent loans at once), and closed documents
//! of a kind by business day (a day's position movements, for reconciliation files).

use crate::docs::DocRow;
use crate::Store;
use uuid::Uuid;

impl Store {
    /// The documents among `ids` that exist, in no particular order.
    pub async fn docs_by_ids(&self, ids: Vec<Uuid>) -> anyhow::Result<Vec<DocRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Store::Sqlite(s) => s.docs_by_ids(ids).await,
            Store::Postgres(s) => s.docs_by_ids(ids).await,
        }
    }

    /// Closed documents (`open` false) of `kind` whose day is in `day_from..=day_to`, in
    /// `(day, id)` order after `after`. Served by the `(kind, open, day, id)` index.
    pub async fn closed_docs_by_day(
        &self,
        kind: &str,
        day_from: i32,
        day_to: i32,
        after: Option<(i32, Uuid)>,
        limit: u32,
    ) -> anyhow::Result<Vec<DocRow>> {
        let kind = kind.to_string();
        match self {
            Store::Sqlite(s) => {
                s.closed_docs_by_day(kind, day_from, day_to, after, limit)
                    .await
            }
            Store::Postgres(s) => {
                s.closed_docs_by_day(kind, day_from, day_to, after, limit)
                    .await
            }
        }
    }
}
