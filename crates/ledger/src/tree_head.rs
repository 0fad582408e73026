use crate::merkle::Hash;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// A tree head signed as RFC 6962 §3.5's TreeHeadSignature: version v1 (0), signature_type
/// tree_hash (1), timestamp (u64 ms), tree_size (u64), sha256_root_hash — 50 bytes signed
/// with Ed25519.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTreeHead {
    pub tree_size: u64,
    pub timestamp_ms: u64,
    pub root_hash: Hash,
    pub signature: [u8; 64],
    pub public_key: [u8; 32],
}

impl SignedTreeHead {
    pub fn signed_bytes(tree_size: u64, timestamp_ms: u64, root_hash: &Hash) -> [u8; 50] {
        let mut out = [0u8; 50];
        out[0] = 0; // version v1
        out[1] = 1; // signature_type tree_hash
        out[2..10].copy_from_slice(&timestamp_ms.to_be_bytes());
        out[10..18].copy_from_slice(&tree_size.to_be_bytes());
        out[18..50].copy_from_slice(root_hash);
        out
    }

    pub fn verify(&self) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.public_key) else {
            return false;
        };
        let msg = Self::signed_bytes(self.tree_size, self.timestamp_ms, &self.root_hash);
        key.verify(&msg, &Signature::from_bytes(&self.signature))
            .is_ok()
    }
}

pub struct TreeHeadSigner {
    key: SigningKey,
}

impl TreeHeadSigner {
    pub fn from_secret(secret: [u8; 32]) -> Self {
        TreeHeadSigner {
            key: SigningKey::from_bytes(&secret),
        }
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    pub fn sign(&self, tree_size: u64, timestamp_ms: u64, root_hash: Hash) -> SignedTreeHead {
        let msg = SignedTreeHead::signed_bytes(tree_size, timestamp_ms, &root_hash);
        SignedTreeHead {
            tree_size,
            timestamp_ms,
            root_hash,
            signature: self.key.sign(&msg).to_bytes(),
            public_key: self.public_key(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_verifies_and_detects_changes() {
        let s = TreeHeadSigner::from_secret([7u8; 32]);
        let head = s.sign(10, 1_700_000_000_000, [3u8; 32]);
        assert!(head.verify());
        let mut bad = head.clone();
        bad.tree_size = 11;
        assert!(!bad.verify());
    }
}
