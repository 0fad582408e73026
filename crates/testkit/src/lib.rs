//! Fresh stores for tests. Every engine and store test runs on both backends; the PostgreSQL
//! run is skipped only when `PUHUI_TEST_SKIP_POSTGRES=1` is set, and then loudly.

use store::Store;

/// Where the PostgreSQL test server is; each test makes its own database there.
pub fn postgres_admin_url() -> String {
    std::env::var("PUHUI_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A store that lives as long as this value (the SQLite directory is deleted on drop).
pub struct TestStore {
    pub store: Store,
    pub name: &'static str,
    /// For SQLite, the data directory; for PostgreSQL, the database URL.
    pub location: String,
    _dir: Option<tempfile::TempDir>,
}

pub fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("create temporary directory");
    let store = Store::open_sqlite(dir.path()).expect("open sqlite store");
    TestStore {
        store,
        name: "sqlite",
        location: dir.path().display().to_string(),
        _dir: Some(dir),
    }
}

/// Creates a new, empty PostgreSQL database and returns its URL.
pub async fn fresh_postgres_url() -> String {
    let admin = postgres_admin_url();
    Store::create_postgres_database(&admin, "puhui_t_")
        .await
        .unwrap_or_else(|e| panic!("{e:#} (set PUHUI_TEST_SKIP_POSTGRES=1 to skip)"))
}

pub async fn postgres() -> TestStore {
    let url = fresh_postgres_url().await;
    let store = Store::connect_postgres(&url)
        .await
        .expect("connect test database");
    TestStore {
        store,
        name: "postgres",
        location: url,
        _dir: None,
    }
}

pub fn skip_postgres() -> bool {
    let skip = std::env::var("PUHUI_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    // CI runs every test on both backends: a skipped half there would pass unseen.
    assert!(
        !(skip && std::env::var_os("CI").is_some()),
        "PUHUI_TEST_SKIP_POSTGRES=1 is not allowed in CI"
    );
    if skip {
        eprintln!(
            "WARNING: PUHUI_TEST_SKIP_POSTGRES=1: the PostgreSQL half of this test did not run"
        );
    }
    skip
}

/// One fresh store per backend.
pub async fn all_stores() -> Vec<TestStore> {
    let mut out = vec![sqlite()];
    if !skip_postgres() {
        out.push(postgres().await);
    }
    out
}

/// A stored decision `id` whose output carries `decision` (a `risk` decision as JSON) in
/// the envelope `POST /v1/decisions` keeps: what a loan applied for with `id` is priced and
/// scored by.
pub fn decision_row(id: &str, decision: serde_json::Value) -> store::DecisionRow {
    let output = serde_json::json!({
        "input_hash": "00", "model_version": "m", "policy_version": "p", "decision": decision,
    });
    store::DecisionRow {
        id: id.to_string(),
        applicant_id: "applicant".into(),
        created_at_ms: 1_764_000_000_000,
        input_json: "{}".into(),
        input_hash: [0; 32],
        model_version: "m".into(),
        policy_version: "p".into(),
        outcome: "approve".into(),
        rules_fired: "[]".into(),
        output_json: output.to_string(),
        output_hash: [0; 32],
    }
}
