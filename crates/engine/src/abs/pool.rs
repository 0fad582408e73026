//! A deal's pool drawn from the live book: term loans that pass the criteria, each with the
//! platform's share of its outstanding principal (after co-lending only that share is the
//! platform's to sell), and one membership document per loan so no loan is in two pools.

use super::docs::{
    deal_write, load, pool_loan_doc_id, pool_loan_write, DealStatus, PoolCriteria, PoolDoc,
    PoolLoanDoc, PooledLoan, POOL_LOAN,
};
use super::{open_day, AbsError};
use crate::customers::{self, CustomerError, Profile};
use crate::loans::{self, LoanUseError, LoanView};
use crate::{colending, Engine, EngineError};
use lending::loan::{Loan, LoanStatus};
use lending::product::{Component, RepaymentMethod};
use money::{BusinessDate, Decimal};
use std::collections::BTreeMap;
use store::LoanFilter;
use uuid::Uuid;

const PAGE: u32 = 500;
/// The most loans one pool takes (its document holds them all).
pub const POOL_LOANS_MAX: usize = 20_000;

pub fn principal_paid_minor(loan: &Loan) -> i64 {
    loan.installments
        .iter()
        .map(|i| i.paid.get(Component::Principal))
        .sum()
}

pub fn interest_paid_minor(loan: &Loan) -> i64 {
    loan.installments
        .iter()
        .map(|i| i.paid.get(Component::Interest))
        .sum()
}

/// The platform's share of the loan's outstanding principal: its funder position when the
/// loan is co-lent, else all of it.
async fn platform_principal(engine: &Engine, view: &LoanView) -> Result<i64, AbsError> {
    let funding = colending::loan_funding(engine, view.row.id)
        .await
        .map_err(|e| anyhow::anyhow!("co-lending positions of {}: {e}", view.row.id))?;
    Ok(match funding {
        None => view.loan.principal_outstanding_minor(),
        Some(doc) => doc
            .funders
            .iter()
            .filter(|f| f.partner_id == doc.platform_partner_id)
            .map(|f| f.balances.principal_outstanding_minor)
            .sum(),
    })
}

/// The first rule the loan fails (the criteria's field name) with why, or its pool line.
pub(super) async fn measure(
    engine: &Engine,
    view: &LoanView,
    c: &PoolCriteria,
    deal_currency: money::Currency,
    as_of: BusinessDate,
) -> Result<Result<PooledLoan, (&'static str, String)>, AbsError> {
    let loan = &view.loan;
    if view.currency() != deal_currency {
        return Ok(Err(("currency", format!("in {}", view.currency().code()))));
    }
    if loan.status != LoanStatus::Active {
        return Ok(Err(("status", format!("{:?}, not active", loan.status))));
    }
    if loan.dpd > c.dpd_max {
        return Ok(Err(("dpd_max", format!("{} days past due", loan.dpd))));
    }
    let remaining = loan
        .installments
        .iter()
        .filter(|i| i.scheduled.due_date > as_of)
        .count() as u32;
    if c.remaining_term_months_min.is_some_and(|m| remaining < m) {
        let why = format!("{remaining} months left");
        return Ok(Err(("remaining_term_months_min", why)));
    }
    if c.remaining_term_months_max.is_some_and(|m| remaining > m) {
        let why = format!("{remaining} months left");
        return Ok(Err(("remaining_term_months_max", why)));
    }
    let disbursed = loan.disbursed_on.unwrap_or(as_of);
    let seasoning_days = as_of.to_epoch_days() - disbursed.to_epoch_days();
    if c.seasoning_days_min
        .is_some_and(|m| i64::from(seasoning_days) < i64::from(m))
    {
        let why = format!("seasoned {seasoning_days} days");
        return Ok(Err(("seasoning_days_min", why)));
    }
    if !c.product_ids.is_empty() && !c.product_ids.contains(&view.row.product_id) {
        let why = format!("product {}", view.row.product_id);
        return Ok(Err(("product_ids", why)));
    }
    let outstanding = loan.principal_outstanding_minor();
    let sold = platform_principal(engine, view).await?;
    if sold <= 0 || outstanding <= 0 {
        return Ok(Err((
            "platform_share",
            "the platform holds none of it".into(),
        )));
    }
    let repayment = &loan.config.repayment;
    let annual_rate = repayment
        .rate
        .annual(repayment.day_count)
        .map(|r| r.fraction())
        .unwrap_or_default();
    Ok(Ok(PooledLoan {
        loan_id: view.row.id,
        borrower: view.row.borrower.clone(),
        region: region_of(engine, view).await?,
        product_id: view.row.product_id,
        principal_at_pool_minor: outstanding,
        share: Decimal::from(sold) / Decimal::from(outstanding),
        sold_minor: sold,
        principal_paid_minor: principal_paid_minor(loan),
        interest_paid_minor: interest_paid_minor(loan),
        written_off: false,
        repurchased: false,
        recovered_minor: 0,
        annual_rate,
        remaining_term_months: remaining,
        age_months: (loan.installments.len() as u32).saturating_sub(remaining),
        amortization: match repayment.method {
            RepaymentMethod::Annuity => "level_payment",
            RepaymentMethod::EqualPrincipal => "equal_principal",
            _ => "bullet",
        }
        .into(),
    }))
}

/// The borrower's profile region, or "" for a borrower with none (or not a customer).
async fn region_of(engine: &Engine, view: &LoanView) -> Result<String, AbsError> {
    let Ok(id) = Uuid::parse_str(&view.row.borrower) else {
        return Ok(String::new());
    };
    match customers::customer_doc(engine, &view.row.tenant, id).await {
        Ok(doc) => Ok(match doc.profile {
            Some(Profile::Individual(p)) => p.region_code,
            Some(Profile::Enterprise(p)) => p.region_code,
            None => String::new(),
        }),
        Err(CustomerError::NotFound) => Ok(String::new()),
        Err(e) => Err(AbsError::Storage(anyhow::anyhow!(
            "borrower of loan {}: {e}",
            view.row.id
        ))),
    }
}

fn check_criteria(c: &PoolCriteria) -> Result<(), AbsError> {
    for (field, share) in [
        ("criteria.borrower_share_max", c.borrower_share_max),
        ("criteria.region_share_max", c.region_share_max),
    ] {
        if share.is_some_and(|s| s <= Decimal::ZERO || s > Decimal::ONE) {
            return Err(AbsError::invalid(
                field,
                "out_of_range",
                "a fraction above 0 and at most 1",
            ));
        }
    }
    if let (Some(lo), Some(hi)) = (c.remaining_term_months_min, c.remaining_term_months_max) {
        if lo > hi {
            return Err(AbsError::invalid(
                "criteria.remaining_term_months_max",
                "out_of_order",
                "below remaining_term_months_min",
            ));
        }
    }
    if c.loan_ids
        .as_ref()
        .is_some_and(|l| l.len() > POOL_LOANS_MAX)
    {
        return Err(AbsError::invalid(
            "criteria.loan_ids",
            "too_many",
            format!("at most {POOL_LOANS_MAX} loans"),
        ));
    }
    Ok(())
}

pub(super) async fn pooled_elsewhere(
    engine: &Engine,
    loan_id: Uuid,
) -> Result<Option<Uuid>, AbsError> {
    let row = engine.store().doc(pool_loan_doc_id(loan_id)).await?;
    Ok(row.filter(|r| r.kind == POOL_LOAN).and_then(|r| r.parent))
}

/// What a concentration limit groups loans by.
#[derive(Clone, Copy)]
pub(super) enum Group {
    Borrower,
    Region,
}

impl Group {
    pub(super) fn of(self, l: &PooledLoan) -> &str {
        match self {
            Group::Borrower => &l.borrower,
            Group::Region => &l.region,
        }
    }

    fn field(self) -> &'static str {
        match self {
            Group::Borrower => "criteria.borrower_share_max",
            Group::Region => "criteria.region_share_max",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Group::Borrower => "borrower",
            Group::Region => "region",
        }
    }
}

/// The criteria's concentration limits.
pub(super) fn limits(c: &PoolCriteria) -> Vec<(Group, Decimal)> {
    [
        (Group::Borrower, c.borrower_share_max),
        (Group::Region, c.region_share_max),
    ]
    .into_iter()
    .filter_map(|(g, max)| Some((g, max?)))
    .collect()
}

/// The group above the share limit of the pool's total, if any, with the index of its
/// largest loan.
fn over_limit(loans: &[PooledLoan], group: Group, max: Decimal) -> Option<(String, usize)> {
    let total: i64 = loans.iter().map(|l| l.sold_minor).sum();
    let mut by_group: BTreeMap<&str, i64> = BTreeMap::new();
    for l in loans {
        *by_group.entry(group.of(l)).or_insert(0) += l.sold_minor;
    }
    let (key, held) = by_group.into_iter().max_by_key(|&(_, v)| v)?;
    (Decimal::from(held) > max * Decimal::from(total)).then(|| {
        let largest = loans
            .iter()
            .enumerate()
            .filter(|(_, l)| group.of(l) == key)
            .max_by_key(|(_, l)| l.sold_minor)
            .map(|(i, _)| i)
            .expect("the group has a loan");
        (key.to_string(), largest)
    })
}

/// The loans a pool with `criteria` would take from `tenant`'s book on `as_of`, each with
/// the platform's share; nothing is stored (a deal's size can be set from it before the
/// deal is made). Forced loans (`loan_ids`) must each pass every rule and be in no other
/// pool; otherwise eligible loans already pooled elsewhere are passed over, and a borrower
/// or region above its share limit loses its largest loans until within it.
pub async fn select(
    engine: &Engine,
    tenant: &str,
    currency: money::Currency,
    criteria: &PoolCriteria,
    as_of: BusinessDate,
) -> Result<Vec<PooledLoan>, AbsError> {
    check_criteria(criteria)?;
    let load_loan = |id: Uuid| async move {
        match loans::load(engine, id).await {
            Ok(v) if v.row.tenant == tenant => Ok(Some(v)),
            Ok(_) | Err(LoanUseError::NotFound) => Ok(None),
            Err(e) => Err(AbsError::Storage(anyhow::anyhow!("loan {id}: {e}"))),
        }
    };
    let mut pooled = Vec::new();
    if let Some(ids) = &criteria.loan_ids {
        for (i, &id) in ids.iter().enumerate() {
            let field = format!("criteria.loan_ids[{i}]");
            let view = load_loan(id).await?.ok_or_else(|| {
                AbsError::invalid(&field, "unknown_loan", format!("no loan {id}"))
            })?;
            if let Some(other) = pooled_elsewhere(engine, id).await? {
                return Err(AbsError::invalid(
                    &field,
                    "loan_in_another_pool",
                    format!("loan {id} is in the pool of deal {other}"),
                ));
            }
            if pooled.iter().any(|l: &PooledLoan| l.loan_id == id) {
                return Err(AbsError::invalid(
                    &field,
                    "duplicate",
                    format!("loan {id} twice"),
                ));
            }
            match measure(engine, &view, criteria, currency, as_of).await? {
                Ok(line) => pooled.push(line),
                Err((rule, why)) => {
                    return Err(AbsError::invalid(
                        &format!("criteria.{rule}"),
                        "ineligible_loan",
                        format!("loan {id} fails {rule}: {why}"),
                    ))
                }
            }
        }
    } else {
        let mut after = None;
        loop {
            let rows = engine
                .store()
                .loans_page(LoanFilter {
                    tenant: Some(tenant.into()),
                    stage: Some("active".into()),
                    dpd_max: Some(i32::try_from(criteria.dpd_max).unwrap_or(i32::MAX)),
                    after,
                    limit: PAGE,
                    ..LoanFilter::default()
                })
                .await?;
            for row in &rows {
                if pooled_elsewhere(engine, row.id).await?.is_some() {
                    continue;
                }
                let Some(view) = load_loan(row.id).await? else {
                    continue;
                };
                if let Ok(line) = measure(engine, &view, criteria, currency, as_of).await? {
                    pooled.push(line);
                }
                if pooled.len() > POOL_LOANS_MAX {
                    return Err(AbsError::invalid(
                        "criteria",
                        "too_many",
                        format!("more than {POOL_LOANS_MAX} loans qualify; narrow the criteria"),
                    ));
                }
            }
            if rows.len() < PAGE as usize {
                break;
            }
            after = rows.last().map(|r| r.id);
        }
    }
    // Dropping a loan for one limit can put another group above its limit: check all
    // again until none is above.
    let limits = limits(criteria);
    while let Some((group, max, key, largest)) = limits
        .iter()
        .find_map(|&(g, max)| over_limit(&pooled, g, max).map(|(k, i)| (g, max, k, i)))
    {
        if criteria.loan_ids.is_some() {
            return Err(AbsError::invalid(
                group.field(),
                "ineligible_loan",
                format!(
                    "{} {key:?} would hold more than {max} of the pool",
                    group.name()
                ),
            ));
        }
        pooled.remove(largest);
    }
    if pooled.is_empty() {
        return Err(AbsError::invalid(
            "criteria",
            "empty_pool",
            "no loan qualifies",
        ));
    }
    Ok(pooled)
}

/// Selects the deal's pool ([`select`]) and stores it with the deal.
pub async fn pool_deal(
    engine: &Engine,
    tenant: &str,
    deal_id: Uuid,
    criteria: PoolCriteria,
) -> Result<PoolDoc, AbsError> {
    check_criteria(&criteria)?;
    let (mut deal, version) = load(engine, deal_id, tenant).await?;
    match deal.status {
        DealStatus::Draft => {}
        DealStatus::Pooled => {
            return Err(AbsError::conflict("already_pooled", "the deal has a pool"))
        }
        DealStatus::Closed => {
            return Err(AbsError::conflict("already_closed", "the deal is closed"))
        }
    }
    let as_of = open_day(engine).await?;
    // A key for every tenant acts on the deal's.
    let tenant = deal.tenant.clone();
    let tenant = tenant.as_str();
    let pooled = select(engine, tenant, deal.currency, &criteria, as_of).await?;
    let pool = PoolDoc {
        total_minor: pooled.iter().map(|l| l.sold_minor).sum(),
        criteria,
        as_of,
        loans: pooled,
    };
    let mut writes: Vec<_> = pool
        .loans
        .iter()
        .map(|l| {
            let doc = PoolLoanDoc {
                loan_id: l.loan_id,
                deal_id,
            };
            pool_loan_write(&doc, tenant, as_of)
        })
        .collect();
    deal.pool = Some(pool.clone());
    deal.status = DealStatus::Pooled;
    writes.push(deal_write(&deal, as_of, Some(version)));
    match engine.submit_with(Vec::new(), writes).await {
        Ok(_) => Ok(pool),
        Err(EngineError::StaleDoc { id }) => Err(AbsError::conflict(
            "changed_meanwhile",
            format!("{id} changed meanwhile (a loan pooled by another deal, or this deal); retry"),
        )),
        Err(e) => Err(e.into()),
    }
}
