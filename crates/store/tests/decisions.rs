//! Decisions are stored and read back unchanged on both backends; an id is written once.

use store::DecisionRow;

fn row(id: &str) -> DecisionRow {
    DecisionRow {
        id: id.to_string(),
        applicant_id: "app-1".into(),
        created_at_ms: 1_764_000_000_000,
        input_json: r#"{"applicant_id":"app-1"}"#.into(),
        input_hash: [7; 32],
        model_version: "m".repeat(64),
        policy_version: "p".repeat(64),
        outcome: "approve".into(),
        rules_fired: r#"["score_in_refer_band"]"#.into(),
        output_json: r#"{"outcome":"approve","score":512.25}"#.into(),
        output_hash: [9; 32],
    }
}

#[tokio::test]
async fn decisions_round_trip_and_are_never_rewritten() {
    for ts in testkit::all_stores().await {
        let s = &ts.store;
        s.migrate().await.unwrap();
        let id = uuid::Uuid::now_v7().to_string();
        assert_eq!(s.decision(&id).await.unwrap(), None, "{}", ts.name);
        s.insert_decision(row(&id)).await.unwrap();
        assert_eq!(
            s.decision(&id).await.unwrap(),
            Some(row(&id)),
            "{}",
            ts.name
        );
        let mut changed = row(&id);
        changed.outcome = "decline".into();
        let e = s.insert_decision(changed).await.unwrap_err();
        assert!(store::is_unique_violation(&e), "{}: {e:#}", ts.name);
        assert_eq!(
            s.decision(&id).await.unwrap(),
            Some(row(&id)),
            "{}",
            ts.name
        );
    }
}

#[tokio::test]
async fn many_decisions_commit_together_or_not_at_all() {
    for ts in testkit::all_stores().await {
        let s = &ts.store;
        s.migrate().await.unwrap();
        let ids: Vec<String> = (0..300).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        let rows: Vec<DecisionRow> = ids.iter().map(|id| row(id)).collect();
        s.insert_decisions(std::sync::Arc::new(rows)).await.unwrap();
        for id in &ids {
            assert_eq!(s.decision(id).await.unwrap(), Some(row(id)), "{}", ts.name);
        }
        // One id already stored fails the whole write: the new ones beside it are not kept.
        let fresh: Vec<String> = (0..3).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        let mixed = vec![row(&fresh[0]), row(&ids[7]), row(&fresh[1]), row(&fresh[2])];
        let e = s
            .insert_decisions(std::sync::Arc::new(mixed))
            .await
            .unwrap_err();
        assert!(store::is_unique_violation(&e), "{}: {e:#}", ts.name);
        for id in &fresh {
            assert_eq!(s.decision(id).await.unwrap(), None, "{}", ts.name);
        }
        s.insert_decisions(std::sync::Arc::new(Vec::new()))
            .await
            .unwrap();
    }
}

/// A data directory made when `decisions` was a WITHOUT ROWID table keeps its rows when
/// `migrate` rebuilds the table as a rowid table, and its index comes back.
#[tokio::test]
async fn migrate_rebuilds_an_old_without_rowid_decisions_table() {
    let dir = tempfile::tempdir().unwrap();
    let s = store::Store::open_sqlite(dir.path()).unwrap();
    s.execute_raw(
        "CREATE TABLE decisions (id TEXT PRIMARY KEY, applicant_id TEXT NOT NULL, \
         created_at_ms INTEGER NOT NULL, input_json TEXT NOT NULL, input_hash BLOB NOT NULL, \
         model_version TEXT NOT NULL, policy_version TEXT NOT NULL, outcome TEXT NOT NULL, \
         rules_fired TEXT NOT NULL, output_json TEXT NOT NULL, output_hash BLOB NOT NULL) \
         WITHOUT ROWID",
    )
    .await
    .unwrap();
    s.execute_raw("CREATE INDEX decisions_by_applicant ON decisions (applicant_id)")
        .await
        .unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    s.insert_decision(row(&id)).await.unwrap();
    let by_rowid = "UPDATE decisions SET outcome = outcome WHERE rowid = 1";
    assert!(s.execute_raw(by_rowid).await.is_err(), "no rowid yet");
    s.migrate().await.unwrap();
    assert_eq!(s.decision(&id).await.unwrap(), Some(row(&id)));
    assert_eq!(s.execute_raw(by_rowid).await.unwrap(), 1);
    // Fails unless the rebuilt table got its index back.
    s.execute_raw("DROP INDEX decisions_by_applicant")
        .await
        .unwrap();
    s.migrate().await.unwrap();
    assert_eq!(s.decision(&id).await.unwrap(), Some(row(&id)));
}
