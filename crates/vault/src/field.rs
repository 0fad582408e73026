//! Sealing and opening one personal-data field.
//!
//! Sealed format, version 1 (docs/security.md, "Personal data"):
//!
//! ```text
//! offset  length  content
//! 0       1       format version (1)
//! 1       4       data key id, big-endian u32
//! 5       12      nonce (random)
//! 17      n + 16  AES-256-GCM ciphertext of the UTF-8 plaintext, then the tag
//! ```
//!
//! The associated data, not stored, is `"puhui/vault/field" ‖ bytes 0..5 ‖ field kind ‖
//! u16 BE length ‖ record id ‖ u16 BE length ‖ field name`: a ciphertext copied to another
//! record, another field or another kind, or relabelled with another key id, does not open.

use std::fmt;

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::aead::{NONCE_LEN, TAG_LEN};
use crate::keys::{DataKey, KeyId};

/// The kinds of personal data the vault seals and indexes. The kind is bound into the
/// sealing and the blind index, and picks the normalization and the mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// A PRC resident identity number (GB 11643).
    ResidentId,
    /// A telephone number.
    Phone,
    /// A bank card number (PAN).
    BankCard,
    /// A person's name.
    Name,
}

impl FieldKind {
    pub const ALL: [FieldKind; 4] = [
        FieldKind::ResidentId,
        FieldKind::Phone,
        FieldKind::BankCard,
        FieldKind::Name,
    ];

    /// The byte that stands for the kind in associated data and index input. Fixed forever.
    pub(crate) fn tag(self) -> u8 {
        match self {
            FieldKind::ResidentId => 1,
            FieldKind::Phone => 2,
            FieldKind::BankCard => 3,
            FieldKind::Name => 4,
        }
    }
}

/// What a sealed field belongs to: its record's id (a UUID's 16 bytes, say) and the field's
/// name (`"phone"`, `"legal_representative.name"`). Both are bound into the ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    pub record_id: &'a [u8],
    pub field: &'a str,
}

impl<'a> Binding<'a> {
    pub fn new(record_id: &'a [u8], field: &'a str) -> Self {
        Binding { record_id, field }
    }
}

pub const FORMAT_VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;
const FIELD_DOMAIN: &[u8] = b"puhui/vault/field";
/// Longer values are refused: no personal-data field is near this, and a bound keeps a
/// mistaken caller from sealing a document as a "field".
pub const MAX_PLAINTEXT_LEN: usize = 4096;

/// A sealed field: the bytes storage keeps. Not secret, but its `Debug` shows only its key
/// id and length all the same.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id())
            .field("len", &self.0.len())
            .finish()
    }
}

impl Sealed {
    /// Checks the version and the length; authenticity is checked by `open`.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, OpenError> {
        if bytes.is_empty() {
            return Err(OpenError::Malformed);
        }
        if bytes[0] != FORMAT_VERSION {
            return Err(OpenError::UnsupportedVersion(bytes[0]));
        }
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        Ok(Sealed(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The id of the data key that sealed it: the shell looks the key up by it.
    pub fn key_id(&self) -> KeyId {
        KeyId(u32::from_be_bytes([
            self.0[1], self.0[2], self.0[3], self.0[4],
        ]))
    }
}

/// A field's plaintext. `Debug` shows its kind only; the text is wiped on drop. Read it
/// with `expose` (the one name to search for when auditing where plaintext goes) or show
/// it with `masked`.
pub struct Plaintext {
    kind: FieldKind,
    text: Zeroizing<String>,
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plaintext")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Plaintext {
    pub fn kind(&self) -> FieldKind {
        self.kind
    }

    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The masked form for responses (`110***********1234`), by compliance's masking rules.
    pub fn masked(&self) -> String {
        match self.kind {
            FieldKind::ResidentId => compliance::mask_resident_id(&self.text),
            FieldKind::Phone => compliance::mask_phone(&self.text),
            FieldKind::BankCard => compliance::mask_bank_card(&self.text),
            FieldKind::Name => compliance::mask_name(&self.text),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a field is at most {MAX_PLAINTEXT_LEN} bytes")]
    TooLong,
    #[error("a record id and a field name are at most 65,535 bytes each")]
    BindingTooLong,
}

/// Why a sealed field did not open. `Authentication` covers every case GCM cannot tell
/// apart: another key with the same id, another record, field or kind, an altered byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the sealed field is truncated or malformed")]
    Malformed,
    #[error("sealed format version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("the field is sealed under data key {sealed:?}, not {given:?}")]
    KeyMismatch { sealed: KeyId, given: KeyId },
    #[error("the sealed field is not authentic for this key, record, field and kind")]
    Authentication,
}

fn field_aad(header: &[u8], kind: FieldKind, binding: &Binding<'_>) -> Option<Vec<u8>> {
    let record_len = u16::try_from(binding.record_id.len()).ok()?;
    let field_len = u16::try_from(binding.field.len()).ok()?;
    let mut aad = Vec::with_capacity(
        FIELD_DOMAIN.len() + 5 + 1 + 4 + binding.record_id.len() + binding.field.len(),
    );
    aad.extend_from_slice(FIELD_DOMAIN);
    aad.extend_from_slice(&header[..5]);
    aad.push(kind.tag());
    aad.extend_from_slice(&record_len.to_be_bytes());
    aad.extend_from_slice(binding.record_id);
    aad.extend_from_slice(&field_len.to_be_bytes());
    aad.extend_from_slice(binding.field.as_bytes());
    Some(aad)
}

/// Seals `plaintext` under `key` for `binding`, with a fresh random 96-bit nonce from
/// `rng`. Production passes the operating system's generator (or a CSPRNG seeded from it);
/// tests pass a seeded generator.
///
/// Random nonces are safe for up to 2³² seals per data key (NIST SP 800-38D § 8.3); the
/// shell starts a tenant's next data key long before (docs/security.md).
pub fn seal(
    kind: FieldKind,
    plaintext: &str,
    key: &DataKey,
    binding: &Binding<'_>,
    rng: &mut impl CryptoRngCore,
) -> Result<Sealed, SealError> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(SealError::TooLong);
    }
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&key.id.0.to_be_bytes());
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    out.extend_from_slice(&nonce);
    let aad = field_aad(&out, kind, binding).ok_or(SealError::BindingTooLong)?;
    key.cipher
        .encrypt_into(&nonce, &aad, plaintext.as_bytes(), &mut out)
        .map_err(|_| SealError::TooLong)?;
    Ok(Sealed(out))
}

/// Opens a field sealed by `seal` with the same kind, key and binding.
pub fn open(
    kind: FieldKind,
    sealed: &Sealed,
    key: &DataKey,
    binding: &Binding<'_>,
) -> Result<Plaintext, OpenError> {
    let bytes = &sealed.0;
    if sealed.key_id() != key.id {
        return Err(OpenError::KeyMismatch {
            sealed: sealed.key_id(),
            given: key.id,
        });
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&bytes[5..HEADER_LEN]);
    // A binding too long to seal was never sealed.
    let aad = field_aad(bytes, kind, binding).ok_or(OpenError::Authentication)?;
    let plain = key
        .cipher
        .decrypt(&nonce, &aad, &bytes[HEADER_LEN..])
        .map_err(|_| OpenError::Authentication)?;
    // Authentic bytes were sealed from a `&str`, so they are UTF-8.
    let text = std::str::from_utf8(&plain).map_err(|_| OpenError::Malformed)?;
    Ok(Plaintext {
        kind,
        text: Zeroizing::new(text.to_owned()),
    })
}
