use super::binning::*;
use super::*;

#[test]
fn optimal_groups_respects_share_and_monotonicity() {
    // Bad rates 10%, 12%, 50%, 48%, 90% over equal-sized fine bins.
    let fine: Counts = vec![(100, 10), (100, 12), (100, 50), (100, 48), (100, 90)];
    let (ends, iv) = optimal_groups(&fine, 210, 290, 150, 10, Trend::Ascending).unwrap();
    assert_eq!(ends, vec![1, 4]);
    assert!(iv > 0.0);
    let (ends, _) = optimal_groups(&fine, 210, 290, 100, 10, Trend::Ascending).unwrap();
    assert_eq!(ends, vec![1, 3, 4]);
    // A hump: 10%, 50%, 90%, 50%, 10% is best cut at every turn of the rate.
    let hump: Counts = vec![(100, 10), (100, 50), (100, 90), (100, 50), (100, 10)];
    let (ends, _) = optimal_groups(&hump, 210, 290, 100, 10, Trend::Peak).unwrap();
    assert_eq!(ends, vec![0, 1, 2, 3, 4]);
    assert!(
        optimal_groups(&hump, 210, 290, 100, 10, Trend::Valley)
            .unwrap()
            .0
            .len()
            < 5
    );
}

#[test]
fn many_category_levels_are_pooled_before_merging() {
    use crate::data::{FeatureSpec, Schema};
    // 5,000 distinct ids: binning must stay fast and produce few bins.
    let n = 5000;
    let levels: Vec<String> = (0..n).map(|i| format!("id{i}")).collect();
    let schema = Schema {
        features: vec![FeatureSpec {
            name: "id".into(),
            kind: FeatureKind::Categorical { levels },
        }],
    };
    let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let y: Vec<u8> = (0..n).map(|i| u8::from(i % 7 == 0)).collect();
    let data = Dataset {
        schema,
        n_rows: n,
        x,
    };
    let rows: Vec<usize> = (0..n).collect();
    let b = bin_feature(&data, 0, &rows, &y, &ScorecardParams::default());
    assert!(b.bins.len() <= ScorecardParams::default().max_bins + 1);
    // Singletons are pooled, so an id carries no information.
    assert!(b.iv < 0.01, "iv {}", b.iv);
}

#[test]
fn unseen_categories_and_missing_values_score_as_the_missing_bin() {
    use crate::data::{FeatureSpec, Schema};
    let levels = vec!["a".to_string(), "b".to_string(), "new".to_string()];
    let schema = Schema {
        features: vec![
            FeatureSpec {
                name: "c".into(),
                kind: FeatureKind::Categorical { levels },
            },
            FeatureSpec {
                name: "x".into(),
                kind: FeatureKind::Numeric,
            },
        ],
    };
    // Training never sees level "new" (code 2) nor a missing x.
    let n = 400;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        x.push((i % 2) as f64);
        x.push((i % 10) as f64);
        y.push(u8::from(i % 2 == 1 && i % 3 != 0 || i % 10 > 7));
    }
    let data = Dataset {
        schema,
        n_rows: n,
        x,
    };
    let rows: Vec<usize> = (0..n).collect();
    let card = train(&data, &y, &rows, &ScorecardParams::default());
    assert!(!card.features.is_empty());
    for f in &card.features {
        let b = &f.binning;
        let missing = &b.bins[b.missing_bin()];
        assert_eq!((missing.count, missing.woe, missing.points), (0, 0.0, 0.0));
        assert_eq!(b.bin_of(f64::NAN), b.missing_bin());
        if b.name == "c" {
            assert_eq!(b.bin_of(2.0), b.missing_bin(), "unseen level");
        }
    }
    let (p, score) = card.predict(&[2.0, f64::NAN]);
    assert!((0.0..1.0).contains(&p) && score.is_finite());
}

#[test]
fn logistic_recovers_a_known_slope() {
    // p = sigmoid(-1 + 2x) on a grid, with fractional labels replicated into counts.
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..200 {
        let v = (i % 20) as f64 / 10.0 - 1.0;
        let q = crate::forest::sigmoid(-1.0 + 2.0 * v);
        for j in 0..100 {
            x.push(v);
            y.push(u8::from((j as f64) < q * 100.0));
        }
    }
    let w = logistic(&x, &y, 1, 0.0);
    assert!(
        (w[0] + 1.0).abs() < 0.05 && (w[1] - 2.0).abs() < 0.05,
        "{w:?}"
    );
}

#[test]
fn points_follow_pdo_and_base_odds() {
    let params = ScorecardParams::default();
    let card = scale(vec![-50f64.ln()], Vec::new(), Vec::new(), params);
    // Odds 50:1 of good means p_bad = 1/51 and a score of exactly 600.
    let (p, score) = card.predict(&[]);
    assert!((score - 600.0).abs() < 1e-9 && (p - 1.0 / 51.0).abs() < 1e-12);
}
