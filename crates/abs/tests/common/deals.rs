//! Deal builders for the waterfall tests.

use abs::*;
use money::{BusinessDate, Currency};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

pub fn date(y: i32, m: u32, d: u32) -> BusinessDate {
    BusinessDate::from_ymd(y, m, d).unwrap()
}

pub fn bond(name: &str, balance_minor: i64, coupon: Decimal, kind: BondKind) -> Bond {
    Bond {
        name: name.into(),
        balance_minor,
        coupon,
        kind,
        floating: None,
    }
}

pub fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn seq(bonds: &[&str], limit: PrincipalLimit) -> Step {
    Step::PayPrincipal {
        bonds: names(bonds),
        mode: PrincipalMode::Sequential,
        limit,
    }
}

pub fn interest(bonds: &[&str]) -> Step {
    Step::PayInterest {
        bonds: names(bonds),
    }
}

pub fn fee(name: &str) -> Step {
    Step::PayFee { fee: name.into() }
}

pub fn collection_account() -> Account {
    Account {
        name: "collection".into(),
        kind: AccountKind::Collection,
        opening_balance_minor: 0,
    }
}

/// A monthly deal closing on 2026-01-01, first paying on 2026-02-01.
pub fn base_deal(pool_minor: i64, bonds: Vec<Bond>, normal: Vec<Step>) -> Deal {
    Deal {
        name: "test deal".into(),
        currency: Currency::Cny,
        dates: DealDates {
            cutoff: date(2025, 12, 31),
            closing: date(2026, 1, 1),
            first_payment: date(2026, 2, 1),
            frequency: Frequency::Monthly,
            revolving_end: None,
            stated_maturity: date(2030, 1, 1),
        },
        pool_balance_minor: pool_minor,
        bonds_sum_to_pool: true,
        accounts: vec![collection_account()],
        fees: Vec::new(),
        bonds,
        waterfalls: Waterfalls {
            normal,
            accelerated: Vec::new(),
            cleanup: Vec::new(),
        },
        triggers: Vec::new(),
        cleanup_call: None,
        purchase_price: dec!(1),
    }
}

/// Static pool of 1,000,000.00 with senior A (800,000.00 at 5%) and equity E; a trustee fee
/// of 100.00 a period and a servicer fee of 1% a year of the pool.
pub fn senior_equity_deal() -> Deal {
    let mut deal = base_deal(
        100_000_000,
        vec![
            bond("A", 80_000_000, dec!(0.05), BondKind::Amortizing),
            bond("E", 20_000_000, dec!(0), BondKind::Equity),
        ],
        vec![
            fee("trustee"),
            fee("servicer"),
            interest(&["A"]),
            seq(&["A", "E"], PrincipalLimit::PrincipalAmount),
            Step::PayResidual { bond: "E".into() },
        ],
    );
    deal.fees = vec![
        Fee {
            name: "trustee".into(),
            kind: FeeKind::FixedMinor(10_000),
        },
        Fee {
            name: "servicer".into(),
            kind: FeeKind::PoolFraction(dec!(0.01)),
        },
    ];
    deal
}

/// Pool 1,000,000.00; three sequential seniors A (4%), B (5%), C (6%).
pub fn three_seniors_deal() -> Deal {
    let mut deal = base_deal(
        100_000_000,
        vec![
            bond("A", 50_000_000, dec!(0.04), BondKind::Amortizing),
            bond("B", 30_000_000, dec!(0.05), BondKind::Amortizing),
            bond("C", 20_000_000, dec!(0.06), BondKind::Amortizing),
        ],
        vec![
            interest(&["A"]),
            interest(&["B"]),
            interest(&["C"]),
            seq(&["A", "B", "C"], PrincipalLimit::PrincipalAmount),
        ],
    );
    deal.dates.closing = date(2026, 4, 1);
    deal.dates.cutoff = date(2026, 4, 1);
    deal.dates.first_payment = date(2026, 5, 1);
    deal
}

/// Senior A (90%, 4.8%) and equity; a cumulative-default trigger on a stepped curve
/// (1% from February, 2% from March, 2.5% from April 2026) switches to a turbo waterfall.
pub fn cumulative_default_deal() -> Deal {
    let mut deal = base_deal(
        100_000_000,
        vec![
            bond("A", 90_000_000, dec!(0.048), BondKind::Amortizing),
            bond("E", 10_000_000, dec!(0), BondKind::Equity),
        ],
        vec![
            interest(&["A"]),
            seq(&["A"], PrincipalLimit::PrincipalAmount),
            Step::PayResidual { bond: "E".into() },
        ],
    );
    deal.waterfalls.accelerated =
        vec![interest(&["A"]), seq(&["A", "E"], PrincipalLimit::AllFunds)];
    deal.triggers = vec![Trigger {
        name: "cumulative default".into(),
        condition: TriggerCondition::CumulativeDefaultAbove {
            curve: vec![
                CurveStep {
                    from: date(2026, 2, 1),
                    rate: dec!(0.01),
                },
                CurveStep {
                    from: date(2026, 3, 1),
                    rate: dec!(0.02),
                },
                CurveStep {
                    from: date(2026, 4, 1),
                    rate: dec!(0.025),
                },
            ],
        },
        curable: false,
    }];
    deal
}

/// A revolving consumer-loan deal: revolving until 2026-03-01, a reserve of 1% of the pool,
/// a clean-up call at 10%, senior A (85% of the pool, 4%) and equity.
pub fn revolving_deal() -> Deal {
    let mut deal = base_deal(
        100_000_000,
        vec![
            bond("A", 85_000_000, dec!(0.04), BondKind::Amortizing),
            bond("E", 15_000_000, dec!(0), BondKind::Equity),
        ],
        vec![
            fee("servicer"),
            interest(&["A"]),
            Step::Purchase,
            Step::TopUpReserve {
                account: "reserve".into(),
            },
            seq(&["A", "E"], PrincipalLimit::PrincipalAmount),
            Step::PayResidual { bond: "E".into() },
        ],
    );
    deal.dates.revolving_end = Some(date(2026, 3, 1));
    deal.accounts.push(Account {
        name: "reserve".into(),
        kind: AccountKind::Reserve {
            target: ReserveTarget::PoolFraction(dec!(0.01)),
        },
        opening_balance_minor: 1_000_000,
    });
    deal.fees = vec![Fee {
        name: "servicer".into(),
        kind: FeeKind::PoolFraction(dec!(0.01)),
    }];
    deal.waterfalls.cleanup = vec![
        interest(&["A"]),
        seq(&["A", "E"], PrincipalLimit::AllFunds),
        Step::PayResidual { bond: "E".into() },
    ];
    deal.cleanup_call = Some(CleanUpCall {
        pool_fraction: dec!(0.1),
    });
    deal
}

pub fn collections(
    interest_minor: i64,
    principal_minor: i64,
    new_default_minor: i64,
) -> Collections {
    Collections {
        interest_minor,
        principal_minor,
        recovery_minor: 0,
        new_default_minor,
    }
}

pub fn on(payment_date: BusinessDate) -> Period {
    Period {
        payment_date,
        exercise_call: false,
        index_rates: Vec::new(),
    }
}
