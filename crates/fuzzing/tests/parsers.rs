//! Every parser target survives a few thousand mutated cases (the long run is
//! `puhui-fuzz --cases 1000000`). The seed changes with `PUHUI_FUZZ_SEED` to explore further.

#[test]
fn no_parser_panics_on_mutated_input() {
    let seed = std::env::var("PUHUI_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_206);
    let cases = std::env::var("PUHUI_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3_000);
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    for t in fuzzing::targets::all() {
        if let Err(f) = fuzzing::fuzz(&t, cases, seed) {
            failures.push(format!(
                "{} case {} (seed {seed}): {}\ninput: {:?}",
                f.target,
                f.case,
                f.message,
                String::from_utf8_lossy(&f.input[..f.input.len().min(2_000)])
            ));
        }
    }
    let _ = std::panic::take_hook();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_seeds_parse_so_mutations_start_from_valid_input() {
    for t in fuzzing::targets::all() {
        assert!(!(t.seeds)().is_empty(), "{} has seeds", t.name);
    }
    // Mutations of valid input reach past the first syntax check; a seed the parser refuses
    // would make the run above test little but the error path.
    for t in fuzzing::targets::all() {
        for (i, s) in (t.seeds)().iter().enumerate() {
            assert!((t.run)(s), "{} refuses its seed {i}", t.name);
        }
    }
}
