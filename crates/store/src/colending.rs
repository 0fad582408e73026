//! Reads co-lending needs beyond the document API: several documents by id in one round
//! trip (close of business looks up a chunk's co-lent loans at once), and closed documents
//! of a kind by business day (a day's position movements, for reconciliation files), and
//! every document of a kind in the order storage holds them.

use crate::access::DocFilter;
use crate::docs::DocRow;
use crate::Store;
use uuid::Uuid;

/// Every document of one kind in one tenant, a page at a time, in no promised order.
///
/// On SQLite the pages follow the table's row ids, so a full read walks the file forward;
/// in id order it would seek once a document (ids are random), which on a store larger
/// than memory is the whole cost. PostgreSQL pages by id (its bitmap scans sort the reads).
pub struct DocScan {
    store: Store,
    kind: String,
    tenant: String,
    page: usize,
    at: ScanAt,
}

enum ScanAt {
    Start,
    AfterId(Option<Uuid>),
    Rows(Vec<i64>, usize),
    Done,
}

impl DocScan {
    /// The next page; None once every document was handed out.
    pub async fn next_page(&mut self) -> anyhow::Result<Option<Vec<DocRow>>> {
        loop {
            match std::mem::replace(&mut self.at, ScanAt::Done) {
                ScanAt::Done => return Ok(None),
                ScanAt::Start => {
                    self.at = match &self.store {
                        Store::Sqlite(s) => {
                            let ids = s.doc_rowids(self.kind.clone(), self.tenant.clone());
                            ScanAt::Rows(ids.await?, 0)
                        }
                        Store::Postgres(_) => ScanAt::AfterId(None),
                    }
                }
                ScanAt::AfterId(after) => return self.page_by_id(after).await,
                ScanAt::Rows(ids, from) => {
                    let Store::Sqlite(s) = &self.store else {
                        unreachable!("row ids are SQLite's")
                    };
                    let to = ids.len().min(from + self.page);
                    if from == to {
                        return Ok(None);
                    }
                    let rows = s.docs_by_rowids(ids[from..to].to_vec()).await?;
                    self.at = ScanAt::Rows(ids, to);
                    return Ok(Some(rows));
                }
            }
        }
    }

    async fn page_by_id(&mut self, after: Option<Uuid>) -> anyhow::Result<Option<Vec<DocRow>>> {
        let rows = self
            .store
            .docs_page(DocFilter {
                kind: self.kind.clone(),
                tenant: Some(self.tenant.clone()),
                after,
                limit: self.page as u32,
                ..DocFilter::default()
            })
            .await?;
        match rows.last() {
            None => Ok(None),
            Some(last) => {
                self.at = ScanAt::AfterId(Some(last.id));
                Ok(Some(rows))
            }
        }
    }
}

impl Store {
    /// Every document of `kind` in `tenant`, `page` at a time (see [`DocScan`]).
    pub fn doc_scan(&self, kind: &str, tenant: &str, page: usize) -> DocScan {
        DocScan {
            store: self.clone(),
            kind: kind.to_string(),
            tenant: tenant.to_string(),
            page: page.max(1),
            at: ScanAt::Start,
        }
    }

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
