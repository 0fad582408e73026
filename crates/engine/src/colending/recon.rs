//! A partner's daily reconciliation files: what moved in its books on a business day
//! (disbursements, repayment allocations, charges, write-offs, settlement), its end-of-day
//! balances and overdue loans, and guarantee claims. Formats: docs/co-lending.md,
//! "Reconciliation files".
//!
//! Every file is streamed from the store a page at a time: the day's movements (the
//! `MoveDoc`s under the day) and the loans' positions, less the movements committed after
//! the day. What is held in memory is one page, the set of loans that moved on the day and
//! the movements after it, and on SQLite the row ids of the positions (8 bytes a loan, so
//! they are read in file order), never the book's documents.

use super::docs::{
    claim_id, decode, guarantor_holder, BalancesDoc, GuarantorDoc, Kind, MoveDoc, PartnerDoc, MOVE,
    POSITIONS,
};
use super::partners::partner;
use super::ColendingError;
use crate::Engine;
use ledger::SignedTreeHead;
use money::{BusinessDate, Currency};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use tokio::sync::mpsc;
use uuid::Uuid;

const PAGE: u32 = 1_000;
/// Bytes gathered before a chunk goes to the reader.
const CHUNK_BYTES: usize = 64 * 1024;

/// A file: its name and its columns, amounts last.
pub struct FileSpec {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    /// How many trailing columns are amounts (summed in the manifest).
    pub amounts: usize,
}

pub const FILES: [FileSpec; 10] = [
    FileSpec {
        name: "disbursements.csv",
        columns: &["loan_id", "source", "principal_minor"],
        amounts: 1,
    },
    FileSpec {
        name: "repayments.csv",
        columns: &[
            "loan_id",
            "source",
            "principal_minor",
            "interest_minor",
            "fee_minor",
            "penalty_minor",
            "total_minor",
        ],
        amounts: 5,
    },
    FileSpec {
        name: "charges.csv",
        columns: &[
            "loan_id",
            "source",
            "interest_minor",
            "fee_minor",
            "penalty_minor",
        ],
        amounts: 3,
    },
    FileSpec {
        name: "write_offs.csv",
        columns: &[
            "loan_id",
            "source",
            "principal_minor",
            "interest_minor",
            "fee_minor",
            "penalty_minor",
            "total_minor",
        ],
        amounts: 5,
    },
    FileSpec {
        name: "recoveries.csv",
        columns: &["loan_id", "source", "recovered_minor"],
        amounts: 1,
    },
    FileSpec {
        name: "balances.csv",
        columns: &[
            "loan_id",
            "principal_outstanding_minor",
            "interest_receivable_minor",
            "fee_receivable_minor",
            "penalty_receivable_minor",
            "written_off_minor",
        ],
        amounts: 5,
    },
    FileSpec {
        name: "overdue.csv",
        columns: &[
            "loan_id",
            "overdue_since",
            "days_past_due",
            "principal_outstanding_minor",
            "interest_receivable_minor",
            "fee_receivable_minor",
            "penalty_receivable_minor",
        ],
        amounts: 4,
    },
    FileSpec {
        name: "guarantee_claims.csv",
        columns: &[
            "loan_id",
            "claim_id",
            "principal_minor",
            "interest_minor",
            "total_minor",
        ],
        amounts: 3,
    },
    FileSpec {
        name: "first_loss_draws.csv",
        columns: &["loan_id", "source", "amount_minor"],
        amounts: 1,
    },
    FileSpec {
        name: "settlement.csv",
        columns: &[
            "date",
            "currency",
            "disbursed_minor",
            "collected_minor",
            "net_to_partner_minor",
        ],
        amounts: 3,
    },
];

pub fn file_spec(name: &str) -> Option<&'static FileSpec> {
    FILES.iter().find(|f| f.name == name)
}

/// One file as written: rows (header excluded), each amount column's total, its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSummary {
    pub name: &'static str,
    pub rows: u64,
    pub bytes: u64,
    pub totals: Vec<(&'static str, i64)>,
    pub sha256: [u8; 32],
}

/// The day's files of one partner and the signed tree head taken after they were read, so
/// its root covers every entry that moved what the files list.
pub struct Manifest {
    pub partner_id: Uuid,
    pub tenant: String,
    pub currency: Currency,
    pub date: BusinessDate,
    /// The day is closed (the open business day is after it): its files no longer change.
    pub closed: bool,
    pub files: Vec<FileSummary>,
    pub tree_head: SignedTreeHead,
}

/// Where a file's bytes go: counted and hashed always, sent on when there is a reader.
struct Out {
    spec: &'static FileSpec,
    buf: Vec<u8>,
    hasher: Sha256,
    bytes: u64,
    rows: u64,
    totals: Vec<i64>,
    tx: Option<mpsc::Sender<Vec<u8>>>,
}

impl Out {
    fn new(spec: &'static FileSpec, tx: Option<mpsc::Sender<Vec<u8>>>) -> Out {
        let mut out = Out {
            spec,
            buf: Vec::with_capacity(CHUNK_BYTES + 1024),
            hasher: Sha256::new(),
            bytes: 0,
            rows: 0,
            totals: vec![0; spec.amounts],
            tx,
        };
        out.buf.extend_from_slice(spec.columns.join(",").as_bytes());
        out.buf.push(b'\n');
        out
    }

    /// One row: the text columns, then the amounts.
    fn row(&mut self, text: &[&dyn std::fmt::Display], amounts: &[i64]) {
        use std::io::Write;
        debug_assert_eq!(text.len() + amounts.len(), self.spec.columns.len());
        let mut first = true;
        for t in text {
            if !first {
                self.buf.push(b',');
            }
            first = false;
            write!(self.buf, "{t}").expect("writes to memory");
        }
        for (i, a) in amounts.iter().enumerate() {
            if !first {
                self.buf.push(b',');
            }
            first = false;
            write!(self.buf, "{a}").expect("writes to memory");
            self.totals[i] += a;
        }
        self.buf.push(b'\n');
        self.rows += 1;
    }

    async fn flush(&mut self, force: bool) -> anyhow::Result<()> {
        if self.buf.is_empty() || (!force && self.buf.len() < CHUNK_BYTES) {
            return Ok(());
        }
        self.hasher.update(&self.buf);
        self.bytes += self.buf.len() as u64;
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES + 1024));
        if let Some(tx) = &self.tx {
            tx.send(chunk)
                .await
                .map_err(|_| anyhow::anyhow!("the reader of {} went away", self.spec.name))?;
        }
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<FileSummary> {
        self.flush(true).await?;
        let totals = self.spec.columns[self.spec.columns.len() - self.spec.amounts..]
            .iter()
            .copied()
            .zip(self.totals)
            .collect();
        Ok(FileSummary {
            name: self.spec.name,
            rows: self.rows,
            bytes: self.bytes,
            totals,
            sha256: self.hasher.finalize().into(),
        })
    }
}

/// A partner's day, resolved.
struct Day {
    tenant: String,
    partner: PartnerDoc,
    /// The partner's holder key in bookings (`holder/…`), with the slash.
    prefix: String,
    date: BusinessDate,
}

async fn resolve(
    engine: &Engine,
    tenant: &str,
    partner_id: Uuid,
    date: BusinessDate,
) -> Result<Day, ColendingError> {
    let p = partner(engine, tenant, partner_id).await?;
    // A guarantee company holds only the claims it took over, under its guarantor key.
    let prefix = match p.doc.spec.kind {
        Kind::Guarantor => format!("{}/", guarantor_holder(partner_id)),
        _ => format!("{partner_id}/"),
    };
    Ok(Day {
        tenant: p.doc.tenant.clone(),
        prefix,
        partner: p.doc,
        date,
    })
}

/// Streams `date`'s movements of the partner's tenant, a page at a time.
async fn each_move(
    engine: &Engine,
    day: &Day,
    days: (i32, i32),
    mut f: impl FnMut(MoveDoc),
) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let rows = engine
            .store()
            .closed_docs_by_day(MOVE, days.0, days.1, after, PAGE)
            .await?;
        for row in &rows {
            if row.tenant == day.tenant {
                f(decode(row)?);
            }
        }
        match rows.last() {
            Some(last) if rows.len() as u32 == PAGE => after = Some((last.day, last.id)),
            _ => return Ok(()),
        }
    }
}

fn flow(m: &MoveDoc, prefix: &str, name: &str) -> i64 {
    m.flows
        .get(&format!("{prefix}{name}"))
        .copied()
        .unwrap_or(0)
}

const COMPONENTS: [&str; 4] = ["principal", "interest", "fee", "penalty"];
const BALANCES: [&str; 5] = ["principal", "interest", "fee", "penalty", "written_off"];

/// A movement file of the day: one row per movement that moved the partner.
async fn movement_file(engine: &Engine, day: &Day, out: &mut Out) -> anyhow::Result<()> {
    let d = day.date.to_epoch_days();
    let mut pending: Vec<MoveDoc> = Vec::new();
    let mut after = None;
    loop {
        let rows = engine
            .store()
            .closed_docs_by_day(MOVE, d, d, after, PAGE)
            .await?;
        for row in &rows {
            if row.tenant == day.tenant {
                pending.push(decode(row)?);
            }
        }
        for m in pending.drain(..) {
            movement_row(day, &m, out);
        }
        out.flush(false).await?;
        match rows.last() {
            Some(last) if rows.len() as u32 == PAGE => after = Some((last.day, last.id)),
            _ => return Ok(()),
        }
    }
}

fn movement_row(day: &Day, m: &MoveDoc, out: &mut Out) {
    let p = day.prefix.as_str();
    let (loan, source) = (
        &m.loan_id as &dyn std::fmt::Display,
        &m.source as &dyn std::fmt::Display,
    );
    match out.spec.name {
        "disbursements.csv" => {
            let principal = flow(m, p, "disbursed/principal");
            if principal != 0 {
                out.row(&[loan, source], &[principal]);
            }
        }
        "repayments.csv" | "write_offs.csv" => {
            let step = if out.spec.name == "repayments.csv" {
                "repaid"
            } else {
                "written_off"
            };
            let parts: Vec<i64> = COMPONENTS
                .iter()
                .map(|c| -flow(m, p, &format!("{step}/{c}")))
                .collect();
            if parts.iter().any(|x| *x != 0) {
                let total = parts.iter().sum();
                out.row(
                    &[loan, source],
                    &[parts[0], parts[1], parts[2], parts[3], total],
                );
            }
        }
        "guarantee_claims.csv" => {
            let principal = -flow(m, p, "compensated/principal");
            let interest = -flow(m, p, "compensated/interest");
            if principal != 0 || interest != 0 {
                let claim = claim_id(m.loan_id, m.day);
                out.row(
                    &[loan, &claim],
                    &[principal, interest, principal + interest],
                );
            }
        }
        "recoveries.csv" => {
            let recovered = -flow(m, p, "recovered/written_off");
            if recovered != 0 {
                out.row(&[loan, source], &[recovered]);
            }
        }
        "first_loss_draws.csv" => {
            let paid = -flow(m, p, "first_loss/written_off");
            if paid != 0 {
                out.row(&[loan, source], &[paid]);
            }
        }
        "charges.csv" => {
            let parts: Vec<i64> = COMPONENTS[1..]
                .iter()
                .map(|c| flow(m, p, &format!("charged/{c}")))
                .collect();
            if parts.iter().any(|x| *x != 0) {
                out.row(&[loan, source], &parts);
            }
        }
        _ => unreachable!("not a movement file"),
    }
}

/// What the movements after the day changed of one loan: the partner's balances (to take
/// off today's) and its delinquency before the first of them.
#[derive(Default)]
struct Later {
    balances: [i64; 5],
    first_seq: Option<u32>,
    overdue_since_before: Option<BusinessDate>,
}

/// What the position files read of a loan's positions: the bookings and flows, most of
/// the document, are skipped without being built.
#[derive(serde::Deserialize)]
struct PositionsView {
    loan_id: Uuid,
    funders: Vec<FunderView>,
    #[serde(default)]
    overdue_since: Option<BusinessDate>,
    #[serde(default)]
    guarantor: Option<GuarantorDoc>,
}

#[derive(serde::Deserialize)]
struct FunderView {
    partner_id: Uuid,
    balances: BalancesDoc,
}

/// End-of-day balances and overdue loans: every loan the partner funds, as it stood at the
/// end of the day (its positions less later movements).
async fn position_file(engine: &Engine, day: &Day, out: &mut Out) -> anyhow::Result<()> {
    let d = day.date.to_epoch_days();
    let p = day.prefix.clone();
    let mut moved_today: HashSet<Uuid> = HashSet::new();
    let mut later: HashMap<Uuid, Later> = HashMap::new();
    each_move(engine, day, (d, d), |m| {
        if m.deltas.keys().any(|k| k.starts_with(&p)) {
            moved_today.insert(m.loan_id);
        }
    })
    .await?;
    each_move(engine, day, (d + 1, i32::MAX), |m| {
        let l = later.entry(m.loan_id).or_default();
        for (i, b) in BALANCES.iter().enumerate() {
            l.balances[i] += m.deltas.get(&format!("{p}{b}")).copied().unwrap_or(0);
        }
        if l.first_seq.is_none_or(|s| m.seq < s) {
            l.first_seq = Some(m.seq);
            l.overdue_since_before = m.overdue_since_before;
        }
    })
    .await?;
    let partner_id = day.partner.id;
    let needle = partner_id.to_string();
    let mut scan = engine
        .store()
        .doc_scan(POSITIONS, &day.tenant, PAGE as usize);
    while let Some(rows) = scan.next_page().await? {
        for row in &rows {
            // Most loans of a busy book are other partners'; skip them undecoded.
            if !contains(&row.body, needle.as_bytes()) {
                continue;
            }
            let doc: PositionsView = decode(row)?;
            let funder = doc.funders.iter().find(|f| f.partner_id == partner_id);
            let guarantor = doc.guarantor.as_ref();
            let b = match (funder, guarantor) {
                (Some(f), _) => &f.balances,
                (None, Some(g)) if g.terms.guarantor_id == partner_id => &g.balances,
                _ => continue,
            };
            let mut balances = [
                b.principal_outstanding_minor,
                b.interest_receivable_minor,
                b.fee_receivable_minor,
                b.penalty_receivable_minor,
                b.written_off_minor,
            ];
            let mut overdue_since = doc.overdue_since;
            if let Some(l) = later.get(&doc.loan_id) {
                for (x, delta) in balances.iter_mut().zip(l.balances) {
                    *x -= delta;
                }
                overdue_since = l.overdue_since_before;
            }
            let loan = &doc.loan_id as &dyn std::fmt::Display;
            match out.spec.name {
                "balances.csv" => {
                    if balances.iter().any(|x| *x != 0) || moved_today.contains(&doc.loan_id) {
                        out.row(&[loan], &balances);
                    }
                }
                _ => {
                    // A written-off loan is no longer overdue: it is off the books.
                    let owed = balances[..4].iter().any(|x| *x != 0);
                    if let Some(since) = overdue_since.filter(|s| *s <= day.date && owed) {
                        let dpd = day.date.to_epoch_days() - since.to_epoch_days() + 1;
                        out.row(&[loan, &since, &dpd], &balances[..4]);
                    }
                }
            }
        }
        out.flush(false).await?;
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// The day's settlement: what the partner paid out (its disbursements) and what the
/// platform collected for it (its repayment allocations and recoveries), one row.
async fn settlement_file(engine: &Engine, day: &Day, out: &mut Out) -> anyhow::Result<()> {
    let d = day.date.to_epoch_days();
    let p = day.prefix.clone();
    let (mut disbursed, mut collected) = (0i64, 0i64);
    each_move(engine, day, (d, d), |m| {
        disbursed -= m.deltas.get(&format!("{p}funding")).copied().unwrap_or(0);
        collected += m.deltas.get(&format!("{p}collected")).copied().unwrap_or(0);
    })
    .await?;
    let currency = day.partner.spec.currency.code();
    out.row(
        &[&day.date, &currency],
        &[disbursed, collected, collected - disbursed],
    );
    Ok(())
}

async fn write(
    engine: &Engine,
    day: &Day,
    spec: &'static FileSpec,
    tx: Option<mpsc::Sender<Vec<u8>>>,
) -> anyhow::Result<FileSummary> {
    let mut out = Out::new(spec, tx);
    match spec.name {
        "disbursements.csv"
        | "repayments.csv"
        | "charges.csv"
        | "write_offs.csv"
        | "recoveries.csv"
        | "guarantee_claims.csv"
        | "first_loss_draws.csv" => movement_file(engine, day, &mut out).await?,
        "balances.csv" | "overdue.csv" => position_file(engine, day, &mut out).await?,
        "settlement.csv" => settlement_file(engine, day, &mut out).await?,
        _ => unreachable!("every file has a writer"),
    }
    out.finish().await
}

/// Streams one file of a partner's day to `tx`, a chunk at a time; the summary once done.
pub async fn stream_file(
    engine: &Engine,
    tenant: &str,
    partner_id: Uuid,
    date: BusinessDate,
    name: &str,
    tx: mpsc::Sender<Vec<u8>>,
) -> Result<FileSummary, ColendingError> {
    let spec = file_spec(name).ok_or(ColendingError::NotFound("reconciliation file"))?;
    let day = resolve(engine, tenant, partner_id, date).await?;
    Ok(write(engine, &day, spec, Some(tx)).await?)
}

/// The manifest of a partner's day: every file's rows, totals and SHA-256 (each file is
/// read once and discarded), then the signed tree head.
pub async fn manifest(
    engine: &Engine,
    tenant: &str,
    partner_id: Uuid,
    date: BusinessDate,
) -> Result<Manifest, ColendingError> {
    let day = resolve(engine, tenant, partner_id, date).await?;
    let mut files = Vec::with_capacity(FILES.len());
    for spec in &FILES {
        files.push(write(engine, &day, spec, None).await?);
    }
    seal(engine, tenant, partner_id, date, files).await
}

/// The manifest of files already written (by [`stream_file`]), with the tree head signed
/// now, after them.
pub async fn seal(
    engine: &Engine,
    tenant: &str,
    partner_id: Uuid,
    date: BusinessDate,
    files: Vec<FileSummary>,
) -> Result<Manifest, ColendingError> {
    let p = partner(engine, tenant, partner_id).await?;
    let open = crate::business_day::business_date(engine).await?;
    Ok(Manifest {
        partner_id,
        tenant: p.doc.tenant,
        currency: p.doc.spec.currency,
        date,
        closed: open.is_some_and(|o| o > date),
        files,
        tree_head: engine.tree_head(),
    })
}
