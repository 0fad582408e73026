//! Portfolio figures for the operator console, each from SQL aggregates: nothing here
//! reads a loan's state or loads the book into memory. Outstanding principal is the sum of
//! the principal receivable accounts (on SQLite with the writer's latest balances of rows
//! that lag, `sqlite/portfolio.rs`); counts come from the loans' stage and days past due as
//! their rows were last written, which close of business keeps current for overdue loans.

use crate::Store;

/// Days-past-due buckets as the API names them (`M0` current … `M4Plus` over 90).
pub const DPD_BUCKETS: [&str; 5] = ["M0", "M1", "M2", "M3", "M4Plus"];

/// The bucket index of a loan `dpd` days past due.
pub fn dpd_bucket(dpd: i64) -> usize {
    match dpd {
        i64::MIN..=0 => 0,
        1..=30 => 1,
        31..=60 => 2,
        61..=90 => 3,
        _ => 4,
    }
}

/// One currency's outstanding principal: term loans' and credit lines' receivables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outstanding {
    pub currency: String,
    pub loans_minor: i64,
    pub lines_minor: i64,
}

/// Disbursed loans of one business day (days since 1970) and how they stand now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cohort {
    pub day: i32,
    pub loans: i64,
    /// Now more than 30 days past due, or written off.
    pub bad: i64,
    pub written_off: i64,
    pub paid_off: i64,
}

/// What the overview shows. `tenant` None: every tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Portfolio {
    /// Loans by stage (`applied`, `active`, `paid_off`, …).
    pub loans_by_stage: Vec<(String, i64)>,
    /// Active loans per bucket of [`DPD_BUCKETS`].
    pub active_by_bucket: [i64; 5],
    pub outstanding: Vec<Outstanding>,
    /// Disbursed loans by the day of disbursement, in day order.
    pub cohorts: Vec<Cohort>,
    pub credit_lines: i64,
    pub purchases: i64,
}

/// Loans that reached the books: the stages after disbursement.
pub(crate) const BOOKED_STAGES: &str = "('active', 'paid_off', 'written_off')";

impl Store {
    pub async fn portfolio(&self, tenant: Option<String>) -> anyhow::Result<Portfolio> {
        match self {
            Store::Sqlite(s) => s.portfolio(tenant).await,
            Store::Postgres(s) => s.portfolio(tenant).await,
        }
    }
}

/// Adds one `(bucket dpd, count)` row to the buckets.
pub(crate) fn add_bucket(buckets: &mut [i64; 5], dpd: i64, count: i64) {
    buckets[dpd_bucket(dpd)] += count;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_api_list_filter() {
        let cases = [
            (0, 0),
            (1, 1),
            (30, 1),
            (31, 2),
            (60, 2),
            (61, 3),
            (90, 3),
            (91, 4),
        ];
        for (dpd, bucket) in cases {
            assert_eq!(dpd_bucket(dpd), bucket, "{dpd} days");
        }
    }
}
