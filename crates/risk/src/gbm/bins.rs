//! Quantised features: every feature maps to at most 255 bins (the last one holds missing
//! values), and the training rows become one byte per feature, row-major, so a histogram
//! pass reads a row's codes from one cache line.

use crate::data::{Dataset, FeatureKind};
use rayon::prelude::*;

/// Numeric bin bounds come from at most this many rows (spread evenly over the fit rows):
/// quantiles of 200,000 values are as good as those of millions and far cheaper to sort.
const BIN_SAMPLE_ROWS: usize = 200_000;

/// Per-feature binning: value bins then one missing bin.
#[derive(Debug, Clone)]
pub(super) enum Bins {
    /// Bin `b` holds values `<= upper[b]` (and above `upper[b-1]`); the last bound is `f64::MAX` (JSON has no infinity; inputs are finite).
    Numeric { upper: Vec<f64> },
    /// Bin `b` holds category code `codes[b]`; rare or unseen codes go to the missing bin.
    Categorical {
        codes: Vec<u32>,
        bin_of_code: Vec<u16>,
    },
}

impl Bins {
    pub(super) fn n_value_bins(&self) -> usize {
        match self {
            Bins::Numeric { upper } => upper.len(),
            Bins::Categorical { codes, .. } => codes.len(),
        }
    }

    fn bin(&self, x: f64) -> usize {
        let missing = self.n_value_bins();
        if x.is_nan() {
            return missing;
        }
        match self {
            Bins::Numeric { upper } => upper.partition_point(|&u| u < x),
            Bins::Categorical { bin_of_code, .. } => {
                bin_of_code.get(x as usize).map_or(missing, |&b| {
                    if b == u16::MAX {
                        missing
                    } else {
                        b as usize
                    }
                })
            }
        }
    }
}

fn numeric_bins(values: &mut Vec<f64>, max_bins: usize) -> Bins {
    values.retain(|x| !x.is_nan());
    values.sort_unstable_by(f64::total_cmp);
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for &v in values.iter() {
        match distinct.last_mut() {
            Some((last, c)) if *last == v => *c += 1,
            _ => distinct.push((v, 1)),
        }
    }
    let target = (values.len() as f64 / max_bins as f64).max(1.0);
    let mut upper = Vec::new();
    let mut filled = 0usize;
    for w in distinct.windows(2) {
        filled += w[0].1;
        if filled as f64 >= target || distinct.len() <= max_bins {
            upper.push((w[0].0 + w[1].0) / 2.0);
            filled = 0;
        }
    }
    upper.truncate(max_bins - 1);
    upper.push(f64::MAX);
    Bins::Numeric { upper }
}

fn categorical_bins(values: impl Iterator<Item = f64>, n_levels: usize, max_bins: usize) -> Bins {
    let mut counts = vec![0usize; n_levels];
    for x in values.filter(|x| !x.is_nan()) {
        counts[x as usize] += 1;
    }
    let mut order: Vec<usize> = (0..n_levels).filter(|&c| counts[c] > 0).collect();
    order.sort_by_key(|&c| std::cmp::Reverse(counts[c]));
    order.truncate(max_bins - 1);
    let mut bin_of_code = vec![u16::MAX; n_levels];
    for (b, &c) in order.iter().enumerate() {
        bin_of_code[c] = b as u16;
    }
    Bins::Categorical {
        codes: order.iter().map(|&c| c as u32).collect(),
        bin_of_code,
    }
}

/// Bin codes of the rows a booster trains and validates on, row-major.
pub(super) struct Binned {
    pub(super) n_features: usize,
    pub(super) bins: Vec<Bins>,
    /// `codes[i * n_features + f]`: bin of feature `f` in the `i`-th binned row.
    pub(super) codes: Vec<u8>,
}

impl Binned {
    /// Learns bins from the `fit` rows (categorical bins from all of them, numeric bounds
    /// from an even sample) and codes the `fit` rows then the `valid` rows, in that order.
    /// The row lists are iterators so that no index list of the size of the data is built.
    pub(super) fn build<F, V, I, J>(data: &Dataset, fit: F, valid: V, max_bins: usize) -> Binned
    where
        F: Fn() -> I + Sync,
        I: Iterator<Item = usize>,
        V: Fn() -> J,
        J: Iterator<Item = usize>,
    {
        assert!((2..=255).contains(&max_bins));
        let n_fit = fit().count();
        let step = n_fit.div_ceil(BIN_SAMPLE_ROWS).max(1);
        let bins: Vec<Bins> = data
            .schema
            .features
            .par_iter()
            .enumerate()
            .map(|(f, spec)| match &spec.kind {
                FeatureKind::Numeric => {
                    let mut column: Vec<f64> =
                        fit().step_by(step).map(|r| data.value(r, f)).collect();
                    numeric_bins(&mut column, max_bins)
                }
                FeatureKind::Categorical { levels } => {
                    categorical_bins(fit().map(|r| data.value(r, f)), levels.len(), max_bins)
                }
            })
            .collect();
        let k = data.n_features();
        let n = n_fit + valid().count();
        let mut codes = vec![0u8; n * k];
        // Row numbers in batches, each batch coded on every core.
        const BATCH: usize = 1 << 16;
        let mut rows = fit().chain(valid());
        let mut batch = Vec::with_capacity(BATCH);
        let mut at = 0;
        loop {
            batch.clear();
            batch.extend(rows.by_ref().take(BATCH));
            if batch.is_empty() {
                break;
            }
            codes[at * k..(at + batch.len()) * k]
                .par_chunks_mut(k * 1024)
                .zip(batch.par_chunks(1024))
                .for_each(|(out, rows)| {
                    for (i, &r) in rows.iter().enumerate() {
                        let row = data.row(r);
                        for (f, b) in bins.iter().enumerate() {
                            out[i * k + f] = b.bin(row[f]) as u8;
                        }
                    }
                });
            at += batch.len();
        }
        Binned {
            n_features: k,
            bins,
            codes,
        }
    }

    /// The codes of the first `n_rows` rows again, feature-major: `out[f * n_rows + i]`.
    /// Partitioning a leaf reads one feature of its rows; from a column of one byte per row
    /// that stays in cache, where the row-major codes cost a cache line per row.
    pub(super) fn columns(&self, n_rows: usize) -> Vec<u8> {
        let k = self.n_features;
        assert!(n_rows * k <= self.codes.len());
        let mut out = vec![0u8; n_rows * k];
        if n_rows == 0 {
            return out;
        }
        out.par_chunks_mut(n_rows)
            .enumerate()
            .for_each(|(f, column)| {
                for (i, c) in column.iter_mut().enumerate() {
                    *c = self.codes[i * k + f];
                }
            });
        out
    }

    #[inline]
    pub(super) fn row(&self, i: u32) -> &[u8] {
        let k = self.n_features;
        &self.codes[i as usize * k..(i as usize + 1) * k]
    }
}
