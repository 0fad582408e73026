//! What a customer owes and may draw: the outstanding principal of its term loans (each
//! funder's part of a co-lent one) and the limits and principal of its credit lines.

use super::CustomerError;
use crate::revolving::{self as rc, LineDoc};
use crate::Engine;
use lending::codec::decode_loan;
use lending::loan::LoanStatus;
use money::Currency;
use store::{DocFilter, LoanFilter};
use uuid::Uuid;

/// Rows read per page while walking a customer's loans and lines.
const PAGE_ROWS: u32 = 500;

/// One product's balance held by one funder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExposureItem {
    /// `term_loan` or `credit_line`.
    pub product: &'static str,
    /// The loan or the line.
    pub id: Uuid,
    /// The funding partner holding this part, `None` for the platform's own book.
    pub funder_id: Option<Uuid>,
    pub currency: Currency,
    /// Principal owed (for a loan applied for and not yet disbursed, the principal it
    /// will pay out: it counts against limits from the application on).
    pub principal_minor: i64,
    /// A credit line's limit (zero for loans).
    pub limit_minor: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exposure {
    pub items: Vec<ExposureItem>,
}

impl Exposure {
    /// Principal owed in `currency`, across every product and funder.
    pub fn principal_minor(&self, currency: Currency) -> i64 {
        self.items
            .iter()
            .filter(|i| i.currency == currency)
            .map(|i| i.principal_minor)
            .sum()
    }

    /// Credit lines' limits in `currency`.
    pub fn limit_minor(&self, currency: Currency) -> i64 {
        self.items
            .iter()
            .filter(|i| i.currency == currency)
            .map(|i| i.limit_minor)
            .sum()
    }

    /// For each product, the larger of what is owed and what may be drawn: the balance a
    /// borrower limit must allow for.
    pub fn committed_minor(&self, currency: Currency) -> i64 {
        self.items
            .iter()
            .filter(|i| i.currency == currency)
            .map(|i| i.principal_minor.max(i.limit_minor))
            .sum()
    }
}

/// The customer's exposure in its tenant. Loans are found by the (tenant, borrower)
/// index; lines walk the tenant's lines (documents have no index by parent).
pub async fn exposure(
    engine: &Engine,
    tenant: &str,
    customer_id: Uuid,
) -> Result<Exposure, CustomerError> {
    let mut out = loan_exposure(engine, tenant, customer_id).await?;
    line_exposure(engine, tenant, customer_id, &mut out).await?;
    Ok(out)
}

/// The term loans' part of [`exposure`] alone: who funds what needs no walk of the lines.
pub async fn loan_exposure(
    engine: &Engine,
    tenant: &str,
    customer_id: Uuid,
) -> Result<Exposure, CustomerError> {
    let mut out = Exposure::default();
    let mut after = None;
    loop {
        let rows = engine
            .store()
            .loans_page(LoanFilter {
                tenant: Some(tenant.into()),
                borrower: Some(customer_id.to_string()),
                after,
                limit: PAGE_ROWS,
                ..LoanFilter::default()
            })
            .await?;
        for row in &rows {
            let loan =
                decode_loan(&row.state).map_err(|e| anyhow::anyhow!("loan {}: {e}", row.id))?;
            let principal_minor = match loan.status {
                LoanStatus::Signed => loan.config.principal.amount_minor(),
                LoanStatus::Active => loan.principal_outstanding_minor(),
                LoanStatus::PaidOff | LoanStatus::WrittenOff => continue,
            };
            let currency = loan.config.principal.currency();
            let funding = crate::colending::loan_funding(engine, row.id)
                .await
                .map_err(|e| anyhow::anyhow!("positions of loan {}: {e}", row.id))?;
            match funding.filter(|f| f.totals.principal_outstanding_minor > 0) {
                Some(f) => {
                    for funder in &f.funders {
                        out.items.push(ExposureItem {
                            product: "term_loan",
                            id: row.id,
                            funder_id: Some(funder.partner_id),
                            currency,
                            principal_minor: funder.balances.principal_outstanding_minor,
                            limit_minor: 0,
                        });
                    }
                    out.items.push(ExposureItem {
                        product: "term_loan",
                        id: row.id,
                        funder_id: None,
                        currency,
                        principal_minor: f.platform.principal_outstanding_minor,
                        limit_minor: 0,
                    });
                }
                None => out.items.push(ExposureItem {
                    product: "term_loan",
                    id: row.id,
                    funder_id: None,
                    currency,
                    principal_minor,
                    limit_minor: 0,
                }),
            }
        }
        if (rows.len() as u32) < PAGE_ROWS {
            break;
        }
        after = rows.last().map(|r| r.id);
    }
    Ok(out)
}

async fn line_exposure(
    engine: &Engine,
    tenant: &str,
    customer_id: Uuid,
    out: &mut Exposure,
) -> Result<(), CustomerError> {
    let mut after = None;
    loop {
        let rows = engine
            .store()
            .docs_page(DocFilter {
                kind: rc::LINE.into(),
                tenant: Some(tenant.into()),
                parent: Some(customer_id),
                after,
                limit: PAGE_ROWS,
                ..DocFilter::default()
            })
            .await?;
        for row in &rows {
            let l: LineDoc = serde_json::from_slice(&row.body)
                .map_err(|e| anyhow::anyhow!("line {}: {e}", row.id))?;
            if l.borrower_id != customer_id {
                continue;
            }
            let closed = l.line.status == revolving::LineStatus::Closed;
            out.items.push(ExposureItem {
                product: "credit_line",
                id: l.id,
                funder_id: None,
                currency: l.line.terms.currency,
                principal_minor: l.line.principal_outstanding_minor(),
                limit_minor: if closed { 0 } else { l.line.limit_minor },
            });
        }
        // A parent filter may return short pages before the end: stop only on an empty one.
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
    }
    Ok(())
}
