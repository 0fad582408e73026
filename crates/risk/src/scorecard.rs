//! WoE scorecards: optimal binning, IV and stepwise selection, L2 logistic regression on WoE,
//! and points scaling.
//!
//! Binning starts from about 20 equal-frequency fine bins (categories are fine bins ordered by
//! bad rate) and merges neighbours by dynamic programming to maximise information value under
//! a minimum bin share, a maximum bin count and a monotonic bad rate. Missing values always
//! have their own bin; unseen categories at scoring time fall into it, and when training saw
//! no missing values that bin has WoE 0 (the training-average risk).

use crate::data::{Dataset, FeatureKind};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScorecardParams {
    pub fine_bins: usize,
    pub min_bin_share: f64,
    pub max_bins: usize,
    /// A numeric feature gets a one-turn (U or hump) bad-rate shape instead of a monotonic
    /// one only when that raises its IV by more than this fraction.
    pub non_monotonic_gain: f64,
    pub min_iv: f64,
    pub max_correlation: f64,
    pub l2: f64,
    /// Forward stepwise selection by AIC; when off, every candidate that passes the IV and
    /// correlation filters enters the model.
    pub stepwise: bool,
    pub pdo: f64,
    pub base_points: f64,
    /// Good:bad odds that score `base_points`.
    pub base_odds: f64,
}

impl Default for ScorecardParams {
    fn default() -> Self {
        ScorecardParams {
            fine_bins: 20,
            min_bin_share: 0.05,
            max_bins: 10,
            non_monotonic_gain: 0.1,
            min_iv: 0.02,
            max_correlation: 0.8,
            l2: 1.0,
            stepwise: true,
            pdo: 20.0,
            base_points: 600.0,
            base_odds: 50.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bin {
    pub label: String,
    pub count: usize,
    pub bads: usize,
    pub woe: f64,
    pub points: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BinRule {
    /// Bin `i` holds `x <= upper[i]` above the previous bound; the last bound is `f64::MAX` (JSON has no infinity; inputs are finite).
    Numeric { upper: Vec<f64> },
    /// Level code to bin; codes past the end are unseen and go to the missing bin.
    Categorical { bin_of_code: Vec<u16> },
}

/// One feature's bins; the last bin is always the missing bin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureBinning {
    pub feature: usize,
    pub name: String,
    pub rule: BinRule,
    pub bins: Vec<Bin>,
    pub iv: f64,
}

impl FeatureBinning {
    pub fn missing_bin(&self) -> usize {
        self.bins.len() - 1
    }

    #[inline]
    pub fn bin_of(&self, x: f64) -> usize {
        if x.is_nan() {
            return self.missing_bin();
        }
        match &self.rule {
            BinRule::Numeric { upper } => upper.partition_point(|&u| u < x),
            BinRule::Categorical { bin_of_code } => bin_of_code
                .get(x as usize)
                .map_or(self.missing_bin(), |&b| b as usize),
        }
    }
}

/// Counts per fine bin: (rows, bads).
type Counts = Vec<(usize, usize)>;

fn woe(bads: usize, goods: usize, total_bads: usize, total_goods: usize) -> f64 {
    // +0.5 smoothing keeps empty cells finite.
    let db = (bads as f64 + 0.5) / (total_bads as f64 + 0.5);
    let dg = (goods as f64 + 0.5) / (total_goods as f64 + 0.5);
    (db / dg).ln()
}

fn iv_term(bads: usize, goods: usize, tb: usize, tg: usize) -> f64 {
    let db = bads as f64 / tb as f64;
    let dg = goods as f64 / tg as f64;
    (db - dg) * woe(bads, goods, tb, tg)
}

#[derive(Clone, Copy, PartialEq)]
enum Trend {
    Ascending,
    Descending,
    /// Rising then falling bad rate (one turn).
    Peak,
    /// Falling then rising bad rate (one turn).
    Valley,
}

/// The phase after appending a group with bad rate `next` behind one with `prev`, or `None`
/// when the trend forbids it. Phase 0 is before the turn, 1 after it.
fn next_phase(trend: Trend, phase: usize, prev: f64, next: f64) -> Option<usize> {
    let (up, down) = (next > prev, next < prev);
    match (trend, phase) {
        (Trend::Ascending, 0) if up => Some(0),
        (Trend::Descending, 0) if down => Some(0),
        (Trend::Peak, 0) if up => Some(0),
        (Trend::Peak, _) if down => Some(1),
        (Trend::Valley, 0) if down => Some(0),
        (Trend::Valley, _) if up => Some(1),
        _ => None,
    }
}

/// Merges contiguous fine bins into groups maximising IV: each group holds at least
/// `min_rows`, at most `max_groups` groups, bad rates strictly monotone in `trend`.
/// Returns group boundaries as the last fine-bin index of each group and the IV.
fn optimal_groups(
    fine: &Counts,
    tb: usize,
    tg: usize,
    min_rows: usize,
    max_groups: usize,
    trend: Trend,
) -> Option<(Vec<usize>, f64)> {
    let m = fine.len();
    let mut pre = vec![(0usize, 0usize); m + 1];
    for i in 0..m {
        pre[i + 1] = (pre[i].0 + fine[i].0, pre[i].1 + fine[i].1);
    }
    let group = |i: usize, j: usize| (pre[j + 1].0 - pre[i].0, pre[j + 1].1 - pre[i].1);
    let rate = |i: usize, j: usize| {
        let (n, b) = group(i, j);
        b as f64 / n as f64
    };
    let value = |i: usize, j: usize| {
        let (n, b) = group(i, j);
        iv_term(b, n - b, tb, tg)
    };
    // best[q][g][i][j]: max IV covering fine bins 0..=j in g+1 groups, the last being i..=j,
    // in trend phase q.
    let neg = f64::NEG_INFINITY;
    let mut best = vec![vec![vec![vec![neg; m]; m]; max_groups]; 2];
    let mut from = vec![vec![vec![vec![(0usize, 0usize); m]; m]; max_groups]; 2];
    for (j, cell) in best[0][0][0].iter_mut().enumerate() {
        if group(0, j).0 >= min_rows {
            *cell = value(0, j);
        }
    }
    for g in 1..max_groups {
        for j in 0..m {
            for i in 1..=j {
                if group(i, j).0 < min_rows {
                    continue;
                }
                let r = rate(i, j);
                for q in 0..2 {
                    for k in 0..i {
                        let prev = best[q][g - 1][k][i - 1];
                        if prev == neg {
                            continue;
                        }
                        let Some(nq) = next_phase(trend, q, rate(k, i - 1), r) else {
                            continue;
                        };
                        if prev + value(i, j) > best[nq][g][i][j] {
                            best[nq][g][i][j] = prev + value(i, j);
                            from[nq][g][i][j] = (q, k);
                        }
                    }
                }
            }
        }
    }
    backtrack(&best, &from, m)
}

/// DP table: `[phase][groups - 1][first fine bin of last group][last fine bin]`.
type Table4<T> = Vec<Vec<Vec<Vec<T>>>>;

/// The best complete partition (ending at fine bin `m - 1`) and its group ends.
fn backtrack(
    best: &Table4<f64>,
    from: &Table4<(usize, usize)>,
    m: usize,
) -> Option<(Vec<usize>, f64)> {
    let mut top: Option<(usize, usize, usize, f64)> = None;
    for (q, layers) in best.iter().enumerate() {
        for (g, layer) in layers.iter().enumerate() {
            for (i, row) in layer.iter().enumerate() {
                if row[m - 1] > f64::NEG_INFINITY && top.is_none_or(|t| row[m - 1] > t.3 + 1e-12) {
                    top = Some((q, g, i, row[m - 1]));
                }
            }
        }
    }
    let (mut q, mut g, mut i, iv) = top?;
    let mut ends = vec![m - 1];
    while g > 0 {
        let (pq, k) = from[q][g][i][ends[ends.len() - 1]];
        ends.push(i - 1);
        (q, g, i) = (pq, g - 1, k);
    }
    ends.reverse();
    Some((ends, iv))
}

/// Equal-frequency fine bins over the present values: returns upper bounds (the last is `f64::MAX`).
fn fine_bounds(values: &mut [f64], fine_bins: usize) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    let target = values.len() as f64 / fine_bins as f64;
    let mut upper = Vec::new();
    let mut filled = 0usize;
    for i in 0..values.len().saturating_sub(1) {
        filled += 1;
        if values[i] != values[i + 1] && filled as f64 >= target {
            upper.push((values[i] + values[i + 1]) / 2.0);
            filled = 0;
        }
    }
    upper.push(f64::MAX);
    upper
}

/// Bins one feature on the given rows (labels `y` indexed like `rows`).
pub fn bin_feature(
    data: &Dataset,
    f: usize,
    rows: &[usize],
    y: &[u8],
    p: &ScorecardParams,
) -> FeatureBinning {
    let values: Vec<f64> = rows.iter().map(|&r| data.value(r, f)).collect();
    let tb = y.iter().filter(|&&v| v == 1).count();
    let tg = y.len() - tb;
    let min_rows = ((p.min_bin_share * rows.len() as f64).ceil() as usize).max(1);
    let spec = &data.schema.features[f];
    let (rule, labels) = match &spec.kind {
        FeatureKind::Numeric => numeric_rule(&values, y, tb, tg, min_rows, p),
        FeatureKind::Categorical { levels } => {
            categorical_rule(&values, y, levels, tb, tg, min_rows, p)
        }
    };
    let mut counts = vec![(0usize, 0usize); labels.len() + 1];
    let mut binning = FeatureBinning {
        feature: f,
        name: spec.name.clone(),
        rule,
        bins: Vec::new(),
        iv: 0.0,
    };
    binning.bins = vec![
        Bin {
            label: String::new(),
            count: 0,
            bads: 0,
            woe: 0.0,
            points: 0.0
        };
        labels.len() + 1
    ];
    for (x, &t) in values.iter().zip(y) {
        let b = binning.bin_of(*x);
        counts[b].0 += 1;
        counts[b].1 += usize::from(t);
    }
    let mut names = labels;
    names.push("missing".into());
    for (b, ((n, bads), label)) in counts.iter().zip(names).enumerate() {
        let w = if *n == 0 {
            0.0
        } else {
            woe(*bads, n - bads, tb, tg)
        };
        binning.bins[b] = Bin {
            label,
            count: *n,
            bads: *bads,
            woe: w,
            points: 0.0,
        };
        if *n > 0 {
            binning.iv += iv_term(*bads, n - bads, tb, tg);
        }
    }
    binning
}

fn numeric_rule(
    values: &[f64],
    y: &[u8],
    tb: usize,
    tg: usize,
    min_rows: usize,
    p: &ScorecardParams,
) -> (BinRule, Vec<String>) {
    let mut present: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if present.is_empty() {
        return (
            BinRule::Numeric {
                upper: vec![f64::MAX],
            },
            vec!["all".into()],
        );
    }
    let fine_upper = fine_bounds(&mut present, p.fine_bins);
    let mut fine = vec![(0usize, 0usize); fine_upper.len()];
    for (x, &t) in values.iter().zip(y).filter(|(x, _)| !x.is_nan()) {
        let b = fine_upper.partition_point(|&u| u < *x);
        fine[b].0 += 1;
        fine[b].1 += usize::from(t);
    }
    let best = |trends: &[Trend]| {
        trends
            .iter()
            .filter_map(|&t| optimal_groups(&fine, tb, tg, min_rows, p.max_bins, t))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    };
    let monotone = best(&[Trend::Ascending, Trend::Descending]);
    let turning = best(&[Trend::Peak, Trend::Valley]);
    // A U- or hump-shaped trend only where it carries clearly more information.
    let chosen = match (monotone, turning) {
        (Some(m), Some(t)) if t.1 > m.1 * (1.0 + p.non_monotonic_gain) => Some(t),
        (Some(m), _) => Some(m),
        (None, t) => t,
    };
    let ends = chosen.map_or(vec![fine.len() - 1], |(ends, _)| ends);
    let upper: Vec<f64> = ends.iter().map(|&e| fine_upper[e]).collect();
    let labels = upper
        .iter()
        .enumerate()
        .map(|(i, u)| match i {
            0 if upper.len() == 1 => "all".to_string(),
            0 => format!("<= {}", fmt(*u)),
            _ if *u == f64::MAX => format!("> {}", fmt(upper[i - 1])),
            _ => format!("({}, {}]", fmt(upper[i - 1]), fmt(*u)),
        })
        .collect();
    (BinRule::Numeric { upper }, labels)
}

fn fmt(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn categorical_rule(
    values: &[f64],
    y: &[u8],
    levels: &[String],
    tb: usize,
    tg: usize,
    min_rows: usize,
    p: &ScorecardParams,
) -> (BinRule, Vec<String>) {
    let mut counts = vec![(0usize, 0usize); levels.len()];
    for (x, &t) in values.iter().zip(y).filter(|(x, _)| !x.is_nan()) {
        counts[*x as usize].0 += 1;
        counts[*x as usize].1 += usize::from(t);
    }
    let units = category_units(&counts, min_rows);
    if units.is_empty() {
        return (
            BinRule::Categorical {
                bin_of_code: Vec::new(),
            },
            Vec::new(),
        );
    }
    let unit_counts: Vec<(usize, usize)> = units
        .iter()
        .map(|u| {
            u.iter()
                .fold((0, 0), |a, &c| (a.0 + counts[c].0, a.1 + counts[c].1))
        })
        .collect();
    // Order units by smoothed bad rate so that merging neighbours groups similar risk.
    let prior = tb as f64 / (tb + tg) as f64;
    let rate =
        |u: usize| (unit_counts[u].1 as f64 + prior * 10.0) / (unit_counts[u].0 as f64 + 10.0);
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by(|&a, &b| rate(a).total_cmp(&rate(b)));
    // Many units are first pooled into about `fine_bins` runs, bounding the cubic search.
    let run_ends = level_runs(&order, &unit_counts, p.fine_bins);
    let mut fine: Counts = Vec::with_capacity(run_ends.len());
    let mut first = 0;
    for &end in &run_ends {
        fine.push(order[first..=end].iter().fold((0, 0), |a, &u| {
            (a.0 + unit_counts[u].0, a.1 + unit_counts[u].1)
        }));
        first = end + 1;
    }
    let ends: Vec<usize> = optimal_groups(&fine, tb, tg, min_rows, p.max_bins, Trend::Ascending)
        .map_or(vec![fine.len() - 1], |(ends, _)| ends)
        .into_iter()
        .map(|e| run_ends[e])
        .collect();
    let mut bin_of_code = vec![u16::MAX; levels.len()];
    let mut labels = Vec::new();
    let mut start = 0;
    for (b, &end) in ends.iter().enumerate() {
        let codes: Vec<usize> = order[start..=end]
            .iter()
            .flat_map(|&u| units[u].iter().copied())
            .collect();
        codes.iter().for_each(|&c| bin_of_code[c] = b as u16);
        labels.push(group_label(&codes, levels));
        start = end + 1;
    }
    // Codes never seen in training are unseen categories: send them to the missing bin.
    let missing = labels.len() as u16;
    bin_of_code
        .iter_mut()
        .filter(|b| **b == u16::MAX)
        .for_each(|b| *b = missing);
    (BinRule::Categorical { bin_of_code }, labels)
}

/// Seen levels as units to order by bad rate: each level alone, except that levels too rare
/// for their bad rate to mean anything (under a fifth of the minimum bin, at least 10 rows)
/// are pooled into one unit. Without this an id-like column would sort its singletons by
/// their own labels and look perfectly predictive.
fn category_units(counts: &[(usize, usize)], min_rows: usize) -> Vec<Vec<usize>> {
    let rare_below = (min_rows / 5).max(10);
    let mut units: Vec<Vec<usize>> = Vec::new();
    let mut rare: Vec<usize> = Vec::new();
    for (c, &(n, _)) in counts.iter().enumerate().filter(|(_, n)| n.0 > 0) {
        if n < rare_below {
            rare.push(c);
        } else {
            units.push(vec![c]);
        }
    }
    if !rare.is_empty() {
        units.push(rare);
    }
    units
}

fn group_label(codes: &[usize], levels: &[String]) -> String {
    let names: Vec<&str> = codes.iter().take(8).map(|&c| levels[c].as_str()).collect();
    if codes.len() > 8 {
        format!("{} | … ({} levels)", names.join(" | "), codes.len())
    } else {
        names.join(" | ")
    }
}

/// Last index (into `order`) of each run of consecutive levels; one run per level unless
/// there are more than twice `fine_bins` levels, then runs of about equal row count.
fn level_runs(order: &[usize], counts: &[(usize, usize)], fine_bins: usize) -> Vec<usize> {
    if order.len() <= 2 * fine_bins {
        return (0..order.len()).collect();
    }
    let total: usize = order.iter().map(|&c| counts[c].0).sum();
    let target = total.div_ceil(fine_bins);
    let mut ends = Vec::new();
    let mut filled = 0;
    for (i, &c) in order.iter().enumerate() {
        filled += counts[c].0;
        if filled >= target || i + 1 == order.len() {
            ends.push(i);
            filled = 0;
        }
    }
    ends
}

/// L2-regularised logistic regression by Newton's method; `x` is row-major `n x k`.
/// Returns `[intercept, w1..wk]`; the intercept is not penalised.
pub fn logistic(x: &[f64], y: &[u8], k: usize, l2: f64) -> Vec<f64> {
    let n = y.len();
    assert_eq!(x.len(), n * k);
    let d = k + 1;
    let mut w = vec![0.0; d];
    for _ in 0..50 {
        let mut grad = vec![0.0; d];
        let mut hess = vec![0.0; d * d];
        for i in 0..n {
            let row = &x[i * k..(i + 1) * k];
            let z = w[0] + row.iter().zip(&w[1..]).map(|(a, b)| a * b).sum::<f64>();
            let q = crate::forest::sigmoid(z);
            let (r, s) = (q - f64::from(y[i]), (q * (1.0 - q)).max(1e-12));
            for a in 0..d {
                let xa = if a == 0 { 1.0 } else { row[a - 1] };
                grad[a] += r * xa;
                for b in 0..=a {
                    let xb = if b == 0 { 1.0 } else { row[b - 1] };
                    hess[a * d + b] += s * xa * xb;
                }
            }
        }
        for a in 0..d {
            for b in 0..a {
                hess[b * d + a] = hess[a * d + b];
            }
            if a > 0 {
                grad[a] += l2 * w[a];
                hess[a * d + a] += l2;
            }
        }
        let step = solve(&mut hess, &mut grad, d);
        let size: f64 = step.iter().map(|s| s.abs()).sum();
        w.iter_mut().zip(&step).for_each(|(wi, si)| *wi -= si);
        if size < 1e-10 {
            break;
        }
    }
    w
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting (small dense systems).
fn solve(a: &mut [f64], b: &mut [f64], d: usize) -> Vec<f64> {
    for c in 0..d {
        let piv = (c..d)
            .max_by(|&i, &j| a[i * d + c].abs().total_cmp(&a[j * d + c].abs()))
            .expect("d > 0");
        if piv != c {
            for j in 0..d {
                a.swap(c * d + j, piv * d + j);
            }
            b.swap(c, piv);
        }
        let p = a[c * d + c];
        if p.abs() < 1e-300 {
            continue;
        }
        for i in c + 1..d {
            let f = a[i * d + c] / p;
            for j in c..d {
                a[i * d + j] -= f * a[c * d + j];
            }
            b[i] -= f * b[c];
        }
    }
    let mut x = vec![0.0; d];
    for c in (0..d).rev() {
        let s: f64 = (c + 1..d).map(|j| a[c * d + j] * x[j]).sum();
        let p = a[c * d + c];
        x[c] = if p.abs() < 1e-300 {
            0.0
        } else {
            (b[c] - s) / p
        };
    }
    x
}

fn loglik(x: &[f64], y: &[u8], k: usize, w: &[f64]) -> f64 {
    y.iter()
        .enumerate()
        .map(|(i, &t)| {
            let z = w[0]
                + x[i * k..(i + 1) * k]
                    .iter()
                    .zip(&w[1..])
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
            let q = crate::forest::sigmoid(z).clamp(1e-15, 1.0 - 1e-15);
            if t == 1 {
                q.ln()
            } else {
                (1.0 - q).ln()
            }
        })
        .sum()
}

/// Row-major WoE matrix of the chosen binnings.
fn woe_matrix(data: &Dataset, rows: &[usize], binnings: &[&FeatureBinning]) -> Vec<f64> {
    let mut x = Vec::with_capacity(rows.len() * binnings.len());
    for &r in rows {
        for b in binnings {
            x.push(b.bins[b.bin_of(data.value(r, b.feature))].woe);
        }
    }
    x
}

/// Why a feature is in or out of the scorecard, for the IV table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Selection {
    pub name: String,
    pub iv: f64,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoredFeature {
    pub binning: FeatureBinning,
    pub coefficient: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scorecard {
    pub intercept: f64,
    /// Points every applicant starts with: offset minus the intercept's share.
    pub base_points: f64,
    pub features: Vec<ScoredFeature>,
    pub selection: Vec<Selection>,
    pub params: ScorecardParams,
}

impl Scorecard {
    /// Every feature reads an existing input and every bin rule lands on an existing bin.
    pub fn validate(&self, n_features: usize) -> Result<(), String> {
        for f in &self.features {
            let b = &f.binning;
            let name = &b.name;
            if b.feature >= n_features {
                return Err(format!(
                    "scorecard feature `{name}` reads input {} of {n_features}",
                    b.feature
                ));
            }
            if b.bins.is_empty() {
                return Err(format!("scorecard feature `{name}` has no bins"));
            }
            let ok = match &b.rule {
                BinRule::Numeric { upper } => upper.len() < b.bins.len(),
                BinRule::Categorical { bin_of_code } => {
                    bin_of_code.iter().all(|&c| (c as usize) < b.bins.len())
                }
            };
            if !ok {
                return Err(format!(
                    "scorecard feature `{name}`: bin rule points past its bins"
                ));
            }
        }
        Ok(())
    }

    /// (probability of bad, score) for a row; higher scores are safer.
    #[inline]
    pub fn predict(&self, row: &[f64]) -> (f64, f64) {
        let mut z = self.intercept;
        let mut score = self.base_points;
        for f in &self.features {
            let bin = &f.binning.bins[f.binning.bin_of(row[f.binning.feature])];
            z += f.coefficient * bin.woe;
            score += bin.points;
        }
        (crate::forest::sigmoid(z), score)
    }
}

/// Trains a scorecard on `rows`.
pub fn train(data: &Dataset, y_all: &[u8], rows: &[usize], p: &ScorecardParams) -> Scorecard {
    let y: Vec<u8> = rows.iter().map(|&r| y_all[r]).collect();
    let binnings: Vec<FeatureBinning> = (0..data.n_features())
        .map(|f| bin_feature(data, f, rows, &y, p))
        .collect();
    let mut selection: Vec<Selection> = binnings
        .iter()
        .map(|b| Selection {
            name: b.name.clone(),
            iv: b.iv,
            status: String::new(),
        })
        .collect();
    let candidates = filter_candidates(data, rows, &binnings, &mut selection, p);
    let chosen = stepwise(data, rows, &y, &binnings, &candidates, p);
    for (f, s) in selection.iter_mut().enumerate() {
        if s.status.is_empty() {
            s.status = if chosen.contains(&f) {
                "selected".into()
            } else {
                "dropped: stepwise".into()
            };
        }
    }
    let picked: Vec<&FeatureBinning> = chosen.iter().map(|&f| &binnings[f]).collect();
    let x = woe_matrix(data, rows, &picked);
    let l2 = choose_l2(&x, &y, picked.len(), p);
    let w = logistic(&x, &y, picked.len(), l2);
    let mut p = p.clone();
    p.l2 = l2;
    scale(
        w,
        picked.into_iter().cloned().collect(),
        selection,
        p.clone(),
    )
}

/// Picks the L2 strength by 5-fold cross-validated logloss on the training rows with the
/// one-standard-error rule: the strongest penalty whose mean fold loss is within one standard
/// error of the best. Small samples get more shrinkage; large ones keep `p.l2`'s neighbourhood.
fn choose_l2(x: &[f64], y: &[u8], k: usize, p: &ScorecardParams) -> f64 {
    let grid = [p.l2 * 100.0, p.l2 * 10.0, p.l2, p.l2 / 10.0];
    let losses: Vec<Vec<f64>> = grid.iter().map(|&l2| fold_losses(x, y, k, l2, 5)).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (best, best_mean) = losses
        .iter()
        .enumerate()
        .map(|(i, l)| (i, mean(l)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("grid is not empty");
    let b = &losses[best];
    let sd = (b.iter().map(|v| (v - best_mean).powi(2)).sum::<f64>() / (b.len() - 1) as f64).sqrt();
    let limit = best_mean + sd / (b.len() as f64).sqrt();
    grid.iter()
        .zip(&losses)
        .find(|(_, l)| mean(l) <= limit)
        .map_or(grid[best], |(&l2, _)| l2)
}

/// Mean validation logloss of each fold (rows assigned to folds by position).
fn fold_losses(x: &[f64], y: &[u8], k: usize, l2: f64, folds: usize) -> Vec<f64> {
    (0..folds)
        .map(|fold| {
            let (mut fx, mut fy, mut vx, mut vy) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (i, &t) in y.iter().enumerate() {
                let row = &x[i * k..(i + 1) * k];
                if i % folds == fold {
                    vx.extend_from_slice(row);
                    vy.push(t);
                } else {
                    fx.extend_from_slice(row);
                    fy.push(t);
                }
            }
            let w = logistic(&fx, &fy, k, l2);
            -loglik(&vx, &vy, k, &w) / vy.len() as f64
        })
        .collect()
}

/// IV threshold, then drop the weaker of any pair of highly correlated WoE columns.
fn filter_candidates(
    data: &Dataset,
    rows: &[usize],
    binnings: &[FeatureBinning],
    selection: &mut [Selection],
    p: &ScorecardParams,
) -> Vec<usize> {
    let mut by_iv: Vec<usize> = (0..binnings.len()).collect();
    by_iv.sort_by(|&a, &b| binnings[b].iv.total_cmp(&binnings[a].iv));
    let mut kept: Vec<usize> = Vec::new();
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for f in by_iv {
        if binnings[f].iv < p.min_iv {
            selection[f].status = format!("dropped: IV < {}", p.min_iv);
            continue;
        }
        let col = woe_matrix(data, rows, &[&binnings[f]]);
        if let Some(&other) = kept
            .iter()
            .zip(&columns)
            .find(|(_, c)| correlation(c, &col).abs() > p.max_correlation)
            .map(|(k, _)| k)
        {
            selection[f].status = format!("dropped: correlated with {}", binnings[other].name);
            continue;
        }
        kept.push(f);
        columns.push(col);
    }
    kept
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    if va <= 0.0 || vb <= 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

/// Forward stepwise selection by AIC, then removal of features whose coefficient has the
/// wrong sign (a positive WoE must not lower the risk).
fn stepwise(
    data: &Dataset,
    rows: &[usize],
    y: &[u8],
    binnings: &[FeatureBinning],
    candidates: &[usize],
    p: &ScorecardParams,
) -> Vec<usize> {
    let fit = |set: &[usize]| -> (f64, Vec<f64>) {
        let picked: Vec<&FeatureBinning> = set.iter().map(|&f| &binnings[f]).collect();
        let x = woe_matrix(data, rows, &picked);
        let w = logistic(&x, y, set.len(), p.l2);
        let aic = -2.0 * loglik(&x, y, set.len(), &w) + 2.0 * (set.len() + 1) as f64;
        (aic, w)
    };
    let mut chosen: Vec<usize> = if p.stepwise {
        forward(candidates, |set| fit(set).0)
    } else {
        candidates.to_vec()
    };
    loop {
        let (_, w) = fit(&chosen);
        match (1..w.len()).find(|&i| w[i] <= 0.0) {
            Some(i) => {
                chosen.remove(i - 1);
            }
            None => return chosen,
        }
    }
}

/// Greedy forward selection: add the candidate that lowers `aic` most until none does.
fn forward(candidates: &[usize], aic: impl Fn(&[usize]) -> f64) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::new();
    let mut current = aic(&chosen);
    loop {
        let mut best: Option<(f64, usize)> = None;
        for &f in candidates.iter().filter(|f| !chosen.contains(f)) {
            let mut set = chosen.clone();
            set.push(f);
            let value = aic(&set);
            if value < current - 1e-9 && best.is_none_or(|b| value < b.0) {
                best = Some((value, f));
            }
        }
        let Some((value, f)) = best else {
            return chosen;
        };
        chosen.push(f);
        current = value;
    }
}

/// Turns log-odds weights into points: `score = offset + factor * ln(good:bad odds)`.
fn scale(
    w: Vec<f64>,
    binnings: Vec<FeatureBinning>,
    selection: Vec<Selection>,
    params: ScorecardParams,
) -> Scorecard {
    let factor = params.pdo / std::f64::consts::LN_2;
    let offset = params.base_points - factor * params.base_odds.ln();
    let mut features = Vec::new();
    for (mut binning, &coefficient) in binnings.into_iter().zip(&w[1..]) {
        for bin in &mut binning.bins {
            // `+ 0.0` turns -0.0 (zero WoE) into 0.0 for the printed table.
            bin.points = -factor * coefficient * bin.woe + 0.0;
        }
        features.push(ScoredFeature {
            binning,
            coefficient,
        });
    }
    Scorecard {
        intercept: w[0],
        base_points: offset - factor * w[0],
        features,
        selection,
        params,
    }
}

#[cfg(test)]
mod tests;
