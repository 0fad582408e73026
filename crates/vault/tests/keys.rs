//! Master keys, wrapping and rotation.

mod common;

use common::{keyring, master, master_bytes, rng};
use proptest::prelude::*;
use vault::{
    blind_index, normalize, open, seal, Binding, FieldKind, KeyError, KeyId, KeyPurpose, Keyring,
    MasterKey, MasterKeyId, RotateError, Sealed, WrappedKey,
};

#[test]
fn master_key_input_is_checked() {
    let id = MasterKeyId(1);
    assert_eq!(
        MasterKey::from_bytes(id, &[7u8; 31]).unwrap_err(),
        KeyError::Length(31)
    );
    assert_eq!(
        MasterKey::from_bytes(id, &[0u8; 32]).unwrap_err(),
        KeyError::Weak
    );
    let hex = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
    assert!(MasterKey::from_hex(id, &format!("  {hex}\n")).is_ok());
    assert_eq!(
        MasterKey::from_hex(id, &hex[1..]).unwrap_err(),
        KeyError::NotHex
    );
    let bad = hex.replace('a', "g");
    assert_eq!(MasterKey::from_hex(id, &bad).unwrap_err(), KeyError::NotHex);
}

#[test]
fn hex_and_bytes_give_the_same_key() {
    let bytes: Vec<u8> = (0u8..32).collect();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut rng = rng(1);
    let by_bytes = Keyring::new(MasterKey::from_bytes(MasterKeyId(1), &bytes).unwrap());
    let by_hex = Keyring::new(MasterKey::from_hex(MasterKeyId(1), &hex).unwrap());
    let (_, wrapped) = by_bytes.new_data_key(&mut rng, "t", KeyId(1)).unwrap();
    assert!(by_hex.data_key(&wrapped).is_ok());
}

#[test]
fn duplicate_master_ids_are_refused() {
    let err = Keyring::new(master(1, 1))
        .with_retired(master(1, 2))
        .unwrap_err();
    assert_eq!(err, KeyError::DuplicateMasterKey(MasterKeyId(1)));
}

#[test]
fn wrapped_keys_round_trip_through_bytes() {
    let mut rng = rng(2);
    let ring = keyring();
    let (_, wrapped) = ring.new_index_key(&mut rng, "tenant-é", KeyId(7)).unwrap();
    let bytes = wrapped.to_bytes();
    assert_eq!(WrappedKey::from_bytes(&bytes).unwrap(), wrapped);
    assert_eq!(
        WrappedKey::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err(),
        KeyError::Malformed
    );
    let mut bad = bytes.clone();
    bad[0] = 2;
    assert_eq!(
        WrappedKey::from_bytes(&bad).unwrap_err(),
        KeyError::Malformed
    );
    let mut bad = bytes;
    bad[1] = 9;
    assert_eq!(
        WrappedKey::from_bytes(&bad).unwrap_err(),
        KeyError::Malformed
    );
}

#[test]
fn a_relabelled_wrapped_key_does_not_unwrap() {
    let mut rng = rng(3);
    let ring = keyring().with_retired(master(2, 2)).unwrap();
    let (_, wrapped) = ring.new_data_key(&mut rng, "t1", KeyId(1)).unwrap();
    assert!(ring.data_key(&wrapped).is_ok());

    let moved = WrappedKey {
        tenant: "t2".into(),
        ..wrapped.clone()
    };
    assert_eq!(
        ring.data_key(&moved).unwrap_err(),
        KeyError::Unwrap(MasterKeyId(1))
    );
    let renumbered = WrappedKey {
        key_id: KeyId(2),
        ..wrapped.clone()
    };
    assert_eq!(
        ring.data_key(&renumbered).unwrap_err(),
        KeyError::Unwrap(MasterKeyId(1))
    );
    let other_master = WrappedKey {
        master_key_id: MasterKeyId(2),
        ..wrapped.clone()
    };
    assert_eq!(
        ring.data_key(&other_master).unwrap_err(),
        KeyError::Unwrap(MasterKeyId(2))
    );
    let unknown = WrappedKey {
        master_key_id: MasterKeyId(3),
        ..wrapped.clone()
    };
    assert_eq!(
        ring.data_key(&unknown).unwrap_err(),
        KeyError::UnknownMasterKey(MasterKeyId(3))
    );
    let as_index = WrappedKey {
        purpose: KeyPurpose::Index,
        ..wrapped.clone()
    };
    assert_eq!(
        ring.index_key(&as_index).unwrap_err(),
        KeyError::Unwrap(MasterKeyId(1))
    );
    assert_eq!(
        ring.index_key(&wrapped).unwrap_err(),
        KeyError::WrongPurpose {
            expected: KeyPurpose::Index,
            found: KeyPurpose::Data
        }
    );
    for at in 0..wrapped.ciphertext.len() {
        let mut bad = wrapped.clone();
        bad.ciphertext[at] ^= 1;
        assert_eq!(
            ring.data_key(&bad).unwrap_err(),
            KeyError::Unwrap(MasterKeyId(1))
        );
    }
    let mut bad = wrapped;
    bad.nonce[0] ^= 1;
    assert_eq!(
        ring.data_key(&bad).unwrap_err(),
        KeyError::Unwrap(MasterKeyId(1))
    );
}

#[test]
fn another_master_key_cannot_unwrap() {
    let mut rng = rng(4);
    let (_, wrapped) = Keyring::new(master(1, 1))
        .new_data_key(&mut rng, "t", KeyId(1))
        .unwrap();
    // Same id, other bytes: a misconfigured key file.
    let wrong = Keyring::new(master(1, 2));
    assert_eq!(
        wrong.data_key(&wrapped).unwrap_err(),
        KeyError::Unwrap(MasterKeyId(1))
    );
}

#[test]
fn rotate_reports_the_first_key_it_cannot_unwrap() {
    let mut rng = rng(5);
    let old = Keyring::new(master(1, 1));
    let (_, a) = old.new_data_key(&mut rng, "t", KeyId(1)).unwrap();
    let (_, b) = Keyring::new(master(5, 5))
        .new_data_key(&mut rng, "t", KeyId(2))
        .unwrap();
    let new = Keyring::new(master(2, 2))
        .with_retired(master(1, 1))
        .unwrap();
    let err = new.rotate(&mut rng, &[a, b]).unwrap_err();
    assert_eq!(
        err,
        RotateError {
            index: 1,
            source: KeyError::UnknownMasterKey(MasterKeyId(5))
        }
    );
}

/// One sealed field of a random book, with what it needs to be opened again.
#[derive(Debug, Clone)]
struct Record {
    tenant: usize,
    key: usize,
    record_id: [u8; 16],
    kind: FieldKind,
    value: String,
}

fn record() -> impl Strategy<Value = Record> {
    (
        0usize..3,
        0usize..2,
        any::<[u8; 16]>(),
        prop::sample::select(FieldKind::ALL.to_vec()),
        "\\PC{0,24}",
    )
        .prop_map(|(tenant, key, record_id, kind, value)| Record {
            tenant,
            key,
            record_id,
            kind,
            value,
        })
}

fn field_name(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::ResidentId => "id_number",
        FieldKind::Phone => "phone",
        FieldKind::BankCard => "bank_card",
        FieldKind::Name => "name",
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Seal a random book under per-tenant data keys, rotate the master key several times
    /// (each time with only the new key and its predecessor configured), and check after
    /// every rotation that every field opens with keys unwrapped under the new master key
    /// alone, that the blind indexes are unchanged, and that the previous master key is no
    /// longer needed. The sealed bytes themselves are never rewritten.
    #[test]
    fn rotation_keeps_every_record_readable(
        records in prop::collection::vec(record(), 1..40),
        masters in prop::collection::vec(any::<[u8; 32]>(), 1..5),
        seed in any::<u64>(),
    ) {
        let mut rng = rng(seed);
        let tenants = ["t0", "t1", "t2"];
        let mut ring = Keyring::new(master(1000, 1));
        // Wrapped keys as storage holds them: per tenant, data keys 1 and 2 and index key 9.
        let mut stored: Vec<WrappedKey> = Vec::new();
        for tenant in tenants {
            for id in [1, 2] {
                stored.push(ring.new_data_key(&mut rng, tenant, KeyId(id)).unwrap().1);
            }
            stored.push(ring.new_index_key(&mut rng, tenant, KeyId(9)).unwrap().1);
        }
        let find = |stored: &[WrappedKey], tenant: &str, purpose, id| {
            stored.iter().find(|w| w.tenant == tenant && w.purpose == purpose && w.key_id == KeyId(id)).unwrap().clone()
        };
        let mut book: Vec<(Record, Sealed, Option<vault::BlindIndex>)> = Vec::new();
        for r in records {
            let tenant = tenants[r.tenant];
            let key = ring.data_key(&find(&stored, tenant, KeyPurpose::Data, r.key as u32 + 1)).unwrap();
            let binding = Binding::new(&r.record_id, field_name(r.kind));
            let sealed = seal(r.kind, &r.value, &key, &binding, &mut rng).unwrap();
            let index_key = ring.index_key(&find(&stored, tenant, KeyPurpose::Index, 9)).unwrap();
            let index = normalize(r.kind, &r.value).ok().map(|n| blind_index(&n, &index_key));
            book.push((r, sealed, index));
        }
        for (i, bytes) in masters.iter().enumerate() {
            let new_master = MasterKey::from_bytes(MasterKeyId(i as u32), bytes);
            prop_assume!(new_master.is_ok());
            let previous = ring;
            let previous_id = previous.active_id();
            // During the rotation both keys are configured.
            let during = Keyring::new(new_master.unwrap())
                .with_retired(MasterKey::from_bytes(previous_id, &if i == 0 { master_bytes(1) } else { masters[i - 1] }).unwrap())
                .unwrap();
            let rotated = during.rotate(&mut rng, &stored).unwrap();
            prop_assert_eq!(rotated.len(), stored.len());
            for (before, after) in stored.iter().zip(&rotated) {
                prop_assert_eq!(after.master_key_id, MasterKeyId(i as u32));
                prop_assert_eq!((&before.tenant, before.purpose, before.key_id), (&after.tenant, after.purpose, after.key_id));
                prop_assert_ne!(before.ciphertext, after.ciphertext);
            }
            // Rotating again changes nothing: a stopped rotation can be rerun.
            prop_assert_eq!(&during.rotate(&mut rng, &rotated).unwrap(), &rotated);
            // The old master key is retired: only the new one is configured.
            ring = Keyring::new(MasterKey::from_bytes(MasterKeyId(i as u32), bytes).unwrap());
            prop_assert!(stored.iter().all(|w| ring.needs_rotation(w)));
            prop_assert_eq!(
                ring.data_key(&stored[0]).unwrap_err(),
                KeyError::UnknownMasterKey(previous_id)
            );
            stored = rotated;
            prop_assert!(stored.iter().all(|w| !ring.needs_rotation(w)));
            for (r, sealed, index) in &book {
                let tenant = tenants[r.tenant];
                let key = ring.data_key(&find(&stored, tenant, KeyPurpose::Data, r.key as u32 + 1)).unwrap();
                let binding = Binding::new(&r.record_id, field_name(r.kind));
                let opened = open(r.kind, sealed, &key, &binding).unwrap();
                prop_assert_eq!(opened.expose(), r.value.as_str());
                let index_key = ring.index_key(&find(&stored, tenant, KeyPurpose::Index, 9)).unwrap();
                let again = normalize(r.kind, &r.value).ok().map(|n| blind_index(&n, &index_key));
                prop_assert_eq!(&again, index);
            }
        }
    }
}
