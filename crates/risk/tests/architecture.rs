//! The domain crate stays pure: no runtime, database, HTTP or JSON dependencies. CI can also
//! check this with `cargo tree -p risk -e normal`; this test keeps the rule next to the code.

#[test]
fn risk_depends_on_no_io_crates() {
    let manifest = include_str!("../Cargo.toml");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap_or_default();
    for banned in ["tokio", "sqlx", "axum", "serde_json", "reqwest", "csv"] {
        let listed = deps
            .lines()
            .any(|l| l.split(['=', '.', ' ']).next() == Some(banned));
        assert!(!listed, "risk must not depend on {banned}");
    }
}

#[test]
fn risk_source_does_no_io() {
    let sources = [
        include_str!("../src/lib.rs"),
        include_str!("../src/data.rs"),
        include_str!("../src/decision.rs"),
        include_str!("../src/features.rs"),
        include_str!("../src/forest.rs"),
        include_str!("../src/gbm/mod.rs"),
        include_str!("../src/gbm/bins.rs"),
        include_str!("../src/gbm/tree.rs"),
        include_str!("../src/stream.rs"),
        include_str!("../src/metrics.rs"),
        include_str!("../src/model.rs"),
        include_str!("../src/scorecard.rs"),
        include_str!("../src/import/mod.rs"),
        include_str!("../src/import/lightgbm.rs"),
        include_str!("../src/import/xgboost.rs"),
    ];
    for banned in [
        "std::fs",
        "std::env",
        "std::net",
        "SystemTime",
        "Instant::now",
        "std::io::",
    ] {
        assert!(
            sources.iter().all(|s| !s.contains(banned)),
            "risk source uses {banned}"
        );
    }
}
