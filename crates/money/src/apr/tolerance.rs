//! The accuracy tolerance of a disclosed APR, 12 CFR 1026.22(a)(2) and (a)(3).
//!
//! (a)(2): "As a general rule, the annual percentage rate shall be considered accurate if it
//! is not more than 1/8 of 1 percentage point above or below the annual percentage rate
//! determined in accordance with paragraph (a)(1) of this section."
//!
//! (a)(3): "In an irregular transaction, the annual percentage rate shall be considered
//! accurate if it is not more than 1/4 of 1 percentage point above or below the annual
//! percentage rate determined in accordance with paragraph (a)(1) of this section. For
//! purposes of this paragraph (a)(3), an irregular transaction is one that includes one or
//! more of the following features: multiple advances, irregular payment periods, or
//! irregular payment amounts (other than an irregular first period or an irregular first or
//! final payment)."

use crate::Decimal;

/// ⅛ of 1 percentage point, § 1026.22(a)(2).
pub const REGULAR_TOLERANCE_PERCENT: Decimal = Decimal::from_parts(125, 0, 0, false, 3);
/// ¼ of 1 percentage point, § 1026.22(a)(3).
pub const IRREGULAR_TOLERANCE_PERCENT: Decimal = Decimal::from_parts(25, 0, 0, false, 2);

/// Whether `disclosed_percent` is accurate against `actual_percent` (both in percent, e.g.
/// 9.69): within ⅛ point of it for a regular transaction, within ¼ point for an irregular
/// one, the bound itself included ("not more than … above or below").
pub fn within_disclosure_tolerance(
    disclosed_percent: Decimal,
    actual_percent: Decimal,
    regular: bool,
) -> bool {
    let tolerance = if regular {
        REGULAR_TOLERANCE_PERCENT
    } else {
        IRREGULAR_TOLERANCE_PERCENT
    };
    (disclosed_percent - actual_percent).abs() <= tolerance
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn an_eighth_of_a_point_regular_and_a_quarter_irregular_bounds_included() {
        let actual = dec!(9.685708);
        for (disclosed, regular, ok) in [
            (actual + dec!(0.125), true, true),
            (actual - dec!(0.125), true, true),
            (actual + dec!(0.1250001), true, false),
            (actual - dec!(0.1250001), true, false),
            (actual + dec!(0.2), true, false),
            (actual + dec!(0.2), false, true),
            (actual + dec!(0.25), false, true),
            (actual - dec!(0.25), false, true),
            (actual + dec!(0.2500001), false, false),
            (actual - dec!(0.2500001), false, false),
            (actual, true, true),
        ] {
            assert_eq!(
                within_disclosure_tolerance(disclosed, actual, regular),
                ok,
                "{disclosed} vs {actual}, regular {regular}"
            );
        }
        assert_eq!(REGULAR_TOLERANCE_PERCENT, dec!(0.125));
        assert_eq!(IRREGULAR_TOLERANCE_PERCENT, dec!(0.25));
    }
}
