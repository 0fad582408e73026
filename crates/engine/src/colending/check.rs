//! `ledger verify`'s co-lending check: every holder's control accounts equal the sum of its
//! bookings over the co-lent loans, each loan's positions equal its bookings, and each
//! first-loss deposit's drawn total is its loans' draws, within its cap.

use super::books::{control_account, ACCOUNTS};
use super::docs::{decode, guarantor_holder, BalancesDoc, PositionsDoc, POSITIONS};
use ledger::AccountId;
use std::collections::BTreeMap;
use store::{DocFilter, Store};

const PAGE: u32 = 1_000;

fn balances_of(b: &BalancesDoc) -> [(&'static str, i64); 5] {
    [
        ("principal", b.principal_outstanding_minor),
        ("interest", b.interest_receivable_minor),
        ("fee", b.fee_receivable_minor),
        ("penalty", b.penalty_receivable_minor),
        ("written_off", b.written_off_minor),
    ]
}

/// One loan's problems: a position that differs from what was posted for it.
fn loan_problems(doc: &PositionsDoc) -> Vec<String> {
    let mut out = Vec::new();
    let mut holders: Vec<(String, &BalancesDoc)> = doc
        .funders
        .iter()
        .map(|f| (f.partner_id.to_string(), &f.balances))
        .collect();
    holders.push(("platform".into(), &doc.platform));
    if let Some(g) = &doc.guarantor {
        holders.push((guarantor_holder(g.terms.guarantor_id), &g.balances));
    }
    for (holder, balances) in holders {
        for (name, value) in balances_of(balances) {
            let posted = doc
                .memo
                .get(&format!("{holder}/{name}"))
                .copied()
                .unwrap_or(0);
            if posted != value {
                out.push(format!(
                    "loan {}: {holder} {name} position {value}, posted {posted}",
                    doc.loan_id
                ));
            }
        }
    }
    out
}

/// Compares control accounts with positions; `balance` gives an account's posted debit
/// minus credit (`None`: no such account).
pub async fn check_positions(
    store: &Store,
    balance: impl Fn(AccountId) -> Option<i128>,
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut sums: BTreeMap<(String, String, String, String), i128> = BTreeMap::new();
    let mut draws: BTreeMap<uuid::Uuid, i64> = BTreeMap::new();
    let mut after = None;
    loop {
        let rows = store
            .docs_page(DocFilter {
                kind: POSITIONS.into(),
                after,
                limit: PAGE,
                ..DocFilter::default()
            })
            .await?;
        for row in &rows {
            let doc: PositionsDoc = decode(row)?;
            problems.extend(loan_problems(&doc));
            if let (Some(f), Some(d)) = (doc.first_loss, doc.draw) {
                *draws.entry(f.deposit_id).or_insert(0) += d.amount_minor;
            }
            for (key, value) in &doc.memo {
                let (holder, name) = key.rsplit_once('/').unwrap_or((key, ""));
                let k = (
                    doc.tenant.clone(),
                    doc.currency.code().to_string(),
                    holder.to_string(),
                    name.to_string(),
                );
                *sums.entry(k).or_insert(0) += i128::from(*value);
            }
        }
        if (rows.len() as u32) < PAGE {
            break;
        }
        after = rows.last().map(|r| r.id);
    }
    // Accounts of partners that hold nothing must hold nothing: every partner's accounts
    // (and the platform's service-fee books beside the platform's own partner) are checked.
    let mut after = None;
    loop {
        let rows = store
            .docs_page(DocFilter {
                kind: super::docs::PARTNER.into(),
                after,
                limit: PAGE,
                ..DocFilter::default()
            })
            .await?;
        for row in &rows {
            let p: super::docs::PartnerDoc = decode(row)?;
            // Any partner may guarantee another plan's loans.
            let mut holders = vec![p.id.to_string(), guarantor_holder(p.id)];
            if p.spec.kind == super::docs::Kind::Platform {
                holders.push("platform".into());
            }
            for holder in holders {
                for (name, _) in ACCOUNTS {
                    let k = (
                        p.tenant.clone(),
                        p.spec.currency.code().to_string(),
                        holder.clone(),
                        name.to_string(),
                    );
                    sums.entry(k).or_insert(0);
                }
            }
        }
        if (rows.len() as u32) < PAGE {
            break;
        }
        after = rows.last().map(|r| r.id);
    }
    for ((tenant, currency, holder, name), expected) in &sums {
        let Ok(ccy) = currency.parse::<money::Currency>() else {
            problems.push(format!("positions in unknown currency {currency}"));
            continue;
        };
        if !ACCOUNTS.iter().any(|(n, _)| n == name) {
            problems.push(format!("positions book an unknown account {holder}/{name}"));
            continue;
        }
        let id = control_account(tenant, ccy, holder, name);
        let actual = balance(id).unwrap_or(0);
        if actual != *expected {
            problems.push(format!(
                "control account {tenant} {currency} {holder}/{name}: balance {actual}, \
                 positions sum to {expected}"
            ));
        }
    }
    problems.extend(deposit_problems(store, draws).await?);
    Ok(problems)
}

/// Every deposit's drawn total is what its loans' positions say it paid, within its cap.
async fn deposit_problems(
    store: &Store,
    mut draws: BTreeMap<uuid::Uuid, i64>,
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut after = None;
    loop {
        let rows = store
            .docs_page(DocFilter {
                kind: super::first_loss::DEPOSIT.into(),
                after,
                limit: PAGE,
                ..DocFilter::default()
            })
            .await?;
        for row in &rows {
            let d: super::first_loss::DepositDoc = decode(row)?;
            let paid = draws.remove(&d.id).unwrap_or(0);
            if paid != d.drawn_minor || d.drawn_minor > d.cap_minor() {
                problems.push(format!(
                    "first-loss deposit {}: drawn {}, loans' draws {paid}, cap {}",
                    d.id,
                    d.drawn_minor,
                    d.cap_minor()
                ));
            }
        }
        if (rows.len() as u32) < PAGE {
            break;
        }
        after = rows.last().map(|r| r.id);
    }
    for (id, paid) in draws {
        problems.push(format!(
            "loans drew {paid} on first-loss deposit {id}, which is gone"
        ));
    }
    Ok(problems)
}
