//! Routed funding plans on SQLite and PostgreSQL: the funders of each loan are chosen at
//! disbursement by the policy — the platform's minimum first, then the candidates by
//! priority, each up to its share cap and what its quota and its cap on the co-lent book
//! leave — so the second loan of a book funds differently from the first. A routed plan
//! that cannot hold is refused naming its field, and nothing is kept.

use crate::colending::{apply_and_disburse, bank, engines};
use engine::colending::{
    self as cl, CandidateDoc, ChargeRuleDoc, ColendingError, PlanSpec, RouteOrderDoc, RoutingDoc,
};
use engine::loans;
use money::{Currency, Decimal};
use uuid::Uuid;

const TENANT: &str = "t1";

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn candidate(partner_id: Uuid, priority: u32, share_max: &str, book: Option<&str>) -> CandidateDoc {
    CandidateDoc {
        partner_id,
        priority,
        share_max: dec(share_max),
        book_share_max: book.map(dec),
    }
}

fn routed(candidates: Vec<CandidateDoc>) -> PlanSpec {
    PlanSpec {
        shares: Vec::new(),
        platform_share_min: dec("0.3"),
        fees: ChargeRuleDoc::Platform,
        penalties: ChargeRuleDoc::Platform,
        guarantee: None,
        routing: Some(RoutingDoc {
            candidates,
            order: RouteOrderDoc::Priority,
            share_step: dec("0.01"),
        }),
        first_loss: None,
    }
}

#[tokio::test]
async fn a_routed_plan_chooses_each_loans_funders_within_quotas_and_book_caps() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let today = "2026-01-15".parse().unwrap();
        loans::init_business_date(&e, today).await.unwrap();
        let mut ids = Vec::new();
        for (partner, y, quota) in [
            ("bank a", Some("0.05"), 600_000),
            ("bank b", Some("0.068"), 250_001),
            ("trust t", None, 1_000_000_000),
        ] {
            let (p, _) = cl::create_partner(&e, TENANT, Uuid::now_v7(), bank(partner, y, quota))
                .await
                .unwrap();
            ids.push(p.doc.id);
        }
        let [a, b, t] = [ids[0], ids[1], ids[2]];
        let platform = cl::platform_partner_id(TENANT, Currency::Cny);
        let spec = routed(vec![
            candidate(platform, 9, "1", None),
            candidate(a, 1, "0.5", None),
            candidate(b, 2, "0.5", None),
            candidate(t, 3, "0.7", Some("0.2")),
        ]);
        let product_id = Uuid::now_v7();
        let (plan, _) = cl::set_plan(&e, TENANT, product_id, Currency::Cny, Uuid::now_v7(), spec)
            .await
            .unwrap();
        assert!(plan.doc.spec.routing.is_some());
        let shares = |doc: &cl::PositionsDoc| -> Vec<(Uuid, Decimal)> {
            doc.funders
                .iter()
                .map(|f| (f.partner_id, f.share))
                .collect()
        };
        // The first loan: the platform's 0.3, bank A its cap 0.5, bank B the 0.2 left.
        let first = Uuid::now_v7();
        apply_and_disburse(&e, first, product_id, 1_000_000, 6, today)
            .await
            .unwrap();
        let doc = cl::loan_funding(&e, first).await.unwrap().unwrap();
        let expected = [(platform, "0.3"), (a, "0.5"), (b, "0.2")].map(|(p, s)| (p, dec(s)));
        assert_eq!(shares(&doc), expected, "{name}");
        // The second: bank A has 100,000 of quota left (0.09 with one unit of margin), bank
        // B 50,001 (0.05); the trust may hold 0.2 of the 2,000,000 book (0.39); the
        // platform takes the rest.
        let second = Uuid::now_v7();
        apply_and_disburse(&e, second, product_id, 1_000_000, 6, today)
            .await
            .unwrap();
        let doc = cl::loan_funding(&e, second).await.unwrap().unwrap();
        let expected =
            [(platform, "0.47"), (a, "0.09"), (b, "0.05"), (t, "0.39")].map(|(p, s)| (p, dec(s)));
        assert_eq!(shares(&doc), expected, "{name}");
        let funded: i64 = doc.funders.iter().map(|f| f.principal_funded_minor).sum();
        assert_eq!(funded, 1_000_000, "{name}");
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
    }
}

#[tokio::test]
async fn a_routed_plan_that_cannot_hold_is_refused_naming_its_field() {
    for (ts, e) in engines().await {
        let name = ts.name;
        loans::init_business_date(&e, "2026-01-15".parse().unwrap())
            .await
            .unwrap();
        let (a, _) = cl::create_partner(&e, TENANT, Uuid::now_v7(), bank("a", None, 1_000_000))
            .await
            .unwrap();
        let a = a.doc.id;
        let platform = cl::platform_partner_id(TENANT, Currency::Cny);
        let good = routed(vec![
            candidate(platform, 9, "1", None),
            candidate(a, 1, "0.7", None),
        ]);
        let mut both = good.clone();
        both.shares = vec![cl::ShareDoc {
            partner_id: platform,
            share: Decimal::ONE,
        }];
        let low = routed(vec![
            candidate(platform, 9, "0.2", None),
            candidate(a, 1, "0.7", None),
        ]);
        let mut step = good.clone();
        step.routing.as_mut().unwrap().share_step = Decimal::ZERO;
        let unknown = routed(vec![
            candidate(platform, 9, "1", None),
            candidate(Uuid::now_v7(), 1, "0.7", None),
        ]);
        let product_id = Uuid::now_v7();
        for (spec, field) in [
            (both, "routing"),
            (low, "routing.candidates"),
            (step, "routing.share_step"),
            (unknown, "routing.candidates[1].partner_id"),
        ] {
            let err = cl::set_plan(&e, TENANT, product_id, Currency::Cny, Uuid::now_v7(), spec)
                .await
                .unwrap_err();
            let ColendingError::Invalid { errors } = &err else {
                panic!("{name}: {err}");
            };
            assert!(
                errors.iter().any(|(f, _)| f == field),
                "{name}: {errors:?} names {field}"
            );
            assert!(matches!(
                cl::plan(&e, TENANT, product_id).await,
                Err(ColendingError::NotFound(_))
            ));
        }
        cl::set_plan(&e, TENANT, product_id, Currency::Cny, Uuid::now_v7(), good)
            .await
            .unwrap();
    }
}
