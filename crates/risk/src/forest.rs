//! Flattened tree ensembles: one node array for every tree, one bitset pool for categorical
//! splits. Native, LightGBM and XGBoost models all compile to this form, so there is a single
//! inference loop and it allocates nothing per row.

use serde::{Deserialize, Serialize};

/// Marks a leaf in `Node::feature`.
pub const LEAF: u32 = u32::MAX;

/// How a split compares a present numeric value with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// `x <= threshold` goes left (native and LightGBM).
    LessEq,
    /// `x < threshold` goes left, compared in `f32` (XGBoost).
    LessF32,
}

/// Which values a split routes by `default_left` instead of by the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// NaN takes the default direction.
    Nan,
    /// NaN is read as 0 and compared normally (LightGBM `missing_type = None`).
    NanAsZero,
    /// NaN and zero take the default direction (LightGBM `missing_type = Zero`).
    Zero,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Feature index, or [`LEAF`].
    pub feature: u32,
    pub left: u32,
    pub right: u32,
    /// Threshold for numeric splits; the leaf value for leaves.
    pub value: f64,
    pub default_left: bool,
    pub compare: Compare,
    pub missing: Missing,
    /// Categorical split: codes whose bit is set in `cat_words[cat_begin..cat_begin+cat_len]` go
    /// left; other codes, negatives and codes past the set go right; NaN follows `missing`.
    pub categorical: bool,
    pub cat_begin: u32,
    pub cat_len: u32,
}

impl Node {
    pub fn leaf(value: f64) -> Node {
        Node {
            feature: LEAF,
            left: 0,
            right: 0,
            value,
            default_left: false,
            compare: Compare::LessEq,
            missing: Missing::Nan,
            categorical: false,
            cat_begin: 0,
            cat_len: 0,
        }
    }
}

/// How the raw sum of leaves becomes a probability of bad.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Link {
    /// `p = 1 / (1 + exp(-scale * raw))`.
    Sigmoid { scale: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    pub nodes: Vec<Node>,
    pub roots: Vec<u32>,
    pub cat_words: Vec<u32>,
    /// Added to the sum of leaves before the link (the prior log-odds).
    pub base_margin: f64,
    pub link: Link,
}

impl Forest {
    pub fn new(base_margin: f64) -> Forest {
        Forest {
            nodes: Vec::new(),
            roots: Vec::new(),
            cat_words: Vec::new(),
            base_margin,
            link: Link::Sigmoid { scale: 1.0 },
        }
    }

    /// Appends a tree whose child indices are relative to its first node.
    pub fn push_tree(&mut self, mut nodes: Vec<Node>) {
        assert!(!nodes.is_empty(), "a tree has at least a leaf");
        let offset = self.nodes.len() as u32;
        for n in nodes.iter_mut().filter(|n| n.feature != LEAF) {
            n.left += offset;
            n.right += offset;
        }
        self.roots.push(offset);
        self.nodes.extend(nodes);
    }

    /// Stores a category set as a bitset and returns `(begin, len)` for the node.
    pub fn push_categories(&mut self, codes: &[u32]) -> (u32, u32) {
        let words = codes.iter().map(|&c| c / 32 + 1).max().unwrap_or(0) as usize;
        let begin = self.cat_words.len();
        self.cat_words.resize(begin + words, 0);
        for &c in codes {
            self.cat_words[begin + (c / 32) as usize] |= 1 << (c % 32);
        }
        (begin as u32, words as u32)
    }

    /// Appends raw bitset words (LightGBM's `cat_threshold` layout) and returns `(begin, len)`.
    pub fn push_category_words(&mut self, words: &[u32]) -> (u32, u32) {
        let begin = self.cat_words.len() as u32;
        self.cat_words.extend_from_slice(words);
        (begin, words.len() as u32)
    }

    /// Checks what inference relies on, so a corrupt model file is an error and not a panic
    /// or an endless loop: indices in range and every tree a proper tree (no node reached twice).
    pub fn validate(&self, n_features: usize) -> Result<(), String> {
        let mut seen = vec![false; self.nodes.len()];
        for (t, &root) in self.roots.iter().enumerate() {
            let mut stack = vec![root as usize];
            while let Some(i) = stack.pop() {
                let node = self
                    .nodes
                    .get(i)
                    .ok_or_else(|| format!("tree {t}: node {i} does not exist"))?;
                if std::mem::replace(&mut seen[i], true) {
                    return Err(format!("tree {t}: node {i} is reached twice"));
                }
                if node.feature == LEAF {
                    if !node.value.is_finite() {
                        return Err(format!("tree {t}: leaf {i} has value {}", node.value));
                    }
                    continue;
                }
                if node.feature as usize >= n_features {
                    return Err(format!(
                        "tree {t}: node {i} splits on feature {} of {n_features}",
                        node.feature
                    ));
                }
                if node.categorical
                    && (node.cat_begin + node.cat_len) as usize > self.cat_words.len()
                {
                    return Err(format!("tree {t}: node {i} category set is out of range"));
                }
                stack.extend([node.left as usize, node.right as usize]);
            }
        }
        Ok(())
    }

    /// Sum of one tree's leaf for a row.
    #[inline]
    pub fn tree_value(&self, root: u32, row: &[f64]) -> f64 {
        let mut i = root as usize;
        loop {
            let n = &self.nodes[i];
            if n.feature == LEAF {
                return n.value;
            }
            i = if self.goes_left(n, row[n.feature as usize]) {
                n.left
            } else {
                n.right
            } as usize;
        }
    }

    #[inline]
    pub fn goes_left(&self, n: &Node, x: f64) -> bool {
        if n.categorical {
            return self.category_left(n, x);
        }
        let x = match n.missing {
            Missing::NanAsZero if x.is_nan() => 0.0,
            Missing::Nan if x.is_nan() => return n.default_left,
            Missing::Zero if x.is_nan() || x.abs() <= 1e-35 => return n.default_left,
            _ => x,
        };
        match n.compare {
            Compare::LessEq => x <= n.value,
            Compare::LessF32 => (x as f32) < (n.value as f32),
        }
    }

    #[inline]
    fn category_left(&self, n: &Node, x: f64) -> bool {
        // Missing: the default direction, except that LightGBM reads NaN as category 0 unless
        // NaN is its own missing type.
        let x = match (x.is_nan(), n.missing) {
            (true, Missing::Nan) => return n.default_left,
            (true, _) => 0.0,
            (false, _) => x,
        };
        // Negative codes are invalid and go right in both libraries; truncation toward zero
        // first, so -0.5 is category 0 as in their integer casts.
        if x.trunc() < 0.0 {
            return false;
        }
        let code = x as u64;
        let word = (code / 32) as usize;
        if word >= n.cat_len as usize {
            return false;
        }
        self.cat_words[n.cat_begin as usize + word] >> (code % 32) & 1 == 1
    }

    /// Raw margin (log-odds of bad) for a row.
    #[inline]
    pub fn margin(&self, row: &[f64]) -> f64 {
        // Accumulate from the base in tree order: the batch path adds in the same order, so
        // both give bit-identical margins.
        self.roots
            .iter()
            .fold(self.base_margin, |m, &r| m + self.tree_value(r, row))
    }

    #[inline]
    pub fn predict(&self, row: &[f64]) -> f64 {
        let Link::Sigmoid { scale } = self.link;
        sigmoid(scale * self.margin(row))
    }

    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }
}

/// Compiled form for batch inference: 16-byte nodes laid out breadth-first per tree with the
/// two children of a split adjacent (right = left + 1), so the next index is computed without
/// a branch on the direction. Flags live in the high bits of the feature word. Leaves point
/// to themselves with a threshold of +inf, so a block of rows can take exactly `depth` steps
/// down a tree in lock-step: independent rows overlap in the CPU instead of waiting on each
/// other's branches. Plain numeric splits take the fast path (NaN goes to a precomputed
/// side); categorical, XGBoost-`f32` and zero-as-missing splits fall back to the source node.
pub struct Compiled<'a> {
    forest: &'a Forest,
    nodes: Vec<CNode>,
    /// Leaf value per compiled node (0 for splits).
    leaf: Vec<f64>,
    /// Source node index of each compiled node, for the slow path.
    source: Vec<u32>,
    /// (root, depth) per tree.
    trees: Vec<(u32, u32)>,
}

#[derive(Clone, Copy)]
struct CNode {
    value: f64,
    feature: u32,
    left: u32,
}

const C_LEAF: u32 = 1 << 31;
const C_NAN_LEFT: u32 = 1 << 30;
const C_SLOW: u32 = 1 << 29;
const C_FEATURE: u32 = C_SLOW - 1;

/// Rows scored together, tree by tree, so each tree's nodes stay in cache across the block.
pub const BLOCK_ROWS: usize = 64;

impl Forest {
    pub fn compile(&self) -> Compiled<'_> {
        let n = self.nodes.len();
        let mut c = Compiled {
            forest: self,
            nodes: Vec::with_capacity(n),
            leaf: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
            trees: Vec::with_capacity(self.roots.len()),
        };
        for &root in &self.roots {
            let tree = c.push_tree(root);
            c.trees.push(tree);
        }
        c
    }
}

impl Compiled<'_> {
    /// Appends one tree breadth-first; returns its (root, depth).
    fn push_tree(&mut self, root: u32) -> (u32, u32) {
        let start = self.nodes.len();
        let mut depth_of = vec![0u32];
        self.source.push(root);
        self.nodes.push(CNode {
            value: 0.0,
            feature: 0,
            left: 0,
        });
        self.leaf.push(0.0);
        let mut next = start;
        while next < self.nodes.len() {
            let n = &self.forest.nodes[self.source[next] as usize];
            if n.feature == LEAF {
                let me = next as u32;
                self.nodes[next] = CNode {
                    value: f64::INFINITY,
                    feature: C_LEAF | C_NAN_LEFT,
                    left: me,
                };
                self.leaf[next] = n.value;
            } else {
                let left = self.nodes.len() as u32;
                let (value, feature) = fast_split(n);
                self.nodes[next] = CNode {
                    value,
                    feature,
                    left,
                };
                for child in [n.left, n.right] {
                    self.nodes.push(CNode {
                        value: 0.0,
                        feature: 0,
                        left: 0,
                    });
                    self.leaf.push(0.0);
                    self.source.push(child);
                    depth_of.push(depth_of[next - start] + 1);
                }
            }
            next += 1;
        }
        (start as u32, depth_of.into_iter().max().unwrap_or(0))
    }

    /// One step down from node `i` for value `x` (a leaf stays where it is).
    #[inline(always)]
    fn step(&self, i: usize, row: &[f64]) -> usize {
        let n = self.nodes[i];
        let x = row[(n.feature & C_FEATURE) as usize];
        let left = if n.feature & C_SLOW == 0 {
            (x <= n.value) | (x.is_nan() & (n.feature & C_NAN_LEFT != 0))
        } else {
            self.forest
                .goes_left(&self.forest.nodes[self.source[i] as usize], x)
        };
        (n.left + u32::from(!left)) as usize
    }

    #[inline]
    fn tree_value(&self, root: u32, row: &[f64]) -> f64 {
        let mut i = root as usize;
        while self.nodes[i].feature & C_LEAF == 0 {
            i = self.step(i, row);
        }
        self.leaf[i]
    }

    #[inline]
    pub fn margin(&self, row: &[f64]) -> f64 {
        self.trees
            .iter()
            .fold(self.forest.base_margin, |m, &(r, _)| {
                m + self.tree_value(r, row)
            })
    }

    #[inline]
    pub fn predict(&self, row: &[f64]) -> f64 {
        let Link::Sigmoid { scale } = self.forest.link;
        sigmoid(scale * self.margin(row))
    }

    /// Probabilities for up to [`BLOCK_ROWS`] rows (row-major, `k` features each) into `out`.
    pub fn predict_block(&self, rows: &[f64], k: usize, out: &mut [f64]) {
        let n = out.len();
        assert!(n <= BLOCK_ROWS && rows.len() == n * k);
        let mut margin = [self.forest.base_margin; BLOCK_ROWS];
        let mut at = [0usize; BLOCK_ROWS];
        for &(root, depth) in &self.trees {
            at[..n].fill(root as usize);
            for _ in 0..depth {
                for (i, row) in at[..n].iter_mut().zip(rows.chunks_exact(k)) {
                    *i = self.step(*i, row);
                }
            }
            for (m, &i) in margin[..n].iter_mut().zip(&at[..n]) {
                *m += self.leaf[i];
            }
        }
        let Link::Sigmoid { scale } = self.forest.link;
        for (o, m) in out.iter_mut().zip(margin) {
            *o = sigmoid(scale * m);
        }
    }
}

/// Fast-path flags of a split, or `C_SLOW` when only the source node can route it.
/// The compiled threshold and flag word of a split: `x <= value` must route exactly as the
/// source node does, or the node is marked slow and routed by the source node.
fn fast_split(n: &Node) -> (f64, u32) {
    assert!(n.feature < C_SLOW, "feature index fits below the flag bits");
    let nan_left = match n.missing {
        Missing::Nan => n.default_left,
        // NaN is read as 0 and compared like any value.
        Missing::NanAsZero => 0.0 <= n.value,
        Missing::Zero => false,
    };
    let threshold = match n.compare {
        Compare::LessEq => Some(n.value),
        Compare::LessF32 => f32_less_as_f64_le(n.value as f32),
    };
    let slow = n.categorical || n.missing == Missing::Zero || threshold.is_none();
    let flags = n.feature | if nan_left { C_NAN_LEFT } else { 0 } | if slow { C_SLOW } else { 0 };
    (threshold.unwrap_or(n.value), flags)
}

/// For an `f32` threshold `t`, the `f64` bound `b` with `(x as f32) < t` exactly when
/// `x <= b`, for every non-NaN `x`. The cast rounds to nearest, ties to even, so the cut is
/// the midpoint between `t` and the `f32` below it, taken or not by the parity of that
/// neighbour. `None` for infinite thresholds (kept on the slow path).
pub fn f32_less_as_f64_le(t: f32) -> Option<f64> {
    if !t.is_finite() {
        return None;
    }
    let below = f32_below(t);
    if !below.is_finite() {
        return None;
    }
    let mid = (f64::from(below) + f64::from(t)) / 2.0;
    // A tie at `mid` rounds to whichever neighbour has an even significand.
    let tie_goes_below = below.to_bits() & 1 == 0;
    Some(if tie_goes_below { mid } else { f64_below(mid) })
}

/// The largest `f32` smaller than `t` (finite, non-NaN `t`).
fn f32_below(t: f32) -> f32 {
    if t == 0.0 {
        -f32::from_bits(1)
    } else if t > 0.0 {
        f32::from_bits(t.to_bits() - 1)
    } else {
        f32::from_bits(t.to_bits() + 1)
    }
}

/// The largest `f64` smaller than `x` (finite, non-NaN `x`).
fn f64_below(x: f64) -> f64 {
    if x == 0.0 {
        -f64::from_bits(1)
    } else if x > 0.0 {
        f64::from_bits(x.to_bits() - 1)
    } else {
        f64::from_bits(x.to_bits() + 1)
    }
}

#[inline]
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(feature: u32, value: f64, left: u32, right: u32) -> Node {
        Node {
            feature,
            left,
            right,
            value,
            ..Node::leaf(0.0)
        }
    }

    #[test]
    fn f32_comparisons_become_exact_f64_bounds() {
        let mut thresholds: Vec<f32> = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            3.5,
            1e-40,
            -1e-40,
            1e30,
            f32::MAX,
            f32::MIN_POSITIVE,
        ];
        let mut state = 99u64;
        for _ in 0..2000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            thresholds.push(f32::from_bits((state >> 32) as u32));
        }
        for t in thresholds.into_iter().filter(|t| t.is_finite()) {
            let Some(b) = f32_less_as_f64_le(t) else {
                continue;
            };
            let below = f32_below(t);
            let mid = (f64::from(below) + f64::from(t)) / 2.0;
            for x in [
                mid,
                f64_below(mid),
                -f64_below(-mid),
                f64::from(t),
                f64::from(below),
                b,
                f64_below(b),
            ] {
                assert_eq!((x as f32) < t, x <= b, "t {t:e} x {x:e}");
            }
        }
    }

    #[test]
    fn routes_numeric_missing_and_categorical() {
        let mut f = Forest::new(0.0);
        f.push_tree(vec![split(0, 1.5, 1, 2), Node::leaf(-1.0), Node::leaf(1.0)]);
        let (cat_begin, cat_len) = f.push_categories(&[2, 40]);
        let cat = Node {
            categorical: true,
            cat_begin,
            cat_len,
            ..split(1, 0.0, 1, 2)
        };
        f.push_tree(vec![cat, Node::leaf(10.0), Node::leaf(20.0)]);
        assert_eq!(f.margin(&[1.0, 2.0]), 9.0);
        assert_eq!(f.margin(&[2.0, 40.0]), 11.0);
        assert_eq!(f.margin(&[2.0, 3.0]), 21.0);
        assert_eq!(f.margin(&[f64::NAN, 1000.0]), 21.0);
        let c = f.compile();
        for row in [[1.0, 2.0], [2.0, 40.0], [2.0, 3.0], [f64::NAN, 1000.0]] {
            assert_eq!(c.margin(&row), f.margin(&row));
        }
        let rows = [1.0, 2.0, 2.0, 40.0];
        let mut out = [0.0; 2];
        c.predict_block(&rows, 2, &mut out);
        assert_eq!(out, [f.predict(&rows[..2]), f.predict(&rows[2..])]);
    }
}
