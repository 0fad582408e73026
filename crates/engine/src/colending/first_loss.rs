//! First-loss deposits: money the platform puts up to bear its co-lending funders' first
//! losses on a named portfolio, drawn at most up to a percentage of that portfolio's
//! principal. A plan names its deposit; each loan keeps it from origination.
//!
//! A loan written off by close of business leaves a `first_loss_due` marker under the day
//! in its batch. Once every partition of the day is committed, close of business draws
//! the deposit for the day's markers one loan at a time, in loan-id order: the funders'
//! written-off claims pass to the platform (so later recoveries on them are the
//! platform's), each draw commits with the positions, the movement, the control-account
//! entries and the deposit's new drawn total, and a loan is drawn once. Loan commands
//! wait for close of business, so nothing else moves these positions meanwhile.

use super::books::{self, Booked};
use super::docs::{
    decode, encode, find, positions_doc_id, write, DrawDoc, Place, PositionsDoc, Versioned, NS,
    POSITIONS,
};
use super::{moves, ColendingError};
use crate::Engine;
use colending::{FirstLossDeposit, GuaranteeError};
use money::{BusinessDate, Currency, DayCount, Decimal};
use serde::{Deserialize, Serialize};
use store::DomainWrite;
use uuid::Uuid;

pub const DEPOSIT: &str = "first_loss_deposit";
pub const DRAW_DUE: &str = "first_loss_due";

/// A deposit as an operator states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositSpec {
    /// The portfolio the deposit covers, by name.
    pub portfolio: String,
    pub currency: Currency,
    /// The most the deposit pays, as a fraction of the portfolio's principal.
    pub cap_fraction: Decimal,
    /// The portfolio's principal the cap is a fraction of, fixed when the deposit is set.
    pub portfolio_principal_minor: i64,
    pub deposited_minor: i64,
}

impl DepositSpec {
    fn to_domain(&self) -> Result<FirstLossDeposit, ColendingError> {
        FirstLossDeposit::new(
            self.portfolio.clone(),
            self.cap_fraction,
            self.portfolio_principal_minor,
            self.deposited_minor,
        )
        .map_err(|e| match e {
            GuaranteeError::Field { field, reason } => ColendingError::invalid(field, reason),
            other => ColendingError::invalid("", other.to_string()),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositDoc {
    pub id: Uuid,
    pub tenant: String,
    #[serde(flatten)]
    pub spec: DepositSpec,
    /// What draws have paid so far.
    pub drawn_minor: i64,
    /// Loans whose write-off drew on the deposit (a draw of 0 counts: the loan was seen).
    pub loans_drawn: u64,
    pub created_on: BusinessDate,
}

impl DepositDoc {
    /// The most the deposit can ever pay: what was deposited, and no more than the cap
    /// (rounded toward zero).
    pub fn cap_minor(&self) -> i64 {
        let d = self.spec.to_domain().expect("stored deposits are valid");
        d.cap_minor()
    }

    pub fn available_minor(&self) -> i64 {
        (self.cap_minor() - self.drawn_minor).max(0)
    }
}

fn deposit_write(doc: &DepositDoc, day: BusinessDate, read_version: Option<i64>) -> DomainWrite {
    write(
        Place {
            kind: DEPOSIT,
            id: doc.id,
            tenant: &doc.tenant,
            parent: None,
            open: true,
            day,
        },
        encode(doc),
        read_version,
    )
}

/// Creates a deposit, or answers the stored one when the same id comes again with the
/// same fields (`true` = replay).
pub async fn create_deposit(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
    spec: DepositSpec,
) -> Result<(Versioned<DepositDoc>, bool), ColendingError> {
    spec.to_domain()?;
    let same = |d: &DepositDoc| d.spec == spec;
    if let Some(v) = super::docs::stored_twin(engine, DEPOSIT, id, tenant, same).await? {
        return Ok((v, true));
    }
    let day = crate::business_day::business_date(engine)
        .await?
        .ok_or_else(|| {
            ColendingError::conflict("no_business_date", "no business date is open yet")
        })?;
    let doc = DepositDoc {
        id,
        tenant: tenant.into(),
        spec,
        drawn_minor: 0,
        loans_drawn: 0,
        created_on: day,
    };
    engine
        .submit_with(Vec::new(), vec![deposit_write(&doc, day, None)])
        .await
        .map_err(|e| match e {
            crate::EngineError::StaleDoc { .. } => ColendingError::conflict(
                "changed_meanwhile",
                "another request created this id meanwhile; read it and retry",
            ),
            other => other.into(),
        })?;
    Ok((Versioned { doc, version: 1 }, false))
}

/// A deposit of the tenant (any tenant's for `*`).
pub async fn deposit(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
) -> Result<Versioned<DepositDoc>, ColendingError> {
    find(engine, DEPOSIT, id, tenant)
        .await?
        .ok_or(ColendingError::NotFound("first-loss deposit"))
}

/// Deposits in id order, `limit` a page; the next page's `after`, if there may be one.
pub async fn list_deposits(
    engine: &Engine,
    tenant: Option<String>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<(Vec<Versioned<DepositDoc>>, Option<Uuid>), ColendingError> {
    Ok(super::docs::page(engine, DEPOSIT, tenant, after, limit).await?)
}

/// A plan's deposit: known in the tenant, in the plan's currency.
pub(crate) async fn validate_plan_deposit(
    engine: &Engine,
    tenant: &str,
    deposit_id: Uuid,
    currency: Currency,
) -> Result<(), ColendingError> {
    let field = "first_loss.deposit_id";
    match find::<DepositDoc>(engine, DEPOSIT, deposit_id, tenant).await? {
        None => Err(ColendingError::invalid(field, "no such first-loss deposit")),
        Some(d) if d.doc.spec.currency != currency => Err(ColendingError::invalid(
            field,
            "the deposit is in another currency than the plan",
        )),
        Some(_) => Ok(()),
    }
}

#[derive(Serialize, Deserialize)]
struct DueDoc {
    loan_id: Uuid,
}

/// The marker a loan's write-off leaves when its positions name a deposit (closed, under
/// the day, so the day's draw finds it).
pub(crate) fn due_write(doc: &PositionsDoc, day: BusinessDate) -> DomainWrite {
    let id = Uuid::new_v5(&NS, format!("first_loss_due:{}", doc.loan_id).as_bytes());
    write(
        Place {
            kind: DRAW_DUE,
            id,
            tenant: &doc.tenant,
            parent: Some(doc.loan_id),
            open: false,
            day,
        },
        encode(&DueDoc {
            loan_id: doc.loan_id,
        }),
        None,
    )
}

const PAGE: u32 = 1000;

/// Draws the deposits for the loans written off on `day`; returns how many loans drew.
/// A re-run draws only the loans not drawn yet.
pub(crate) async fn draw_due(engine: &Engine, day: BusinessDate) -> anyhow::Result<u64> {
    let d = day.to_epoch_days();
    let mut loans = Vec::new();
    let mut after = None;
    loop {
        let rows = engine
            .store()
            .closed_docs_by_day(DRAW_DUE, d, d, after, PAGE)
            .await?;
        for row in &rows {
            loans.push(decode::<DueDoc>(row)?.loan_id);
        }
        match rows.last() {
            Some(last) if rows.len() as u32 == PAGE => after = Some((last.day, last.id)),
            _ => break,
        }
    }
    loans.sort();
    let mut drawn = 0;
    for loan_id in loans {
        if draw_one(engine, loan_id, day).await? {
            drawn += 1;
        }
    }
    Ok(drawn)
}

async fn draw_one(engine: &Engine, loan_id: Uuid, day: BusinessDate) -> anyhow::Result<bool> {
    let id = positions_doc_id(loan_id);
    let stored = find::<PositionsDoc>(engine, POSITIONS, id, "*")
        .await?
        .ok_or_else(|| anyhow::anyhow!("loan {loan_id}: a first-loss marker without positions"))?;
    let doc = &stored.doc;
    let (None, Some(first_loss)) = (doc.draw, doc.first_loss) else {
        return Ok(false);
    };
    let deposit = find::<DepositDoc>(engine, DEPOSIT, first_loss.deposit_id, &doc.tenant)
        .await?
        .ok_or_else(|| anyhow::anyhow!("loan {loan_id}: its first-loss deposit is gone"))?;
    // A draw moves written-off claims only; no interest is charged, so the day count the
    // agreement is rebuilt with does not enter.
    let mut funding = books::resume(doc, DayCount::Act365F)?;
    let mut booked = Booked {
        accounts: doc.memo.clone(),
        flows: doc.flows.clone(),
    };
    let available_minor = deposit.doc.available_minor();
    let paid_minor = books::draw_first_loss_of(
        &mut funding,
        &mut booked,
        loan_id,
        doc.platform_partner_id,
        available_minor,
    )?;
    let mut new_doc = doc.clone();
    let deltas = books::difference(&doc.memo, &booked.accounts);
    let flows = books::difference(&doc.flows, &booked.flows);
    books::refresh(&mut new_doc, &funding, booked);
    new_doc.draw = Some(DrawDoc {
        day,
        amount_minor: paid_minor,
    });
    let entry_name = format!("first_loss:{day}");
    let commands = books::post_difference(&new_doc, &doc.memo, &new_doc.memo, &entry_name);
    let moved = moves::Moved {
        deltas,
        flows,
        claim: None,
    };
    let overdue = doc.overdue_since;
    let mut domain: Vec<DomainWrite> = Vec::with_capacity(3);
    domain.extend(moves::record(
        &mut new_doc,
        overdue,
        moved,
        day,
        "first_loss".into(),
    ));
    domain.push(write(
        Place {
            kind: POSITIONS,
            id,
            tenant: &doc.tenant,
            parent: Some(loan_id),
            open: false,
            day,
        },
        encode(&new_doc),
        Some(stored.version),
    ));
    let mut dep = deposit.doc.clone();
    dep.drawn_minor += paid_minor;
    dep.loans_drawn += 1;
    assert!(
        dep.drawn_minor <= dep.cap_minor(),
        "a first-loss deposit never pays beyond its cap"
    );
    domain.push(deposit_write(&dep, day, Some(deposit.version)));
    engine.submit_waiting(commands, domain).await?;
    Ok(true)
}
