//! Exact splits of an amount among funders.
//!
//! Every split is the largest-remainder (Hamilton) method of `money::allocate`: each part is
//! the exact pro-rata value rounded toward zero, and the units left over go one each to the
//! largest remainders; **ties go to the earlier funder in the list** (the plan's order).
//! So parts sum to the amount exactly, each is within one minor unit of its exact value,
//! and the same inputs always give the same parts.

use money::{allocate, allocate_by_ratio, Currency, Decimal, Money};

/// Splits `amount_minor` by decimal shares (which need not sum to 1; they are weights).
pub fn split_by_shares(amount_minor: i64, currency: Currency, shares: &[Decimal]) -> Vec<i64> {
    allocate_by_ratio(Money::from_minor(amount_minor, currency), shares)
        .expect("shares were validated: non-empty, positive, short decimals")
        .into_iter()
        .map(Money::amount_minor)
        .collect()
}

/// Splits `amount_minor` by non-negative integer weights (balances). When every weight is
/// zero the split falls back to `fallback` shares. No part exceeds its weight when
/// `amount_minor` does not exceed the sum of the weights (each part is at most the ceiling
/// of `amount × w / W ≤ w`).
pub fn split_by_weights(
    amount_minor: i64,
    currency: Currency,
    weights: &[i64],
    fallback: &[Decimal],
) -> Vec<i64> {
    assert!(
        weights.iter().all(|&w| w >= 0),
        "balances are never negative"
    );
    if weights.iter().all(|&w| w == 0) {
        return split_by_shares(amount_minor, currency, fallback);
    }
    let weights: Vec<u64> = weights.iter().map(|&w| w.unsigned_abs()).collect();
    allocate(Money::from_minor(amount_minor, currency), &weights)
        .expect("weights are non-empty and not all zero")
        .into_iter()
        .map(Money::amount_minor)
        .collect()
}

/// How much each funder's balance goes down when the funders' total goes down by
/// `amount_minor`, so that each balance stays as close to its share of the new total as
/// possible.
///
/// Each funder's new balance is its largest-remainder share of the new total, unless that
/// would make its balance go *up* — the Alabama paradox of the Hamilton method, possible
/// with three or more funders. Then such a funder's balance is kept, and the parts of the
/// others, which now add up to too much, are cut one unit at a time, each time for the
/// funder whose balance would otherwise sit furthest below its exact share (earlier funder
/// on ties). Every funder stays within one minor unit of its exact share (property-tested).
/// Every part is ≥ 0 and at most the
/// funder's balance; parts sum to `amount_minor`; bringing the total to 0 brings every
/// balance to 0.
pub fn reduce_toward_shares(
    balances: &[i64],
    shares: &[Decimal],
    currency: Currency,
    amount_minor: i64,
) -> Vec<i64> {
    let total: i64 = balances.iter().sum();
    assert!(
        (0..=total).contains(&amount_minor),
        "a reduction is within the balances"
    );
    let new_total = total - amount_minor;
    let targets = split_by_shares(new_total, currency, shares);
    let mut parts: Vec<i64> = balances
        .iter()
        .zip(&targets)
        .map(|(b, t)| (b - t).max(0))
        .collect();
    let mut excess = parts.iter().sum::<i64>() - amount_minor;
    while excess > 0 {
        let exact = |i: usize| shares[i] * Decimal::from(new_total);
        let above = |i: usize| Decimal::from(balances[i] - parts[i]) - exact(i);
        // The funder giving back a unit is the one left furthest *below* its exact share.
        let pick = (0..parts.len())
            .filter(|&i| parts[i] > 0)
            .min_by(|&a, &b| above(a).cmp(&above(b)).then(a.cmp(&b)))
            .expect("an excess means some part is positive");
        parts[pick] -= 1;
        excess -= 1;
    }
    assert_eq!(
        parts.iter().sum::<i64>(),
        amount_minor,
        "a reduction conserves"
    );
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    const CNY: Currency = Currency::Cny;

    #[test]
    fn ties_go_to_the_earlier_funder() {
        assert_eq!(split_by_shares(1, CNY, &[dec!(0.5), dec!(0.5)]), [1, 0]);
        assert_eq!(split_by_shares(101, CNY, &[dec!(0.3), dec!(0.7)]), [30, 71]);
        assert_eq!(
            split_by_weights(5, CNY, &[0, 0], &[dec!(0.4), dec!(0.6)]),
            [2, 3]
        );
    }

    #[test]
    fn reductions_follow_the_largest_remainder_share() {
        let shares = [dec!(0.3), dec!(0.7)];
        let balances = split_by_shares(10_001, CNY, &shares);
        assert_eq!(balances, [3000, 7001]);
        let parts = reduce_toward_shares(&balances, &shares, CNY, 1_001);
        assert_eq!(parts, [300, 701]);
        let parts = reduce_toward_shares(&balances, &shares, CNY, 10_001);
        assert_eq!(parts, balances);
    }

    #[test]
    fn the_alabama_paradox_never_raises_a_balance() {
        // Hamilton with these shares gives [0, 2, 24] of 26 but [1, 1, 23] of 25: the first
        // funder's target goes up as the total goes down.
        let shares = [dec!(0.02), dec!(0.06), dec!(0.92)];
        let at_26 = split_by_shares(26, CNY, &shares);
        assert_eq!(at_26, [0, 2, 24]);
        assert_eq!(split_by_shares(25, CNY, &shares), [1, 1, 23]);
        let parts = reduce_toward_shares(&at_26, &shares, CNY, 1);
        // Funder 0 keeps 0, which leaves one unit too many to take. Taking it from funder 2
        // leaves funder 1 at 2 (exact 1.5) and funder 2 at 23 (exact 23); taking it from
        // funder 1 would leave funder 2 a whole unit above its share.
        assert_eq!(parts, [0, 0, 1]);
        let after: Vec<i64> = at_26.iter().zip(&parts).map(|(b, p)| b - p).collect();
        for (i, &b) in after.iter().enumerate() {
            let exact = shares[i] * Decimal::from(25);
            assert!((Decimal::from(b) - exact).abs() < Decimal::ONE, "{after:?}");
        }
    }
}
