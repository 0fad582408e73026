use super::*;
use crate::product::FeeCollection;
use proptest::prelude::*;
use rust_decimal_macros::dec;

fn d(s: &str) -> BusinessDate {
    s.parse().unwrap()
}

fn terms(
    principal_minor: i64,
    term_months: u32,
    method: RepaymentMethod,
    rate: ContractRate,
) -> ScheduleTerms {
    ScheduleTerms {
        principal: Money::from_minor(principal_minor, Currency::Cny),
        disbursed_on: d("2026-01-15"),
        repayment: RepaymentTerms {
            term_months,
            method,
            rate,
            day_count: DayCount::Act360,
            rounding: RoundingMode::HalfUp,
            repayment_day: RepaymentDayRule::DisbursementDay,
            origination_fee: None,
        },
    }
}

fn monthly(text: &str) -> ContractRate {
    ContractRate::Monthly(text.parse().unwrap())
}

fn daily(text: &str) -> ContractRate {
    ContractRate::Daily(text.parse().unwrap())
}

/// (principal, interest, total) per installment.
fn parts(schedule: &Schedule) -> Vec<(i64, i64, i64)> {
    schedule
        .installments
        .iter()
        .map(|i| (i.principal_minor, i.interest_minor, i.total_minor))
        .collect()
}

#[test]
fn worked_example_annuity_monthly_rate_half_up() {
    // 10,000.00 CNY, 12 months, 1.5% a month, interest rounded half-up each period.
    let schedule = generate(&terms(
        1_000_000,
        12,
        RepaymentMethod::Annuity,
        monthly("1.5%"),
    ))
    .unwrap();
    let totals: Vec<i64> = schedule
        .installments
        .iter()
        .map(|i| i.total_minor)
        .collect();
    assert_eq!(totals[..11], [91_680; 11]);
    assert_eq!(totals[11], 91_681);
    assert_eq!(schedule.total_interest_minor, 100_161);
    assert_eq!(schedule.installments[0].interest_minor, 15_000);
    assert_eq!(schedule.installments[11].due_date, d("2027-01-15"));
    // 1.5% a month with no odd days is 18% a year, both by Appendix J and by IRR.
    assert_eq!(schedule.apr_percent(), Ok(dec!(18.00)));
    assert_eq!(schedule.irr_annual_percent(), Ok(dec!(18.00)));
}

#[test]
fn daily_rate_charges_actual_days() {
    // 0.05%/day ACT/360 sizes the installment at 1.5% a month: 15,000 / (1 − 1.015^−3)
    // = 343,382.96 → 343,383. Interest: 31 days → 15,500; 28 days on 672,117 →
    // 9,409.638 → 9,410; 31 days on 338,144 → 5,241.232 → 5,241; the last takes 338,144.
    let schedule = generate(&terms(
        1_000_000,
        3,
        RepaymentMethod::Annuity,
        daily("0.05%"),
    ))
    .unwrap();
    assert_eq!(
        parts(&schedule),
        [
            (327_883, 15_500, 343_383),
            (333_973, 9_410, 343_383),
            (338_144, 5_241, 343_385)
        ]
    );
}

#[test]
fn equal_principal_interest_only_and_bullet() {
    let ep = generate(&terms(
        1_000_000,
        3,
        RepaymentMethod::EqualPrincipal,
        monthly("1%"),
    ))
    .unwrap();
    assert_eq!(
        parts(&ep),
        [
            (333_333, 10_000, 343_333),
            (333_333, 6_667, 340_000),
            (333_334, 3_333, 336_667)
        ]
    );
    let io = generate(&terms(
        1_000_000,
        3,
        RepaymentMethod::InterestOnly,
        monthly("1%"),
    ))
    .unwrap();
    assert_eq!(
        parts(&io),
        [
            (0, 10_000, 10_000),
            (0, 10_000, 10_000),
            (1_000_000, 10_000, 1_010_000)
        ]
    );
    // Jan 15 → Apr 15 2026 is 90 days at 0.05% a day.
    let bullet = generate(&terms(
        1_000_000,
        3,
        RepaymentMethod::Bullet,
        daily("0.05%"),
    ))
    .unwrap();
    assert_eq!(parts(&bullet), [(1_000_000, 45_000, 1_045_000)]);
    assert_eq!(bullet.installments[0].due_date, d("2026-04-15"));
    // Appendix J single payment: 4.5% over a 90-day term is 4.5% × 365/90 = 18.25%.
    assert_eq!(bullet.apr_percent(), Ok(dec!(18.25)));
}

#[test]
fn annual_rate_charges_a_twelfth_per_month() {
    let rate = ContractRate::Annual("12%".parse().unwrap());
    let schedule = generate(&terms(1_000_000, 12, RepaymentMethod::Annuity, rate)).unwrap();
    let by_monthly = generate(&terms(
        1_000_000,
        12,
        RepaymentMethod::Annuity,
        monthly("1%"),
    ))
    .unwrap();
    assert_eq!(schedule.installments[0].interest_minor, 10_000);
    assert_eq!(parts(&schedule), parts(&by_monthly));
    // 10% a year is not a whole number of basis points a month; interest stays exact:
    // 1,000,000 × 0.10 / 12 = 8,333.33 → 8,333.
    let rate = ContractRate::Annual("10%".parse().unwrap());
    let schedule = generate(&terms(1_000_000, 12, RepaymentMethod::Annuity, rate)).unwrap();
    assert_eq!(schedule.installments[0].interest_minor, 8_333);
}

#[test]
fn due_dates_clamp_to_month_end_without_drifting() {
    let jan31 = d("2026-01-31");
    let dates: Vec<String> = (1..=4)
        .map(|k| {
            due_date(jan31, RepaymentDayRule::DisbursementDay, k)
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        dates,
        ["2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]
    );
    let fixed: Vec<String> = (1..=2)
        .map(|k| {
            due_date(d("2027-12-10"), RepaymentDayRule::FixedDay(30), k)
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(fixed, ["2028-01-30", "2028-02-29"]);
}

#[test]
fn origination_fee_spread_or_upfront() {
    let mut t = terms(1_000_000, 12, RepaymentMethod::Annuity, monthly("1.5%"));
    t.repayment.origination_fee = Some(OriginationFee {
        rate_fraction: dec!(0.02),
        collection: FeeCollection::Spread,
    });
    let spread = generate(&t).unwrap();
    let fees: Vec<i64> = spread.installments.iter().map(|i| i.fee_minor).collect();
    assert_eq!(
        fees,
        [1667, 1667, 1667, 1667, 1667, 1667, 1667, 1667, 1666, 1666, 1666, 1666]
    );
    assert_eq!(
        (spread.total_fee_minor, spread.upfront_fee_minor),
        (20_000, 0)
    );
    assert_eq!(spread.installments[0].total_minor, 91_680 + 1667);
    t.repayment.origination_fee.as_mut().unwrap().collection = FeeCollection::Upfront;
    let upfront = generate(&t).unwrap();
    assert_eq!(
        (upfront.total_fee_minor, upfront.upfront_fee_minor),
        (20_000, 20_000)
    );
    // Same fee, paid earlier, costs the borrower more.
    assert!(upfront.apr_percent().unwrap() > spread.apr_percent().unwrap());
    assert!(spread.apr_percent().unwrap() > dec!(18.00));
}

#[test]
fn out_of_bounds_terms_are_errors() {
    let ok = terms(1_000_000, 12, RepaymentMethod::Annuity, monthly("1.5%"));
    let mut t = ok;
    t.principal = Money::from_minor(0, Currency::Cny);
    assert_eq!(generate(&t), Err(ScheduleError::Principal));
    t = ok;
    t.repayment.term_months = 0;
    assert_eq!(generate(&t), Err(ScheduleError::Term));
    t = terms(1_000_000, 61, RepaymentMethod::Bullet, monthly("1%"));
    assert_eq!(generate(&t), Err(ScheduleError::Term));
    t = ok;
    t.repayment.rate = monthly("0.0000000000001");
    assert_eq!(generate(&t), Err(ScheduleError::Rate));
    t = ok;
    t.repayment.repayment_day = RepaymentDayRule::FixedDay(0);
    assert_eq!(generate(&t), Err(ScheduleError::RepaymentDay));
}

fn plan(method: RepaymentMethod, rate: ContractRate, term_months: u32) -> SchedulePlan {
    SchedulePlan::new(terms(1_000_000, term_months, method, rate).repayment).unwrap()
}

#[test]
fn reamortizing_charges_the_cut_period_by_days() {
    let dates = [d("2026-03-15"), d("2026-04-15")];
    // Monthly 1.5% is 18% a year: 18 days of ACT/360 on 1,000,000 is exactly 9,000.
    let monthly_plan = plan(RepaymentMethod::Annuity, monthly("1.5%"), 3);
    let spread = monthly_plan
        .reamortize(1_000_000, d("2026-02-25"), &dates, Reshape::SpreadOverDates)
        .unwrap();
    assert_eq!(spread[0].interest_minor, 9_000);
    assert_eq!(
        spread.iter().map(|i| i.principal_minor).sum::<i64>(),
        1_000_000
    );
    // Then a full month at 1.5% on what is left.
    let left = spread[1].principal_minor;
    let expected = RoundingMode::HalfUp
        .round_minor(Decimal::from(left) * dec!(0.015))
        .unwrap();
    assert_eq!(spread[1].interest_minor, expected);
    // Annual 12% with 10 days cut: 1,000,000 × 0.12 × 10 / 360 = 3,333.33 → 3,333.
    let annual = ContractRate::Annual("12%".parse().unwrap());
    let io = plan(RepaymentMethod::InterestOnly, annual, 3)
        .reamortize(1_000_000, d("2026-03-05"), &dates, Reshape::SpreadOverDates)
        .unwrap();
    let io_parts: Vec<(i64, i64)> = io
        .iter()
        .map(|i| (i.principal_minor, i.interest_minor))
        .collect();
    assert_eq!(io_parts, [(0, 3_333), (1_000_000, 10_000)]);
}

#[test]
fn keeping_the_installment_finishes_earlier() {
    let annuity = plan(RepaymentMethod::Annuity, daily("0.05%"), 3);
    let dates = [d("2026-03-15"), d("2026-04-15")];
    // 272,117 left on Feb 25: 18 days cost 2,449.053 → 2,449, and the kept installment of
    // 343,383 clears the rest on Mar 15, so Apr 15 is dropped.
    let kept = annuity
        .reamortize(
            272_117,
            d("2026-02-25"),
            &dates,
            Reshape::KeepInstallment(343_383),
        )
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].principal_minor, kept[0].interest_minor),
        (272_117, 2_449)
    );
    // Lowering the installment instead keeps both dates at about half the amount.
    let lowered = annuity
        .reamortize(272_117, d("2026-02-25"), &dates, Reshape::SpreadOverDates)
        .unwrap();
    assert_eq!(lowered.len(), 2);
    assert_eq!(lowered[0].interest_minor, 2_449);
    assert!(lowered[0].total_minor < 343_383 / 2 + 2_449);
    assert_eq!(
        lowered.iter().map(|i| i.principal_minor).sum::<i64>(),
        272_117
    );
    let equal = plan(RepaymentMethod::EqualPrincipal, monthly("1%"), 3);
    let kept = equal
        .reamortize(
            400_000,
            d("2026-02-25"),
            &dates,
            Reshape::KeepPrincipalPart(333_333),
        )
        .unwrap();
    assert_eq!(
        kept.iter().map(|i| i.principal_minor).collect::<Vec<_>>(),
        [333_333, 66_667]
    );
    let bad_dates = [d("2026-04-15"), d("2026-03-15")];
    assert_eq!(
        annuity.reamortize(1, d("2026-02-25"), &bad_dates, Reshape::SpreadOverDates),
        Err(ScheduleError::Date)
    );
    assert_eq!(
        annuity.reamortize(1, d("2026-03-15"), &dates, Reshape::SpreadOverDates),
        Err(ScheduleError::Date)
    );
}

#[test]
fn round_ratio_matches_the_named_modes() {
    // Past i64 the 128-bit path takes over; both must round alike.
    let big = i128::from(i64::MAX / 2) * 1000 + 500;
    let cases = [
        (5, 2),
        (7, 2),
        (-5, 2),
        (-7, 2),
        (1, 3),
        (2, 3),
        (-2, 3),
        (0, 7),
        (big, 1000),
        (-big, 1000),
        (big + 1000, 1000),
        (big, 10i128.pow(20)),
    ];
    for (num, den) in cases {
        for mode in [
            RoundingMode::HalfUp,
            RoundingMode::HalfEven,
            RoundingMode::Down,
        ] {
            let expected = mode
                .round_minor(Decimal::from(num) / Decimal::from(den))
                .unwrap();
            assert_eq!(
                round_ratio(num, den, mode),
                i128::from(expected),
                "{num}/{den} {mode:?}"
            );
        }
    }
}

fn any_rate() -> impl Strategy<Value = ContractRate> {
    prop_oneof![
        (0i64..=500).prop_map(|bp| ContractRate::Monthly(
            money::RateMonthly::from_fraction(Decimal::new(bp, 4)).unwrap()
        )),
        (0i64..=2_000).prop_map(|p| ContractRate::Daily(
            money::RateDaily::from_fraction(Decimal::new(p, 6)).unwrap()
        )),
        (0i64..=3_600_000).prop_map(|p| ContractRate::Annual(
            money::RateAnnual::from_fraction(Decimal::new(p, 7)).unwrap()
        )),
    ]
}

fn any_terms() -> impl Strategy<Value = ScheduleTerms> {
    let method = prop_oneof![
        Just(RepaymentMethod::Annuity),
        Just(RepaymentMethod::EqualPrincipal),
        Just(RepaymentMethod::InterestOnly),
        Just(RepaymentMethod::Bullet),
    ];
    let rounding = prop_oneof![
        Just(RoundingMode::HalfUp),
        Just(RoundingMode::HalfEven),
        Just(RoundingMode::Down)
    ];
    let day_count = prop_oneof![
        Just(DayCount::Act360),
        Just(DayCount::Act365F),
        Just(DayCount::Thirty360)
    ];
    let day_rule = prop_oneof![
        Just(RepaymentDayRule::DisbursementDay),
        (1u8..=31).prop_map(RepaymentDayRule::FixedDay)
    ];
    (
        1i64..=LOAN_AMOUNT_MINOR_MAX,
        1u32..=60,
        method,
        any_rate(),
        rounding,
        day_count,
        day_rule,
        0i32..4000,
    )
        .prop_map(
            |(
                principal_minor,
                term_months,
                method,
                rate,
                rounding,
                day_count,
                repayment_day,
                offset,
            )| ScheduleTerms {
                principal: Money::from_minor(principal_minor, Currency::Cny),
                disbursed_on: BusinessDate::from_epoch_days(19_000 + offset).unwrap(),
                repayment: RepaymentTerms {
                    term_months,
                    method,
                    rate,
                    day_count,
                    rounding,
                    repayment_day,
                    origination_fee: None,
                },
            },
        )
}

/// round(exact) with the terms' rounding; `exact` in minor units.
fn rounded(t: &ScheduleTerms, exact: Decimal) -> i64 {
    t.repayment.rounding.round_minor(exact).unwrap()
}

proptest! {
    #[test]
    fn fast_path_is_bit_identical_to_the_decimal_reference(t in any_terms()) {
        prop_assert_eq!(generate(&t), generate_reference(&t));
    }

    #[test]
    fn principal_sums_to_the_amount_and_parts_add_up(t in any_terms()) {
        let s = generate(&t).unwrap();
        let expected_count = if t.repayment.method == RepaymentMethod::Bullet { 1 } else { t.repayment.term_months as usize };
        prop_assert_eq!(s.installments.len(), expected_count);
        prop_assert_eq!(s.installments.iter().map(|i| i.principal_minor).sum::<i64>(), t.principal.amount_minor());
        prop_assert_eq!(s.installments.iter().map(|i| i.interest_minor).sum::<i64>(), s.total_interest_minor);
        let mut previous = t.disbursed_on;
        for i in &s.installments {
            prop_assert!(i.principal_minor >= 0 && i.interest_minor >= 0);
            prop_assert_eq!(i.total_minor, i.principal_minor + i.interest_minor + i.fee_minor);
            prop_assert!(i.due_date > previous);
            previous = i.due_date;
        }
    }

    #[test]
    fn interest_of_each_period_is_the_rounded_balance_times_rate(t in any_terms()) {
        let s = generate(&t).unwrap();
        let mut balance = t.principal.amount_minor();
        let mut start = t.disbursed_on;
        // A bullet's single period spans the whole term: n months, or its days.
        let months = match t.repayment.method {
            RepaymentMethod::Bullet => Decimal::from(t.repayment.term_months),
            _ => Decimal::ONE,
        };
        for i in &s.installments {
            let b = Decimal::from(balance);
            let exact = match t.repayment.rate {
                ContractRate::Monthly(r) => b * r.fraction() * months,
                ContractRate::Annual(r) => b * r.fraction() * months / dec!(12),
                ContractRate::Daily(r) => b * r.fraction() * Decimal::from(t.repayment.day_count.days_between(start, i.due_date)),
            };
            prop_assert_eq!(i.interest_minor, rounded(&t, exact));
            balance -= i.principal_minor;
            start = i.due_date;
        }
    }

    #[test]
    fn annuity_installments_match_the_closed_form(
        principal_minor in 100_000i64..=1_000_000_000,
        term_months in 1u32..=60,
        bp in 0i64..=500,
        t0 in any_terms(),
    ) {
        let r = Decimal::new(bp, 4);
        let mut t = t0;
        t.principal = Money::from_minor(principal_minor, Currency::Cny);
        t.repayment.method = RepaymentMethod::Annuity;
        t.repayment.term_months = term_months;
        t.repayment.rate = ContractRate::Monthly(money::RateMonthly::from_fraction(r).unwrap());
        let s = generate(&t).unwrap();
        // Written as P·r·(1+r)^n / ((1+r)^n − 1), a different evaluation from the code's.
        let p = Decimal::from(principal_minor);
        let exact = if r.is_zero() {
            p / Decimal::from(term_months)
        } else {
            let growth = (Decimal::ONE + r).powi(i64::from(term_months));
            p * r * growth / (growth - Decimal::ONE)
        };
        let level = rounded(&t, exact);
        let (last, rest) = s.installments.split_last().unwrap();
        for i in rest {
            prop_assert_eq!(i.total_minor, level, "installment {}", i.number);
        }
        // The last differs from the level only by rounding carried through the term: the
        // level's and each period's interest rounding (each under one unit) compound at r,
        // so |last − level| < 2·Σ(1+r)^k + 1.
        let compounded: Decimal = (0..term_months).map(|k| (Decimal::ONE + r).powi(i64::from(k))).sum();
        let bound = dec!(2) * compounded + Decimal::ONE;
        prop_assert!(Decimal::from((last.total_minor - level).abs()) < bound);
    }

    #[test]
    fn equal_principal_parts_are_amount_over_n_with_residue_last(t0 in any_terms()) {
        let mut t = t0;
        t.repayment.method = RepaymentMethod::EqualPrincipal;
        let s = generate(&t).unwrap();
        let n = i64::from(t.repayment.term_months);
        let part = t.principal.amount_minor() / n;
        let (last, rest) = s.installments.split_last().unwrap();
        for i in rest {
            prop_assert_eq!(i.principal_minor, part);
        }
        prop_assert_eq!(last.principal_minor, t.principal.amount_minor() - part * (n - 1));
    }
}
