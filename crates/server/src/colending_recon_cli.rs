//! `puhui colending recon --partner P --date D --out DIR`: a partner's reconciliation
//! files of a business day, each streamed from the store to its file (written under a
//! temporary name and renamed when complete), then `manifest.json`.

use crate::colending_cli::{open, refused};
use clap::Args;
use engine::colending::{self as cl, recon};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use uuid::Uuid;

#[derive(Args)]
pub struct ReconArgs {
    #[command(flatten)]
    pub store: crate::cli::StoreArgs,
    #[arg(long, default_value = "default")]
    pub tenant: String,
    #[arg(long)]
    pub partner: Uuid,
    /// The business day, YYYY-MM-DD.
    #[arg(long)]
    pub date: String,
    /// The directory the files go to (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the manifest as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(a: ReconArgs) -> anyhow::Result<ExitCode> {
    let Ok(date) = a.date.parse::<money::BusinessDate>() else {
        return refused(format!("--date: {:?} is not a date (YYYY-MM-DD)", a.date));
    };
    let (engine, _lock) = open(a.store).await?;
    if let Err(e) = cl::partner(&engine, &a.tenant, a.partner).await {
        return refused(format!("--partner: {e}"));
    }
    std::fs::create_dir_all(&a.out)?;
    let mut files = Vec::with_capacity(recon::FILES.len());
    for spec in &recon::FILES {
        let path = a.out.join(spec.name);
        let tmp = a.out.join(format!(".{}.tmp", spec.name));
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let write = async {
            while let Some(chunk) = rx.recv().await {
                out.write_all(&chunk)?;
            }
            anyhow::Ok(())
        };
        let (summary, written) = tokio::join!(
            recon::stream_file(&engine, &a.tenant, a.partner, date, spec.name, tx),
            write
        );
        written?;
        let summary = summary.map_err(|e| anyhow::anyhow!("{}: {e}", spec.name))?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        files.push(summary);
    }
    let manifest = recon::seal(&engine, &a.tenant, a.partner, date, files)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let wire = api::ReconManifestResponse::from(&manifest);
    let text = serde_json::to_string_pretty(&wire)?;
    std::fs::write(a.out.join("manifest.json"), &text)?;
    match a.json {
        true => println!("{text}"),
        false => {
            for f in &wire.files {
                println!("{:<22} {:>9} rows  {}", f.name, f.rows, f.sha256);
            }
            println!(
                "tree head: size {} root {}",
                wire.tree_head.tree_size, wire.tree_head.root_hash
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
