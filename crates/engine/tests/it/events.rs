//! The transactional outbox on SQLite and PostgreSQL: every change reports itself in its
//! own transaction, the sequence has no gaps in commit order (also with the decision log
//! writing beside the ledger writer), a retry adds nothing, and the types are catalogued.

use engine::cob::{self, CobConfig};
use engine::loans::{self, Action, Application};
use engine::revolving::{self as rc, BorrowerKind, LimitAction, NewLine, NewMerchant, NewPurchase};
use engine::{Engine, EngineConfig};
use lending::loan::LoanConfig;
use lending::LoanProduct;
use money::{BusinessDate, Currency, Money};
use revolving::{LimitRules, Terms};
use std::collections::{HashMap, HashSet};
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

async fn all_events(e: &Engine) -> Vec<StoredEvent> {
    let mut out: Vec<StoredEvent> = Vec::new();
    loop {
        let page = e
            .events(EventFilter {
                after: out.last().map_or(0, |x| x.seq),
                limit: 97,
                ..EventFilter::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Sequence 1..=n with no gap, unique ids, catalogued types, JSON payloads.
fn check_feed(name: &str, events: &[StoredEvent]) {
    let mut ids = HashSet::new();
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev.seq, i as i64 + 1, "{name}: gap or reorder at {i}");
        assert!(
            ids.insert(ev.event.id),
            "{name}: duplicate id {:?}",
            ev.event
        );
        assert!(
            engine::events::is_known(&ev.event.kind),
            "{name}: {} not catalogued",
            ev.event.kind
        );
        let v: serde_json::Value = serde_json::from_str(&ev.event.payload)
            .unwrap_or_else(|err| panic!("{name}: payload {err}: {}", ev.event.payload));
        assert!(v.is_object(), "{name}");
    }
}

fn kinds_of(events: &[StoredEvent], subject: Uuid) -> Vec<&str> {
    events
        .iter()
        .filter(|e| e.event.subject == subject)
        .map(|e| e.event.kind.as_str())
        .collect()
}

async fn merchant(e: &Engine) -> Uuid {
    let id = Uuid::now_v7();
    rc::create_merchant(
        e,
        T,
        NewMerchant {
            id,
            name: "Tea house".into(),
            currency: Currency::Cny,
            discount_rate: "0.008".parse().unwrap(),
            settlement_account: "bank:6222-0001".into(),
        },
    )
    .await
    .unwrap();
    id
}

async fn line(e: &Engine, limit_minor: i64) -> Uuid {
    let borrower = Uuid::now_v7();
    rc::create_borrower(e, borrower, T, BorrowerKind::Individual, "Li Lei".into())
        .await
        .unwrap();
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
    .await
    .unwrap();
    id
}

fn purchase(line_id: Uuid, merchant_id: Uuid, amount_minor: i64) -> NewPurchase {
    NewPurchase {
        id: Uuid::now_v7(),
        line_id,
        merchant_id,
        currency: Currency::Cny,
        amount_minor,
    }
}

fn decision(id: Uuid) -> store::DecisionRow {
    store::DecisionRow {
        id: id.to_string(),
        applicant_id: "a-1".into(),
        created_at_ms: 1,
        input_json: "{}".into(),
        input_hash: [1; 32],
        model_version: "m1".into(),
        policy_version: "p1".into(),
        outcome: "approve".into(),
        rules_fired: "[]".into(),
        output_json: "{}".into(),
        output_hash: [2; 32],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_change_reports_itself_once_in_order() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let m = merchant(&e).await;
        let l = line(&e, 500_000).await;
        let (sold, _) = rc::sale(&e, T, purchase(l, m, 10_000)).await.unwrap();
        let (auth, _) = rc::authorize(&e, T, purchase(l, m, 5_000)).await.unwrap();
        rc::capture(&e, T, auth.id, None).await.unwrap();
        let (voided, _) = rc::authorize(&e, T, purchase(l, m, 1_000)).await.unwrap();
        rc::void(&e, T, voided.id).await.unwrap();
        rc::change_line(
            &e,
            T,
            l,
            Uuid::now_v7(),
            LimitAction::Set {
                limit_minor: 400_000,
            },
            "review".into(),
        )
        .await
        .unwrap();
        rc::repay(&e, T, l, Uuid::now_v7(), 3_000).await.unwrap();

        let loan = Uuid::now_v7();
        let config = LoanConfig::from_product(
            &LoanProduct::example_cny(),
            Money::from_minor(1_000_000, Currency::Cny),
            6,
            90,
        )
        .unwrap();
        loans::apply_for_loan(
            &e,
            Application {
                id: loan,
                tenant: T.into(),
                borrower: "alice".into(),
                product_id: Uuid::nil(),
                product_version: 1,
                config,
                decision_id: None,
            },
        )
        .await
        .unwrap();
        loans::decide(&e, loan, true).await.unwrap();
        let key = Uuid::now_v7();
        let today = d("2026-01-15");
        loans::execute(&e, loan, Action::Disburse { payee: None }, today, key)
            .await
            .unwrap();
        let before_retry = all_events(&e).await.len();
        let (_, replayed) = loans::execute(&e, loan, Action::Disburse { payee: None }, today, key)
            .await
            .unwrap();
        assert!(replayed, "{name}");
        assert_eq!(
            all_events(&e).await.len(),
            before_retry,
            "{name}: a retry adds no event"
        );

        let dec = Uuid::now_v7();
        e.record_decision_for(decision(dec), T).await.unwrap();

        // Past the first due date: close of business finds it unpaid.
        for _ in 0..40 {
            cob::close_business_day(&e, CobConfig::default(), &|_| {})
                .await
                .unwrap();
        }

        let events = all_events(&e).await;
        check_feed(name, &events);
        assert_eq!(kinds_of(&events, sold.id), ["purchase.captured"], "{name}");
        assert_eq!(
            kinds_of(&events, auth.id),
            ["purchase.authorized", "purchase.captured"],
            "{name}"
        );
        assert_eq!(
            kinds_of(&events, voided.id),
            ["purchase.authorized", "purchase.voided"],
            "{name}"
        );
        let line_kinds = kinds_of(&events, l);
        assert_eq!(
            line_kinds.first(),
            Some(&"line.opened"),
            "{name}: {line_kinds:?}"
        );
        assert!(
            line_kinds.contains(&"line.limit_changed"),
            "{name}: {line_kinds:?}"
        );
        assert!(
            line_kinds.contains(&"line.payment_allocated"),
            "{name}: {line_kinds:?}"
        );
        let loan_kinds = kinds_of(&events, loan);
        assert_eq!(
            loan_kinds[..3],
            ["loan.created", "loan.approved", "loan.disbursed"],
            "{name}: {loan_kinds:?}"
        );
        assert_eq!(
            loan_kinds
                .iter()
                .filter(|k| **k == "loan.payment_missed")
                .count(),
            1,
            "{name}: one installment fell due and was missed: {loan_kinds:?}"
        );
        let missed = events
            .iter()
            .find(|e| e.event.kind == "loan.payment_missed")
            .unwrap();
        let p: serde_json::Value = serde_json::from_str(&missed.event.payload).unwrap();
        assert_eq!(p["installment"], 1, "{name}: {p}");
        assert_eq!(p["currency"], "CNY", "{name}: {p}");
        assert!(p["outstanding_minor"].as_i64().unwrap() > 0, "{name}: {p}");
        assert_eq!(kinds_of(&events, dec), ["decision.made"], "{name}");
        assert!(events.iter().all(|e| e.event.tenant == T), "{name}");

        // Filters: by type and by tenant.
        let only = e
            .events(EventFilter {
                after: 0,
                kinds: vec!["purchase.voided".into(), "decision.made".into()],
                tenant: Some(T.into()),
                limit: 100,
            })
            .await
            .unwrap();
        assert_eq!(only.len(), 2, "{name}");
        let other = e
            .events(EventFilter {
                after: 0,
                tenant: Some("t2".into()),
                limit: 100,
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert!(other.is_empty(), "{name}");
    }
}

/// Sales through the ledger writer and decisions through the decision log commit in
/// separate transactions at once; the sequence still has no gap and every change is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_share_one_gap_free_sequence() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let m = merchant(&e).await;
        let l = line(&e, 100_000_000).await;
        let start = all_events(&e).await.len();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..300 {
            let e = e.clone();
            tasks.spawn(async move {
                if i % 3 == 0 {
                    e.record_decision_for(decision(Uuid::now_v7()), T)
                        .await
                        .unwrap();
                } else {
                    rc::sale(&e, T, purchase(l, m, 100)).await.unwrap();
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        let events = all_events(&e).await;
        check_feed(name, &events);
        let mut by_kind: HashMap<&str, usize> = HashMap::new();
        for ev in &events[start..] {
            *by_kind.entry(ev.event.kind.as_str()).or_default() += 1;
        }
        assert_eq!(by_kind.get("decision.made"), Some(&100), "{name}");
        assert_eq!(by_kind.get("purchase.captured"), Some(&200), "{name}");
        assert_eq!(e.store().events_head().await.unwrap(), events.len() as i64);
    }
}
