//! The server's half of customers: where the master key comes from, the vault and the
//! rule packs the handlers share, and the request span that leaves query strings out of
//! logs (an identity number may be in one).
//!
//! Master key sources, first found wins (docs/security.md, "Keys"):
//! 1. `PUHUI_MASTER_KEY_FILE`: a file of master keys;
//! 2. `PUHUI_MASTER_KEY`: the same text in the environment;
//! 3. on the embedded SQLite store only, `master.key` in the data directory, generated on
//!    first start (logged loudly: it protects a copied database, not a copied directory).
//!
//! The text is one key per line (or separated by spaces or commas), each `ID:HEX` with a
//! numeric id and 64 hexadecimal digits, or `HEX` alone (ids then count from 1); `#`
//! starts a comment. The last key is the active one, which wraps new keys; the others are
//! retired and only unwrap keys not yet rotated.

use crate::cli::StoreArgs;
use compliance::PackSet;
use engine::customers::Vault;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};
use vault::{Keyring, MasterKey, MasterKeyId};

pub const KEY_FILE_NAME: &str = "master.key";

/// What handlers share about customers and compliance.
pub struct CustomerState {
    vault: OnceLock<Arc<Vault>>,
    packs: RwLock<Arc<PackSet>>,
}

impl Default for CustomerState {
    fn default() -> Self {
        CustomerState {
            vault: OnceLock::new(),
            packs: RwLock::new(Arc::new(compliance::builtin_packs())),
        }
    }
}

impl CustomerState {
    /// Installs the vault; `puhui serve` does so before it listens. Refused once one is in
    /// use: records sealed under another key would not open.
    pub fn install_vault(&self, keyring: Keyring) -> anyhow::Result<()> {
        self.vault
            .set(Arc::new(Vault::new(keyring)))
            .map_err(|_| anyhow::anyhow!("the vault is already installed"))
    }

    /// The vault. A state built without one (an embedding program or a test that did not
    /// install a key) gets a random master key that lives as long as the process, with a
    /// warning: what it seals is unreadable after a restart.
    pub fn vault(&self) -> &Arc<Vault> {
        self.vault.get_or_init(|| {
            tracing::warn!(
                "no master key was installed: personal data is sealed under a random key \
                 that is lost when this process ends"
            );
            let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes[..]);
            let key = MasterKey::from_bytes(MasterKeyId(1), &bytes[..])
                .expect("32 random bytes are a key");
            Arc::new(Vault::new(Keyring::new(key)))
        })
    }

    pub fn packs(&self) -> Arc<PackSet> {
        self.packs.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_packs(&self, packs: PackSet) {
        *self.packs.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(packs);
    }
}

/// Parses key text (module documentation). Never echoes key material in errors.
pub fn keyring_from_text(text: &str) -> anyhow::Result<Keyring> {
    let mut keys = Vec::new();
    for (n, item) in text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split([' ', ',', '\t']))
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .enumerate()
    {
        let (id, hex) = match item.split_once(':') {
            Some((id, hex)) => (
                id.parse::<u32>().map_err(|_| {
                    anyhow::anyhow!("master key {}: the id must be a number", n + 1)
                })?,
                hex,
            ),
            None => (n as u32 + 1, item),
        };
        let key = MasterKey::from_hex(MasterKeyId(id), hex)
            .map_err(|e| anyhow::anyhow!("master key {}: {e}", n + 1))?;
        keys.push(key);
    }
    let active = keys
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no master key in the key text"))?;
    let mut ring = Keyring::new(active);
    for k in keys {
        ring = ring
            .with_retired(k)
            .map_err(|e| anyhow::anyhow!("master keys: {e}"))?;
    }
    Ok(ring)
}

/// Where the master keys are read from for `store`.
pub enum KeySource {
    File(PathBuf),
    Env,
    /// The embedded default, made on first use.
    DataDir(PathBuf),
}

pub fn key_source(store: &StoreArgs) -> anyhow::Result<KeySource> {
    if let Some(path) = std::env::var_os("PUHUI_MASTER_KEY_FILE").filter(|p| !p.is_empty()) {
        return Ok(KeySource::File(path.into()));
    }
    if std::env::var_os("PUHUI_MASTER_KEY").is_some_and(|v| !v.is_empty()) {
        return Ok(KeySource::Env);
    }
    match &store.database_url {
        Some(url) if !url.is_empty() => anyhow::bail!(
            "set PUHUI_MASTER_KEY_FILE or PUHUI_MASTER_KEY: personal data on PostgreSQL is \
             sealed under a master key that must not live beside the database"
        ),
        _ => Ok(KeySource::DataDir(store.data_dir.join(KEY_FILE_NAME))),
    }
}

fn read_key_file(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("read master key file {}: {e}", path.display()))
}

fn new_key_hex() -> String {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes[..]);
    hex::encode(&bytes[..])
}

/// Writes `text` to `path` readable by its owner only, atomically.
fn write_key_file(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("key.tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .open(&tmp)
            .map_err(|e| anyhow::anyhow!("write master key file {}: {e}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The keyring for `store`, generating the embedded default's key file when missing.
pub fn load_keyring(store: &StoreArgs) -> anyhow::Result<Keyring> {
    match key_source(store)? {
        KeySource::File(path) => keyring_from_text(&read_key_file(&path)?),
        KeySource::Env => keyring_from_text(&std::env::var("PUHUI_MASTER_KEY").unwrap_or_default()),
        KeySource::DataDir(path) => {
            if !path.exists() {
                std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
                write_key_file(&path, &format!("1:{}\n", new_key_hex()))?;
                tracing::warn!(
                    path = %path.display(),
                    "GENERATED A MASTER KEY beside the database: personal data is protected \
                     against a copied database file but not against a copied data directory; \
                     set PUHUI_MASTER_KEY_FILE to a key kept elsewhere (docs/security.md)"
                );
            }
            keyring_from_text(&read_key_file(&path)?)
        }
    }
}

/// Appends a fresh master key (the next id) to the key file of `store`, which becomes the
/// active one. Keys in the environment are the operator's to add.
pub fn generate_next_key(store: &StoreArgs) -> anyhow::Result<u32> {
    let path = match key_source(store)? {
        KeySource::File(p) | KeySource::DataDir(p) => p,
        KeySource::Env => anyhow::bail!(
            "--generate writes a key file; with PUHUI_MASTER_KEY, append the new key yourself"
        ),
    };
    // The embedded default's file is made on first use; make it before adding to it.
    load_keyring(store)?;
    let old = read_key_file(&path)?;
    let ring = keyring_from_text(&old)?;
    let next = ring.active_id().0 + 1;
    let mut text = old;
    if !text.ends_with('\n') && !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!("{next}:{}\n", new_key_hex()));
    write_key_file(&path, &text)?;
    Ok(next)
}

/// The request span of the HTTP trace layer: method and path, never the query string.
pub fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const B: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    #[test]
    fn key_text_lists_keys_the_last_active() {
        assert_eq!(keyring_from_text(A).unwrap().active_id(), MasterKeyId(1));
        assert_eq!(
            keyring_from_text(&format!("# keys\n1:{A}\n7:{B} # current\n"))
                .unwrap()
                .active_id(),
            MasterKeyId(7)
        );
        assert_eq!(
            keyring_from_text(&format!("{A},{B}")).unwrap().active_id(),
            MasterKeyId(2)
        );
    }

    #[test]
    fn bad_key_text_is_refused_without_echoing_it() {
        for text in [
            "",
            "# nothing",
            "12:zz",
            &format!("x:{A}"),
            &format!("1:{A}\n1:{B}"),
            &A[..60],
        ] {
            let e = keyring_from_text(text).unwrap_err().to_string();
            assert!(!e.contains(&A[..16]) && !e.contains(&B[..16]), "{e}");
        }
    }
}
