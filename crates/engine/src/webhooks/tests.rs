use super::*;
use proptest::prelude::*;
use store::EventRow;
use uuid::Uuid;

#[test]
fn signature_matches_the_published_scheme() {
    // HMAC-SHA256("whsec_test", "1700000000.{\"a\":1}"), computed independently with
    // `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test`.
    let sig = sign("whsec_test", 1_700_000_000, br#"{"a":1}"#);
    assert_eq!(sig.len(), 64);
    assert_eq!(
        signature_header("whsec_test", 1_700_000_000, br#"{"a":1}"#),
        format!("t=1700000000,v1={sig}")
    );
    assert_eq!(sig, EXPECTED_SIG);
}

const EXPECTED_SIG: &str = "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789";

#[test]
fn verification_accepts_only_the_right_secret_body_and_time() {
    let body = br#"{"seq":1}"#;
    let header = signature_header("s3cret", 1_000, body);
    assert_eq!(verify("s3cret", &header, body, 1_000, 300), Ok(()));
    assert_eq!(verify("s3cret", &header, body, 1_299, 300), Ok(()));
    assert_eq!(
        verify("s3cret", &header, body, 1_301, 300),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        verify("other", &header, body, 1_000, 300),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify("s3cret", &header, br#"{"seq":2}"#, 1_000, 300),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify("s3cret", "v1=abcd", body, 1_000, 300),
        Err(SignatureError::Malformed)
    );
    assert_eq!(
        verify("s3cret", "t=1000", body, 1_000, 300),
        Err(SignatureError::Malformed)
    );
    // A second signature (a secret being rotated) is accepted beside a wrong one.
    let two = format!("t=1000,v1=00ff,v1={}", sign("s3cret", 1_000, body));
    assert_eq!(verify("s3cret", &two, body, 1_000, 300), Ok(()));
}

#[test]
fn backoff_grows_exponentially_to_the_cap() {
    // The largest draw shows the ceiling of each retry.
    let ceilings: Vec<u64> = (0..12)
        .map(|n| backoff_ms(n, 1_000, 300_000, u64::MAX - 1))
        .collect();
    let full: Vec<u64> = (0..12).map(|n| (1_000u64 << n).min(300_000)).collect();
    for (c, f) in ceilings.iter().zip(&full) {
        assert!(c <= f, "{ceilings:?}");
    }
    assert_eq!(backoff_ms(3, 1_000, 300_000, 8_000), 8_000);
    assert_eq!(backoff_ms(3, 1_000, 300_000, 8_001), 0);
    assert_eq!(backoff_ms(0, 0, 300_000, 77), 0);
    assert_eq!(backoff_ms(200, 1_000, 300_000, 300_000), 300_000);
}

proptest! {
    #[test]
    fn backoff_stays_within_its_window(n in 0u32..100, base in 0u64..10_000, cap in 0u64..1_000_000, draw: u64) {
        let w = backoff_ms(n, base, cap, draw);
        let ceiling = base.checked_shl(n.min(62)).filter(|c| *c >= base).unwrap_or(u64::MAX).min(cap);
        prop_assert!(w <= ceiling);
    }
}

fn sub(party: Option<(&str, &str)>, types: &[&str], tenant: &str) -> WebhookRow {
    WebhookRow {
        id: Uuid::nil(),
        tenant: tenant.into(),
        url: "http://127.0.0.1:1/".into(),
        types: types.iter().map(|t| t.to_string()).collect(),
        secret: "s".into(),
        description: None,
        owner_role: "operator".into(),
        party_kind: party.map(|p| p.0.to_string()),
        party_id: party.map(|p| p.1.to_string()),
        status: "active".into(),
        position: 0,
        failures: 0,
        paused_reason: None,
        created_ms: 0,
    }
}

fn event(kind: &str, tenant: &str, subject: Uuid, payload: serde_json::Value) -> StoredEvent {
    StoredEvent {
        seq: 1,
        event: EventRow {
            id: Uuid::new_v4(),
            kind: kind.into(),
            tenant: tenant.into(),
            day: 0,
            subject,
            payload: payload.to_string(),
        },
    }
}

#[test]
fn a_party_receives_only_events_that_name_it() {
    let (m, other, p) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let mine = event(
        "purchase.captured",
        "t",
        Uuid::new_v4(),
        serde_json::json!({"doc": {"merchant_id": m.to_string()}}),
    );
    let theirs = event(
        "purchase.captured",
        "t",
        Uuid::new_v4(),
        serde_json::json!({"doc": {"merchant_id": other.to_string()}}),
    );
    let created = event("merchant.created", "t", m, serde_json::json!({}));
    let merchant = sub(Some(("merchant", &m.to_string())), &[], "t");
    assert!(concerns(&merchant, &mine));
    assert!(concerns(&merchant, &created));
    assert!(!concerns(&merchant, &theirs));
    let funded = event(
        "colending.positions_changed",
        "t",
        Uuid::new_v4(),
        serde_json::json!({"doc": {"funders": [{"partner_id": p.to_string()}]}}),
    );
    let partner = sub(Some(("partner", &p.to_string())), &[], "t");
    assert!(concerns(&partner, &funded));
    assert!(!concerns(&partner, &mine));
    // A merchant id under a partner key is not the partner's.
    let misnamed = event(
        "x",
        "t",
        Uuid::new_v4(),
        serde_json::json!({"merchant_id": p.to_string()}),
    );
    assert!(!concerns(&partner, &misnamed));
    let operator = sub(None, &["purchase.captured"], "*");
    assert!(concerns(&operator, &mine) && !concerns(&operator, &created));
    let other_tenant = sub(None, &[], "u");
    assert!(!concerns(&other_tenant, &mine));
}

#[test]
fn a_partner_sees_its_own_part_of_a_co_lent_loan_and_other_payloads_as_they_are() {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let partner = sub(Some(("partner", &a.to_string())), &[], "t");
    let positions = serde_json::json!({"id": "x", "doc": {
        "loan_id": "l", "funders": [{"partner_id": a.to_string(), "share": "0.6"},
                                    {"partner_id": b.to_string(), "share": "0.4"}],
        "memo": {"x": 1}, "platform": {}, "totals": {}}})
    .to_string();
    let seen = payload_for(&partner, "colending.positions_changed", &positions);
    let v: serde_json::Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(
        v["doc"],
        serde_json::json!({"loan_id": "l", "funders": [{"partner_id": a.to_string(), "share": "0.6"}]})
    );
    assert_eq!(v["id"], "x");
    // An unparsable co-lending payload is not sent; other kinds go as they are.
    assert_eq!(
        payload_for(&partner, "colending.guarantee_claimed", "{oops"),
        "null"
    );
    assert_eq!(
        payload_for(&partner, "colending.plan_created", "{oops"),
        "{oops"
    );
    // Nor is one that is not an object.
    assert_eq!(
        payload_for(&partner, "risk.funders_notified", "[1]"),
        "null"
    );
}

#[test]
fn an_early_warning_to_funders_shows_a_partner_only_its_own_loans() {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let partner = sub(Some(("partner", &a.to_string())), &[], "t");
    let notified = serde_json::json!({"customer_id": "c", "dpd": 3, "funders": [
        {"partner_id": a.to_string(), "loan_ids": ["l1"]},
        {"partner_id": b.to_string(), "loan_ids": ["l1", "l2"]}]})
    .to_string();
    let seen = payload_for(&partner, "risk.funders_notified", &notified);
    let v: serde_json::Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(
        v["funders"],
        serde_json::json!([{"partner_id": a.to_string(), "loan_ids": ["l1"]}])
    );
    assert_eq!(v["dpd"], 3);
    assert!(!seen.contains(&b.to_string()));
}
