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

mod binning;
mod logistic;

pub use binning::{bin_feature, Bin, BinRule, FeatureBinning};
pub use logistic::logistic;
use logistic::loglik;

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
