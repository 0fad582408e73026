//! `puhui abs validate|project|run|report|tape`: deal files from the command line, through
//! the same parsing and runs as `/v1/abs/…`. Nothing is stored. Exit status 2 when the input
//! is refused, with every problem on standard error as `FILE: field: message`.

use api::{
    abs_tape, CollectionsWire, DealFile, DealReport, FieldError, IndexRateWire, PoolWire,
    ProjectionRequest, ScenarioWire,
};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum AbsCmd {
    /// Check a deal file: every problem, each with its field.
    Validate {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Project a loan tape (`--tape`) under a scenario through the deal's waterfall.
    Project {
        file: PathBuf,
        #[command(flatten)]
        pool: PoolArgs,
        /// Write the projected collection table (CSV) here, for `run --collections`.
        #[arg(long)]
        collections_out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Run the deal over a collection table (`--collections`), period by period.
    Run {
        file: PathBuf,
        #[command(flatten)]
        pool: PoolArgs,
        #[arg(long)]
        json: bool,
    },
    /// A projection or run of a deal file as a report, or with `--deal` and `--period` the
    /// investor report of a live deal's period from a server (its JSON carries the proofs
    /// `scripts/verify_investor_report.py` checks): JSON, CSV, or an HTML page with SVG charts.
    Report {
        #[arg(required_unless_present = "deal")]
        file: Option<PathBuf>,
        #[command(flatten)]
        pool: PoolArgs,
        /// A live deal's id (with `--period`, `--server` and `--api-key`).
        #[arg(long, requires = "period", conflicts_with = "file")]
        deal: Option<uuid::Uuid>,
        /// The period of `--deal`, from 1.
        #[arg(long, requires = "deal")]
        period: Option<u32>,
        #[arg(long, env = "PUHUI_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// An operator, risk analyst or investor key (an investor key bound to the deal).
        #[arg(long, env = "PUHUI_API_KEY")]
        api_key: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Html)]
        format: Format,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a loan tape and write it back with every column (the pool tape export).
    Tape {
        file: PathBuf,
        /// ISO 4217 currency of the amounts; a row naming another is refused.
        #[arg(long, default_value = "CNY")]
        currency: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Json,
    Csv,
    Html,
}

#[derive(Args)]
pub struct PoolArgs {
    /// A loan tape (CSV; columns in docs/securitization.md).
    #[arg(long, conflicts_with = "collections")]
    pub tape: Option<PathBuf>,
    /// A collection table (CSV), one payment period a row.
    #[arg(long)]
    pub collections: Option<PathBuf>,
    /// Annual prepayment rate, a fraction ("0.1" = 10 %).
    #[arg(long)]
    pub cpr: Option<String>,
    /// Monthly prepayment rate.
    #[arg(long)]
    pub smm: Option<String>,
    /// PSA speed ("1.5" = 150 % PSA).
    #[arg(long)]
    pub psa: Option<String>,
    /// Annual default rate.
    #[arg(long)]
    pub cdr: Option<String>,
    /// Monthly default rate.
    #[arg(long)]
    pub mdr: Option<String>,
    /// SDA speed.
    #[arg(long)]
    pub sda: Option<String>,
    /// Loss severity, a fraction of the defaulted balance.
    #[arg(long)]
    pub severity: Option<String>,
    /// Months from default to liquidation.
    #[arg(long, default_value_t = 0)]
    pub lag: u32,
    /// The servicer advances principal and interest on defaulted loans.
    #[arg(long)]
    pub advanced: bool,
    /// Exercise the clean-up call as soon as it may be (projections).
    #[arg(long)]
    pub call: bool,
    /// An index fixing used at every reset, INDEX=RATE (e.g. LPR1Y=0.031); repeatable.
    #[arg(long = "fixing")]
    pub fixings: Vec<String>,
}

/// Input refused: every problem printed, exit status 2.
struct Refused(Vec<String>);

fn refused(file: &Path, errors: Vec<FieldError>) -> Refused {
    Refused(
        errors
            .into_iter()
            .map(|e| {
                let field = e.field.strip_prefix("deal.").unwrap_or(&e.field);
                format!("{}: {field}: {} ({})", file.display(), e.message, e.code)
            })
            .collect(),
    )
}

fn read(path: &Path) -> Result<String, Refused> {
    std::fs::read_to_string(path).map_err(|e| Refused(vec![format!("{}: {e}", path.display())]))
}

/// Reads a deal file; a JSON error names its path.
fn read_deal(path: &Path) -> Result<DealFile, Refused> {
    let text = read(path)?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        Refused(vec![format!(
            "{}: {}: {} (malformed_json)",
            path.display(),
            e.path(),
            e.inner()
        )])
    })
}

impl PoolArgs {
    fn request(&self, deal: DealFile, need: Option<&str>) -> Result<ProjectionRequest, Refused> {
        let mut pool = PoolWire::default();
        match (&self.tape, &self.collections, need) {
            (Some(t), _, None | Some("tape")) => {
                let text = read(t)?;
                pool.loans = abs_tape::read_loan_tape(&text, Some(&deal.currency))
                    .map_err(|e| refused(t, vec![e]))?;
            }
            (_, Some(c), None | Some("collections")) => {
                let text = read(c)?;
                pool.collections =
                    abs_tape::read_collection_table(&text).map_err(|e| refused(c, vec![e]))?;
            }
            (_, _, Some(what)) => return Err(Refused(vec![format!("--{what} FILE is required")])),
            (None, None, None) => {
                return Err(Refused(vec![
                    "give --tape FILE or --collections FILE".into()
                ]))
            }
        }
        let mut index_rates = Vec::new();
        for f in &self.fixings {
            let (index, rate) = f
                .split_once('=')
                .ok_or_else(|| Refused(vec![format!("--fixing {f:?} is not INDEX=RATE")]))?;
            index_rates.push(IndexRateWire {
                index: index.trim().into(),
                rate: rate.trim().into(),
            });
        }
        Ok(ProjectionRequest {
            deal,
            pool,
            scenario: Some(ScenarioWire {
                cpr: self.cpr.clone(),
                smm: self.smm.clone(),
                psa: self.psa.clone(),
                cdr: self.cdr.clone(),
                mdr: self.mdr.clone(),
                sda: self.sda.clone(),
                severity: self.severity.clone(),
                recovery_lag_months: self.lag,
                advanced: self.advanced,
            }),
            call_when_exercisable: self.call,
            index_rates,
            prices: Vec::new(),
        })
    }
}

fn run_request(file: &Path, pool: &PoolArgs, need: Option<&str>) -> Result<DealReport, Refused> {
    let deal = read_deal(file)?;
    let req = pool.request(deal, need)?;
    req.run().map_err(|e| refused(file, e))
}

/// Writes through a temporary file renamed into place, so a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path)?;
    Ok(())
}

fn write_out(out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(p) => write_atomically(p, text.as_bytes()),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// The projected pool's collections, as a table `run --collections` takes.
pub fn collection_table(report: &DealReport) -> Vec<CollectionsWire> {
    report
        .periods
        .iter()
        .map(|p| CollectionsWire {
            payment_date: Some(p.payment_date.clone()),
            interest_minor: p.interest_collected_minor,
            principal_minor: p.principal_collected_minor,
            recovery_minor: p.recovery_minor,
            new_default_minor: p.new_default_minor,
            exercise_call: p.waterfall == "cleanup",
            index_rates: Vec::new(),
        })
        .collect()
}

/// A plain-text summary: the periods' balances and the tranches' measures.
pub fn text(r: &DealReport) -> String {
    let mut s = format!(
        "{} ({}), pool at cut-off {} minor units, {} period(s)\n",
        r.deal,
        r.currency,
        r.pool_balance_minor,
        r.periods.len()
    );
    s.push_str(&format!(
        "{:>3} {:<10} {:<11} {:>16}",
        "#", "date", "waterfall", "pool"
    ));
    for t in &r.tranches {
        s.push_str(&format!(" {:>16}", t.name));
    }
    s.push('\n');
    for p in &r.periods {
        s.push_str(&format!(
            "{:>3} {:<10} {:<11} {:>16}",
            p.period, p.payment_date, p.waterfall, p.pool_balance_minor
        ));
        for b in &p.bonds {
            s.push_str(&format!(" {:>16}", b.balance_minor));
        }
        s.push('\n');
    }
    s.push_str("tranche: WAL years, yield, duration years, loss minor\n");
    for t in &r.tranches {
        s.push_str(&format!(
            "{}: {}, {}, {}, {}\n",
            t.name,
            t.wal_years.as_deref().unwrap_or("-"),
            t.yield_annual.as_deref().unwrap_or("-"),
            t.duration_years.as_deref().unwrap_or("-"),
            t.loss_minor
        ));
    }
    s
}

pub fn run(cmd: AbsCmd) -> anyhow::Result<ExitCode> {
    match run_inner(cmd) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Outcome::Refused(Refused(lines))) => {
            for l in lines {
                eprintln!("refused: {l}");
            }
            Ok(ExitCode::from(2))
        }
        Err(Outcome::Failed(e)) => Err(e),
    }
}

enum Outcome {
    Refused(Refused),
    Failed(anyhow::Error),
}

impl From<Refused> for Outcome {
    fn from(r: Refused) -> Self {
        Outcome::Refused(r)
    }
}

impl From<anyhow::Error> for Outcome {
    fn from(e: anyhow::Error) -> Self {
        Outcome::Failed(e)
    }
}

fn run_inner(cmd: AbsCmd) -> Result<(), Outcome> {
    match cmd {
        AbsCmd::Validate { file, json } => {
            let deal = read_deal(&file)?.parse().map_err(|e| refused(&file, e))?;
            let dates = api::payment_dates(&deal);
            if json {
                let v = serde_json::json!({
                    "valid": true, "name": deal.name, "currency": deal.currency.code(),
                    "pool_balance_minor": deal.pool_balance_minor,
                    "bonds": deal.bonds.iter().map(|b| b.name.clone()).collect::<Vec<_>>(),
                    "payment_dates": dates.len(),
                });
                println!("{v}");
            } else {
                println!(
                    "{}: valid: {} ({}), {} bond(s), {} payment date(s) to {}",
                    file.display(),
                    deal.name,
                    deal.currency.code(),
                    deal.bonds.len(),
                    dates.len(),
                    deal.dates.stated_maturity
                );
            }
        }
        AbsCmd::Project {
            file,
            pool,
            collections_out,
            json,
        } => {
            let r = run_request(&file, &pool, Some("tape"))?;
            if let Some(out) = collections_out {
                let table = abs_tape::write_collection_table(&collection_table(&r));
                write_atomically(&out, table.as_bytes())?;
            }
            print_report(&r, json)?;
        }
        AbsCmd::Run { file, pool, json } => {
            let r = run_request(&file, &pool, Some("collections"))?;
            print_report(&r, json)?;
        }
        AbsCmd::Report {
            file,
            pool,
            format,
            out,
            ..
        } => {
            let file =
                file.ok_or_else(|| anyhow::anyhow!("a deal file, or --deal and --period"))?;
            let r = run_request(&file, &pool, None)?;
            let body = match format {
                Format::Json => {
                    serde_json::to_string_pretty(&r).map_err(anyhow::Error::from)? + "\n"
                }
                Format::Csv => crate::abs_report::csv(&r),
                Format::Html => crate::abs_report::html(&r),
            };
            write_out(out.as_deref(), &body)?;
        }
        AbsCmd::Tape {
            file,
            currency,
            out,
        } => {
            let text = read(&file)?;
            let loans = abs_tape::read_loan_tape(&text, Some(&currency))
                .map_err(|e| refused(&file, vec![e]))?;
            write_out(
                out.as_deref(),
                &abs_tape::write_loan_tape(&loans, &currency),
            )?;
        }
    }
    Ok(())
}

/// Runs the command; only a live deal's report needs the network.
pub async fn run_async(cmd: AbsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AbsCmd::Report {
            deal: Some(deal),
            period: Some(period),
            server,
            api_key,
            format,
            out,
            ..
        } => {
            let key = api_key
                .filter(|k| !k.is_empty())
                .ok_or_else(|| anyhow::anyhow!("--deal needs --api-key (or PUHUI_API_KEY)"))?;
            let format = match format {
                Format::Json => "json",
                Format::Csv => "csv",
                Format::Html => "html",
            };
            let url = format!(
                "{}/v1/abs/deals/{deal}/periods/{period}/report?format={format}",
                server.trim_end_matches('/')
            );
            let resp = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()?
                .get(&url)
                .bearer_auth(key)
                .send()
                .await?;
            let status = resp.status();
            let body = resp.text().await?;
            if !status.is_success() {
                eprintln!("refused: {status}: {body}");
                return Ok(ExitCode::from(2));
            }
            write_out(out.as_deref(), &body)?;
            Ok(ExitCode::SUCCESS)
        }
        cmd => run(cmd),
    }
}

fn print_report(r: &DealReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
    } else {
        print!("{}", text(r));
    }
    Ok(())
}
