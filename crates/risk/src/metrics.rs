//! Discrimination and calibration metrics for binary credit models (label 1 = bad,
//! prediction = probability of bad).

use serde::{Deserialize, Serialize};

/// Area under the ROC curve with ties counted as one half (the Mann–Whitney statistic).
pub fn auc(y: &[u8], p: &[f64]) -> f64 {
    assert_eq!(y.len(), p.len());
    let order = sorted_order(p);
    let n_bad = y.iter().filter(|&&v| v == 1).count() as f64;
    let n_good = y.len() as f64 - n_bad;
    assert!(n_bad > 0.0 && n_good > 0.0, "AUC needs both classes");
    // Sum of average ranks of the bads, walking tie groups.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && p[order[j + 1]] == p[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg_rank * order[i..=j].iter().filter(|&&r| y[r] == 1).count() as f64;
        i = j + 1;
    }
    (rank_sum - n_bad * (n_bad + 1.0) / 2.0) / (n_bad * n_good)
}

/// Kolmogorov–Smirnov: the largest gap between the bad and good cumulative distributions
/// of the predicted probability, evaluated only between tie groups.
pub fn ks(y: &[u8], p: &[f64]) -> f64 {
    let order = sorted_order(p);
    let n_bad = y.iter().filter(|&&v| v == 1).count() as f64;
    let n_good = y.len() as f64 - n_bad;
    let (mut cb, mut cg, mut best) = (0.0, 0.0, 0.0f64);
    for (k, &r) in order.iter().enumerate() {
        if y[r] == 1 {
            cb += 1.0;
        } else {
            cg += 1.0;
        }
        let tie_continues = k + 1 < order.len() && p[order[k + 1]] == p[r];
        if !tie_continues {
            best = best.max((cb / n_bad - cg / n_good).abs());
        }
    }
    best
}

pub fn brier(y: &[u8], p: &[f64]) -> f64 {
    assert_eq!(y.len(), p.len());
    y.iter()
        .zip(p)
        .map(|(&t, &q)| (q - f64::from(t)).powi(2))
        .sum::<f64>()
        / y.len() as f64
}

pub fn logloss(y: &[u8], p: &[f64]) -> f64 {
    let eps = 1e-15;
    let total: f64 = y
        .iter()
        .zip(p)
        .map(|(&t, &q)| {
            let q = q.clamp(eps, 1.0 - eps);
            if t == 1 {
                -q.ln()
            } else {
                -(1.0 - q).ln()
            }
        })
        .sum();
    total / y.len() as f64
}

fn sorted_order(p: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    order
}

/// ROC curve points (false positive rate, true positive rate) from the strictest threshold
/// down, one point per tie group, starting at (0, 0) and ending at (1, 1).
pub fn roc(y: &[u8], p: &[f64]) -> Vec<(f64, f64)> {
    let mut order = sorted_order(p);
    order.reverse();
    let n_bad = y.iter().filter(|&&v| v == 1).count().max(1) as f64;
    let n_good = (y.len() as f64 - n_bad).max(1.0);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = vec![(0.0, 0.0)];
    for (k, &r) in order.iter().enumerate() {
        if y[r] == 1 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if k + 1 == order.len() || p[order[k + 1]] != p[r] {
            points.push((fp / n_good, tp / n_bad));
        }
    }
    points
}

/// One row of a calibration table: rows grouped by predicted probability.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub count: usize,
    pub mean_predicted: f64,
    pub observed_bad_rate: f64,
}

/// Equal-count groups by predicted probability (deciles when `groups = 10`).
pub fn calibration(y: &[u8], p: &[f64], groups: usize) -> Vec<CalibrationBin> {
    assert!(groups > 0);
    let order = sorted_order(p);
    let n = order.len();
    (0..groups)
        .filter_map(|g| {
            let (lo, hi) = (g * n / groups, (g + 1) * n / groups);
            let slice = &order[lo..hi];
            if slice.is_empty() {
                return None;
            }
            let count = slice.len();
            let mean_predicted = slice.iter().map(|&r| p[r]).sum::<f64>() / count as f64;
            let observed = slice.iter().filter(|&&r| y[r] == 1).count() as f64 / count as f64;
            Some(CalibrationBin {
                count,
                mean_predicted,
                observed_bad_rate: observed,
            })
        })
        .collect()
}

/// Population stability index of `actual` against `expected`, on the expected decile edges.
pub fn psi(expected: &[f64], actual: &[f64], buckets: usize) -> f64 {
    let mut sorted: Vec<f64> = expected.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..buckets)
        .map(|b| sorted[b * sorted.len() / buckets])
        .collect();
    edges.dedup();
    let counts = |values: &[f64]| -> Vec<usize> {
        let mut counts = vec![0; edges.len() + 1];
        for &v in values {
            counts[edges.partition_point(|&e| e <= v)] += 1;
        }
        counts
    };
    psi_counts(&counts(expected), &counts(actual))
}

/// PSI from bucket counts of two samples. Empty buckets get a small share floor so the
/// index stays finite.
pub fn psi_counts(expected: &[usize], actual: &[usize]) -> f64 {
    assert_eq!(expected.len(), actual.len());
    let share = |c: &[usize]| -> Vec<f64> {
        let total = c.iter().sum::<usize>().max(1) as f64;
        c.iter().map(|&n| (n as f64 / total).max(1e-4)).collect()
    };
    let (e, a) = (share(expected), share(actual));
    e.iter().zip(&a).map(|(e, a)| (a - e) * (a / e).ln()).sum()
}

/// The headline numbers of a model on one labelled sample.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub rows: usize,
    pub bad_rate: f64,
    pub auc: f64,
    pub gini: f64,
    pub ks: f64,
    pub brier: f64,
    pub logloss: f64,
}

pub fn summary(y: &[u8], p: &[f64]) -> Summary {
    let a = auc(y, p);
    Summary {
        rows: y.len(),
        bad_rate: y.iter().filter(|&&v| v == 1).count() as f64 / y.len() as f64,
        auc: a,
        gini: 2.0 * a - 1.0,
        ks: ks(y, p),
        brier: brier(y, p),
        logloss: logloss(y, p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_as_half() {
        assert_eq!(auc(&[0, 1], &[0.1, 0.9]), 1.0);
        assert_eq!(auc(&[1, 0], &[0.1, 0.9]), 0.0);
        assert_eq!(auc(&[0, 1, 0, 1], &[0.5, 0.5, 0.5, 0.5]), 0.5);
        // 2 bads x 2 goods: pairs (b=.8 > .3,.6), (b=.4 > .3, < .6) -> 3/4.
        assert_eq!(auc(&[0, 1, 0, 1], &[0.3, 0.8, 0.6, 0.4]), 0.75);
    }

    #[test]
    fn ks_and_brier() {
        assert_eq!(ks(&[0, 0, 1, 1], &[0.1, 0.2, 0.3, 0.4]), 1.0);
        assert_eq!(ks(&[0, 1], &[0.5, 0.5]), 0.0);
        assert!((brier(&[0, 1], &[0.2, 0.6]) - 0.1).abs() < 1e-12);
    }

    proptest::proptest! {
        /// AUC is the share of (bad, good) pairs ranked correctly, ties counting one half;
        /// KS never exceeds 1 and Gini = 2 AUC - 1 stays in [-1, 1].
        #[test]
        fn auc_matches_pair_counting(pairs in proptest::collection::vec((0u8..2, 0u8..20), 2..60)) {
            let y: Vec<u8> = pairs.iter().map(|p| p.0).collect();
            let p: Vec<f64> = pairs.iter().map(|p| f64::from(p.1) / 20.0).collect();
            proptest::prop_assume!(y.contains(&0) && y.contains(&1));
            let mut wins = 0.0;
            let mut total = 0.0;
            for (i, &a) in y.iter().enumerate() {
                for (j, &b) in y.iter().enumerate() {
                    if a == 1 && b == 0 {
                        total += 1.0;
                        wins += if p[i] > p[j] { 1.0 } else if p[i] == p[j] { 0.5 } else { 0.0 };
                    }
                }
            }
            proptest::prop_assert!((auc(&y, &p) - wins / total).abs() < 1e-12);
            let k = ks(&y, &p);
            proptest::prop_assert!((0.0..=1.0).contains(&k));
        }
    }

    #[test]
    fn psi_is_zero_for_identical_samples() {
        let v: Vec<f64> = (0..100).map(f64::from).collect();
        assert!(psi(&v, &v, 10).abs() < 1e-12);
        let shifted: Vec<f64> = v.iter().map(|x| x + 50.0).collect();
        assert!(psi(&v, &shifted, 10) > 0.5);
    }
}
