//! Masking of personal data for roles that may not see it.
//!
//! Each mask keeps a fixed number of leading and trailing characters and writes one `*` per
//! hidden character, so the length stays visible (it tells a phone from a landline) and
//! nothing else does. A value too short to keep its ends and still hide at least four
//! characters is masked whole. Characters, not bytes, are counted, so a name in
//! Chinese is masked per character.

/// Fewer hidden characters than this would make a masked value easy to guess.
const HIDDEN_MIN: usize = 4;

fn mask_ends(text: &str, keep_start: usize, keep_end: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let hidden = n.saturating_sub(keep_start + keep_end);
    if hidden < HIDDEN_MIN {
        return "*".repeat(n);
    }
    let mut out = String::with_capacity(text.len());
    out.extend(&chars[..keep_start]);
    out.extend(std::iter::repeat_n('*', hidden));
    out.extend(&chars[n - keep_end..]);
    out
}

/// `110***********1234`: the province and prefecture digits and the last four characters.
pub fn mask_resident_id(text: &str) -> String {
    mask_ends(text, 3, 4)
}

/// `138****5678` for an 11-digit mobile number: the carrier prefix and the last four digits.
/// Numbers of 7 to 10 characters keep their last two only; shorter ones are masked whole.
pub fn mask_phone(text: &str) -> String {
    if text.chars().count() >= 11 {
        mask_ends(text, 3, 4)
    } else {
        mask_ends(text, 0, 2)
    }
}

/// `622202******1234`: the issuer identification number (six digits) and the last four, the
/// most that PCI DSS allows to be displayed. Numbers shorter than 16 characters keep the last
/// four only.
pub fn mask_bank_card(text: &str) -> String {
    if text.chars().count() >= 16 {
        mask_ends(text, 6, 4)
    } else {
        mask_ends(text, 0, 4)
    }
}

/// `张*`, `欧**`, `J***`: the first character only; a one-character name is masked whole.
pub fn mask_name(text: &str) -> String {
    let n = text.chars().count();
    if n < 2 {
        return "*".repeat(n);
    }
    let mut out: String = text.chars().take(1).collect();
    out.extend(std::iter::repeat_n('*', n - 1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_shapes() {
        assert_eq!(mask_resident_id("110105199003071234"), "110***********1234");
        assert_eq!(mask_resident_id("11010519491231002X"), "110***********002X");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("+8613812345678"), "+86*******5678");
        assert_eq!(mask_phone("62345678"), "******78");
        assert_eq!(mask_bank_card("6222021234567890123"), "622202*********0123");
        assert_eq!(mask_bank_card("4111111111111111"), "411111******1111");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("Jane Doe"), "J*******");
    }

    #[test]
    fn short_values_are_masked_whole_and_lengths_kept() {
        assert_eq!(mask_resident_id("1234567"), "*******");
        assert_eq!(mask_resident_id(""), "");
        assert_eq!(mask_phone("1234"), "****");
        assert_eq!(mask_bank_card("1234567"), "*******");
        assert_eq!(mask_name("李"), "*");
        assert_eq!(mask_name(""), "");
        for text in ["1", "12345", "13812345678", "张三丰", "6222021234567890123"] {
            let n = text.chars().count();
            for (mask, hidden_min) in [
                (mask_resident_id as fn(&str) -> String, n.min(HIDDEN_MIN)),
                (mask_phone, n.min(HIDDEN_MIN)),
                (mask_bank_card, n.min(HIDDEN_MIN)),
                (mask_name, n.saturating_sub(1).max(n.min(1))),
            ] {
                let masked = mask(text);
                assert_eq!(masked.chars().count(), n, "{text}");
                let hidden = masked.chars().filter(|&c| c == '*').count();
                assert!(hidden >= hidden_min, "{text} → {masked}");
            }
        }
    }
}
