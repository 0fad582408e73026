//! Identity numbers that carry their own check character.
//!
//! - The citizen identity number of GB 11643-1999 (公民身份号码): 6 digits of address code
//!   (the region of GB/T 2260), 8 digits of birth date `YYYYMMDD`, 3 digits of sequence code
//!   (odd for men, even for women), and a check character by ISO 7064 MOD 11-2.
//! - The unified social credit code of GB 32100-2015 (统一社会信用代码): a registration
//!   authority character, an organisation category character, a 6-digit administrative
//!   division code, the 9-character organisation code (GB 11714), and a check character by
//!   MOD 31 over the 31-character alphabet `0-9 A-H J-N P-R T-U W-Y` (no I, O, S, V, Z, which
//!   are too easily misread).
//!
//! Positions in errors are 1-based, as the standards count them.

use money::BusinessDate;
use std::fmt;

/// ISO 7064 MOD 11-2 weights of GB 11643-1999 § 7: `W_i = 2^(i-1) mod 11` counted from the
/// check character at position 1, so from the left: 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2.
const RESIDENT_ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for `Σ a_i·W_i mod 11` = 0, 1, …, 10: the value `(12 − sum) mod 11`,
/// with 10 written `X` (GB 11643-1999 § 7.2).
const RESIDENT_ID_CHECK: [u8; 11] = *b"10X98765432";

/// The province-level codes of GB/T 2260 that open an address code: the provinces,
/// autonomous regions and municipalities, plus 71 (Taiwan), 81 (Hong Kong), 82 (Macao) and
/// 83, which residence permits for residents of Hong Kong, Macao and Taiwan use in the same
/// 18-character format. The 2023 permanent residence card for foreigners opens with 9 and is
/// not a resident identity number, so it is refused here.
const PROVINCE_CODES: [u8; 35] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
];

/// A PRC resident identity number whose check digit, region and birth date were verified.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResidentId {
    /// 18 ASCII characters, the last one a digit or an upper-case `X`.
    text: String,
    birth_date: BusinessDate,
}

/// Why a resident identity number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResidentIdError {
    #[error("an identity number has 18 characters, not {length}")]
    Length { length: usize },
    #[error("character {position} is {found:?}; positions 1–17 are digits and 18 a digit or X")]
    Character { position: usize, found: char },
    #[error("region code {code} does not open with a province code of GB/T 2260")]
    Region { code: String },
    #[error("birth date {text} (characters 7–14) is not a calendar date")]
    BirthDate { text: String },
    #[error("birth date {birth_date} is after the business date {on}")]
    BirthInFuture {
        birth_date: BusinessDate,
        on: BusinessDate,
    },
    #[error("check character is {found}, but the first 17 characters give {expected}")]
    CheckCharacter { expected: char, found: char },
}

/// The sex the sequence code records (GB 11643-1999 § 6.3: odd for men, even for women).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

/// The GB 11643 check character of 17 leading digits, or `None` when `first_17` is not 17
/// ASCII digits. Seeds and tests use it to make valid numbers.
pub fn resident_id_check_char(first_17: &str) -> Option<char> {
    let bytes = first_17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(resident_id_check_of(bytes))
}

fn resident_id_check_of(first_17: &[u8]) -> char {
    let sum: u32 = first_17
        .iter()
        .zip(RESIDENT_ID_WEIGHTS)
        .map(|(&digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    char::from(RESIDENT_ID_CHECK[(sum % 11) as usize])
}

impl ResidentId {
    /// Parses and verifies `text` as of the business date `on` (a lower-case `x` is accepted
    /// and kept as `X`). Checks, in order: the length, every character, the province of the
    /// region code, the birth date (a calendar date, not after `on`), the check character.
    pub fn parse(text: &str, on: BusinessDate) -> Result<ResidentId, ResidentIdError> {
        let length = text.chars().count();
        if length != 18 {
            return Err(ResidentIdError::Length { length });
        }
        for (index, found) in text.chars().enumerate() {
            let ok = found.is_ascii_digit() || (index == 17 && matches!(found, 'X' | 'x'));
            if !ok {
                return Err(ResidentIdError::Character {
                    position: index + 1,
                    found,
                });
            }
        }
        let text = text.to_ascii_uppercase();
        let bytes = text.as_bytes();
        let province = (bytes[0] - b'0') * 10 + (bytes[1] - b'0');
        if !PROVINCE_CODES.contains(&province) {
            return Err(ResidentIdError::Region {
                code: text[..6].to_string(),
            });
        }
        let number = |range: std::ops::Range<usize>| -> u32 {
            bytes[range]
                .iter()
                .fold(0, |acc, &d| acc * 10 + u32::from(d - b'0'))
        };
        let year = i32::try_from(number(6..10)).expect("four digits fit an i32");
        let birth_date =
            BusinessDate::from_ymd(year, number(10..12), number(12..14)).map_err(|_| {
                ResidentIdError::BirthDate {
                    text: text[6..14].to_string(),
                }
            })?;
        if birth_date > on {
            return Err(ResidentIdError::BirthInFuture { birth_date, on });
        }
        let expected = resident_id_check_of(&bytes[..17]);
        let found = char::from(bytes[17]);
        if found != expected {
            return Err(ResidentIdError::CheckCharacter { expected, found });
        }
        Ok(ResidentId { text, birth_date })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The 6-digit address code (GB/T 2260 region where the number was first issued).
    pub fn region_code(&self) -> &str {
        &self.text[..6]
    }

    pub fn birth_date(&self) -> BusinessDate {
        self.birth_date
    }

    pub fn sex(&self) -> Sex {
        if (self.text.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Whole years of age on `on` (a birthday on 29 February counts on 1 March in common
    /// years); 0 before the first birthday.
    pub fn age_on(&self, on: BusinessDate) -> u32 {
        let birth = self.birth_date;
        let mut years = on.year() - birth.year();
        if (on.month(), on.day()) < (birth.month(), birth.day()) {
            years -= 1;
        }
        u32::try_from(years).unwrap_or(0)
    }

    /// `110***********1234`: what a role that may not see the number is shown.
    pub fn masked(&self) -> String {
        crate::mask::mask_resident_id(&self.text)
    }
}

/// Debug shows the masked number, so that a logged value never holds personal data.
impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

/// The 31 characters of GB 32100-2015 § 4.1 in the order of their values 0–30.
const CREDIT_CODE_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// GB 32100-2015 § 5: `W_i = 3^(i-1) mod 31` for positions 1–17.
const CREDIT_CODE_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn credit_code_value(c: u8) -> Option<u32> {
    CREDIT_CODE_ALPHABET
        .iter()
        .position(|&a| a == c)
        .map(|v| v as u32)
}

/// The GB 32100 check character of 17 leading characters, or `None` when `first_17` is not
/// 17 characters of the code's alphabet.
pub fn credit_code_check_char(first_17: &str) -> Option<char> {
    let bytes = first_17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let values: Option<Vec<u32>> = bytes.iter().map(|&c| credit_code_value(c)).collect();
    Some(credit_code_check_of(&values?))
}

/// `C_18 = 31 − (Σ C_i·W_i mod 31)`, and 0 when that is 31 (GB 32100-2015 § 5).
fn credit_code_check_of(values: &[u32]) -> char {
    let sum: u32 = values
        .iter()
        .zip(CREDIT_CODE_WEIGHTS)
        .map(|(v, w)| v * w)
        .sum();
    let check = (31 - sum % 31) % 31;
    char::from(CREDIT_CODE_ALPHABET[check as usize])
}

/// A unified social credit code whose alphabet, region digits and check character were
/// verified.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditCode(String);

/// Why a unified social credit code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("a unified social credit code has 18 characters, not {length}")]
    Length { length: usize },
    #[error(
        "character {position} is {found:?}, not one of 0-9 A-H J-N P-R T-U W-Y (no I, O, S, V, Z)"
    )]
    Character { position: usize, found: char },
    #[error("characters 3–8 are the administrative division code and must be digits, not {code}")]
    Region { code: String },
    #[error("check character is {found}, but the first 17 characters give {expected}")]
    CheckCharacter { expected: char, found: char },
}

impl CreditCode {
    /// Parses and verifies `text` (lower-case letters are accepted and kept upper-case).
    ///
    /// Not checked: which registration authorities and categories exist (the list grows by
    /// notice), and the GB 11714 check character inside the organisation code, which codes
    /// issued to some registrants do not carry.
    pub fn parse(text: &str) -> Result<CreditCode, CreditCodeError> {
        let length = text.chars().count();
        if length != 18 {
            return Err(CreditCodeError::Length { length });
        }
        let text = text.to_ascii_uppercase();
        let mut values = Vec::with_capacity(18);
        for (index, found) in text.chars().enumerate() {
            let value = u8::try_from(found).ok().and_then(credit_code_value);
            match value {
                Some(value) => values.push(value),
                None => {
                    return Err(CreditCodeError::Character {
                        position: index + 1,
                        found,
                    })
                }
            }
        }
        let region = &text[2..8];
        if !region.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CreditCodeError::Region {
                code: region.to_string(),
            });
        }
        let expected = credit_code_check_of(&values[..17]);
        let found = char::from(text.as_bytes()[17]);
        if found != expected {
            return Err(CreditCodeError::CheckCharacter { expected, found });
        }
        Ok(CreditCode(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Character 1: the registration authority (e.g. `9` for market regulation).
    pub fn registration_authority(&self) -> char {
        char::from(self.0.as_bytes()[0])
    }

    /// Character 2: the organisation category within the authority.
    pub fn organisation_category(&self) -> char {
        char::from(self.0.as_bytes()[1])
    }

    /// Characters 3–8: the administrative division code of GB/T 2260.
    pub fn region_code(&self) -> &str {
        &self.0[2..8]
    }

    /// Characters 9–17: the organisation code of GB 11714.
    pub fn organisation_code(&self) -> &str {
        &self.0[8..17]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> BusinessDate {
        s.parse().unwrap()
    }

    fn on() -> BusinessDate {
        date("2026-12-06")
    }

    /// The two examples printed in GB 11643-1999 § 8 itself.
    #[test]
    fn the_standards_own_examples_are_valid() {
        let id = ResidentId::parse("11010519491231002X", on()).unwrap();
        assert_eq!(id.region_code(), "110105");
        assert_eq!(id.birth_date(), date("1949-12-31"));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.as_str(), "11010519491231002X");
        let id = ResidentId::parse("440524188001010014", on()).unwrap();
        assert_eq!(id.birth_date(), date("1880-01-01"));
        assert_eq!(id.sex(), Sex::Male);
        // A lower-case x is what people type; it is kept as X.
        let id = ResidentId::parse("11010519491231002x", on()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn each_kind_of_fault_is_named() {
        let cases = [
            ("1101051949123100", ResidentIdError::Length { length: 16 }),
            (
                "11010519491231002X1",
                ResidentIdError::Length { length: 19 },
            ),
            (
                "110105194912310X2X",
                ResidentIdError::Character {
                    position: 16,
                    found: 'X',
                },
            ),
            (
                "11010519491231002Y",
                ResidentIdError::Character {
                    position: 18,
                    found: 'Y',
                },
            ),
            (
                "1101051949123100２X",
                ResidentIdError::Character {
                    position: 17,
                    found: '２',
                },
            ),
            (
                "99010519491231002X",
                ResidentIdError::Region {
                    code: "990105".into(),
                },
            ),
            (
                "110105194902300021",
                ResidentIdError::BirthDate {
                    text: "19490230".into(),
                },
            ),
            (
                "11010519491231002 ",
                ResidentIdError::Character {
                    position: 18,
                    found: ' ',
                },
            ),
            (
                "110105194912310021",
                ResidentIdError::CheckCharacter {
                    expected: 'X',
                    found: '1',
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(ResidentId::parse(text, on()), Err(expected), "{text}");
        }
    }

    #[test]
    fn a_birth_date_after_the_business_date_is_refused_and_on_it_accepted() {
        let first_17 = "11010520261206001";
        let text = format!("{first_17}{}", resident_id_check_char(first_17).unwrap());
        assert!(ResidentId::parse(&text, date("2026-12-06")).is_ok());
        assert_eq!(
            ResidentId::parse(&text, date("2026-12-05")),
            Err(ResidentIdError::BirthInFuture {
                birth_date: date("2026-12-06"),
                on: date("2026-12-05"),
            })
        );
    }

    #[test]
    fn any_single_digit_change_breaks_the_check() {
        let valid = "440524188001010014";
        for position in 0..18 {
            for digit in b'0'..=b'9' {
                let mut bytes = valid.as_bytes().to_vec();
                if bytes[position] == digit {
                    continue;
                }
                bytes[position] = digit;
                let text = String::from_utf8(bytes).unwrap();
                assert!(ResidentId::parse(&text, on()).is_err(), "{text}");
            }
        }
    }

    #[test]
    fn age_counts_whole_years_and_leap_birthdays() {
        let first_17 = "11010520000229001";
        let text = format!("{first_17}{}", resident_id_check_char(first_17).unwrap());
        let id = ResidentId::parse(&text, on()).unwrap();
        assert_eq!(id.age_on(date("2018-02-28")), 17);
        assert_eq!(id.age_on(date("2018-03-01")), 18);
        assert_eq!(id.age_on(date("2020-02-29")), 20);
        assert_eq!(id.age_on(date("2000-02-29")), 0);
    }

    #[test]
    fn debug_never_shows_the_whole_number() {
        let id = ResidentId::parse("11010519491231002X", on()).unwrap();
        assert_eq!(format!("{id:?}"), "ResidentId(110***********002X)");
    }

    #[test]
    fn check_char_helper_refuses_what_is_not_17_digits() {
        assert_eq!(resident_id_check_char("1101051949123100"), None);
        assert_eq!(resident_id_check_char("1101051949123100A"), None);
        assert_eq!(resident_id_check_char("11010519491231002"), Some('X'));
    }

    /// The example printed in GB 32100-2015 (a code issued in Fuzhou, 350100).
    #[test]
    fn the_standards_credit_code_example_is_valid() {
        let code = CreditCode::parse("91350100M000100Y43").unwrap();
        assert_eq!(code.registration_authority(), '9');
        assert_eq!(code.organisation_category(), '1');
        assert_eq!(code.region_code(), "350100");
        assert_eq!(code.organisation_code(), "M000100Y4");
        assert_eq!(
            CreditCode::parse("91350100m000100y43").unwrap().as_str(),
            "91350100M000100Y43"
        );
    }

    #[test]
    fn a_check_value_of_zero_is_written_0() {
        // Search the last organisation-code character for the one that makes the sum a
        // multiple of 31, where `31 − 0` must wrap to 0, not index past the alphabet.
        let found = CREDIT_CODE_ALPHABET.iter().find_map(|&c| {
            let first_17 = format!("91350100M000100Y{}", char::from(c));
            (credit_code_check_char(&first_17) == Some('0')).then_some(first_17)
        });
        let first_17 = found.expect("one of 31 characters gives each check value");
        assert!(CreditCode::parse(&format!("{first_17}0")).is_ok());
    }

    #[test]
    fn credit_code_faults_are_named() {
        let cases = [
            ("91350100M000100Y4", CreditCodeError::Length { length: 17 }),
            (
                "91350100M000100I43",
                CreditCodeError::Character {
                    position: 16,
                    found: 'I',
                },
            ),
            (
                "91350100O000100Y43",
                CreditCodeError::Character {
                    position: 9,
                    found: 'O',
                },
            ),
            (
                "9135010ZM000100Y43",
                CreditCodeError::Character {
                    position: 8,
                    found: 'Z',
                },
            ),
            (
                "913501A0M000100Y43",
                CreditCodeError::Region {
                    code: "3501A0".into(),
                },
            ),
            (
                "91350100M000100Y44",
                CreditCodeError::CheckCharacter {
                    expected: '3',
                    found: '4',
                },
            ),
            (
                "91350100M000100Y4中",
                CreditCodeError::Character {
                    position: 18,
                    found: '中',
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(CreditCode::parse(text), Err(expected), "{text}");
        }
    }

    #[test]
    fn any_single_character_change_breaks_the_credit_code_check() {
        let valid = "91350100M000100Y43";
        for position in 0..18 {
            for &c in CREDIT_CODE_ALPHABET {
                let mut bytes = valid.as_bytes().to_vec();
                if bytes[position] == c {
                    continue;
                }
                bytes[position] = c;
                let text = String::from_utf8(bytes).unwrap();
                assert!(CreditCode::parse(&text).is_err(), "{text}");
            }
        }
    }
}
