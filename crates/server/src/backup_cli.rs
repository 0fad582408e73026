//! `puhui backup create|restore` and `puhui ledger extends`: online backup of either store,
//! restore into a fresh place, and the check that a restored ledger extends a signed tree
//! head taken before the backup (docs/operations.md, "Backup and restore").

use crate::cli::StoreArgs;
use clap::{Args, Subcommand};
use ledger::{MerkleTree, SignedTreeHead, TreeHeadSigner};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The dump file of a PostgreSQL backup directory (`pg_dump --format=custom`).
const PG_DUMP_FILE: &str = "puhui.pgdump";

#[derive(Subcommand)]
pub enum BackupCmd {
    /// Copy the store into DIR while the server keeps serving: SQLite through its backup
    /// API (one consistent snapshot), PostgreSQL through `pg_dump` (one repeatable-read
    /// snapshot).
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// An empty or new directory.
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup directory into a new data directory (`--data-dir`) or an empty
    /// PostgreSQL database (`--database-url`); refuses to overwrite a store.
    Restore {
        #[command(flatten)]
        store: StoreArgs,
        /// The directory `backup create` wrote.
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct ExtendsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// A signed tree head as `GET /v1/ledger/tree-head` returns it (JSON file).
    #[arg(long)]
    pub head: PathBuf,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cmd: BackupCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        BackupCmd::Create { store, out, json } => create(&store, &out, json).await,
        BackupCmd::Restore { store, from, json } => restore(&store, &from, json).await,
    }
}

async fn create(store: &StoreArgs, out: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (file, bytes) = match pg_url(store) {
        Some(url) => pg_dump(url, out)?,
        None => {
            let (data_dir, out) = (store.data_dir.clone(), out.to_path_buf());
            let r =
                tokio::task::spawn_blocking(move || store::backup::backup_sqlite(&data_dir, &out))
                    .await??;
            (r.path, r.bytes)
        }
    };
    print_copy("backup", &file, bytes, started, json);
    Ok(ExitCode::SUCCESS)
}

async fn restore(store: &StoreArgs, from: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (file, bytes) = match pg_url(store) {
        Some(url) => {
            let _lock = store::WriterLock::postgres(url).await?;
            pg_restore(url, from).await?
        }
        None => {
            let _lock = store::WriterLock::sqlite(&store.data_dir)?;
            let (from, data_dir) = (from.to_path_buf(), store.data_dir.clone());
            let r = tokio::task::spawn_blocking(move || {
                store::backup::restore_sqlite(&from, &data_dir)
            })
            .await??;
            (r.path, r.bytes)
        }
    };
    print_copy("restore", &file, bytes, started, json);
    Ok(ExitCode::SUCCESS)
}

fn print_copy(what: &str, file: &Path, bytes: u64, started: Instant, json: bool) {
    let secs = started.elapsed().as_secs_f64();
    if json {
        let v = serde_json::json!({"path": file, "bytes": bytes, "seconds": secs});
        println!("{v}");
    } else {
        println!("{what}: {} ({bytes} bytes) in {secs:.2} s", file.display());
    }
}

fn pg_url(store: &StoreArgs) -> Option<&str> {
    store.database_url.as_deref().filter(|u| !u.is_empty())
}

fn pg_dump(url: &str, out: &Path) -> anyhow::Result<(PathBuf, u64)> {
    let file = out.join(PG_DUMP_FILE);
    anyhow::ensure!(!file.exists(), "{} already exists", file.display());
    std::fs::create_dir_all(out)?;
    let partial = out.join(format!("{PG_DUMP_FILE}.partial"));
    let status = std::process::Command::new("pg_dump")
        .args(["--format=custom", "--no-owner", "--file"])
        .arg(&partial)
        .arg(url)
        .status()
        .map_err(|e| anyhow::anyhow!("run pg_dump (is the PostgreSQL client installed?): {e}"))?;
    anyhow::ensure!(status.success(), "pg_dump failed: {status}");
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, &file)?;
    let bytes = std::fs::metadata(&file)?.len();
    Ok((file, bytes))
}

/// Restores into a database that has no tables yet: a restore never mixes with live data.
async fn pg_restore(url: &str, from: &Path) -> anyhow::Result<(PathBuf, u64)> {
    let file = from.join(PG_DUMP_FILE);
    anyhow::ensure!(file.exists(), "no backup at {}", file.display());
    anyhow::ensure!(
        store::backup::postgres_table_count(url).await? == 0,
        "the database already has tables; restore into an empty database"
    );
    let status = std::process::Command::new("pg_restore")
        .args([
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
        ])
        .arg(url)
        .arg(&file)
        .status()
        .map_err(|e| {
            anyhow::anyhow!("run pg_restore (is the PostgreSQL client installed?): {e}")
        })?;
    anyhow::ensure!(status.success(), "pg_restore failed: {status}");
    let bytes = std::fs::metadata(&file)?.len();
    Ok((file, bytes))
}

/// What `ledger extends` found.
struct Extension {
    old: SignedTreeHead,
    new_size: u64,
    new_root: ledger::Hash,
    proof_len: usize,
}

/// Does this store's ledger extend `head`? The head's signature must verify, its key must
/// be this store's signing key, and the RFC 6962 consistency proof from the head's tree to
/// the store's whole tree must verify against both roots.
pub async fn extends(a: ExtendsArgs) -> anyhow::Result<ExitCode> {
    let old = read_head(&a.head)?;
    let (store, _lock) = a.store.open_writer().await?;
    store.migrate().await?;
    let secret = store
        .meta(engine::SIGNING_KEY_META)
        .await?
        .ok_or_else(|| anyhow::anyhow!("this store has no signing key: it has never served"))?;
    let secret: [u8; 32] = secret
        .try_into()
        .map_err(|_| anyhow::anyhow!("stored signing key is not 32 bytes"))?;
    let result = check_extension(old, &store, secret).await;
    report_extension(&result, a.json);
    Ok(if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn check_extension(
    old: SignedTreeHead,
    store: &store::Store,
    secret: [u8; 32],
) -> Result<Extension, String> {
    if !old.verify() {
        return Err("the head's signature does not verify".into());
    }
    if TreeHeadSigner::from_secret(secret).public_key() != old.public_key {
        return Err("the head was signed by another key than this store's".into());
    }
    let state = store.load_book_state().await.map_err(|e| e.to_string())?;
    let mut tree = MerkleTree::new();
    for h in &state.leaf_hashes {
        tree.push(*h);
    }
    let new_size = tree.len();
    if old.tree_size == 0 || old.tree_size > new_size {
        return Err(format!(
            "the head has {} entries, this ledger {new_size}",
            old.tree_size
        ));
    }
    let new_root = tree.root(new_size).ok_or("empty tree")?;
    let proof = tree
        .consistency_proof(old.tree_size, new_size)
        .ok_or("no consistency proof")?;
    if !ledger::merkle::verify_consistency(
        old.tree_size,
        new_size,
        &old.root_hash,
        &new_root,
        &proof,
    ) {
        return Err("the consistency proof does not verify: the ledger was rewritten".into());
    }
    Ok(Extension {
        old,
        new_size,
        new_root,
        proof_len: proof.len(),
    })
}

fn report_extension(r: &Result<Extension, String>, json: bool) {
    match (r, json) {
        (Ok(e), true) => println!(
            "{}",
            serde_json::json!({"extends": true, "head_size": e.old.tree_size,
                "tree_size": e.new_size, "root_hash": hex::encode(e.new_root),
                "proof_hashes": e.proof_len})
        ),
        (Ok(e), false) => println!(
            "extends the signed head: {} → {} entries, root {}, proof of {} hashes verified",
            e.old.tree_size,
            e.new_size,
            hex::encode(e.new_root),
            e.proof_len
        ),
        (Err(why), true) => println!("{}", serde_json::json!({"extends": false, "reason": why})),
        (Err(why), false) => println!("DOES NOT EXTEND: {why}"),
    }
}

fn read_head(path: &Path) -> anyhow::Result<SignedTreeHead> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()))?;
    let w: api::TreeHeadResponse = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a signed tree head: {e}", path.display()))?;
    Ok(SignedTreeHead {
        tree_size: w.tree_size,
        timestamp_ms: w.timestamp_ms,
        root_hash: hex_array(&w.root_hash, "root_hash")?,
        signature: hex_array(&w.signature, "signature")?,
        public_key: hex_array(&w.public_key, "public_key")?,
    })
}

fn hex_array<const N: usize>(s: &str, field: &str) -> anyhow::Result<[u8; N]> {
    hex::decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("{field}: expected {N} bytes of hex"))
}
