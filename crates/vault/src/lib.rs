//! Personal data protected at rest: envelope encryption of single fields and blind indexes.
//!
//! - A **master key** (`MasterKey`, 32 bytes, from the shell's key file or environment)
//!   wraps a tenant's random **data keys** and **index key** (AES-256-GCM, `WrappedKey`);
//!   the `Keyring` holds the active master key and retired ones, and rotation re-wraps the
//!   wrapped keys without touching field ciphertexts (`Keyring::rotate`).
//! - `seal` / `open` encrypt one field with AES-256-GCM under a data key, a random 96-bit
//!   nonce and associated data binding it to its record, field name and kind.
//! - `blind_index` is HMAC-SHA256 of the normalized value (`normalize`) under the index key.
//!
//! Pure: no I/O, no clock, no environment. Randomness (nonces, new keys) comes from the
//! `rng` argument (any `rand_core::CryptoRngCore`): the operating system's generator, or a
//! CSPRNG seeded from it such as `rand::rngs::ThreadRng`, in production; a seeded
//! generator in tests. No key
//! or plaintext type prints its secret in `Debug`, and key material is wiped on drop.
//! Formats and the threat model: docs/security.md, "Personal data".

mod aead;
mod field;
mod index;
mod keys;

pub use field::{
    open, seal, Binding, FieldKind, OpenError, Plaintext, SealError, Sealed, FORMAT_VERSION,
    MAX_PLAINTEXT_LEN,
};
pub use index::{blind_index, normalize, BlindIndex, NormalizeError, Normalized};
pub use keys::{
    DataKey, IndexKey, KeyError, KeyId, KeyPurpose, Keyring, MasterKey, MasterKeyId, RotateError,
    WrappedKey,
};
