//! Waterfall properties: sources = uses to the minor unit, sequential order, triggers that
//! switch exactly at their condition.

mod common;

use abs::*;
use common::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// Three sequential seniors and an equity tranche, fees of every kind, a reserve, an
/// optional revolving period and a cumulative-default trigger.
fn deal(
    pool: i64,
    cuts: (i64, i64, i64),
    coupons: [u32; 3],
    reserve_bp: u32,
    revolving: bool,
) -> Deal {
    let (a, b, c) = cuts;
    let mut deal = base_deal(
        pool,
        vec![
            bond(
                "A",
                a,
                Decimal::new(coupons[0].into(), 4),
                BondKind::Amortizing,
            ),
            bond(
                "B",
                b,
                Decimal::new(coupons[1].into(), 4),
                BondKind::Amortizing,
            ),
            bond(
                "C",
                c,
                Decimal::new(coupons[2].into(), 4),
                BondKind::Amortizing,
            ),
            bond("E", pool - a - b - c, dec!(0), BondKind::Equity),
        ],
        vec![
            fee("trustee"),
            fee("servicer"),
            fee("arranger"),
            fee("backup servicer"),
            interest(&["A", "B"]),
            interest(&["C"]),
            Step::Purchase,
            Step::TopUpReserve {
                account: "reserve".into(),
            },
            seq(&["A", "B", "C", "E"], PrincipalLimit::PrincipalAmount),
            Step::PayResidual { bond: "E".into() },
        ],
    );
    deal.fees = vec![
        Fee {
            name: "trustee".into(),
            kind: FeeKind::FixedMinor(5_000),
        },
        Fee {
            name: "servicer".into(),
            kind: FeeKind::PoolFraction(dec!(0.012)),
        },
        Fee {
            name: "arranger".into(),
            kind: FeeKind::TargetMinor(250_000),
        },
        Fee {
            name: "backup servicer".into(),
            kind: FeeKind::PoolFractionPerPeriod(dec!(0.0002)),
        },
    ];
    deal.accounts.push(Account {
        name: "reserve".into(),
        kind: AccountKind::Reserve {
            target: ReserveTarget::PoolFraction(Decimal::new(reserve_bp.into(), 4)),
        },
        opening_balance_minor: 0,
    });
    deal.dates.revolving_end = revolving.then(|| date(2026, 6, 1));
    if !revolving {
        deal.waterfalls.normal.retain(|s| *s != Step::Purchase);
    }
    deal.cleanup_call = Some(CleanUpCall {
        pool_fraction: dec!(0.2),
    });
    deal.waterfalls.cleanup = vec![
        interest(&["A", "B", "C"]),
        seq(&["A", "B", "C", "E"], PrincipalLimit::AllFunds),
        Step::PayResidual { bond: "E".into() },
    ];
    deal.waterfalls.accelerated = vec![
        fee("trustee"),
        interest(&["A", "B", "C"]),
        seq(&["A", "B", "C", "E"], PrincipalLimit::AllFunds),
    ];
    deal.triggers = vec![Trigger {
        name: "cdr".into(),
        condition: TriggerCondition::CumulativeDefaultAbove {
            curve: vec![
                CurveStep {
                    from: date(2026, 2, 1),
                    rate: dec!(0.01),
                },
                CurveStep {
                    from: date(2026, 6, 1),
                    rate: dec!(0.03),
                },
            ],
        },
        curable: true,
    }];
    deal
}

fn deal_strategy() -> impl Strategy<Value = Deal> {
    (
        1_000_000i64..10_000_000_000,
        0u32..100,
        0u32..100,
        0u32..100,
        prop::array::uniform3(0u32..1500),
        0u32..500,
        any::<bool>(),
    )
        .prop_map(|(pool, a, b, c, coupons, reserve_bp, revolving)| {
            let a_minor = pool / 100 * i64::from(a) / 2;
            let b_minor = pool / 100 * i64::from(b) / 4;
            let c_minor = pool / 100 * i64::from(c) / 4;
            deal(
                pool,
                (a_minor, b_minor, c_minor),
                coupons,
                reserve_bp,
                revolving,
            )
        })
}

/// Per period: (interest, principal, recovery, default) as fractions (basis points) of the
/// pool's balance at the start of the period, so they never exceed it.
fn flows_strategy() -> impl Strategy<Value = Vec<(u32, u32, u32, u32, bool)>> {
    prop::collection::vec(
        (0u32..200, 0u32..3000, 0u32..200, 0u32..400, any::<bool>()),
        1..14,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sources_equal_uses_and_sequential_order_holds(deal in deal_strategy(), flows in flows_strategy()) {
        deal.validate().unwrap();
        let mut state = DealState::at_closing(&deal);
        for (n, (i_bp, p_bp, r_bp, d_bp, try_call)) in flows.into_iter().enumerate() {
            let pool = state.pool_balance_minor;
            let bp = |x: u32| pool / 10_000 * i64::from(x);
            let principal = bp(p_bp);
            let default = bp(d_bp).min(pool - principal);
            let c = Collections { interest_minor: bp(i_bp), principal_minor: principal, recovery_minor: bp(r_bp), new_default_minor: default };
            let period = on(deal.dates.payment_date(n as u32).unwrap());
            let period = Period {
                exercise_call: try_call && call_exercisable(&deal, pool - principal - default),
                ..period
            };
            let (next, p) = run_period(&deal, &state, &c, &period).unwrap();
            prop_assert_eq!(p.sources_minor(), p.uses_minor());
            for v in p.fees_paid_minor.iter().chain(&p.interest_paid_minor).chain(&p.principal_paid_minor)
                .chain(&p.residual_paid_minor).chain(&p.accounts_closing_minor) {
                prop_assert!(*v >= 0);
            }
            for (f, due) in p.fees_paid_minor.iter().zip(&p.fees_due_minor) {
                prop_assert!(f <= due);
            }
            // Sequential: a bond is paid principal only once every bond before it is at zero.
            for j in 1..4 {
                if p.principal_paid_minor[j] > 0 {
                    for i in 0..j {
                        prop_assert_eq!(next.bonds[i].balance_minor, 0, "bond {} paid before bond {}", j, i);
                    }
                }
            }
            // Interest is paid pro rata within a step, never above what is due.
            for (paid, due) in p.interest_paid_minor.iter().zip(&p.interest_due_minor) {
                prop_assert!(paid <= due);
            }
            prop_assert!(next.bonds.iter().all(|b| b.balance_minor >= 0));
            let expected_pool = if p.waterfall == WaterfallKind::CleanUp {
                prop_assert_eq!(p.call_proceeds_minor, pool - principal - default);
                0
            } else {
                pool - principal - default + p.purchased_balance_minor
            };
            prop_assert_eq!(next.pool_balance_minor, expected_pool);
            if p.purchase_paid_minor > 0 {
                prop_assert!(p.revolving && p.waterfall == WaterfallKind::Normal);
            }
            state = next;
            if state.called {
                break;
            }
        }
    }

    #[test]
    fn the_cumulative_default_trigger_switches_exactly_above_the_curve(
        pool in 1_000_000i64..1_000_000_000,
        defaults in prop::collection::vec(0i64..2_000_000, 1..8),
    ) {
        let deal = deal(pool, (pool / 2, pool / 4, 0), [300, 400, 500], 100, false);
        let mut state = DealState::at_closing(&deal);
        let mut cumulative = 0i64;
        for (n, d) in defaults.into_iter().enumerate() {
            let d = d.min(state.pool_balance_minor);
            cumulative += d;
            let date = deal.dates.payment_date(n as u32).unwrap();
            let limit = if date >= common::date(2026, 6, 1) { 3 } else { 1 };
            let (next, p) = run_period(&deal, &state, &collections(0, 0, d), &on(date)).unwrap();
            // cumulative / pool > limit% ⇔ cumulative × 100 > limit × pool (exact integers).
            let expected = i128::from(cumulative) * 100 > i128::from(limit) * i128::from(pool);
            prop_assert_eq!(p.triggers[0], expected);
            prop_assert_eq!(p.waterfall == WaterfallKind::Accelerated, expected);
            state = next;
        }
    }
}

#[test]
fn the_trigger_is_off_at_the_curve_and_on_one_unit_above() {
    let deal = cumulative_default_deal();
    let s0 = DealState::at_closing(&deal);
    // February's step is 1% of 100,000,000 = 1,000,000.
    let (_, at) = run_period(
        &deal,
        &s0,
        &collections(0, 0, 1_000_000),
        &on(date(2026, 2, 1)),
    )
    .unwrap();
    assert_eq!(at.triggers, [false]);
    let (_, above) = run_period(
        &deal,
        &s0,
        &collections(0, 0, 1_000_001),
        &on(date(2026, 2, 1)),
    )
    .unwrap();
    assert_eq!(above.triggers, [true]);
    assert_eq!(above.waterfall, WaterfallKind::Accelerated);
    // Before the curve's first step there is no test at all.
    let mut early = deal.clone();
    early.dates.first_payment = date(2026, 1, 20);
    let (_, none) = run_period(
        &early,
        &s0,
        &collections(0, 0, 50_000_000),
        &on(date(2026, 1, 20)),
    )
    .unwrap();
    assert_eq!(none.triggers, [false]);
}

#[test]
fn the_excess_spread_trigger_switches_below_its_floor_only() {
    // Pool 100,000,000; A 80,000,000 at 3.65% for 10 days = 80,000 interest; fixed fee 20,000;
    // interest collected 150,000: spread 50,000 / 100,000,000 × 365/10 = 1.825% a year.
    let mut deal = senior_equity_deal();
    deal.fees = vec![Fee {
        name: "trustee".into(),
        kind: FeeKind::FixedMinor(20_000),
    }];
    deal.bonds[0].coupon = dec!(0.0365);
    deal.waterfalls.normal.retain(|s| *s != fee("servicer"));
    deal.waterfalls.accelerated =
        vec![interest(&["A"]), seq(&["A", "E"], PrincipalLimit::AllFunds)];
    let with_floor = |floor: Decimal| {
        let mut d = deal.clone();
        d.triggers = vec![Trigger {
            name: "excess spread".into(),
            condition: TriggerCondition::ExcessSpreadBelow { floor },
            curable: true,
        }];
        d.validate().unwrap();
        let s0 = DealState::at_closing(&d);
        run_period(&d, &s0, &collections(150_000, 0, 0), &on(date(2026, 1, 11)))
            .unwrap()
            .1
    };
    let at = with_floor(dec!(0.01825));
    assert_eq!(at.excess_spread, Some(dec!(0.01825)));
    assert_eq!(at.triggers, [false], "at the floor is not below it");
    let above = with_floor(dec!(0.018251));
    assert_eq!(above.triggers, [true]);
    assert_eq!(above.waterfall, WaterfallKind::Accelerated);
}

#[test]
fn a_bond_above_its_target_trips_the_trigger_for_the_next_period() {
    // T targets 80% of the pool; the normal waterfall pays T only from the principal amount.
    let mut deal = base_deal(
        100_000_000,
        vec![
            bond(
                "T",
                80_000_000,
                dec!(0),
                BondKind::TargetBalance {
                    pool_fraction: dec!(0.8),
                },
            ),
            bond("E", 20_000_000, dec!(0), BondKind::Equity),
        ],
        vec![Step::PayPrincipal {
            bonds: names(&["T"]),
            mode: PrincipalMode::ToTarget,
            limit: PrincipalLimit::PrincipalAmount,
        }],
    );
    deal.waterfalls.accelerated = vec![seq(&["T", "E"], PrincipalLimit::AllFunds)];
    deal.triggers = vec![Trigger {
        name: "T above target".into(),
        condition: TriggerCondition::BondAboveTarget { bond: "T".into() },
        curable: true,
    }];
    deal.validate().unwrap();
    let s0 = DealState::at_closing(&deal);
    // 10,000,000 principal: target 72,000,000, so T gets 8,000,000 and stays on target.
    let (s1, p1) = run_period(
        &deal,
        &s0,
        &collections(0, 10_000_000, 0),
        &on(date(2026, 2, 1)),
    )
    .unwrap();
    assert_eq!(p1.principal_paid_minor, [8_000_000, 0]);
    assert_eq!(p1.triggers, [false]);
    // 5,000,000 defaults and no cash: target 68,000,000, T stays at 72,000,000 — above.
    let (s2, p2) = run_period(
        &deal,
        &s1,
        &collections(0, 0, 5_000_000),
        &on(date(2026, 3, 1)),
    )
    .unwrap();
    assert_eq!(
        p2.waterfall,
        WaterfallKind::Normal,
        "tested after this period's waterfall"
    );
    assert_eq!(p2.triggers, [true]);
    // Next period: accelerated, all cash to T.
    let (_, p3) = run_period(
        &deal,
        &s2,
        &collections(0, 1_000_000, 0),
        &on(date(2026, 4, 1)),
    )
    .unwrap();
    assert_eq!(p3.waterfall, WaterfallKind::Accelerated);
    assert_eq!(p3.principal_paid_minor, [1_000_000, 0]);
}
