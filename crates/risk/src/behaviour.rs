//! The behaviour score: a small bundled scorecard over a customer's repayment history,
//! scored by the same [`Scorecard`] machinery as application scorecards (600 points at odds
//! of 50 good to 1 bad, 20 points to double the odds). Its bins and points are set by
//! hand from common collections practice, not trained; docs/monitoring.md lists them so a
//! lender can replace them with a card trained on its own book.

use crate::scorecard::{Bin, BinRule, FeatureBinning, Scorecard, ScorecardParams, ScoredFeature};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

/// The lowest and highest score the bundled card gives.
pub const SCORE_RANGE: (i64, i64) = (300, 700);

/// What the card reads, in its input order.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct History {
    /// Payments made on time over payments that fell due (`None` before any fell due).
    pub on_time_ratio: Option<f64>,
    /// The largest days past due seen.
    pub max_dpd: u32,
    /// Used over limit across open lines (`None` without a line).
    pub utilization: Option<f64>,
    /// Installments missed.
    pub missed_payments: u32,
}

/// Points per unit of log-odds: PDO / ln 2.
const FACTOR: f64 = 20.0 / std::f64::consts::LN_2;

fn feature(index: usize, name: &str, upper: &[f64], points: &[f64]) -> ScoredFeature {
    assert_eq!(
        upper.len() + 1,
        points.len(),
        "one bin per bound, then missing"
    );
    let labels = upper
        .iter()
        .map(|u| {
            if *u == f64::MAX {
                "above".to_string()
            } else {
                format!("<= {u}")
            }
        })
        .chain(std::iter::once("missing".to_string()));
    ScoredFeature {
        binning: FeatureBinning {
            feature: index,
            name: name.into(),
            rule: BinRule::Numeric {
                upper: upper.to_vec(),
            },
            bins: labels
                .zip(points)
                .map(|(label, &p)| Bin {
                    label,
                    count: 0,
                    bads: 0,
                    woe: p / FACTOR,
                    points: p,
                })
                .collect(),
            iv: 0.0,
        },
        // Points already carry the sign: a higher WoE is safer, as in trained cards.
        coefficient: -1.0,
    }
}

/// The bundled behaviour scorecard.
pub fn scorecard() -> Scorecard {
    let max = f64::MAX;
    Scorecard {
        // Odds of 50:1 at the base score.
        intercept: -(50f64.ln()),
        base_points: 600.0,
        features: vec![
            feature(
                0,
                "on_time_ratio",
                &[0.5, 0.8, 0.95, max],
                &[-60.0, -25.0, 0.0, 20.0, 0.0],
            ),
            feature(
                1,
                "max_dpd",
                &[0.0, 7.0, 30.0, 90.0, max],
                &[30.0, -10.0, -50.0, -90.0, -130.0, 0.0],
            ),
            feature(
                2,
                "utilization",
                &[0.3, 0.7, 0.9, max],
                &[15.0, 0.0, -20.0, -40.0, 0.0],
            ),
            feature(
                3,
                "missed_payments",
                &[0.0, 1.0, 3.0, max],
                &[20.0, -15.0, -40.0, -70.0, 0.0],
            ),
        ],
        selection: Vec::new(),
        params: ScorecardParams::default(),
    }
}

/// (score, probability of going bad) for a history; scores are whole points.
pub fn score(card: &Scorecard, h: &History) -> (Decimal, f64) {
    let row = [
        h.on_time_ratio.unwrap_or(f64::NAN),
        f64::from(h.max_dpd),
        h.utilization.unwrap_or(f64::NAN),
        f64::from(h.missed_payments),
    ];
    let (p_bad, points) = card.predict(&row);
    let (lo, hi) = SCORE_RANGE;
    let whole = Decimal::from_f64(points.round())
        .unwrap_or(Decimal::from(lo))
        .clamp(Decimal::from(lo), Decimal::from(hi));
    (whole, p_bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_is_valid_and_orders_histories() {
        let card = scorecard();
        card.validate(4).unwrap();
        let clean = History {
            on_time_ratio: Some(1.0),
            max_dpd: 0,
            utilization: Some(0.2),
            missed_payments: 0,
        };
        let bad = History {
            on_time_ratio: Some(0.4),
            max_dpd: 45,
            utilization: Some(0.95),
            missed_payments: 3,
        };
        let (good_score, good_p) = score(&card, &clean);
        let (bad_score, bad_p) = score(&card, &bad);
        assert_eq!(good_score, Decimal::from(685));
        assert_eq!(bad_score, Decimal::from(600 - 60 - 90 - 40 - 40));
        assert!(good_p < bad_p);
        let (empty, _) = score(&card, &History::default());
        assert_eq!(empty, Decimal::from(600 + 30 + 20));
    }
}
