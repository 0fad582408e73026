//! `puhui analytics snapshot | vintage | roll-rates | delinquency | approvals |
//! concentration | export` (docs/analytics.md).

use crate::cli::StoreArgs;
use api::Tabular;
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;
use std::process::ExitCode;
use store::analytics::{AnalyticsFilter, Dimension, Month};
use store::Store;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Parquet,
}

/// The part of the book a report covers.
#[derive(Args, Clone, Debug)]
pub struct Range {
    /// First month, YYYY-MM.
    #[arg(long, value_parser = parse_month)]
    from: Option<Month>,
    /// Last month, YYYY-MM (inclusive).
    #[arg(long, value_parser = parse_month)]
    to: Option<Month>,
    /// Only this product (UUID).
    #[arg(long)]
    product: Option<uuid::Uuid>,
    /// Only this currency.
    #[arg(long)]
    currency: Option<String>,
    /// Only this tenant (default: every tenant).
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

impl Range {
    fn filter(&self) -> anyhow::Result<AnalyticsFilter> {
        if let (Some(f), Some(t)) = (self.from, self.to) {
            anyhow::ensure!(f <= t, "--to: must not be before --from");
        }
        if let Some(c) = &self.currency {
            c.parse::<money::Currency>()
                .map_err(|_| anyhow::anyhow!("--currency: not a supported ISO 4217 code"))?;
        }
        Ok(AnalyticsFilter {
            tenant: self.tenant.clone(),
            from: self.from,
            to: self.to,
            product: self.product,
            currency: self.currency.clone(),
        })
    }
}

fn parse_month(s: &str) -> Result<Month, String> {
    s.parse()
}

fn parse_dimension(s: &str) -> Result<Dimension, String> {
    Dimension::parse(s).ok_or_else(|| "must be region, industry, product or funder".into())
}

#[derive(Subcommand)]
pub enum AnalyticsCmd {
    /// Write (or rewrite) month MONTH's snapshot from the loans as they stand now. Close of
    /// business writes each month end's by itself; this backfills.
    Snapshot {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, value_parser = parse_month)]
        month: Month,
    },
    /// DPD30+ rate by origination month and months on book.
    Vintage {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        range: Range,
    },
    /// Moves between DPD buckets from one month end to the next.
    RollRates {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        range: Range,
    },
    /// Open loans by DPD bucket at each month end.
    Delinquency {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        range: Range,
    },
    /// Decisions and approval rate by month, with PSI of the scores against a base month.
    Approvals {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        range: Range,
        /// Base month of the PSI (default: the first month with scores).
        #[arg(long, value_parser = parse_month)]
        base: Option<Month>,
    },
    /// Open principal at a month end by region, industry, product or funder, with HHI.
    Concentration {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        range: Range,
        #[arg(long, value_parser = parse_dimension)]
        dimension: Dimension,
        /// Month end (default: the latest snapshot).
        #[arg(long, value_parser = parse_month)]
        month: Option<Month>,
    },
    /// Write month MONTH's snapshot rows to a CSV file, paging through them.
    Export {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, value_parser = parse_month)]
        month: Month,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

fn print(t: &dyn Tabular, format: Format) -> anyhow::Result<()> {
    let out = std::io::stdout();
    let mut out = out.lock();
    match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(t.header())?;
            for r in t.rows() {
                w.write_record(r)?;
            }
            w.flush()?;
        }
        Format::Table => {
            let header: Vec<String> = t.header().iter().map(|h| h.to_string()).collect();
            let rows = t.rows();
            let mut widths: Vec<usize> = header.iter().map(String::len).collect();
            for r in &rows {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.chars().count());
                }
            }
            for r in std::iter::once(&header).chain(&rows) {
                let cells: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:>width$}", width = *w))
                    .collect();
                writeln!(out, "{}", cells.join("  ").trim_end())?;
            }
        }
    }
    Ok(())
}

/// Reads run beside the writer; the store's schema is brought up to date first.
async fn reader(store: &StoreArgs) -> anyhow::Result<Store> {
    let s = store.open_beside_writer().await?;
    s.migrate().await?;
    Ok(s)
}

pub async fn run(cmd: AnalyticsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AnalyticsCmd::Snapshot { store, month } => {
            // On SQLite the principal of accounts whose rows lag lives in the writer's
            // memory: only the writer (this process, holding the lock) sees it.
            let (s, _lock) = store.open_writer().await?;
            s.migrate().await?;
            let r = s.write_snapshot(month).await?;
            println!("{month}: {} loans", r.loans);
        }
        AnalyticsCmd::Vintage { store, range } => {
            let points = reader(&store).await?.vintage(range.filter()?).await?;
            print(&api::VintageResponse::of(&points), range.format)?;
        }
        AnalyticsCmd::RollRates { store, range } => {
            let cells = reader(&store).await?.roll_rates(range.filter()?).await?;
            print(&api::RollRatesResponse::of(&cells), range.format)?;
        }
        AnalyticsCmd::Delinquency { store, range } => {
            let points = reader(&store).await?.delinquency(range.filter()?).await?;
            print(&api::DelinquencyResponse::of(&points), range.format)?;
        }
        AnalyticsCmd::Approvals { store, range, base } => {
            let months = reader(&store)
                .await?
                .decision_months(range.filter()?)
                .await?;
            print(&api::ApprovalsResponse::of(&months, base), range.format)?;
        }
        AnalyticsCmd::Concentration {
            store,
            range,
            dimension,
            month,
        } => {
            let s = reader(&store).await?;
            let month = match month {
                Some(m) => m,
                None => *s
                    .snapshot_months()
                    .await?
                    .last()
                    .ok_or_else(|| anyhow::anyhow!("no snapshot yet"))?,
            };
            let rows = s.concentration(range.filter()?, month, dimension).await?;
            print(
                &api::ConcentrationResponse::of(month, dimension, &rows),
                range.format,
            )?;
        }
        AnalyticsCmd::Export {
            store,
            month,
            format,
            out,
        } => {
            let s = reader(&store).await?;
            let n = match format {
                ExportFormat::Csv => crate::analytics_export::csv(&s, month, &out).await?,
                ExportFormat::Parquet => crate::analytics_export::parquet(&s, month, &out).await?,
            };
            eprintln!("{month}: {n} rows to {}", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
