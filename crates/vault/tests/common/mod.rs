#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::SeedableRng;
use vault::{Keyring, MasterKey, MasterKeyId};

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn master_bytes(seed: u8) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add(i as u8);
    }
    bytes
}

pub fn master(id: u32, seed: u8) -> MasterKey {
    MasterKey::from_bytes(MasterKeyId(id), &master_bytes(seed)).unwrap()
}

pub fn keyring() -> Keyring {
    Keyring::new(master(1, 7))
}
