//! The training export computes the same feature values the decision service decides on.

use risk::decision::{Decider, Policy};
use risk::features::{DecisionInput, Value};

#[test]
fn export_matches_decision_time_features() {
    let example = include_str!("../../../models/example-application.json");
    let input: DecisionInput = serde_json::from_str(example).unwrap();
    let dir = std::env::temp_dir().join(format!("puhui-features-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let raw = dir.join("raw.jsonl");
    let compact: serde_json::Value = serde_json::from_str(example).unwrap();
    std::fs::write(
        &raw,
        format!(
            "{}\n{{\"input\": {compact}, \"creditability\": \"good\"}}\n",
            compact
        ),
    )
    .unwrap();
    let out = dir.join("features.csv");
    let policy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/policy.json");
    riskops::features::run(&policy, &raw, &out).unwrap();
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..2], ["applicant_id", "as_of"]);
    assert_eq!(*header.last().unwrap(), "creditability");

    let model =
        serde_json::from_str(include_str!("../../../models/german-scorecard.json")).unwrap();
    let policy: Policy = serde_json::from_str(include_str!("../../../models/policy.json")).unwrap();
    let decision = Decider::new(model, policy).unwrap().decide(&input).unwrap();
    let table = riskops::load_table(&out).unwrap();
    for (name, value) in &decision.features {
        let cells = table.column(name).unwrap();
        let expect = match value {
            Value::Number(x) => x.to_string(),
            Value::Text(t) => t.clone(),
            Value::Missing => String::new(),
        };
        assert_eq!(cells, [expect.clone(), expect], "{name}");
    }
    assert_eq!(table.column("creditability").unwrap(), ["", "good"]);

    // A line the decision service would refuse fails the export, naming line and field.
    std::fs::write(&raw, example.replace("\"age\": 35,", "")).unwrap();
    let e = riskops::features::run(&dir.join("../x.json"), &raw, &out).unwrap_err();
    assert!(format!("{e:#}").contains("feature spec"), "{e:#}");
    let one_line: serde_json::Value =
        serde_json::from_str(&example.replace("\"age\": 35,", "")).unwrap();
    std::fs::write(&raw, format!("{one_line}\n")).unwrap();
    let policy_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/policy.json");
    let e = riskops::features::run(&policy_path, &raw, &out).unwrap_err();
    assert!(
        format!("{e:#}").contains("line 1: at `application`"),
        "{e:#}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
