//! `puhui keys rotate-master`, `puhui compliance report | packs`, and what `puhui serve`
//! sets up for customers: the master key and the rule packs.

use crate::app::AppState;
use crate::cli::StoreArgs;
use crate::customers::{generate_next_key, load_keyring};
use clap::Subcommand;
use compliance::PackSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum KeysCmd {
    /// Re-wrap every tenant's data and index keys under the active (last) master key; the
    /// retired keys must still be listed to unwrap them. Sealed fields and blind indexes
    /// do not change, so it runs while nothing else writes and finishes in seconds.
    RotateMaster {
        #[command(flatten)]
        store: StoreArgs,
        /// First append a freshly generated key to the key file (PUHUI_MASTER_KEY_FILE or
        /// the data directory's master.key); it becomes the active key.
        #[arg(long)]
        generate: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum ComplianceCmd {
    /// Check the whole book against the rules of scope `book` in force and list the
    /// breaches by rule. Exit status 1 when there is any.
    Report {
        #[command(flatten)]
        store: StoreArgs,
        /// Rule pack files (*.json); the built-in China and Regulation Z packs otherwise.
        #[arg(long, env = "PUHUI_RULE_PACKS")]
        rule_packs: Option<PathBuf>,
        /// The business date whose rules apply (default: the open business date).
        #[arg(long)]
        on: Option<String>,
        /// Only this tenant's book.
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Validate a directory of pack files, or write the built-in packs there as files.
    Packs {
        dir: PathBuf,
        /// Write the built-in packs into `dir` (one file per pack version).
        #[arg(long)]
        write_builtin: bool,
    },
}

/// The rule packs of `dir`, or the built-in ones.
pub fn load_packs(dir: Option<&Path>) -> anyhow::Result<PackSet> {
    match dir {
        Some(d) => crate::rule_packs::load_dir(d).map_err(|e| anyhow::anyhow!("rule packs: {e}")),
        None => Ok(compliance::builtin_packs()),
    }
}

/// Installs the master key and the rule packs into a server's state, before it listens.
pub fn configure(state: &AppState, store: &StoreArgs, packs: Option<&Path>) -> anyhow::Result<()> {
    let set = load_packs(packs)?;
    tracing::info!(
        packs = set.packs().len(),
        source = packs.map_or_else(|| "built-in".to_string(), |p| p.display().to_string()),
        "rule packs loaded"
    );
    state.customers.set_packs(set);
    state.customers.install_vault(load_keyring(store)?)
}

pub async fn keys(cmd: KeysCmd) -> anyhow::Result<ExitCode> {
    let KeysCmd::RotateMaster {
        store,
        generate,
        json,
    } = cmd;
    let (s, _lock) = store.open_writer().await?;
    if generate {
        let id = generate_next_key(&store)?;
        eprintln!("appended master key {id} to the key file");
    }
    let keyring = load_keyring(&store)?;
    let engine = engine::Engine::start(s, engine::EngineConfig::default()).await?;
    let r = engine::customers::rotate_master(&engine, &keyring).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "active_master_key": keyring.active_id().0,
                "keys_seen": r.keys_seen,
                "keys_rewrapped": r.keys_rewrapped,
            })
        );
    } else {
        println!(
            "{} of {} wrapped keys re-wrapped under master key {}",
            r.keys_rewrapped,
            r.keys_seen,
            keyring.active_id().0
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn compliance(cmd: ComplianceCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ComplianceCmd::Packs { dir, write_builtin } => {
            if write_builtin {
                std::fs::create_dir_all(&dir)?;
                for p in compliance::builtin_packs().packs() {
                    let path = dir.join(format!("{}.v{}.json", p.id, p.version));
                    let text = serde_json::to_string_pretty(&crate::rule_packs::pack_json(p))?;
                    std::fs::write(&path, text + "\n")?;
                    println!("{}", path.display());
                }
            } else {
                let set = load_packs(Some(&dir))?;
                for p in set.packs() {
                    println!(
                        "{} version {} ({}, from {}): {} rules",
                        p.id,
                        p.version,
                        p.jurisdiction,
                        p.effective_from,
                        p.rules.len()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ComplianceCmd::Report {
            store,
            rule_packs,
            on,
            tenant,
            json,
        } => {
            let packs = load_packs(rule_packs.as_deref())?;
            let (s, _lock) = store.open_writer().await?;
            let engine = engine::Engine::start(s, engine::EngineConfig::default()).await?;
            let on = match on {
                Some(d) => d
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--on: must be a date YYYY-MM-DD"))?,
                None => engine::revolving::business_day(&engine)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            };
            let r = crate::routes::compliance::book_report(&engine, &packs, tenant, on).await?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "{} customers and {} co-lent loans checked on {}: {} breaches",
                    r.customers_checked, r.loans_checked, r.on, r.breach_count
                );
                for rule in &r.rules {
                    println!("{}  {}  {}", rule.rule_id, rule.count, rule.message);
                    for f in rule.findings.iter().take(20) {
                        println!(
                            "    {}  observed {}  limit {}",
                            f.subject, f.observed, f.limit
                        );
                    }
                }
            }
            Ok(if r.breach_count == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
