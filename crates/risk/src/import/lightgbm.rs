//! LightGBM text model files (`Booster.save_model("m.txt")`), binary objective only.
//!
//! Routing follows LightGBM's `Tree::NumericalDecision`/`CategoricalDecision`: the low bit of
//! `decision_type` marks a categorical split, the next bit the default-left direction, and
//! bits 2–3 the missing type (none: NaN reads as 0; zero: 0 and NaN take the default; NaN:
//! NaN takes the default). Leaf values already include shrinkage.

use super::numeric_schema;
use crate::forest::{Compare, Forest, Link, Missing, Node};
use crate::{Model, RiskError};
use std::collections::HashMap;
use std::str::FromStr;

fn bad(msg: impl Into<String>) -> RiskError {
    RiskError::BadModel(format!("LightGBM: {}", msg.into()))
}

/// Key/value lines of one section (the header or a `Tree=` block).
struct Section<'a> {
    name: String,
    fields: HashMap<&'a str, &'a str>,
}

impl Section<'_> {
    fn get(&self, key: &str) -> Result<&str, RiskError> {
        self.fields
            .get(key)
            .copied()
            .ok_or_else(|| bad(format!("{}: field `{key}` is missing", self.name)))
    }

    fn one<T: FromStr>(&self, key: &str) -> Result<T, RiskError> {
        let v = self.get(key)?;
        v.trim()
            .parse()
            .map_err(|_| bad(format!("{}: field `{key}`: `{v}` is not valid", self.name)))
    }

    fn list<T: FromStr>(&self, key: &str, len: usize) -> Result<Vec<T>, RiskError> {
        let v = self.get(key)?;
        let items: Result<Vec<T>, _> = v.split_whitespace().map(str::parse).collect();
        let items = items.map_err(|_| {
            bad(format!(
                "{}: field `{key}` has an unreadable value",
                self.name
            ))
        })?;
        if items.len() != len {
            return Err(bad(format!(
                "{}: field `{key}` has {} values, expected {len}",
                self.name,
                items.len()
            )));
        }
        Ok(items)
    }
}

fn sections(text: &str) -> Vec<Section<'_>> {
    let mut out = vec![Section {
        name: "header".into(),
        fields: HashMap::new(),
    }];
    for line in text.lines().map(str::trim) {
        if line == "end of trees" {
            break;
        }
        if line.is_empty() {
            continue;
        }
        // Flags such as `average_output` are bare keys.
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        if key == "Tree" {
            out.push(Section {
                name: format!("Tree={value}"),
                fields: HashMap::new(),
            });
        } else if let Some(last) = out.last_mut() {
            last.fields.insert(key, value);
        }
    }
    out
}

/// Parses a LightGBM model file into an imported model.
pub fn lightgbm(text: &str) -> Result<Model, RiskError> {
    let all = sections(text);
    let (header, trees) = all.split_first().expect("sections always holds the header");
    let objective = header.get("objective")?;
    let scale = parse_objective(objective)?;
    if header.one::<usize>("num_tree_per_iteration")? != 1 {
        return Err(bad("only single-output (binary) models are supported"));
    }
    let n_features = header.one::<usize>("max_feature_idx")? + 1;
    let names: Vec<String> = header
        .get("feature_names")?
        .split_whitespace()
        .map(String::from)
        .collect();
    if names.len() != n_features {
        return Err(bad(format!(
            "feature_names has {} names, max_feature_idx says {n_features}",
            names.len()
        )));
    }
    if trees.is_empty() {
        return Err(bad("the file has no trees"));
    }
    let mut forest = Forest::new(0.0);
    forest.link = Link::Sigmoid { scale };
    // Random-forest mode averages the trees instead of summing them.
    let weight = if header.fields.contains_key("average_output") {
        1.0 / trees.len() as f64
    } else {
        1.0
    };
    for tree in trees {
        let mut nodes = parse_tree(tree, &mut forest)?;
        nodes
            .iter_mut()
            .filter(|n| n.feature == crate::forest::LEAF)
            .for_each(|n| n.value *= weight);
        forest.push_tree(nodes);
    }
    forest.validate(n_features).map_err(bad)?;
    Ok(Model::Imported {
        schema: numeric_schema(&names),
        source: "lightgbm".into(),
        forest,
    })
}

/// Indices of the features LightGBM treats as categorical: their `feature_infos` entry lists
/// category values (`-1:3:0:2`) where numeric features show a range (`[4:72]`).
pub fn lightgbm_categorical_features(text: &str) -> Result<Vec<usize>, RiskError> {
    let all = sections(text);
    let infos = all[0].get("feature_infos")?;
    Ok(infos
        .split_whitespace()
        .enumerate()
        .filter(|(_, info)| !info.starts_with('[') && *info != "none")
        .map(|(i, _)| i)
        .collect())
}

/// `binary sigmoid:1` gives the sigmoid scale; anything else is not a binary classifier.
fn parse_objective(objective: &str) -> Result<f64, RiskError> {
    let mut parts = objective.split_whitespace();
    // Both map the raw score to a probability with a sigmoid.
    if !matches!(parts.next(), Some("binary" | "cross_entropy" | "xentropy")) {
        return Err(bad(format!(
            "objective `{objective}` is not `binary` or `cross_entropy`"
        )));
    }
    let scale = parts
        .find_map(|p| p.strip_prefix("sigmoid:"))
        .unwrap_or("1");
    scale
        .parse()
        .map_err(|_| bad(format!("objective `{objective}`: bad sigmoid scale")))
}

/// Internal node `i` becomes node `i`; leaf `j` becomes node `internal + j`.
fn parse_tree(t: &Section, forest: &mut Forest) -> Result<Vec<Node>, RiskError> {
    let leaves: usize = t.one("num_leaves")?;
    if t.fields.get("is_linear").is_some_and(|v| v.trim() != "0") {
        return Err(bad(format!("{}: linear trees are not supported", t.name)));
    }
    if leaves == 0 {
        return Err(bad(format!("{}: num_leaves is 0", t.name)));
    }
    let leaf_value: Vec<f64> = t.list("leaf_value", leaves)?;
    if leaves == 1 {
        return Ok(vec![Node::leaf(leaf_value[0])]);
    }
    let internal = leaves - 1;
    let feature: Vec<u32> = t.list("split_feature", internal)?;
    let threshold: Vec<f64> = t.list("threshold", internal)?;
    let decision: Vec<u8> = t.list("decision_type", internal)?;
    let left: Vec<i64> = t.list("left_child", internal)?;
    let right: Vec<i64> = t.list("right_child", internal)?;
    let cats = categories(t)?;
    let child = |c: i64| -> Result<u32, RiskError> {
        let index = if c >= 0 {
            c as usize
        } else {
            internal + (!c) as usize
        };
        if index >= internal + leaves {
            return Err(bad(format!("{}: child {c} is out of range", t.name)));
        }
        Ok(index as u32)
    };
    let mut nodes = Vec::with_capacity(internal + leaves);
    for i in 0..internal {
        let d = decision[i];
        let missing = match (d >> 2) & 3 {
            0 => Missing::NanAsZero,
            1 => Missing::Zero,
            2 => Missing::Nan,
            m => {
                return Err(bad(format!(
                    "{}: decision_type {d}: missing type {m} is unknown",
                    t.name
                )))
            }
        };
        let base = Node {
            feature: feature[i],
            left: child(left[i])?,
            right: child(right[i])?,
            value: threshold[i],
            default_left: d & 2 != 0,
            compare: Compare::LessEq,
            missing,
            ..Node::leaf(0.0)
        };
        nodes.push(if d & 1 == 1 {
            categorical(base, &cats, t, forest)?
        } else {
            base
        });
    }
    nodes.extend(leaf_value.into_iter().map(Node::leaf));
    Ok(nodes)
}

/// The category bitsets of a tree: `cat_boundaries` slices `cat_threshold` per split.
fn categories(t: &Section) -> Result<Vec<Vec<u32>>, RiskError> {
    let n: usize = t.one("num_cat")?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let bounds: Vec<usize> = t.list("cat_boundaries", n + 1)?;
    let total = *bounds.last().expect("n + 1 > 0 boundaries");
    let words: Vec<u32> = t.list("cat_threshold", total)?;
    bounds
        .windows(2)
        .map(|w| {
            words
                .get(w[0]..w[1])
                .map(<[u32]>::to_vec)
                .ok_or_else(|| bad(format!("{}: cat_boundaries are not increasing", t.name)))
        })
        .collect()
}

/// A categorical split: the threshold is the index of its bitset. LightGBM sends NaN (when
/// missing type is NaN), negatives and codes outside the set right, so default_left is false.
fn categorical(
    base: Node,
    cats: &[Vec<u32>],
    t: &Section,
    forest: &mut Forest,
) -> Result<Node, RiskError> {
    let index = base.value as usize;
    let words = cats
        .get(index)
        .ok_or_else(|| bad(format!("{}: category set {index} does not exist", t.name)))?;
    let (cat_begin, cat_len) = forest.push_category_words(words);
    Ok(Node {
        categorical: true,
        cat_begin,
        cat_len,
        default_left: false,
        ..base
    })
}
