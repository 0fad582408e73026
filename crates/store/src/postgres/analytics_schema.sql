-- Month-end snapshots (crates/store/src/analytics.rs, docs/analytics.md). Months count
-- from January of year 0 (year * 12 + month - 1).
CREATE TABLE IF NOT EXISTS loan_snapshots (
    month INTEGER NOT NULL,
    loan_id BYTEA NOT NULL,
    tenant TEXT NOT NULL,
    product BYTEA NOT NULL,
    orig_month INTEGER NOT NULL,
    region TEXT NOT NULL,
    industry TEXT NOT NULL,
    funder TEXT NOT NULL,
    currency TEXT NOT NULL,
    principal_minor BIGINT NOT NULL,
    dpd BIGINT NOT NULL,
    bucket INTEGER NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (month, loan_id)
);

CREATE TABLE IF NOT EXISTS snapshot_buckets (
    month INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    product BYTEA NOT NULL,
    orig_month INTEGER NOT NULL,
    currency TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    status TEXT NOT NULL,
    loans BIGINT NOT NULL,
    principal_minor BIGINT NOT NULL,
    PRIMARY KEY (month, tenant, product, orig_month, currency, bucket, status)
);

CREATE TABLE IF NOT EXISTS snapshot_rolls (
    month INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    product BYTEA NOT NULL,
    currency TEXT NOT NULL,
    from_bucket INTEGER NOT NULL,
    to_state INTEGER NOT NULL,
    loans BIGINT NOT NULL,
    principal_minor BIGINT NOT NULL,
    PRIMARY KEY (month, tenant, product, currency, from_bucket, to_state)
);

-- Each funder's principal in an active loan of a month's snapshot: one row per funder of a
-- co-lent loan (from its funding positions; the platform's own share as 'platform'), one
-- 'platform' row for a loan the platform funds alone. Concentration by funder reads it.
CREATE TABLE IF NOT EXISTS snapshot_funders (
    month INTEGER NOT NULL,
    loan_id BYTEA NOT NULL,
    funder TEXT NOT NULL,
    tenant TEXT NOT NULL,
    product BYTEA NOT NULL,
    currency TEXT NOT NULL,
    principal_minor BIGINT NOT NULL,
    PRIMARY KEY (month, loan_id, funder)
);
