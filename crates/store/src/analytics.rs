//! Portfolio analytics from month-end snapshots (docs/analytics.md).
//!
//! Close of business writes, at each month end, one row per booked loan (open, or closed
//! that month) into `loan_snapshots` with one `INSERT … SELECT` over the loans, so nothing
//! of the book passes through memory. Two pre-aggregates are written in the same
//! transaction from those rows: loans and principal per (month, product, origination month,
//! currency, bucket, status) and the bucket-to-bucket moves since the month before. Vintage
//! curves, roll rates and delinquency read only the pre-aggregates; concentration groups
//! one month's rows in the database.

use crate::Store;

/// A calendar month as a count of months since January of year 0, so that months on book
/// is a subtraction. Shown as `YYYY-MM`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

impl Month {
    pub fn of(year: i32, month: u32) -> Month {
        Month(year * 12 + month as i32 - 1)
    }

    pub fn of_date(d: money::BusinessDate) -> Month {
        Month::of(d.year(), d.month())
    }

    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }

    /// 1 to 12.
    pub fn month(self) -> u32 {
        self.0.rem_euclid(12) as u32 + 1
    }

    pub fn first_day(self) -> money::BusinessDate {
        money::BusinessDate::from_ymd(self.year(), self.month(), 1).expect("a month's first day")
    }

    pub fn last_day(self) -> money::BusinessDate {
        self.next().first_day().pred()
    }

    pub fn next(self) -> Month {
        Month(self.0 + 1)
    }

    pub fn prev(self) -> Month {
        Month(self.0 - 1)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl std::str::FromStr for Month {
    type Err = String;

    fn from_str(s: &str) -> Result<Month, String> {
        let bad = || format!("{s:?} is not a month YYYY-MM");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || !(1900..=9999).contains(&year) {
            return Err(bad());
        }
        Ok(Month::of(year, month))
    }
}

/// A loan's state at month end: `active`, `paid_off` or `written_off`.
pub const SNAPSHOT_STATUSES: [&str; 3] = ["active", "paid_off", "written_off"];

/// Where a loan open at one month end stands at the next: a DPD bucket (0 to 4, the
/// indexes of [`crate::DPD_BUCKETS`]) or closed.
pub const ROLL_TO: [&str; 7] = ["M0", "M1", "M2", "M3", "M4Plus", "paid_off", "written_off"];
pub const ROLL_PAID_OFF: usize = 5;
pub const ROLL_WRITTEN_OFF: usize = 6;

/// One snapshot row, as exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotRow {
    pub month: Month,
    pub loan_id: uuid::Uuid,
    pub tenant: String,
    pub product: uuid::Uuid,
    pub orig_month: Month,
    pub region: String,
    pub industry: String,
    pub funder: String,
    pub currency: String,
    pub principal_minor: i64,
    pub dpd: i64,
    pub bucket: usize,
    pub status: String,
}

impl SnapshotRow {
    /// Over 30 days past due, or written off that month.
    pub fn is_dpd30(&self) -> bool {
        self.bucket >= 2 || self.status == "written_off"
    }

    pub fn roll_to(&self) -> usize {
        match self.status.as_str() {
            "paid_off" => ROLL_PAID_OFF,
            "written_off" => ROLL_WRITTEN_OFF,
            _ => self.bucket,
        }
    }
}

/// What a month-end snapshot wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotReport {
    pub loans: u64,
}

/// Which part of the book a query looks at. `tenant` None: every tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnalyticsFilter {
    pub tenant: Option<String>,
    pub from: Option<Month>,
    pub to: Option<Month>,
    pub product: Option<uuid::Uuid>,
    pub currency: Option<String>,
}

impl AnalyticsFilter {
    pub(crate) fn first_month(&self) -> i32 {
        self.from.map_or(i32::MIN, |m| m.0)
    }

    pub(crate) fn to_month(&self) -> i32 {
        self.to.map_or(i32::MAX, |m| m.0)
    }

    pub(crate) fn product_bytes(&self) -> Option<Vec<u8>> {
        self.product.map(|p| p.as_bytes().to_vec())
    }
}

/// One point of a vintage curve: the loans of origination month `orig_month` at
/// `months_on_book` months after it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct VintagePoint {
    pub orig_month: Month,
    pub months_on_book: i32,
    pub currency: String,
    pub loans: i64,
    pub dpd30_loans: i64,
    pub principal_minor: i64,
    pub dpd30_principal_minor: i64,
}

/// Moves from bucket `from` at one month end to `to` ([`ROLL_TO`]) at the next, summed
/// over the months whose later end lies in the filter's range.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct RollCell {
    pub currency: String,
    pub from: usize,
    pub to: usize,
    pub loans: i64,
    /// Principal at the earlier month end.
    pub principal_minor: i64,
}

/// Open loans of one month end in one bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct DelinquencyPoint {
    pub month: Month,
    pub currency: String,
    pub bucket: usize,
    pub loans: i64,
    pub principal_minor: i64,
}

/// Open loans' principal at a month end by one dimension's value.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConcentrationRow {
    pub currency: String,
    pub key: String,
    pub loans: i64,
    pub principal_minor: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    Region,
    Industry,
    Product,
    Funder,
}

impl Dimension {
    pub const ALL: [Dimension; 4] = [
        Dimension::Region,
        Dimension::Industry,
        Dimension::Product,
        Dimension::Funder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Region => "region",
            Dimension::Industry => "industry",
            Dimension::Product => "product",
            Dimension::Funder => "funder",
        }
    }

    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// The snapshot column; products are shown as UUID text by the SQL of each backend.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Dimension::Region => "region",
            Dimension::Industry => "industry",
            Dimension::Product => "product",
            Dimension::Funder => "funder",
        }
    }
}

/// Decisions made in one month by outcome, and their scores in [`SCORE_BINS`] bins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecisionMonth {
    pub month: Month,
    pub decisions: i64,
    pub approved: i64,
    /// Decisions with a score, by bin of `floor(score × SCORE_BINS)` (a probability).
    pub score_bins: Vec<i64>,
}

/// Score bins of the PSI: tenths of the probability of default.
pub const SCORE_BINS: usize = 10;

/// A bucket index from days past due, as [`crate::dpd_bucket`], in SQL.
pub(crate) const BUCKET_SQL: &str =
    "CASE WHEN l.dpd <= 0 THEN 0 WHEN l.dpd <= 30 THEN 1 WHEN l.dpd <= 60 THEN 2 WHEN l.dpd <= 90 THEN 3 ELSE 4 END";

/// Pre-aggregates of one month, from its snapshot rows (same SQL on both backends).
pub(crate) const AGGREGATE_BUCKETS: &str = "INSERT INTO snapshot_buckets
    (month, tenant, product, orig_month, currency, bucket, status, loans, principal_minor)
    SELECT month, tenant, product, orig_month, currency, bucket, status, count(*), sum(principal_minor)
    FROM loan_snapshots WHERE month = $1
    GROUP BY month, tenant, product, orig_month, currency, bucket, status";

/// Moves from the month before `$1` to `$1`, for loans open at the earlier end.
pub(crate) const AGGREGATE_ROLLS: &str = "INSERT INTO snapshot_rolls
    (month, tenant, product, currency, from_bucket, to_state, loans, principal_minor)
    SELECT b.month, a.tenant, a.product, a.currency, a.bucket,
           CASE b.status WHEN 'paid_off' THEN 5 WHEN 'written_off' THEN 6 ELSE b.bucket END,
           count(*), sum(a.principal_minor)
    FROM loan_snapshots a JOIN loan_snapshots b ON b.month = a.month + 1 AND b.loan_id = a.loan_id
    WHERE a.month = $1 - 1 AND b.month = $1 AND a.status = 'active'
    GROUP BY b.month, a.tenant, a.product, a.currency, a.bucket,
             CASE b.status WHEN 'paid_off' THEN 5 WHEN 'written_off' THEN 6 ELSE b.bucket END";

pub(crate) const VINTAGE_SQL: &str = "SELECT orig_month, month - orig_month, currency,
        CAST(sum(loans) AS BIGINT),
        CAST(sum(CASE WHEN bucket >= 2 OR status = 'written_off' THEN loans ELSE 0 END) AS BIGINT),
        CAST(sum(principal_minor) AS BIGINT),
        CAST(sum(CASE WHEN bucket >= 2 OR status = 'written_off' THEN principal_minor ELSE 0 END)
             AS BIGINT)
    FROM snapshot_buckets
    WHERE ($1 IS NULL OR tenant = $1) AND orig_month >= $2 AND orig_month <= $3
      AND ($4 IS NULL OR product = $4) AND ($5 IS NULL OR currency = $5)
    GROUP BY orig_month, month - orig_month, currency
    ORDER BY orig_month, month - orig_month, currency";

/// [`VINTAGE_SQL`] straight from the snapshot rows: the check of the pre-aggregate.
pub(crate) const VINTAGE_ROWS_SQL: &str = "SELECT orig_month, month - orig_month, currency,
        count(*),
        CAST(sum(CASE WHEN bucket >= 2 OR status = 'written_off' THEN 1 ELSE 0 END) AS BIGINT),
        CAST(sum(principal_minor) AS BIGINT),
        CAST(sum(CASE WHEN bucket >= 2 OR status = 'written_off' THEN principal_minor ELSE 0 END)
             AS BIGINT)
    FROM loan_snapshots
    WHERE ($1 IS NULL OR tenant = $1) AND orig_month >= $2 AND orig_month <= $3
      AND ($4 IS NULL OR product = $4) AND ($5 IS NULL OR currency = $5)
    GROUP BY orig_month, month - orig_month, currency
    ORDER BY orig_month, month - orig_month, currency";

/// [`ROLLS_SQL`] straight from the snapshot rows.
pub(crate) const ROLLS_ROWS_SQL: &str = "SELECT a.currency, a.bucket,
        CASE b.status WHEN 'paid_off' THEN 5 WHEN 'written_off' THEN 6 ELSE b.bucket END,
        count(*), CAST(sum(a.principal_minor) AS BIGINT)
    FROM loan_snapshots a JOIN loan_snapshots b ON b.month = a.month + 1 AND b.loan_id = a.loan_id
    WHERE a.status = 'active' AND ($1 IS NULL OR a.tenant = $1)
      AND b.month >= $2 AND b.month <= $3
      AND ($4 IS NULL OR a.product = $4) AND ($5 IS NULL OR a.currency = $5)
    GROUP BY a.currency, a.bucket,
             CASE b.status WHEN 'paid_off' THEN 5 WHEN 'written_off' THEN 6 ELSE b.bucket END
    ORDER BY 1, 2, 3";

pub(crate) const ROLLS_SQL: &str =
    "SELECT currency, from_bucket, to_state, CAST(sum(loans) AS BIGINT),
        CAST(sum(principal_minor) AS BIGINT)
    FROM snapshot_rolls
    WHERE ($1 IS NULL OR tenant = $1) AND month >= $2 AND month <= $3
      AND ($4 IS NULL OR product = $4) AND ($5 IS NULL OR currency = $5)
    GROUP BY currency, from_bucket, to_state
    ORDER BY currency, from_bucket, to_state";

pub(crate) const DELINQUENCY_SQL: &str =
    "SELECT month, currency, bucket, CAST(sum(loans) AS BIGINT),
        CAST(sum(principal_minor) AS BIGINT)
    FROM snapshot_buckets
    WHERE ($1 IS NULL OR tenant = $1) AND month >= $2 AND month <= $3
      AND ($4 IS NULL OR product = $4) AND ($5 IS NULL OR currency = $5) AND status = 'active'
    GROUP BY month, currency, bucket
    ORDER BY month, currency, bucket";

/// `$2` is the month; `{key}` the dimension's column.
pub(crate) fn concentration_sql(key: &str) -> String {
    format!(
        "SELECT currency, {key}, count(*), CAST(sum(principal_minor) AS BIGINT) FROM loan_snapshots
         WHERE month = $2 AND status = 'active' AND ($1 IS NULL OR tenant = $1)
           AND ($3 IS NULL OR product = $3) AND ($4 IS NULL OR currency = $4)
         GROUP BY currency, {key} ORDER BY currency, {key}"
    )
}

/// Concentration by funder: each funder's principal in the month's active loans.
pub(crate) const FUNDER_CONCENTRATION_SQL: &str = "SELECT currency, funder, count(*),
        CAST(sum(principal_minor) AS BIGINT) FROM snapshot_funders
     WHERE month = $2 AND ($1 IS NULL OR tenant = $1)
       AND ($3 IS NULL OR product = $3) AND ($4 IS NULL OR currency = $4)
     GROUP BY currency, funder ORDER BY currency, funder";

/// The funder rows of the month whose loans the platform funds alone, after the co-lent
/// loans' rows are in.
pub(crate) const PLATFORM_FUNDER_SQL: &str = "INSERT INTO snapshot_funders
        (month, loan_id, funder, tenant, product, currency, principal_minor)
     SELECT s.month, s.loan_id, 'platform', s.tenant, s.product, s.currency, s.principal_minor
     FROM loan_snapshots s
     WHERE s.month = $1 AND s.status = 'active' AND s.principal_minor > 0
       AND NOT EXISTS (SELECT 1 FROM snapshot_funders f
                       WHERE f.month = $1 AND f.loan_id = s.loan_id)";
/// A loan row's `funder` is written as `platform` (active) or `''` (closed); a co-lent
/// loan's is its lead funder (the most principal; ties by name), set here for those loans
/// only, so a book funded by the platform alone rewrites no row.
pub(crate) const LEAD_FUNDER_SQL: &str = "UPDATE loan_snapshots SET funder = coalesce(
        (SELECT f.funder FROM snapshot_funders f
         WHERE f.month = $1 AND f.loan_id = loan_snapshots.loan_id
         ORDER BY f.principal_minor DESC, f.funder LIMIT 1), '')
     WHERE month = $1 AND loan_id IN
        (SELECT loan_id FROM snapshot_funders WHERE month = $1 AND funder <> 'platform')";
/// The loan row's `funder` as the snapshot inserts it.
pub(crate) const FUNDER_AT_INSERT_SQL: &str =
    "CASE WHEN l.stage = 'active' THEN 'platform' ELSE '' END";

/// Herfindahl–Hirschman index of the shares `parts` make of their sum, in units of
/// 1/10,000 (a single holder: 10,000), rounded half to even; exact integer arithmetic.
pub fn hhi_bp(parts: &[i64]) -> i64 {
    let total: i128 = parts.iter().map(|&p| p as i128).sum();
    if total <= 0 {
        return 0;
    }
    let sum_sq: i128 = parts.iter().map(|&p| (p as i128) * (p as i128)).sum();
    let num = sum_sq * 10_000;
    let den = total * total;
    let q = num / den;
    let r = num % den;
    let round_up = match (2 * r).cmp(&den) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => q % 2 == 1,
        std::cmp::Ordering::Less => false,
    };
    (q + i128::from(round_up)) as i64
}

/// 32 hex digits as a hyphenated UUID (text of a product id read back from SQL).
pub(crate) fn hex_uuid(hex: &str) -> String {
    uuid::Uuid::try_parse(hex).map_or_else(|_| hex.to_string(), |u| u.to_string())
}

/// Rows `(month, approved, score bin or -1, decisions)` as [`DecisionMonth`]s.
pub(crate) fn decision_months_of(rows: Vec<(i32, bool, i64, i64)>) -> Vec<DecisionMonth> {
    let mut out: Vec<DecisionMonth> = Vec::new();
    for (month, approved, bin, n) in rows {
        if out.last().is_none_or(|m| m.month.0 != month) {
            out.push(DecisionMonth {
                month: Month(month),
                score_bins: vec![0; SCORE_BINS],
                ..DecisionMonth::default()
            });
        }
        let m = out.last_mut().expect("pushed above");
        m.decisions += n;
        if approved {
            m.approved += n;
        }
        if let Ok(b) = usize::try_from(bin) {
            m.score_bins[b.min(SCORE_BINS - 1)] += n;
        }
    }
    out
}

impl Store {
    /// Writes month `month`'s snapshot from the loans as they stand now, replacing any
    /// earlier one of that month, with its pre-aggregates (and the next month's moves, if
    /// that month is already snapshotted), in one transaction.
    pub async fn write_snapshot(&self, month: Month) -> anyhow::Result<SnapshotReport> {
        match self {
            Store::Sqlite(s) => s.write_snapshot(month).await,
            Store::Postgres(s) => s.write_snapshot(month).await,
        }
    }

    /// Months that have a snapshot, oldest first.
    pub async fn snapshot_months(&self) -> anyhow::Result<Vec<Month>> {
        match self {
            Store::Sqlite(s) => s.snapshot_months().await,
            Store::Postgres(s) => s.snapshot_months().await,
        }
    }

    pub async fn vintage(&self, f: AnalyticsFilter) -> anyhow::Result<Vec<VintagePoint>> {
        match self {
            Store::Sqlite(s) => s.vintage_sql(f, VINTAGE_SQL).await,
            Store::Postgres(s) => s.vintage_sql(f, VINTAGE_SQL).await,
        }
    }

    pub async fn roll_rates(&self, f: AnalyticsFilter) -> anyhow::Result<Vec<RollCell>> {
        match self {
            Store::Sqlite(s) => s.rolls_sql(f, ROLLS_SQL).await,
            Store::Postgres(s) => s.rolls_sql(f, ROLLS_SQL).await,
        }
    }

    /// [`Store::vintage`] grouped from the snapshot rows instead of the pre-aggregate (a
    /// full scan: for checks and benchmarks).
    pub async fn vintage_from_rows(&self, f: AnalyticsFilter) -> anyhow::Result<Vec<VintagePoint>> {
        match self {
            Store::Sqlite(s) => s.vintage_sql(f, VINTAGE_ROWS_SQL).await,
            Store::Postgres(s) => s.vintage_sql(f, VINTAGE_ROWS_SQL).await,
        }
    }

    /// [`Store::roll_rates`] joined from the snapshot rows instead of the pre-aggregate.
    pub async fn roll_rates_from_rows(&self, f: AnalyticsFilter) -> anyhow::Result<Vec<RollCell>> {
        match self {
            Store::Sqlite(s) => s.rolls_sql(f, ROLLS_ROWS_SQL).await,
            Store::Postgres(s) => s.rolls_sql(f, ROLLS_ROWS_SQL).await,
        }
    }

    pub async fn delinquency(&self, f: AnalyticsFilter) -> anyhow::Result<Vec<DelinquencyPoint>> {
        match self {
            Store::Sqlite(s) => s.delinquency(f).await,
            Store::Postgres(s) => s.delinquency(f).await,
        }
    }

    /// Open loans at month end `month` by `dim`.
    pub async fn concentration(
        &self,
        f: AnalyticsFilter,
        month: Month,
        dim: Dimension,
    ) -> anyhow::Result<Vec<ConcentrationRow>> {
        match self {
            Store::Sqlite(s) => s.concentration(f, month, dim).await,
            Store::Postgres(s) => s.concentration(f, month, dim).await,
        }
    }

    /// Decisions by month of their making (UTC), with approvals and score bins.
    pub async fn decision_months(&self, f: AnalyticsFilter) -> anyhow::Result<Vec<DecisionMonth>> {
        match self {
            Store::Sqlite(s) => s.decision_months(f).await,
            Store::Postgres(s) => s.decision_months(f).await,
        }
    }

    /// Snapshot rows of `month` in loan id order, at most `limit` after `after` (exports
    /// page through them so memory stays bounded).
    pub async fn snapshot_rows(
        &self,
        month: Month,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> anyhow::Result<Vec<SnapshotRow>> {
        match self {
            Store::Sqlite(s) => s.snapshot_rows(month, after, limit).await,
            Store::Postgres(s) => s.snapshot_rows(month, after, limit).await,
        }
    }

    /// Bulk load of synthetic snapshot rows (benchmarks): appended as given, without
    /// pre-aggregates; [`Store::aggregate_snapshot`] follows for each month.
    pub async fn load_snapshot_rows(&self, rows: Vec<SnapshotRow>) -> anyhow::Result<()> {
        match self {
            Store::Sqlite(s) => s.load_snapshot_rows(rows).await,
            Store::Postgres(s) => s.load_snapshot_rows(rows).await,
        }
    }

    /// Rewrites month `month`'s pre-aggregates (and its moves from the month before) from
    /// its snapshot rows.
    pub async fn aggregate_snapshot(&self, month: Month) -> anyhow::Result<()> {
        match self {
            Store::Sqlite(s) => s.aggregate_snapshot(month).await,
            Store::Postgres(s) => s.aggregate_snapshot(month).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_print_and_count() {
        let m: Month = "2026-01".parse().unwrap();
        assert_eq!(m.to_string(), "2026-01");
        assert_eq!(m.prev().to_string(), "2025-12");
        assert_eq!(m.last_day().to_string(), "2026-01-31");
        assert_eq!("2024-02".parse::<Month>().unwrap().last_day().day(), 29);
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", "", "2026-00"] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hhi_of_one_holder_is_ten_thousand() {
        assert_eq!(hhi_bp(&[5]), 10_000);
        assert_eq!(hhi_bp(&[1, 1]), 5_000);
        assert_eq!(hhi_bp(&[1, 1, 1, 1]), 2_500);
        assert_eq!(hhi_bp(&[]), 0);
        // 1/9 + 4/9 = 5/9 → 5555.55… → 5556
        assert_eq!(hhi_bp(&[1, 2]), 5_556);
    }
}
