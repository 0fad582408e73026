//! Funding plans: a fixed list of shares, or a routing policy that chooses funders per
//! loan. Both answer the same question with [`FundingPlan::choose`]: the shares that fund
//! this loan, or a decline that gives every funder's reason.

use crate::partner::{FundingPartner, Ineligible, LoanRequest, PartnerId, PartnerKind};
use crate::routing::{route, RoutingPolicy};
use crate::split::split_by_shares;
use money::Decimal;
use std::collections::BTreeSet;

/// One funder's fraction of a loan (0 < share ≤ 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    pub partner_id: PartnerId,
    pub share: Decimal,
}

/// The regulatory floor on the platform's own share of a co-lent loan (30%).
pub const PLATFORM_SHARE_MIN_DEFAULT: Decimal = Decimal::from_parts(3, 0, 0, false, 1);

/// Rules every plan obeys, set by the operator rather than the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanRules {
    /// The partner (of kind `platform`) that is the platform itself.
    pub platform_id: PartnerId,
    pub platform_share_min: Decimal,
}

impl PlanRules {
    pub fn new(platform_id: PartnerId) -> PlanRules {
        PlanRules {
            platform_id,
            platform_share_min: PLATFORM_SHARE_MIN_DEFAULT,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FundingPlan {
    Fixed(Vec<Share>),
    Routed(RoutingPolicy),
}

/// A refused plan, naming the field at fault as the API spells it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{field}: a plan needs at least one funder")]
    Empty { field: &'static str },
    #[error("shares[{index}].share: must be above 0 and at most 1")]
    ShareOutOfRange { index: usize },
    #[error("shares: sum to {sum}, not exactly 1")]
    SharesSum { sum: Decimal },
    #[error("{field}[{index}].partner_id: listed twice")]
    Duplicate { field: &'static str, index: usize },
    #[error("{field}[{index}].partner_id: no such funding partner")]
    UnknownPartner { field: &'static str, index: usize },
    #[error("{field}[{index}].partner_id: the partner funds in another currency")]
    Currency { field: &'static str, index: usize },
    #[error("{field}: the platform's share {share} is below the minimum {minimum}")]
    PlatformBelowMinimum {
        field: &'static str,
        share: Decimal,
        minimum: Decimal,
    },
    #[error("platform_id: the partner is not of kind platform")]
    NotPlatform,
    #[error("{field}: must be above 0 and at most 1")]
    FractionOutOfRange { field: &'static str },
    #[error("{field}: only an agreement with a guarantee can give charges to the guarantor")]
    NoGuarantor { field: &'static str },
}

impl PlanError {
    /// The JSON path of the field at fault, for an RFC 9457 problem's `field`.
    pub fn field(&self) -> String {
        match self {
            PlanError::Empty { field }
            | PlanError::PlatformBelowMinimum { field, .. }
            | PlanError::FractionOutOfRange { field }
            | PlanError::NoGuarantor { field } => (*field).to_string(),
            PlanError::ShareOutOfRange { index } => format!("shares[{index}].share"),
            PlanError::SharesSum { .. } => "shares".to_string(),
            PlanError::Duplicate { field, index }
            | PlanError::UnknownPartner { field, index }
            | PlanError::Currency { field, index } => format!("{field}[{index}].partner_id"),
            PlanError::NotPlatform => "platform_id".to_string(),
        }
    }
}

pub(crate) fn find(partners: &[FundingPartner], id: PartnerId) -> Option<&FundingPartner> {
    partners.iter().find(|p| p.id == id)
}

/// Checks a plan's partners: known, listed once, of one currency; the platform is a
/// partner of kind platform.
pub(crate) fn check_partner_ids(
    field: &'static str,
    ids: &[PartnerId],
    partners: &[FundingPartner],
    rules: &PlanRules,
    errors: &mut Vec<PlanError>,
) {
    match find(partners, rules.platform_id) {
        Some(p) if p.kind == PartnerKind::Platform => {}
        _ => errors.push(PlanError::NotPlatform),
    }
    let currency = find(partners, rules.platform_id).map(|p| p.currency);
    let mut seen = BTreeSet::new();
    for (index, &id) in ids.iter().enumerate() {
        if !seen.insert(id) {
            errors.push(PlanError::Duplicate { field, index });
        }
        match find(partners, id) {
            None => errors.push(PlanError::UnknownPartner { field, index }),
            Some(p) if currency.is_some_and(|c| c != p.currency) => {
                errors.push(PlanError::Currency { field, index });
            }
            Some(_) => {}
        }
    }
}

/// Every share is in (0, 1] and they sum to exactly 1 (decimal arithmetic, no tolerance).
pub fn check_shares(shares: &[Share]) -> Result<(), Vec<PlanError>> {
    let mut errors = Vec::new();
    if shares.is_empty() {
        errors.push(PlanError::Empty { field: "shares" });
    }
    for (index, s) in shares.iter().enumerate() {
        if s.share <= Decimal::ZERO || s.share > Decimal::ONE {
            errors.push(PlanError::ShareOutOfRange { index });
        }
    }
    let sum: Decimal = shares.iter().map(|s| s.share).sum();
    if !shares.is_empty() && sum != Decimal::ONE {
        errors.push(PlanError::SharesSum { sum });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

impl FundingPlan {
    /// Every problem with the plan, or `Ok` if there is none.
    pub fn validate(
        &self,
        partners: &[FundingPartner],
        rules: &PlanRules,
    ) -> Result<(), Vec<PlanError>> {
        match self {
            FundingPlan::Fixed(shares) => validate_fixed(shares, partners, rules),
            FundingPlan::Routed(policy) => policy.validate(partners, rules),
        }
    }

    /// The shares that fund `request`, given each partner's usage and the partners that
    /// have declined it so far (a fixed plan cannot fall back: any decline declines the
    /// loan; a routing policy chooses again without them).
    pub fn choose(
        &self,
        partners: &[FundingPartner],
        rules: &PlanRules,
        request: &LoanRequest,
        usage: &BookUsage,
        declined: &BTreeSet<PartnerId>,
    ) -> Result<Vec<Share>, Decline> {
        match self {
            FundingPlan::Fixed(shares) => {
                choose_fixed(shares, partners, request, usage, declined, None)
            }
            FundingPlan::Routed(policy) => route(policy, partners, rules, request, usage, declined),
        }
    }
}

fn validate_fixed(
    shares: &[Share],
    partners: &[FundingPartner],
    rules: &PlanRules,
) -> Result<(), Vec<PlanError>> {
    let mut errors = check_shares(shares).err().unwrap_or_default();
    let ids: Vec<PartnerId> = shares.iter().map(|s| s.partner_id).collect();
    check_partner_ids("shares", &ids, partners, rules, &mut errors);
    let platform_share: Decimal = shares
        .iter()
        .filter(|s| s.partner_id == rules.platform_id)
        .map(|s| s.share)
        .sum();
    if platform_share < rules.platform_share_min {
        errors.push(PlanError::PlatformBelowMinimum {
            field: "shares",
            share: platform_share,
            minimum: rules.platform_share_min,
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// What a partner has lent so far, as storage reports it at the moment of the choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartnerUsage {
    pub partner_id: PartnerId,
    pub outstanding_minor: i64,
    pub disbursed_today_minor: i64,
}

/// The usage of every partner and the book they share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BookUsage {
    pub partners: Vec<PartnerUsage>,
    /// Outstanding principal of the whole co-lent book, for concentration caps.
    pub book_outstanding_minor: i64,
}

impl BookUsage {
    pub fn of(&self, id: PartnerId) -> PartnerUsage {
        self.partners
            .iter()
            .copied()
            .find(|u| u.partner_id == id)
            .unwrap_or(PartnerUsage {
                partner_id: id,
                outstanding_minor: 0,
                disbursed_today_minor: 0,
            })
    }
}

/// Why one funder does not fund this loan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeclineReason {
    #[error("no such funding partner")]
    UnknownPartner,
    #[error("ineligible: {0}")]
    Ineligible(Ineligible),
    #[error("over its quota: {room_minor} minor units of room left")]
    Quota { room_minor: i64 },
    #[error("over its daily quota: {room_minor} minor units of room left today")]
    DailyQuota { room_minor: i64 },
    #[error("over its cap on the book's concentration")]
    Concentration,
    #[error("the partner declined at approval")]
    Declined,
    #[error("able to fund, but the loan's funding could not be completed")]
    Incomplete,
}

/// A loan nobody (or not enough funders) would fund, with every candidate's reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the loan cannot be funded ({} funders considered)", .reasons.len())]
pub struct Decline {
    pub reasons: Vec<(PartnerId, DeclineReason)>,
}

/// The principal each share would fund, and whether every funder can take it. A funder
/// with a concentration cap is checked against it too.
pub(crate) fn choose_fixed(
    shares: &[Share],
    partners: &[FundingPartner],
    request: &LoanRequest,
    usage: &BookUsage,
    declined: &BTreeSet<PartnerId>,
    concentration: Option<&dyn Fn(PartnerId) -> Option<Decimal>>,
) -> Result<Vec<Share>, Decline> {
    let share_values: Vec<Decimal> = shares.iter().map(|s| s.share).collect();
    let amount_minor = request.amount.amount_minor();
    let principals = split_by_shares(amount_minor, request.amount.currency(), &share_values);
    let mut reasons = Vec::new();
    let mut any_refused = false;
    for (s, &principal_minor) in shares.iter().zip(&principals) {
        let cap = concentration.and_then(|f| f(s.partner_id));
        let verdict = check_funder(s.partner_id, principal_minor, partners, request, usage, cap)
            .and_then(|()| match declined.contains(&s.partner_id) {
                true => Err(DeclineReason::Declined),
                false => Ok(()),
            });
        match verdict {
            Ok(()) => reasons.push((s.partner_id, DeclineReason::Incomplete)),
            Err(reason) => {
                any_refused = true;
                reasons.push((s.partner_id, reason));
            }
        }
    }
    if any_refused {
        Err(Decline { reasons })
    } else {
        Ok(shares.to_vec())
    }
}

/// Whether a funder can lend `principal_minor` of this request: eligible, within its
/// quota, its daily quota and (when it has one) its cap on the book.
pub(crate) fn check_funder(
    id: PartnerId,
    principal_minor: i64,
    partners: &[FundingPartner],
    request: &LoanRequest,
    usage: &BookUsage,
    book_share_max: Option<Decimal>,
) -> Result<(), DeclineReason> {
    let partner = find(partners, id).ok_or(DeclineReason::UnknownPartner)?;
    partner
        .eligible(request)
        .map_err(DeclineReason::Ineligible)?;
    let used = usage.of(id);
    let room_minor = quota_room(partner.quota_minor, used.outstanding_minor);
    if principal_minor > room_minor {
        return Err(DeclineReason::Quota { room_minor });
    }
    let room_minor = quota_room(partner.daily_quota_minor, used.disbursed_today_minor);
    if principal_minor > room_minor {
        return Err(DeclineReason::DailyQuota { room_minor });
    }
    if let Some(cap) = book_share_max {
        let after = Decimal::from(used.outstanding_minor) + Decimal::from(principal_minor);
        let book = Decimal::from(usage.book_outstanding_minor)
            + Decimal::from(request.amount.amount_minor());
        if after > cap * book {
            return Err(DeclineReason::Concentration);
        }
    }
    Ok(())
}

pub(crate) fn quota_room(quota_minor: i64, used_minor: i64) -> i64 {
    quota_minor.saturating_sub(used_minor).max(0)
}
