//! Normalization and blind indexes: exact lookup and de-duplication without decrypting.
//!
//! A blind index is `HMAC-SHA256(index key, "puhui/vault/index" ‖ 0x01 ‖ field kind ‖
//! normalized value)`. The index key is a tenant's random key wrapped for purpose `Index`,
//! never a data key, so knowing indexes tells nothing about ciphertexts and the reverse.
//! The kind in the input keeps a phone's index from equalling an ID number's for the same
//! digits. Equal values give equal indexes only after normalization, which is therefore
//! part of the format: changing a rule means recomputing every index of that kind.
//!
//! Rules (`normalize`):
//! - full-width ASCII forms (U+FF01–U+FF5E, as Chinese input methods type them) become
//!   ASCII, and the ideographic space becomes a space, before anything else;
//! - **ResidentId**: whitespace removed, the check character upper-cased (`x` → `X`); 15
//!   or 18 characters, all digits but an 18-character number's last, which may be `X`.
//!   The check digit is `compliance`'s to verify, not the index's;
//! - **Phone**: E.164 `+<country code><number>`. Spaces, `-`, `.`, `(`, `)` and a `(0)`
//!   trunk marker are dropped; `+` or `00` starts an international number, which is kept
//!   as given; anything else is a Chinese number (country code 86): `86` before an
//!   11-digit mobile number is the country code, a leading trunk `0` (landlines,
//!   `010-…`) is dropped. 7 to 15 digits;
//! - **BankCard**: spaces and `-` dropped; 12 to 19 digits (ISO/IEC 7812);
//! - **Name**: lower-cased, runs of whitespace collapsed to one space and trimmed, then
//!   Unicode NFC (so `é` typed as `e` + combining accent equals `é`); control characters
//!   are refused. Names make weak keys: use their index with another field's.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::field::{FieldKind, MAX_PLAINTEXT_LEN};
use crate::keys::IndexKey;

const INDEX_DOMAIN: &[u8] = b"puhui/vault/index";
const INDEX_VERSION: u8 = 1;

/// Why a value could not be normalized. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error("{0:?} is empty")]
    Empty(FieldKind),
    #[error("{kind:?} has a character it may not have")]
    InvalidCharacter { kind: FieldKind },
    #[error("{kind:?} has {found} characters; it must have {expected}")]
    Length {
        kind: FieldKind,
        found: usize,
        expected: &'static str,
    },
}

/// A value in its normal form for its kind: the only input of `blind_index`. `Debug`
/// shows its kind only; the text is wiped on drop.
pub struct Normalized {
    kind: FieldKind,
    text: Zeroizing<String>,
}

impl fmt::Debug for Normalized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Normalized")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Normalized {
    pub fn kind(&self) -> FieldKind {
        self.kind
    }

    /// The normal form, which is what the shell should seal for ID numbers, phones and
    /// cards, so that what is shown and what is indexed agree.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Brings `raw` to the normal form of `kind` (rules in the module documentation).
pub fn normalize(kind: FieldKind, raw: &str) -> Result<Normalized, NormalizeError> {
    if raw.len() > MAX_PLAINTEXT_LEN {
        return Err(NormalizeError::Length {
            kind,
            found: raw.chars().count(),
            expected: "at most 4096 bytes",
        });
    }
    let folded: Zeroizing<String> = Zeroizing::new(raw.chars().map(fold_width).collect());
    let text = match kind {
        FieldKind::ResidentId => resident_id(&folded)?,
        FieldKind::Phone => phone(&folded)?,
        FieldKind::BankCard => bank_card(&folded)?,
        FieldKind::Name => name(&folded)?,
    };
    Ok(Normalized { kind, text })
}

fn resident_id(text: &str) -> Result<Zeroizing<String>, NormalizeError> {
    let kind = FieldKind::ResidentId;
    let mut out = Zeroizing::new(String::with_capacity(18));
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        out.push(c.to_ascii_uppercase());
    }
    let n = out.chars().count();
    if n == 0 {
        return Err(NormalizeError::Empty(kind));
    }
    if n != 15 && n != 18 {
        return Err(NormalizeError::Length {
            kind,
            found: n,
            expected: "15 or 18",
        });
    }
    let ok = out
        .bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_digit() || (n == 18 && i == 17 && b == b'X'));
    if !ok {
        return Err(NormalizeError::InvalidCharacter { kind });
    }
    Ok(out)
}

fn phone(text: &str) -> Result<Zeroizing<String>, NormalizeError> {
    let kind = FieldKind::Phone;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(NormalizeError::Empty(kind));
    }
    let (international, rest) = if let Some(rest) = trimmed.strip_prefix('+') {
        (true, rest)
    } else if let Some(rest) = trimmed.strip_prefix("00") {
        (true, rest)
    } else {
        (false, trimmed)
    };
    let rest = rest.replace("(0)", "");
    let mut digits = Zeroizing::new(String::with_capacity(16));
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            c if c.is_whitespace() => {}
            _ => return Err(NormalizeError::InvalidCharacter { kind }),
        }
    }
    let mut out = Zeroizing::new(String::with_capacity(16));
    out.push('+');
    if international {
        // `+86 (0)10 …` drops its trunk zero by the `(0)` rule; `+86 010 …` too.
        match digits.strip_prefix("860") {
            Some(national) => {
                out.push_str("86");
                out.push_str(national);
            }
            None => out.push_str(&digits),
        }
    } else if digits.len() == 13 && digits.starts_with("861") {
        out.push_str(&digits);
    } else {
        out.push_str("86");
        out.push_str(digits.strip_prefix('0').unwrap_or(&digits));
    }
    let n = out.len() - 1;
    if !(7..=15).contains(&n) {
        return Err(NormalizeError::Length {
            kind,
            found: n,
            expected: "7 to 15 digits with the country code",
        });
    }
    Ok(out)
}

fn bank_card(text: &str) -> Result<Zeroizing<String>, NormalizeError> {
    let kind = FieldKind::BankCard;
    let mut out = Zeroizing::new(String::with_capacity(19));
    for c in text.chars() {
        match c {
            '0'..='9' => out.push(c),
            '-' => {}
            c if c.is_whitespace() => {}
            _ => return Err(NormalizeError::InvalidCharacter { kind }),
        }
    }
    if out.is_empty() {
        return Err(NormalizeError::Empty(kind));
    }
    if !(12..=19).contains(&out.len()) {
        return Err(NormalizeError::Length {
            kind,
            found: out.len(),
            expected: "12 to 19 digits",
        });
    }
    Ok(out)
}

fn name(text: &str) -> Result<Zeroizing<String>, NormalizeError> {
    let kind = FieldKind::Name;
    let mut collapsed = Zeroizing::new(String::with_capacity(text.len()));
    for word in text.split_whitespace() {
        if !collapsed.is_empty() {
            collapsed.push(' ');
        }
        for c in word.chars() {
            if c.is_control() {
                return Err(NormalizeError::InvalidCharacter { kind });
            }
            collapsed.extend(c.to_lowercase());
        }
    }
    if collapsed.is_empty() {
        return Err(NormalizeError::Empty(kind));
    }
    Ok(Zeroizing::new(collapsed.nfc().collect()))
}

/// A blind index: 32 bytes, stored beside the sealed field under a unique or plain index.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlindIndex(pub [u8; 32]);

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlindIndex(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// The blind index of a normalized value under a tenant's index key.
pub fn blind_index(value: &Normalized, key: &IndexKey) -> BlindIndex {
    // HMAC accepts keys of any length; 32 bytes cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.key[..])
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(INDEX_DOMAIN);
    mac.update(&[INDEX_VERSION, value.kind.tag()]);
    mac.update(value.text.as_bytes());
    BlindIndex(mac.finalize().into_bytes().into())
}
