//! The one place that calls AES-256-GCM. Field sealing and key wrapping both go through
//! [`Cipher`], so the known-answer tests below check the exact calls they make.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use std::mem::{size_of, ManuallyDrop};

use zeroize::{ZeroizeOnDrop, Zeroizing};

/// 96 bits: the nonce length GCM is specified for (NIST SP 800-38D § 5.2.1.1).
pub(crate) const NONCE_LEN: usize = 12;
pub(crate) const TAG_LEN: usize = 16;
pub(crate) const KEY_LEN: usize = 32;

/// An AES-256-GCM key, expanded once, and wiped on drop.
///
/// The `aes` crate's `zeroize` feature wipes the round keys, but polyval 0.6's x86 backend
/// keeps the GHASH key in a `ManuallyDrop` union that is never dropped, so its own wipe
/// never runs. `Drop` therefore overwrites the whole cipher's storage after dropping it
/// (`wiped_on_drop` below checks every byte).
pub(crate) struct Cipher(ManuallyDrop<Aes256Gcm>);

impl Drop for Cipher {
    fn drop(&mut self) {
        let storage: *mut ManuallyDrop<Aes256Gcm> = &mut self.0;
        // SAFETY: the cipher is dropped here exactly once and never used again (this is
        // `Cipher`'s drop). Its storage stays owned by `self` until this function returns,
        // so writing bytes over it through a raw pointer (no reference to possibly
        // uninitialized padding is made) is sound; volatile writes keep the compiler from
        // removing stores to memory about to be freed.
        unsafe {
            ManuallyDrop::drop(&mut *storage);
            let bytes = storage.cast::<u8>();
            for i in 0..size_of::<ManuallyDrop<Aes256Gcm>>() {
                std::ptr::write_volatile(bytes.add(i), 0);
            }
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

impl ZeroizeOnDrop for Cipher {}

/// GCM refused to process the input: too long, or (on opening) not authentic.
#[derive(Debug)]
pub(crate) struct AeadFailure;

impl Cipher {
    pub(crate) fn new(key: &[u8; KEY_LEN]) -> Self {
        Cipher(ManuallyDrop::new(Aes256Gcm::new(key.into())))
    }

    /// Appends `ciphertext ‖ tag` of `plaintext` to `out`.
    pub(crate) fn encrypt_into(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), AeadFailure> {
        let start = out.len();
        out.extend_from_slice(plaintext);
        match self
            .0
            .encrypt_in_place_detached(Nonce::from_slice(nonce), aad, &mut out[start..])
        {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                Ok(())
            }
            Err(_) => {
                // Never leave plaintext behind in the caller's buffer.
                zeroize::Zeroize::zeroize(&mut out[start..]);
                out.truncate(start);
                Err(AeadFailure)
            }
        }
    }

    /// Opens `ciphertext ‖ tag`; the plaintext is wiped when the returned buffer is dropped.
    pub(crate) fn decrypt(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AeadFailure> {
        if ciphertext_and_tag.len() < TAG_LEN {
            return Err(AeadFailure);
        }
        let (ciphertext, tag) = ciphertext_and_tag.split_at(ciphertext_and_tag.len() - TAG_LEN);
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        self.0
            .decrypt_in_place_detached(
                Nonce::from_slice(nonce),
                aad,
                &mut buffer,
                Tag::from_slice(tag),
            )
            .map_err(|_| AeadFailure)?;
        Ok(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    struct Vector {
        key: &'static str,
        iv: &'static str,
        aad: &'static str,
        plaintext: &'static str,
        ciphertext: &'static str,
        tag: &'static str,
    }

    /// AES-256 vectors of McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)",
    /// revised 2005, Appendix B (the vectors NIST's GCM page links to): test cases 13–16;
    /// and one from NIST CAVP's `gcmEncryptExtIV256.rsp` (Keylen 256, IVlen 96, PTlen 128,
    /// AADlen 160, Taglen 128).
    const VECTORS: &[Vector] = &[
        // Test case 13: empty plaintext, no AAD.
        Vector {
            key: "0000000000000000000000000000000000000000000000000000000000000000",
            iv: "000000000000000000000000",
            aad: "",
            plaintext: "",
            ciphertext: "",
            tag: "530f8afbc74536b9a963b4f1c4cb738b",
        },
        // Test case 14: one zero block.
        Vector {
            key: "0000000000000000000000000000000000000000000000000000000000000000",
            iv: "000000000000000000000000",
            aad: "",
            plaintext: "00000000000000000000000000000000",
            ciphertext: "cea7403d4d606b6e074ec5d3baf39d18",
            tag: "d0d1c8a799996bf0265b98b5d48ab919",
        },
        // Test case 16: 60-byte plaintext with 20 bytes of AAD.
        Vector {
            key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            iv: "cafebabefacedbaddecaf888",
            aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
            plaintext: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                        1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
            ciphertext: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                         8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            tag: "76fc6ece0f4e1768cddf8853bb2d551b",
        },
        // NIST CAVP gcmEncryptExtIV256.rsp, [Keylen = 256] [IVlen = 96] [PTlen = 128]
        // [AADlen = 160] [Taglen = 128], Count = 0.
        Vector {
            key: "83688deb4af8007f9b713b47cfa6c73e35ea7a3aa4ecdb414dded03bf7a0fd3a",
            iv: "0b459724904e010a46901cf3",
            aad: "794a14ccd178c8ebfd1379dc704c5e208f9d8424",
            plaintext: "33d893a2114ce06fc15d55e454cf90c3",
            ciphertext: "cc66bee423e3fcd4c0865715e9586696",
            tag: "0fb291bd3dba94a1dfd8b286cfb97ac5",
        },
    ];

    #[test]
    fn known_answers_encrypt_and_decrypt() {
        for (i, v) in VECTORS.iter().enumerate() {
            let key: [u8; KEY_LEN] = unhex(v.key).try_into().unwrap();
            let iv: [u8; NONCE_LEN] = unhex(v.iv).try_into().unwrap();
            let cipher = Cipher::new(&key);
            let mut out = Vec::new();
            cipher
                .encrypt_into(&iv, &unhex(v.aad), &unhex(v.plaintext), &mut out)
                .unwrap();
            let mut expected = unhex(v.ciphertext);
            expected.extend(unhex(v.tag));
            assert_eq!(out, expected, "vector {i}");
            let opened = cipher.decrypt(&iv, &unhex(v.aad), &expected).unwrap();
            assert_eq!(*opened, unhex(v.plaintext), "vector {i}");
        }
    }

    #[test]
    fn known_answer_with_any_bit_flipped_is_refused() {
        let v = &VECTORS[2];
        let key: [u8; KEY_LEN] = unhex(v.key).try_into().unwrap();
        let iv: [u8; NONCE_LEN] = unhex(v.iv).try_into().unwrap();
        let cipher = Cipher::new(&key);
        let mut sealed = unhex(v.ciphertext);
        sealed.extend(unhex(v.tag));
        for byte in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[byte] ^= 0x01;
            assert!(
                cipher.decrypt(&iv, &unhex(v.aad), &bad).is_err(),
                "byte {byte}"
            );
        }
        let mut aad = unhex(v.aad);
        aad[0] ^= 0x80;
        assert!(cipher.decrypt(&iv, &aad, &sealed).is_err());
        assert!(cipher
            .decrypt(&iv, &unhex(v.aad), &sealed[..TAG_LEN - 1])
            .is_err());
    }

    #[test]
    fn wiped_on_drop() {
        let mut cipher = ManuallyDrop::new(Cipher::new(&[0x42; KEY_LEN]));
        let at = (&*cipher as *const Cipher).cast::<u8>();
        let len = size_of::<Cipher>();
        // SAFETY: reads bytes of storage this test owns (the `ManuallyDrop`), before and after
        // dropping its content in place; `Drop` has written every byte, so all are initialized.
        unsafe {
            let before = std::slice::from_raw_parts(at, len).to_vec();
            assert!(before.iter().any(|b| *b != 0));
            ManuallyDrop::drop(&mut cipher);
            let after = std::slice::from_raw_parts(at, len);
            assert!(after.iter().all(|b| *b == 0));
        }
    }

    #[test]
    fn zeroize_on_drop() {
        // Fails to compile if the feature that wipes the AES round keys is switched off.
        fn wipes<T: ZeroizeOnDrop>() {}
        wipes::<aes::Aes256>();
        wipes::<Zeroizing<[u8; KEY_LEN]>>();
    }
}
