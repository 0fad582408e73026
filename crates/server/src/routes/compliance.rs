//! Compliance at the edge of each action: the facts a term loan application, a credit line
//! opening or limit change needs (the customer, its exposure across products and funders
//! with the new amount, the all-in APR, the purpose, the co-lending plan's platform share)
//! evaluated against the rule packs in force; a breach answers 422 with the rule id as
//! `code` before anything is written. And the report over the whole book.

use crate::app::AppState;
use crate::auth::Principal;
use crate::problem::ApiError;
use api::FieldError;
use api::Problem;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use compliance::{
    AnnualIncome, Breach, ColendingFacts, CustomerFacts, CustomerKind, Exposure, Facts, LenderKind,
    LoanFacts, PackSet, Purpose, Scope,
};
use engine::customers::{self as cu, CustomerDoc, ExposureItem, Profile};
use engine::Engine;
use money::{BusinessDate, Decimal, Money};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use store::DocFilter;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/compliance/report", get(report))
}

/// The purposes a loan application may declare, as the API spells them.
pub const PURPOSES: &[(&str, Purpose)] = &[
    ("consumption", Purpose::Consumption),
    ("business_operation", Purpose::BusinessOperation),
    ("education", Purpose::Education),
    ("medical", Purpose::Medical),
    ("home_improvement", Purpose::HomeImprovement),
    ("securities", Purpose::Securities),
    ("property_down_payment", Purpose::PropertyDownPayment),
    ("loan_repayment", Purpose::LoanRepayment),
    ("other", Purpose::Other),
];

pub fn parse_purpose(raw: Option<&str>) -> Result<Purpose, api::FieldError> {
    let raw = raw.unwrap_or("consumption");
    PURPOSES
        .iter()
        .find(|(name, _)| *name == raw)
        .map(|(_, p)| *p)
        .ok_or_else(|| {
            let names: Vec<&str> = PURPOSES.iter().map(|(n, _)| *n).collect();
            api::FieldError::new("purpose", format!("must be one of {}", names.join(", ")))
        })
}

/// The first breach as the 422 problem: `code` is the rule id, `field` the request field
/// the rule reads.
pub fn breach_problem(b: &Breach, field: &str) -> ApiError {
    Problem::new(
        422,
        &b.rule_id,
        "Refused by a compliance rule; nothing changed",
        format!(
            "{} (observed {}, limit {}; pack {} version {})",
            b.message, b.observed, b.limit, b.pack_id, b.pack_version
        ),
    )
    .with_field(field)
    .into()
}

/// The request field a rule's breach is about.
fn field_of(rule_kind: compliance::RuleKind, amount_field: &str) -> String {
    use compliance::RuleKind as K;
    match rule_kind {
        K::IndividualBalanceMax | K::IncomeShareMax | K::EnterpriseBalanceMax => {
            amount_field.into()
        }
        K::AllInAprMax => "rate".into(),
        K::NoStudents => "borrower".into(),
        K::BannedPurposes => "purpose".into(),
        K::PlatformShareMin => "product_id".into(),
        _ => "".into(),
    }
}

fn exposure_fact(i: &ExposureItem) -> Exposure {
    Exposure {
        product_id: format!("{}:{}", i.product, i.id),
        funder_id: i
            .funder_id
            .map_or_else(|| "platform".into(), |f| f.to_string()),
        // The platform lends as an online micro-loan company; its funding partners are
        // banks. A partner's own kind is not consulted yet.
        funder_kind: if i.funder_id.is_some() {
            LenderKind::CommercialBank
        } else {
            LenderKind::OnlineMicroLoanCompany
        },
        consumer_credit: true,
        // What a line may still draw counts as well as what it owes.
        principal: Money::from_minor(i.principal_minor.max(i.limit_minor), i.currency),
    }
}

/// A customer's facts with its exposure items; `None` for a borrower without a profile.
pub fn customer_facts(doc: &CustomerDoc, items: &[ExposureItem]) -> Option<CustomerFacts> {
    let exposure = items.iter().map(exposure_fact).collect();
    match doc.profile.as_ref()? {
        Profile::Individual(p) => Some(CustomerFacts {
            kind: CustomerKind::Individual,
            student: p.student,
            income_history: vec![AnnualIncome {
                year: doc.created_on.year(),
                amount: Money::from_minor(p.annual_income_minor, p.currency),
            }],
            exposure,
        }),
        Profile::Enterprise(_) => Some(CustomerFacts {
            kind: CustomerKind::Enterprise,
            student: false,
            income_history: Vec::new(),
            exposure,
        }),
    }
}

/// The customer a loan or line names, when the name is a customer id of the tenant.
async fn customer_of(
    engine: &Engine,
    tenant: &str,
    borrower: &str,
) -> Result<Option<CustomerDoc>, ApiError> {
    let Ok(id) = Uuid::parse_str(borrower.trim()) else {
        return Ok(None);
    };
    match cu::customer_doc(engine, tenant, id).await {
        Ok(doc) => Ok(Some(doc)),
        Err(cu::CustomerError::NotFound) => Ok(None),
        Err(e) => Err(crate::routes::customers::customer_error(e)),
    }
}

fn first_breach(
    packs: &PackSet,
    scope: Scope,
    facts: &Facts,
    on: BusinessDate,
    amount_field: &str,
) -> Result<(), ApiError> {
    match packs.evaluate(scope, facts, on).first() {
        None => Ok(()),
        Some(b) => {
            let kind = packs
                .rule(&b.rule_id, on)
                .map(|(_, r)| r.condition.kind())
                .ok();
            let field = kind.map_or_else(String::new, |k| field_of(k, amount_field));
            Err(breach_problem(b, &field))
        }
    }
}

/// What a term loan application brings to the rules.
pub struct LoanCheck<'a> {
    pub loan_id: Uuid,
    pub borrower: &'a str,
    pub product_id: Uuid,
    pub principal: Money,
    pub purpose: Purpose,
    pub all_in_apr_percent: Decimal,
}

/// Refuses an application that breaks an origination rule in force on `on`.
pub async fn check_loan(
    s: &AppState,
    tenant: &str,
    on: BusinessDate,
    c: LoanCheck<'_>,
) -> Result<(), ApiError> {
    let mut facts = Facts {
        loan: Some(LoanFacts {
            purpose: c.purpose,
            all_in_apr_percent: c.all_in_apr_percent,
        }),
        ..Facts::default()
    };
    if let Some(doc) = customer_of(&s.engine, tenant, c.borrower).await? {
        let mut e = cu::exposure(&s.engine, tenant, doc.id)
            .await
            .map_err(crate::routes::customers::customer_error)?;
        e.items.retain(|i| i.id != c.loan_id);
        e.items.push(ExposureItem {
            product: "term_loan",
            id: c.loan_id,
            funder_id: None,
            currency: c.principal.currency(),
            principal_minor: c.principal.amount_minor(),
            limit_minor: 0,
        });
        facts.customer = customer_facts(&doc, &e.items);
    }
    if let Ok(plan) = engine::colending::plan(&s.engine, tenant, c.product_id).await {
        let p = &plan.doc;
        // A routed plan chooses shares at disbursement, never giving the platform less
        // than the plan's minimum.
        let platform_share: Decimal = match p.spec.routing {
            Some(_) => p.spec.platform_share_min,
            None => p
                .spec
                .shares
                .iter()
                .filter(|sh| sh.partner_id == p.platform_partner_id)
                .map(|sh| sh.share)
                .sum(),
        };
        facts.colending = Some(ColendingFacts { platform_share });
    }
    first_breach(
        &s.customers.packs(),
        Scope::Origination,
        &facts,
        on,
        "amount_minor",
    )
}

/// [`check_loan`] for an application priced as `config`, disbursed on `on`.
pub async fn check_application(
    s: &AppState,
    tenant: &str,
    on: BusinessDate,
    loan_id: Uuid,
    req: &api::LoanApplicationRequest,
    config: &lending::loan::LoanConfig,
) -> Result<(), ApiError> {
    let purpose = parse_purpose(req.purpose.as_deref())?;
    let apr = lending::cap::loan_apr(&config.repayment, config.principal, on)
        .map_err(|e| api::FieldError::new("term_months", e.to_string()))?;
    check_loan(
        s,
        tenant,
        on,
        LoanCheck {
            loan_id,
            borrower: &req.borrower,
            product_id: req.product_id,
            principal: config.principal,
            purpose,
            all_in_apr_percent: apr.percent,
        },
    )
    .await
}

/// Refuses opening a line (`Scope::Origination`) or changing its limit
/// (`Scope::LimitChange`) to `limit_minor` when the borrower's exposure with it breaks a
/// rule in force on `on`.
pub async fn check_line(
    s: &AppState,
    tenant: &str,
    on: BusinessDate,
    scope: Scope,
    borrower_id: Uuid,
    line_id: Uuid,
    limit: Money,
) -> Result<(), ApiError> {
    let Some(doc) = customer_of(&s.engine, tenant, &borrower_id.to_string()).await? else {
        return Ok(());
    };
    let mut e = cu::exposure(&s.engine, tenant, doc.id)
        .await
        .map_err(crate::routes::customers::customer_error)?;
    let owed = e
        .items
        .iter()
        .find(|i| i.id == line_id)
        .map_or(0, |i| i.principal_minor);
    e.items.retain(|i| i.id != line_id);
    e.items.push(ExposureItem {
        product: "credit_line",
        id: line_id,
        funder_id: None,
        currency: limit.currency(),
        principal_minor: owed,
        limit_minor: limit.amount_minor(),
    });
    let facts = Facts {
        customer: customer_facts(&doc, &e.items),
        ..Facts::default()
    };
    first_breach(&s.customers.packs(), scope, &facts, on, "limit_minor")
}

/// [`check_line`] for a line about to be opened (not for a retry of one stored).
pub async fn check_new_line(
    s: &AppState,
    tenant: &str,
    line_id: Uuid,
    borrower_id: Uuid,
    limit: Money,
) -> Result<(), ApiError> {
    if s.engine.store().doc(line_id).await?.is_some() {
        return Ok(());
    }
    let on = engine::revolving::business_day(&s.engine)
        .await
        .map_err(|e| crate::problem::internal(&e.to_string()))?;
    check_line(
        s,
        tenant,
        on,
        Scope::Origination,
        borrower_id,
        line_id,
        limit,
    )
    .await
}

/// [`check_line`] for a request to set a line's limit to `limit_minor`; the borrower's
/// exposure lock is held from the check on, for the caller to keep until the change is
/// written.
pub async fn check_limit_change(
    s: &AppState,
    tenant: &str,
    line_id: Uuid,
    limit_minor: i64,
) -> Result<Option<crate::exposure_lock::ExposureGuard>, ApiError> {
    let Ok(l) = engine::revolving::line(&s.engine, tenant, line_id).await else {
        // The use case answers an unknown line itself.
        return Ok(None);
    };
    let guard = s
        .exposure_locks
        .lock(tenant, &l.doc.borrower_id.to_string())
        .await;
    let on = engine::revolving::business_day(&s.engine)
        .await
        .map_err(|e| crate::problem::internal(&e.to_string()))?;
    let limit = Money::from_minor(limit_minor, l.doc.line.terms.currency);
    check_line(
        s,
        tenant,
        on,
        Scope::LimitChange,
        l.doc.borrower_id,
        line_id,
        limit,
    )
    .await?;
    Ok(Some(guard))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// The business date whose rules apply (`YYYY-MM-DD`); the open business date by
    /// default.
    pub on: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportFinding {
    /// `customer:<id>` or `loan:<id>`.
    pub subject: String,
    pub observed: String,
    pub limit: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleFindings {
    pub rule_id: String,
    pub message: String,
    pub count: usize,
    /// The first 1,000 findings.
    pub findings: Vec<ReportFinding>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComplianceReport {
    pub on: String,
    pub customers_checked: usize,
    pub loans_checked: usize,
    pub breach_count: usize,
    pub rules: Vec<RuleFindings>,
}

const FINDINGS_SHOWN_MAX: usize = 1000;
const PAGE_ROWS: u32 = 500;

fn add(out: &mut BTreeMap<String, RuleFindings>, subject: String, breaches: Vec<Breach>) {
    for b in breaches {
        let r = out
            .entry(b.rule_id.clone())
            .or_insert_with(|| RuleFindings {
                rule_id: b.rule_id.clone(),
                message: b.message.clone(),
                count: 0,
                findings: Vec::new(),
            });
        r.count += 1;
        if r.findings.len() < FINDINGS_SHOWN_MAX {
            r.findings.push(ReportFinding {
                subject: subject.clone(),
                observed: b.observed.to_string(),
                limit: b.limit.to_string(),
            });
        }
    }
}

/// Every customer (with its exposure across loans, lines and funders) and every co-lent
/// loan (its platform share) checked against the book rules in force on `on`. The book is
/// read a page at a time; only the findings are kept.
pub async fn book_report(
    engine: &Engine,
    packs: &PackSet,
    tenant: Option<String>,
    on: BusinessDate,
) -> anyhow::Result<ComplianceReport> {
    let mut rules = BTreeMap::new();
    let mut customers_checked = 0;
    let mut after = None;
    loop {
        let rows = engine
            .store()
            .docs_page(DocFilter {
                kind: engine::revolving::BORROWER.into(),
                tenant: tenant.clone(),
                after,
                limit: PAGE_ROWS,
                ..DocFilter::default()
            })
            .await?;
        for row in &rows {
            let doc = cu::decode(row)?;
            if doc.profile.is_none() {
                continue;
            }
            customers_checked += 1;
            let e = cu::exposure(engine, &doc.tenant, doc.id)
                .await
                .map_err(|e| anyhow::anyhow!("exposure of {}: {e}", doc.id))?;
            let facts = Facts {
                customer: customer_facts(&doc, &e.items),
                ..Facts::default()
            };
            add(
                &mut rules,
                format!("customer:{}", doc.id),
                packs.evaluate(Scope::Book, &facts, on),
            );
        }
        if (rows.len() as u32) < PAGE_ROWS {
            break;
        }
        after = rows.last().map(|r| r.id);
    }
    let mut loans_checked = 0;
    let mut after = None;
    loop {
        let (docs, next) =
            engine::colending::list_positions(engine, tenant.clone(), after, PAGE_ROWS)
                .await
                .map_err(|e| anyhow::anyhow!("co-lent loans: {e}"))?;
        for d in &docs {
            loans_checked += 1;
            let platform: Decimal = d
                .funders
                .iter()
                .filter(|f| f.partner_id == d.platform_partner_id)
                .map(|f| f.share)
                .sum();
            let facts = Facts {
                colending: Some(ColendingFacts {
                    platform_share: platform,
                }),
                ..Facts::default()
            };
            add(
                &mut rules,
                format!("loan:{}", d.loan_id),
                packs.evaluate(Scope::Book, &facts, on),
            );
        }
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let rules: Vec<RuleFindings> = rules.into_values().collect();
    Ok(ComplianceReport {
        on: on.to_string(),
        customers_checked,
        loans_checked,
        breach_count: rules.iter().map(|r| r.count).sum(),
        rules,
    })
}

/// The book checked against the rules in force: breaches listed by rule.
#[utoipa::path(get, path = "/v1/compliance/report", params(ReportQuery),
    responses((status = 200, body = ComplianceReport), (status = 400, body = Problem)),
    security(("api_key" = [])), tag = "compliance")]
pub async fn report(
    p: Principal,
    State(s): State<AppState>,
    Query(q): Query<ReportQuery>,
) -> Result<Json<ComplianceReport>, ApiError> {
    let on = match q.on.as_deref() {
        Some(raw) => raw
            .parse::<BusinessDate>()
            .map_err(|_| FieldError::new("on", "must be a date YYYY-MM-DD"))?,
        None => engine::revolving::business_day(&s.engine)
            .await
            .map_err(|e| crate::problem::internal(&e.to_string()))?,
    };
    let tenant = (p.tenant != "*").then(|| p.tenant.clone());
    let packs = s.customers.packs();
    Ok(Json(book_report(&s.engine, &packs, tenant, on).await?))
}
