use crate::Money;
use rust_decimal::Decimal;

/// Why a split was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("no weights to allocate over")]
    NoWeights,
    #[error("all weights are zero")]
    ZeroWeights,
    #[error("too many weights ({0}); the limit is {ALLOCATE_WEIGHTS_MAX}")]
    TooManyWeights(usize),
    #[error("weight {index} is negative")]
    NegativeWeight { index: usize },
    #[error("weights need more digits than a 64-bit integer holds at their common scale")]
    WeightTooPrecise,
}

/// A bound on one split, so a caller cannot make us allocate unbounded memory.
pub const ALLOCATE_WEIGHTS_MAX: usize = 100_000;

/// Splits `total` pro rata to `weights` by the largest-remainder (Hamilton) method.
///
/// Every share is the exact pro-rata value rounded toward zero, and the minor units left
/// over go one each to the largest remainders, earlier index first on ties. So the shares
/// sum to `total` exactly, each is within one minor unit of its exact value, and the result
/// depends only on the inputs. A negative total splits as the mirror of its absolute value.
pub fn allocate(total: Money, weights: &[u64]) -> Result<Vec<Money>, AllocError> {
    if weights.is_empty() {
        return Err(AllocError::NoWeights);
    }
    if weights.len() > ALLOCATE_WEIGHTS_MAX {
        return Err(AllocError::TooManyWeights(weights.len()));
    }
    // u64 weights times at most 100k entries fit in u128 without overflow.
    let weight_sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if weight_sum == 0 {
        return Err(AllocError::ZeroWeights);
    }
    let magnitude = u128::from(total.amount_minor().unsigned_abs());
    let shares = split_magnitude(magnitude, weights, weight_sum);
    let currency = total.currency();
    let sign: i64 = if total.is_negative() { -1 } else { 1 };
    let result: Vec<Money> = shares
        .into_iter()
        .map(|share| {
            // Each share is at most |total|, so it fits; i64::MIN's magnitude only arises whole.
            let share_signed = i128::try_from(share).expect("share ≤ |total|") * i128::from(sign);
            Money::from_minor(
                i64::try_from(share_signed).expect("share within total"),
                currency,
            )
        })
        .collect();
    // Conservation of every minor unit is this function's promise: checked in release too
    // (one pass over the shares, next to the division that made them).
    assert_eq!(
        result
            .iter()
            .map(|m| i128::from(m.amount_minor()))
            .sum::<i128>(),
        i128::from(total.amount_minor())
    );
    Ok(result)
}

/// Splits `total` by decimal weights (co-lending shares such as 0.3 / 0.7) with the same
/// guarantees as [`allocate`]: the weights are scaled to integers at their common scale,
/// which is exact, so 0.3 / 0.7 splits exactly like 3 / 7.
pub fn allocate_by_ratio(total: Money, weights: &[Decimal]) -> Result<Vec<Money>, AllocError> {
    if let Some(index) = weights
        .iter()
        .position(|w| w.is_sign_negative() && !w.is_zero())
    {
        return Err(AllocError::NegativeWeight { index });
    }
    let scale = weights
        .iter()
        .map(|w| w.normalize().scale())
        .max()
        .unwrap_or(0);
    let integer_weights = weights
        .iter()
        .map(|&weight| {
            let mut scaled = weight.normalize();
            scaled.rescale(scale);
            // rescale keeps the value only when the mantissa still fits in 96 bits.
            if scaled != weight {
                return Err(AllocError::WeightTooPrecise);
            }
            u64::try_from(scaled.mantissa()).map_err(|_| AllocError::WeightTooPrecise)
        })
        .collect::<Result<Vec<u64>, AllocError>>()?;
    allocate(total, &integer_weights)
}

/// Non-negative core: floors, then hands the leftover units to the largest remainders.
fn split_magnitude(magnitude: u128, weights: &[u64], weight_sum: u128) -> Vec<u128> {
    // magnitude < 2^64 and weight < 2^64, so the product fits in u128.
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (index, &weight) in weights.iter().enumerate() {
        let scaled = magnitude * u128::from(weight);
        shares.push(scaled / weight_sum);
        remainders.push((scaled % weight_sum, index));
    }
    let leftover = magnitude - shares.iter().sum::<u128>();
    assert!(
        leftover < weights.len() as u128,
        "floors lose less than one unit each"
    );
    // Largest remainder first; among equals the earlier index wins.
    remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, index) in remainders.iter().take(leftover as usize) {
        shares[index] += 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;
    use proptest::prelude::*;

    fn cny(amount_minor: i64) -> Money {
        Money::from_minor(amount_minor, Currency::Cny)
    }

    fn minors(shares: &[Money]) -> Vec<i64> {
        shares.iter().map(|m| m.amount_minor()).collect()
    }

    #[test]
    fn worked_examples() {
        assert_eq!(
            minors(&allocate(cny(100), &[1, 1, 1]).unwrap()),
            [34, 33, 33]
        );
        assert_eq!(
            minors(&allocate(cny(-100), &[1, 1, 1]).unwrap()),
            [-34, -33, -33]
        );
        // Remainders 0.5 / 0.3 / 0.2 of a unit: the 0.5 wins the one leftover unit.
        assert_eq!(minors(&allocate(cny(10), &[5, 3, 2]).unwrap()), [5, 3, 2]);
        assert_eq!(minors(&allocate(cny(1), &[5, 3, 2]).unwrap()), [1, 0, 0]);
        assert_eq!(
            minors(&allocate(cny(2), &[0, 1, 1, 0]).unwrap()),
            [0, 1, 1, 0]
        );
        assert_eq!(minors(&allocate(cny(1), &[0, 1, 1]).unwrap()), [0, 1, 0]);
        assert_eq!(minors(&allocate(cny(0), &[3, 4]).unwrap()), [0, 0]);
    }

    #[test]
    fn extremes_do_not_overflow() {
        let shares = allocate(cny(i64::MIN), &[u64::MAX, u64::MAX, 1]).unwrap();
        assert_eq!(
            shares
                .iter()
                .map(|m| i128::from(m.amount_minor()))
                .sum::<i128>(),
            i128::from(i64::MIN)
        );
        let shares = allocate(cny(i64::MAX), &[u64::MAX; 7]).unwrap();
        assert_eq!(
            shares
                .iter()
                .map(|m| i128::from(m.amount_minor()))
                .sum::<i128>(),
            i128::from(i64::MAX)
        );
    }

    #[test]
    fn bad_weights_are_errors() {
        assert_eq!(allocate(cny(1), &[]), Err(AllocError::NoWeights));
        assert_eq!(allocate(cny(1), &[0, 0]), Err(AllocError::ZeroWeights));
        let many = vec![1u64; ALLOCATE_WEIGHTS_MAX + 1];
        assert_eq!(
            allocate(cny(1), &many),
            Err(AllocError::TooManyWeights(many.len()))
        );
    }

    #[test]
    fn decimal_weights_split_like_their_integer_ratio() {
        use rust_decimal_macros::dec;
        let shares = allocate_by_ratio(cny(100), &[dec!(0.3), dec!(0.7)]).unwrap();
        assert_eq!(minors(&shares), [30, 70]);
        let shares = allocate_by_ratio(cny(1_000), &[dec!(1), dec!(0.5), dec!(0.25)]).unwrap();
        // 1000 × 4/7, 2/7, 1/7 = 571.43, 285.71, 142.86: floors leave 2 units, which go to
        // the two largest remainders (.86 and .71).
        assert_eq!(minors(&shares), [571, 286, 143]);
        assert_eq!(
            allocate_by_ratio(cny(1), &[dec!(1), dec!(-0.5)]),
            Err(AllocError::NegativeWeight { index: 1 })
        );
        let third = Decimal::ONE / Decimal::from(3);
        assert_eq!(
            allocate_by_ratio(cny(1), &[third, Decimal::from(1_000_000)]),
            Err(AllocError::WeightTooPrecise)
        );
        assert_eq!(allocate_by_ratio(cny(1), &[]), Err(AllocError::NoWeights));
        assert_eq!(
            allocate_by_ratio(cny(1), &[dec!(0.0)]),
            Err(AllocError::ZeroWeights)
        );
    }

    proptest! {
        #[test]
        fn ratio_weights_agree_with_integer_weights(
            total_minor in any::<i64>(),
            weights in prop::collection::vec(0u64..1_000_000, 1..20),
        ) {
            prop_assume!(weights.iter().any(|&w| w > 0));
            let ratios: Vec<Decimal> = weights.iter().map(|&w| Decimal::new(w as i64, 4)).collect();
            prop_assert_eq!(allocate_by_ratio(cny(total_minor), &ratios), allocate(cny(total_minor), &weights));
        }

        #[test]
        fn shares_conserve_and_stay_within_one_unit(
            total_minor in any::<i64>(),
            weights in prop::collection::vec(0u64..=u64::MAX, 1..40),
        ) {
            prop_assume!(weights.iter().any(|&w| w > 0));
            let shares = allocate(cny(total_minor), &weights).unwrap();
            prop_assert_eq!(shares.len(), weights.len());
            let sum: i128 = shares.iter().map(|m| i128::from(m.amount_minor())).sum();
            prop_assert_eq!(sum, i128::from(total_minor));
            let weight_sum: i128 = weights.iter().map(|&w| i128::from(w)).sum();
            for (share, &weight) in shares.iter().zip(&weights) {
                // |share·W − total·w| < W  ⇔  |share − exact| < 1 unit; checked in wide ints.
                let share_scaled = i128::from(share.amount_minor()).checked_mul(weight_sum);
                let exact_scaled = i128::from(total_minor).checked_mul(i128::from(weight));
                if let (Some(s), Some(e)) = (share_scaled, exact_scaled) {
                    prop_assert!((s - e).abs() < weight_sum);
                }
                prop_assert!(share.amount_minor().signum() * total_minor.signum() >= 0);
            }
            prop_assert_eq!(allocate(cny(total_minor), &weights).unwrap(), shares);
        }

        #[test]
        fn small_weights_within_one_unit_exactly(
            total_minor in -1_000_000_000i64..1_000_000_000,
            weights in prop::collection::vec(0u64..1000, 1..20),
        ) {
            prop_assume!(weights.iter().any(|&w| w > 0));
            let shares = allocate(cny(total_minor), &weights).unwrap();
            let weight_sum: i128 = weights.iter().map(|&w| i128::from(w)).sum();
            for (share, &weight) in shares.iter().zip(&weights) {
                let diff = i128::from(share.amount_minor()) * weight_sum
                    - i128::from(total_minor) * i128::from(weight);
                prop_assert!(diff.abs() < weight_sum);
            }
            let mirrored = allocate(cny(-total_minor), &weights).unwrap();
            prop_assert_eq!(minors(&mirrored), minors(&shares).iter().map(|m| -m).collect::<Vec<_>>());
        }
    }
}
