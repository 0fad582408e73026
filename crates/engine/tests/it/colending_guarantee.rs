//! A guarantor (融资担保) on a funding plan, on SQLite and PostgreSQL: close of business
//! pays the funders' overdue principal and billed interest the day the loan is 3 days past
//! due, once; the guarantor then holds those claims, earns the product's fee as its
//! guarantee fee, and is paid first by the borrower's repayment. A plan naming a guarantor
//! that cannot guarantee is refused, naming the field, and nothing is kept.

use crate::colending::engines;
use crate::colending_days::{control_accounts_match, disburse, three_funders, TRIGGER_DPD};
use engine::cob::{self, CobConfig};
use engine::colending::{self as cl, ColendingError, GuaranteeDoc, PlanSpec};
use engine::loans::{self, Action};
use engine::Engine;
use lending::product::Component;
use money::{BusinessDate, Currency, Money};
use uuid::Uuid;

const TENANT: &str = "t1";

async fn close_day(e: &Engine) -> BusinessDate {
    cob::close_business_day(e, CobConfig::default(), &|_| {})
        .await
        .unwrap();
    loans::business_date(e).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_claim_moves_overdue_amounts_once_and_repayment_pays_the_guarantor_first() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let start: BusinessDate = "2026-01-15".parse().unwrap();
        loans::init_business_date(&e, start).await.unwrap();
        let product_id = Uuid::now_v7();
        three_funders(&e, product_id, true).await;
        let id = disburse(&e, product_id, 1_200_000, 6, start).await;
        // The borrower misses the first installment (due 2026-02-15).
        let mut today = start;
        let mut claim_day = None;
        while today < "2026-02-22".parse().unwrap() {
            today = close_day(&e).await;
            let loan = loans::load(&e, id).await.unwrap().loan;
            let doc = cl::loan_funding(&e, id).await.unwrap().unwrap();
            let expected = usize::from(loan.dpd >= TRIGGER_DPD);
            assert_eq!(
                doc.claims.len(),
                expected,
                "{name} {today}: dpd {}",
                loan.dpd
            );
            if expected == 1 && claim_day.is_none() {
                claim_day = Some(today);
                let g = &doc.guarantor.as_ref().unwrap().balances;
                let overdue = loan.outstanding_minor(Component::Principal);
                assert!(overdue > 0);
                // The guarantor holds the overdue principal; the funders the rest.
                assert_eq!(g.principal_outstanding_minor, overdue, "{name}");
                let funders: i64 = doc
                    .funders
                    .iter()
                    .map(|f| f.balances.principal_outstanding_minor)
                    .sum();
                assert_eq!(funders + overdue, loan.principal_outstanding_minor());
                // Every funder's billed interest is the guarantor's now.
                for f in &doc.funders {
                    assert_eq!(f.balances.interest_receivable_minor, 0, "{name}");
                }
                let interest = loan.outstanding_minor(Component::Interest);
                assert_eq!(
                    g.interest_receivable_minor + doc.platform.interest_receivable_minor,
                    interest,
                    "{name}: the platform keeps its service fee"
                );
            }
        }
        let claim_day = claim_day.expect("the loan reached the trigger");
        // The claim is an event naming the guarantor and every funder it paid.
        let filter = store::EventFilter {
            after: 0,
            kinds: vec!["colending.guarantee_claimed".into()],
            tenant: None,
            limit: 100,
        };
        let events = e.events(filter).await.unwrap();
        assert_eq!(events.len(), 1, "{name}");
        let payload: serde_json::Value = serde_json::from_str(&events[0].event.payload).unwrap();
        let claim = &payload["doc"]["claim"];
        let doc = cl::loan_funding(&e, id).await.unwrap().unwrap();
        super::colending_webhooks::each_party_sees_its_own_part(&e, name, &doc).await;
        let g = doc.guarantor.as_ref().unwrap();
        assert_eq!(
            claim["guarantor"]["partner_id"],
            serde_json::json!(g.terms.guarantor_id)
        );
        let paid: i64 = claim["paid"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["principal_minor"].as_i64().unwrap() + p["interest_minor"].as_i64().unwrap())
            .sum();
        let held = &g.balances;
        assert_eq!(
            paid,
            held.principal_outstanding_minor + held.interest_receivable_minor,
            "{name}: the claim paid what the guarantor holds"
        );
        assert_eq!(
            claim_day.to_epoch_days()
                - "2026-02-15"
                    .parse::<BusinessDate>()
                    .unwrap()
                    .to_epoch_days(),
            TRIGGER_DPD as i32,
            "{name}: paid the day the loan was {TRIGGER_DPD} days past due"
        );
        let doc = cl::loan_funding(&e, id).await.unwrap().unwrap();
        let g = doc.guarantor.as_ref().unwrap();
        // The product's fees (here its late fee) went to the guarantor as its guarantee fee.
        let loan = loans::load(&e, id).await.unwrap().loan;
        assert!(g.balances.fee_receivable_minor > 0, "{name}");
        assert_eq!(
            g.balances.fee_receivable_minor,
            loan.outstanding_minor(Component::Fee),
            "{name}"
        );
        // The borrower pays what is overdue: the guarantor's claims are paid first.
        let overdue: i64 = [
            Component::Principal,
            Component::Interest,
            Component::Fee,
            Component::Penalty,
        ]
        .iter()
        .map(|c| loan.outstanding_minor(*c))
        .sum();
        let amount = Money::from_minor(overdue, Currency::Cny);
        loans::execute(&e, id, Action::Repay { amount }, today, Uuid::now_v7())
            .await
            .unwrap();
        let after = cl::loan_funding(&e, id).await.unwrap().unwrap();
        let held = &after.guarantor.as_ref().unwrap().balances;
        assert_eq!(held.principal_outstanding_minor, 0, "{name}");
        assert_eq!(held.interest_receivable_minor, 0, "{name}");
        // The command replayed the loan with its claim: the same claim, once.
        assert_eq!(after.claims, doc.claims, "{name}");
        let paid = |d: &cl::PositionsDoc, b: &str| {
            let holder = format!("guarantor:{}", g.terms.guarantor_id);
            d.flows.get(&format!("{holder}/compensated/{b}")).copied()
        };
        assert_eq!(paid(&after, "principal"), paid(&doc, "principal"));
        assert_eq!(paid(&after, "interest"), paid(&doc, "interest"));
        // Current again: the next days pay no claim.
        for _ in 0..3 {
            close_day(&e).await;
        }
        let later = cl::loan_funding(&e, id).await.unwrap().unwrap();
        assert_eq!(later.claims.len(), 1, "{name}");
        control_accounts_match(&e, std::slice::from_ref(&later)).await;
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
    }
}

/// A product with the guaranteed plan of `three_funders`.
async fn guaranteed_product(e: &Engine) -> Uuid {
    let product_id = Uuid::now_v7();
    three_funders(e, product_id, true).await;
    product_id
}

#[tokio::test]
async fn a_guarantee_that_cannot_guarantee_is_refused_naming_its_field() {
    for (ts, e) in engines().await {
        let name = ts.name;
        loans::init_business_date(&e, "2026-01-15".parse().unwrap())
            .await
            .unwrap();
        let product_id = Uuid::now_v7();
        let [platform, bank_a, _] = three_funders(&e, product_id, false).await;
        let good = cl::plan(&e, TENANT, product_id).await.unwrap();
        let other = Uuid::now_v7();
        let with = |guarantor_id, trigger_dpd| PlanSpec {
            guarantee: Some(GuaranteeDoc {
                guarantor_id,
                trigger_dpd,
            }),
            ..good.doc.spec.clone()
        };
        let no_guarantee = PlanSpec {
            fees: cl::ChargeRuleDoc::Guarantor,
            ..good.doc.spec.clone()
        };
        // A guarantee company funds no share.
        let g = cl::plan(&e, TENANT, guaranteed_product(&e).await)
            .await
            .unwrap()
            .doc
            .spec
            .guarantee
            .unwrap()
            .guarantor_id;
        let mut funds = good.doc.spec.clone();
        funds.shares[2].partner_id = g;
        let cases = [
            (funds, "shares[2].partner_id"),
            (with(bank_a, 3), "guarantee.guarantor_id"),
            (with(platform, 3), "guarantee.guarantor_id"),
            (with(Uuid::now_v7(), 3), "guarantee.guarantor_id"),
            (with(bank_a, 0), "guarantee.trigger_dpd"),
            (no_guarantee, "fees"),
        ];
        for (spec, field) in cases {
            let refused = cl::set_plan(&e, TENANT, other, Currency::Cny, Uuid::now_v7(), spec)
                .await
                .unwrap_err();
            let ColendingError::Invalid { errors } = refused else {
                panic!("{name}: {refused}");
            };
            assert!(
                errors.iter().any(|(f, _)| f == field),
                "{name}: {errors:?} names {field}"
            );
            assert!(
                matches!(
                    cl::plan(&e, TENANT, other).await,
                    Err(ColendingError::NotFound(_))
                ),
                "{name}: nothing kept"
            );
        }
    }
}
