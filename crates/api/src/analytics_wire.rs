//! Portfolio analytics' wire types (docs/analytics.md): the API's JSON and the rows the CLI
//! prints as a table or CSV, built from the store's aggregates. Rates are decimal strings
//! of six places, rounded half to even, computed in integers.

use serde::Serialize;
use store::analytics::{
    hhi_bp, ConcentrationRow, DecisionMonth, DelinquencyPoint, Dimension, Month, RollCell,
    VintagePoint, ROLL_TO,
};
use utoipa::ToSchema;

/// `num / den` with six decimal places, rounded half to even; "0.000000" when `den` is 0.
pub fn ratio(num: i64, den: i64) -> String {
    if den == 0 {
        return "0.000000".into();
    }
    let (n, d) = (i128::from(num) * 1_000_000, i128::from(den));
    let (mut q, r) = (n / d, n % d);
    let twice = 2 * r.abs();
    if twice > d.abs() || (twice == d.abs() && q % 2 != 0) {
        q += if (n < 0) != (d < 0) { -1 } else { 1 };
    }
    let sign = if q < 0 { "-" } else { "" };
    let q = q.abs();
    format!("{sign}{}.{:06}", q / 1_000_000, q % 1_000_000)
}

/// What the CLI prints: a header and rows of cells.
pub trait Tabular {
    fn header(&self) -> Vec<&'static str>;
    fn rows(&self) -> Vec<Vec<String>>;
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VintageItem {
    /// Origination month (YYYY-MM): the month of disbursement.
    pub orig_month: String,
    /// Month end minus origination month, in months (0: the month of origination).
    pub months_on_book: i32,
    pub currency: String,
    /// Loans of the cohort in that month end's snapshot.
    pub loans: i64,
    /// Of those, over 30 days past due or written off that month.
    pub dpd30_loans: i64,
    /// `dpd30_loans / loans`.
    pub dpd30_rate: String,
    pub principal_minor: i64,
    pub dpd30_principal_minor: i64,
    /// `dpd30_principal_minor / principal_minor`.
    pub dpd30_balance_rate: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VintageResponse {
    pub items: Vec<VintageItem>,
}

impl VintageResponse {
    pub fn of(points: &[VintagePoint]) -> Self {
        VintageResponse {
            items: points
                .iter()
                .map(|p| VintageItem {
                    orig_month: p.orig_month.to_string(),
                    months_on_book: p.months_on_book,
                    currency: p.currency.clone(),
                    loans: p.loans,
                    dpd30_loans: p.dpd30_loans,
                    dpd30_rate: ratio(p.dpd30_loans, p.loans),
                    principal_minor: p.principal_minor,
                    dpd30_principal_minor: p.dpd30_principal_minor,
                    dpd30_balance_rate: ratio(p.dpd30_principal_minor, p.principal_minor),
                })
                .collect(),
        }
    }
}

impl Tabular for VintageResponse {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "orig_month",
            "months_on_book",
            "currency",
            "loans",
            "dpd30_loans",
            "dpd30_rate",
            "principal_minor",
            "dpd30_principal_minor",
            "dpd30_balance_rate",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.items
            .iter()
            .map(|i| {
                vec![
                    i.orig_month.clone(),
                    i.months_on_book.to_string(),
                    i.currency.clone(),
                    i.loans.to_string(),
                    i.dpd30_loans.to_string(),
                    i.dpd30_rate.clone(),
                    i.principal_minor.to_string(),
                    i.dpd30_principal_minor.to_string(),
                    i.dpd30_balance_rate.clone(),
                ]
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RollItem {
    pub currency: String,
    /// Bucket at the earlier month end: M0, M1, M2, M3, M4Plus.
    pub from_bucket: String,
    /// Where the loan stands one month end later: a bucket, `paid_off` or `written_off`.
    pub to_state: String,
    pub loans: i64,
    /// Principal at the earlier month end.
    pub principal_minor: i64,
    /// `loans` over all loans that left `from_bucket` (same currency).
    pub rate: String,
    /// `principal_minor` over the principal that left `from_bucket`.
    pub balance_rate: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RollRatesResponse {
    pub items: Vec<RollItem>,
}

impl RollRatesResponse {
    pub fn of(cells: &[RollCell]) -> Self {
        let total = |currency: &str, from: usize| {
            cells
                .iter()
                .filter(|c| c.currency == currency && c.from == from)
                .fold((0, 0), |(n, p), c| (n + c.loans, p + c.principal_minor))
        };
        RollRatesResponse {
            items: cells
                .iter()
                .map(|c| {
                    let (n, p) = total(&c.currency, c.from);
                    RollItem {
                        currency: c.currency.clone(),
                        from_bucket: ROLL_TO[c.from].into(),
                        to_state: ROLL_TO[c.to].into(),
                        loans: c.loans,
                        principal_minor: c.principal_minor,
                        rate: ratio(c.loans, n),
                        balance_rate: ratio(c.principal_minor, p),
                    }
                })
                .collect(),
        }
    }
}

impl Tabular for RollRatesResponse {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "currency",
            "from_bucket",
            "to_state",
            "loans",
            "principal_minor",
            "rate",
            "balance_rate",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.items
            .iter()
            .map(|i| {
                vec![
                    i.currency.clone(),
                    i.from_bucket.clone(),
                    i.to_state.clone(),
                    i.loans.to_string(),
                    i.principal_minor.to_string(),
                    i.rate.clone(),
                    i.balance_rate.clone(),
                ]
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DelinquencyItem {
    pub month: String,
    pub currency: String,
    pub bucket: String,
    /// Open loans in the bucket at the month end.
    pub loans: i64,
    pub principal_minor: i64,
    /// `principal_minor` over the month's open principal (same currency).
    pub balance_share: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DelinquencyResponse {
    pub items: Vec<DelinquencyItem>,
}

impl DelinquencyResponse {
    pub fn of(points: &[DelinquencyPoint]) -> Self {
        let total = |month: Month, currency: &str| -> i64 {
            points
                .iter()
                .filter(|p| p.month == month && p.currency == currency)
                .map(|p| p.principal_minor)
                .sum()
        };
        DelinquencyResponse {
            items: points
                .iter()
                .map(|p| DelinquencyItem {
                    month: p.month.to_string(),
                    currency: p.currency.clone(),
                    bucket: ROLL_TO[p.bucket].into(),
                    loans: p.loans,
                    principal_minor: p.principal_minor,
                    balance_share: ratio(p.principal_minor, total(p.month, &p.currency)),
                })
                .collect(),
        }
    }
}

impl Tabular for DelinquencyResponse {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "month",
            "currency",
            "bucket",
            "loans",
            "principal_minor",
            "balance_share",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.items
            .iter()
            .map(|i| {
                vec![
                    i.month.clone(),
                    i.currency.clone(),
                    i.bucket.clone(),
                    i.loans.to_string(),
                    i.principal_minor.to_string(),
                    i.balance_share.clone(),
                ]
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalItem {
    pub month: String,
    pub decisions: i64,
    pub approved: i64,
    /// `approved / decisions`.
    pub approval_rate: String,
    /// Decisions with a probability of default, in tenths.
    pub score_bins: Vec<i64>,
    /// Population stability index of the month's score bins against the base month's
    /// (risk's `psi_counts`), six places; absent for a month without scores.
    pub psi: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalsResponse {
    /// The month PSI compares against: `base`, or the first month with scores.
    pub base_month: Option<String>,
    pub items: Vec<ApprovalItem>,
}

impl ApprovalsResponse {
    pub fn of(months: &[DecisionMonth], base: Option<Month>) -> Self {
        let scored = |m: &DecisionMonth| m.score_bins.iter().any(|&n| n > 0);
        let base = match base {
            Some(b) => months.iter().find(|m| m.month == b),
            None => months.iter().find(|m| scored(m)),
        };
        let counts = |m: &DecisionMonth| -> Vec<usize> {
            m.score_bins.iter().map(|&n| n.max(0) as usize).collect()
        };
        ApprovalsResponse {
            base_month: base.map(|b| b.month.to_string()),
            items: months
                .iter()
                .map(|m| ApprovalItem {
                    month: m.month.to_string(),
                    decisions: m.decisions,
                    approved: m.approved,
                    approval_rate: ratio(m.approved, m.decisions),
                    score_bins: m.score_bins.clone(),
                    psi: base.filter(|b| scored(b) && scored(m)).map(|b| {
                        format!("{:.6}", risk::metrics::psi_counts(&counts(b), &counts(m)))
                    }),
                })
                .collect(),
        }
    }
}

impl Tabular for ApprovalsResponse {
    fn header(&self) -> Vec<&'static str> {
        vec!["month", "decisions", "approved", "approval_rate", "psi"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.items
            .iter()
            .map(|i| {
                vec![
                    i.month.clone(),
                    i.decisions.to_string(),
                    i.approved.to_string(),
                    i.approval_rate.clone(),
                    i.psi.clone().unwrap_or_default(),
                ]
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConcentrationItem {
    pub currency: String,
    /// The region code, industry code, product id or funder ("" when unknown).
    pub key: String,
    pub loans: i64,
    pub principal_minor: i64,
    /// `principal_minor` over the currency's open principal.
    pub share: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConcentrationHhi {
    pub currency: String,
    /// Herfindahl–Hirschman index of the principal shares, 0 to 10,000.
    pub hhi: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConcentrationResponse {
    pub month: String,
    /// region, industry, product or funder.
    pub dimension: String,
    pub items: Vec<ConcentrationItem>,
    pub hhi: Vec<ConcentrationHhi>,
}

impl ConcentrationResponse {
    pub fn of(month: Month, dim: Dimension, rows: &[ConcentrationRow]) -> Self {
        let mut currencies: Vec<&str> = rows.iter().map(|r| r.currency.as_str()).collect();
        currencies.dedup();
        let parts = |c: &str| -> Vec<i64> {
            rows.iter()
                .filter(|r| r.currency == c)
                .map(|r| r.principal_minor)
                .collect()
        };
        ConcentrationResponse {
            month: month.to_string(),
            dimension: dim.as_str().into(),
            items: rows
                .iter()
                .map(|r| ConcentrationItem {
                    currency: r.currency.clone(),
                    key: r.key.clone(),
                    loans: r.loans,
                    principal_minor: r.principal_minor,
                    share: ratio(r.principal_minor, parts(&r.currency).iter().sum()),
                })
                .collect(),
            hhi: currencies
                .iter()
                .map(|c| ConcentrationHhi {
                    currency: c.to_string(),
                    hhi: hhi_bp(&parts(c)),
                })
                .collect(),
        }
    }
}

impl Tabular for ConcentrationResponse {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "currency",
            "key",
            "loans",
            "principal_minor",
            "share",
            "hhi",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.items
            .iter()
            .map(|i| {
                let hhi = self
                    .hhi
                    .iter()
                    .find(|h| h.currency == i.currency)
                    .map_or(0, |h| h.hhi);
                vec![
                    i.currency.clone(),
                    i.key.clone(),
                    i.loans.to_string(),
                    i.principal_minor.to_string(),
                    i.share.clone(),
                    hhi.to_string(),
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::ratio;

    #[test]
    fn ratios_round_half_to_even() {
        assert_eq!(ratio(1, 3), "0.333333");
        assert_eq!(ratio(2, 3), "0.666667");
        assert_eq!(ratio(1, 1), "1.000000");
        assert_eq!(ratio(0, 0), "0.000000");
        // 0.0000005 exactly: half, to the even 0.
        assert_eq!(ratio(1, 2_000_000), "0.000000");
        // 0.0000015: half, to the even 2.
        assert_eq!(ratio(3, 2_000_000), "0.000002");
        assert_eq!(ratio(-1, 3), "-0.333333");
    }
}
