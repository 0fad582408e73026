//! `puhui colending …`: funding partners and plans from the command line, on a store this
//! process opens (refused while a server runs on it; use the API then).

use clap::{Args, Subcommand};
use engine::colending as cl;
use std::process::ExitCode;
use uuid::Uuid;

#[derive(Subcommand)]
pub enum ColendingCmd {
    /// Funding partners.
    Partners {
        #[command(subcommand)]
        cmd: PartnersCmd,
    },
    /// A loan product's funding plan.
    Plan {
        #[command(subcommand)]
        cmd: PlanCmd,
    },
    /// First-loss deposits.
    Deposits {
        #[command(subcommand)]
        cmd: crate::first_loss_cli::DepositsCmd,
    },
    /// Write a partner's reconciliation files of a business day and their manifest.
    Recon(crate::colending_recon_cli::ReconArgs),
}

#[derive(Subcommand)]
pub enum PartnersCmd {
    /// List the tenant's funding partners.
    List {
        #[command(flatten)]
        store: crate::cli::StoreArgs,
        #[arg(long, default_value = "default")]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Create a partner from the JSON body `POST /v1/funding-partners` takes.
    Create {
        #[command(flatten)]
        store: crate::cli::StoreArgs,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// The partner, e.g. '{"name":"bank a","kind":"bank","currency":"CNY",
        /// "yield_annual":"0.068","quota_minor":100000000,"daily_quota_minor":5000000,
        /// "approval":{"mode":"auto"}}'. Its `id` defaults to a new UUID.
        #[arg(long)]
        body: String,
    },
}

#[derive(Subcommand)]
pub enum PlanCmd {
    /// Attach a fixed plan (the JSON body of `POST /v1/loan-products/{id}/funding-plan`).
    Set(PlanSetArgs),
}

#[derive(Args)]
pub struct PlanSetArgs {
    #[command(flatten)]
    pub store: crate::cli::StoreArgs,
    #[arg(long, default_value = "default")]
    pub tenant: String,
    #[arg(long)]
    pub product: Uuid,
    /// ISO 4217 currency of the product.
    #[arg(long, default_value = "CNY")]
    pub currency: String,
    #[arg(long)]
    pub body: String,
}

pub(crate) fn refused(message: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    eprintln!("refused: {message}");
    Ok(ExitCode::from(2))
}

pub async fn run(cmd: ColendingCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ColendingCmd::Partners {
            cmd:
                PartnersCmd::List {
                    store,
                    tenant,
                    json,
                },
        } => list(store, tenant, json).await,
        ColendingCmd::Partners {
            cmd:
                PartnersCmd::Create {
                    store,
                    tenant,
                    body,
                },
        } => create(store, tenant, body).await,
        ColendingCmd::Plan {
            cmd: PlanCmd::Set(a),
        } => set_plan(a).await,
        ColendingCmd::Deposits { cmd } => crate::first_loss_cli::run(cmd).await,
        ColendingCmd::Recon(a) => crate::colending_recon_cli::run(a).await,
    }
}

pub(crate) async fn open(
    store: crate::cli::StoreArgs,
) -> anyhow::Result<(engine::Engine, store::WriterLock)> {
    let (store, lock) = store.open_writer().await?;
    let engine = engine::Engine::start(store, engine::EngineConfig::default()).await?;
    Ok((engine, lock))
}

async fn list(
    store: crate::cli::StoreArgs,
    tenant: String,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (engine, _lock) = open(store).await?;
    let mut after = None;
    loop {
        let page = cl::list_partners(&engine, Some(tenant.clone()), after, 500).await?;
        for p in &page.partners {
            let wire = api::FundingPartnerResponse::from(p);
            match json {
                true => println!("{}", serde_json::to_string(&wire)?),
                false => println!(
                    "{}  {:<8} {}  quota {}  yield {}  {}",
                    wire.id,
                    wire.kind,
                    wire.currency,
                    wire.quota_minor,
                    wire.yield_annual.as_deref().unwrap_or("pro rata"),
                    wire.name
                ),
            }
        }
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn create(
    store: crate::cli::StoreArgs,
    tenant: String,
    body: String,
) -> anyhow::Result<ExitCode> {
    let req: api::FundingPartnerRequest = match serde_json::from_str(&body) {
        Ok(r) => r,
        Err(e) => return refused(format!("--body: {e}")),
    };
    let spec = match req.parse() {
        Ok(s) => s,
        Err(e) => return refused(format!("{}: {}", e.field, e.message)),
    };
    let (engine, _lock) = open(store).await?;
    let id = req.id.unwrap_or_else(Uuid::now_v7);
    match cl::create_partner(&engine, &tenant, id, spec).await {
        Ok((p, _)) => {
            println!(
                "{}",
                serde_json::to_string(&api::FundingPartnerResponse::from(&p))?
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(cl::ColendingError::Storage(e)) => Err(e),
        Err(e) => refused(e),
    }
}

async fn set_plan(a: PlanSetArgs) -> anyhow::Result<ExitCode> {
    let req: api::FundingPlanRequest = match serde_json::from_str(&a.body) {
        Ok(r) => r,
        Err(e) => return refused(format!("--body: {e}")),
    };
    let spec = match req.parse() {
        Ok(s) => s,
        Err(e) => return refused(format!("{}: {}", e.field, e.message)),
    };
    let Ok(currency) = a.currency.parse::<money::Currency>() else {
        return refused(format!("--currency: unknown currency {:?}", a.currency));
    };
    let (engine, _lock) = open(a.store).await?;
    match cl::set_plan(
        &engine,
        &a.tenant,
        a.product,
        currency,
        Uuid::now_v7(),
        spec,
    )
    .await
    {
        Ok((p, _)) => {
            println!(
                "{}",
                serde_json::to_string(&api::FundingPlanResponse::from(&p))?
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(cl::ColendingError::Storage(e)) => Err(e),
        Err(e) => refused(e),
    }
}
