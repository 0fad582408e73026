//! A funder's score cut-off and region list are checked against the loan's own facts, on
//! SQLite and PostgreSQL: the score of the stored decision the loan was applied for with and
//! its borrower's customer region. A loan without them is declined by such a funder (it
//! fails closed), and one that passes is funded by it.

use super::colending::{application, bank};
use super::colending_quota::bank_plan;
use super::customers::{master, person};
use engine::colending as cl;
use engine::customers::{self as cu, NewCustomer, Vault};
use engine::loans::{self, Action, LoanUseError};
use engine::{Engine, EngineConfig};
use lending::loan::LoanConfig;
use lending::LoanProduct;
use money::{BusinessDate, Currency, Money};
use risk::decision::{Arm, Decision, Outcome};
use std::collections::BTreeMap;
use uuid::Uuid;
use vault::Keyring;

const TENANT: &str = "t1";

/// Stores an approving decision with `score`, in the form `POST /v1/decisions` keeps.
async fn decision(e: &Engine, score: f64) -> String {
    let d = Decision {
        outcome: Outcome::Approve,
        arm: Arm::Champion,
        probability_bad: 0.05,
        score,
        rules_fired: Vec::new(),
        reasons: Vec::new(),
        limit_minor: 1_000_000,
        price: None,
        features: BTreeMap::new(),
    };
    let id = Uuid::now_v7().to_string();
    let row = testkit::decision_row(&id, serde_json::to_value(d).unwrap());
    e.record_decision(row).await.unwrap();
    id
}

async fn customer(e: &Engine, vault: &Vault, seq: u32, region: &str) -> String {
    let mut p = person("1990-03-07", seq);
    p.region_code = region.into();
    let id = Uuid::now_v7();
    cu::create_customer(e, vault, TENANT, id, NewCustomer::Individual(p))
        .await
        .unwrap();
    id.to_string()
}

/// Lends to `borrower` with `decision`, in one step (`originate`) or applied for first and
/// then disbursed: the bank's part of the principal (0.6), or the bank's decline code.
async fn lend(
    e: &Engine,
    (bank, product_id): (Uuid, Uuid),
    (borrower, decision): (&str, Option<String>),
    one_step: bool,
    today: BusinessDate,
) -> Result<i64, String> {
    let principal = Money::from_minor(100_000, Currency::Cny);
    let config = LoanConfig::from_product(&LoanProduct::example_cny(), principal, 6, 90).unwrap();
    let mut a = application(Uuid::now_v7(), product_id, config);
    a.borrower = borrower.into();
    a.decision_id = decision;
    let lent = if one_step {
        loans::originate(e, a, None, today, Uuid::now_v7()).await
    } else {
        let id = a.id;
        loans::apply_for_loan(e, a).await.unwrap();
        loans::decide(e, id, true).await.unwrap();
        let disburse = Action::Disburse { payee: None };
        let done = loans::execute(e, id, disburse, today, Uuid::now_v7()).await;
        done.map(|(view, _)| view)
    };
    match lent {
        Ok(view) => {
            let row = e
                .store()
                .doc(cl::docs::positions_doc_id(view.row.id))
                .await
                .unwrap()
                .expect("a co-lent loan's positions");
            let doc: cl::docs::PositionsDoc = serde_json::from_slice(&row.body).unwrap();
            let part = doc.funders.iter().find(|f| f.partner_id == bank);
            Ok(part.expect("the bank funds").principal_funded_minor)
        }
        Err(LoanUseError::Colending(cl::ColendingError::Declined { reasons })) => Err(reasons
            .iter()
            .map(|r| r.code.as_str())
            .filter(|c| *c != "incomplete")
            .collect::<Vec<_>>()
            .join(",")),
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_funders_cut_off_and_regions_see_the_loans_score_and_region() {
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let e = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .unwrap();
        let today: BusinessDate = "2026-01-15".parse().unwrap();
        loans::init_business_date(&e, today).await.unwrap();
        let mut spec = bank("bank", None, 100_000_000);
        spec.eligibility.score_min = Some("600".parse().unwrap());
        spec.eligibility.regions = vec!["110105".into()];
        let plan = bank_plan(&e, spec).await;
        let vault = Vault::new(Keyring::new(master(1, 7)));
        let beijing = customer(&e, &vault, 11, "110105").await;
        let shanghai = customer(&e, &vault, 12, "310101").await;
        let cases = [
            (
                "score above the cut-off, region served",
                &beijing,
                Some(650.25),
                Ok(60_000),
            ),
            ("score at the cut-off", &beijing, Some(600.0), Ok(60_000)),
            (
                "score below",
                &beijing,
                Some(599.75),
                Err("ineligible_score"),
            ),
            ("no decision", &beijing, None, Err("ineligible_score")),
            (
                "region not served",
                &shanghai,
                Some(700.0),
                Err("ineligible_region"),
            ),
            (
                "not a customer",
                &"b".to_string(),
                Some(700.0),
                Err("ineligible_region"),
            ),
        ];
        for one_step in [true, false] {
            for (case, borrower, score, want) in &cases {
                let d = match score {
                    Some(s) => Some(decision(&e, *s).await),
                    None => None,
                };
                let got = lend(&e, plan, (borrower, d), one_step, today).await;
                let want = want.map_err(String::from);
                assert_eq!(got, want, "{name}: {case} (in one step: {one_step})");
            }
        }
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
    }
}
