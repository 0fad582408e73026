//! Callback approval against a real local HTTP server, on SQLite and PostgreSQL: the
//! funder that approves (after checking the request's signature) funds the loan; one that
//! declines, hangs past its timeout, answers garbage or signs its answer wrongly declines
//! it with its reason, and nothing is booked.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use engine::colending::approval::{self, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use engine::colending::{
    self as cl, ApprovalDoc, ChargeRuleDoc, ColendingError, EligibilityDoc, Kind, PartnerSpec,
    PlanSpec, ShareDoc,
};
use engine::loans::{self, Action, Application, LoanUseError};
use engine::{Engine, EngineConfig};
use lending::loan::LoanConfig;
use lending::LoanProduct;
use money::{Currency, Money};
use std::time::Duration;
use uuid::Uuid;

const TENANT: &str = "t1";
const SECRET: &str = "0123456789abcdef-secret";

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Answers `body` signed over the request's timestamp and id (`bad`: signed wrongly).
fn answer(h: &HeaderMap, body: &str, bad: bool) -> (StatusCode, HeaderMap, String) {
    let id: Uuid = header(h, IDEMPOTENCY_HEADER).parse().unwrap();
    let secret = if bad { "another-secret-of-16+" } else { SECRET };
    let sig = approval::signature(secret, header(h, TIMESTAMP_HEADER), id, body.as_bytes());
    let mut out = HeaderMap::new();
    out.insert(SIGNATURE_HEADER, sig.parse().unwrap());
    (StatusCode::OK, out, body.to_string())
}

/// The request's signature must verify, or the funder refuses to answer (401).
fn verified(h: &HeaderMap, body: &Bytes) -> bool {
    let Ok(id) = header(h, IDEMPOTENCY_HEADER).parse::<Uuid>() else {
        return false;
    };
    approval::signature(SECRET, header(h, TIMESTAMP_HEADER), id, body)
        == header(h, SIGNATURE_HEADER)
}

async fn funder() -> String {
    let app = Router::new()
        .route(
            "/approve",
            post(|h: HeaderMap, body: Bytes| async move {
                if !verified(&h, &body) {
                    return (StatusCode::UNAUTHORIZED, HeaderMap::new(), String::new());
                }
                answer(&h, r#"{"decision":"approve","reasons":[]}"#, false)
            }),
        )
        .route(
            "/decline",
            post(|h: HeaderMap| async move {
                answer(
                    &h,
                    r#"{"decision":"decline","reasons":["score too low"]}"#,
                    false,
                )
            }),
        )
        .route(
            "/hang",
            post(|h: HeaderMap| async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                answer(&h, r#"{"decision":"approve"}"#, false)
            }),
        )
        .route(
            "/echo",
            post(|h: HeaderMap, body: Bytes| async move {
                // Declines, naming what it was sent of the loan's facts.
                let asked: approval::ApprovalRequest = serde_json::from_slice(&body).unwrap();
                let text = String::from_utf8_lossy(&body);
                let facts = format!(
                    "score={} region={} region_key={}",
                    asked.score.as_deref().unwrap_or("none"),
                    asked.region.as_deref().unwrap_or("none"),
                    text.contains("\"region\""),
                );
                let reply = serde_json::json!({"decision": "decline", "reasons": [facts]});
                answer(&h, &reply.to_string(), false)
            }),
        )
        .route(
            "/garbage",
            post(|h: HeaderMap| async move { answer(&h, "<html>ok</html>", false) }),
        )
        .route(
            "/badsig",
            post(|h: HeaderMap| async move { answer(&h, r#"{"decision":"approve"}"#, true) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn disburse(e: &Engine, product_id: Uuid) -> Result<Uuid, LoanUseError> {
    disburse_decided(e, product_id, None).await
}

/// A loan of borrower `b` (not a customer), applied for with `decision_id`.
async fn disburse_decided(
    e: &Engine,
    product_id: Uuid,
    decision_id: Option<String>,
) -> Result<Uuid, LoanUseError> {
    let id = Uuid::now_v7();
    let amount = Money::from_minor(1_000_000, Currency::Cny);
    let config = LoanConfig::from_product(&LoanProduct::example_cny(), amount, 6, 90).unwrap();
    loans::apply_for_loan(
        e,
        Application {
            id,
            tenant: TENANT.into(),
            borrower: "b".into(),
            product_id,
            product_version: 1,
            config,
            decision_id,
        },
    )
    .await?;
    loans::decide(e, id, true).await?;
    let today = loans::business_date(e).await.unwrap().unwrap();
    loans::execute(
        e,
        id,
        Action::Disburse { payee: None },
        today,
        Uuid::now_v7(),
    )
    .await?;
    Ok(id)
}

#[tokio::test]
async fn callback_funders_approve_or_decline_over_http_before_anything_is_booked() {
    let base = funder().await;
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let e = engine_on(&ts.store).await;
        let platform = cl::platform_partner_id(TENANT, Currency::Cny);
        for (path, code) in [
            ("approve", None),
            ("decline", Some(("declined", "score too low"))),
            ("hang", Some(("callback_timeout", "300 ms"))),
            ("garbage", Some(("callback_malformed", "JSON"))),
            ("badsig", Some(("callback_bad_signature", "signature"))),
        ] {
            let callback = ApprovalDoc::Callback {
                url: format!("{base}/{path}"),
                secret: SECRET.into(),
                timeout_ms: 300,
            };
            let (product_id, bank) = product_with(&e, &format!("bank {path}"), callback).await;
            let before = engine::verify(e.store(), |_| {}).await.unwrap();
            match (disburse(&e, product_id).await, code) {
                (Ok(loan), None) => {
                    let doc = cl::loan_funding(&e, loan).await.unwrap().unwrap();
                    assert_eq!(doc.funders[1].principal_funded_minor, 500_000, "{name}");
                }
                (
                    Err(LoanUseError::Colending(ColendingError::Declined { reasons })),
                    Some((c, text)),
                ) => {
                    let r = reasons.iter().find(|r| r.partner_id == bank).unwrap();
                    assert_eq!(r.code, c, "{name} {path}: {reasons:?}");
                    assert!(r.reason.contains(text), "{name} {path}: {}", r.reason);
                    let p = reasons.iter().find(|r| r.partner_id == platform).unwrap();
                    assert_eq!(p.code, "incomplete", "{name} {path}");
                    let after = engine::verify(e.store(), |_| {}).await.unwrap();
                    assert_eq!(
                        before.entries_checked, after.entries_checked,
                        "{name} {path}: nothing posted"
                    );
                }
                (other, _) => panic!("{name} {path}: {:?}", other.map_err(|e| e.to_string())),
            }
        }
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
    }
}

/// A callback funder is sent the score of the loan's decision, as a decimal string, and no
/// region for a borrower who is not a customer.
#[tokio::test]
async fn a_callback_funder_is_sent_the_loans_score() {
    let base = funder().await;
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let e = engine_on(&ts.store).await;
        let echo = ApprovalDoc::Callback {
            url: format!("{base}/echo"),
            secret: SECRET.into(),
            timeout_ms: 2_000,
        };
        let (product_id, bank) = product_with(&e, "echo bank", echo).await;
        let decision = risk::decision::Decision {
            outcome: risk::decision::Outcome::Approve,
            arm: risk::decision::Arm::Champion,
            probability_bad: 0.04,
            score: 650.25,
            rules_fired: Vec::new(),
            reasons: Vec::new(),
            limit_minor: 1_000_000,
            price: None,
            features: Default::default(),
        };
        let decision_id = Uuid::now_v7().to_string();
        let decision = serde_json::to_value(decision).unwrap();
        let row = testkit::decision_row(&decision_id, decision);
        e.record_decision(row).await.unwrap();
        let got = disburse_decided(&e, product_id, Some(decision_id)).await;
        let Err(LoanUseError::Colending(ColendingError::Declined { reasons })) = got else {
            panic!("{name}: {:?}", got.map_err(|e| e.to_string()));
        };
        let r = reasons.iter().find(|r| r.partner_id == bank).unwrap();
        assert!(
            r.reason
                .contains("score=650.25 region=none region_key=false"),
            "{name}: {}",
            r.reason
        );
    }
}

/// An engine on `store` with the business date open.
async fn engine_on(store: &store::Store) -> Engine {
    let e = Engine::start(store.clone(), EngineConfig::default())
        .await
        .unwrap();
    loans::init_business_date(&e, "2026-01-15".parse().unwrap())
        .await
        .unwrap();
    e
}

/// A partner with `approval` funding half of a new product beside the platform: the
/// product's id and the partner's.
async fn product_with(e: &Engine, name: &str, approval: ApprovalDoc) -> (Uuid, Uuid) {
    let spec = PartnerSpec {
        name: name.into(),
        kind: Kind::Bank,
        currency: Currency::Cny,
        yield_annual: None,
        quota_minor: 1_000_000_000,
        daily_quota_minor: 1_000_000_000,
        eligibility: EligibilityDoc::default(),
        approval,
    };
    let (bank, _) = cl::create_partner(e, TENANT, Uuid::now_v7(), spec)
        .await
        .unwrap();
    let platform = cl::platform_partner_id(TENANT, Currency::Cny);
    let half = |partner_id| ShareDoc {
        partner_id,
        share: "0.5".parse().unwrap(),
    };
    let plan = PlanSpec {
        shares: vec![half(platform), half(bank.doc.id)],
        platform_share_min: "0.3".parse().unwrap(),
        fees: ChargeRuleDoc::Platform,
        penalties: ChargeRuleDoc::Platform,
        guarantee: None,
        routing: None,
        first_loss: None,
    };
    let product_id = Uuid::now_v7();
    cl::set_plan(e, TENANT, product_id, Currency::Cny, Uuid::now_v7(), plan)
        .await
        .unwrap();
    (product_id, bank.doc.id)
}

/// A bank whose approval endpoint holds every request until `release` is notified, and
/// tells `asked` when one arrives.
async fn holding_funder(
    asked: std::sync::Arc<tokio::sync::Notify>,
    release: std::sync::Arc<tokio::sync::Notify>,
) -> String {
    let app = Router::new().route(
        "/held",
        post(move |h: HeaderMap| {
            let (asked, release) = (asked.clone(), release.clone());
            async move {
                asked.notify_one();
                release.notified().await;
                answer(&h, r#"{"decision":"approve","reasons":[]}"#, false)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// While a callback bank keeps a loan waiting for its answer, a loan of another product,
/// whose funders approve automatically, is funded: the bank holds up only its own loans.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_callback_funder_holds_up_only_its_own_loans() {
    use std::sync::Arc;
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let e = engine_on(&ts.store).await;
        let (asked, release) = (
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(tokio::sync::Notify::new()),
        );
        let base = holding_funder(asked.clone(), release.clone()).await;
        let held = ApprovalDoc::Callback {
            url: format!("{base}/held"),
            secret: SECRET.into(),
            timeout_ms: 30_000,
        };
        let (slow, _) = product_with(&e, "slow bank", held).await;
        let (quick, _) = product_with(&e, "quick bank", ApprovalDoc::Auto).await;
        let waiting = tokio::spawn({
            let e = e.clone();
            async move { disburse(&e, slow).await }
        });
        asked.notified().await;
        // A deadlock guard, not a speed target: before callbacks were asked outside the
        // origination lock, this waited for the slow bank's answer, here never.
        let quick_loan = tokio::time::timeout(Duration::from_secs(20), disburse(&e, quick))
            .await
            .unwrap_or_else(|_| panic!("{name}: the quick loan waited for the slow bank"))
            .unwrap();
        assert!(
            !waiting.is_finished(),
            "{name}: the slow bank has not answered"
        );
        release.notify_one();
        let slow_loan = waiting.await.unwrap().unwrap();
        for loan in [quick_loan, slow_loan] {
            let doc = cl::loan_funding(&e, loan).await.unwrap().unwrap();
            assert_eq!(doc.funders[1].principal_funded_minor, 500_000, "{name}");
        }
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
    }
}
