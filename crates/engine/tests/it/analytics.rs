//! Month-end snapshots written by close of business, and every analytic read from them,
//! against a recomputation in Rust from the loans and the snapshot rows, on SQLite and
//! PostgreSQL. The book is the seeded loan simulation over seven month ends; set
//! `PUHUI_ANALYTICS_LOANS` (e.g. 10000) for a bigger book.

use engine::loans;
use engine::simulation::{self, SimConfig};
use engine::{Engine, EngineConfig};
use lending::loan::{AccountPurpose, LoanStatus};
use std::collections::{BTreeMap, HashMap};
use store::analytics::{
    hhi_bp, AnalyticsFilter, ConcentrationRow, DelinquencyPoint, Dimension, Month, RollCell,
    SnapshotRow, VintagePoint,
};
use store::Store;
use uuid::Uuid;

const SEED: u64 = 20_260_707;

async fn all_rows(s: &Store, months: &[Month]) -> Vec<SnapshotRow> {
    let mut out = Vec::new();
    for &m in months {
        let mut after = None;
        loop {
            let page = s.snapshot_rows(m, after, 97).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.loan_id);
            out.extend(page);
        }
    }
    out
}

fn vintage_of(rows: &[SnapshotRow], f: &AnalyticsFilter) -> Vec<VintagePoint> {
    let mut m: BTreeMap<(i32, i32, String), VintagePoint> = BTreeMap::new();
    for r in rows.iter().filter(|r| kept(r, f, r.orig_month)) {
        let mob = r.month.0 - r.orig_month.0;
        let p = m
            .entry((r.orig_month.0, mob, r.currency.clone()))
            .or_insert_with(|| VintagePoint {
                orig_month: r.orig_month,
                months_on_book: mob,
                currency: r.currency.clone(),
                ..VintagePoint::default()
            });
        p.loans += 1;
        p.principal_minor += r.principal_minor;
        if r.is_dpd30() {
            p.dpd30_loans += 1;
            p.dpd30_principal_minor += r.principal_minor;
        }
    }
    m.into_values().collect()
}

/// Whether a row is in the filter, `month` being the month the filter's range applies to.
fn kept(r: &SnapshotRow, f: &AnalyticsFilter, month: Month) -> bool {
    f.tenant.as_ref().is_none_or(|t| *t == r.tenant)
        && f.from.is_none_or(|m| month >= m)
        && f.to.is_none_or(|m| month <= m)
        && f.product.is_none_or(|p| p == r.product)
        && f.currency.as_ref().is_none_or(|c| *c == r.currency)
}

fn rolls_of(rows: &[SnapshotRow], f: &AnalyticsFilter) -> Vec<RollCell> {
    let by_key: HashMap<(i32, Uuid), &SnapshotRow> =
        rows.iter().map(|r| ((r.month.0, r.loan_id), r)).collect();
    let mut m: BTreeMap<(String, usize, usize), RollCell> = BTreeMap::new();
    for a in rows.iter().filter(|r| r.status == "active") {
        let Some(b) = by_key.get(&(a.month.0 + 1, a.loan_id)) else {
            continue;
        };
        if !kept(a, f, b.month) {
            continue;
        }
        let to = b.roll_to();
        let c = m
            .entry((a.currency.clone(), a.bucket, to))
            .or_insert_with(|| RollCell {
                currency: a.currency.clone(),
                from: a.bucket,
                to,
                ..RollCell::default()
            });
        c.loans += 1;
        c.principal_minor += a.principal_minor;
    }
    m.into_values().collect()
}

fn delinquency_of(rows: &[SnapshotRow], f: &AnalyticsFilter) -> Vec<DelinquencyPoint> {
    let mut m: BTreeMap<(i32, String, usize), DelinquencyPoint> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.status == "active" && kept(r, f, r.month))
    {
        let p = m
            .entry((r.month.0, r.currency.clone(), r.bucket))
            .or_insert_with(|| DelinquencyPoint {
                month: r.month,
                currency: r.currency.clone(),
                bucket: r.bucket,
                ..DelinquencyPoint::default()
            });
        p.loans += 1;
        p.principal_minor += r.principal_minor;
    }
    m.into_values().collect()
}

fn concentration_of(rows: &[SnapshotRow], month: Month, dim: Dimension) -> Vec<ConcentrationRow> {
    let mut m: BTreeMap<(String, String), ConcentrationRow> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.month == month && r.status == "active")
    {
        let key = match dim {
            Dimension::Region => r.region.clone(),
            Dimension::Industry => r.industry.clone(),
            Dimension::Product => r.product.to_string(),
            Dimension::Funder => r.funder.clone(),
        };
        let c = m
            .entry((r.currency.clone(), key.clone()))
            .or_insert_with(|| ConcentrationRow {
                currency: r.currency.clone(),
                key,
                ..ConcentrationRow::default()
            });
        c.loans += 1;
        c.principal_minor += r.principal_minor;
    }
    m.into_values().collect()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// The last month's snapshot against each loan's state and ledger as they stand now (the
/// simulation ends on that month's close), and every loan's months against its life.
async fn check_rows_against_loans(e: &Engine, rows: &[SnapshotRow], loans_n: u32, last: Month) {
    let mut by_loan: HashMap<Uuid, Vec<&SnapshotRow>> = HashMap::new();
    for r in rows {
        by_loan.entry(r.loan_id).or_default().push(r);
    }
    let mut seen = 0;
    for i in 0..loans_n {
        let id = Uuid::from_u128(u128::from(SEED) << 64 | u128::from(i) << 8 | 1);
        let Ok(view) = loans::load(e, id).await else {
            assert!(!by_loan.contains_key(&id));
            continue;
        };
        let history = by_loan.get(&id).cloned().unwrap_or_default();
        if view.row.stage != "active"
            && view.row.stage != "paid_off"
            && view.row.stage != "written_off"
        {
            assert!(history.is_empty(), "{id} never booked");
            continue;
        }
        seen += 1;
        let events = e.store().loan_events(id).await.unwrap();
        let orig = Month::of_date(money::BusinessDate::from_epoch_days(events[0].day).unwrap());
        // Consecutive months from origination, active until at most one closing month.
        for (k, r) in history.iter().enumerate() {
            assert_eq!(r.orig_month, orig, "{id}");
            assert_eq!(
                r.month.0,
                history[0].month.0 + k as i32,
                "{id}: months in a row"
            );
            // Closed rows end the loan's months, unless a reversed payoff reopened it.
            assert!(
                r.status == "active" || k == history.len() - 1 || history[k + 1].status == "active",
                "{id}: closed twice in a row: {history:?}"
            );
            assert_eq!(r.bucket, store::dpd_bucket(r.dpd), "{id}");
        }
        let first = history.first().expect("a booked loan is in a snapshot");
        assert!(
            first.month == orig || first.month == Month::of(2026, 1),
            "{id}"
        );
        let open_now = view.loan.status == LoanStatus::Active;
        let at_end = history.last().unwrap();
        if open_now {
            assert_eq!(at_end.month, last, "{id}: open at the last month end");
        }
        if at_end.month == last {
            let principal = loans::account_id(
                id,
                &view.row.tenant,
                view.currency(),
                AccountPurpose::PrincipalReceivable,
            );
            let a = e.account(principal).await.unwrap().unwrap();
            let balance = a.balances.debits_posted_minor - a.balances.credits_posted_minor;
            assert_eq!(at_end.principal_minor, balance, "{id} principal");
            assert_eq!(at_end.status, view.row.stage, "{id} status");
            assert_eq!(at_end.dpd, i64::from(view.row.dpd), "{id} dpd");
            assert_eq!(at_end.product, view.row.product_id);
            assert_eq!(at_end.tenant, view.row.tenant);
        } else {
            assert!(!open_now);
            assert_ne!(
                at_end.status, "active",
                "{id}: left the snapshots while open"
            );
        }
    }
    assert!(seen > 0);
}

#[tokio::test]
async fn analytics_equal_a_recomputation_from_the_snapshots_and_the_loans() {
    let loans_n: u32 = std::env::var("PUHUI_ANALYTICS_LOANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    for ts in testkit::all_stores().await {
        let e = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .unwrap();
        // 2026-01-01 … 2026-07-31: the last close is July's, seven month ends in all.
        let cfg = SimConfig {
            seed: SEED,
            loans: loans_n,
            days: 212,
            loans_checked_per_day: 0,
            ledger_check_every_days: 0,
            origination_days: 120,
        };
        let report = simulation::run(&e, cfg, &|_| {}).await.unwrap();
        eprintln!("{}: {report:?}", ts.name);
        let s = e.store();
        let months = s.snapshot_months().await.unwrap();
        let expected: Vec<Month> = (1..=7).map(|m| Month::of(2026, m)).collect();
        assert_eq!(months, expected, "{}", ts.name);
        let rows = all_rows(s, &months).await;
        check_rows_against_loans(&e, &rows, loans_n, Month::of(2026, 7)).await;
        assert!(rows.iter().any(|r| r.bucket >= 2), "some loans fell behind");
        assert!(rows.iter().any(|r| r.status == "paid_off"));

        let product = rows[0].product;
        let filters = [
            AnalyticsFilter::default(),
            AnalyticsFilter {
                tenant: Some("sim".into()),
                from: Some(Month::of(2026, 2)),
                to: Some(Month::of(2026, 5)),
                product: Some(product),
                currency: Some("CNY".into()),
            },
            AnalyticsFilter {
                tenant: Some("another".into()),
                ..AnalyticsFilter::default()
            },
        ];
        for f in &filters {
            let v = s.vintage(f.clone()).await.unwrap();
            assert_eq!(sorted(v), vintage_of(&rows, f), "{} vintage {f:?}", ts.name);
            let r = s.roll_rates(f.clone()).await.unwrap();
            assert_eq!(sorted(r), rolls_of(&rows, f), "{} rolls {f:?}", ts.name);
            let d = s.delinquency(f.clone()).await.unwrap();
            assert_eq!(
                sorted(d),
                delinquency_of(&rows, f),
                "{} delinquency",
                ts.name
            );
        }
        assert!(!rolls_of(&rows, &filters[0]).is_empty());
        for &m in &months {
            for dim in Dimension::ALL {
                let c = s
                    .concentration(AnalyticsFilter::default(), m, dim)
                    .await
                    .unwrap();
                let brute = concentration_of(&rows, m, dim);
                let parts: Vec<i64> = brute.iter().map(|c| c.principal_minor).collect();
                let total: i64 = parts.iter().sum();
                assert_eq!(sorted(c.clone()), brute, "{} {m} {dim:?}", ts.name);
                let hhi = hhi_bp(&c.iter().map(|c| c.principal_minor).collect::<Vec<_>>());
                assert_eq!(hhi, hhi_bp(&parts));
                if total > 0 && dim == Dimension::Product {
                    assert_eq!(hhi, 10_000, "one product");
                }
            }
        }

        // Writing a month again (the backfill command) changes nothing.
        let before = (
            s.vintage(AnalyticsFilter::default()).await.unwrap(),
            s.roll_rates(AnalyticsFilter::default()).await.unwrap(),
        );
        s.write_snapshot(Month::of(2026, 7)).await.unwrap();
        assert_eq!(all_rows(s, &months).await, rows, "{}", ts.name);
        let after = (
            s.vintage(AnalyticsFilter::default()).await.unwrap(),
            s.roll_rates(AnalyticsFilter::default()).await.unwrap(),
        );
        assert_eq!(before, after, "{}", ts.name);
    }
}
