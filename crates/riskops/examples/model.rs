//! Runs `puhui model …` without the server binary:
//! `cargo run --release -p riskops --example model -- train --data F.csv --target y --kind gbm --out m.json`
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: riskops::ModelCmd,
}

fn main() -> anyhow::Result<()> {
    riskops::run(Cli::parse().cmd)
}
