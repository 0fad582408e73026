//! The decision log: concurrent decisions are all stored before they are answered, and one
//! that cannot be stored fails alone, on SQLite and PostgreSQL alike.

use engine::{Engine, EngineConfig, EngineError};
use store::DecisionRow;

fn row(id: &str) -> DecisionRow {
    DecisionRow {
        id: id.to_string(),
        applicant_id: format!("applicant-of-{id}"),
        created_at_ms: 1_764_000_000_000,
        input_json: format!(r#"{{"applicant_id":"applicant-of-{id}"}}"#),
        input_hash: [1; 32],
        model_version: "sha256:model".into(),
        policy_version: "sha256:policy".into(),
        outcome: "approve".into(),
        rules_fired: "[]".into(),
        output_json: r#"{"outcome":"approve"}"#.into(),
        output_hash: [2; 32],
    }
}

#[tokio::test]
async fn concurrent_decisions_are_durable_when_answered_and_a_bad_one_fails_alone() {
    for ts in testkit::all_stores().await {
        let engine = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .expect("start engine");
        let taken = uuid::Uuid::now_v7().to_string();
        engine.record_decision(row(&taken)).await.unwrap();
        let ids: Vec<String> = (0..400)
            .map(|k| {
                if k == 123 {
                    taken.clone()
                } else {
                    uuid::Uuid::now_v7().to_string()
                }
            })
            .collect();
        let tasks: Vec<_> = ids
            .iter()
            .map(|id| {
                let (engine, id) = (engine.clone(), id.clone());
                tokio::spawn(async move { engine.record_decision(row(&id)).await })
            })
            .collect();
        for (k, task) in tasks.into_iter().enumerate() {
            let result = task.await.unwrap();
            if k == 123 {
                assert!(
                    matches!(result, Err(EngineError::Storage(_))),
                    "{}: {result:?}",
                    ts.name
                );
            } else {
                result.unwrap_or_else(|e| panic!("{}: decision {k}: {e}", ts.name));
                // Answered means stored.
                let stored = ts.store.decision(&ids[k]).await.unwrap();
                assert_eq!(stored, Some(row(&ids[k])), "{}", ts.name);
            }
        }
        assert_eq!(
            ts.store.decision(&taken).await.unwrap(),
            Some(row(&taken)),
            "{}: the first write of an id stands",
            ts.name
        );
    }
}
