//! A routing policy: chooses the funders of each loan from a list of candidates.
//!
//! The choice is deterministic. The platform first takes its minimum share; the other
//! candidates, ranked by the policy's order (ties by priority, then by partner id), then
//! take as much as each may — its `share_max`, and what its quota, daily quota and cap on
//! the book leave room for — in steps of `share_step`; the platform takes what is left, up
//! to its own `share_max`. If that does not reach 1 the loan is declined with every
//! candidate's reason. A partner that declined at approval is passed in `declined` and the
//! choice is made again without it: that is the fallback.

use crate::partner::{FundingPartner, LoanRequest, PartnerId};
use crate::plan::{
    check_funder, check_partner_ids, choose_fixed, find, quota_room, BookUsage, Decline,
    DeclineReason, PlanError, PlanRules, Share,
};
use money::Decimal;
use std::collections::BTreeSet;

/// How candidates other than the platform are ranked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteOrder {
    /// Lowest `priority` first.
    Priority,
    /// Lowest yield first; a pro-rata partner (no yield) costs the whole borrower rate and
    /// comes last.
    Cost,
    /// Most quota room (quota less outstanding) first, spreading the book.
    RemainingQuota,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub partner_id: PartnerId,
    pub priority: u32,
    /// The most of one loan this partner funds.
    pub share_max: Decimal,
    /// The most of the co-lent book's outstanding principal this partner may hold.
    pub book_share_max: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingPolicy {
    pub candidates: Vec<Candidate>,
    pub order: RouteOrder,
    /// Shares are multiples of this (e.g. 0.01), so they stay short decimals.
    pub share_step: Decimal,
}

impl RoutingPolicy {
    pub fn validate(
        &self,
        partners: &[FundingPartner],
        rules: &PlanRules,
    ) -> Result<(), Vec<PlanError>> {
        let mut errors = Vec::new();
        if self.candidates.is_empty() {
            errors.push(PlanError::Empty {
                field: "candidates",
            });
        }
        let ids: Vec<PartnerId> = self.candidates.iter().map(|c| c.partner_id).collect();
        check_partner_ids("candidates", &ids, partners, rules, &mut errors);
        if !is_fraction(self.share_step) {
            errors.push(PlanError::FractionOutOfRange {
                field: "share_step",
            });
        }
        for c in &self.candidates {
            if !is_fraction(c.share_max) {
                errors.push(PlanError::FractionOutOfRange {
                    field: "candidates[].share_max",
                });
            }
            if c.book_share_max.is_some_and(|m| !is_fraction(m)) {
                errors.push(PlanError::FractionOutOfRange {
                    field: "candidates[].book_share_max",
                });
            }
        }
        let platform_max = self
            .candidates
            .iter()
            .find(|c| c.partner_id == rules.platform_id)
            .map_or(Decimal::ZERO, |c| c.share_max);
        if platform_max < rules.platform_share_min {
            errors.push(PlanError::PlatformBelowMinimum {
                field: "candidates",
                share: platform_max,
                minimum: rules.platform_share_min,
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn is_fraction(value: Decimal) -> bool {
    value > Decimal::ZERO && value <= Decimal::ONE
}

/// The largest multiple of `step` not above `value` (and not below 0).
fn floor_to_step(value: Decimal, step: Decimal) -> Decimal {
    ((value / step).floor() * step)
        .max(Decimal::ZERO)
        .normalize()
}

/// What one candidate can take: its largest share, or why it can take none.
fn capacity(
    c: &Candidate,
    step: Decimal,
    partners: &[FundingPartner],
    request: &LoanRequest,
    usage: &BookUsage,
    declined: &BTreeSet<PartnerId>,
) -> Result<Decimal, DeclineReason> {
    check_funder(c.partner_id, 0, partners, request, usage, None)?;
    if declined.contains(&c.partner_id) {
        return Err(DeclineReason::Declined);
    }
    let partner = find(partners, c.partner_id).ok_or(DeclineReason::UnknownPartner)?;
    let used = usage.of(c.partner_id);
    let amount_minor = request.amount.amount_minor();
    let quota = quota_room(partner.quota_minor, used.outstanding_minor);
    let daily = quota_room(partner.daily_quota_minor, used.disbursed_today_minor);
    let mut binding = [
        (quota, DeclineReason::Quota { room_minor: quota }),
        (daily, DeclineReason::DailyQuota { room_minor: daily }),
    ]
    .to_vec();
    if let Some(cap) = c.book_share_max {
        let book = Decimal::from(usage.book_outstanding_minor) + Decimal::from(amount_minor);
        let room = (cap * book - Decimal::from(used.outstanding_minor)).floor();
        let room = i64::try_from(room.max(Decimal::ZERO)).unwrap_or(i64::MAX);
        binding.push((room, DeclineReason::Concentration));
    }
    let (room_minor, reason) = binding
        .into_iter()
        .min_by_key(|(room, _)| *room)
        .expect("two rooms at least");
    // One unit of margin: a split by largest remainder may round a share up by one unit.
    let by_room = if room_minor >= amount_minor {
        Decimal::ONE
    } else {
        Decimal::from((room_minor - 1).max(0)) / Decimal::from(amount_minor.max(1))
    };
    let share = floor_to_step(c.share_max.min(by_room), step);
    if share.is_zero() {
        return Err(reason);
    }
    Ok(share)
}

/// The candidates other than the platform, best first.
fn ranked<'a>(
    policy: &'a RoutingPolicy,
    partners: &[FundingPartner],
    usage: &BookUsage,
    platform_id: PartnerId,
) -> Vec<&'a Candidate> {
    let mut list: Vec<&Candidate> = policy
        .candidates
        .iter()
        .filter(|c| c.partner_id != platform_id)
        .collect();
    let cost = |c: &Candidate| {
        find(partners, c.partner_id)
            .and_then(|p| p.yield_annual)
            .map_or(Decimal::MAX, |y| y.fraction())
    };
    let room = |c: &Candidate| {
        find(partners, c.partner_id).map_or(0, |p| {
            quota_room(p.quota_minor, usage.of(c.partner_id).outstanding_minor)
        })
    };
    list.sort_by(|a, b| {
        let by_order = match policy.order {
            RouteOrder::Priority => std::cmp::Ordering::Equal,
            RouteOrder::Cost => cost(a).cmp(&cost(b)),
            RouteOrder::RemainingQuota => room(b).cmp(&room(a)),
        };
        by_order
            .then(a.priority.cmp(&b.priority))
            .then(a.partner_id.cmp(&b.partner_id))
    });
    list
}

/// Chooses the funders of `request` (see the module's documentation for the rule).
pub fn route(
    policy: &RoutingPolicy,
    partners: &[FundingPartner],
    rules: &PlanRules,
    request: &LoanRequest,
    usage: &BookUsage,
    declined: &BTreeSet<PartnerId>,
) -> Result<Vec<Share>, Decline> {
    let step = policy.share_step;
    let cap = |c: &Candidate| capacity(c, step, partners, request, usage, declined);
    let platform = policy
        .candidates
        .iter()
        .find(|c| c.partner_id == rules.platform_id);
    let platform_cap = platform.map_or(Err(DeclineReason::UnknownPartner), cap);
    let others = ranked(policy, partners, usage, rules.platform_id);
    let other_caps: Vec<(PartnerId, Result<Decimal, DeclineReason>)> =
        others.iter().map(|c| (c.partner_id, cap(c))).collect();
    let mut reasons: Vec<(PartnerId, DeclineReason)> = Vec::new();
    reasons.push((
        rules.platform_id,
        platform_cap.err().unwrap_or(DeclineReason::Incomplete),
    ));
    reasons.extend(
        other_caps
            .iter()
            .map(|(id, c)| (*id, c.err().unwrap_or(DeclineReason::Incomplete))),
    );
    let decline = || Decline {
        reasons: reasons.clone(),
    };
    let platform_max = platform_cap.map_err(|_| decline())?;
    if platform_max < rules.platform_share_min {
        return Err(decline());
    }
    let mut remaining = Decimal::ONE - rules.platform_share_min;
    let mut shares = Vec::new();
    for (id, c) in &other_caps {
        let take = c.unwrap_or(Decimal::ZERO).min(remaining);
        if take > Decimal::ZERO {
            shares.push(Share {
                partner_id: *id,
                share: take,
            });
            remaining -= take;
        }
    }
    let platform_share = rules.platform_share_min + remaining;
    if platform_share > platform_max {
        return Err(decline());
    }
    shares.insert(
        0,
        Share {
            partner_id: rules.platform_id,
            share: platform_share.normalize(),
        },
    );
    let book_cap = |id: PartnerId| {
        policy
            .candidates
            .iter()
            .find(|c| c.partner_id == id)
            .and_then(|c| c.book_share_max)
    };
    choose_fixed(&shares, partners, request, usage, declined, Some(&book_cap))
}
