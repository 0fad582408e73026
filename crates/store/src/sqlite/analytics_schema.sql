-- Month-end snapshots (crates/store/src/analytics.rs, docs/analytics.md). Months count
-- from January of year 0 (year * 12 + month - 1). Keyed by month first: a month is
-- written, replaced and read as one range.
CREATE TABLE IF NOT EXISTS loan_snapshots (
    month INTEGER NOT NULL,
    loan_id BLOB NOT NULL,
    tenant TEXT NOT NULL,
    product BLOB NOT NULL,
    orig_month INTEGER NOT NULL,
    region TEXT NOT NULL,
    industry TEXT NOT NULL,
    funder TEXT NOT NULL,
    currency TEXT NOT NULL,
    principal_minor INTEGER NOT NULL,
    dpd INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (month, loan_id)
) WITHOUT ROWID;

-- Loans and principal of a month's snapshot by cohort, bucket and status.
CREATE TABLE IF NOT EXISTS snapshot_buckets (
    month INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    product BLOB NOT NULL,
    orig_month INTEGER NOT NULL,
    currency TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    status TEXT NOT NULL,
    loans INTEGER NOT NULL,
    principal_minor INTEGER NOT NULL,
    PRIMARY KEY (month, tenant, product, orig_month, currency, bucket, status)
) WITHOUT ROWID;

-- Loans open at the end of month - 1 by their bucket then and where they stand at the
-- end of month (a bucket, 5 paid off, 6 written off), with their principal at month - 1.
CREATE TABLE IF NOT EXISTS snapshot_rolls (
    month INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    product BLOB NOT NULL,
    currency TEXT NOT NULL,
    from_bucket INTEGER NOT NULL,
    to_state INTEGER NOT NULL,
    loans INTEGER NOT NULL,
    principal_minor INTEGER NOT NULL,
    PRIMARY KEY (month, tenant, product, currency, from_bucket, to_state)
) WITHOUT ROWID;

-- Each funder's principal in an active loan of a month's snapshot: one row per funder of a
-- co-lent loan (from its funding positions; the platform's own share as 'platform'), one
-- 'platform' row for a loan the platform funds alone. Concentration by funder reads it.
CREATE TABLE IF NOT EXISTS snapshot_funders (
    month INTEGER NOT NULL,
    loan_id BLOB NOT NULL,
    funder TEXT NOT NULL,
    tenant TEXT NOT NULL,
    product BLOB NOT NULL,
    currency TEXT NOT NULL,
    principal_minor INTEGER NOT NULL,
    PRIMARY KEY (month, loan_id, funder)
) WITHOUT ROWID;
