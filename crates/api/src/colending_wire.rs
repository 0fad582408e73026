//! Co-lending on the wire: funding partners, a product's funding plan, and a loan's
//! per-funder positions. Rates and shares are decimal strings; amounts minor units.

use crate::FieldError;
use engine::colending::{
    guarantor_holder, ApprovalDoc, CandidateDoc, ChargeRuleDoc, EligibilityDoc, FirstLossRef,
    FunderDoc, GuaranteeDoc, Kind, PartnerDoc, PartnerSpec, PlanDoc, PlanSpec, PositionsDoc,
    RouteOrderDoc, RoutingDoc, ShareDoc, Versioned,
};
use money::{Currency, Decimal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Bounds on what a partner's lists may hold.
const LIST_ITEMS_MAX: usize = 200;
const NAME_BYTES_MAX: usize = 200;

pub(crate) fn decimal(field: &str, text: &str) -> Result<Decimal, FieldError> {
    let text = text.trim();
    let bad = || FieldError::new(field, format!("must be a decimal string, got {text:?}"));
    if text.is_empty() || text.len() > 40 {
        return Err(bad());
    }
    text.parse::<Decimal>().map_err(|_| bad())
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityWire {
    /// The lowest credit score accepted, a decimal string.
    pub score_min: Option<String>,
    pub amount_min_minor: Option<i64>,
    pub amount_max_minor: Option<i64>,
    pub term_months_min: Option<u32>,
    pub term_months_max: Option<u32>,
    /// Regions served; empty means any.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Product ids funded; empty means any.
    #[serde(default)]
    pub products: Vec<String>,
}

/// `{"mode":"auto"}` or `{"mode":"callback","url","secret","timeout_ms"}`. A callback
/// partner is stored, but approval by callback is not called yet: loans that need it are
/// declined (docs/co-lending.md).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalWire {
    /// `auto` or `callback`.
    pub mode: String,
    pub url: Option<String>,
    /// The HMAC-SHA256 key (at least 16 bytes); never returned.
    #[serde(skip_serializing)]
    pub secret: Option<String>,
    pub timeout_ms: Option<u32>,
}

/// A funding partner as created or changed.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundingPartnerRequest {
    /// Defaults to the Idempotency-Key.
    pub id: Option<Uuid>,
    pub name: String,
    /// `bank`, `trust` or `guarantor` (a financing guarantee company, which guarantees
    /// plans and funds no share); the platform's own partner is created with its first plan.
    pub kind: String,
    /// ISO 4217.
    pub currency: String,
    /// The partner's interest yield a year, e.g. "0.068"; absent: pro-rata interest.
    pub yield_annual: Option<String>,
    /// Cap on the partner's outstanding principal.
    pub quota_minor: i64,
    /// Cap on what the partner disburses in one business day.
    pub daily_quota_minor: i64,
    #[serde(default)]
    pub eligibility: EligibilityWire,
    pub approval: ApprovalWire,
}

impl FundingPartnerRequest {
    /// The engine's partner; field errors name the field. `colending` checks the rest.
    pub fn parse(&self) -> Result<PartnerSpec, FieldError> {
        crate::check_name("name", &self.name, NAME_BYTES_MAX)?;
        let kind = match self.kind.as_str() {
            "bank" => Kind::Bank,
            "trust" => Kind::Trust,
            "platform" => Kind::Platform,
            "guarantor" => Kind::Guarantor,
            other => {
                return Err(FieldError::new(
                    "kind",
                    format!("must be bank, trust, platform or guarantor, got {other:?}"),
                ))
            }
        };
        let currency: Currency = self.currency.parse().map_err(|_| {
            FieldError::new("currency", format!("unknown currency {:?}", self.currency))
        })?;
        let yield_annual = match &self.yield_annual {
            Some(y) => Some(decimal("yield_annual", y)?),
            None => None,
        };
        let e = &self.eligibility;
        for (field, list) in [
            ("eligibility.regions", &e.regions),
            ("eligibility.products", &e.products),
        ] {
            if list.len() > LIST_ITEMS_MAX {
                return Err(FieldError::new(
                    field,
                    format!("at most {LIST_ITEMS_MAX} items"),
                ));
            }
            for item in list {
                if item.len() > NAME_BYTES_MAX {
                    return Err(FieldError::new(field, "an item is too long"));
                }
            }
        }
        let score_min = match &e.score_min {
            Some(s) => Some(decimal("eligibility.score_min", s)?),
            None => None,
        };
        Ok(PartnerSpec {
            name: self.name.clone(),
            kind,
            currency,
            yield_annual,
            quota_minor: self.quota_minor,
            daily_quota_minor: self.daily_quota_minor,
            eligibility: EligibilityDoc {
                score_min,
                amount_min_minor: e.amount_min_minor,
                amount_max_minor: e.amount_max_minor,
                term_months_min: e.term_months_min,
                term_months_max: e.term_months_max,
                regions: e.regions.clone(),
                products: e.products.clone(),
            },
            approval: self.approval.parse()?,
        })
    }
}

impl ApprovalWire {
    fn parse(&self) -> Result<ApprovalDoc, FieldError> {
        match self.mode.as_str() {
            "auto" => Ok(ApprovalDoc::Auto),
            "callback" => Ok(ApprovalDoc::Callback {
                url: self
                    .url
                    .clone()
                    .ok_or_else(|| FieldError::new("approval.url", "required for callback"))?,
                secret: self
                    .secret
                    .clone()
                    .ok_or_else(|| FieldError::new("approval.secret", "required for callback"))?,
                timeout_ms: self.timeout_ms.ok_or_else(|| {
                    FieldError::new("approval.timeout_ms", "required for callback")
                })?,
            }),
            other => Err(FieldError::new(
                "approval.mode",
                format!("must be auto or callback, got {other:?}"),
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FundingPartnerResponse {
    pub id: Uuid,
    pub version: i64,
    pub name: String,
    pub kind: String,
    pub currency: String,
    pub yield_annual: Option<String>,
    pub quota_minor: i64,
    pub daily_quota_minor: i64,
    pub eligibility: EligibilityWire,
    /// The approval mode; a callback's secret is never shown.
    pub approval: ApprovalWire,
    pub created_on: String,
    pub changed_on: String,
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Bank => "bank",
        Kind::Trust => "trust",
        Kind::Guarantor => "guarantor",
        Kind::Platform => "platform",
    }
}

impl From<&Versioned<PartnerDoc>> for FundingPartnerResponse {
    fn from(v: &Versioned<PartnerDoc>) -> Self {
        let p = &v.doc;
        let s = &p.spec;
        let e = &s.eligibility;
        let approval = match &s.approval {
            ApprovalDoc::Auto => ApprovalWire {
                mode: "auto".into(),
                url: None,
                secret: None,
                timeout_ms: None,
            },
            ApprovalDoc::Callback {
                url, timeout_ms, ..
            } => ApprovalWire {
                mode: "callback".into(),
                url: Some(url.clone()),
                secret: None,
                timeout_ms: Some(*timeout_ms),
            },
        };
        FundingPartnerResponse {
            id: p.id,
            version: v.version,
            name: s.name.clone(),
            kind: kind_name(s.kind).into(),
            currency: s.currency.code().into(),
            yield_annual: s.yield_annual.map(|y| y.normalize().to_string()),
            quota_minor: s.quota_minor,
            daily_quota_minor: s.daily_quota_minor,
            eligibility: EligibilityWire {
                score_min: e.score_min.map(|x| x.normalize().to_string()),
                amount_min_minor: e.amount_min_minor,
                amount_max_minor: e.amount_max_minor,
                term_months_min: e.term_months_min,
                term_months_max: e.term_months_max,
                regions: e.regions.clone(),
                products: e.products.clone(),
            },
            approval,
            created_on: p.created_on.to_string(),
            changed_on: p.changed_on.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FundingPartnerPage {
    pub items: Vec<FundingPartnerResponse>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareWire {
    pub partner_id: Uuid,
    /// A decimal string in (0, 1]; a plan's shares sum to exactly 1.
    pub share: String,
}

/// A product's fixed funding plan. The platform's own partner (created with the first
/// plan in a currency) must be one of the funders, at or above `platform_share_min`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundingPlanRequest {
    /// A fixed plan's shares; empty (or absent) for a routed plan.
    #[serde(default)]
    pub shares: Vec<ShareWire>,
    /// Default "0.3", the rule for internet lending partners.
    pub platform_share_min: Option<String>,
    /// Who owns fees charged: `platform` (default), `pro_rata` by principal held, or
    /// `guarantor` (the guarantee fee; a plan with a `guarantee` only).
    pub fees: Option<String>,
    /// Who owns penalty interest: `platform` (default), `pro_rata` or `guarantor`.
    pub penalties: Option<String>,
    /// A guarantor (融资担保) that pays the funders' overdue amounts (代偿).
    pub guarantee: Option<GuaranteeWire>,
    /// A routing policy that chooses each loan's funders at disbursement, instead of
    /// fixed `shares`.
    pub routing: Option<RoutingWire>,
    /// A first-loss deposit (`POST /v1/first-loss-deposits`) that bears the funders'
    /// written-off claims of the plan's loans, up to its cap.
    pub first_loss: Option<FirstLossWire>,
}

/// A plan's first-loss deposit.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstLossWire {
    pub deposit_id: Uuid,
}

/// A routed plan: the platform first takes `platform_share_min`; the other candidates,
/// ranked by `order` (ties by `priority`, then id), each take as much as they may — their
/// `share_max`, and what their quota, daily quota and `book_share_max` (their cap on the
/// co-lent book's principal, counting this loan) leave — in multiples of `share_step`;
/// the platform takes the rest, up to its own `share_max`. A funder that declines at
/// approval, or is in an outage, is passed over.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingWire {
    /// The funders that may be chosen; the platform's own partner must be one.
    pub candidates: Vec<CandidateWire>,
    /// `priority` (lowest first), `cost` (lowest yield first) or `remaining_quota` (most
    /// room first).
    pub order: String,
    /// Default "0.01".
    pub share_step: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidateWire {
    pub partner_id: Uuid,
    /// Lower ranks first; defaults to the candidate's place in the list.
    pub priority: Option<u32>,
    /// The most of one loan the partner funds, a decimal string in (0, 1].
    pub share_max: String,
    /// The most of the co-lent book's principal the partner may hold, in (0, 1].
    pub book_share_max: Option<String>,
}

impl RoutingWire {
    fn parse(&self) -> Result<RoutingDoc, FieldError> {
        let order = match self.order.as_str() {
            "priority" => RouteOrderDoc::Priority,
            "cost" => RouteOrderDoc::Cost,
            "remaining_quota" => RouteOrderDoc::RemainingQuota,
            other => {
                return Err(FieldError::new(
                    "routing.order",
                    format!("must be priority, cost or remaining_quota, got {other:?}"),
                ))
            }
        };
        if self.candidates.len() > engine::colending::FUNDERS_MAX {
            return Err(FieldError::new(
                "routing.candidates",
                format!("at most {} funders", engine::colending::FUNDERS_MAX),
            ));
        }
        let mut candidates = Vec::with_capacity(self.candidates.len());
        for (i, c) in self.candidates.iter().enumerate() {
            let at = |f: &str| format!("routing.candidates[{i}].{f}");
            let book_share_max = match &c.book_share_max {
                Some(b) => Some(decimal(&at("book_share_max"), b)?),
                None => None,
            };
            candidates.push(CandidateDoc {
                partner_id: c.partner_id,
                priority: c.priority.unwrap_or(i as u32),
                share_max: decimal(&at("share_max"), &c.share_max)?,
                book_share_max,
            });
        }
        let share_step = match &self.share_step {
            Some(s) => decimal("routing.share_step", s)?,
            None => Decimal::new(1, 2),
        };
        Ok(RoutingDoc {
            candidates,
            order,
            share_step,
        })
    }

    fn of(r: &RoutingDoc) -> RoutingWire {
        RoutingWire {
            candidates: r
                .candidates
                .iter()
                .map(|c| CandidateWire {
                    partner_id: c.partner_id,
                    priority: Some(c.priority),
                    share_max: c.share_max.normalize().to_string(),
                    book_share_max: c.book_share_max.map(|b| b.normalize().to_string()),
                })
                .collect(),
            order: match r.order {
                RouteOrderDoc::Priority => "priority",
                RouteOrderDoc::Cost => "cost",
                RouteOrderDoc::RemainingQuota => "remaining_quota",
            }
            .into(),
            share_step: Some(r.share_step.normalize().to_string()),
        }
    }
}

/// A plan's guarantee. From the day a loan is `trigger_dpd` days past due, close of
/// business has the guarantor pay each funder its overdue principal and billed interest,
/// and the guarantor holds those claims (later repayments and recoveries pay it first).
/// Its fee is the product's fee, given to it by `fees: "guarantor"`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuaranteeWire {
    /// A funding partner that funds no share of the plan.
    pub guarantor_id: Uuid,
    /// 1 to 365.
    pub trigger_dpd: u32,
}

fn charge_rule(field: &str, raw: Option<&str>) -> Result<ChargeRuleDoc, FieldError> {
    match raw.unwrap_or("platform") {
        "platform" => Ok(ChargeRuleDoc::Platform),
        "pro_rata" => Ok(ChargeRuleDoc::ProRata),
        "guarantor" => Ok(ChargeRuleDoc::Guarantor),
        other => Err(FieldError::new(
            field,
            format!("must be platform, pro_rata or guarantor, got {other:?}"),
        )),
    }
}

fn charge_rule_name(r: ChargeRuleDoc) -> &'static str {
    match r {
        ChargeRuleDoc::Platform => "platform",
        ChargeRuleDoc::ProRata => "pro_rata",
        ChargeRuleDoc::Guarantor => "guarantor",
    }
}

impl FundingPlanRequest {
    pub fn parse(&self) -> Result<PlanSpec, FieldError> {
        let mut shares = Vec::with_capacity(self.shares.len());
        if self.shares.len() > engine::colending::FUNDERS_MAX {
            return Err(FieldError::new(
                "shares",
                format!("at most {} funders", engine::colending::FUNDERS_MAX),
            ));
        }
        for (i, s) in self.shares.iter().enumerate() {
            shares.push(ShareDoc {
                partner_id: s.partner_id,
                share: decimal(&format!("shares[{i}].share"), &s.share)?,
            });
        }
        let platform_share_min = match &self.platform_share_min {
            Some(m) => decimal("platform_share_min", m)?,
            None => colending_default_minimum(),
        };
        Ok(PlanSpec {
            shares,
            platform_share_min,
            fees: charge_rule("fees", self.fees.as_deref())?,
            penalties: charge_rule("penalties", self.penalties.as_deref())?,
            guarantee: self.guarantee.as_ref().map(|g| GuaranteeDoc {
                guarantor_id: g.guarantor_id,
                trigger_dpd: g.trigger_dpd,
            }),
            routing: match &self.routing {
                Some(r) => Some(r.parse()?),
                None => None,
            },
            first_loss: self.first_loss.map(|f| FirstLossRef {
                deposit_id: f.deposit_id,
            }),
        })
    }
}

fn colending_default_minimum() -> Decimal {
    Decimal::new(3, 1)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FundingPlanResponse {
    pub product_id: Uuid,
    pub version: i64,
    pub currency: String,
    /// The platform's own funding partner.
    pub platform_partner_id: Uuid,
    pub shares: Vec<ShareWire>,
    pub platform_share_min: String,
    pub fees: String,
    pub penalties: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guarantee: Option<GuaranteeWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_loss: Option<FirstLossWire>,
    pub changed_on: String,
}

impl From<&Versioned<PlanDoc>> for FundingPlanResponse {
    fn from(v: &Versioned<PlanDoc>) -> Self {
        let p = &v.doc;
        FundingPlanResponse {
            product_id: p.product_id,
            version: v.version,
            currency: p.currency.code().into(),
            platform_partner_id: p.platform_partner_id,
            shares: p
                .spec
                .shares
                .iter()
                .map(|s| ShareWire {
                    partner_id: s.partner_id,
                    share: s.share.normalize().to_string(),
                })
                .collect(),
            platform_share_min: p.spec.platform_share_min.normalize().to_string(),
            fees: charge_rule_name(p.spec.fees).into(),
            penalties: charge_rule_name(p.spec.penalties).into(),
            guarantee: p.spec.guarantee.map(|g| GuaranteeWire {
                guarantor_id: g.guarantor_id,
                trigger_dpd: g.trigger_dpd,
            }),
            routing: p.spec.routing.as_ref().map(RoutingWire::of),
            first_loss: p.spec.first_loss.map(|f| FirstLossWire {
                deposit_id: f.deposit_id,
            }),
            changed_on: p.changed_on.to_string(),
        }
    }
}

/// One funder's part of a loan after the loan's last command.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoanFundingWire {
    pub partner_id: Uuid,
    pub share: String,
    pub yield_annual: Option<String>,
    pub principal_funded_minor: i64,
    pub principal_outstanding_minor: i64,
    pub interest_receivable_minor: i64,
    pub fee_receivable_minor: i64,
    pub penalty_receivable_minor: i64,
    pub written_off_minor: i64,
}

impl From<&FunderDoc> for LoanFundingWire {
    fn from(f: &FunderDoc) -> Self {
        let b = &f.balances;
        LoanFundingWire {
            partner_id: f.partner_id,
            share: f.share.normalize().to_string(),
            yield_annual: f.yield_annual.map(|y| y.normalize().to_string()),
            principal_funded_minor: f.principal_funded_minor,
            principal_outstanding_minor: b.principal_outstanding_minor,
            interest_receivable_minor: b.interest_receivable_minor,
            fee_receivable_minor: b.fee_receivable_minor,
            penalty_receivable_minor: b.penalty_receivable_minor,
            written_off_minor: b.written_off_minor,
        }
    }
}

pub fn loan_funding_wire(doc: &PositionsDoc) -> Vec<LoanFundingWire> {
    doc.funders.iter().map(LoanFundingWire::from).collect()
}

/// A guarantee company's position in a loan it guarantees, as its positions list shows it:
/// share 0 (it funds none), `principal_funded_minor` the principal its claims paid, and the
/// balances of the claims it holds.
pub fn guarantor_position_wire(doc: &PositionsDoc, partner_id: Uuid) -> Option<LoanFundingWire> {
    let g = doc
        .guarantor
        .as_ref()
        .filter(|g| g.terms.guarantor_id == partner_id)?;
    let paid = doc
        .flows
        .get(&format!(
            "{}/compensated/principal",
            guarantor_holder(partner_id)
        ))
        .copied()
        .unwrap_or(0);
    let b = &g.balances;
    Some(LoanFundingWire {
        partner_id,
        share: "0".into(),
        yield_annual: None,
        principal_funded_minor: paid,
        principal_outstanding_minor: b.principal_outstanding_minor,
        interest_receivable_minor: b.interest_receivable_minor,
        fee_receivable_minor: b.fee_receivable_minor,
        penalty_receivable_minor: b.penalty_receivable_minor,
        written_off_minor: b.written_off_minor,
    })
}

/// A co-lent loan's guarantor: the claims it has taken over from the funders and its fee.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoanGuarantorWire {
    pub partner_id: Uuid,
    pub trigger_dpd: u32,
    /// What it has paid the funders (principal and interest) over the loan's claims.
    pub paid_minor: i64,
    /// Claims paid (one a day at most).
    pub claims: u32,
    pub principal_outstanding_minor: i64,
    pub interest_receivable_minor: i64,
    pub fee_receivable_minor: i64,
    pub penalty_receivable_minor: i64,
    pub written_off_minor: i64,
}

pub fn loan_guarantor_wire(doc: &PositionsDoc) -> Option<LoanGuarantorWire> {
    let g = doc.guarantor.as_ref()?;
    let holder = guarantor_holder(g.terms.guarantor_id);
    let paid_minor = ["principal", "interest"]
        .iter()
        .filter_map(|b| doc.flows.get(&format!("{holder}/compensated/{b}")))
        .sum();
    let b = &g.balances;
    Some(LoanGuarantorWire {
        partner_id: g.terms.guarantor_id,
        trigger_dpd: g.terms.trigger_dpd,
        paid_minor,
        claims: doc.claims.len() as u32,
        principal_outstanding_minor: b.principal_outstanding_minor,
        interest_receivable_minor: b.interest_receivable_minor,
        fee_receivable_minor: b.fee_receivable_minor,
        penalty_receivable_minor: b.penalty_receivable_minor,
        written_off_minor: b.written_off_minor,
    })
}

/// A funder's position in one loan, as a partner's list shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PartnerPositionWire {
    pub loan_id: Uuid,
    pub currency: String,
    #[serde(flatten)]
    pub funding: LoanFundingWire,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PartnerPositionPage {
    pub items: Vec<PartnerPositionWire>,
    pub next_cursor: Option<String>,
}
