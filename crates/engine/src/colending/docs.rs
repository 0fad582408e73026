//! The co-lending documents: funding partners, funding plans, each co-lent loan's positions
//! and each partner's disbursements of a day, with their conversion to `colending` types.

use super::ColendingError;
use crate::Engine;
use colending::{
    ApprovalMode, Balances, Candidate, ChargeRule, Eligibility, FundingPartner, FundingPlan,
    PartnerId, PartnerKind, RouteOrder, RoutingPolicy, Share,
};
use money::{BusinessDate, Currency, Decimal, RateAnnual};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;
use store::{DocRow, DomainWrite};
use uuid::Uuid;

pub const PARTNER: &str = "funding_partner";
/// A partner change as requested, under its Idempotency-Key (an event of the partner).
pub const PARTNER_CHANGE: &str = "partner_change";
pub const PLAN: &str = "funding_plan";
pub const POSITIONS: &str = "loan_funding";
pub const PARTNER_DAY: &str = "funding_partner_day";

/// Namespace of every id derived here.
pub(crate) const NS: Uuid = Uuid::from_u128(0x9c4e_0b7a_51d2_4e8f_a3c6_7d19_2f60_e845);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Bank,
    Trust,
    Platform,
    /// A financing guarantee company: it guarantees plans and funds no share.
    Guarantor,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityDoc {
    pub score_min: Option<Decimal>,
    pub amount_min_minor: Option<i64>,
    pub amount_max_minor: Option<i64>,
    pub term_months_min: Option<u32>,
    pub term_months_max: Option<u32>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub products: Vec<String>,
}

/// How a partner approves. A `Callback` partner is asked over HTTP at disbursement
/// (`approval.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ApprovalDoc {
    Auto,
    Callback {
        url: String,
        secret: String,
        timeout_ms: u32,
    },
}

/// What a partner is, as an operator states it (create or change).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerSpec {
    pub name: String,
    pub kind: Kind,
    pub currency: Currency,
    /// The partner's annual yield on its principal; absent: it earns interest pro rata.
    pub yield_annual: Option<Decimal>,
    pub quota_minor: i64,
    pub daily_quota_minor: i64,
    pub eligibility: EligibilityDoc,
    pub approval: ApprovalDoc,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerDoc {
    pub id: Uuid,
    pub tenant: String,
    #[serde(flatten)]
    pub spec: PartnerSpec,
    pub created_on: BusinessDate,
    pub changed_on: BusinessDate,
}

impl PartnerSpec {
    /// The domain partner; a yield the domain cannot hold as a rate is reported by
    /// `FundingPartner::validate` through [`PartnerSpec::validate`].
    pub fn to_domain(&self, id: Uuid) -> Result<FundingPartner, ColendingError> {
        let yield_annual = match self.yield_annual {
            None => None,
            Some(y) => Some(
                RateAnnual::from_fraction(y)
                    .map_err(|e| ColendingError::invalid("yield_annual", e.to_string()))?,
            ),
        };
        let e = &self.eligibility;
        Ok(FundingPartner {
            id: partner_id(id),
            name: self.name.clone(),
            kind: match self.kind {
                Kind::Bank => PartnerKind::Bank,
                Kind::Trust => PartnerKind::Trust,
                Kind::Platform => PartnerKind::Platform,
                Kind::Guarantor => PartnerKind::Guarantor,
            },
            currency: self.currency,
            yield_annual,
            quota_minor: self.quota_minor,
            daily_quota_minor: self.daily_quota_minor,
            eligibility: Eligibility {
                score_min: e.score_min,
                amount_min_minor: e.amount_min_minor,
                amount_max_minor: e.amount_max_minor,
                term_months_min: e.term_months_min,
                term_months_max: e.term_months_max,
                regions: e.regions.clone(),
                products: e.products.clone(),
            },
            approval: match &self.approval {
                ApprovalDoc::Auto => ApprovalMode::Auto,
                ApprovalDoc::Callback {
                    url,
                    secret,
                    timeout_ms,
                } => ApprovalMode::Callback {
                    url: url.clone(),
                    secret: secret.clone(),
                    timeout_ms: *timeout_ms,
                },
            },
        })
    }

    /// Every problem `colending` finds, each with its field.
    pub fn validate(&self, id: Uuid) -> Result<FundingPartner, ColendingError> {
        let partner = self.to_domain(id)?;
        partner
            .validate()
            .map_err(|errors| ColendingError::Invalid {
                errors: errors
                    .iter()
                    .map(|e| (e.field().to_string(), e.to_string()))
                    .collect(),
            })?;
        Ok(partner)
    }
}

pub fn partner_id(id: Uuid) -> PartnerId {
    PartnerId(id.as_u128())
}

pub fn partner_uuid(id: PartnerId) -> Uuid {
    Uuid::from_u128(id.0)
}

/// The platform's own partner of a tenant and currency: created with the first plan in
/// that currency, so every plan has its platform funder without an operator's step.
pub fn platform_partner_id(tenant: &str, currency: Currency) -> Uuid {
    Uuid::new_v5(
        &NS,
        format!("platform:{tenant}:{}", currency.code()).as_bytes(),
    )
}

pub(crate) fn platform_spec(currency: Currency) -> PartnerSpec {
    PartnerSpec {
        name: "platform".into(),
        kind: Kind::Platform,
        currency,
        yield_annual: None,
        // The platform's own money is limited by its balance sheet, not by a quota here;
        // an operator may set one through a change.
        quota_minor: i64::MAX,
        daily_quota_minor: i64::MAX,
        eligibility: EligibilityDoc::default(),
        approval: ApprovalDoc::Auto,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeRuleDoc {
    Platform,
    ProRata,
    /// The guarantor's guarantee fee (a plan with a guarantee only).
    Guarantor,
}

impl From<ChargeRuleDoc> for ChargeRule {
    fn from(r: ChargeRuleDoc) -> ChargeRule {
        match r {
            ChargeRuleDoc::Platform => ChargeRule::Platform,
            ChargeRuleDoc::ProRata => ChargeRule::ProRata,
            ChargeRuleDoc::Guarantor => ChargeRule::Guarantor,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareDoc {
    pub partner_id: Uuid,
    pub share: Decimal,
}

/// How a routed plan ranks its candidates other than the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteOrderDoc {
    Priority,
    Cost,
    RemainingQuota,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateDoc {
    pub partner_id: Uuid,
    pub priority: u32,
    pub share_max: Decimal,
    pub book_share_max: Option<Decimal>,
}

/// A routing policy: the funders are chosen per loan (`colending::route`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDoc {
    pub candidates: Vec<CandidateDoc>,
    pub order: RouteOrderDoc,
    pub share_step: Decimal,
}

impl RoutingDoc {
    pub fn to_domain(&self) -> RoutingPolicy {
        RoutingPolicy {
            candidates: self
                .candidates
                .iter()
                .map(|c| Candidate {
                    partner_id: partner_id(c.partner_id),
                    priority: c.priority,
                    share_max: c.share_max,
                    book_share_max: c.book_share_max,
                })
                .collect(),
            order: match self.order {
                RouteOrderDoc::Priority => RouteOrder::Priority,
                RouteOrderDoc::Cost => RouteOrder::Cost,
                RouteOrderDoc::RemainingQuota => RouteOrder::RemainingQuota,
            },
            share_step: self.share_step,
        }
    }
}

/// A funding plan as an operator states it: fixed `shares`, or a `routing` policy (then
/// `shares` is empty).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSpec {
    pub shares: Vec<ShareDoc>,
    pub platform_share_min: Decimal,
    pub fees: ChargeRuleDoc,
    pub penalties: ChargeRuleDoc,
    /// A guarantor (融资担保) that pays the funders' overdue amounts (代偿).
    #[serde(default)]
    pub guarantee: Option<GuaranteeDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingDoc>,
    /// A first-loss deposit that bears the funders' written-off claims, up to its cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_loss: Option<FirstLossRef>,
}

/// A plan's (and a loan's) first-loss deposit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstLossRef {
    pub deposit_id: Uuid,
}

/// What the loan's first-loss deposit paid its funders when the loan was written off on
/// `day` (0 when the deposit had nothing left), which the fold replays to move the same
/// amounts again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawDoc {
    pub day: BusinessDate,
    pub amount_minor: i64,
}

impl PlanSpec {
    /// The partners the plan may fund loans from: its shares' or its candidates'.
    pub fn partner_ids(&self) -> Vec<Uuid> {
        match &self.routing {
            Some(r) => r.candidates.iter().map(|c| c.partner_id).collect(),
            None => self.shares.iter().map(|s| s.partner_id).collect(),
        }
    }

    /// The field listing the partners, as the API spells it.
    pub fn partners_field(&self) -> &'static str {
        match self.routing {
            Some(_) => "routing.candidates",
            None => "shares",
        }
    }

    pub fn to_domain(&self) -> FundingPlan {
        match &self.routing {
            Some(r) => FundingPlan::Routed(r.to_domain()),
            None => FundingPlan::Fixed(
                self.shares
                    .iter()
                    .map(|s| Share {
                        partner_id: partner_id(s.partner_id),
                        share: s.share,
                    })
                    .collect(),
            ),
        }
    }
}

/// A plan's guarantee: the guarantor (a funding partner that funds no share of the plan)
/// pays each funder's overdue principal and billed interest once the loan is
/// `trigger_dpd` days past due, and holds those claims from then on. Its fee is what the
/// plan's `fees: guarantor` gives it (the product's fee, in the borrower's APR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuaranteeDoc {
    pub guarantor_id: Uuid,
    pub trigger_dpd: u32,
}

/// The most days past due a guarantee may wait before it pays.
pub const TRIGGER_DPD_MAX: u32 = 365;

/// A loan's guarantor with what it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuarantorDoc {
    #[serde(flatten)]
    pub terms: GuaranteeDoc,
    pub balances: BalancesDoc,
}

/// A guarantee claim (代偿) close of business made on `day`: the loan's overdue principal
/// then, which the fold replays to move the same amounts again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimDoc {
    pub day: BusinessDate,
    pub days_past_due: u32,
    pub overdue_principal_minor: i64,
}

/// A guarantor's key in the bookings (`holder/account`), beside the funders' ids.
pub fn guarantor_holder(partner_id: Uuid) -> String {
    format!("guarantor:{partner_id}")
}

/// A claim's id: one per loan and day.
pub fn claim_id(loan_id: Uuid, day: BusinessDate) -> Uuid {
    Uuid::new_v5(&NS, format!("claim:{loan_id}:{day}").as_bytes())
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDoc {
    pub product_id: Uuid,
    pub tenant: String,
    pub currency: Currency,
    pub platform_partner_id: Uuid,
    #[serde(flatten)]
    pub spec: PlanSpec,
    pub changed_on: BusinessDate,
}

pub fn plan_doc_id(product_id: Uuid) -> Uuid {
    Uuid::new_v5(&NS, format!("plan:{product_id}").as_bytes())
}

/// One funder of a loan with its balances, as `GET /v1/loans/{id}` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunderDoc {
    pub partner_id: Uuid,
    pub share: Decimal,
    pub yield_annual: Option<Decimal>,
    pub principal_funded_minor: i64,
    pub balances: BalancesDoc,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancesDoc {
    pub principal_outstanding_minor: i64,
    pub interest_receivable_minor: i64,
    pub fee_receivable_minor: i64,
    pub penalty_receivable_minor: i64,
    pub written_off_minor: i64,
}

impl BalancesDoc {
    pub fn to_domain(self) -> Balances {
        Balances {
            principal_outstanding_minor: self.principal_outstanding_minor,
            interest_receivable_minor: self.interest_receivable_minor,
            fee_receivable_minor: self.fee_receivable_minor,
            penalty_receivable_minor: self.penalty_receivable_minor,
            written_off_minor: self.written_off_minor,
        }
    }
}

impl From<&Balances> for BalancesDoc {
    fn from(b: &Balances) -> BalancesDoc {
        BalancesDoc {
            principal_outstanding_minor: b.principal_outstanding_minor,
            interest_receivable_minor: b.interest_receivable_minor,
            fee_receivable_minor: b.fee_receivable_minor,
            penalty_receivable_minor: b.penalty_receivable_minor,
            written_off_minor: b.written_off_minor,
        }
    }
}

/// A co-lent loan's funding: the terms fixed at origination (a later plan change does not
/// touch them), the positions after the loan's last command, and what has been posted to
/// the control accounts for this loan (`memo`: debit minus credit per `holder/account`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionsDoc {
    pub loan_id: Uuid,
    pub tenant: String,
    pub currency: Currency,
    pub product_id: Uuid,
    pub platform_partner_id: Uuid,
    pub fees: ChargeRuleDoc,
    pub penalties: ChargeRuleDoc,
    pub funders: Vec<FunderDoc>,
    /// The platform's service fee (interest above funders' yields) and what it keeps.
    pub platform: BalancesDoc,
    pub totals: BalancesDoc,
    pub memo: BTreeMap<String, i64>,
    /// The date interest has been charged through, where the funders' next yield period
    /// starts; with `written_off`, what close of business needs to move the positions
    /// without replaying the loan.
    #[serde(default)]
    pub interest_from: Option<BusinessDate>,
    #[serde(default)]
    pub written_off: bool,
    /// The first day of the loan's current delinquency (its day less its DPD), if any.
    #[serde(default)]
    pub overdue_since: Option<BusinessDate>,
    /// Movements recorded so far (`MoveDoc`s); the next one's number.
    #[serde(default)]
    pub moves: u32,
    /// The gross flows booked so far per `holder/step/balance` (`books::Booked::flows`).
    #[serde(default)]
    pub flows: BTreeMap<String, i64>,
    /// The plan's guarantee at origination, with the guarantor's balances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guarantor: Option<GuarantorDoc>,
    /// Guarantee claims paid, in day order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<ClaimDoc>,
    /// The plan's first-loss deposit at origination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_loss: Option<FirstLossRef>,
    /// The deposit's draw on the loan's write-off, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draw: Option<DrawDoc>,
}

pub fn positions_doc_id(loan_id: Uuid) -> Uuid {
    Uuid::new_v5(&NS, format!("funding:{loan_id}").as_bytes())
}

pub const MOVE: &str = "funding_move";

/// What one command or one close-of-business day changed in a co-lent loan's positions,
/// kept (closed, under its business day) so a day's movements can be read back for the
/// reconciliation files. `deltas` is debit minus credit per `holder/account`, exactly what
/// was posted to the control accounts for the loan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveDoc {
    pub loan_id: Uuid,
    /// The loan's movements are numbered from 0 in the order they were committed.
    pub seq: u32,
    pub day: BusinessDate,
    /// `event:<seq>` for a loan command, `cob` for close of business.
    pub source: String,
    pub deltas: BTreeMap<String, i64>,
    /// The movement's flows per `holder/step/balance` (step: disbursed, charged, repaid,
    /// written_off): what the reconciliation files list.
    pub flows: BTreeMap<String, i64>,
    pub overdue_since_before: Option<BusinessDate>,
    pub overdue_since: Option<BusinessDate>,
    /// The guarantee claim this movement paid, if any (its `colending.guarantee_claimed`
    /// event reaches the guarantor and every funder it paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<ClaimRecord>,
}

/// What a guarantee claim paid: each funder's principal and interest taken over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    pub claim_id: Uuid,
    pub guarantor: ClaimParty,
    pub days_past_due: u32,
    pub paid: Vec<ClaimPaid>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimParty {
    pub partner_id: Uuid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimPaid {
    pub partner_id: Uuid,
    pub principal_minor: i64,
    pub interest_minor: i64,
}

pub fn move_doc_id(loan_id: Uuid, n: u32) -> Uuid {
    Uuid::new_v5(&NS, format!("move:{loan_id}:{n}").as_bytes())
}

/// What a partner disbursed on one business day, for its daily quota.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerDayDoc {
    pub partner_id: Uuid,
    pub day: BusinessDate,
    pub disbursed_minor: i64,
}

pub fn partner_day_id(partner: Uuid, day: BusinessDate) -> Uuid {
    Uuid::new_v5(&partner, format!("day:{day}").as_bytes())
}

/// A document and the version it was read at.
#[derive(Clone, Debug)]
pub struct Versioned<T> {
    pub doc: T,
    pub version: i64,
}

pub(crate) fn encode<T: Serialize>(doc: &T) -> Vec<u8> {
    serde_json::to_vec(doc).expect("documents serialize")
}

pub(crate) fn decode<T: DeserializeOwned>(row: &DocRow) -> anyhow::Result<T> {
    serde_json::from_slice(&row.body)
        .map_err(|e| anyhow::anyhow!("stored {} {} does not decode: {e}", row.kind, row.id))
}

/// A document of `kind` and `tenant` (any tenant's for `*`), or `None`.
pub(crate) async fn find<T: DeserializeOwned>(
    engine: &Engine,
    kind: &str,
    id: Uuid,
    tenant: &str,
) -> anyhow::Result<Option<Versioned<T>>> {
    let Some(row) = engine.store().doc(id).await? else {
        return Ok(None);
    };
    if row.kind != kind || (tenant != "*" && row.tenant != tenant) {
        return Ok(None);
    }
    Ok(Some(Versioned {
        doc: decode(&row)?,
        version: row.version,
    }))
}

pub(crate) struct Place<'a> {
    pub kind: &'a str,
    pub id: Uuid,
    pub tenant: &'a str,
    pub parent: Option<Uuid>,
    pub open: bool,
    pub day: BusinessDate,
}

pub(crate) fn write(at: Place<'_>, body: Vec<u8>, read_version: Option<i64>) -> DomainWrite {
    DomainWrite::Doc {
        row: DocRow {
            kind: at.kind.into(),
            id: at.id,
            tenant: at.tenant.into(),
            parent: at.parent,
            open: at.open,
            day: at.day.to_epoch_days(),
            version: read_version.map_or(1, |v| v + 1),
            body,
        },
        expected_version: read_version,
    }
}

/// What a create finds stored under its id: nothing (`None`: create it), the same fields
/// (`Some`: a replay), or anything else (a conflict: the id was used).
pub(crate) async fn stored_twin<T: DeserializeOwned>(
    engine: &Engine,
    kind: &str,
    id: Uuid,
    tenant: &str,
    same: impl Fn(&T) -> bool,
) -> Result<Option<Versioned<T>>, super::ColendingError> {
    let Some(row) = engine.store().doc(id).await? else {
        return Ok(None);
    };
    let stored: Option<T> = (row.kind == kind && row.tenant == tenant)
        .then(|| decode(&row))
        .transpose()?;
    match stored {
        Some(doc) if same(&doc) => Ok(Some(Versioned {
            doc,
            version: row.version,
        })),
        _ => Err(super::ColendingError::conflict(
            "id_reused",
            "this id was already used with different fields",
        )),
    }
}

/// A page of documents of `kind` in id order (the tenant's, or every tenant's for
/// `None`), and the next page's `after` when the page is full.
pub(crate) async fn page<T: DeserializeOwned>(
    engine: &Engine,
    kind: &str,
    tenant: Option<String>,
    after: Option<Uuid>,
    limit: u32,
) -> anyhow::Result<(Vec<Versioned<T>>, Option<Uuid>)> {
    let rows = engine
        .store()
        .docs_page(store::DocFilter {
            kind: kind.into(),
            tenant,
            after,
            limit,
            ..store::DocFilter::default()
        })
        .await?;
    let next = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(Versioned {
            doc: decode(row)?,
            version: row.version,
        });
    }
    Ok((out, next))
}
