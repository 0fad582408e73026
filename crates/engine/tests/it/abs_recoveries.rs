//! A revolving deal on the live book, on SQLite and PostgreSQL: its purchases keep every
//! borrower within the pool's share limit (one borrower is bought only in part), and cash
//! recovered on a pooled loan after its write-off reaches the deal as recoveries, in the
//! period of the write-off and in later ones. And a pool with a regional limit, by the
//! borrowers' customer profiles.

use abs::{
    Account, AccountKind, Bond, BondKind, Deal, DealDates, Frequency, PrincipalLimit,
    PrincipalMode, Step, Waterfalls,
};
use engine::abs::{self as live, docs, PoolCriteria, PooledLoan};
use engine::cob::{self, CobConfig};
use engine::customers::{self, NewCustomer, NewIndividual, Vault};
use engine::loans::{self, Action, LoanUseError};
use engine::Engine;
use lending::loan::{LoanError, LoanStatus};
use money::{BusinessDate, Currency, Decimal, Money};
use std::collections::BTreeMap;
use uuid::Uuid;
use vault::{Keyring, MasterKey, MasterKeyId};

use crate::abs_live::{balance, d, disburse_12_months, engine_on, TENANT};

fn cny(minor: i64) -> Money {
    Money::from_minor(minor, Currency::Cny)
}

fn revolving_deal() -> Deal {
    let bond = |name: &str, balance_minor, coupon, kind| Bond {
        name: name.into(),
        balance_minor,
        coupon,
        kind,
        floating: None,
    };
    Deal {
        name: "revolving".into(),
        currency: Currency::Cny,
        dates: DealDates {
            cutoff: d("2026-01-15"),
            closing: d("2026-01-15"),
            first_payment: d("2026-02-15"),
            frequency: Frequency::Monthly,
            revolving_end: Some(d("2026-06-15")),
            stated_maturity: d("2028-01-15"),
        },
        pool_balance_minor: 3_000_000,
        bonds_sum_to_pool: false,
        accounts: vec![Account {
            name: "collection".into(),
            kind: AccountKind::Collection,
            opening_balance_minor: 0,
        }],
        fees: Vec::new(),
        bonds: vec![
            bond("A", 2_400_000, Decimal::new(4, 2), BondKind::Amortizing),
            bond("E", 600_000, Decimal::ZERO, BondKind::Equity),
        ],
        waterfalls: Waterfalls {
            normal: vec![
                Step::PayInterest {
                    bonds: vec!["A".into()],
                },
                Step::Purchase,
                Step::PayPrincipal {
                    bonds: vec!["A".into(), "E".into()],
                    mode: PrincipalMode::Sequential,
                    limit: PrincipalLimit::PrincipalAmount,
                },
                Step::PayResidual { bond: "E".into() },
            ],
            accelerated: Vec::new(),
            cleanup: Vec::new(),
        },
        triggers: Vec::new(),
        cleanup_call: None,
        purchase_price: Decimal::ONE,
    }
}

/// A 12-month loan written off at 10 days past due.
async fn disburse(e: &Engine, product_id: Uuid, borrower: &str, amount_minor: i64) -> Uuid {
    disburse_12_months(e, product_id, borrower, amount_minor, 10).await
}

async fn close_through(e: &Engine, to: BusinessDate) {
    while loans::business_date(e).await.unwrap().unwrap() < to {
        cob::close_business_day(e, CobConfig::default(), &|_| {})
            .await
            .unwrap();
    }
}

/// Pays what the loan's first installments ask, up to 120,000.
async fn repay(e: &Engine, id: Uuid, today: BusinessDate) {
    let loan = loans::load(e, id).await.unwrap().loan;
    let due = lending::loan::payoff_minor(&loan).unwrap().min(120_000);
    loans::execute(
        e,
        id,
        Action::Repay { amount: cny(due) },
        today,
        Uuid::now_v7(),
    )
    .await
    .unwrap();
}

async fn recover(e: &Engine, id: Uuid, amount_minor: i64) -> Result<(), LoanUseError> {
    let today = loans::business_date(e).await.unwrap().unwrap();
    let action = Action::Recover {
        amount: cny(amount_minor),
    };
    loans::execute(e, id, action, today, Uuid::now_v7())
        .await
        .map(|_| ())
}

fn by_borrower(lines: &[PooledLoan]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for l in lines {
        *out.entry(l.borrower.clone()).or_insert(0) += l.sold_minor;
    }
    out
}

#[tokio::test]
async fn revolving_purchases_respect_the_borrower_limit_and_recoveries_reach_the_deal() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let e = engine_on(&ts, "2026-01-15").await;
        let product = Uuid::now_v7();
        let a1 = disburse(&e, product, "a", 1_000_000).await;
        let b1 = disburse(&e, product, "b", 1_000_000).await;
        let bad = disburse(&e, product, "x", 1_000_000).await;
        let max = Decimal::new(34, 2);
        let criteria = PoolCriteria {
            product_ids: vec![product],
            borrower_share_max: Some(max),
            loan_ids: Some(vec![a1, b1, bad]),
            ..PoolCriteria::default()
        };
        let id = Uuid::now_v7();
        let deal = revolving_deal();
        let file = serde_json::json!({"name": "revolving"});
        live::create_deal(&e, TENANT, id, file, &deal, Vec::new())
            .await
            .unwrap();
        live::pool_deal(&e, TENANT, id, criteria).await.unwrap();
        live::close_deal(&e, TENANT, id, Uuid::now_v7(), Decimal::ONE, &deal)
            .await
            .unwrap();
        // New receivables for the revolving period, in id order: borrower a's second loan
        // comes first and would take a above its limit.
        let a2 = disburse(&e, product, "a", 1_000_000).await;
        let c1 = disburse(&e, product, "c", 1_000_000).await;

        // A recovery is refused on a live loan.
        assert!(matches!(
            recover(&e, a1, 100).await,
            Err(LoanUseError::Stage { .. })
        ));

        // Period 1: every loan pays on its due dates but x. The purchase buys a2 only up to a's room.
        let p1 = d("2026-02-15");
        close_through(&e, p1).await;
        let paying = [a1, b1, a2, c1];
        for id in paying {
            repay(&e, id, p1).await;
        }
        let run = |n: u32, on: BusinessDate| {
            let (e, deal) = (&e, &deal);
            async move {
                live::run_period(e, TENANT, id, n, Uuid::now_v7(), deal, on, vec![])
                    .await
                    .unwrap()
                    .0
            }
        };
        let period = run(1, p1).await;
        assert!(period.revolving, "{name}");
        let pool = live::deal(&e, id, TENANT).await.unwrap().pool.unwrap();
        let wanted = period.collections.principal_minor;
        assert_eq!(period.purchased_balance_minor, wanted, "{name}: all bought");
        let bought: BTreeMap<Uuid, i64> = pool.loans[3..]
            .iter()
            .map(|l| (l.loan_id, l.sold_minor))
            .collect();
        let held = by_borrower(&pool.loans[..3]);
        let cap: i64 = (max * Decimal::from(period.pool_balance_minor))
            .floor()
            .try_into()
            .unwrap();
        assert_eq!(
            bought[&a2],
            cap - held["a"],
            "{name}: a bought up to its limit"
        );
        assert!(
            bought[&a2] > 0 && bought[&a2] < wanted,
            "{name}: {bought:?}"
        );
        assert_eq!(bought[&c1], wanted - bought[&a2], "{name}: the rest from c");
        for (borrower, has) in by_borrower(&pool.loans) {
            assert!(has <= cap, "{name}: {borrower} holds {has} of {cap}");
        }

        // Period 2: x is written off at 10 days past due; 300,000 is recovered after it.
        close_through(&e, d("2026-03-01")).await;
        let x = loans::load(&e, bad).await.unwrap().loan;
        assert_eq!(x.status, LoanStatus::WrittenOff, "{name}");
        recover(&e, bad, 300_000).await.unwrap();
        let p2 = d("2026-03-15");
        close_through(&e, p2).await;
        for id in paying {
            repay(&e, id, p2).await;
        }
        let period = run(2, p2).await;
        assert_eq!(period.collections.new_default_minor, 1_000_000, "{name}");
        assert_eq!(period.collections.recovery_minor, 300_000, "{name}");

        // Period 3: a later recovery on the written-off line; more than is left is refused.
        close_through(&e, d("2026-03-20")).await;
        let x = loans::load(&e, bad).await.unwrap().loan;
        let claim: i64 = [
            lending::product::Component::Principal,
            lending::product::Component::Interest,
            lending::product::Component::Fee,
            lending::product::Component::Penalty,
        ]
        .map(|c| x.written_off.get(c))
        .iter()
        .sum();
        assert!(matches!(
            recover(&e, bad, claim + 1).await,
            Err(LoanUseError::Loan(LoanError::RecoveryAboveClaim { claim_minor })) if claim_minor == claim
        ));
        recover(&e, bad, 50_000).await.unwrap();
        let p3 = d("2026-04-15");
        close_through(&e, p3).await;
        for id in paying {
            repay(&e, id, p3).await;
        }
        let period = run(3, p3).await;
        assert_eq!(period.collections.new_default_minor, 0, "{name}");
        assert_eq!(period.collections.recovery_minor, 50_000, "{name}");
        let acct = |n: &str| docs::deal_account(id, n);
        assert_eq!(
            balance(&e, acct("spv:recovery_income")).await,
            -350_000,
            "{name}"
        );
        let report = engine::verify(&ts.store, |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
    }
}

fn person(region: &str, seq: u32) -> NewIndividual {
    let first17 = format!("{region}19900307{seq:03}");
    let check = compliance::resident_id_check_char(&first17).unwrap();
    NewIndividual {
        name: "王芳".into(),
        id_number: format!("{first17}{check}"),
        phone: "139 0000 0000".into(),
        bank_card: None,
        birth_date: d("1990-03-07"),
        region_code: region.into(),
        occupation: "clerk".into(),
        student: false,
        currency: Currency::Cny,
        annual_income_minor: 12_000_000,
    }
}

#[tokio::test]
async fn a_region_above_its_share_loses_its_largest_loans() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let e = engine_on(&ts, "2026-01-15").await;
        let vault = Vault::new(Keyring::new(
            MasterKey::from_bytes(
                MasterKeyId(1),
                &core::array::from_fn::<u8, 32, _>(|i| i as u8 * 7 + 3),
            )
            .unwrap(),
        ));
        let borrower = |region: &'static str, seq: u32| {
            let (e, vault) = (&e, &vault);
            async move {
                let id = Uuid::now_v7();
                let new = NewCustomer::Individual(person(region, seq));
                customers::create_customer(e, vault, TENANT, id, new)
                    .await
                    .unwrap();
                id.to_string()
            }
        };
        let (a, b, c, dd) = (
            borrower("110105", 1).await,
            borrower("110105", 2).await,
            borrower("310101", 3).await,
            borrower("440305", 4).await,
        );
        let product = Uuid::now_v7();
        let la = disburse(&e, product, &a, 1_000_000).await;
        let lb = disburse(&e, product, &b, 600_000).await;
        let lc = disburse(&e, product, &c, 1_000_000).await;
        let ld = disburse(&e, product, &dd, 1_000_000).await;
        // 110105 holds 1,600,000 of 3,600,000 (44%): above 40%, its largest loan goes; then
        // it holds 23% and each other region 38%.
        let criteria = |loan_ids| PoolCriteria {
            product_ids: vec![product],
            region_share_max: Some(Decimal::new(4, 1)),
            loan_ids,
            ..PoolCriteria::default()
        };
        let pool = live::pool::select(&e, TENANT, Currency::Cny, &criteria(None), d("2026-01-15"))
            .await
            .unwrap();
        let mut got: Vec<(Uuid, &str)> = pool
            .iter()
            .map(|l| (l.loan_id, l.region.as_str()))
            .collect();
        got.sort();
        let mut want = vec![(lb, "110105"), (lc, "310101"), (ld, "440305")];
        want.sort();
        assert_eq!(got, want, "{name}");
        // Forced, the four are refused naming the rule; a limit of 0 is out of range.
        let forced = criteria(Some(vec![la, lb, lc, ld]));
        let err = live::pool::select(&e, TENANT, Currency::Cny, &forced, d("2026-01-15")).await;
        match err {
            Err(live::AbsError::Invalid { field, code, .. }) => {
                assert_eq!(
                    (field.as_str(), code),
                    ("criteria.region_share_max", "ineligible_loan")
                )
            }
            other => panic!("{name}: {:?}", other.map(|p| p.len())),
        }
        let zero = PoolCriteria {
            region_share_max: Some(Decimal::ZERO),
            ..criteria(None)
        };
        let err = live::pool::select(&e, TENANT, Currency::Cny, &zero, d("2026-01-15")).await;
        assert!(
            matches!(
                err,
                Err(live::AbsError::Invalid {
                    code: "out_of_range",
                    ..
                })
            ),
            "{name}"
        );
    }
}

/// The clean-up call on a stored deal: refused above its threshold (nothing kept), then
/// exercised: the platform buys back the pool left at par, the clean-up waterfall pays the
/// bonds out of everything, the SPV holds no receivable, and the deal runs no more periods.
#[tokio::test]
async fn a_clean_up_call_buys_back_the_pool_and_ends_the_deal() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let e = engine_on(&ts, "2026-01-15").await;
        let product = Uuid::now_v7();
        let ids = [
            disburse(&e, product, "a", 1_000_000).await,
            disburse(&e, product, "b", 1_000_000).await,
        ];
        let mut deal = revolving_deal();
        deal.pool_balance_minor = 2_000_000;
        deal.bonds[0].balance_minor = 1_600_000;
        deal.bonds[1].balance_minor = 400_000;
        deal.dates.revolving_end = None;
        deal.waterfalls
            .normal
            .retain(|s| !matches!(s, Step::Purchase));
        deal.waterfalls.cleanup = vec![
            Step::PayInterest {
                bonds: vec!["A".into()],
            },
            Step::PayPrincipal {
                bonds: vec!["A".into(), "E".into()],
                mode: PrincipalMode::Sequential,
                limit: PrincipalLimit::AllFunds,
            },
            Step::PayResidual { bond: "E".into() },
        ];
        let id = Uuid::now_v7();
        let file = serde_json::json!({"name": "called"});
        let criteria = PoolCriteria {
            product_ids: vec![product],
            loan_ids: Some(ids.to_vec()),
            ..PoolCriteria::default()
        };
        let run = |call: bool, n: u32, on: &str, deal: abs::Deal| {
            let e = &e;
            let period = abs::Period {
                payment_date: d(on),
                exercise_call: call,
                index_rates: Vec::new(),
            };
            async move { live::run_period_with(e, TENANT, (id, &deal), n, Uuid::now_v7(), period).await }
        };
        // At most 90% of the pool left: not yet after one month's principal.
        deal.cleanup_call = Some(abs::CleanUpCall {
            pool_fraction: Decimal::new(9, 1),
        });
        live::create_deal(&e, TENANT, id, file, &deal, Vec::new())
            .await
            .unwrap();
        live::pool_deal(&e, TENANT, id, criteria).await.unwrap();
        live::close_deal(&e, TENANT, id, Uuid::now_v7(), Decimal::ONE, &deal)
            .await
            .unwrap();
        close_through(&e, d("2026-02-15")).await;
        for l in ids {
            repay(&e, l, d("2026-02-15")).await;
        }
        match run(true, 1, "2026-02-15", deal.clone()).await {
            Err(live::AbsError::Invalid { field, .. }) => assert_eq!(field, "exercise_call"),
            other => panic!("{name}: {:?}", other.map(|p| p.0.n)),
        }
        assert!(live::deal(&e, id, TENANT).await.unwrap().periods.is_empty());
        let first = run(false, 1, "2026-02-15", deal.clone()).await.unwrap().0;
        assert!(!first.called);
        close_through(&e, d("2026-03-15")).await;
        for l in ids {
            repay(&e, l, d("2026-03-15")).await;
        }
        let (called, _) = run(true, 2, "2026-03-15", deal.clone()).await.unwrap();
        let stored = live::deal(&e, id, TENANT).await.unwrap();
        let pool = stored.pool.unwrap();
        let left = first.pool_balance_minor - called.collections.principal_minor;
        assert!(called.called && called.waterfall == "clean_up", "{name}");
        assert_eq!(
            called.call_proceeds_minor, left,
            "{name}: at par of the pool left"
        );
        assert!(pool
            .loans
            .iter()
            .all(|l| l.sold_minor == 0 && l.repurchased));
        assert_eq!(called.pool_balance_minor, 0);
        assert_eq!(
            called.bond_balances_minor,
            vec![0, 0],
            "{name}: bonds paid out"
        );
        let acct = |n: &str| docs::deal_account(id, n);
        assert_eq!(balance(&e, acct("spv:pool_receivable")).await, 0, "{name}");
        assert_eq!(balance(&e, acct("platform:sold_receivable")).await, 0);
        assert_eq!(balance(&e, acct("spv:account:collection")).await, 0);
        assert_eq!(called.collection_entry_ids.len(), 2, "remittance and call");
        close_through(&e, d("2026-04-15")).await;
        assert!(run(false, 3, "2026-04-15", deal.clone()).await.is_err());
        let report = engine::verify(&ts.store, |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
    }
}
