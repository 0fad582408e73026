//! Tamper evidence: one amount changed with plain SQL makes `puhui ledger verify` fail and
//! name the entry.

use crate::common;

use common::{entry, new_id, servers};
use serde_json::Value;
use std::process::Command;
use store::Store;

fn verify_cli(args: &[String]) -> (bool, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_puhui"))
        .args(["ledger", "verify", "--json"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).expect("verify prints JSON"),
    )
}

fn store_args(s: &Store, location: &str) -> Vec<String> {
    match s {
        Store::Sqlite(_) => vec!["--data-dir".into(), location.into()],
        Store::Postgres(_) => vec!["--database-url".into(), location.into()],
    }
}

// The command runs as a child while this thread waits: the in-process server's tasks
// (its audit writer among them) keep running on the other worker meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_changed_amount_is_found_and_named() {
    for s in servers().await {
        let (a, b) = (s.account("CNY").await, s.account("CNY").await);
        let mut ids = Vec::new();
        for i in 1..=6 {
            let id = new_id();
            assert_eq!(
                s.post(
                    "/v1/ledger/entries",
                    &entry(&id, &a, &b, 100 * i),
                    Some(&id)
                )
                .await
                .0,
                201
            );
            ids.push(id);
        }
        let args = store_args(&s.store, &s.location());
        let (ok, report) = verify_cli(&args);
        assert!(ok, "{}: clean ledger verifies: {report}", s.name);
        assert_eq!(report["entries_checked"], 6);
        // Both legs, so the entry still balances and only the hash can tell.
        let n = s
            .store
            .execute_raw("UPDATE postings SET amount_minor = amount_minor + 1 WHERE seq = 3")
            .await
            .unwrap();
        assert_eq!(n, 2);
        let (ok, report) = verify_cli(&args);
        assert!(!ok, "{}: tampered ledger must fail", s.name);
        let bad = &report["first_bad_entry"];
        assert_eq!(
            (bad["seq"].as_u64(), bad["id"].as_str()),
            (Some(3), Some(ids[3].as_str())),
            "{}: {report}",
            s.name
        );
        assert!(
            !report["bad_accounts"].as_array().unwrap().is_empty(),
            "{}: cached balances no longer match",
            s.name
        );
    }
}
