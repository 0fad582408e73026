//! Loan applications: recorded with the contract terms they were priced at, and linked to
//! the credit decision that priced them. No money moves until disbursement.

use super::{links, open_day, LoanUseError, LoanView};
use crate::Engine;
use lending::codec::encode_loan;
use lending::loan::{self, Loan};
use store::{DomainWrite, LoanEvent, LoanRow};
use uuid::Uuid;

pub struct Application {
    pub id: Uuid,
    pub tenant: String,
    pub borrower: String,
    pub product_id: Uuid,
    pub product_version: i32,
    pub config: loan::LoanConfig,
    /// The stored credit decision the loan was decided and priced by.
    pub decision_id: Option<String>,
}

/// Records an application (no money moves). Retrying the same id returns the stored loan.
pub async fn apply_for_loan(
    engine: &Engine,
    a: Application,
) -> Result<(LoanView, bool), LoanUseError> {
    let _admitted = engine
        .admit(crate::controls::Admission::Loan {
            tenant: &a.tenant,
            product_id: a.product_id,
        })
        .await?;
    // Checking that a decision is unused and linking it are one step for other requests.
    let _uses = match a.decision_id {
        Some(_) => Some(engine.decision_uses().lock().await),
        None => None,
    };
    if let Some(row) = engine.store().loan(a.id).await? {
        let view = LoanView::decode(row)?;
        let same = view.row.borrower == a.borrower
            && view.row.product_id == a.product_id
            && view.loan.config == a.config
            && links::decision_of(engine, a.id).await? == a.decision_id;
        if !same {
            return Err(LoanUseError::Refused(format!(
                "loan {} exists with other terms",
                a.id
            )));
        }
        return Ok((view, true));
    }
    super::refuse_halted(engine, &a.borrower).await?;
    if let Some(d) = &a.decision_id {
        links::check_unused(engine, d, a.id).await?;
    }
    let today = open_day(engine).await?;
    let signed = Loan::signed(a.config, today);
    let state = encode_loan(&signed);
    let row = LoanRow {
        id: a.id,
        partition: store::loan_partition(a.id),
        tenant: a.tenant,
        borrower: a.borrower,
        product_id: a.product_id,
        product_version: a.product_version,
        stage: "applied".into(),
        day: today.to_epoch_days(),
        open: false,
        version: 1,
        dpd: 0,
        state: state.clone(),
    };
    let event = LoanEvent {
        loan_id: a.id,
        seq: 0,
        day: row.day,
        kind: "signed".into(),
        body: state,
    };
    let mut domain = vec![
        DomainWrite::Loan {
            row: row.clone(),
            expected_version: None,
        },
        DomainWrite::LoanEvent(event),
    ];
    if let Some(d) = &a.decision_id {
        domain.extend(links::link_writes(a.id, d));
    }
    engine.submit_with(Vec::new(), domain).await?;
    Ok((LoanView { row, loan: signed }, false))
}
