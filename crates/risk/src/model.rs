//! The model file: one serialisable value that carries its input schema and scores rows.

use crate::data::{Dataset, Schema, TargetSpec};
use crate::forest::{Compiled, Forest, BLOCK_ROWS};
use crate::gbm::{self, GbmModel, GbmOverrides};
use crate::scorecard::{self, Scorecard, ScorecardParams};
use crate::RiskError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Scorecard,
    Gbm,
}

#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Columns that are not features (ids, dates, leakage).
    pub exclude: Vec<String>,
    pub scorecard: ScorecardParams,
    /// Replaces the size-dependent boosting defaults ([`gbm::GbmParams::for_rows`]).
    pub gbm: GbmOverrides,
}

/// A trained or imported model with the schema it reads its inputs by.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Model {
    Scorecard {
        schema: Schema,
        target: TargetSpec,
        card: Scorecard,
    },
    Gbm {
        schema: Schema,
        target: TargetSpec,
        gbm: GbmModel,
    },
    /// An imported LightGBM or XGBoost model; `source` names the library.
    Imported {
        schema: Schema,
        source: String,
        forest: Forest,
    },
}

impl Model {
    pub fn train(
        kind: ModelKind,
        data: &Dataset,
        target: &TargetSpec,
        y: &[u8],
        rows: &[usize],
        options: &TrainOptions,
        progress: gbm::Progress,
    ) -> Model {
        let schema = data.schema.clone();
        let target = target.clone();
        match kind {
            ModelKind::Scorecard => {
                let mut card = scorecard::train(data, y, rows, &options.scorecard);
                // Keep only the features the card scores with, renumbered in card order, so
                // scoring files need not carry columns the card never reads.
                let used: Vec<usize> = card.features.iter().map(|f| f.binning.feature).collect();
                for (i, f) in card.features.iter_mut().enumerate() {
                    f.binning.feature = i;
                }
                Model::Scorecard {
                    schema: schema.subset(&used),
                    target,
                    card,
                }
            }
            ModelKind::Gbm => Model::Gbm {
                schema,
                target,
                gbm: gbm::train(data, y, rows, &options.gbm.resolve(rows.len()), progress),
            },
        }
    }

    /// Boosted trees in two steps, [`Model::prepare_gbm`] then [`PreparedGbm::train`], so the
    /// caller can free the dataset while boosting (it then reads only binned codes).
    pub fn prepare_gbm(
        data: &Dataset,
        target: &TargetSpec,
        y: &[u8],
        rows: &[usize],
        options: &TrainOptions,
    ) -> PreparedGbm {
        PreparedGbm {
            schema: data.schema.clone(),
            target: target.clone(),
            prepared: gbm::prepare(data, y, rows, &options.gbm.resolve(rows.len())),
        }
    }

    /// Checks what scoring indexes by, so a hand-edited or corrupt model file is an error
    /// naming the problem instead of a panic while scoring.
    pub fn validate(&self) -> Result<(), RiskError> {
        let n = self.schema().features.len();
        match self {
            Model::Gbm { gbm, .. } => gbm.forest.validate(n).map_err(RiskError::BadModel),
            Model::Imported { forest, .. } => forest.validate(n).map_err(RiskError::BadModel),
            Model::Scorecard { card, .. } => card.validate(n).map_err(RiskError::BadModel),
        }
    }

    pub fn schema(&self) -> &Schema {
        match self {
            Model::Scorecard { schema, .. }
            | Model::Gbm { schema, .. }
            | Model::Imported { schema, .. } => schema,
        }
    }

    /// The training target column, when the model was trained here.
    pub fn target(&self) -> Option<&TargetSpec> {
        match self {
            Model::Scorecard { target, .. } | Model::Gbm { target, .. } => Some(target),
            Model::Imported { .. } => None,
        }
    }

    /// Probability of bad and, for scorecards, the score. `row` is in schema order.
    #[inline]
    pub fn predict(&self, row: &[f64]) -> (f64, Option<f64>) {
        match self {
            Model::Scorecard { card, .. } => {
                let (p, s) = card.predict(row);
                (p, Some(s))
            }
            Model::Gbm { gbm, .. } => (gbm.forest.predict(row), None),
            Model::Imported { forest, .. } => (forest.predict(row), None),
        }
    }

    /// Compiles the model for batch scoring (see [`Compiled`]).
    pub fn scorer(&self) -> Scorer<'_> {
        match self {
            Model::Scorecard { card, .. } => Scorer::Card(card),
            Model::Gbm { gbm, .. } => Scorer::Trees(gbm.forest.compile()),
            Model::Imported { forest, .. } => Scorer::Trees(forest.compile()),
        }
    }

    /// The probability of bad of every row (as [`Model::predict_all`], without scores, in a
    /// third of the memory).
    pub fn predict_probabilities(&self, data: &Dataset) -> Vec<f64> {
        assert_eq!(
            data.schema,
            *self.schema(),
            "data encoded with another schema"
        );
        let scorer = self.scorer();
        if let Scorer::Trees(c) = &scorer {
            // Blocks on every core: each output depends on its row alone, so the result is
            // the same as the sequential pass.
            use rayon::prelude::*;
            let k = data.n_features();
            let mut out = vec![0.0; data.n_rows];
            out.par_chunks_mut(BLOCK_ROWS)
                .zip(data.x.par_chunks(BLOCK_ROWS * k))
                .for_each(|(out, rows)| c.predict_block(rows, k, out));
            return out;
        }
        let mut out = Vec::with_capacity(data.n_rows);
        scorer.predict_each(data, |p, _| out.push(p));
        out
    }

    /// Scores every row of a dataset encoded with this model's schema.
    pub fn predict_all(&self, data: &Dataset) -> Vec<(f64, Option<f64>)> {
        assert_eq!(
            data.schema,
            *self.schema(),
            "data encoded with another schema"
        );
        let scorer = self.scorer();
        if let Scorer::Trees(_) = &scorer {
            return self
                .predict_probabilities(data)
                .into_iter()
                .map(|p| (p, None))
                .collect();
        }
        let mut out = Vec::with_capacity(data.n_rows);
        scorer.predict_each(data, |p, score| out.push((p, score)));
        out
    }
}

/// Binned training data of a boosted-trees model; see [`Model::prepare_gbm`].
pub struct PreparedGbm {
    schema: Schema,
    target: TargetSpec,
    prepared: gbm::Prepared,
}

impl PreparedGbm {
    pub fn train(self, progress: gbm::Progress) -> Model {
        Model::Gbm {
            schema: self.schema,
            target: self.target,
            gbm: gbm::train_prepared(self.prepared, progress),
        }
    }
}

/// A model ready to score many rows; nothing here allocates per row.
pub enum Scorer<'a> {
    Card(&'a Scorecard),
    Trees(Compiled<'a>),
}

impl Scorer<'_> {
    #[inline]
    pub fn predict(&self, row: &[f64]) -> (f64, Option<f64>) {
        match self {
            Scorer::Card(card) => {
                let (p, s) = card.predict(row);
                (p, Some(s))
            }
            Scorer::Trees(c) => (c.predict(row), None),
        }
    }

    /// Calls `sink(probability_bad, score)` for every row, in row order; trees are evaluated
    /// block by block so each tree stays in cache across [`BLOCK_ROWS`] rows.
    pub fn predict_each(&self, data: &Dataset, mut sink: impl FnMut(f64, Option<f64>)) {
        let k = data.n_features();
        match self {
            Scorer::Card(card) => (0..data.n_rows).for_each(|i| {
                let (p, s) = card.predict(data.row(i));
                sink(p, Some(s));
            }),
            Scorer::Trees(c) => {
                let mut buf = [0.0; BLOCK_ROWS];
                for start in (0..data.n_rows).step_by(BLOCK_ROWS) {
                    let n = BLOCK_ROWS.min(data.n_rows - start);
                    c.predict_block(&data.x[start * k..(start + n) * k], k, &mut buf[..n]);
                    buf[..n].iter().for_each(|&p| sink(p, None));
                }
            }
        }
    }
}
