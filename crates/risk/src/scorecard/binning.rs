//! Optimal binning of one feature: equal-frequency fine bins (categories ordered by bad
//! rate) merged by dynamic programming to maximise information value under the share,
//! count and monotonicity constraints.

use super::*;

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
pub(super) type Counts = Vec<(usize, usize)>;

pub(super) fn woe(bads: usize, goods: usize, total_bads: usize, total_goods: usize) -> f64 {
    // +0.5 smoothing keeps empty cells finite.
    let db = (bads as f64 + 0.5) / (total_bads as f64 + 0.5);
    let dg = (goods as f64 + 0.5) / (total_goods as f64 + 0.5);
    (db / dg).ln()
}

pub(super) fn iv_term(bads: usize, goods: usize, tb: usize, tg: usize) -> f64 {
    let db = bads as f64 / tb as f64;
    let dg = goods as f64 / tg as f64;
    (db - dg) * woe(bads, goods, tb, tg)
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Trend {
    Ascending,
    Descending,
    /// Rising then falling bad rate (one turn).
    Peak,
    /// Falling then rising bad rate (one turn).
    Valley,
}

/// The phase after appending a group with bad rate `next` behind one with `prev`, or `None`
/// when the trend forbids it. Phase 0 is before the turn, 1 after it.
pub(super) fn next_phase(trend: Trend, phase: usize, prev: f64, next: f64) -> Option<usize> {
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
pub(super) fn optimal_groups(
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
pub(super) type Table4<T> = Vec<Vec<Vec<Vec<T>>>>;

/// The best complete partition (ending at fine bin `m - 1`) and its group ends.
pub(super) fn backtrack(
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
pub(super) fn fine_bounds(values: &mut [f64], fine_bins: usize) -> Vec<f64> {
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

pub(super) fn numeric_rule(
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

pub(super) fn fmt(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub(super) fn categorical_rule(
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
pub(super) fn category_units(counts: &[(usize, usize)], min_rows: usize) -> Vec<Vec<usize>> {
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

pub(super) fn group_label(codes: &[usize], levels: &[String]) -> String {
    let names: Vec<&str> = codes.iter().take(8).map(|&c| levels[c].as_str()).collect();
    if codes.len() > 8 {
        format!("{} | … ({} levels)", names.join(" | "), codes.len())
    } else {
        names.join(" | ")
    }
}

/// Last index (into `order`) of each run of consecutive levels; one run per level unless
/// there are more than twice `fine_bins` levels, then runs of about equal row count.
pub(super) fn level_runs(
    order: &[usize],
    counts: &[(usize, usize)],
    fine_bins: usize,
) -> Vec<usize> {
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
