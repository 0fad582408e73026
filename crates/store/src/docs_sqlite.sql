-- Revolving credit documents (crates/store/src/docs.rs). `docs` is a rowid table because a
-- credit line's body outgrows a page (see `decisions` in sqlite_schema.sql).
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    id BLOB NOT NULL,
    tenant TEXT NOT NULL,
    parent BLOB,
    open INTEGER NOT NULL,
    day INTEGER NOT NULL,
    version INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS docs_by_kind ON docs (kind, open, day, id);
-- No index by parent: no query lists a document's children, and such an index costs every
-- purchase a write at a random place (its line's).
DROP INDEX IF EXISTS docs_by_parent;

CREATE TABLE IF NOT EXISTS doc_events (
    doc_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    day INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;
