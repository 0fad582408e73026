//! `puhui colending deposits …`: first-loss deposits from the command line.

use crate::colending_cli::{open, refused};
use clap::Subcommand;
use engine::colending as cl;
use std::process::ExitCode;
use uuid::Uuid;

#[derive(Subcommand)]
pub enum DepositsCmd {
    /// List the tenant's first-loss deposits with what each has paid and has left.
    List {
        #[command(flatten)]
        store: crate::cli::StoreArgs,
        #[arg(long, default_value = "default")]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Create a deposit from the JSON body `POST /v1/first-loss-deposits` takes.
    Create {
        #[command(flatten)]
        store: crate::cli::StoreArgs,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// The deposit, e.g. '{"portfolio":"2026 consumer","currency":"CNY",
        /// "cap_fraction":"0.05","portfolio_principal_minor":1000000000,
        /// "deposited_minor":40000000}'. Its `id` defaults to a new UUID.
        #[arg(long)]
        body: String,
    },
}

pub async fn run(cmd: DepositsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        DepositsCmd::List {
            store,
            tenant,
            json,
        } => list(store, tenant, json).await,
        DepositsCmd::Create {
            store,
            tenant,
            body,
        } => create(store, tenant, body).await,
    }
}

async fn list(
    store: crate::cli::StoreArgs,
    tenant: String,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (engine, _lock) = open(store).await?;
    let mut after = None;
    loop {
        let (items, next) = cl::list_deposits(&engine, Some(tenant.clone()), after, 500).await?;
        for d in &items {
            let wire = api::FirstLossDepositResponse::from(d);
            match json {
                true => println!("{}", serde_json::to_string(&wire)?),
                false => println!(
                    "{}  {}  cap {}  drawn {}  left {}  loans {}  {}",
                    wire.id,
                    wire.currency,
                    wire.cap_minor,
                    wire.drawn_minor,
                    wire.available_minor,
                    wire.loans_drawn,
                    wire.portfolio
                ),
            }
        }
        match next {
            Some(a) => after = Some(a),
            None => return Ok(ExitCode::SUCCESS),
        }
    }
}

async fn create(
    store: crate::cli::StoreArgs,
    tenant: String,
    body: String,
) -> anyhow::Result<ExitCode> {
    let req: api::FirstLossDepositRequest = match serde_json::from_str(&body) {
        Ok(r) => r,
        Err(e) => return refused(format!("--body: {e}")),
    };
    let spec = match req.parse() {
        Ok(s) => s,
        Err(e) => return refused(format!("{}: {}", e.field, e.message)),
    };
    let (engine, _lock) = open(store).await?;
    let id = req.id.unwrap_or_else(Uuid::now_v7);
    match cl::create_deposit(&engine, &tenant, id, spec).await {
        Ok((d, _)) => {
            let wire = api::FirstLossDepositResponse::from(&d);
            println!("{}", serde_json::to_string(&wire)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(cl::ColendingError::Storage(e)) => Err(e),
        Err(e) => refused(e),
    }
}
