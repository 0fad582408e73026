//! Checks a partner's reconciliation files of a day against the ledger: the end-of-day
//! balances re-add, loan by loan, from the day before's and the day's movements, their
//! sums are the partner's control accounts at the end of the day, the settlement is what
//! the `funding` and `collected` accounts moved, and the manifest describes the files.

use engine::colending::{self as cl, books, recon};
use engine::Engine;
use money::{BusinessDate, Currency};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A partner's control accounts at the end of a day (debit minus credit).
pub type Snapshot = BTreeMap<&'static str, i64>;

pub const ACCOUNTS: [&str; 7] = [
    "principal",
    "interest",
    "fee",
    "penalty",
    "written_off",
    "funding",
    "collected",
];

/// A partner's control accounts: a funder's under its id, a guarantee company's under its
/// guarantor key.
pub async fn snapshot(e: &Engine, tenant: &str, partner: Uuid) -> Snapshot {
    let kind = cl::partner(e, tenant, partner).await.unwrap().doc.spec.kind;
    let holder = match kind {
        cl::Kind::Guarantor => format!("guarantor:{partner}"),
        _ => partner.to_string(),
    };
    let mut out = Snapshot::new();
    for name in ACCOUNTS {
        let id = books::control_account(tenant, Currency::Cny, &holder, name);
        let v = match e.account(id).await.unwrap() {
            Some(a) => a.balances.debits_posted_minor - a.balances.credits_posted_minor,
            None => 0,
        };
        out.insert(name, v);
    }
    out
}

/// One file's bytes as streamed, with its summary.
pub async fn read(
    e: &Engine,
    tenant: &str,
    partner: Uuid,
    date: BusinessDate,
    name: &str,
) -> (String, recon::FileSummary) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let collect = async move {
        let mut bytes = Vec::new();
        while let Some(chunk) = rx.recv().await {
            bytes.extend(chunk);
        }
        bytes
    };
    let (summary, bytes) = tokio::join!(
        recon::stream_file(e, tenant, partner, date, name, tx),
        collect
    );
    let summary = summary.unwrap();
    assert_eq!(summary.bytes, bytes.len() as u64);
    assert_eq!(summary.sha256, <[u8; 32]>::from(Sha256::digest(&bytes)));
    (String::from_utf8(bytes).unwrap(), summary)
}

/// Rows of a file keyed by loan id, amounts summed per loan (a loan may move twice a day).
fn by_loan(text: &str, skip: usize) -> BTreeMap<String, Vec<i64>> {
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let amounts: Vec<i64> = cols[skip..].iter().map(|c| c.parse().unwrap()).collect();
        let row = out
            .entry(cols[0].to_string())
            .or_insert_with(|| vec![0; amounts.len()]);
        for (x, a) in row.iter_mut().zip(amounts) {
            *x += a;
        }
    }
    out
}

/// The day's end-of-day balances per loan (`balances.csv`), for the next day's check.
pub type Balances = BTreeMap<String, Vec<i64>>;

/// Checks one partner's files of `date`; `overdue` is every loan's days past due at the
/// end of the day (active loans only). Returns the day's balances.
pub async fn check_day(
    e: &Engine,
    (tenant, partner): (&str, Uuid),
    date: BusinessDate,
    before: (&Snapshot, &Balances),
    end: &Snapshot,
    overdue: &BTreeMap<Uuid, u32>,
    with_manifest: bool,
) -> Balances {
    let at = format!("partner {partner} on {date}");
    let mut files = BTreeMap::new();
    for spec in &recon::FILES {
        files.insert(spec.name, read(e, tenant, partner, date, spec.name).await);
    }
    let text = |name: &str| files[name].0.as_str();
    let balances = by_loan(text("balances.csv"), 1);
    let disbursed = by_loan(text("disbursements.csv"), 2);
    let repaid = by_loan(text("repayments.csv"), 2);
    let charged = by_loan(text("charges.csv"), 2);
    let written_off = by_loan(text("write_offs.csv"), 2);
    let recovered = by_loan(text("recoveries.csv"), 2);
    // Guarantee claims: the guarantor took over principal and interest, and paid for them.
    let claimed = by_loan(text("guarantee_claims.csv"), 2);
    // First-loss draws: the platform's deposit paid written-off claims.
    let drawn = by_loan(text("first_loss_draws.csv"), 2);
    // Loan by loan: yesterday's balances plus the day's movements are today's.
    let mut loans: Vec<&String> = balances.keys().chain(before.1.keys()).collect();
    loans.sort();
    loans.dedup();
    let get =
        |m: &BTreeMap<String, Vec<i64>>, loan: &String, i: usize| m.get(loan).map_or(0, |v| v[i]);
    for loan in loans {
        let prev = |i| get(before.1, loan, i);
        let expected = [
            prev(0) + get(&disbursed, loan, 0)
                - get(&repaid, loan, 0)
                - get(&written_off, loan, 0)
                - get(&claimed, loan, 0),
            prev(1) + get(&charged, loan, 0)
                - get(&repaid, loan, 1)
                - get(&written_off, loan, 1)
                - get(&claimed, loan, 1),
            prev(2) + get(&charged, loan, 1) - get(&repaid, loan, 2) - get(&written_off, loan, 2),
            prev(3) + get(&charged, loan, 2) - get(&repaid, loan, 3) - get(&written_off, loan, 3),
            prev(4) + get(&written_off, loan, 4) - get(&recovered, loan, 0) - get(&drawn, loan, 0),
        ];
        let today: Vec<i64> = (0..5).map(|i| get(&balances, loan, i)).collect();
        assert_eq!(today, expected, "{at}: loan {loan} re-adds");
    }
    // The balances add up to the control accounts at the end of the day.
    for (i, name) in ACCOUNTS[..5].iter().enumerate() {
        let sum: i64 = balances.values().map(|v| v[i]).sum();
        assert_eq!(sum, end[name], "{at}: {name}");
    }
    // The settlement is what the partner's funding and collected accounts moved.
    let row: Vec<&str> = text("settlement.csv")
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .collect();
    let [out, collected, net] = [2, 3, 4].map(|i| row[i].parse::<i64>().unwrap());
    assert_eq!(out, before.0["funding"] - end["funding"], "{at}: disbursed");
    assert_eq!(
        collected,
        end["collected"] - before.0["collected"],
        "{at}: collected"
    );
    assert_eq!(net, collected - out);
    let total = |m: &BTreeMap<String, Vec<i64>>, i: usize| m.values().map(|v| v[i]).sum::<i64>();
    // Claims are paid to a funder (positive rows) or by the guarantee company (negative
    // rows, its money out as a disbursement is).
    let claims = total(&claimed, 2);
    let (claims_in, claims_out) = (claims.max(0), (-claims).max(0));
    assert_eq!(out, total(&disbursed, 0) + claims_out, "{at}");
    assert_eq!(
        collected,
        total(&repaid, 4) + total(&recovered, 0) + claims_in + total(&drawn, 0),
        "{at}"
    );
    // Overdue: the loans past due at the end of the day, with their days past due.
    let listed: BTreeMap<Uuid, u32> = text("overdue.csv")
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].parse().unwrap(), c[2].parse().unwrap())
        })
        .collect();
    // A loan whose guarantor holds all the partner had of it is no longer the partner's.
    let owed: BTreeMap<Uuid, u32> = overdue
        .iter()
        .filter(|(id, _)| {
            let b = balances.get(&id.to_string());
            b.is_some_and(|b| b[..4].iter().any(|x| *x != 0))
        })
        .map(|(id, dpd)| (*id, *dpd))
        .collect();
    assert_eq!(listed, owed, "{at}: overdue loans");
    // The manifest describes the same files and carries a signed tree head.
    if with_manifest {
        let m = recon::manifest(e, tenant, partner, date).await.unwrap();
        assert!(m.closed, "{at}: the day is closed");
        for f in &m.files {
            assert_eq!(&files[f.name].1, f, "{at}: {}", f.name);
        }
        assert!(m.tree_head.tree_size > 0);
    }
    balances
}
