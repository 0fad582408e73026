//! A tenant's data and index keys: stored only wrapped by the master key, as documents of
//! kind `vault_key`, unwrapped once per process and kept in memory; and rotation of the
//! master key by re-wrapping them.

use super::CustomerError;
use crate::{Engine, EngineError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use store::{DocRow, DomainWrite};
use uuid::Uuid;
use vault::{DataKey, IndexKey, KeyId, KeyPurpose, Keyring, WrappedKey};

pub const VAULT_KEY: &str = "vault_key";
const NS: Uuid = Uuid::from_u128(0x6f1d_93a2_44c8_4e1b_8a57_0c3e_b9d2_71f4);
/// One data key per tenant for now: random nonces are safe for 2³² seals per key, far
/// beyond any tenant's customers (each seals at most five fields).
const DATA_KEY_ID: KeyId = KeyId(1);
const INDEX_KEY_ID: KeyId = KeyId(1);

/// A tenant's unwrapped keys.
pub struct TenantKeys {
    pub data: DataKey,
    pub index: IndexKey,
}

/// The process's keyring and the tenants' keys unwrapped so far.
pub struct Vault {
    keyring: RwLock<Arc<Keyring>>,
    tenants: tokio::sync::Mutex<HashMap<String, Arc<TenantKeys>>>,
}

#[derive(Serialize, Deserialize)]
struct WrappedDoc {
    /// `WrappedKey::to_bytes`, hexadecimal.
    wrapped: String,
}

fn key_doc_id(tenant: &str, purpose: KeyPurpose, id: KeyId) -> Uuid {
    let purpose = match purpose {
        KeyPurpose::Data => "data",
        KeyPurpose::Index => "index",
    };
    Uuid::new_v5(&NS, format!("{tenant}/{purpose}/{}", id.0).as_bytes())
}

fn decode_wrapped(row: &DocRow) -> anyhow::Result<WrappedKey> {
    let doc: WrappedDoc = serde_json::from_slice(&row.body)?;
    let bytes = hex::decode(doc.wrapped)?;
    WrappedKey::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("vault key {}: {e}", row.id))
}

fn key_write(w: &WrappedKey, read_version: Option<i64>) -> DomainWrite {
    DomainWrite::Doc {
        row: DocRow {
            kind: VAULT_KEY.into(),
            id: key_doc_id(&w.tenant, w.purpose, w.key_id),
            tenant: w.tenant.clone(),
            parent: None,
            open: false,
            day: 0,
            version: read_version.map_or(1, |v| v + 1),
            body: serde_json::to_vec(&WrappedDoc {
                wrapped: hex::encode(w.to_bytes()),
            })
            .expect("a wrapped key serializes"),
        },
        expected_version: read_version,
    }
}

impl Vault {
    pub fn new(keyring: Keyring) -> Vault {
        Vault {
            keyring: RwLock::new(Arc::new(keyring)),
            tenants: tokio::sync::Mutex::default(),
        }
    }

    pub fn keyring(&self) -> Arc<Keyring> {
        self.keyring
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the keyring (after a rotation, with the new master key active). Keys
    /// already unwrapped stay: rotation does not change them.
    pub fn set_keyring(&self, keyring: Keyring) {
        *self.keyring.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keyring);
    }

    /// The tenant's keys, made and stored (wrapped) on first use.
    pub async fn tenant(
        &self,
        engine: &Engine,
        tenant: &str,
    ) -> Result<Arc<TenantKeys>, CustomerError> {
        let mut tenants = self.tenants.lock().await;
        if let Some(k) = tenants.get(tenant) {
            return Ok(k.clone());
        }
        let keyring = self.keyring();
        let keys = match load_tenant(engine, &keyring, tenant).await? {
            Some(k) => k,
            None => {
                let mut rng = rand::rngs::OsRng;
                let (data, wd) = keyring
                    .new_data_key(&mut rng, tenant, DATA_KEY_ID)
                    .map_err(|e| anyhow::anyhow!("make a data key: {e}"))?;
                let (index, wi) = keyring
                    .new_index_key(&mut rng, tenant, INDEX_KEY_ID)
                    .map_err(|e| anyhow::anyhow!("make an index key: {e}"))?;
                match engine
                    .submit_with(Vec::new(), vec![key_write(&wd, None), key_write(&wi, None)])
                    .await
                {
                    Ok(_) => TenantKeys { data, index },
                    // Another process made them meanwhile (a store has one writer process,
                    // so only after a restart): read those.
                    Err(EngineError::StaleDoc { .. }) => load_tenant(engine, &keyring, tenant)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("vault keys of {tenant} vanished"))?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let keys = Arc::new(keys);
        tenants.insert(tenant.to_owned(), keys.clone());
        Ok(keys)
    }
}

async fn load_tenant(
    engine: &Engine,
    keyring: &Keyring,
    tenant: &str,
) -> anyhow::Result<Option<TenantKeys>> {
    let store = engine.store();
    let data = store
        .doc(key_doc_id(tenant, KeyPurpose::Data, DATA_KEY_ID))
        .await?;
    let index = store
        .doc(key_doc_id(tenant, KeyPurpose::Index, INDEX_KEY_ID))
        .await?;
    let (Some(data), Some(index)) = (data, index) else {
        return Ok(None);
    };
    let data = keyring
        .data_key(&decode_wrapped(&data)?)
        .map_err(|e| anyhow::anyhow!("unwrap the data key of {tenant}: {e}"))?;
    let index = keyring
        .index_key(&decode_wrapped(&index)?)
        .map_err(|e| anyhow::anyhow!("unwrap the index key of {tenant}: {e}"))?;
    Ok(Some(TenantKeys { data, index }))
}

/// What a rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub keys_seen: usize,
    pub keys_rewrapped: usize,
}

/// Re-wraps every stored data and index key not yet under `keyring`'s active master key
/// (the retired ones must be in `keyring` to unwrap them). Field ciphertexts and blind
/// indexes do not change. Each page of keys is written in one transaction, each key at
/// the version it was read, so running it again after an interruption finishes the work.
pub async fn rotate_master(engine: &Engine, keyring: &Keyring) -> anyhow::Result<Rotation> {
    let mut after = None;
    let mut out = Rotation {
        keys_seen: 0,
        keys_rewrapped: 0,
    };
    let mut rng = rand::rngs::OsRng;
    loop {
        let rows = engine.store().docs(VAULT_KEY, None, after, 500).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
        let mut writes = Vec::new();
        for row in &rows {
            out.keys_seen += 1;
            let wrapped = decode_wrapped(row)?;
            if keyring.needs_rotation(&wrapped) {
                let new = keyring
                    .rewrap(&mut rng, &wrapped)
                    .map_err(|e| anyhow::anyhow!("re-wrap vault key {}: {e}", row.id))?;
                writes.push(key_write(&new, Some(row.version)));
            }
        }
        out.keys_rewrapped += writes.len();
        if !writes.is_empty() {
            engine.submit_with(Vec::new(), writes).await?;
        }
    }
    Ok(out)
}
