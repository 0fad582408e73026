//! RFC 6962 / RFC 9162 Merkle tree: leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ l ‖ r),
//! split at the largest power of two smaller than the size. Complete subtrees are cached by
//! level, so appends are amortized O(1) hashes and proofs are O(log n).

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Largest power of two strictly smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    assert!(n >= 2, "split needs at least two leaves");
    1u64 << (63 - (n - 1).leading_zeros())
}

#[derive(Clone, Debug, Default)]
pub struct MerkleTree {
    /// `levels[k][j]` is the hash of the complete subtree of 2^k leaves starting at j·2^k.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    pub fn new() -> Self {
        MerkleTree {
            levels: vec![Vec::new()],
        }
    }

    pub fn len(&self) -> u64 {
        self.levels[0].len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels[0].get(usize::try_from(index).ok()?).copied()
    }

    /// Appends a leaf hash (already `leaf_hash`ed).
    pub fn push(&mut self, leaf: Hash) {
        self.levels[0].push(leaf);
        let mut k = 0;
        while self.levels[k].len().is_multiple_of(2) {
            let n = self.levels[k].len();
            let parent = node_hash(&self.levels[k][n - 2], &self.levels[k][n - 1]);
            if self.levels.len() == k + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[k + 1].push(parent);
            k += 1;
        }
    }

    /// Drops leaves past `size`, undoing appends that were never made durable.
    pub fn truncate(&mut self, size: u64) {
        for (k, level) in self.levels.iter_mut().enumerate() {
            level.truncate((size >> k) as usize);
        }
        while self.levels.len() > 1 && self.levels.last().is_some_and(Vec::is_empty) {
            self.levels.pop();
        }
    }

    fn subtree(&self, start: u64, size: u64) -> Hash {
        assert!(
            size >= 1 && start + size <= self.len(),
            "subtree [{start}, {start}+{size}) within {} leaves",
            self.len()
        );
        if size.is_power_of_two() && start.is_multiple_of(size) {
            let k = size.trailing_zeros() as usize;
            return self.levels[k][(start >> k) as usize];
        }
        let k = split(size);
        node_hash(&self.subtree(start, k), &self.subtree(start + k, size - k))
    }

    /// Root of the first `size` leaves (the tree as it was at that size).
    pub fn root(&self, size: u64) -> Option<Hash> {
        match size {
            0 => Some(empty_root()),
            s if s <= self.len() => Some(self.subtree(0, s)),
            _ => None,
        }
    }

    /// Audit path for leaf `index` in the tree of the first `size` leaves (RFC 9162 §2.1.3.1).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<Vec<Hash>> {
        if index >= size || size > self.len() {
            return None;
        }
        let mut out = Vec::new();
        self.path(index, 0, size, &mut out);
        Some(out)
    }

    fn path(&self, m: u64, start: u64, size: u64, out: &mut Vec<Hash>) {
        if size == 1 {
            return;
        }
        let k = split(size);
        if m < k {
            self.path(m, start, k, out);
            out.push(self.subtree(start + k, size - k));
        } else {
            self.path(m - k, start + k, size - k, out);
            out.push(self.subtree(start, k));
        }
    }

    /// Proof that the tree of `old_size` leaves is a prefix of the one of `new_size` (§2.1.4.1).
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Option<Vec<Hash>> {
        if old_size == 0 || old_size > new_size || new_size > self.len() {
            return None;
        }
        let mut out = Vec::new();
        if old_size < new_size {
            self.subproof(old_size, 0, new_size, true, &mut out);
        }
        Some(out)
    }

    fn subproof(&self, m: u64, start: u64, size: u64, whole: bool, out: &mut Vec<Hash>) {
        if m == size {
            if !whole {
                out.push(self.subtree(start, size));
            }
            return;
        }
        let k = split(size);
        if m <= k {
            self.subproof(m, start, k, whole, out);
            out.push(self.subtree(start + k, size - k));
        } else {
            self.subproof(m - k, start + k, size - k, false, out);
            out.push(self.subtree(start, k));
        }
    }
}

/// RFC 9162 §2.1.3.2: does `proof` show `leaf` at `index` in a tree of `size` with `root`?
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// RFC 9162 §2.1.4.2: does `proof` show the tree (`old_size`, `old_root`) is a prefix of
/// (`new_size`, `new_root`)?
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size == 0 || old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old_root && sr == *new_root && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // Leaves and roots for sizes 0–8: the RFC 6962 test vectors published with the
    // Certificate Transparency Merkle code (transparency-dev/merkle, testonly/constants.go).
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn reference_tree() -> MerkleTree {
        let mut t = MerkleTree::new();
        for l in LEAVES {
            t.push(leaf_hash(&hex::decode(l).unwrap()));
        }
        t
    }

    fn hx(h: &Hash) -> String {
        hex::encode(h)
    }

    #[test]
    fn roots_match_rfc6962_vectors() {
        let t = reference_tree();
        for (size, want) in ROOTS.iter().enumerate() {
            assert_eq!(hx(&t.root(size as u64).unwrap()), *want, "size {size}");
        }
    }

    #[test]
    fn inclusion_and_consistency_match_published_proofs() {
        let t = reference_tree();
        let p0: Vec<String> = t.inclusion_proof(0, 8).unwrap().iter().map(hx).collect();
        assert_eq!(
            p0,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]
        );
        let p5: Vec<String> = t.inclusion_proof(5, 8).unwrap().iter().map(hx).collect();
        assert_eq!(
            p5,
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]
        );
        let c: Vec<String> = t.consistency_proof(2, 8).unwrap().iter().map(hx).collect();
        assert_eq!(
            c,
            [
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]
        );
    }

    #[test]
    fn every_proof_verifies_and_tampering_fails() {
        let mut t = MerkleTree::new();
        for i in 0..70u32 {
            t.push(leaf_hash(&i.to_be_bytes()));
        }
        for n in 1..=70 {
            let root = t.root(n).unwrap();
            for i in 0..n {
                let proof = t.inclusion_proof(i, n).unwrap();
                let leaf = t.leaf(i).unwrap();
                assert!(
                    verify_inclusion(i, n, &leaf, &proof, &root),
                    "leaf {i} size {n}"
                );
                assert!(!verify_inclusion(i, n, &leaf_hash(b"x"), &proof, &root));
                if n > 1 {
                    assert!(!verify_inclusion((i + 1) % n, n, &leaf, &proof, &root));
                }
            }
            for m in 1..=n {
                let proof = t.consistency_proof(m, n).unwrap();
                let old = t.root(m).unwrap();
                assert!(verify_consistency(m, n, &old, &root, &proof), "{m}->{n}");
                if m < n {
                    assert!(!verify_consistency(m, n, &leaf_hash(b"x"), &root, &proof));
                }
            }
        }
    }

    #[test]
    fn truncate_restores_earlier_tree() {
        let mut t = MerkleTree::new();
        for i in 0..37u32 {
            t.push(leaf_hash(&i.to_be_bytes()));
        }
        let root20 = t.root(20).unwrap();
        t.truncate(20);
        assert_eq!(t.len(), 20);
        assert_eq!(t.root(20).unwrap(), root20);
        t.push(leaf_hash(b"new"));
        let mut fresh = MerkleTree::new();
        for i in 0..20u32 {
            fresh.push(leaf_hash(&i.to_be_bytes()));
        }
        fresh.push(leaf_hash(b"new"));
        assert_eq!(t.root(21), fresh.root(21));
    }
}
