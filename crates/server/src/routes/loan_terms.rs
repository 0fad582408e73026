//! A loan's price at origination: the credit decision it names, the rate it takes (the
//! request's, else the decision's, else the product's), and the product's cap on the
//! all-in APR with the loan's own amount, term, fee and dates (`lending::cap`).

use crate::app::AppState;
use crate::problem::{internal, ApiError};
use api::{parse_rate, FieldError, LoanApplicationRequest};
use lending::cap::{check_loan_apr, CapError};
use lending::loan::LoanConfig;
use lending::product::ContractRate;
use lending::{LoanProduct, RepaymentTerms};
use money::{BusinessDate, Money, RateAnnual};
use uuid::Uuid;

/// An application's contract terms and the decision it was made by.
pub(crate) struct Priced {
    pub config: LoanConfig,
    pub decision_id: Option<String>,
}

fn refused(field: &str, code: &'static str, message: String) -> ApiError {
    FieldError::refused(field, message, code).into()
}

/// What a named decision allows: checked against the application, with its price.
async fn decision_price(
    s: &AppState,
    req: &LoanApplicationRequest,
    decision_id: Uuid,
    loan_id: Uuid,
    amount: Money,
) -> Result<Option<ContractRate>, ApiError> {
    let id = decision_id.to_string();
    let row = s.engine.store().decision(&id).await?.ok_or_else(|| {
        refused(
            "decision_id",
            "unknown_decision",
            format!("no decision {id} is stored"),
        )
    })?;
    if row.applicant_id != req.borrower {
        return Err(refused(
            "decision_id",
            "decision_for_another_borrower",
            format!(
                "decision {id} is for applicant {:?}, not borrower {:?}",
                row.applicant_id, req.borrower
            ),
        ));
    }
    if row.outcome != "approve" {
        return Err(refused(
            "decision_id",
            "decision_not_approved",
            format!("decision {id} is {}, not approve", row.outcome),
        ));
    }
    if let Some(other) = engine::loans::links::loan_of_decision(&s.engine, &id).await? {
        if other != loan_id {
            return Err(refused(
                "decision_id",
                "decision_used",
                format!("decision {id} was already used for loan {other}"),
            ));
        }
    }
    // The decision's money is in its policy's currency; that is known while the policy it
    // was made under is the one loaded.
    let svc = &s.decisions;
    if row.policy_version == svc.policy_version && svc.currency() != amount.currency().code() {
        return Err(refused(
            "decision_id",
            "decision_currency",
            format!(
                "decision {id} is in {}, the product lends {}",
                svc.currency(),
                amount.currency().code()
            ),
        ));
    }
    let decision = crate::decisioning::stored_decision(&row.output_json)
        .map_err(|e| internal(&format!("stored decision output {id}: {e}")))?;
    if amount.amount_minor() > decision.limit_minor {
        return Err(refused(
            "amount_minor",
            "above_decision_limit",
            format!(
                "{} is above the limit of {} that decision {id} allows",
                amount,
                Money::from_minor(decision.limit_minor, amount.currency())
            ),
        ));
    }
    let Some(price) = decision.price else {
        return Ok(None);
    };
    let rate = RateAnnual::from_fraction(price.annual_rate)
        .ok()
        .map(ContractRate::Annual)
        .filter(|r| lending::schedule::rate_is_supported(r.fraction()));
    match rate {
        Some(rate) => Ok(Some(rate)),
        None => Err(refused(
            "decision_id",
            "decision_price_unusable",
            format!(
                "decision {id} prices at {}, which no loan can take",
                price.annual_rate
            ),
        )),
    }
}

/// The contract terms of an application: the decision it names checked, the rate chosen,
/// and the all-in APR held to the product's cap as if disbursed on `open`, the business
/// day (the disbursement is checked again on its own day).
pub(crate) async fn price(
    s: &AppState,
    req: &LoanApplicationRequest,
    loan_id: Uuid,
    product: &LoanProduct,
    write_off_dpd: u32,
    open: Option<BusinessDate>,
) -> Result<Priced, ApiError> {
    let amount = Money::from_minor(req.amount_minor, product.currency);
    let decided = match req.decision_id {
        Some(d) => decision_price(s, req, d, loan_id, amount).await?,
        None => None,
    };
    let explicit = req
        .rate
        .as_deref()
        .map(|r| parse_rate("rate", r))
        .transpose()?;
    let (rate, field) = match (explicit, decided) {
        (Some(rate), _) => (rate, "rate"),
        (None, Some(rate)) => (rate, "decision_id"),
        (None, None) => (product.contract_rate, "product_id"),
    };
    let annual = rate
        .annual(product.day_count)
        .map_err(|e| FieldError::new(field, e.to_string()))?;
    if annual > product.rate_cap {
        return Err(refused(
            field,
            "rate_above_cap",
            format!(
                "the contract rate {annual} is above the product's cap {}",
                product.rate_cap
            ),
        ));
    }
    let priced_product = LoanProduct {
        contract_rate: rate,
        ..product.clone()
    };
    let config = LoanConfig::from_product(&priced_product, amount, req.term_months, write_off_dpd)
        .map_err(|e| FieldError::new(field, e.to_string()))?;
    if let Some(day) = open {
        check_cap(&config.repayment, amount, day, product.rate_cap, field)?;
    }
    Ok(Priced {
        config,
        decision_id: req.decision_id.map(|d| d.to_string()),
    })
}

/// Holds one loan's all-in APR to `cap`: 422 `apr_above_cap` naming `field`.
pub(crate) fn check_cap(
    terms: &RepaymentTerms,
    principal: Money,
    disbursed_on: BusinessDate,
    cap: RateAnnual,
    field: &str,
) -> Result<(), ApiError> {
    match check_loan_apr(terms, principal, disbursed_on, cap) {
        Ok(_) => Ok(()),
        Err(e @ CapError::AboveCap { .. }) => Err(refused(field, "apr_above_cap", e.to_string())),
        Err(e) => Err(FieldError::new(field, e.to_string()).into()),
    }
}
