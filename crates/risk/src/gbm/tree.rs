//! Growing one tree leaf-wise from gradient histograms.
//!
//! Rows live in one index array; each leaf owns a contiguous range of it, and a split
//! partitions that range in place (stably, so row indices stay ascending and memory is read
//! forward). Only the smaller child's histogram is built; the larger one is the parent's minus
//! it. Histograms over many rows are built in a fixed number of chunks on the thread pool and
//! summed in chunk order, so results do not depend on the number of threads.

use super::bins::{Binned, Bins};
use super::GbmParams;
use crate::forest::{Compare, Forest, Missing, Node};
use rayon::prelude::*;

/// Histograms over fewer rows than this are built on the calling thread.
const PARALLEL_MIN_ROWS: usize = 32_768;
/// Chunks per parallel histogram: fixed, so sums are the same on any number of threads.
const HIST_CHUNKS: usize = 8;
/// Smaller histograms are split by feature instead (below this, on the calling thread):
/// in a tree of 31 leaves on a million rows, most leaves are this size.
const FEATURE_PARALLEL_MIN_ROWS: usize = 2_048;
/// Feature groups of a feature-parallel histogram.
const FEATURE_GROUPS: usize = 4;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Stat {
    pub(super) g: f64,
    pub(super) h: f64,
    pub(super) n: f64,
}

impl Stat {
    fn add(&mut self, o: Stat) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }
    fn sub(self, o: Stat) -> Stat {
        Stat {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum Rule {
    /// Value bins `<= bin` go left; the missing bin goes left when `missing_left`.
    Numeric { bin: usize, missing_left: bool },
    /// `left[b]` says whether bin `b` goes left (the missing bin never does).
    Categorical { left: Vec<bool> },
}

#[derive(Debug, Clone)]
pub(super) struct Split {
    gain: f64,
    pub(super) feature: usize,
    pub(super) rule: Rule,
}

impl Split {
    #[inline]
    pub(super) fn goes_left(&self, binned: &Binned, codes: &[u8]) -> bool {
        self.code_goes_left(binned, codes[self.feature] as usize)
    }

    #[inline]
    fn code_goes_left(&self, binned: &Binned, code: usize) -> bool {
        match &self.rule {
            Rule::Numeric { bin, missing_left } => {
                if code == binned.bins[self.feature].n_value_bins() {
                    *missing_left
                } else {
                    code <= *bin
                }
            }
            Rule::Categorical { left } => left[code],
        }
    }
}

/// A grown tree: forest nodes, the binned rule of each inner node (for updating margins
/// from bin codes) and, per leaf node, its range in the row index array.
pub(super) struct Tree {
    pub(super) nodes: Vec<Node>,
    pub(super) rules: Vec<Option<Split>>,
    pub(super) leaves: Vec<(usize, std::ops::Range<usize>)>,
}

impl Tree {
    /// The leaf value a binned row reaches.
    #[inline]
    pub(super) fn value(&self, binned: &Binned, codes: &[u8]) -> f64 {
        let mut i = 0;
        while let Some(s) = &self.rules[i] {
            let n = &self.nodes[i];
            i = if s.goes_left(binned, codes) {
                n.left
            } else {
                n.right
            } as usize;
        }
        self.nodes[i].value
    }
}

/// Read-only context for growing one tree.
pub(super) struct Grower<'a> {
    pub(super) binned: &'a Binned,
    /// The fit rows' codes feature-major ([`Binned::columns`]), for partitioning.
    pub(super) columns: &'a [u8],
    /// Gradient and hessian of every binned row.
    pub(super) gh: &'a [[f32; 2]],
    /// Features a split may use this round (all are histogrammed: row-wise passes are cheap).
    pub(super) features: Vec<usize>,
    pub(super) p: &'a GbmParams,
}

struct Leaf {
    range: std::ops::Range<usize>,
    hist: Hist,
    total: Stat,
    depth: usize,
    node: usize,
    best: Option<Split>,
}

/// Per feature, one slot per bin code (value bins, then the missing bin).
type Hist = Vec<[Stat; 256]>;

/// `a += sign * b`, slot by slot.
fn add_hist(a: &mut Hist, b: &Hist, sign: f64) {
    for (fa, fb) in a.iter_mut().zip(b) {
        for (x, y) in fa.iter_mut().zip(fb) {
            x.g += sign * y.g;
            x.h += sign * y.h;
            x.n += sign * y.n;
        }
    }
}

fn score(g: f64, h: f64, lambda: f64) -> f64 {
    g * g / (h + lambda)
}

impl Grower<'_> {
    /// Adds `rows` to the histograms of the features `first..first + hist.len()`.
    fn accumulate(&self, hist: &mut [[Stat; 256]], first: usize, rows: &[u32]) {
        for &r in rows {
            let [g, h] = self.gh[r as usize];
            let (g, h) = (f64::from(g), f64::from(h));
            let codes = &self.binned.row(r)[first..first + hist.len()];
            // A u8 code indexes a 256-slot array: no bounds check in the hottest loop.
            for (feature, &code) in hist.iter_mut().zip(codes) {
                let s = &mut feature[code as usize];
                s.g += g;
                s.h += h;
                s.n += 1.0;
            }
        }
    }

    fn histogram(&self, rows: &[u32]) -> Hist {
        let k = self.binned.n_features;
        if rows.len() < PARALLEL_MIN_ROWS {
            let mut hist = vec![[Stat::default(); 256]; k];
            if rows.len() < FEATURE_PARALLEL_MIN_ROWS {
                self.accumulate(&mut hist, 0, rows);
            } else {
                // Each thread takes some features over all rows: every slot sums its rows in
                // the same order as the serial pass, whatever the number of threads.
                let group = k.div_ceil(FEATURE_GROUPS).max(1);
                hist.par_chunks_mut(group)
                    .enumerate()
                    .for_each(|(i, part)| self.accumulate(part, i * group, rows));
            }
            return hist;
        }
        let parts: Vec<Hist> = rows
            .par_chunks(rows.len().div_ceil(HIST_CHUNKS))
            .map(|chunk| {
                let mut hist = vec![[Stat::default(); 256]; k];
                self.accumulate(&mut hist, 0, chunk);
                hist
            })
            .collect();
        let mut parts = parts.into_iter();
        let mut hist = parts.next().expect("at least one chunk");
        for part in parts {
            add_hist(&mut hist, &part, 1.0);
        }
        hist
    }

    fn total(&self, rows: &[u32]) -> Stat {
        rows.iter().fold(Stat::default(), |mut s, &r| {
            let [g, h] = self.gh[r as usize];
            s.add(Stat {
                g: f64::from(g),
                h: f64::from(h),
                n: 1.0,
            });
            s
        })
    }

    fn allowed(&self, left: Stat, right: Stat) -> bool {
        let p = self.p;
        left.n >= p.min_data_in_leaf as f64
            && right.n >= p.min_data_in_leaf as f64
            && left.h >= p.min_hessian_in_leaf
            && right.h >= p.min_hessian_in_leaf
    }

    fn best_split(&self, leaf: &Leaf) -> Option<Split> {
        if leaf.depth >= self.p.max_depth || leaf.total.n < 2.0 * self.p.min_data_in_leaf as f64 {
            return None;
        }
        let mut best: Option<Split> = None;
        for &f in &self.features {
            let candidate = match &self.binned.bins[f] {
                Bins::Numeric { .. } => self.numeric_split(leaf, f),
                Bins::Categorical { .. } => self.categorical_split(leaf, f),
            };
            if let Some(c) = candidate {
                if c.gain > self.p.min_gain && best.as_ref().is_none_or(|b| c.gain > b.gain) {
                    best = Some(c);
                }
            }
        }
        best
    }

    fn numeric_split(&self, leaf: &Leaf, f: usize) -> Option<Split> {
        let nb = self.binned.bins[f].n_value_bins();
        let hist = &leaf.hist[f][..=nb];
        let missing = hist[nb];
        let parent = score(leaf.total.g, leaf.total.h, self.p.lambda_l2);
        let mut best: Option<(f64, usize, bool)> = None;
        let mut acc = Stat::default();
        for (b, s) in hist.iter().enumerate().take(nb.saturating_sub(1)) {
            acc.add(*s);
            for missing_left in [false, true] {
                let mut left = acc;
                if missing_left {
                    left.add(missing);
                }
                let right = leaf.total.sub(left);
                if !self.allowed(left, right) || (missing.n == 0.0 && missing_left) {
                    continue;
                }
                let gain = score(left.g, left.h, self.p.lambda_l2)
                    + score(right.g, right.h, self.p.lambda_l2)
                    - parent;
                if best.is_none_or(|(g, _, _)| gain > g) {
                    // Without missing rows here, send future missing values to the bigger side.
                    let ml = if missing.n == 0.0 {
                        left.n >= right.n
                    } else {
                        missing_left
                    };
                    best = Some((gain, b, ml));
                }
            }
        }
        best.map(|(gain, bin, missing_left)| Split {
            gain,
            feature: f,
            rule: Rule::Numeric { bin, missing_left },
        })
    }

    fn categorical_split(&self, leaf: &Leaf, f: usize) -> Option<Split> {
        let nb = self.binned.bins[f].n_value_bins();
        let hist = &leaf.hist[f][..nb];
        let p = self.p;
        let mut used: Vec<usize> = (0..nb)
            .filter(|&b| hist[b].n >= p.min_data_per_group as f64)
            .collect();
        if used.len() < 2 {
            return None;
        }
        let ratio = |b: usize| hist[b].g / (hist[b].h + p.cat_smooth);
        used.sort_by(|&a, &b| ratio(a).total_cmp(&ratio(b)));
        let lambda = p.lambda_l2 + p.cat_l2;
        let parent = score(leaf.total.g, leaf.total.h, lambda);
        let mut best: Option<(f64, Vec<usize>)> = None;
        // Scan prefixes from both ends of the ratio order, as a many-vs-many split.
        for order in [used.clone(), used.iter().rev().copied().collect()] {
            let mut left = Stat::default();
            for k in 0..order.len().saturating_sub(1).min(p.max_cat_threshold) {
                left.add(hist[order[k]]);
                let right = leaf.total.sub(left);
                if !self.allowed(left, right) {
                    continue;
                }
                let gain = score(left.g, left.h, lambda) + score(right.g, right.h, lambda) - parent;
                if best.as_ref().is_none_or(|(g, _)| gain > *g) {
                    best = Some((gain, order[..=k].to_vec()));
                }
            }
        }
        best.map(|(gain, bins)| {
            let mut left = vec![false; nb + 1];
            bins.iter().for_each(|&b| left[b] = true);
            Split {
                gain,
                feature: f,
                rule: Rule::Categorical { left },
            }
        })
    }

    /// The split as a forest node with real-valued thresholds and category codes.
    fn node(&self, split: &Split, forest: &mut Forest, left: usize, right: usize) -> Node {
        let base = Node {
            feature: split.feature as u32,
            left: left as u32,
            right: right as u32,
            ..Node::leaf(0.0)
        };
        match (&split.rule, &self.binned.bins[split.feature]) {
            (Rule::Numeric { bin, missing_left }, Bins::Numeric { upper }) => Node {
                value: upper[*bin],
                default_left: *missing_left,
                compare: Compare::LessEq,
                missing: Missing::Nan,
                ..base
            },
            (Rule::Categorical { left }, Bins::Categorical { codes, .. }) => {
                let cats: Vec<u32> = codes
                    .iter()
                    .enumerate()
                    .filter(|(b, _)| left[*b])
                    .map(|(_, &c)| c)
                    .collect();
                let (cat_begin, cat_len) = forest.push_categories(&cats);
                Node {
                    categorical: true,
                    cat_begin,
                    cat_len,
                    default_left: false,
                    missing: Missing::Nan,
                    ..base
                }
            }
            _ => unreachable!("split rule matches its feature's binning"),
        }
    }

    /// Stable in-place partition of `rows` by `split`; returns the number going left.
    fn partition(&self, rows: &mut [u32], split: &Split, scratch: &mut Vec<u32>) -> usize {
        // One lookup per row instead of matching on the rule.
        let mut left = [false; 256];
        let n_codes = self.binned.bins[split.feature].n_value_bins() + 1;
        for (code, l) in left.iter_mut().enumerate().take(n_codes) {
            *l = split.code_goes_left(self.binned, code);
        }
        let f = split.feature;
        let n = self.gh.len();
        let column = &self.columns[f * n..(f + 1) * n];
        partition_rows(rows, |r| left[column[r as usize] as usize], scratch)
    }
}

/// Stable in-place partition of `rows`: those for which `goes_left` holds first, in their
/// order, then the others; returns the number going left. Large ranges are split in fixed
/// chunks on the thread pool, each partitioned in place, and gathered (left parts in chunk
/// order, then right parts): the same order as one serial pass.
fn partition_rows(
    rows: &mut [u32],
    goes_left: impl Fn(u32) -> bool + Copy + Send + Sync,
    scratch: &mut Vec<u32>,
) -> usize {
    if rows.len() < PARALLEL_MIN_ROWS {
        return partition_serial(rows, goes_left, scratch);
    }
    let chunk = rows.len().div_ceil(HIST_CHUNKS);
    let n_lefts: Vec<usize> = rows
        .par_chunks_mut(chunk)
        .map(|part| partition_serial(part, goes_left, &mut Vec::new()))
        .collect();
    scratch.clear();
    scratch.extend_from_slice(rows);
    let mut at = 0;
    for (part, &n) in scratch.chunks(chunk).zip(&n_lefts) {
        rows[at..at + n].copy_from_slice(&part[..n]);
        at += n;
    }
    let n_left = at;
    for (part, &n) in scratch.chunks(chunk).zip(&n_lefts) {
        rows[at..at + part.len() - n].copy_from_slice(&part[n..]);
        at += part.len() - n;
    }
    debug_assert_eq!(at, rows.len());
    n_left
}

/// Stable in-place partition: rows for which `goes_left` holds first, the others after.
fn partition_serial(
    rows: &mut [u32],
    goes_left: impl Fn(u32) -> bool,
    scratch: &mut Vec<u32>,
) -> usize {
    // Without branches: each row is written to both sides and only one cursor moves. Which
    // way a row goes is close to random, so a branch here was mispredicted half the time.
    scratch.clear();
    scratch.resize(rows.len(), 0);
    let (mut n_left, mut n_right) = (0, 0);
    for i in 0..rows.len() {
        let r = rows[i];
        let left = goes_left(r);
        rows[n_left] = r;
        scratch[n_right] = r;
        n_left += usize::from(left);
        n_right += usize::from(!left);
    }
    rows[n_left..].copy_from_slice(&scratch[..n_right]);
    n_left
}

/// Per-feature split statistics of one tree, added to the booster's importance.
pub(super) struct Importance<'a> {
    pub(super) gains: &'a mut [f64],
    pub(super) splits: &'a mut [u32],
}

/// Grows one tree over `rows` (binned row indices; reordered in place so each leaf's rows are
/// one range of it).
pub(super) fn grow_tree(
    g: &Grower,
    rows: &mut [u32],
    forest: &mut Forest,
    imp: &mut Importance,
) -> Tree {
    let mut root = Leaf {
        hist: g.histogram(rows),
        total: g.total(rows),
        range: 0..rows.len(),
        depth: 0,
        node: 0,
        best: None,
    };
    root.best = g.best_split(&root);
    let mut nodes = vec![Node::leaf(0.0)];
    let mut rules: Vec<Option<Split>> = vec![None];
    let mut leaves = vec![root];
    let mut scratch = Vec::new();
    while leaves.len() < g.p.max_leaves {
        let pick = leaves
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.best.as_ref().map(|s| (i, s.gain)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let Some((i, _)) = pick else { break };
        let leaf = leaves.swap_remove(i);
        let split = leaf
            .best
            .clone()
            .expect("only leaves with a split are picked");
        let (li, ri) = (nodes.len(), nodes.len() + 1);
        nodes.push(Node::leaf(0.0));
        nodes.push(Node::leaf(0.0));
        rules.extend([None, None]);
        nodes[leaf.node] = g.node(&split, forest, li, ri);
        imp.gains[split.feature] += split.gain;
        imp.splits[split.feature] += 1;
        let n_left = g.partition(&mut rows[leaf.range.clone()], &split, &mut scratch);
        rules[leaf.node] = Some(split);
        let (a, b) = children(g, rows, leaf, n_left, (li, ri));
        leaves.push(a);
        leaves.push(b);
    }
    let mut out = Vec::with_capacity(leaves.len());
    for leaf in leaves {
        let value = -leaf.total.g / (leaf.total.h + g.p.lambda_l2) * g.p.learning_rate;
        nodes[leaf.node] = Node::leaf(value);
        out.push((leaf.node, leaf.range));
    }
    Tree {
        nodes,
        rules,
        leaves: out,
    }
}

/// The two children of a split leaf whose rows are already partitioned (left first).
fn children(
    g: &Grower,
    rows: &[u32],
    leaf: Leaf,
    n_left: usize,
    (li, ri): (usize, usize),
) -> (Leaf, Leaf) {
    let mid = leaf.range.start + n_left;
    let (left_range, right_range) = (leaf.range.start..mid, mid..leaf.range.end);
    // Build the smaller child's histogram; the sibling is the parent minus it.
    let left_small = left_range.len() <= right_range.len();
    let small = if left_small {
        &rows[left_range.clone()]
    } else {
        &rows[right_range.clone()]
    };
    let small_hist = g.histogram(small);
    let small_total = g.total(small);
    let mut big_hist = leaf.hist;
    add_hist(&mut big_hist, &small_hist, -1.0);
    let big_total = leaf.total.sub(small_total);
    let ((lh, lt), (rh, rt)) = if left_small {
        ((small_hist, small_total), (big_hist, big_total))
    } else {
        ((big_hist, big_total), (small_hist, small_total))
    };
    let depth = leaf.depth + 1;
    let mut l = Leaf {
        range: left_range,
        hist: lh,
        total: lt,
        depth,
        node: li,
        best: None,
    };
    let mut r = Leaf {
        range: right_range,
        hist: rh,
        total: rt,
        depth,
        node: ri,
        best: None,
    };
    l.best = g.best_split(&l);
    r.best = g.best_split(&r);
    (l, r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn chunked_partition_keeps_the_serial_order() {
        let mut rng = Rng::new(3);
        for n in [0, 1, 1000, PARALLEL_MIN_ROWS, 3 * PARALLEL_MIN_ROWS + 17] {
            let rows: Vec<u32> = (0..n as u32).map(|i| i * 3 + 1).collect();
            let keys: Vec<bool> = (0..n * 3 + 2).map(|_| rng.next_f64() < 0.3).collect();
            let goes_left = |r: u32| keys[r as usize];
            let expected: Vec<u32> = rows
                .iter()
                .copied()
                .filter(|&r| goes_left(r))
                .chain(rows.iter().copied().filter(|&r| !goes_left(r)))
                .collect();
            let n_left_expected = rows.iter().filter(|&&r| goes_left(r)).count();
            let mut got = rows.clone();
            let n_left = partition_rows(&mut got, goes_left, &mut Vec::new());
            assert_eq!((n_left, &got), (n_left_expected, &expected), "{n} rows");
        }
    }
}
