//! The risk monitor on SQLite and PostgreSQL: a customer with a credit line and a co-lent
//! loan misses a payment; the line's limit is lowered and the funders are told, each once,
//! also when the monitor dies before its commit and when the outbox is replayed; a signal
//! for an unknown customer stores nothing; a halted customer cannot borrow.

use engine::cob::{self, CobConfig};
use engine::colending::{self as cl, ApprovalDoc, ChargeRuleDoc, EligibilityDoc, Kind};
use engine::colending::{PartnerSpec, PlanSpec, ShareDoc};
use engine::loans::{self, Action, Application, LoanUseError};
use engine::monitor::{self, Monitor, MonitorError, NewSignal};
use engine::revolving::{
    self as rc, BorrowerKind, NewLine, NewMerchant, NewPurchase, RevolvingError,
};
use engine::{Engine, EngineConfig};
use lending::loan::LoanConfig;
use lending::LoanProduct;
use money::{BusinessDate, Currency, Decimal, Money};
use revolving::{LimitRules, LineStatus, Terms};
use risk::early_warning::{default_pack, SignalKind};
use store::{EventFilter, StoredEvent};
use uuid::Uuid;

const T: &str = "t1";

async fn engines() -> Vec<(testkit::TestStore, Engine)> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let e = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .expect("start engine");
        loans::init_business_date(&e, d("2026-01-15"))
            .await
            .unwrap();
        out.push((ts, e));
    }
    out
}

fn d(s: &str) -> BusinessDate {
    s.parse().unwrap()
}

async fn all_events(e: &Engine, kind: &str) -> Vec<StoredEvent> {
    e.events(EventFilter {
        after: 0,
        kinds: vec![kind.into()],
        tenant: None,
        limit: 10_000,
    })
    .await
    .unwrap()
}

/// Runs the monitor until it has read everything.
async fn drain(m: &mut Monitor) {
    while m.run_once().await.unwrap() > 0 {}
}

async fn customer(e: &Engine) -> Uuid {
    let c = Uuid::now_v7();
    rc::create_borrower(e, c, T, BorrowerKind::Individual, "Li Lei".into())
        .await
        .unwrap();
    c
}

async fn open_line(e: &Engine, borrower: Uuid, limit_minor: i64) -> Result<Uuid, RevolvingError> {
    let id = Uuid::now_v7();
    rc::open_line(
        e,
        T,
        NewLine {
            id,
            borrower_id: borrower,
            limit_minor,
            terms: Terms::standard(Currency::Cny),
            rules: LimitRules::default(),
        },
    )
    .await?;
    Ok(id)
}

fn application(id: Uuid, borrower: Uuid, product_id: Uuid) -> Application {
    let config = LoanConfig::from_product(
        &LoanProduct::example_cny(),
        Money::from_minor(1_000_000, Currency::Cny),
        6,
        90,
    )
    .unwrap();
    Application {
        id,
        tenant: T.into(),
        borrower: borrower.to_string(),
        product_id,
        product_version: 1,
        config,
        decision_id: None,
    }
}

/// A product whose loans a bank funds half of.
async fn co_lent_product(e: &Engine) -> (Uuid, Uuid) {
    let (bank, _) = cl::create_partner(
        e,
        T,
        Uuid::now_v7(),
        PartnerSpec {
            name: "bank a".into(),
            kind: Kind::Bank,
            currency: Currency::Cny,
            yield_annual: Some("0.068".parse().unwrap()),
            quota_minor: 1_000_000_000,
            daily_quota_minor: 1_000_000_000,
            eligibility: EligibilityDoc::default(),
            approval: ApprovalDoc::Auto,
        },
    )
    .await
    .unwrap();
    let product = Uuid::now_v7();
    let platform = cl::platform_partner_id(T, Currency::Cny);
    cl::set_plan(
        e,
        T,
        product,
        Currency::Cny,
        Uuid::now_v7(),
        PlanSpec {
            shares: vec![
                ShareDoc {
                    partner_id: platform,
                    share: Decimal::new(5, 1),
                },
                ShareDoc {
                    partner_id: bank.doc.id,
                    share: Decimal::new(5, 1),
                },
            ],
            platform_share_min: Decimal::new(3, 1),
            fees: ChargeRuleDoc::Platform,
            penalties: ChargeRuleDoc::ProRata,
            guarantee: None,
            routing: None,
            first_loss: None,
        },
    )
    .await
    .unwrap();
    (product, bank.doc.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missed_payment_lowers_the_line_and_tells_the_funders_once() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let c = customer(&e).await;
        let line = open_line(&e, c, 500_000).await.unwrap();
        let (product, bank) = co_lent_product(&e).await;
        let loan = Uuid::now_v7();
        loans::apply_for_loan(&e, application(loan, c, product))
            .await
            .unwrap();
        loans::decide(&e, loan, true).await.unwrap();
        loans::execute(
            &e,
            loan,
            Action::Disburse { payee: None },
            d("2026-01-15"),
            Uuid::now_v7(),
        )
        .await
        .unwrap();
        let mut m = Monitor::new(e.clone(), default_pack());
        drain(&mut m).await;
        let s = monitor::risk_state(&e, T, c).await.unwrap();
        assert_eq!(s.loans.len(), 1, "{name}: {s:?}");
        assert_eq!(s.lines[&line].limit_minor, 500_000, "{name}");
        assert_eq!(
            s.borrowing_days.iter().map(|b| b.count).sum::<u32>(),
            1,
            "{name}: the loan counts as borrowing"
        );
        assert!(s.actions.is_empty(), "{name}: nothing to act on yet");
        assert!(s.behaviour_score.is_some(), "{name}");

        // Past the first due date: close of business records the missed installment.
        for _ in 0..40 {
            cob::close_business_day(&e, CobConfig::default(), &|_| {})
                .await
                .unwrap();
        }
        let missed = all_events(&e, "loan.payment_missed").await;
        assert_eq!(missed.len(), 1, "{name}");

        // The monitor dies after acting and before its commit: the replay acts no twice.
        let store = e.store().clone();
        let cursor_before = store.event_cursor(monitor::CURSOR).await.unwrap();
        m.drop_before_commit(true);
        m.run_once().await.unwrap();
        // The cursor commits with the states, so a batch dropped before its commit left
        // it where it was.
        assert_eq!(
            store.event_cursor(monitor::CURSOR).await.unwrap(),
            cursor_before,
            "{name}"
        );
        let lowered = rc::line(&e, T, line).await.unwrap();
        assert_eq!(lowered.doc.line.limit_minor, 250_000, "{name}: halved");
        let mut m = Monitor::new(e.clone(), default_pack());
        drain(&mut m).await;
        let last = store
            .events(store::EventFilter {
                after: 0,
                kinds: Vec::new(),
                tenant: None,
                limit: 100_000,
            })
            .await
            .unwrap()
            .last()
            .map(|ev| ev.seq);
        let moved = store.event_cursor(monitor::CURSOR).await.unwrap();
        assert!(
            moved > cursor_before,
            "{name}: the cursor moved with the replay's commit"
        );
        assert!(moved <= last, "{name}");
        let after = rc::line(&e, T, line).await.unwrap();
        assert_eq!(
            after.doc.line.limit_minor, 250_000,
            "{name}: not halved again"
        );

        let s = monitor::risk_state(&e, T, c).await.unwrap();
        assert_eq!(s.missed_payments, 1, "{name}");
        assert!(s.dpd_max() >= 1, "{name}");
        assert_eq!(s.lines[&line].limit_minor, 250_000, "{name}");
        let acts: Vec<_> = s.actions.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(acts, ["lower_limit", "notify_funders"], "{name}: {s:?}");
        for a in &s.actions {
            assert_eq!(a.rule_id, "missed_payment", "{name}");
            assert_eq!(a.cause_event_id, missed[0].event.id, "{name}");
            assert_eq!(a.cause_seq, missed[0].seq, "{name}");
            assert_eq!(a.result, "done", "{name}");
        }
        assert_eq!(s.actions[0].targets, [line], "{name}");
        assert_eq!(s.actions[1].targets, [bank], "{name}");
        let taken = all_events(&e, "risk.action_taken").await;
        assert_eq!(taken.len(), 2, "{name}");
        let told = all_events(&e, "risk.funders_notified").await;
        assert_eq!(told.len(), 1, "{name}");
        let p: serde_json::Value = serde_json::from_str(&told[0].event.payload).unwrap();
        assert_eq!(
            p["funders"][0]["partner_id"],
            bank.to_string(),
            "{name}: {p}"
        );
        assert_eq!(
            p["funders"][0]["loan_ids"][0],
            loan.to_string(),
            "{name}: {p}"
        );
        assert_eq!(p["cause_seq"], missed[0].seq, "{name}: {p}");
        assert!(told[0].seq > missed[0].seq, "{name}");

        // Another monitor reading the whole outbox again changes nothing.
        let mut again = Monitor::new(e.clone(), default_pack()).with_cursor("replay");
        drain(&mut again).await;
        assert_eq!(all_events(&e, "risk.action_taken").await.len(), 2, "{name}");
        assert_eq!(
            all_events(&e, "risk.funders_notified").await.len(),
            1,
            "{name}"
        );
        let line_now = rc::line(&e, T, line).await.unwrap();
        assert_eq!(line_now.doc.line.limit_minor, 250_000, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bureau_alert_freezes_and_halts_new_borrowing() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let c = customer(&e).await;
        let line = open_line(&e, c, 300_000).await.unwrap();
        let merchant = Uuid::now_v7();
        rc::create_merchant(
            &e,
            T,
            NewMerchant {
                id: merchant,
                name: "Tea house".into(),
                currency: Currency::Cny,
                discount_rate: "0.008".parse().unwrap(),
                settlement_account: "bank:6222-0001".into(),
            },
        )
        .await
        .unwrap();
        let signal = Uuid::now_v7();
        let alert = NewSignal {
            kind: SignalKind::BureauAlert,
            amount_minor: None,
            currency: None,
            detail: Some("new default at another lender".into()),
        };
        let (_, replayed) = monitor::post_signal(&e, T, c, signal, alert.clone())
            .await
            .unwrap();
        assert!(!replayed);
        let (_, replayed) = monitor::post_signal(&e, T, c, signal, alert.clone())
            .await
            .unwrap();
        assert!(replayed, "{name}: the same id again is a retry");
        assert_eq!(all_events(&e, "risk.signal_received").await.len(), 1);

        let mut m = Monitor::new(e.clone(), default_pack());
        drain(&mut m).await;
        let s = monitor::risk_state(&e, T, c).await.unwrap();
        assert!(s.halted, "{name}: {s:?}");
        assert_eq!(s.signals.len(), 1, "{name}");
        let frozen = rc::line(&e, T, line).await.unwrap();
        assert_eq!(frozen.doc.line.status, LineStatus::Frozen, "{name}");

        // No new line, loan or purchase for the halted customer; others go on.
        assert!(
            matches!(
                open_line(&e, c, 100_000).await,
                Err(RevolvingError::Conflict {
                    code: "customer_halted",
                    ..
                })
            ),
            "{name}"
        );
        let refused = loans::apply_for_loan(&e, application(Uuid::now_v7(), c, Uuid::nil())).await;
        assert!(matches!(refused, Err(LoanUseError::Refused(_))), "{name}");
        let other = customer(&e).await;
        let other_line = open_line(&e, other, 100_000).await.unwrap();
        let sale = |line_id| NewPurchase {
            id: Uuid::now_v7(),
            line_id,
            merchant_id: merchant,
            currency: Currency::Cny,
            amount_minor: 1_000,
        };
        rc::sale(&e, T, sale(other_line)).await.unwrap();
        loans::apply_for_loan(&e, application(Uuid::now_v7(), other, Uuid::nil()))
            .await
            .unwrap();

        // A fresh process knows the halt from storage.
        let e2 = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .unwrap();
        assert!(monitor::halts::halted(&e2, c).await.unwrap(), "{name}");
        assert!(!monitor::halts::halted(&e2, other).await.unwrap(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signal_for_an_unknown_customer_or_with_bad_fields_stores_nothing() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let head = e.store().events_head().await.unwrap();
        let unknown = monitor::post_signal(
            &e,
            T,
            Uuid::now_v7(),
            Uuid::now_v7(),
            NewSignal {
                kind: SignalKind::MultiBorrowing,
                amount_minor: None,
                currency: None,
                detail: None,
            },
        )
        .await;
        assert!(matches!(unknown, Err(MonitorError::NotFound)), "{name}");
        let c = customer(&e).await;
        let head_with_customer = e.store().events_head().await.unwrap();
        assert!(head_with_customer > head);
        let no_amount = monitor::post_signal(
            &e,
            T,
            c,
            Uuid::now_v7(),
            NewSignal {
                kind: SignalKind::MerchantRevenue,
                amount_minor: None,
                currency: Some(Currency::Cny),
                detail: None,
            },
        )
        .await;
        assert!(
            matches!(&no_amount, Err(MonitorError::Invalid { field, .. }) if field == "amount_minor"),
            "{name}"
        );
        assert_eq!(
            e.store().events_head().await.unwrap(),
            head_with_customer,
            "{name}: a rejected signal writes no event"
        );
        let id = Uuid::now_v7();
        let revenue = NewSignal {
            kind: SignalKind::MerchantRevenue,
            amount_minor: Some(12_000_000),
            currency: Some(Currency::Cny),
            detail: None,
        };
        monitor::post_signal(&e, T, c, id, revenue.clone())
            .await
            .unwrap();
        let reused = monitor::post_signal(
            &e,
            T,
            c,
            id,
            NewSignal {
                amount_minor: Some(1),
                ..revenue
            },
        )
        .await;
        assert!(
            matches!(
                reused,
                Err(MonitorError::Conflict {
                    code: "id_reused",
                    ..
                })
            ),
            "{name}"
        );
    }
}
