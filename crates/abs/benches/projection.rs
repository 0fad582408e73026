//! `cargo bench -p abs`: a 1,000,000-loan consumer pool projected over 36 monthly periods
//! (target ≤ 2 s, grouping into cohorts included), and a one-factor Gaussian copula Monte
//! Carlo of 1,000 scenarios × 100,000 loans (target ≤ 30 s).

use abs::*;
use rust_decimal::Decimal;
use std::hint::black_box;
use std::time::Instant;

/// A deterministic generator for the synthetic pool (SplitMix64).
struct Mix(u64);
impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn consumer_pool(n: usize) -> Vec<PoolCohort> {
    let mut r = Mix(42);
    let terms = [3u32, 6, 9, 12, 18, 24, 36];
    (0..n)
        .map(|_| {
            let term = terms[r.below(terms.len() as u64) as usize];
            PoolCohort {
                balance_minor: 50_000 + r.below(5_000_000) as i64,
                // A rate grid of 7.2% to 24% in 0.6% steps, as priced products have.
                wac: Decimal::new(72 + 6 * r.below(29) as i64, 3),
                remaining_term_months: term,
                age_months: r.below(u64::from(term)) as u32,
                amortization: if r.below(2) == 0 {
                    Amortization::LevelPayment
                } else {
                    Amortization::EqualPrincipal
                },
            }
        })
        .collect()
}

fn time<T>(label: &str, runs: usize, mut f: impl FnMut() -> T) {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        black_box(f());
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{label}: min {:.3} s, median {:.3} s, max {:.3} s ({runs} runs)",
        times[0],
        times[runs / 2],
        times[runs - 1]
    );
}

fn main() {
    let loans = consumer_pool(1_000_000);
    let assumptions = Assumptions {
        prepayment: Prepayment::Cpr(Decimal::new(15, 2)),
        default: DefaultRate::Cdr(Decimal::new(4, 2)),
        severity: Decimal::new(85, 2),
        recovery_lag_months: 6,
        advanced: false,
    };
    let calendar = Calendar::Days(vec![30; 36]);
    let cohorts = group_cohorts(&loans);
    println!("1,000,000 loans → {} cohorts", cohorts.len());
    time(
        "projection, 1,000,000 loans × 36 periods (grouping included)",
        5,
        || {
            let cohorts = group_cohorts(&loans);
            project_pool(&cohorts, &assumptions, &calendar).unwrap()
        },
    );

    let mut r = Mix(7);
    let mc_loans: Vec<CopulaLoan> = (0..100_000)
        .map(|_| CopulaLoan {
            default_probability: 0.005 + (r.below(1000) as f64) / 20_000.0,
            loss_given_default_minor: 10_000 + r.below(2_000_000) as i64,
        })
        .collect();
    let total: i64 = mc_loans.iter().map(|l| l.loss_given_default_minor).sum();
    let tranches = [
        Tranche {
            attach_minor: 0,
            detach_minor: total / 20,
        },
        Tranche {
            attach_minor: total / 20,
            detach_minor: total / 5,
        },
        Tranche {
            attach_minor: total / 5,
            detach_minor: total,
        },
    ];
    time(
        "monte carlo, 1,000 scenarios × 100,000 loans, 1 thread",
        3,
        || simulate(&mc_loans, 0.15, 1_000, 2026, &tranches).unwrap(),
    );
    // Scenarios draw from their own generators, so halves on two threads give the same result.
    time(
        "monte carlo, 1,000 scenarios × 100,000 loans, 2 threads",
        3,
        || {
            let (a, b) = std::thread::scope(|s| {
                let a = s.spawn(|| simulate_range(&mc_loans, 0.15, 2026, 0..500).unwrap());
                let b = s.spawn(|| simulate_range(&mc_loans, 0.15, 2026, 500..1_000).unwrap());
                (a.join().unwrap(), b.join().unwrap())
            });
            let mut losses = a;
            losses.extend(b);
            tranche_stats(&losses, &tranches)
        },
    );
}
