-- Ledger schema, SQLite flavour. Amounts are INTEGER minor units; ids are 16-byte UUIDs.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS accounts (
    id BLOB PRIMARY KEY,
    tenant TEXT NOT NULL,
    owner TEXT NOT NULL,
    purpose TEXT NOT NULL,
    currency TEXT NOT NULL,
    normal_side TEXT NOT NULL,
    constraint_kind TEXT,
    debits_posted INTEGER NOT NULL,
    credits_posted INTEGER NOT NULL,
    debits_pending INTEGER NOT NULL,
    credits_pending INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    -- The posted balances include exactly the postings of entries with seq < balances_seq;
    -- the pending ones are the account's pending holds as of that entry. Rows may lag the
    -- postings (crates/store/src/sqlite/balances.rs).
    balances_seq INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- Every account row includes every posting of entries with seq < through_seq.
CREATE TABLE IF NOT EXISTS balance_mark (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    through_seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO balance_mark (id, through_seq) VALUES (0, 0);

-- seq is the entry's leaf index in the Merkle tree.
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    partition INTEGER NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    currency TEXT NOT NULL,
    kind INTEGER NOT NULL,
    ref BLOB,
    memo TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    body_hash BLOB NOT NULL
);
-- An entry can be reversed once.
CREATE UNIQUE INDEX IF NOT EXISTS entries_reversal ON entries (ref) WHERE kind = 2;

CREATE TABLE IF NOT EXISTS postings (
    seq INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    account_id BLOB NOT NULL,
    direction INTEGER NOT NULL,
    amount_minor INTEGER NOT NULL,
    PRIMARY KEY (seq, idx)
) WITHOUT ROWID;

-- Which entries touch an account, for listing an account's entries. Indexing each posting as
-- it commits would dirty one page per account in every group commit (most of the write cost,
-- measured); instead postings are indexed in cycles of about 65,536, sorted by account, a
-- slice per later group commit (crates/store/src/sqlite/account_index.rs). Every entry with
-- seq < through_seq is indexed; above it some may be, and readers scan `postings` for those.
CREATE TABLE IF NOT EXISTS account_entries (
    account_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (account_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS account_index_mark (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    through_seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO account_index_mark (id, through_seq) VALUES (0, 0);

CREATE TABLE IF NOT EXISTS holds (
    id BLOB PRIMARY KEY,
    currency TEXT NOT NULL,
    debit_account_id BLOB NOT NULL,
    credit_account_id BLOB NOT NULL,
    amount_minor INTEGER NOT NULL,
    expires_at_ms INTEGER,
    memo TEXT NOT NULL,
    status TEXT NOT NULL,
    posted_entry_id BLOB,
    posted_amount_minor INTEGER NOT NULL,
    body_hash BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS holds_pending ON holds (status) WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS api_keys (
    key_hash BLOB PRIMARY KEY,
    role TEXT NOT NULL,
    tenant TEXT NOT NULL,
    label TEXT NOT NULL,
    -- A key bound to a party (borrower, merchant, partner, investor) acts for it only.
    party_kind TEXT,
    party_id TEXT,
    expires_at_ms INTEGER,
    revoked_at_ms INTEGER
) WITHOUT ROWID;

-- Term loans. Product versions are immutable: a change is a new version.
CREATE TABLE IF NOT EXISTS loan_products (
    id BLOB NOT NULL,
    version INTEGER NOT NULL,
    body BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    -- Only this tenant's keys see the product and lend under it.
    tenant TEXT NOT NULL DEFAULT 'default',
    PRIMARY KEY (id, version)
) WITHOUT ROWID;

-- One row per loan: its state (lending::codec) at business day `day` (days since 1970).
-- `partition` splits close of business; `open` marks loans COB must still visit.
-- Keyed by (partition, id) so close of business, which walks a partition in id order,
-- rewrites neighbouring pages instead of pages all over the table.
CREATE TABLE IF NOT EXISTS loans (
    id BLOB NOT NULL,
    partition INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    borrower TEXT NOT NULL,
    product_id BLOB NOT NULL,
    product_version INTEGER NOT NULL,
    stage TEXT NOT NULL,
    day INTEGER NOT NULL,
    open INTEGER NOT NULL,
    version INTEGER NOT NULL,
    -- Days past due as of `day` (lending's `Loan::dpd`), for lists by delinquency.
    dpd INTEGER NOT NULL DEFAULT 0,
    state BLOB NOT NULL,
    PRIMARY KEY (partition, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS loans_id ON loans (id);

-- What happened to a loan besides the calendar (disbursement, repayments, prepayments,
-- reversals), in order: replaying them with the days in between rebuilds any past state.
CREATE TABLE IF NOT EXISTS loan_events (
    loan_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    day INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (loan_id, seq)
) WITHOUT ROWID;

-- Close-of-business partitions finished for a business day.
CREATE TABLE IF NOT EXISTS cob_progress (
    day INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    done_at_ms INTEGER NOT NULL,
    PRIMARY KEY (day, partition)
) WITHOUT ROWID;
-- Credit decisions as made, for audit and replay. Keyed by the decision id (UUIDv7).
-- A rowid table: its rows (input and output JSON, a few KiB) are far above the size for
-- which SQLite advises WITHOUT ROWID, and inserting them into one measured slower.
CREATE TABLE IF NOT EXISTS decisions (
    id TEXT PRIMARY KEY,
    applicant_id TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    input_json TEXT NOT NULL,
    input_hash BLOB NOT NULL,
    model_version TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    outcome TEXT NOT NULL,
    rules_fired TEXT NOT NULL,
    output_json TEXT NOT NULL,
    output_hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_applicant ON decisions (applicant_id);
