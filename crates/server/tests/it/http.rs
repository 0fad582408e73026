//! The HTTP API through a real server: shapes, errors, auth and proofs.

use crate::common;

use base64::Engine as _;
use common::*;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use engine::Clock;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn health_and_the_contract_need_no_key_and_everything_else_does() {
    for s in servers().await {
        for path in ["/healthz", "/openapi.json"] {
            let r = reqwest::get(format!("{}{path}", s.base)).await.unwrap();
            assert_eq!(r.status(), 200, "{}: {path} is public", s.name);
        }
        for path in ["/v1/ledger/tree-head", "/metrics"] {
            let r = reqwest::get(format!("{}{path}", s.base)).await.unwrap();
            assert_eq!(r.status(), 401, "{}: {path}", s.name);
        }
        let (st, _) = s.get_as("/v1/ledger/tree-head", "wrong-key").await;
        assert_eq!(st, 401);
    }
}

#[tokio::test]
async fn entries_are_created_replayed_and_conflicts_refused() {
    for s in servers().await {
        let (a, b) = (s.account("CNY").await, s.account("CNY").await);
        let id = new_id();
        let body = entry(&id, &a, &b, 1234);
        let (st, v) = s.post("/v1/ledger/entries", &body, Some(&id)).await;
        assert_eq!(st, 201, "{}: {v}", s.name);
        assert_eq!(v["id"], id.as_str());
        let (st, v2) = s.post("/v1/ledger/entries", &body, Some(&id)).await;
        assert_eq!(
            (st, &v2),
            (200, &v),
            "{}: replay answers the original",
            s.name
        );
        let (st, p) = s
            .post("/v1/ledger/entries", &entry(&id, &a, &b, 1235), Some(&id))
            .await;
        assert_eq!(
            (st, p["field"].as_str()),
            (409, Some("id")),
            "{}: {p}",
            s.name
        );
        let (st, acc) = s.get(&format!("/v1/accounts/{a}")).await;
        assert_eq!(st, 200);
        assert_eq!(acc["debits_posted_minor"], 1234);
        assert_eq!(acc["credits_posted_minor"], 0);
        assert_eq!(acc["debits_pending_minor"], 0);
        assert_eq!(acc["currency"], "CNY");
        let (st, e) = s.get(&format!("/v1/ledger/entries/{id}")).await;
        assert_eq!((st, &e), (200, &v));
    }
}

/// Each bad request gets a 4xx problem naming the problem, and nothing changes.
#[tokio::test]
async fn bad_input_is_refused_with_a_named_field_and_changes_nothing() {
    for s in servers().await {
        let (a, b, usd) = (
            s.account("CNY").await,
            s.account("CNY").await,
            s.account("USD").await,
        );
        let unknown = new_id();
        let id = new_id();
        let mut unbalanced = entry(&id, &a, &b, 10);
        unbalanced["postings"][1]["amount_minor"] = json!(9);
        let mut extra = entry(&id, &a, &b, 10);
        extra["colour"] = json!("red");
        let overflow = entry(&id, &a, &b, 10).to_string().replacen(
            "\"amount_minor\":10",
            "\"amount_minor\":9223372036854775808",
            1,
        );
        let cases: Vec<(&str, String, Option<&str>, u16, &str)> = vec![
            ("malformed json", "{\"id\":".into(), Some(&id), 400, ""),
            ("unknown field", extra.to_string(), Some(&id), 400, "colour"),
            (
                "unknown account",
                entry(&id, &a, &unknown, 10).to_string(),
                Some(&id),
                422,
                "postings[1].account_id",
            ),
            (
                "unbalanced",
                unbalanced.to_string(),
                Some(&id),
                422,
                "postings",
            ),
            (
                "mixed currencies",
                entry(&id, &a, &usd, 10).to_string(),
                Some(&id),
                422,
                "postings[1].account_id",
            ),
            (
                "negative",
                entry(&id, &a, &b, -5).to_string(),
                Some(&id),
                422,
                "postings[0].amount_minor",
            ),
            (
                "zero",
                entry(&id, &a, &b, 0).to_string(),
                Some(&id),
                422,
                "postings[0].amount_minor",
            ),
            (
                "overflow i64",
                overflow,
                Some(&id),
                400,
                "postings[0].amount_minor",
            ),
            (
                "no idempotency key",
                entry(&id, &a, &b, 10).to_string(),
                None,
                400,
                "",
            ),
            (
                "bad currency",
                entry(&id, &a, &b, 10).to_string().replace("CNY", "XYZ"),
                Some(&id),
                422,
                "currency",
            ),
        ];
        for (what, body, idem, status, field) in cases {
            let (st, p) = s.post_raw("/v1/ledger/entries", body, idem, KEY).await;
            assert_eq!(st, status, "{}: {what}: {p}", s.name);
            assert!(
                p["title"].is_string() && p["detail"].is_string() && p["type"].is_string(),
                "{what}: {p}"
            );
            if !field.is_empty() {
                assert_eq!(p["field"].as_str(), Some(field), "{}: {what}: {p}", s.name);
            }
            let (st, _) = s.get(&format!("/v1/ledger/entries/{id}")).await;
            assert_eq!(st, 404, "{}: {what} left an entry", s.name);
        }
        let (_, acc) = s.get(&format!("/v1/accounts/{a}")).await;
        assert_eq!(
            (
                acc["debits_posted_minor"].as_i64(),
                acc["credits_posted_minor"].as_i64()
            ),
            (Some(0), Some(0))
        );
        let (_, head) = s.get("/v1/ledger/tree-head").await;
        assert_eq!(head["tree_size"], 0, "{}: no entry was added", s.name);
        // Overflow of a balance (each amount valid, the sum not) is refused too.
        let big = new_id();
        assert_eq!(
            s.post(
                "/v1/ledger/entries",
                &entry(&big, &a, &b, i64::MAX),
                Some(&big)
            )
            .await
            .0,
            201
        );
        let more = new_id();
        let (st, p) = s
            .post("/v1/ledger/entries", &entry(&more, &a, &b, 1), Some(&more))
            .await;
        assert_eq!((st, p["code"].as_str()), (422, Some("overflow")), "{p}");
    }
}

#[tokio::test]
async fn holds_post_once_and_expire() {
    for (s, clock) in servers_on_manual_clocks().await {
        let (a, b) = (s.account("CNY").await, s.account("CNY").await);
        let hid = new_id();
        let hold = json!({"id": hid, "currency": "CNY", "debit_account_id": a, "credit_account_id": b, "amount_minor": 500});
        let (st, h) = s.post("/v1/holds", &hold, Some(&hid)).await;
        assert_eq!((st, h["status"].as_str()), (201, Some("pending")), "{h}");
        let (_, acc) = s.get(&format!("/v1/accounts/{a}")).await;
        assert_eq!(acc["debits_pending_minor"], 500);
        let eid = new_id();
        let (st, e) = s
            .post(
                &format!("/v1/holds/{hid}/post"),
                &json!({"entry_id": eid, "amount_minor": 300}),
                Some(&eid),
            )
            .await;
        assert_eq!(st, 201, "{e}");
        let eid2 = new_id();
        let (st, p) = s
            .post(
                &format!("/v1/holds/{hid}/post"),
                &json!({"entry_id": eid2}),
                Some(&eid2),
            )
            .await;
        assert_eq!(
            (st, p["code"].as_str()),
            (409, Some("hold_not_pending")),
            "{}: posted twice: {p}",
            s.name
        );
        let (_, acc) = s.get(&format!("/v1/accounts/{a}")).await;
        assert_eq!(
            (
                acc["debits_pending_minor"].as_i64(),
                acc["debits_posted_minor"].as_i64()
            ),
            (Some(0), Some(300))
        );

        let hid = new_id();
        let hold = json!({"id": hid, "currency": "CNY", "debit_account_id": a, "credit_account_id": b, "amount_minor": 70, "expires_at_ms": clock.now_ms() + 1_000});
        assert_eq!(s.post("/v1/holds", &hold, Some(&hid)).await.0, 201);
        clock.advance_ms(1_000);
        let eid = new_id();
        let (st, p) = s
            .post(
                &format!("/v1/holds/{hid}/post"),
                &json!({"entry_id": eid}),
                Some(&eid),
            )
            .await;
        assert_eq!(st, 409, "{}: expired hold: {p}", s.name);
        assert!(
            matches!(
                p["code"].as_str(),
                Some("hold_expired" | "hold_not_pending")
            ),
            "{p}"
        );
        let (_, acc) = s.get(&format!("/v1/accounts/{a}")).await;
        assert_eq!(
            acc["debits_posted_minor"], 300,
            "{}: expired hold moved nothing",
            s.name
        );
    }
}

fn unhex(s: &Value) -> Vec<u8> {
    hex::decode(s.as_str().unwrap()).unwrap()
}

fn node(l: &[u8], r: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().to_vec()
}

/// RFC 9162 §2.1.3.2, written out here as an outside verifier would.
fn root_from_path(mut index: u64, size: u64, leaf: Vec<u8>, path: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut last = size - 1;
    let mut r = leaf;
    for p in path {
        if last == 0 {
            return None;
        }
        if index & 1 == 1 || index == last {
            r = node(p, &r);
            while index & 1 == 0 && index != 0 {
                index >>= 1;
                last >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        index >>= 1;
        last >>= 1;
    }
    (last == 0).then_some(r)
}

#[tokio::test]
async fn proofs_verify_with_sha256_and_ed25519_alone() {
    for s in servers().await {
        let (a, b) = (s.account("CNY").await, s.account("CNY").await);
        let mut ids = Vec::new();
        for i in 1..=13 {
            let id = new_id();
            assert_eq!(
                s.post("/v1/ledger/entries", &entry(&id, &a, &b, i), Some(&id))
                    .await
                    .0,
                201
            );
            ids.push(id);
        }
        for id in &ids {
            let (st, p) = s.get(&format!("/v1/ledger/entries/{id}/proof")).await;
            assert_eq!(st, 200, "{p}");
            let data = base64::engine::general_purpose::STANDARD
                .decode(p["leaf_data"].as_str().unwrap())
                .unwrap();
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(&data);
            let leaf = h.finalize().to_vec();
            assert_eq!(leaf, unhex(&p["leaf_hash"]));
            let path: Vec<Vec<u8>> = p["audit_path"]
                .as_array()
                .unwrap()
                .iter()
                .map(unhex)
                .collect();
            let size = p["tree_size"].as_u64().unwrap();
            let root = root_from_path(p["leaf_index"].as_u64().unwrap(), size, leaf, &path)
                .expect("path fits size");
            assert_eq!(
                root,
                unhex(&p["root_hash"]),
                "{}: path leads to the root",
                s.name
            );
            let th = &p["tree_head"];
            let mut signed = vec![0u8, 1u8];
            signed.extend_from_slice(&th["timestamp_ms"].as_u64().unwrap().to_be_bytes());
            signed.extend_from_slice(&size.to_be_bytes());
            signed.extend_from_slice(&root);
            assert_eq!(signed, unhex(&th["signed_data"]));
            let key =
                VerifyingKey::from_bytes(&unhex(&th["public_key"]).try_into().unwrap()).unwrap();
            let sig = Signature::from_bytes(&unhex(&th["signature"]).try_into().unwrap());
            assert!(
                key.verify(&signed, &sig).is_ok(),
                "{}: tree head signature",
                s.name
            );
            let mut tampered = signed.clone();
            tampered[20] ^= 1;
            assert!(key.verify(&tampered, &sig).is_err());
        }
        let (st, c) = s.get("/v1/ledger/consistency?first=5&second=13").await;
        assert_eq!(st, 200, "{c}");
        assert!(!c["proof"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn listing_pages_with_a_cursor() {
    for s in servers().await {
        let (a, b) = (s.account("CNY").await, s.account("CNY").await);
        for i in 1..=7 {
            let id = new_id();
            s.post("/v1/ledger/entries", &entry(&id, &a, &b, i), Some(&id))
                .await;
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = cursor
                .as_ref()
                .map_or(String::new(), |c| format!("&cursor={c}"));
            let (st, page) = s.get(&format!("/v1/accounts/{a}/entries?limit=3{q}")).await;
            assert_eq!(st, 200, "{page}");
            for e in page["items"].as_array().unwrap() {
                seen.push(e["postings"][0]["amount_minor"].as_i64().unwrap());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, (1..=7).collect::<Vec<_>>(), "{}", s.name);
        let (st, p) = s.get(&format!("/v1/accounts/{a}/entries?limit=0")).await;
        assert_eq!((st, p["field"].as_str()), (422, Some("limit")));
    }
}

#[tokio::test]
async fn keys_are_scoped_by_role_and_tenant() {
    for s in servers().await {
        let (st, k) = s
            .post(
                "/v1/api-keys",
                &json!({"role": "partner_bank", "tenant": "bank-a"}),
                None,
            )
            .await;
        assert_eq!(st, 201, "{k}");
        let partner = k["key"].as_str().unwrap().to_string();
        let (_, own) = s.post("/v1/accounts", &json!({"owner": "bank-a", "purpose": "share", "currency": "CNY", "tenant": "bank-a"}), None).await;
        let other = s.account("CNY").await;
        assert_eq!(
            s.get_as(
                &format!("/v1/accounts/{}", own["id"].as_str().unwrap()),
                &partner
            )
            .await
            .0,
            200
        );
        assert_eq!(
            s.get_as(&format!("/v1/accounts/{other}"), &partner).await.0,
            404,
            "{}: other tenant hidden",
            s.name
        );
        let id = new_id();
        let (st, _) = s
            .post_raw(
                "/v1/ledger/entries",
                entry(&id, &other, &other, 1).to_string(),
                Some(&id),
                &partner,
            )
            .await;
        assert_eq!(st, 403, "{}: partners do not post", s.name);
        let (st, p) = s
            .post(
                "/v1/api-keys",
                &json!({"role": "wizard", "tenant": "x"}),
                None,
            )
            .await;
        assert_eq!((st, p["field"].as_str()), (422, Some("role")));
    }
}

#[tokio::test]
async fn openapi_metrics_and_apr_are_served() {
    for s in servers().await {
        let (st, doc) = s.get("/openapi.json").await;
        assert_eq!(st, 200);
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        for p in [
            "/v1/ledger/entries",
            "/v1/accounts/{id}",
            "/v1/ledger/entries/{id}/proof",
            "/v1/apr",
        ] {
            assert!(doc["paths"].get(p).is_some(), "openapi lacks {p}");
        }
        let body = json!({"currency": "CNY", "advances": [{"date": "1978-01-03", "amount_minor": 100000}],
            "payments": [{"date": "1978-09-15", "amount_minor": 108000}]});
        let (st, r) = s.post("/v1/apr", &body, None).await;
        assert_eq!((st, r["apr_percent"].as_str()), (200, Some("11.45")), "{r}");
        assert_eq!(r["unit_period"].as_str(), Some("255day"), "{r}");
        // Appendix J (c)(3)(ii): every 2 weeks, inferred from the dates, not a month.
        let mut payments: Vec<_> = (0..19)
            .map(|k| {
                let date = "1978-04-11".parse::<money::BusinessDate>().unwrap();
                json!({"date": date.add_days(14 * k).unwrap().to_string(), "amount_minor": 950})
            })
            .collect();
        payments.push(json!({"date": "1979-01-02", "amount_minor": 3000}));
        let biweekly = json!({"currency": "USD",
            "advances": [{"date": "1978-04-03", "amount_minor": 20000}], "payments": payments});
        let (st, r) = s.post("/v1/apr", &biweekly, None).await;
        assert_eq!(st, 200, "{r}");
        assert_eq!(
            (
                r["apr_percent"].as_str(),
                r["unit_period"].as_str(),
                r["unit_period_inferred"].as_bool(),
                r["unit_periods_per_year"].as_str()
            ),
            (Some("12.22"), Some("2week"), Some(true), Some("26")),
            "{r}"
        );
        let mut forced = biweekly.clone();
        forced["unit_period"] = json!("month");
        let (st, r) = s.post("/v1/apr", &forced, None).await;
        assert_eq!(
            (
                st,
                r["unit_period"].as_str(),
                r["unit_period_inferred"].as_bool()
            ),
            (200, Some("month"), Some(false)),
            "{r}"
        );
        assert_ne!(r["apr_percent"].as_str(), Some("12.22"), "{r}");
        forced["unit_period"] = json!("53week");
        let (st, p) = s.post("/v1/apr", &forced, None).await;
        assert_eq!((st, p["field"].as_str()), (422, Some("unit_period")), "{p}");
        let (st, p) = s
            .post(
                "/v1/apr",
                &json!({"currency": "CNY", "advances": [], "payments": []}),
                None,
            )
            .await;
        assert_eq!(st, 422, "{p}");
        let r = s
            .client
            .get(format!("{}/metrics", s.base))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        assert!(
            text.contains("puhui_http_requests_total"),
            "{}",
            &text[..text.len().min(400)]
        );
    }
}

#[test]
fn apr_cli_infers_the_unit_period_and_takes_an_override() {
    let run = |args: &[&str]| {
        let out = puhui(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    // Appendix J (c)(1)(v): 30 weekly payments of 17.60 on 500.00, 14.96%.
    let weekly = [
        "apr",
        "--currency",
        "USD",
        "--advance",
        "1978-03-20:500.00",
        "--payment",
        "1978-04-21:17.60x30/week",
        "--json",
    ];
    let r = run(&weekly);
    assert_eq!(
        (r["apr_percent"].as_str(), r["unit_period"].as_str()),
        (Some("14.96"), Some("week")),
        "{r}"
    );
    let r = run(&[&weekly[..], &["--unit-period", "month"]].concat());
    assert_eq!(
        (
            r["unit_period"].as_str(),
            r["unit_period_inferred"].as_bool()
        ),
        (Some("month"), Some(false)),
        "{r}"
    );
    let out = puhui(&[&weekly[..], &["--unit-period", "fortnight"]].concat())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn answers_axum_makes_itself_are_problems_too() {
    for s in servers().await {
        let acc = s.account("CNY").await;
        let checks = [
            (
                reqwest::Method::GET,
                format!("/v1/accounts/{acc}/entries?limit=many"),
                400,
            ),
            (
                reqwest::Method::GET,
                format!("/v1/accounts/{acc}/entries?colour=red"),
                400,
            ),
            (reqwest::Method::PUT, "/v1/accounts".to_string(), 405),
            (
                reqwest::Method::POST,
                "/v1/loans/00000000-0000-0000-0000-000000000000/repayments/x/reversal".into(),
                400,
            ),
            (
                reqwest::Method::GET,
                "/v1/installment-quotes/3/00.5".to_string(),
                422,
            ),
        ];
        for (method, path, want) in checks {
            let r = s
                .client
                .request(method.clone(), format!("{}{path}", s.base))
                .bearer_auth(KEY)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), want, "{}: {method} {path}", s.name);
            let ct = r.headers().get("content-type").cloned();
            let allow = r.headers().get("allow").cloned();
            if want == 405 {
                assert!(allow.is_some(), "{}: 405 keeps its Allow header", s.name);
            }
            assert_eq!(
                ct.as_ref().and_then(|v| v.to_str().ok()),
                Some("application/problem+json"),
                "{}: {method} {path}",
                s.name
            );
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["status"], want);
            assert!(p["code"].is_string() && p["detail"].is_string(), "{p}");
        }
    }
}
