//! A seeded mutation engine: each case is a seed changed by one to four edits chosen from
//! the ones that break parsers in practice (a flipped bit, a structural byte, a dropped or
//! repeated range, an extreme number, a splice of two seeds). The same seed number gives the
//! same cases, so a failure is replayed by its case number.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Bytes that change the structure of CSV and JSON.
const STRUCTURAL: &[u8] = b"\"',\n\r{}[]:-.e0\\\x00\xff";

/// Tokens that reach rarely taken paths: extremes, non-numbers, empty containers, a BOM.
const TOKENS: &[&str] = &[
    "NaN",
    "inf",
    "-inf",
    "1e309",
    "-1e309",
    "1e-400",
    "-0",
    "0",
    "-1",
    "4294967296",
    "18446744073709551616",
    "-9223372036854775808",
    "9223372036854775807",
    "0.5",
    "\"\"",
    "null",
    "true",
    "[]",
    "{}",
    "\u{feff}",
    "\r\n",
    ",,,,",
    "\"a\"\"b\"",
    "日期",
    "2026-02-30",
    "9999-12-31",
];

pub struct Mutator {
    rng: StdRng,
}

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The next case: a copy of one of `seeds`, edited.
    pub fn next_case(&mut self, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut data = seeds[self.rng.gen_range(0..seeds.len())].clone();
        for _ in 0..self.rng.gen_range(1..=4) {
            self.edit(&mut data, seeds);
        }
        data
    }

    fn edit(&mut self, data: &mut Vec<u8>, seeds: &[Vec<u8>]) {
        let len = data.len();
        let at = if len == 0 {
            0
        } else {
            self.rng.gen_range(0..len)
        };
        match self.rng.gen_range(0..8) {
            0 if len > 0 => data[at] ^= 1 << self.rng.gen_range(0..8),
            1 if len > 0 => data[at] = STRUCTURAL[self.rng.gen_range(0..STRUCTURAL.len())],
            2 if len > 0 => {
                let n = self.rng.gen_range(1..=(len - at).min(64));
                data.drain(at..at + n);
            }
            3 if len > 0 => {
                let n = self.rng.gen_range(1..=(len - at).min(256));
                let chunk = data[at..at + n].to_vec();
                let to = self.rng.gen_range(0..=data.len());
                data.splice(to..to, chunk);
            }
            4 => {
                let t = TOKENS[self.rng.gen_range(0..TOKENS.len())].as_bytes();
                data.splice(at..at, t.iter().copied());
            }
            5 => self.replace_number(data),
            6 => {
                let other = &seeds[self.rng.gen_range(0..seeds.len())];
                let cut = if other.is_empty() {
                    0
                } else {
                    self.rng.gen_range(0..other.len())
                };
                data.truncate(at);
                data.extend_from_slice(&other[cut..]);
            }
            _ => data.truncate(at),
        }
    }

    /// Replaces one run of digits with an extreme token.
    fn replace_number(&mut self, data: &mut Vec<u8>) {
        let digits: Vec<usize> = (0..data.len())
            .filter(|&i| data[i].is_ascii_digit())
            .collect();
        if digits.is_empty() {
            return;
        }
        let start = digits[self.rng.gen_range(0..digits.len())];
        let end = (start..data.len())
            .find(|&i| !data[i].is_ascii_digit())
            .unwrap_or(data.len());
        let t = TOKENS[self.rng.gen_range(0..14)].as_bytes();
        data.splice(start..end, t.iter().copied());
    }
}
