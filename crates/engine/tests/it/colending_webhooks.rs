//! What co-lending events carry to feeds and webhooks. A funding partner's subscription
//! receives its own part of a loan's positions and of a guarantee claim, nothing of the
//! other funders', the guarantor's (unless it is the guarantor) or the platform's bookings
//! (checked from the guarantee test, on real events of a co-lent loan with three funders
//! and a guarantor). No event carries a callback partner's HMAC secret.

use super::colending::{bank, engines};
use engine::colending::docs::PositionsDoc;
use engine::colending::{self as cl, ApprovalDoc};
use engine::webhooks::payload_for;
use engine::{loans, Engine};
use store::{EventFilter, WebhookRow};
use uuid::Uuid;

fn partner_sub(partner: Uuid) -> WebhookRow {
    WebhookRow {
        id: Uuid::nil(),
        tenant: "*".into(),
        url: "http://127.0.0.1:1/".into(),
        types: Vec::new(),
        secret: "s".into(),
        description: None,
        owner_role: "partner_bank".into(),
        party_kind: Some("partner".into()),
        party_id: Some(partner.to_string()),
        status: "active".into(),
        position: 0,
        failures: 0,
        paused_reason: None,
        created_ms: 0,
    }
}

async fn payloads(e: &Engine, kind: &str) -> Vec<(String, String)> {
    let filter = EventFilter {
        after: 0,
        kinds: vec![kind.into()],
        tenant: None,
        limit: 1_000,
    };
    let events = e.events(filter).await.unwrap();
    assert!(!events.is_empty(), "no {kind} event");
    let out = events.into_iter().map(|s| (s.event.kind, s.event.payload));
    out.collect()
}

/// Each party of `doc`'s loan sees its own part of every positions and claim event.
pub(crate) async fn each_party_sees_its_own_part(e: &Engine, name: &str, doc: &PositionsDoc) {
    let guarantor = doc
        .guarantor
        .as_ref()
        .expect("a guarantor")
        .terms
        .guarantor_id;
    let funders: Vec<Uuid> = doc.funders.iter().map(|f| f.partner_id).collect();
    let parties: Vec<Uuid> = funders.iter().copied().chain([guarantor]).collect();
    let positions = payloads(e, "colending.positions_changed").await;
    let claims = payloads(e, "colending.guarantee_claimed").await;
    for &me in &parties {
        let sub = partner_sub(me);
        for (kind, payload) in positions.iter().chain(&claims) {
            assert!(payload.contains("\"memo\"") || kind.ends_with("claimed"));
            let seen = payload_for(&sub, kind, payload).into_owned();
            let v: serde_json::Value = serde_json::from_str(&seen).unwrap();
            // The guarantor paid every funder a claim pays: it sees whom; no one else does.
            let others = parties
                .iter()
                .filter(|p| **p != me && !(me == guarantor && kind.ends_with("claimed")));
            for other in others {
                let hit = if kind.ends_with("claimed") && *other == guarantor {
                    // A funder is told who paid it: the claim names its guarantor.
                    seen.replace(&v["doc"]["claim"]["guarantor"].to_string(), "")
                } else {
                    seen.clone()
                };
                assert!(
                    !hit.contains(&other.to_string()),
                    "{name}: {me} sees {other} in {kind}: {seen}"
                );
            }
            for private in ["\"memo\"", "\"platform\"", "\"platform/", "\"totals\""] {
                assert!(!seen.contains(private), "{name}: {me}: {private} in {seen}");
            }
            if kind.ends_with("positions_changed") {
                let own = v["doc"]["funders"].as_array().unwrap();
                assert_eq!(own.len(), usize::from(funders.contains(&me)), "{name}");
                let g = v["doc"].get("guarantor").is_some();
                assert_eq!(g, me == guarantor, "{name}: {me}");
            }
        }
    }
    // Outside a partner's view the payload goes as it was written.
    let mut operator = partner_sub(guarantor);
    (operator.party_kind, operator.party_id) = (None, None);
    let (kind, payload) = &positions[0];
    assert_eq!(payload_for(&operator, kind, payload), payload.as_str());
}

#[tokio::test]
async fn no_event_carries_a_callback_partners_secret() {
    const SECRET: &str = "a-callback-secret-of-32-bytes!!!";
    for (ts, e) in engines().await {
        let name = ts.name;
        loans::init_business_date(&e, "2026-01-15".parse().unwrap())
            .await
            .unwrap();
        let mut spec = bank("callback bank", None, 1_000_000);
        spec.approval = ApprovalDoc::Callback {
            url: "https://bank.example/approve".into(),
            secret: SECRET.into(),
            timeout_ms: 500,
        };
        let id = Uuid::now_v7();
        cl::create_partner(&e, "t1", id, spec.clone())
            .await
            .unwrap();
        spec.quota_minor = 2_000_000;
        cl::change_partner(&e, "t1", id, Uuid::now_v7(), spec)
            .await
            .unwrap();
        let mut seen = 0;
        for kind in ["colending.partner_created", "colending.partner_changed"] {
            for (_, payload) in payloads(&e, kind).await {
                assert!(!payload.contains(SECRET), "{name}: {payload}");
                assert!(
                    payload.contains("bank.example/approve"),
                    "{name}: {payload}"
                );
                seen += 1;
            }
        }
        assert_eq!(seen, 2, "{name}");
        // The partner itself still approves with it: the stored document keeps it.
        let stored = e.store().doc(id).await.unwrap().unwrap();
        assert!(
            String::from_utf8_lossy(&stored.body).contains(SECRET),
            "{name}"
        );
    }
}
