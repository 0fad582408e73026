-- Revolving credit documents (crates/store/src/docs.rs).
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    id BYTEA NOT NULL,
    tenant TEXT NOT NULL,
    parent BYTEA,
    open BOOLEAN NOT NULL,
    day INTEGER NOT NULL,
    version BIGINT NOT NULL,
    body BYTEA NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS docs_by_kind ON docs (kind, open, day, id);
-- No index by parent: no query lists a document's children, and such an index costs every
-- purchase a write at a random place (its line's).
DROP INDEX IF EXISTS docs_by_parent;

CREATE TABLE IF NOT EXISTS doc_events (
    doc_id BYTEA NOT NULL,
    seq INTEGER NOT NULL,
    day INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body BYTEA NOT NULL,
    PRIMARY KEY (doc_id, seq)
);
