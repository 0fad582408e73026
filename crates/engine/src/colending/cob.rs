//! Close of business for co-lent loans: the day a loan is written (billed, charged a
//! penalty, overdue, written off) moves its funders' positions and control accounts in the
//! same batch as the loan's row, so positions are current every day, not only at the
//! loan's next command. A quiet day (accrual only) moves no position: accrued interest is
//! not split until it is billed.
//!
//! The day is folded onto the positions as stored (`books::resume`), the same state a
//! replay of the loan's journal reaches, so the loan's next command finds nothing of the
//! day left to post.

use super::books::{self, Booked, Memo};
use super::docs::{
    claim_id, decode, encode, positions_doc_id, write, ClaimDoc, ClaimPaid, ClaimParty,
    ClaimRecord, Place, PositionsDoc, Versioned, POSITIONS,
};
use super::moves;
use crate::{Command, Engine};
use ledger::{EntryId, EntryRequest};
use lending::loan::{Loan, LoanStatus, PostingIntent};
use lending::product::Component;
use money::{BusinessDate, Currency};
use std::collections::{BTreeMap, HashMap};
use store::{DocFilter, DomainWrite};
use uuid::Uuid;

/// The positions of a chunk's co-lent loans, by loan id.
pub(crate) type ChunkPositions = HashMap<Uuid, Versioned<PositionsDoc>>;

/// Whether any loan is co-lent: when none is, close of business skips the look-ups.
pub(crate) async fn any(engine: &Engine) -> anyhow::Result<bool> {
    let rows = engine
        .store()
        .docs_page(DocFilter {
            kind: POSITIONS.into(),
            limit: 1,
            ..DocFilter::default()
        })
        .await?;
    Ok(!rows.is_empty())
}

/// The positions of those of `loan_ids` that are co-lent, in one round trip.
pub(crate) async fn load(engine: &Engine, loan_ids: &[Uuid]) -> anyhow::Result<ChunkPositions> {
    let ids = loan_ids.iter().map(|id| positions_doc_id(*id)).collect();
    let mut out = HashMap::new();
    for row in engine.store().docs_by_ids(ids).await? {
        if row.kind != POSITIONS {
            continue;
        }
        let doc: PositionsDoc = decode(&row)?;
        out.insert(
            doc.loan_id,
            Versioned {
                doc,
                version: row.version,
            },
        );
    }
    Ok(out)
}

/// What one co-lent loan-day adds to its batch: its control-account deltas (debit minus
/// credit per `holder/account`) and the positions' and movement's writes.
pub(crate) struct DayMove {
    pub tenant: String,
    pub deltas: Memo,
    pub writes: Vec<DomainWrite>,
}

/// A batch's control-account deltas netted per tenant and `holder/account`.
pub(crate) type BatchControl = BTreeMap<(String, String), i64>;

pub(crate) fn add_control(control: &mut BatchControl, m: &DayMove) {
    for (key, delta) in &m.deltas {
        *control.entry((m.tenant.clone(), key.clone())).or_insert(0) += delta;
    }
}

/// The entries of a batch's netted deltas, at most eight holders each (a holder books in
/// at most eight accounts, so an entry stays within the ledger's 64 postings), with the
/// opens of their accounts (idempotent). Every holder's deltas sum to zero, so each entry
/// balances.
pub(crate) fn control_entries(
    control: BatchControl,
    currency: Currency,
    entry_id: impl Fn(usize) -> EntryId,
) -> Vec<Command> {
    let mut by_holder: BTreeMap<(String, String), Memo> = BTreeMap::new();
    for ((tenant, key), delta) in control {
        if delta == 0 {
            continue;
        }
        let (holder, name) = key.rsplit_once('/').expect("keys are holder/account");
        by_holder
            .entry((tenant, holder.to_string()))
            .or_default()
            .insert(name.to_string(), delta);
    }
    let groups: Vec<_> = by_holder.into_iter().collect();
    let mut commands = Vec::new();
    for (i, chunk) in groups.chunks(8).enumerate() {
        let mut postings = Vec::new();
        for ((tenant, holder), accounts) in chunk {
            assert_eq!(
                accounts.values().sum::<i64>(),
                0,
                "a holder's bookings balance"
            );
            let deltas: Memo = accounts
                .iter()
                .map(|(name, d)| (format!("{holder}/{name}"), *d))
                .collect();
            let (opens, p) = books::control_postings(tenant, currency, &deltas);
            commands.extend(opens);
            postings.extend(p);
        }
        commands.push(Command::Entry(EntryRequest {
            id: entry_id(i),
            currency,
            postings,
            memo: "funders' positions moved by close of business".into(),
        }));
    }
    commands
}

/// The guarantee claim (代偿) of the loan-day `day`, if its plan has a guarantee: from the
/// day the loan is `trigger_dpd` days past due, each day's claim takes over what the
/// funders then hold of its overdue principal and billed interest (the day it turns due,
/// then each new installment missed), until it is written off.
fn claim_due(
    funding: &colending::LoanFunding,
    doc: &PositionsDoc,
    after: &Loan,
    day: BusinessDate,
) -> Option<ClaimDoc> {
    let g = doc.guarantor.as_ref()?;
    let due = !funding.written_off
        && after.status == LoanStatus::Active
        && after.dpd >= g.terms.trigger_dpd;
    due.then(|| ClaimDoc {
        day,
        days_past_due: after.dpd,
        overdue_principal_minor: after.outstanding_minor(Component::Principal),
    })
}

/// What a claim paid each funder: the `compensated` flows the day booked for it.
fn claim_record(doc: &PositionsDoc, claim: &ClaimDoc, flows: &Memo) -> ClaimRecord {
    let guarantor = doc.guarantor.as_ref().expect("a claim has a guarantor");
    let paid = doc
        .funders
        .iter()
        .map(|f| {
            let taken = |balance: &str| {
                let key = format!("{}/compensated/{balance}", f.partner_id);
                -flows.get(&key).copied().unwrap_or(0)
            };
            ClaimPaid {
                partner_id: f.partner_id,
                principal_minor: taken("principal"),
                interest_minor: taken("interest"),
            }
        })
        .collect();
    ClaimRecord {
        claim_id: claim_id(doc.loan_id, claim.day),
        guarantor: ClaimParty {
            partner_id: guarantor.terms.guarantor_id,
        },
        days_past_due: claim.days_past_due,
        paid,
    }
}

/// Folds the loan-day `day` (its postings `intents`, the loan `after` it) onto the stored
/// positions; `None` when nothing moved.
pub(crate) fn day_move(
    stored: &Versioned<PositionsDoc>,
    after: &Loan,
    intents: &[PostingIntent],
    day: BusinessDate,
) -> anyhow::Result<Option<DayMove>> {
    let doc = &stored.doc;
    let mut funding = books::resume(doc, after.config.repayment.day_count)?;
    let mut booked = Booked {
        accounts: doc.memo.clone(),
        flows: doc.flows.clone(),
    };
    books::fold_source(&mut funding, &mut booked, intents, day)
        .map_err(|e| anyhow::anyhow!("loan {}: funders' positions on {day}: {e}", doc.loan_id))?;
    let mut new_doc = doc.clone();
    let mut paid = None;
    if let Some(claim) = claim_due(&funding, doc, after, day) {
        if books::pay_claim(&mut funding, &mut booked, doc.loan_id, &claim)? {
            paid = Some(claim);
        }
    }
    let deltas = books::difference(&doc.memo, &booked.accounts);
    let flows = books::difference(&doc.flows, &booked.flows);
    let claim = paid.map(|c| {
        new_doc.claims.push(c);
        claim_record(doc, &c, &flows)
    });
    // The deposit is drawn once the day's partitions are all committed (`first_loss`).
    let draw_due = (!doc.written_off && funding.written_off && doc.first_loss.is_some())
        .then(|| super::first_loss::due_write(doc, day));
    let moved = moves::Moved {
        deltas: deltas.clone(),
        flows,
        claim,
    };
    books::refresh(&mut new_doc, &funding, booked);
    let overdue = moves::overdue_since(after, day);
    let moved = moves::record(&mut new_doc, overdue, moved, day, "cob".into());
    let Some(moved) = moved else {
        return Ok(None);
    };
    let positions = write(
        Place {
            kind: POSITIONS,
            id: positions_doc_id(doc.loan_id),
            tenant: &doc.tenant,
            parent: Some(doc.loan_id),
            open: after.status == LoanStatus::Active,
            day,
        },
        encode(&new_doc),
        Some(stored.version),
    );
    let mut writes = vec![positions, moved];
    writes.extend(draw_due);
    Ok(Some(DayMove {
        tenant: doc.tenant.clone(),
        deltas,
        writes,
    }))
}
