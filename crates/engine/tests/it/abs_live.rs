//! Securitization on the live book, on SQLite and PostgreSQL: a deal stored, a pool of the
//! platform's share of co-lent and plain loans, the true sale, a period run from the loans'
//! collections, every refusal, and `ledger verify` after it all.

use abs::{
    Account, AccountKind, Bond, BondKind, Deal, DealDates, Fee, FeeKind, Frequency, PrincipalLimit,
    PrincipalMode, Step, Waterfalls,
};
use engine::abs::{self as live, docs, AbsError, DealStatus, PoolCriteria};
use engine::cob::{self, CobConfig};
use engine::colending::{self as cl, ApprovalDoc, ChargeRuleDoc, EligibilityDoc, Kind};
use engine::colending::{PartnerSpec, PlanSpec, ShareDoc};
use engine::loans::{self, Action, Application};
use engine::{Engine, EngineConfig};
use lending::loan::LoanConfig;
use lending::LoanProduct;
use money::{BusinessDate, Currency, Decimal, Money};
use uuid::Uuid;

pub const TENANT: &str = "t1";

pub fn d(s: &str) -> BusinessDate {
    s.parse().unwrap()
}

fn deal() -> Deal {
    Deal {
        name: "live deal".into(),
        currency: Currency::Cny,
        dates: DealDates {
            cutoff: d("2026-01-15"),
            closing: d("2026-01-15"),
            first_payment: d("2026-02-15"),
            frequency: Frequency::Monthly,
            revolving_end: None,
            stated_maturity: d("2028-01-15"),
        },
        pool_balance_minor: 3_800_000,
        bonds_sum_to_pool: false,
        accounts: vec![Account {
            name: "collection".into(),
            kind: AccountKind::Collection,
            opening_balance_minor: 0,
        }],
        fees: vec![Fee {
            name: "servicer".into(),
            kind: FeeKind::PoolFraction(Decimal::new(1, 2)),
        }],
        bonds: vec![
            Bond {
                name: "A".into(),
                balance_minor: 3_000_000,
                coupon: Decimal::new(5, 2),
                kind: BondKind::Amortizing,
                floating: None,
            },
            Bond {
                name: "E".into(),
                balance_minor: 800_000,
                coupon: Decimal::ZERO,
                kind: BondKind::Equity,
                floating: None,
            },
        ],
        waterfalls: Waterfalls {
            normal: vec![
                Step::PayFee {
                    fee: "servicer".into(),
                },
                Step::PayInterest {
                    bonds: vec!["A".into()],
                },
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

async fn disburse(e: &Engine, product_id: Uuid, borrower: &str, amount_minor: i64) -> Uuid {
    disburse_12_months(e, product_id, borrower, amount_minor, 90).await
}

/// A 12-month loan of `TENANT`, disbursed today, written off at `write_off_dpd`.
pub async fn disburse_12_months(
    e: &Engine,
    product_id: Uuid,
    borrower: &str,
    amount_minor: i64,
    write_off_dpd: u32,
) -> Uuid {
    let id = Uuid::now_v7();
    let principal = Money::from_minor(amount_minor, Currency::Cny);
    let config =
        LoanConfig::from_product(&LoanProduct::example_cny(), principal, 12, write_off_dpd)
            .unwrap();
    let app = Application {
        id,
        tenant: TENANT.into(),
        borrower: borrower.into(),
        product_id,
        product_version: 1,
        config,
        decision_id: None,
    };
    loans::apply_for_loan(e, app).await.unwrap();
    loans::decide(e, id, true).await.unwrap();
    let today = loans::business_date(e).await.unwrap().unwrap();
    let disburse = Action::Disburse { payee: None };
    loans::execute(e, id, disburse, today, Uuid::now_v7())
        .await
        .unwrap();
    id
}

/// An engine on the store with `day` open.
pub async fn engine_on(ts: &testkit::TestStore, day: &str) -> Engine {
    let e = Engine::start(ts.store.clone(), EngineConfig::default())
        .await
        .unwrap();
    loans::init_business_date(&e, d(day)).await.unwrap();
    e
}

/// Debits minus credits.
pub async fn balance(e: &Engine, id: ledger::AccountId) -> i64 {
    let a = e.account(id).await.unwrap().expect("account exists");
    a.balances.debits_posted_minor - a.balances.credits_posted_minor
}

fn code(err: AbsError) -> (String, String) {
    match err {
        AbsError::Invalid { field, code, .. } => (field, code.to_string()),
        AbsError::Conflict { code, .. } => ("".into(), code.to_string()),
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn a_pool_of_the_platform_share_is_sold_and_its_collections_run_the_waterfall() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let e = engine_on(&ts, "2026-01-15").await;
        let bank = PartnerSpec {
            name: "bank".into(),
            kind: Kind::Bank,
            currency: Currency::Cny,
            yield_annual: None,
            quota_minor: 1_000_000_000,
            daily_quota_minor: 1_000_000_000,
            eligibility: EligibilityDoc::default(),
            approval: ApprovalDoc::Auto,
        };
        let (bank, _) = cl::create_partner(&e, TENANT, Uuid::now_v7(), bank)
            .await
            .unwrap();
        let (colent, plain, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let platform = cl::platform_partner_id(TENANT, Currency::Cny);
        let plan = PlanSpec {
            shares: vec![
                ShareDoc {
                    partner_id: platform,
                    share: Decimal::new(6, 1),
                },
                ShareDoc {
                    partner_id: bank.doc.id,
                    share: Decimal::new(4, 1),
                },
            ],
            platform_share_min: Decimal::new(3, 1),
            fees: ChargeRuleDoc::Platform,
            penalties: ChargeRuleDoc::ProRata,
            guarantee: None,
            routing: None,
            first_loss: None,
        };
        cl::set_plan(&e, TENANT, colent, Currency::Cny, Uuid::now_v7(), plan)
            .await
            .unwrap();
        let mut colent_loans = Vec::new();
        for b in ["b1", "b2", "b3"] {
            colent_loans.push(disburse(&e, colent, b, 1_000_000).await);
        }
        let plain_a = disburse(&e, plain, "b4", 1_000_000).await;
        let plain_b = disburse(&e, plain, "b5", 1_000_000).await;
        let big = disburse(&e, plain, "big", 5_000_000).await;
        let elsewhere = disburse(&e, other, "b6", 1_000_000).await;

        // 1. Stored: a replay of the same file, a conflict with another.
        let id = Uuid::now_v7();
        let file = serde_json::json!({"name": "live deal", "v": 1});
        let (created, replay) =
            live::create_deal(&e, TENANT, id, file.clone(), &deal(), Vec::new())
                .await
                .unwrap();
        assert!(!replay && created.status == DealStatus::Draft, "{name}");
        let (_, replay) = live::create_deal(&e, TENANT, id, file.clone(), &deal(), Vec::new())
            .await
            .unwrap();
        assert!(replay);
        let other_file = serde_json::json!({"name": "live deal", "v": 2});
        let err = live::create_deal(&e, TENANT, id, other_file, &deal(), Vec::new()).await;
        assert_eq!(code(err.unwrap_err()).1, "id_reused");
        assert!(matches!(
            live::deal(&e, id, "t2").await,
            Err(AbsError::NotFound(_))
        ));

        // 2. A forced loan that breaks a rule is refused naming the rule; nothing is kept.
        let only = |ids: Vec<Uuid>| PoolCriteria {
            product_ids: vec![colent, plain],
            loan_ids: Some(ids),
            ..PoolCriteria::default()
        };
        let err = live::pool_deal(&e, TENANT, id, only(vec![plain_a, elsewhere])).await;
        assert_eq!(
            code(err.unwrap_err()),
            ("criteria.product_ids".into(), "ineligible_loan".into())
        );
        let seasoned = PoolCriteria {
            seasoning_days_min: Some(30),
            ..only(vec![plain_a])
        };
        let err = live::pool_deal(&e, TENANT, id, seasoned).await;
        assert_eq!(code(err.unwrap_err()).0, "criteria.seasoning_days_min");
        assert_eq!(
            live::deal(&e, id, TENANT).await.unwrap().status,
            DealStatus::Draft
        );

        // Every eligible loan of the two products; the big borrower's 5,000,000 is above
        // half the pool and drops out. Co-lent loans bring their platform share, 60%.
        let criteria = PoolCriteria {
            product_ids: vec![colent, plain],
            borrower_share_max: Some(Decimal::new(5, 1)),
            ..PoolCriteria::default()
        };
        let pool = live::pool_deal(&e, TENANT, id, criteria.clone())
            .await
            .unwrap();
        let mut ids: Vec<Uuid> = pool.loans.iter().map(|l| l.loan_id).collect();
        ids.sort();
        let mut expected = colent_loans.clone();
        expected.extend([plain_a, plain_b]);
        expected.sort();
        assert_eq!(ids, expected, "{name}");
        assert_eq!(pool.total_minor, 3 * 600_000 + 2 * 1_000_000);
        for l in &pool.loans {
            let want = if colent_loans.contains(&l.loan_id) {
                600_000
            } else {
                1_000_000
            };
            assert_eq!(l.sold_minor, want);
        }
        let err = live::pool_deal(&e, TENANT, id, criteria).await;
        assert_eq!(code(err.unwrap_err()).1, "already_pooled");

        // A loan cannot be in two pools.
        let second = Uuid::now_v7();
        live::create_deal(&e, TENANT, second, file.clone(), &deal(), Vec::new())
            .await
            .unwrap();
        let err = live::pool_deal(&e, TENANT, second, only(vec![big, plain_a])).await;
        let err = err.unwrap_err();
        assert!(err.to_string().contains(&plain_a.to_string()), "{err}");
        assert_eq!(
            code(err),
            ("criteria.loan_ids[1]".into(), "loan_in_another_pool".into())
        );

        // 3. The true sale at 0.99: one entry, the deal closed with it.
        let key = Uuid::now_v7();
        let price = Decimal::new(99, 2);
        let err = live::close_deal(&e, TENANT, second, key, price, &deal()).await;
        assert_eq!(code(err.err().unwrap()).1, "no_pool");
        let closing = live::close_deal(&e, TENANT, id, key, price, &deal())
            .await
            .unwrap();
        assert!(!closing.replayed);
        let c = closing.deal.closing.clone().unwrap();
        assert_eq!((c.sold_minor, c.price_minor), (3_800_000, 3_762_000));
        let acct = |n: &str| docs::deal_account(id, n);
        assert_eq!(balance(&e, acct("spv:pool_receivable")).await, 3_800_000);
        assert_eq!(
            balance(&e, acct("platform:sold_receivable")).await,
            -3_800_000
        );
        assert_eq!(balance(&e, acct("platform:sale_gain_loss")).await, 38_000);
        assert_eq!(balance(&e, acct("spv:bond:A")).await, -3_000_000);
        assert_eq!(balance(&e, acct("spv:bond:E")).await, -800_000);
        assert_eq!(balance(&e, acct("spv:cash")).await, 3_800_000 - 3_762_000);
        let again = live::close_deal(&e, TENANT, id, key, price, &deal())
            .await
            .unwrap();
        assert!(again.replayed);
        assert_eq!(again.deal.closing, closing.deal.closing);
        let err = live::close_deal(&e, TENANT, id, Uuid::now_v7(), price, &deal()).await;
        assert_eq!(code(err.err().unwrap()).1, "already_closed");

        // 4. A month of servicing: every pooled loan pays its first installment, one of
        // them prepays part of its principal.
        let p1 = d("2026-02-15");
        let err = live::run_period(&e, TENANT, id, 1, Uuid::now_v7(), &deal(), p1, vec![]).await;
        assert_eq!(code(err.unwrap_err()).1, "period_not_due");
        for _ in 0..31 {
            cob::close_business_day(&e, CobConfig::default(), &|_| {})
                .await
                .unwrap();
        }
        let today = loans::business_date(&e).await.unwrap().unwrap();
        assert_eq!(today, p1);
        let mut principal_paid = 0;
        let mut interest_paid = 0;
        for &loan in &ids {
            let before = loans::load(&e, loan).await.unwrap().loan;
            let due = lending::loan::payoff_minor(&before).unwrap().min(120_000);
            let amount = Money::from_minor(due, Currency::Cny);
            loans::execute(&e, loan, Action::Repay { amount }, today, Uuid::now_v7())
                .await
                .unwrap();
            let after = loans::load(&e, loan).await.unwrap().loan;
            let share = pool.loans.iter().find(|l| l.loan_id == loan).unwrap().share;
            let dp = before.principal_outstanding_minor() - after.principal_outstanding_minor();
            let di = engine::abs::pool::interest_paid_minor(&after)
                - engine::abs::pool::interest_paid_minor(&before);
            let held = (share * Decimal::from(after.principal_outstanding_minor()))
                .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointNearestEven);
            let held: i64 = held.try_into().unwrap();
            let sold = pool
                .loans
                .iter()
                .find(|l| l.loan_id == loan)
                .unwrap()
                .sold_minor;
            principal_paid += sold - held;
            let i = (share * Decimal::from(di))
                .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointNearestEven);
            interest_paid += i64::try_from(i).unwrap();
            assert!(dp > 0, "{name}: the repayment reached principal");
        }
        let key1 = Uuid::now_v7();
        let (period, replay) = live::run_period(&e, TENANT, id, 1, key1, &deal(), p1, vec![])
            .await
            .unwrap();
        assert!(!replay);
        assert_eq!(period.collections.principal_minor, principal_paid, "{name}");
        assert_eq!(period.collections.interest_minor, interest_paid, "{name}");
        assert!(principal_paid > 0 && interest_paid > 0);
        // The ledger says what the deal's state says.
        assert_eq!(
            balance(&e, acct("spv:pool_receivable")).await,
            period.pool_balance_minor
        );
        assert_eq!(period.pool_balance_minor, 3_800_000 - principal_paid);
        assert_eq!(
            balance(&e, acct("spv:account:collection")).await,
            period.accounts_closing_minor[0]
        );
        for (j, b) in ["A", "E"].iter().enumerate() {
            let bond = balance(&e, acct(&format!("spv:bond:{b}"))).await;
            assert_eq!(-bond, period.bond_balances_minor[j], "{name}: bond {b}");
            let paid = balance(&e, acct(&format!("spv:bond_interest:{b}"))).await;
            assert_eq!(paid, period.interest_paid_minor[j]);
        }
        assert_eq!(
            balance(&e, acct("platform:collections_remitted")).await,
            interest_paid
        );
        // A period runs once: the same key answers as before, another is refused.
        let (same, replay) = live::run_period(&e, TENANT, id, 1, key1, &deal(), p1, vec![])
            .await
            .unwrap();
        assert!(replay && same == period);
        let err = live::run_period(&e, TENANT, id, 1, Uuid::now_v7(), &deal(), p1, vec![]).await;
        assert_eq!(code(err.unwrap_err()).1, "period_already_run");
        let err = live::run_period(&e, TENANT, id, 3, Uuid::now_v7(), &deal(), p1, vec![]).await;
        assert_eq!(code(err.unwrap_err()).1, "period_out_of_order");

        let stored = live::deal(&e, id, TENANT).await.unwrap();
        assert_eq!(stored.periods, vec![period]);
        let (page, _) = live::list_deals(&e, Some(TENANT.into()), None, 10)
            .await
            .unwrap();
        assert_eq!(page.len(), 2);
        let report = engine::verify(&ts.store, |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
    }
}
