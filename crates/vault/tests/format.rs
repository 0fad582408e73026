//! The stored formats are what docs/security.md says: each is rebuilt here byte for byte
//! with AES-256-GCM called directly, from the documented layout and associated data.

mod common;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use common::{master_bytes, rng};
use rand::RngCore;
use vault::{seal, Binding, FieldKind, KeyId, Keyring, MasterKey, MasterKeyId};

fn gcm(key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Vec<u8> {
    Aes256Gcm::new_from_slice(key)
        .unwrap()
        .encrypt(Nonce::from_slice(nonce), Payload { msg, aad })
        .unwrap()
}

#[test]
fn wrapped_key_and_sealed_field_follow_the_documented_layout() {
    let seed = 42;
    let master = MasterKey::from_bytes(MasterKeyId(0x0102_0304), &master_bytes(3)).unwrap();
    let ring = Keyring::new(master);
    let mut r = rng(seed);
    let (data_key, wrapped) = ring
        .new_data_key(&mut r, "tenant-a", KeyId(0x0a0b_0c0d))
        .unwrap();
    let record = [0x5a; 16];
    let value = "11010519491231002X";
    let sealed = seal(
        FieldKind::ResidentId,
        value,
        &data_key,
        &Binding::new(&record, "id_number"),
        &mut r,
    )
    .unwrap();

    // The generator's output in the order the vault draws it: the new key, the wrapping
    // nonce, then the field's nonce.
    let mut expected_rng = rng(seed);
    let mut key = [0u8; 32];
    let mut wrap_nonce = [0u8; 12];
    let mut field_nonce = [0u8; 12];
    expected_rng.fill_bytes(&mut key);
    expected_rng.fill_bytes(&mut wrap_nonce);
    expected_rng.fill_bytes(&mut field_nonce);

    // Wrapped key: AAD = "puhui/vault/wrap" ‖ version ‖ purpose ‖ key id ‖ master id ‖ tenant.
    let mut aad = b"puhui/vault/wrap".to_vec();
    aad.extend([1, 1, 0x0a, 0x0b, 0x0c, 0x0d, 0x01, 0x02, 0x03, 0x04]);
    aad.extend(b"tenant-a");
    assert_eq!(wrapped.nonce, wrap_nonce);
    assert_eq!(
        wrapped.ciphertext.to_vec(),
        gcm(&master_bytes(3), &wrap_nonce, &aad, &key)
    );
    let mut bytes = vec![1, 1, 0x0a, 0x0b, 0x0c, 0x0d, 0x01, 0x02, 0x03, 0x04];
    bytes.extend(wrap_nonce);
    bytes.extend(wrapped.ciphertext);
    bytes.push(8);
    bytes.extend(b"tenant-a");
    assert_eq!(wrapped.to_bytes(), bytes);

    // Sealed field: version ‖ key id ‖ nonce ‖ ciphertext+tag, with AAD
    // "puhui/vault/field" ‖ version ‖ key id ‖ kind ‖ u16 len ‖ record ‖ u16 len ‖ field.
    let mut aad = b"puhui/vault/field".to_vec();
    aad.extend([1, 0x0a, 0x0b, 0x0c, 0x0d, 1, 0, 16]);
    aad.extend(record);
    aad.extend([0, 9]);
    aad.extend(b"id_number");
    let mut expected = vec![1, 0x0a, 0x0b, 0x0c, 0x0d];
    expected.extend(field_nonce);
    expected.extend(gcm(&key, &field_nonce, &aad, value.as_bytes()));
    assert_eq!(sealed.as_bytes(), &expected[..]);
}
