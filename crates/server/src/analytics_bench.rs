//! `puhui bench analytics`: vintage curves and roll rates over a synthetic book of month-end
//! snapshots, timed on a fresh SQLite or PostgreSQL store.
//!
//! The book is seasoned: every loan was originated in the 24 months before the first
//! snapshot, so each is in every month end until it pays off or is written off. Each month
//! an open loan moves between DPD buckets by a fixed transition matrix (cures, rolls,
//! prepayments, write-off from M4+), amortizes its principal, and pays off at its term.
//! Seeding (rows, then each month's pre-aggregates) is reported apart from the queries.

use crate::bench::{rss_mib, ScratchStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::process::ExitCode;
use std::time::Instant;
use store::analytics::{AnalyticsFilter, Month, SnapshotRow};
use store::Store;

#[derive(clap::Args)]
pub struct AnalyticsBenchArgs {
    #[command(flatten)]
    target: ScratchStore,
    #[arg(long, default_value_t = 1_000_000)]
    loans: u32,
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(2..=120))]
    months: u32,
    /// Timed runs of the queries (each reported).
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Also group vintage and roll rates straight from the rows (full scans) and check that
    /// they equal the answers from the pre-aggregates.
    #[arg(long)]
    check_rows: bool,
    #[arg(long)]
    json: bool,
}

/// Per month, from bucket (0–4) to M0…M4+, then paid off; the rest of each row's mass
/// stays where a written-off loan goes (only from M4+).
const MOVES: [[u32; 6]; 5] = [
    // M0: most stay current, some slip, a few prepay.
    [9_550, 330, 0, 0, 0, 120],
    // M1: many cure, a third roll.
    [4_200, 2_300, 3_300, 0, 0, 200],
    [1_200, 600, 1_800, 6_300, 0, 100],
    [500, 100, 300, 1_600, 7_500, 0],
    // M4+: 15% written off each month.
    [200, 0, 0, 0, 8_300, 0],
];

#[derive(Clone, Copy)]
struct Loan {
    orig: i32,
    term_months: i32,
    amount_minor: i64,
    bucket: u8,
    /// 0 open, 1 paid off, 2 written off; rows stop after the closing month.
    closed: u8,
}

fn dpd_of(bucket: u8, rng: &mut StdRng) -> i64 {
    match bucket {
        0 => 0,
        1 => rng.gen_range(1..=30),
        2 => rng.gen_range(31..=60),
        3 => rng.gen_range(61..=90),
        _ => rng.gen_range(91..=360),
    }
}

const PRODUCTS: [u128; 3] = [0x11, 0x22, 0x33];
const REGIONS: [&str; 8] = [
    "110000", "310000", "440000", "330000", "320000", "510000", "420000", "370000",
];
const INDUSTRIES: [&str; 5] = ["A01", "C13", "F47", "G52", "I65"];
const FUNDERS: [&str; 3] = ["platform", "bank-a", "trust-b"];

async fn seed(s: &Store, a: &AnalyticsBenchArgs, first: Month) -> anyhow::Result<u64> {
    let mut rng = StdRng::seed_from_u64(20_260_101);
    let mut book: Vec<Loan> = (0..a.loans)
        .map(|_| Loan {
            orig: first.0 - rng.gen_range(1..=24),
            term_months: rng.gen_range(24..=60),
            amount_minor: rng.gen_range(1_000..=50_000) * 100,
            bucket: 0,
            closed: 0,
        })
        .collect();
    let mut rows_total = 0u64;
    const CHUNK: usize = 100_000;
    for m in 0..a.months {
        let month = Month(first.0 + m as i32);
        let mut rows = Vec::with_capacity(CHUNK);
        for (i, l) in book.iter_mut().enumerate() {
            if l.closed != 0 {
                continue;
            }
            let r = rng.gen_range(0..10_000u32);
            let mut acc = 0;
            let mut next = None;
            for (to, w) in MOVES[l.bucket as usize].iter().enumerate() {
                acc += w;
                if r < acc {
                    next = Some(to);
                    break;
                }
            }
            let age = month.0 - l.orig;
            match next {
                Some(5) => l.closed = 1,
                Some(b) => l.bucket = b as u8,
                None => l.closed = 2,
            }
            if l.closed == 0 && age >= l.term_months && l.bucket == 0 {
                l.closed = 1;
            }
            let principal_minor = match l.closed {
                0 => {
                    l.amount_minor * i64::from((l.term_months - age).max(1))
                        / i64::from(l.term_months)
                }
                _ => 0,
            };
            let status = ["active", "paid_off", "written_off"][l.closed as usize];
            let bucket = if l.closed == 1 { 0 } else { l.bucket };
            let i = i as u128;
            rows.push(SnapshotRow {
                month,
                loan_id: uuid::Uuid::from_u128(i + 1),
                tenant: "bench".into(),
                product: uuid::Uuid::from_u128(PRODUCTS[(i % 3) as usize]),
                orig_month: Month(l.orig),
                region: REGIONS[(i % 8) as usize].into(),
                industry: INDUSTRIES[(i % 5) as usize].into(),
                funder: FUNDERS[(i % 3) as usize].into(),
                currency: "CNY".into(),
                principal_minor,
                dpd: dpd_of(bucket, &mut rng),
                bucket: usize::from(bucket),
                status: status.into(),
            });
            if rows.len() == CHUNK {
                rows_total += rows.len() as u64;
                s.load_snapshot_rows(std::mem::take(&mut rows)).await?;
            }
        }
        rows_total += rows.len() as u64;
        if !rows.is_empty() {
            s.load_snapshot_rows(rows).await?;
        }
        s.aggregate_snapshot(month).await?;
        if !a.json {
            eprintln!("seeded {month}: {rows_total} rows");
        }
    }
    Ok(rows_total)
}

/// Forgets the peak resident set so far (Linux): the query phase reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub async fn run(a: AnalyticsBenchArgs) -> anyhow::Result<ExitCode> {
    let (s, _dir) = a.target.open().await?;
    s.migrate().await?;
    let first = Month::of(2024, 1);
    let t = Instant::now();
    let rows = seed(&s, &a, first).await?;
    let seed_seconds = t.elapsed().as_secs_f64();
    let seed_peak = rss_mib().0;
    reset_peak_rss();
    let f = AnalyticsFilter::default();
    let mut runs = Vec::new();
    let (mut vintage, mut rolls) = (Vec::new(), Vec::new());
    for _ in 0..a.runs.max(1) {
        let t = Instant::now();
        vintage = s.vintage(f.clone()).await?;
        let vintage_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        rolls = s.roll_rates(f.clone()).await?;
        let rolls_s = t.elapsed().as_secs_f64();
        runs.push((vintage_s, rolls_s));
    }
    let query_peak = rss_mib().0;
    let mut rows_check = None;
    if a.check_rows {
        let t = Instant::now();
        let v = s.vintage_from_rows(f.clone()).await?;
        let vintage_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let r = s.roll_rates_from_rows(f.clone()).await?;
        let rolls_s = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            v == vintage,
            "vintage from the rows differs from the pre-aggregate"
        );
        anyhow::ensure!(
            r == rolls,
            "roll rates from the rows differ from the pre-aggregate"
        );
        rows_check = Some((vintage_s, rolls_s));
    }
    let backend = s.backend_name();
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "backend": backend, "loans": a.loans, "months": a.months, "rows": rows,
                "seed_seconds": seed_seconds, "seed_peak_rss_mib": seed_peak,
                "runs": runs.iter().map(|(v, r)| serde_json::json!({
                    "vintage_seconds": v, "roll_rates_seconds": r })).collect::<Vec<_>>(),
                "query_peak_rss_mib": query_peak,
                "vintage_points": vintage.len(), "roll_cells": rolls.len(),
                "from_rows": rows_check.map(|(v, r)| serde_json::json!({
                    "vintage_seconds": v, "roll_rates_seconds": r, "equal": true })),
            })
        );
    } else {
        println!(
            "{backend}: {} loans x {} months = {rows} snapshot rows, seeded in {seed_seconds:.1} s (peak RSS {seed_peak:.0} MiB)",
            a.loans, a.months
        );
        for (i, (v, r)) in runs.iter().enumerate() {
            println!(
                "run {}: vintage {v:.3} s ({} points), roll rates {r:.3} s ({} cells), together {:.3} s",
                i + 1,
                vintage.len(),
                rolls.len(),
                v + r
            );
        }
        println!("query peak RSS {query_peak:.0} MiB");
        if let Some((v, r)) = rows_check {
            println!(
                "from the rows (full scans): vintage {v:.1} s, roll rates {r:.1} s; equal to the pre-aggregates"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
