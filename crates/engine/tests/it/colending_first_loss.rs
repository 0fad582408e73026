//! First-loss deposits refused and replayed: a deposit with a bad cap or amount names its
//! field and keeps nothing; the same id with the same fields answers the stored deposit,
//! with other fields it is a conflict; a plan naming an unknown deposit, or one in another
//! currency, is refused naming `first_loss.deposit_id`.

use crate::colending::engines;
use crate::colending_days::three_funders;
use engine::colending::{self as cl, ColendingError, DepositSpec, FirstLossRef, PlanSpec};
use engine::loans;
use money::{Currency, Decimal};
use uuid::Uuid;

const TENANT: &str = "t1";

fn spec(cap: &str, portfolio_minor: i64, deposited_minor: i64) -> DepositSpec {
    DepositSpec {
        portfolio: "sme 2026".into(),
        currency: Currency::Cny,
        cap_fraction: cap.parse::<Decimal>().unwrap(),
        portfolio_principal_minor: portfolio_minor,
        deposited_minor,
    }
}

#[tokio::test]
async fn bad_deposits_and_plans_name_their_field_and_keep_nothing() {
    for (ts, e) in engines().await {
        let name = ts.name;
        loans::init_business_date(&e, "2026-01-15".parse().unwrap())
            .await
            .unwrap();
        let blank = DepositSpec {
            portfolio: " ".into(),
            ..spec("0.05", 1_000_000, 10_000)
        };
        let cases = [
            (spec("0", 1_000_000, 10_000), "cap_fraction"),
            (spec("1.01", 1_000_000, 10_000), "cap_fraction"),
            (spec("0.05", 0, 10_000), "portfolio_principal_minor"),
            (spec("0.05", 1_000_000, -1), "deposited_minor"),
            (blank, "portfolio"),
        ];
        for (bad, field) in cases {
            let id = Uuid::now_v7();
            let refused = cl::create_deposit(&e, TENANT, id, bad).await.unwrap_err();
            let ColendingError::Invalid { errors } = refused else {
                panic!("{name}: {refused}");
            };
            assert_eq!(errors[0].0, field, "{name}");
            assert!(
                matches!(
                    cl::deposit(&e, TENANT, id).await,
                    Err(ColendingError::NotFound(_))
                ),
                "{name}: nothing kept"
            );
        }
        // 5% of 1,000,000 is 50,000, but only 40,000 was deposited.
        let id = Uuid::now_v7();
        let (d, replay) = cl::create_deposit(&e, TENANT, id, spec("0.05", 1_000_000, 40_000))
            .await
            .unwrap();
        assert!(!replay);
        assert_eq!(
            (d.doc.cap_minor(), d.doc.available_minor()),
            (40_000, 40_000)
        );
        let (again, replay) = cl::create_deposit(&e, TENANT, id, spec("0.05", 1_000_000, 40_000))
            .await
            .unwrap();
        assert!(
            replay && again.doc == d.doc,
            "{name}: the same id and fields replay"
        );
        let other = cl::create_deposit(&e, TENANT, id, spec("0.06", 1_000_000, 40_000)).await;
        assert!(
            matches!(
                other,
                Err(ColendingError::Conflict {
                    code: "id_reused",
                    ..
                })
            ),
            "{name}"
        );
        // Another tenant does not see it.
        assert!(matches!(
            cl::deposit(&e, "t2", id).await,
            Err(ColendingError::NotFound(_))
        ));
        let usd = DepositSpec {
            currency: Currency::Usd,
            ..spec("0.05", 1_000_000, 40_000)
        };
        let (usd, _) = cl::create_deposit(&e, TENANT, Uuid::now_v7(), usd)
            .await
            .unwrap();
        let product_id = Uuid::now_v7();
        three_funders(&e, product_id, false).await;
        let plan = cl::plan(&e, TENANT, product_id).await.unwrap();
        for deposit_id in [Uuid::now_v7(), usd.doc.id] {
            let with = PlanSpec {
                first_loss: Some(FirstLossRef { deposit_id }),
                ..plan.doc.spec.clone()
            };
            let refused = cl::set_plan(&e, TENANT, product_id, Currency::Cny, Uuid::now_v7(), with)
                .await
                .unwrap_err();
            let ColendingError::Invalid { errors } = refused else {
                panic!("{name}: {refused}");
            };
            assert_eq!(errors[0].0, "first_loss.deposit_id", "{name}");
            let now = cl::plan(&e, TENANT, product_id).await.unwrap();
            assert_eq!(now.version, plan.version, "{name}: the plan is unchanged");
        }
    }
}
