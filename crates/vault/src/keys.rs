//! Envelope keys: master keys, the data and index keys they wrap, and rotation.
//!
//! A master key only ever wraps other keys. Each tenant has data keys (which seal fields)
//! and an index key (which computes blind indexes); both are random 32-byte keys, stored
//! only wrapped. Rotating the master key re-wraps them; no field ciphertext and no blind
//! index changes, which is why the index key is a wrapped random key and not derived from
//! the master key (a derived one would change every index at each rotation).

use std::fmt;

use rand_core::CryptoRngCore;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::aead::{Cipher, KEY_LEN, NONCE_LEN, TAG_LEN};

/// The identifier of a master key, chosen by whoever configures it (the shell).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MasterKeyId(pub u32);

/// The identifier of a data or index key within its tenant, chosen by the shell (the next
/// free number). A sealed field names its data key by this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u32);

/// What a wrapped key is for; bound into the wrapping so one cannot be used as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    /// Seals fields (AES-256-GCM).
    Data,
    /// Computes blind indexes (HMAC-SHA256).
    Index,
}

impl KeyPurpose {
    fn tag(self) -> u8 {
        match self {
            KeyPurpose::Data => 1,
            KeyPurpose::Index => 2,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(KeyPurpose::Data),
            2 => Some(KeyPurpose::Index),
            _ => None,
        }
    }
}

/// Why a key could not be made, wrapped or unwrapped. No variant carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a key is {KEY_LEN} bytes, got {0}")]
    Length(usize),
    #[error("the key text is not {} hexadecimal digits", 2 * KEY_LEN)]
    NotHex,
    #[error("the key's bytes are all equal: not a random key")]
    Weak,
    #[error("master key {0:?} is given twice")]
    DuplicateMasterKey(MasterKeyId),
    #[error("master key {0:?} is not in the keyring")]
    UnknownMasterKey(MasterKeyId),
    #[error("the wrapped key is not authentic under master key {0:?} (wrong key, or altered)")]
    Unwrap(MasterKeyId),
    #[error("the wrapped key is a {found:?} key, not a {expected:?} key")]
    WrongPurpose {
        expected: KeyPurpose,
        found: KeyPurpose,
    },
    #[error("a tenant name is at most 255 bytes")]
    TenantTooLong,
    #[error("the wrapped key's bytes are malformed")]
    Malformed,
}

fn check_key_bytes(bytes: &[u8]) -> Result<(), KeyError> {
    if bytes.len() != KEY_LEN {
        return Err(KeyError::Length(bytes.len()));
    }
    if bytes.iter().all(|b| *b == bytes[0]) {
        return Err(KeyError::Weak);
    }
    Ok(())
}

/// A master key: 32 bytes that wrap data and index keys and nothing else. It keeps only
/// the expanded cipher, which is wiped on drop.
pub struct MasterKey {
    id: MasterKeyId,
    cipher: Cipher,
}

impl ZeroizeOnDrop for MasterKey {}

impl MasterKey {
    /// The caller should wipe its copy of `bytes` (a `Zeroizing` buffer does).
    pub fn from_bytes(id: MasterKeyId, bytes: &[u8]) -> Result<Self, KeyError> {
        check_key_bytes(bytes)?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(bytes);
        Ok(MasterKey {
            id,
            cipher: Cipher::new(&key),
        })
    }

    /// 64 hexadecimal digits, surrounding whitespace ignored: the form of a key file or an
    /// environment variable.
    pub fn from_hex(id: MasterKeyId, text: &str) -> Result<Self, KeyError> {
        let text = text.trim().as_bytes();
        if text.len() != 2 * KEY_LEN {
            return Err(KeyError::NotHex);
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        for (i, pair) in text.chunks_exact(2).enumerate() {
            let hi = hex_digit(pair[0]).ok_or(KeyError::NotHex)?;
            let lo = hex_digit(pair[1]).ok_or(KeyError::NotHex)?;
            key[i] = (hi << 4) | lo;
        }
        Self::from_bytes(id, &key[..])
    }

    pub fn id(&self) -> MasterKeyId {
        self.id
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A tenant's data key, unwrapped: it seals and opens fields (`seal`, `open`).
pub struct DataKey {
    pub(crate) id: KeyId,
    pub(crate) cipher: Cipher,
}

impl ZeroizeOnDrop for DataKey {}

impl DataKey {
    pub fn id(&self) -> KeyId {
        self.id
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A tenant's blind-index key, unwrapped: the HMAC-SHA256 key of `blind_index`. Never an
/// encryption key: it is a separate random key, wrapped with purpose `Index`.
pub struct IndexKey {
    pub(crate) id: KeyId,
    pub(crate) key: Zeroizing<[u8; KEY_LEN]>,
}

impl ZeroizeOnDrop for IndexKey {}

impl IndexKey {
    pub fn id(&self) -> KeyId {
        self.id
    }
}

impl fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A data or index key encrypted under a master key: what storage keeps. Every field but
/// `nonce` and `ciphertext` is bound into the encryption as associated data, so a wrapped
/// key moved to another tenant, id or purpose, or relabelled with another master key, does
/// not unwrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub tenant: String,
    pub purpose: KeyPurpose,
    pub key_id: KeyId,
    pub master_key_id: MasterKeyId,
    pub nonce: [u8; NONCE_LEN],
    /// The 32-byte key followed by the 16-byte GCM tag.
    pub ciphertext: [u8; KEY_LEN + TAG_LEN],
}

const WRAP_VERSION: u8 = 1;
const WRAP_DOMAIN: &[u8] = b"puhui/vault/wrap";
/// version, purpose, key id, master key id, nonce, ciphertext, tenant length.
const WRAP_FIXED_LEN: usize = 1 + 1 + 4 + 4 + NONCE_LEN + KEY_LEN + TAG_LEN + 1;

fn wrap_aad(
    tenant: &str,
    purpose: KeyPurpose,
    key_id: KeyId,
    master_key_id: MasterKeyId,
) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_DOMAIN.len() + 11 + tenant.len());
    aad.extend_from_slice(WRAP_DOMAIN);
    aad.push(WRAP_VERSION);
    aad.push(purpose.tag());
    aad.extend_from_slice(&key_id.0.to_be_bytes());
    aad.extend_from_slice(&master_key_id.0.to_be_bytes());
    // The tenant is last and its length is fixed by the total: no ambiguity.
    aad.extend_from_slice(tenant.as_bytes());
    aad
}

impl WrappedKey {
    /// `version(1) ‖ purpose(1) ‖ key id(4, BE) ‖ master key id(4, BE) ‖ nonce(12) ‖
    /// ciphertext+tag(48) ‖ tenant length(1) ‖ tenant (UTF-8)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(WRAP_FIXED_LEN + self.tenant.len());
        out.push(WRAP_VERSION);
        out.push(self.purpose.tag());
        out.extend_from_slice(&self.key_id.0.to_be_bytes());
        out.extend_from_slice(&self.master_key_id.0.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        // `wrap` refuses longer tenants, so the length fits a byte.
        out.push(self.tenant.len() as u8);
        out.extend_from_slice(self.tenant.as_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() < WRAP_FIXED_LEN || bytes[0] != WRAP_VERSION {
            return Err(KeyError::Malformed);
        }
        let purpose = KeyPurpose::from_tag(bytes[1]).ok_or(KeyError::Malformed)?;
        let u32_at = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let key_id = KeyId(u32_at(2));
        let master_key_id = MasterKeyId(u32_at(6));
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[10..10 + NONCE_LEN]);
        let mut ciphertext = [0u8; KEY_LEN + TAG_LEN];
        let at = 10 + NONCE_LEN;
        ciphertext.copy_from_slice(&bytes[at..at + KEY_LEN + TAG_LEN]);
        let tenant_len = bytes[WRAP_FIXED_LEN - 1] as usize;
        let tenant = &bytes[WRAP_FIXED_LEN..];
        if tenant.len() != tenant_len {
            return Err(KeyError::Malformed);
        }
        let tenant = std::str::from_utf8(tenant).map_err(|_| KeyError::Malformed)?;
        Ok(WrappedKey {
            tenant: tenant.to_owned(),
            purpose,
            key_id,
            master_key_id,
            nonce,
            ciphertext,
        })
    }
}

/// The master keys a process holds: the active one wraps, every one unwraps.
///
/// Rotation without downtime: (1) configure the new key as active and keep the old one
/// (`with_retired`); from then on new keys are wrapped under the new key and old wraps
/// still open; (2) `rotate` every stored wrapped key and store the results, in any number
/// of batches (a key already under the active master key is returned unchanged, so a
/// rotation that stopped part-way is simply run again); (3) once no stored wrapped key
/// names the old id (`needs_rotation`), drop it from the configuration. Field ciphertexts
/// and blind indexes are not touched.
pub struct Keyring {
    active: MasterKey,
    retired: Vec<MasterKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active.id)
            .field(
                "retired",
                &self.retired.iter().map(|k| k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// `rotate` stopped at the wrapped key at `index`; nothing was returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("wrapped key {index} could not be re-wrapped: {source}")]
pub struct RotateError {
    pub index: usize,
    pub source: KeyError,
}

impl Keyring {
    pub fn new(active: MasterKey) -> Self {
        Keyring {
            active,
            retired: Vec::new(),
        }
    }

    /// Adds an older master key, kept for unwrapping only.
    pub fn with_retired(mut self, key: MasterKey) -> Result<Self, KeyError> {
        if self.master(key.id).is_some() {
            return Err(KeyError::DuplicateMasterKey(key.id));
        }
        self.retired.push(key);
        Ok(self)
    }

    pub fn active_id(&self) -> MasterKeyId {
        self.active.id
    }

    fn master(&self, id: MasterKeyId) -> Option<&MasterKey> {
        std::iter::once(&self.active)
            .chain(&self.retired)
            .find(|k| k.id == id)
    }

    /// Whether `wrapped` is under another master key than the active one.
    pub fn needs_rotation(&self, wrapped: &WrappedKey) -> bool {
        wrapped.master_key_id != self.active.id
    }

    fn wrap(
        &self,
        rng: &mut impl CryptoRngCore,
        tenant: &str,
        purpose: KeyPurpose,
        key_id: KeyId,
        key: &[u8; KEY_LEN],
    ) -> Result<WrappedKey, KeyError> {
        if tenant.len() > usize::from(u8::MAX) {
            return Err(KeyError::TenantTooLong);
        }
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let aad = wrap_aad(tenant, purpose, key_id, self.active.id);
        let mut out = Vec::with_capacity(KEY_LEN + TAG_LEN);
        self.active
            .cipher
            .encrypt_into(&nonce, &aad, key, &mut out)
            .map_err(|_| KeyError::Malformed)?;
        let mut ciphertext = [0u8; KEY_LEN + TAG_LEN];
        ciphertext.copy_from_slice(&out);
        Ok(WrappedKey {
            tenant: tenant.to_owned(),
            purpose,
            key_id,
            master_key_id: self.active.id,
            nonce,
            ciphertext,
        })
    }

    fn unwrap_raw(
        &self,
        wrapped: &WrappedKey,
        purpose: KeyPurpose,
    ) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
        if wrapped.purpose != purpose {
            return Err(KeyError::WrongPurpose {
                expected: purpose,
                found: wrapped.purpose,
            });
        }
        let master = self
            .master(wrapped.master_key_id)
            .ok_or(KeyError::UnknownMasterKey(wrapped.master_key_id))?;
        let aad = wrap_aad(
            &wrapped.tenant,
            wrapped.purpose,
            wrapped.key_id,
            wrapped.master_key_id,
        );
        let plain = master
            .cipher
            .decrypt(&wrapped.nonce, &aad, &wrapped.ciphertext)
            .map_err(|_| KeyError::Unwrap(wrapped.master_key_id))?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if plain.len() != KEY_LEN {
            return Err(KeyError::Malformed);
        }
        key.copy_from_slice(&plain);
        Ok(key)
    }

    fn random_key(rng: &mut impl CryptoRngCore) -> Zeroizing<[u8; KEY_LEN]> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(&mut key[..]);
        key
    }

    /// A new random data key for `tenant`, and its wrapping under the active master key
    /// (which the shell stores).
    pub fn new_data_key(
        &self,
        rng: &mut impl CryptoRngCore,
        tenant: &str,
        id: KeyId,
    ) -> Result<(DataKey, WrappedKey), KeyError> {
        let key = Self::random_key(rng);
        let wrapped = self.wrap(rng, tenant, KeyPurpose::Data, id, &key)?;
        Ok((
            DataKey {
                id,
                cipher: Cipher::new(&key),
            },
            wrapped,
        ))
    }

    /// A new random blind-index key for `tenant`, and its wrapping.
    pub fn new_index_key(
        &self,
        rng: &mut impl CryptoRngCore,
        tenant: &str,
        id: KeyId,
    ) -> Result<(IndexKey, WrappedKey), KeyError> {
        let key = Self::random_key(rng);
        let wrapped = self.wrap(rng, tenant, KeyPurpose::Index, id, &key)?;
        Ok((IndexKey { id, key }, wrapped))
    }

    pub fn data_key(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyError> {
        let key = self.unwrap_raw(wrapped, KeyPurpose::Data)?;
        Ok(DataKey {
            id: wrapped.key_id,
            cipher: Cipher::new(&key),
        })
    }

    pub fn index_key(&self, wrapped: &WrappedKey) -> Result<IndexKey, KeyError> {
        let key = self.unwrap_raw(wrapped, KeyPurpose::Index)?;
        Ok(IndexKey {
            id: wrapped.key_id,
            key,
        })
    }

    /// `wrapped` under the active master key: unchanged if it already is, otherwise
    /// unwrapped by its own master key and wrapped again with a fresh nonce.
    pub fn rewrap(
        &self,
        rng: &mut impl CryptoRngCore,
        wrapped: &WrappedKey,
    ) -> Result<WrappedKey, KeyError> {
        let key = self.unwrap_raw(wrapped, wrapped.purpose)?;
        if !self.needs_rotation(wrapped) {
            // Unwrapped all the same, so that a corrupt key is reported now, not at use.
            return Ok(wrapped.clone());
        }
        self.wrap(rng, &wrapped.tenant, wrapped.purpose, wrapped.key_id, &key)
    }

    /// Every key of `wrapped`, re-wrapped under the active master key, in order; all or
    /// nothing.
    pub fn rotate(
        &self,
        rng: &mut impl CryptoRngCore,
        wrapped: &[WrappedKey],
    ) -> Result<Vec<WrappedKey>, RotateError> {
        wrapped
            .iter()
            .enumerate()
            .map(|(index, w)| {
                self.rewrap(rng, w)
                    .map_err(|source| RotateError { index, source })
            })
            .collect()
    }
}
