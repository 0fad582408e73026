//! XGBoost JSON models (`Booster.save_model("m.json")`), `binary:logistic` gbtree only.
//!
//! A split sends `x < split_condition` left, compared in `f32` as XGBoost does, and missing
//! values by `default_left`. A categorical split sends the codes in its category set right
//! and every other code left; the forest sends set members left, so such nodes swap their
//! children (and their default side). Leaves hold their value in `split_conditions`. The
//! margin starts at `logit(base_score)`; XGBoost stores `base_score` as a probability.

use super::numeric_schema;
use crate::forest::{Compare, Forest, Missing, Node};
use crate::{Model, RiskError};
use serde::Deserialize;

/// The parts of an XGBoost JSON model that prediction needs; other fields are ignored.
#[derive(Debug, Deserialize)]
pub struct XgbModel {
    pub learner: XgbLearner,
}

#[derive(Debug, Deserialize)]
pub struct XgbLearner {
    #[serde(default)]
    pub feature_names: Vec<String>,
    pub gradient_booster: XgbBooster,
    pub learner_model_param: XgbModelParam,
    pub objective: XgbObjective,
}

#[derive(Debug, Deserialize)]
pub struct XgbBooster {
    pub name: String,
    pub model: Option<XgbGbtree>,
}

#[derive(Debug, Deserialize)]
pub struct XgbGbtree {
    pub trees: Vec<XgbTree>,
    #[serde(default)]
    pub tree_info: Vec<i64>,
    /// Category levels of DataFrame category columns (XGBoost 3), one entry per feature.
    #[serde(default)]
    pub cats: Option<XgbCats>,
}

#[derive(Debug, Deserialize)]
pub struct XgbCats {
    #[serde(default)]
    pub enc: Vec<XgbCategoryLevels>,
}

/// String levels as UTF-8 bytes: level `i` is `values[offsets[i]..offsets[i + 1]]`; the
/// level's code is `i`. Numeric levels have no offsets and are left as codes.
#[derive(Debug, Deserialize)]
pub struct XgbCategoryLevels {
    #[serde(default)]
    pub offsets: Vec<usize>,
    #[serde(default)]
    pub values: Vec<f64>,
}

/// `default_left` is 0/1 in current files and true/false in older ones.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum XgbFlag {
    Int(i64),
    Bool(bool),
}

#[derive(Debug, Deserialize)]
pub struct XgbTree {
    pub left_children: Vec<i64>,
    pub right_children: Vec<i64>,
    pub split_indices: Vec<i64>,
    pub split_conditions: Vec<f64>,
    pub default_left: Vec<XgbFlag>,
    #[serde(default)]
    pub split_type: Vec<i64>,
    /// Category sets of categorical splits, concatenated; node `categories_nodes[j]` owns
    /// `categories[categories_segments[j]..][..categories_sizes[j]]`.
    #[serde(default)]
    pub categories: Vec<i64>,
    #[serde(default)]
    pub categories_nodes: Vec<i64>,
    #[serde(default)]
    pub categories_segments: Vec<i64>,
    #[serde(default)]
    pub categories_sizes: Vec<i64>,
}

#[derive(Debug, Deserialize)]
pub struct XgbModelParam {
    pub base_score: String,
    pub num_feature: String,
}

#[derive(Debug, Deserialize)]
pub struct XgbObjective {
    pub name: String,
}

fn bad(msg: impl Into<String>) -> RiskError {
    RiskError::BadModel(format!("XGBoost: {}", msg.into()))
}

/// Converts a parsed XGBoost model into an imported model.
pub fn xgboost(raw: &XgbModel) -> Result<Model, RiskError> {
    let l = &raw.learner;
    if l.objective.name != "binary:logistic" && l.objective.name != "reg:logistic" {
        return Err(bad(format!(
            "objective `{}` is not binary:logistic",
            l.objective.name
        )));
    }
    let gbtree = match (&l.gradient_booster.name[..], &l.gradient_booster.model) {
        ("gbtree", Some(m)) => m,
        (name, _) => {
            return Err(bad(format!(
                "booster `{name}` is not supported (gbtree only)"
            )))
        }
    };
    if gbtree.tree_info.iter().any(|&c| c != 0) {
        return Err(bad("multi-class models are not supported"));
    }
    let n_features: usize = l
        .learner_model_param
        .num_feature
        .parse()
        .map_err(|_| bad("num_feature is not a number"))?;
    let names = if l.feature_names.is_empty() {
        (0..n_features).map(|i| format!("f{i}")).collect()
    } else if l.feature_names.len() == n_features {
        l.feature_names.clone()
    } else {
        return Err(bad(format!(
            "{} feature_names for num_feature {n_features}",
            l.feature_names.len()
        )));
    };
    let base = parse_base_score(&l.learner_model_param.base_score)?;
    let mut forest = Forest::new((base / (1.0 - base)).ln());
    for (t, tree) in gbtree.trees.iter().enumerate() {
        let nodes = convert_tree(t, tree, &mut forest)?;
        forest.push_tree(nodes);
    }
    forest.validate(n_features).map_err(bad)?;
    let mut schema = numeric_schema(&names);
    if let Some(cats) = &gbtree.cats {
        attach_levels(&mut schema, &cats.enc)?;
    }
    Ok(Model::Imported {
        schema,
        source: "xgboost".into(),
        forest,
    })
}

/// Features with stored string levels read raw strings, coded as XGBoost coded them.
fn attach_levels(schema: &mut crate::Schema, enc: &[XgbCategoryLevels]) -> Result<(), RiskError> {
    if enc.is_empty() {
        return Ok(());
    }
    if enc.len() != schema.features.len() {
        return Err(bad(format!(
            "cats.enc has {} entries for {} features",
            enc.len(),
            schema.features.len()
        )));
    }
    for (spec, levels) in schema.features.iter_mut().zip(enc) {
        if levels.offsets.len() < 2 {
            continue;
        }
        let bytes: Option<Vec<u8>> = levels
            .values
            .iter()
            .map(|&v| (v.fract() == 0.0 && (0.0..=255.0).contains(&v)).then_some(v as u8))
            .collect();
        let bytes = bytes
            .ok_or_else(|| bad(format!("cats.enc of `{}`: values are not bytes", spec.name)))?;
        let names: Option<Vec<String>> = levels
            .offsets
            .windows(2)
            .map(|w| {
                bytes
                    .get(w[0]..w[1])
                    .and_then(|b| String::from_utf8(b.to_vec()).ok())
            })
            .collect();
        let names = names
            .ok_or_else(|| bad(format!("cats.enc of `{}`: bad offsets or UTF-8", spec.name)))?;
        spec.kind = crate::FeatureKind::Categorical { levels: names };
    }
    Ok(())
}

/// `"5E-1"` in older files, `"[5E-1]"` (one value per target) since 3.0.
fn parse_base_score(s: &str) -> Result<f64, RiskError> {
    let v: f64 = s
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| bad(format!("base_score `{s}` is not a number")))?;
    if v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(bad(format!("base_score {v} is not a probability")))
    }
}

fn convert_tree(t: usize, tree: &XgbTree, forest: &mut Forest) -> Result<Vec<Node>, RiskError> {
    let n = tree.left_children.len();
    let lens = [
        tree.right_children.len(),
        tree.split_indices.len(),
        tree.split_conditions.len(),
        tree.default_left.len(),
    ];
    if n == 0 || lens.iter().any(|&len| len != n) {
        return Err(bad(format!("tree {t}: node arrays have different lengths")));
    }
    let sets = category_sets(t, tree)?;
    let index = |c: i64| -> Result<u32, RiskError> {
        u32::try_from(c)
            .ok()
            .filter(|&c| (c as usize) < n)
            .ok_or_else(|| bad(format!("tree {t}: child {c} is out of range")))
    };
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        if tree.left_children[i] == -1 {
            nodes.push(Node::leaf(tree.split_conditions[i]));
            continue;
        }
        let feature = u32::try_from(tree.split_indices[i])
            .map_err(|_| bad(format!("tree {t}: node {i}: bad split_indices")))?;
        let default_left = match tree.default_left[i] {
            XgbFlag::Int(v) => v != 0,
            XgbFlag::Bool(b) => b,
        };
        let base = Node {
            feature,
            left: index(tree.left_children[i])?,
            right: index(tree.right_children[i])?,
            value: tree.split_conditions[i],
            default_left,
            compare: Compare::LessF32,
            missing: Missing::Nan,
            ..Node::leaf(0.0)
        };
        nodes.push(match tree.split_type.get(i).copied().unwrap_or(0) {
            0 => base,
            1 => {
                let codes = sets
                    .iter()
                    .find(|(node, _)| *node == i)
                    .map(|(_, c)| c.as_slice())
                    .unwrap_or_default();
                let (cat_begin, cat_len) = forest.push_categories(codes);
                // Set members go right in XGBoost and left in the forest: swap the children.
                Node {
                    left: base.right,
                    right: base.left,
                    default_left: !default_left,
                    categorical: true,
                    cat_begin,
                    cat_len,
                    ..base
                }
            }
            s => {
                return Err(bad(format!(
                    "tree {t}: node {i}: split_type {s} is unknown"
                )))
            }
        });
    }
    Ok(nodes)
}

/// (node, category codes) for each categorical split of a tree.
fn category_sets(t: usize, tree: &XgbTree) -> Result<Vec<(usize, Vec<u32>)>, RiskError> {
    let k = tree.categories_nodes.len();
    if tree.categories_segments.len() != k || tree.categories_sizes.len() != k {
        return Err(bad(format!(
            "tree {t}: categories_* arrays have different lengths"
        )));
    }
    (0..k)
        .map(|j| {
            let start = usize::try_from(tree.categories_segments[j]).ok();
            let size = usize::try_from(tree.categories_sizes[j]).ok();
            let codes = start
                .zip(size)
                .and_then(|(s, z)| tree.categories.get(s..s.checked_add(z)?))
                .ok_or_else(|| bad(format!("tree {t}: category segment {j} is out of range")))?;
            let codes: Option<Vec<u32>> = codes
                .iter()
                .map(|&c| u32::try_from(c).ok().filter(|&c| c < 1 << 24))
                .collect();
            let node = usize::try_from(tree.categories_nodes[j])
                .map_err(|_| bad(format!("tree {t}: bad categories_nodes")))?;
            Ok((
                node,
                codes.ok_or_else(|| bad(format!("tree {t}: category code out of range")))?,
            ))
        })
        .collect()
}
