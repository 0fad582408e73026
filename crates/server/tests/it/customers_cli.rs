//! The commands around customers, through the `puhui` binary: rule pack files written,
//! validated and refused naming the file and field (and `serve` refusing to start on
//! them); `keys rotate-master --generate` on the embedded store's key file, after which
//! the new key alone opens every customer.

use crate::common;

use common::puhui;
use engine::customers::{self as cu, NewCustomer, NewIndividual, Vault};
use server::cli::StoreArgs;
use uuid::Uuid;

#[test]
fn pack_files_are_written_validated_and_refused_by_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let packs = dir.path().join("packs");
    let out = puhui(&[
        "compliance",
        "packs",
        packs.to_str().unwrap(),
        "--write-builtin",
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = puhui(&["compliance", "packs", packs.to_str().unwrap()])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && listed.contains("cn.online_lending version 1"),
        "{listed}"
    );

    let file = packs.join("cn.online_lending.v1.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("\"limit_minor\": 30000000", "\"limit_minor\": -5", 1),
    )
    .unwrap();
    let out = puhui(&["compliance", "packs", packs.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("cn.online_lending.v1.json") && err.contains("rules[0].condition.limit_minor"),
        "{err}"
    );
    // The server refuses to start on them.
    let data = dir.path().join("data");
    let out = puhui(&[
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--rule-packs",
        packs.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("rules[0].condition.limit_minor"),
        "{err}"
    );
}

#[tokio::test]
async fn rotate_master_generates_a_key_and_rewraps_every_tenant_key() {
    let dir = tempfile::tempdir().unwrap();
    let args = StoreArgs {
        data_dir: dir.path().to_path_buf(),
        database_url: None,
    };
    let mut ids = Vec::new();
    {
        let store = store::Store::open_sqlite(dir.path()).unwrap();
        let engine = engine::Engine::start(store, engine::EngineConfig::default())
            .await
            .unwrap();
        engine::loans::init_business_date(&engine, "2026-12-01".parse().unwrap())
            .await
            .unwrap();
        // The embedded default: a key file made in the data directory.
        let vault = Vault::new(server::customers::load_keyring(&args).unwrap());
        assert!(dir.path().join("master.key").exists());
        for (seq, tenant) in [(1, "a"), (2, "b")] {
            let first17 = format!("11010519800101{seq:03}");
            let number = format!(
                "{first17}{}",
                compliance::resident_id_check_char(&first17).unwrap()
            );
            let id = Uuid::now_v7();
            cu::create_customer(
                &engine,
                &vault,
                tenant,
                id,
                NewCustomer::Individual(NewIndividual {
                    name: "李四".into(),
                    id_number: number.clone(),
                    phone: "13700001111".into(),
                    bank_card: None,
                    birth_date: "1980-01-01".parse().unwrap(),
                    region_code: "110105".into(),
                    occupation: "farmer".into(),
                    student: false,
                    currency: money::Currency::Cny,
                    annual_income_minor: 5_000_000,
                }),
            )
            .await
            .unwrap();
            ids.push((tenant, id, number));
        }
    }
    let out = puhui(&[
        "keys",
        "rotate-master",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--generate",
        "--json",
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            r["active_master_key"].as_u64(),
            r["keys_rewrapped"].as_u64()
        ),
        (Some(2), Some(4)),
        "{r}"
    );
    // The new key alone (the file's last line) opens every customer.
    let text = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap();
    let vault = Vault::new(server::customers::keyring_from_text(last).unwrap());
    let store = store::Store::open_sqlite(dir.path()).unwrap();
    let engine = engine::Engine::start(store, engine::EngineConfig::default())
        .await
        .unwrap();
    for (tenant, id, number) in ids {
        let doc = cu::customer_doc(&engine, tenant, id).await.unwrap();
        let view = cu::open_customer(&engine, &vault, doc).await.unwrap();
        assert_eq!(view.id_number.unwrap().expose(), number);
    }
}
