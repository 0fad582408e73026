//! API keys with party, expiry and revocation, product tenants, and the keyset lists, on
//! SQLite and PostgreSQL; stores made before these columns existed are migrated.

use store::{ApiKeyRow, DocFilter, LoanFilter, Store};
use uuid::Uuid;

fn key(n: u8, tenant: &str) -> ApiKeyRow {
    ApiKeyRow {
        key_hash: [n; 32],
        role: "borrower".into(),
        tenant: tenant.into(),
        label: format!("k{n}"),
        party_kind: Some("borrower".into()),
        party_id: Some(format!("b{n}")),
        expires_at_ms: Some(1_000 + i64::from(n)),
        revoked_at_ms: None,
        rate_limit_per_s: None,
    }
}

/// The tables as the first schema made them, with a row each.
const OLD_TABLES: &str = "
CREATE TABLE api_keys (key_hash BYTEA PRIMARY KEY, role TEXT NOT NULL, tenant TEXT NOT NULL, label TEXT NOT NULL);
CREATE TABLE loan_products (id BYTEA NOT NULL, version INTEGER NOT NULL, body BYTEA NOT NULL, created_at_ms BIGINT NOT NULL, PRIMARY KEY (id, version));
";

async fn old_store(ts: &testkit::TestStore) {
    for statement in OLD_TABLES.split(';').filter(|s| !s.trim().is_empty()) {
        ts.store.execute_raw(statement).await.unwrap();
    }
    let hash = "0101010101010101010101010101010101010101010101010101010101010101";
    let (key_sql, product_sql) = match ts.store.backend_name() {
        "sqlite" => (
            format!("INSERT INTO api_keys VALUES (x'{hash}', 'operator', '*', 'old')"),
            "INSERT INTO loan_products VALUES (x'00000000000000000000000000000007', 1, x'7b7d', 5)".to_string(),
        ),
        _ => (
            format!("INSERT INTO api_keys VALUES ('\\x{hash}', 'operator', '*', 'old')"),
            "INSERT INTO loan_products VALUES ('\\x00000000000000000000000000000007', 1, '\\x7b7d', 5)".to_string(),
        ),
    };
    ts.store.execute_raw(&key_sql).await.unwrap();
    ts.store.execute_raw(&product_sql).await.unwrap();
}

#[tokio::test]
async fn stores_from_before_party_keys_are_migrated() {
    let mut stores = vec![testkit::sqlite()];
    if !testkit::skip_postgres() {
        stores.push(testkit::postgres().await);
    }
    for ts in stores {
        old_store(&ts).await;
        ts.store.migrate().await.unwrap();
        ts.store.migrate().await.unwrap();
        let k = ts.store.api_key([1; 32]).await.unwrap().unwrap();
        assert_eq!(
            (
                k.role.as_str(),
                k.party_kind,
                k.expires_at_ms,
                k.revoked_at_ms
            ),
            ("operator", None, None, None),
            "{}",
            ts.name
        );
        let p = ts
            .store
            .product(Uuid::from_u128(7), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.tenant, "default", "{}", ts.name);
    }
}

#[tokio::test]
async fn keys_keep_their_binding_list_by_tenant_and_revoke_once() {
    for ts in testkit::all_stores().await {
        let s: &Store = &ts.store;
        s.migrate().await.unwrap();
        for n in 1..=5u8 {
            s.insert_api_key(key(n, if n % 2 == 0 { "a" } else { "b" }))
                .await
                .unwrap();
        }
        assert_eq!(
            s.api_key([3; 32]).await.unwrap(),
            Some(key(3, "b")),
            "{}",
            ts.name
        );
        let a: Vec<u8> = s
            .api_keys(Some("a".into()), None, 10)
            .await
            .unwrap()
            .iter()
            .map(|k| k.key_hash[0])
            .collect();
        assert_eq!(a, vec![2, 4], "{}", ts.name);
        // Pages of two follow the hash order with no repeats.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = s.api_keys(None, after, 2).await.unwrap();
            seen.extend(page.iter().map(|k| k.key_hash[0]));
            if page.len() < 2 {
                break;
            }
            after = page.last().map(|k| k.key_hash);
        }
        assert_eq!(seen, vec![1, 2, 3, 4, 5], "{}", ts.name);
        let id = key(4, "a").id();
        assert_eq!(s.api_key_by_id(id).await.unwrap(), Some(key(4, "a")));
        let revoked = s.revoke_api_key(id, 77).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at_ms, Some(77), "{}", ts.name);
        let again = s.revoke_api_key(id, 99).await.unwrap().unwrap();
        assert_eq!(
            again.revoked_at_ms,
            Some(77),
            "{}: first revocation kept",
            ts.name
        );
        assert_eq!(s.revoke_api_key(Uuid::from_u128(9), 1).await.unwrap(), None);
        assert_eq!(
            s.api_key([5; 32]).await.unwrap().unwrap().revoked_at_ms,
            None
        );
    }
}

#[tokio::test]
async fn empty_lists_of_a_fresh_store_are_empty() {
    for ts in testkit::all_stores().await {
        ts.store.migrate().await.unwrap();
        let loans = ts
            .store
            .loans_page(LoanFilter {
                tenant: Some("t".into()),
                stage: Some("active".into()),
                borrower: Some("x".into()),
                product_id: Some(Uuid::nil()),
                dpd_min: Some(1),
                dpd_max: Some(30),
                id_from: Some(Uuid::nil()),
                id_to: Some(Uuid::max()),
                after: Some(Uuid::nil()),
                limit: 5,
            })
            .await
            .unwrap();
        assert!(loans.is_empty(), "{}", ts.name);
        let docs = ts
            .store
            .docs_page(DocFilter {
                kind: "line".into(),
                tenant: Some("t".into()),
                parent: Some(Uuid::nil()),
                limit: 5,
                ..DocFilter::default()
            })
            .await
            .unwrap();
        assert!(docs.is_empty(), "{}", ts.name);
    }
}
