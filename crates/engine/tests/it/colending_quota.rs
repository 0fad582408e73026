//! Co-lent originations at once against one funder's quotas, on SQLite and PostgreSQL.
//! Originations choose their funders one at a time but commit together, so each holds the
//! room it took until its commit answers: no quota is overfilled, the funder's day document
//! counts every loan it funded once, and an origination that fails lets the ones queued
//! behind it choose again.

use super::colending::{application, bank, engines};
use engine::colending::{self as cl, books, ChargeRuleDoc, PartnerSpec, PlanSpec, ShareDoc};
use engine::loans::{self, LoanUseError};
use engine::Engine;
use lending::loan::LoanConfig;
use lending::LoanProduct;
use money::{BusinessDate, Currency, Decimal, Money};
use std::collections::BTreeSet;
use uuid::Uuid;

const TENANT: &str = "t1";
const PRINCIPAL_MINOR: i64 = 100_000;
/// The bank's share of each loan.
const BANK_PART_MINOR: i64 = 60_000;

/// A product funded 0.4 by the platform and 0.6 by a bank with `spec`'s quotas.
pub(crate) async fn bank_plan(e: &Engine, spec: PartnerSpec) -> (Uuid, Uuid) {
    let (bank, _) = cl::create_partner(e, TENANT, Uuid::now_v7(), spec)
        .await
        .unwrap();
    let product_id = Uuid::now_v7();
    let share = |partner_id, s: &str| ShareDoc {
        partner_id,
        share: s.parse().unwrap(),
    };
    let plan = PlanSpec {
        shares: vec![
            share(cl::platform_partner_id(TENANT, Currency::Cny), "0.4"),
            share(bank.doc.id, "0.6"),
        ],
        platform_share_min: Decimal::new(3, 1),
        fees: ChargeRuleDoc::Platform,
        penalties: ChargeRuleDoc::Platform,
        guarantee: None,
        routing: None,
        first_loss: None,
    };
    cl::set_plan(e, TENANT, product_id, Currency::Cny, Uuid::now_v7(), plan)
        .await
        .unwrap();
    (bank.doc.id, product_id)
}

async fn originate(
    e: &Engine,
    id: Uuid,
    product_id: Uuid,
    today: BusinessDate,
) -> Result<loans::LoanView, LoanUseError> {
    let principal = Money::from_minor(PRINCIPAL_MINOR, Currency::Cny);
    let config = LoanConfig::from_product(&LoanProduct::example_cny(), principal, 6, 90).unwrap();
    let application = application(id, product_id, config);
    loans::originate(e, application, None, today, Uuid::now_v7()).await
}

/// Originates every id at once.
async fn all_at_once(
    e: &Engine,
    ids: &[Uuid],
    product_id: Uuid,
    today: BusinessDate,
) -> Vec<Result<loans::LoanView, LoanUseError>> {
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (e, id) = (e.clone(), *id);
            tokio::spawn(async move { originate(&e, id, product_id, today).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// The bank's principal control account and what its day document says it disbursed.
async fn bank_usage(e: &Engine, bank: Uuid, today: BusinessDate) -> (i64, i64) {
    let account = books::control_account(TENANT, Currency::Cny, &bank.to_string(), "principal");
    let principal = e.account(account).await.unwrap().map_or(0, |a| {
        a.balances.debits_posted_minor - a.balances.credits_posted_minor
    });
    let row = e
        .store()
        .doc(cl::docs::partner_day_id(bank, today))
        .await
        .unwrap()
        .expect("the bank's day document");
    let day: cl::docs::PartnerDayDoc = serde_json::from_slice(&row.body).unwrap();
    (principal, day.disbursed_minor)
}

/// How many were funded; every other was declined by the bank for `code` alone (the
/// platform's reason is only that the funding is incomplete).
fn funded_else_declined(
    results: &[Result<loans::LoanView, LoanUseError>],
    code: &str,
    name: &str,
) -> usize {
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        let LoanUseError::Colending(cl::ColendingError::Declined { reasons }) = r else {
            panic!("{name}: {r}");
        };
        let codes: Vec<&str> = reasons
            .iter()
            .map(|x| x.code.as_str())
            .filter(|c| *c != "incomplete")
            .collect();
        assert_eq!(codes, [code], "{name}: {r}");
    }
    results.iter().filter(|r| r.is_ok()).count()
}

async fn ledger_verifies(e: &Engine, name: &str) {
    let report = engine::verify(e.store(), |_| {}).await.unwrap();
    assert!(report.ok(), "{name}: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn originations_at_once_never_overfill_a_quota() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let today: BusinessDate = "2026-01-15".parse().unwrap();
        loans::init_business_date(&e, today).await.unwrap();
        // Room for exactly 10 loans today, 12 in the book.
        let mut spec = bank("bank", None, 12 * BANK_PART_MINOR);
        spec.daily_quota_minor = 10 * BANK_PART_MINOR;
        let (bank, product_id) = bank_plan(&e, spec).await;
        let ids: Vec<Uuid> = (0..40).map(|_| Uuid::now_v7()).collect();
        let results = all_at_once(&e, &ids, product_id, today).await;
        assert_eq!(
            funded_else_declined(&results, "daily_quota", name),
            10,
            "{name}: the daily quota's room, no more, no less"
        );
        assert_eq!(
            bank_usage(&e, bank, today).await,
            (10 * BANK_PART_MINOR, 10 * BANK_PART_MINOR),
            "{name}"
        );
        // The next day, the book quota binds: 2 more loans fit.
        let tomorrow = today.succ();
        engine::cob::close_business_day(&e, engine::cob::CobConfig::default(), &|_| {})
            .await
            .unwrap();
        let ids: Vec<Uuid> = (0..20).map(|_| Uuid::now_v7()).collect();
        let results = all_at_once(&e, &ids, product_id, tomorrow).await;
        assert_eq!(funded_else_declined(&results, "quota", name), 2, "{name}");
        assert_eq!(
            bank_usage(&e, bank, tomorrow).await,
            (12 * BANK_PART_MINOR, 2 * BANK_PART_MINOR),
            "{name}"
        );
        ledger_verifies(&e, name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_origination_lets_those_queued_behind_it_choose_again() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let today: BusinessDate = "2026-01-15".parse().unwrap();
        loans::init_business_date(&e, today).await.unwrap();
        let (bank, product_id) = bank_plan(&e, bank("bank", None, 1_000 * BANK_PART_MINOR)).await;
        // Each of 15 loans is originated twice at once: one of each pair fails at its
        // commit, inside a chain of day documents other originations build on.
        let distinct: Vec<Uuid> = (0..15).map(|_| Uuid::now_v7()).collect();
        let mut ids: Vec<Uuid> = (0..15).map(|_| Uuid::now_v7()).collect();
        for id in &distinct {
            ids.push(*id);
            ids.push(*id);
        }
        let results = all_at_once(&e, &ids, product_id, today).await;
        let mut funded = BTreeSet::new();
        for (id, r) in ids.iter().zip(&results) {
            match r {
                Ok(view) => assert!(funded.insert(view.row.id), "{name}: {id} funded twice"),
                Err(LoanUseError::Engine(engine::EngineError::StaleLoan { .. })) => {
                    assert!(distinct.contains(id), "{name}: only a repeated loan fails")
                }
                Err(other) => panic!("{name}: {id}: {other}"),
            }
        }
        assert_eq!(funded.len(), 30, "{name}: every loan funded once");
        assert_eq!(
            bank_usage(&e, bank, today).await,
            (30 * BANK_PART_MINOR, 30 * BANK_PART_MINOR),
            "{name}"
        );
        ledger_verifies(&e, name).await;
    }
}
