-- Ledger schema, PostgreSQL flavour. Amounts are BIGINT minor units; ids are 16-byte UUIDs.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE IF NOT EXISTS accounts (
    id BYTEA PRIMARY KEY,
    tenant TEXT NOT NULL,
    owner TEXT NOT NULL,
    purpose TEXT NOT NULL,
    currency TEXT NOT NULL,
    normal_side TEXT NOT NULL,
    constraint_kind TEXT,
    debits_posted BIGINT NOT NULL,
    credits_posted BIGINT NOT NULL,
    debits_pending BIGINT NOT NULL,
    credits_pending BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

-- seq is the entry's leaf index in the Merkle tree.
CREATE TABLE IF NOT EXISTS entries (
    seq BIGINT PRIMARY KEY,
    id BYTEA NOT NULL UNIQUE,
    partition BIGINT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL,
    currency TEXT NOT NULL,
    kind BIGINT NOT NULL,
    ref BYTEA,
    memo TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    body_hash BYTEA NOT NULL
);
-- An entry can be reversed once.
CREATE UNIQUE INDEX IF NOT EXISTS entries_reversal ON entries (ref) WHERE kind = 2;

CREATE TABLE IF NOT EXISTS postings (
    seq BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    account_id BYTEA NOT NULL,
    direction BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (seq, idx)
);
CREATE INDEX IF NOT EXISTS postings_by_account ON postings (account_id, seq);

CREATE TABLE IF NOT EXISTS holds (
    id BYTEA PRIMARY KEY,
    currency TEXT NOT NULL,
    debit_account_id BYTEA NOT NULL,
    credit_account_id BYTEA NOT NULL,
    amount_minor BIGINT NOT NULL,
    expires_at_ms BIGINT,
    memo TEXT NOT NULL,
    status TEXT NOT NULL,
    posted_entry_id BYTEA,
    posted_amount_minor BIGINT NOT NULL,
    body_hash BYTEA NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS holds_pending ON holds (status) WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS api_keys (
    key_hash BYTEA PRIMARY KEY,
    role TEXT NOT NULL,
    tenant TEXT NOT NULL,
    label TEXT NOT NULL,
    -- A key bound to a party (borrower, merchant, partner, investor) acts for it only.
    party_kind TEXT,
    party_id TEXT,
    expires_at_ms BIGINT,
    revoked_at_ms BIGINT
);

-- Term loans. Product versions are immutable: a change is a new version.
CREATE TABLE IF NOT EXISTS loan_products (
    id BYTEA NOT NULL,
    version INTEGER NOT NULL,
    body BYTEA NOT NULL,
    created_at_ms BIGINT NOT NULL,
    -- Only this tenant's keys see the product and lend under it.
    tenant TEXT NOT NULL DEFAULT 'default',
    PRIMARY KEY (id, version)
);

-- One row per loan: its state (lending::codec) at business day `day` (days since 1970).
-- `partition` splits close of business and is the natural distribution key next to id.
-- fillfactor leaves room on each page so a loan's daily update stays a HOT update.
CREATE TABLE IF NOT EXISTS loans (
    id BYTEA NOT NULL,
    partition INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    borrower TEXT NOT NULL,
    product_id BYTEA NOT NULL,
    product_version INTEGER NOT NULL,
    stage TEXT NOT NULL,
    day INTEGER NOT NULL,
    open BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    -- Days past due as of `day` (lending's `Loan::dpd`), for lists by delinquency.
    dpd INTEGER NOT NULL DEFAULT 0,
    state BYTEA NOT NULL,
    PRIMARY KEY (partition, id)
) WITH (fillfactor = 70);
CREATE UNIQUE INDEX IF NOT EXISTS loans_id ON loans (id);

CREATE TABLE IF NOT EXISTS loan_events (
    loan_id BYTEA NOT NULL,
    seq INTEGER NOT NULL,
    day INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body BYTEA NOT NULL,
    PRIMARY KEY (loan_id, seq)
);

CREATE TABLE IF NOT EXISTS cob_progress (
    day INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    done_at_ms BIGINT NOT NULL,
    PRIMARY KEY (day, partition)
);
-- Credit decisions as made, for audit and replay. Keyed by the decision id (UUIDv7).
CREATE TABLE IF NOT EXISTS decisions (
    id TEXT PRIMARY KEY,
    applicant_id TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    input_json TEXT NOT NULL,
    input_hash BYTEA NOT NULL,
    model_version TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    outcome TEXT NOT NULL,
    rules_fired TEXT NOT NULL,
    output_json TEXT NOT NULL,
    output_hash BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_applicant ON decisions (applicant_id);

-- Close-of-business partitions of the day being closed, published so that worker processes
-- can share the reading: state 0 open, 1 planned by a worker (`plan` holds what it found),
-- 2 taken by the process that writes the ledger. `run` names the close-of-business run that
-- published the row; a worker's plan counts only for the run it was claimed under.
CREATE TABLE IF NOT EXISTS cob_work (
    day INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    run BYTEA NOT NULL,
    state SMALLINT NOT NULL,
    plan BYTEA,
    PRIMARY KEY (day, partition)
);
