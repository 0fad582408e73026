//! Fuzzing of every parser that reads outside input: CSV for training and scoring, model
//! files (Puhui, LightGBM, XGBoost), policy files and decision inputs, securitization's deal
//! runs, loan tapes and collection tables, and regulatory rule packs.
//!
//! Each target ([`targets`]) takes arbitrary bytes and must not panic. [`fuzz`] feeds one
//! target cases made by the seeded mutation engine ([`mutate`]) and stops at the first panic
//! with the case that caused it. `cargo test -p fuzzing` runs every target for a few
//! thousand cases; `puhui-fuzz --cases 1000000` is the long run (docs/reliability.md).

pub mod mutate;
pub mod targets;
pub mod targets_more;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// A case that panicked: its number (replayable with the same seed) and bytes.
#[derive(Debug)]
pub struct Failure {
    pub target: &'static str,
    pub case: u64,
    pub input: Vec<u8>,
    pub message: String,
}

/// How a run went: cases run and how many the parser accepted.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub cases: u64,
    pub accepted: u64,
}

/// Runs `cases` mutated cases through `target`, starting with its seeds unchanged.
pub fn fuzz(target: &targets::Target, cases: u64, seed: u64) -> Result<Run, Failure> {
    let seeds = (target.seeds)();
    let mut mutator = mutate::Mutator::new(seed);
    let mut accepted = 0;
    for case in 0..cases {
        let input = match usize::try_from(case) {
            Ok(i) if i < seeds.len() => seeds[i].clone(),
            _ => mutator.next_case(&seeds),
        };
        match catch_unwind(AssertUnwindSafe(|| (target.run)(&input))) {
            Ok(ok) => accepted += u64::from(ok),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                    .unwrap_or_default();
                return Err(Failure {
                    target: target.name,
                    case,
                    input,
                    message,
                });
            }
        }
    }
    Ok(Run { cases, accepted })
}
