//! Sealing and opening fields: round trips, and every way a sealed field must refuse to open.

mod common;

use common::{keyring, master, rng};
use vault::{
    open, seal, Binding, FieldKind, KeyId, Keyring, OpenError, SealError, Sealed, MAX_PLAINTEXT_LEN,
};

const RECORD: [u8; 16] = [0x11; 16];
const OTHER_RECORD: [u8; 16] = [0x22; 16];

#[test]
fn round_trip_every_kind() {
    let mut rng = rng(1);
    let (key, _) = keyring().new_data_key(&mut rng, "t1", KeyId(1)).unwrap();
    let values = [
        (FieldKind::ResidentId, "11010519491231002X"),
        (FieldKind::Phone, "+8613800138000"),
        (FieldKind::BankCard, "6222021234567890123"),
        (FieldKind::Name, "欧阳娜娜"),
        (FieldKind::Name, ""),
    ];
    for (kind, value) in values {
        let binding = Binding::new(&RECORD, "field");
        let sealed = seal(kind, value, &key, &binding, &mut rng).unwrap();
        assert_eq!(sealed.as_bytes().len(), 1 + 4 + 12 + value.len() + 16);
        assert_eq!(sealed.key_id(), KeyId(1));
        // What storage gives back goes through `from_bytes`.
        let stored = Sealed::from_bytes(sealed.clone().into_bytes()).unwrap();
        let opened = open(kind, &stored, &key, &binding).unwrap();
        assert_eq!(opened.expose(), value);
        assert_eq!(opened.kind(), kind);
    }
}

#[test]
fn the_same_value_seals_differently_each_time() {
    let mut rng = rng(2);
    let (key, _) = keyring().new_data_key(&mut rng, "t1", KeyId(1)).unwrap();
    let binding = Binding::new(&RECORD, "phone");
    let a = seal(FieldKind::Phone, "+8613800138000", &key, &binding, &mut rng).unwrap();
    let b = seal(FieldKind::Phone, "+8613800138000", &key, &binding, &mut rng).unwrap();
    assert_ne!(a, b);
}

#[test]
fn plaintext_is_not_in_the_sealed_bytes() {
    let mut rng = rng(3);
    let (key, _) = keyring().new_data_key(&mut rng, "t1", KeyId(1)).unwrap();
    let value = "110105199003071234";
    let sealed = seal(
        FieldKind::ResidentId,
        value,
        &key,
        &Binding::new(&RECORD, "id_number"),
        &mut rng,
    )
    .unwrap();
    let bytes = sealed.as_bytes();
    assert!(!bytes
        .windows(6)
        .any(|w| value.as_bytes().windows(6).any(|v| v == w)));
}

struct Fixture {
    key: vault::DataKey,
    sealed: Sealed,
}

fn fixture() -> Fixture {
    let mut rng = rng(4);
    let (key, _) = keyring().new_data_key(&mut rng, "t1", KeyId(1)).unwrap();
    let sealed = seal(
        FieldKind::Phone,
        "+8613800138000",
        &key,
        &Binding::new(&RECORD, "phone"),
        &mut rng,
    )
    .unwrap();
    Fixture { key, sealed }
}

#[test]
fn another_record_fails() {
    let f = fixture();
    let err = open(
        FieldKind::Phone,
        &f.sealed,
        &f.key,
        &Binding::new(&OTHER_RECORD, "phone"),
    )
    .unwrap_err();
    assert_eq!(err, OpenError::Authentication);
}

#[test]
fn another_field_name_fails() {
    let f = fixture();
    let err = open(
        FieldKind::Phone,
        &f.sealed,
        &f.key,
        &Binding::new(&RECORD, "emergency_phone"),
    )
    .unwrap_err();
    assert_eq!(err, OpenError::Authentication);
}

#[test]
fn another_kind_fails() {
    let f = fixture();
    let err = open(
        FieldKind::ResidentId,
        &f.sealed,
        &f.key,
        &Binding::new(&RECORD, "phone"),
    )
    .unwrap_err();
    assert_eq!(err, OpenError::Authentication);
}

#[test]
fn record_and_field_boundaries_cannot_be_shifted() {
    // Without length prefixes, (record "ab", field "cd") and (record "abc", field "d")
    // would give the same associated data.
    let mut rng = rng(5);
    let (key, _) = keyring().new_data_key(&mut rng, "t1", KeyId(1)).unwrap();
    let sealed = seal(
        FieldKind::Name,
        "x",
        &key,
        &Binding::new(b"ab", "cd"),
        &mut rng,
    )
    .unwrap();
    assert!(open(FieldKind::Name, &sealed, &key, &Binding::new(b"ab", "cd")).is_ok());
    let err = open(FieldKind::Name, &sealed, &key, &Binding::new(b"abc", "d")).unwrap_err();
    assert_eq!(err, OpenError::Authentication);
}

#[test]
fn every_tampered_byte_fails() {
    let f = fixture();
    let binding = Binding::new(&RECORD, "phone");
    let bytes = f.sealed.as_bytes();
    for at in 0..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = bytes.to_vec();
            bad[at] ^= flip;
            let result =
                Sealed::from_bytes(bad).and_then(|s| open(FieldKind::Phone, &s, &f.key, &binding));
            let err = result.unwrap_err();
            let expected = match at {
                0 => matches!(err, OpenError::UnsupportedVersion(_)),
                1..=4 => matches!(err, OpenError::KeyMismatch { .. }),
                _ => err == OpenError::Authentication,
            };
            assert!(expected, "byte {at} flipped by {flip:#x}: {err:?}");
        }
    }
}

#[test]
fn truncated_and_empty_are_malformed() {
    let f = fixture();
    let bytes = f.sealed.as_bytes();
    assert_eq!(
        Sealed::from_bytes(Vec::new()).unwrap_err(),
        OpenError::Malformed
    );
    assert_eq!(
        Sealed::from_bytes(bytes[..1 + 4 + 12 + 15].to_vec()).unwrap_err(),
        OpenError::Malformed
    );
    // Long enough to parse, but a cut tag does not authenticate.
    let cut = Sealed::from_bytes(bytes[..bytes.len() - 1].to_vec()).unwrap();
    assert_eq!(
        open(
            FieldKind::Phone,
            &cut,
            &f.key,
            &Binding::new(&RECORD, "phone")
        )
        .unwrap_err(),
        OpenError::Authentication
    );
}

#[test]
fn another_data_key_fails() {
    let f = fixture();
    let binding = Binding::new(&RECORD, "phone");
    let mut rng = rng(6);
    // Another id: refused before decrypting, naming both ids.
    let (other, _) = keyring().new_data_key(&mut rng, "t1", KeyId(2)).unwrap();
    assert_eq!(
        open(FieldKind::Phone, &f.sealed, &other, &binding).unwrap_err(),
        OpenError::KeyMismatch {
            sealed: KeyId(1),
            given: KeyId(2)
        }
    );
    // The same id but other bytes (another tenant's key 1): not authentic.
    let (same_id, _) = keyring().new_data_key(&mut rng, "t2", KeyId(1)).unwrap();
    assert_eq!(
        open(FieldKind::Phone, &f.sealed, &same_id, &binding).unwrap_err(),
        OpenError::Authentication
    );
}

#[test]
fn limits_are_refused_with_a_typed_error() {
    let mut rng = rng(7);
    let (key, _) = keyring().new_data_key(&mut rng, "t1", KeyId(1)).unwrap();
    let long = "a".repeat(MAX_PLAINTEXT_LEN + 1);
    assert_eq!(
        seal(
            FieldKind::Name,
            &long,
            &key,
            &Binding::new(&RECORD, "name"),
            &mut rng
        )
        .unwrap_err(),
        SealError::TooLong
    );
    let field = "f".repeat(70_000);
    assert_eq!(
        seal(
            FieldKind::Name,
            "x",
            &key,
            &Binding::new(&RECORD, &field),
            &mut rng
        )
        .unwrap_err(),
        SealError::BindingTooLong
    );
}

#[test]
fn masked_uses_the_kind() {
    let mut rng = rng(8);
    let (key, _) = keyring().new_data_key(&mut rng, "t1", KeyId(1)).unwrap();
    let binding = Binding::new(&RECORD, "f");
    let cases = [
        (
            FieldKind::ResidentId,
            "110105199003071234",
            "110***********1234",
        ),
        (FieldKind::Phone, "13812345678", "138****5678"),
        (
            FieldKind::BankCard,
            "6222021234567890123",
            "622202*********0123",
        ),
        (FieldKind::Name, "张三", "张*"),
    ];
    for (kind, value, masked) in cases {
        let sealed = seal(kind, value, &key, &binding, &mut rng).unwrap();
        assert_eq!(
            open(kind, &sealed, &key, &binding).unwrap().masked(),
            masked
        );
    }
}

#[test]
fn debug_prints_nothing_secret() {
    let mut rng = rng(9);
    let master_bytes: [u8; 32] = core::array::from_fn(|i| 0xA0 ^ i as u8);
    let master_key = vault::MasterKey::from_bytes(vault::MasterKeyId(9), &master_bytes).unwrap();
    let master_text = format!("{master_key:?}");
    let ring = Keyring::new(master_key).with_retired(master(3, 3)).unwrap();
    let (data_key, _) = ring.new_data_key(&mut rng, "t1", KeyId(1)).unwrap();
    let (index_key, _) = ring.new_index_key(&mut rng, "t1", KeyId(2)).unwrap();
    let value = "110105199003071234";
    let binding = Binding::new(&RECORD, "id");
    let sealed = seal(FieldKind::ResidentId, value, &data_key, &binding, &mut rng).unwrap();
    let plaintext = open(FieldKind::ResidentId, &sealed, &data_key, &binding).unwrap();
    let normalized = vault::normalize(FieldKind::ResidentId, value).unwrap();
    let printed = [
        master_text,
        format!("{ring:?}"),
        format!("{data_key:?}"),
        format!("{index_key:?}"),
        format!("{plaintext:?}"),
        format!("{normalized:?}"),
        format!("{sealed:?}"),
    ];
    let master_hex: String = master_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let master_dec = format!("{master_bytes:?}");
    for text in &printed {
        assert!(!text.contains(value), "{text}");
        assert!(!text.contains("1234"), "{text}");
        assert!(!text.contains(&master_hex), "{text}");
        assert!(
            !text.contains(&master_dec[1..master_dec.len() - 1]),
            "{text}"
        );
    }
    // Key types print their ids only: a derived `Debug` would print the key.
    assert_eq!(printed[0], "MasterKey { id: MasterKeyId(9), .. }");
    assert_eq!(printed[2], "DataKey { id: KeyId(1), .. }");
    assert_eq!(printed[3], "IndexKey { id: KeyId(2), .. }");
    assert_eq!(printed[4], "Plaintext { kind: ResidentId, .. }");
    assert_eq!(printed[5], "Normalized { kind: ResidentId, .. }");
}
