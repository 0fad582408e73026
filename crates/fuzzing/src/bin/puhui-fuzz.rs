//! `puhui-fuzz [--cases N] [--seed S] [TARGET…]`: runs the parser fuzz targets (all by
//! default) for N cases each and writes any input that panics to `target/fuzz-failures/`.

use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut cases = 1_000_000u64;
    let mut seed = 1u64;
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cases" => cases = args.next().and_then(|v| v.parse().ok()).unwrap_or(cases),
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).unwrap_or(seed),
            "--list" => {
                fuzzing::targets::all()
                    .iter()
                    .for_each(|t| println!("{}", t.name));
                return ExitCode::SUCCESS;
            }
            _ => names.push(a),
        }
    }
    // Panics are the findings: report them once, not through the default hook per case.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = false;
    for t in fuzzing::targets::all() {
        if !names.is_empty() && !names.iter().any(|n| n == t.name) {
            continue;
        }
        let started = Instant::now();
        match fuzzing::fuzz(&t, cases, seed) {
            Ok(r) => {
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "{:16} {} cases, no panic, {} accepted, {secs:.1} s ({:.0}/s)",
                    t.name,
                    r.cases,
                    r.accepted,
                    r.cases as f64 / secs
                );
            }
            Err(f) => {
                failed = true;
                let dir = std::path::Path::new("target/fuzz-failures");
                let _ = std::fs::create_dir_all(dir);
                let file = dir.join(format!("{}-seed{seed}-case{}", f.target, f.case));
                let _ = std::fs::write(&file, &f.input);
                println!(
                    "{:16} PANIC at case {}: {} (input in {})",
                    t.name,
                    f.case,
                    f.message,
                    file.display()
                );
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
