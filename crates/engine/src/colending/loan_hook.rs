//! What a term-loan command adds to its own submission when the loan is co-lent: at
//! disbursement, the funders chosen by the product's plan and their positions; at every
//! later command, the positions after the command and the control-account entries that
//! move them. Loans of a product without a plan get nothing added.

use super::approval::{self, ApprovalRequest, Verdict};
use super::books::{self, control_account};
use super::docs::{
    self, encode, find, partner_day_id, partner_id, partner_uuid, write, ApprovalDoc,
    PartnerDayDoc, PartnerDoc, Place, PlanDoc, PositionsDoc, Versioned, PARTNER, PARTNER_DAY, PLAN,
    POSITIONS,
};
use super::facts::{loan_facts, LoanFacts};
use super::reserve::{DayTip, Part, Reservation};
use super::{moves, ColendingError, FunderReason};
use crate::loans::replay;
use crate::{Command, Engine};
use colending::{
    BookUsage, Decline, DeclineReason, FundingPlan, LoanRequest, PartnerUsage, PlanRules, Share,
};
use lending::loan::Loan;
use money::{BusinessDate, Decimal};
use std::collections::{BTreeSet, HashMap};
use store::{DomainWrite, LoanEvent, LoanRow};

/// A co-lent origination's reservation of its funders' room, held until its submission
/// has answered (`reserve`).
pub(crate) type Held = Option<Reservation>;

/// Adds the co-lent loan's positions to a loan command's submission. `stored` are the
/// loan's events before the command; the command's own are among `domain`'s writes.
pub(crate) async fn attach(
    engine: &Engine,
    row: &LoanRow,
    after: &Loan,
    stored: &[LoanEvent],
    until: BusinessDate,
    commands: &mut Vec<Command>,
    domain: &mut Vec<DomainWrite>,
) -> Result<Held, ColendingError> {
    let mut events: Vec<LoanEvent> = stored.to_vec();
    for w in domain.iter() {
        if let DomainWrite::LoanEvent(e) = w {
            events.push(e.clone());
        }
    }
    events.sort_by_key(|e| e.seq);
    events.dedup_by_key(|e| e.seq);
    let new_seq = events.last().map_or(0, |e| e.seq);
    let disbursing = events
        .iter()
        .any(|e| e.kind == "disburse" && e.seq == new_seq);
    let position = find::<PositionsDoc>(
        engine,
        POSITIONS,
        docs::positions_doc_id(row.id),
        &row.tenant,
    )
    .await?;
    let (doc, read_version, held) = match (position, disbursing) {
        (Some(p), _) => (p.doc, Some(p.version), None),
        (None, true) => {
            let plan_id = docs::plan_doc_id(row.product_id);
            let Some(plan) = find::<PlanDoc>(engine, PLAN, plan_id, &row.tenant).await? else {
                return Ok(None);
            };
            let found = read_partners(engine, &plan.doc, &row.tenant).await?;
            let facts = loan_facts(engine, row, &found, domain).await?;
            let mut answers = Answers::new();
            // A first choice outside the turn asks the callback funders; the choice in it,
            // on usage read again, asks only a funder it chose anew.
            let asks = |p: &Versioned<PartnerDoc>| {
                matches!(p.doc.spec.approval, ApprovalDoc::Callback { .. })
            };
            if found.iter().any(asks) {
                let ask = Choice::new(engine, row, after, &plan.doc, until, &facts);
                ask.choose(&found, &mut answers).await?;
            }
            let turn = engine.originations().turn().await;
            let (doc, days, parts) = Choice::new(engine, row, after, &plan.doc, until, &facts)
                .choose(&found, &mut answers)
                .await?;
            domain.extend(days);
            (doc, None, Some(turn.reserve(engine, parts)))
        }
        (None, false) => return Ok(None),
    };
    let journal = replay(&events, until, None)?.journal;
    let day_of: HashMap<i32, BusinessDate> = events
        .iter()
        .filter_map(|e| Some((e.seq, BusinessDate::from_epoch_days(e.day)?)))
        .collect();
    let funding = books::funding_of(&doc, after.config.repayment.day_count)?;
    let made = books::Enhancements::of(&doc);
    let (funding, booked) =
        books::fold(funding, &journal, made, |seq| day_of.get(&seq).copied())
            .map_err(|e| anyhow::anyhow!("loan {}: funders' positions: {e}", row.id))?;
    let mut new_doc = doc.clone();
    books::refresh(&mut new_doc, &funding, booked);
    let entry_name = format!("event:{new_seq}");
    commands.extend(books::post_difference(
        &new_doc,
        &doc.memo,
        &new_doc.memo,
        &entry_name,
    ));
    let deltas = books::difference(&doc.memo, &new_doc.memo);
    let flows = books::difference(&doc.flows, &new_doc.flows);
    let overdue = moves::overdue_since(after, until);
    let moved = moves::Moved {
        deltas,
        flows,
        claim: None,
    };
    domain.extend(moves::record(
        &mut new_doc,
        overdue,
        moved,
        until,
        entry_name,
    ));
    domain.push(write(
        Place {
            kind: POSITIONS,
            id: docs::positions_doc_id(row.id),
            tenant: &row.tenant,
            parent: Some(row.id),
            open: after.status == lending::loan::LoanStatus::Active,
            day: until,
        },
        encode(&new_doc),
        read_version,
    ));
    Ok(held)
}

/// Callback funders' answers by partner: (`approved` or the decline's code, its reason).
type Answers = HashMap<uuid::Uuid, (String, String)>;

/// Reads the partners `plan` names (those that exist).
async fn read_partners(
    engine: &Engine,
    plan: &PlanDoc,
    tenant: &str,
) -> anyhow::Result<Vec<Versioned<PartnerDoc>>> {
    let mut found = Vec::new();
    for id in plan.spec.partner_ids() {
        if let Some(p) = find::<PartnerDoc>(engine, PARTNER, id, tenant).await? {
            found.push(p);
        }
    }
    Ok(found)
}

/// A choice of funders for one loan by its product's plan, on one business day.
struct Choice<'a> {
    engine: &'a Engine,
    row: &'a LoanRow,
    loan: &'a Loan,
    plan: &'a PlanDoc,
    day: BusinessDate,
    facts: &'a LoanFacts,
}

impl<'a> Choice<'a> {
    fn new(
        engine: &'a Engine,
        row: &'a LoanRow,
        loan: &'a Loan,
        plan: &'a PlanDoc,
        day: BusinessDate,
        facts: &'a LoanFacts,
    ) -> Choice<'a> {
        Choice {
            engine,
            row,
            loan,
            plan,
            day,
            facts,
        }
    }

    /// Chooses among the partners `found` (eligibility and quotas checked on usage as
    /// stored plus what queued originations reserved; callback funders asked unless
    /// `answers` has theirs; a funder that declined stays declined): the new positions
    /// document, each funder's day-usage write and its part to reserve, or a decline with
    /// every funder's reason.
    async fn choose(
        &self,
        found: &[Versioned<PartnerDoc>],
        answers: &mut Answers,
    ) -> Result<(PositionsDoc, Vec<DomainWrite>, Vec<Part>), ColendingError> {
        let Choice {
            engine,
            row,
            loan,
            plan,
            day,
            facts,
        } = *self;
        let principal = loan.config.principal;
        let mut partners = Vec::new();
        let mut docs_by_id: HashMap<uuid::Uuid, &PartnerDoc> = HashMap::new();
        let mut usage = BookUsage::default();
        let mut day_tips: HashMap<uuid::Uuid, Option<DayTip>> = HashMap::new();
        let queued = engine.originations();
        for p in found {
            let outstanding_minor = principal_outstanding(engine, &p.doc).await?;
            let today = match queued.day_tip(p.doc.id, day) {
                Some(tip) => Some(tip),
                None => find::<PartnerDayDoc>(
                    engine,
                    PARTNER_DAY,
                    partner_day_id(p.doc.id, day),
                    &row.tenant,
                )
                .await?
                .map(|d| DayTip {
                    version: d.version,
                    disbursed_minor: d.doc.disbursed_minor,
                }),
            };
            usage.partners.push(PartnerUsage {
                partner_id: partner_id(p.doc.id),
                outstanding_minor,
                disbursed_today_minor: today.map_or(0, |t| t.disbursed_minor),
            });
            day_tips.insert(p.doc.id, today);
            partners.push(p.doc.spec.to_domain(p.doc.id)?);
            docs_by_id.insert(p.doc.id, &p.doc);
        }
        let request = LoanRequest {
            amount: principal,
            term_months: loan.config.repayment.term_months,
            score: facts.score,
            region: facts.region.clone(),
            product: row.product_id.to_string(),
        };
        let rules = PlanRules {
            platform_id: partner_id(plan.platform_partner_id),
            platform_share_min: plan.spec.platform_share_min,
        };
        // Callback funders are asked here, before the loan's submission: a decline (or a
        // timeout, a malformed answer, a bad signature) books nothing and the plan chooses
        // again without that funder; a fixed plan cannot, so the loan is declined.
        let mut declined: BTreeSet<_> = answers
            .iter()
            .filter(|(_, (code, _))| code != "approved")
            .map(|(id, _)| partner_id(*id))
            .collect();
        let plan_choice = match plan.spec.to_domain() {
            FundingPlan::Fixed(shares) => match outage_plan(engine, &shares, &rules)? {
                Some(routed) => routed,
                None => FundingPlan::Fixed(shares),
            },
            FundingPlan::Routed(policy) => {
                // A funder in an outage is passed over as if it had declined.
                let ids: Vec<uuid::Uuid> = plan.spec.partner_ids();
                declined.extend(outage_declines(engine, &ids)?);
                if policy.candidates.iter().any(|c| c.book_share_max.is_some()) {
                    usage.book_outstanding_minor =
                        book_outstanding(engine, &row.tenant, loan, &usage).await?;
                }
                FundingPlan::Routed(policy)
            }
        };
        let chosen = loop {
            let chosen = plan_choice
                .choose(&partners, &rules, &request, &usage, &declined)
                .map_err(|d| declined_error(&d, answers))?;
            let parts = colending::split_by_shares(
                principal.amount_minor(),
                principal.currency(),
                &chosen.iter().map(|s| s.share).collect::<Vec<_>>(),
            );
            let mut refused = false;
            for (s, part) in chosen.iter().zip(parts) {
                let id = partner_uuid(s.partner_id);
                let Some(ApprovalDoc::Callback {
                    url,
                    secret,
                    timeout_ms,
                }) = docs_by_id.get(&id).map(|d| &d.spec.approval)
                else {
                    continue;
                };
                if answers.contains_key(&id) {
                    continue;
                }
                let ask = ApprovalRequest {
                    loan_id: row.id,
                    partner_id: id,
                    product_id: row.product_id,
                    currency: principal.currency().code().into(),
                    amount_minor: part,
                    share: s.share.to_string(),
                    term_months: loan.config.repayment.term_months,
                    business_date: day,
                    score: facts.score.map(|s| s.normalize().to_string()),
                    region: facts.region.clone(),
                };
                match approval::ask(url, secret, *timeout_ms, &ask, engine.now_ms()).await {
                    Verdict::Approved => {
                        answers.insert(id, ("approved".into(), String::new()));
                    }
                    Verdict::Declined { code, reason } => {
                        answers.insert(id, (code.into(), reason));
                        declined.insert(s.partner_id);
                        refused = true;
                        break;
                    }
                }
            }
            if !refused {
                break chosen;
            }
        };
        let funders: Vec<_> = chosen
            .iter()
            .map(|s| {
                let id = partner_uuid(s.partner_id);
                let yield_annual = docs_by_id.get(&id).and_then(|d| d.spec.yield_annual);
                (id, s.share, yield_annual)
            })
            .collect();
        let doc = PositionsDoc {
            loan_id: row.id,
            tenant: row.tenant.clone(),
            currency: principal.currency(),
            product_id: row.product_id,
            platform_partner_id: plan.platform_partner_id,
            fees: plan.spec.fees,
            penalties: plan.spec.penalties,
            funders: books::funder_docs(&funders),
            platform: Default::default(),
            totals: Default::default(),
            memo: Default::default(),
            interest_from: None,
            written_off: false,
            overdue_since: None,
            moves: 0,
            flows: Default::default(),
            guarantor: plan.spec.guarantee.map(|terms| docs::GuarantorDoc {
                terms,
                balances: Default::default(),
            }),
            claims: Vec::new(),
            first_loss: plan.spec.first_loss,
            draw: None,
        };
        let parts = colending::split_by_shares(
            principal.amount_minor(),
            principal.currency(),
            &chosen.iter().map(|s| s.share).collect::<Vec<_>>(),
        );
        let (mut writes, mut reserved) = (Vec::new(), Vec::new());
        for (s, part) in chosen.iter().zip(parts) {
            let id = partner_uuid(s.partner_id);
            let today = day_tips.remove(&id).flatten();
            let read_version = today.map(|t| t.version);
            let body = PartnerDayDoc {
                partner_id: id,
                day,
                disbursed_minor: today.map_or(0, |t| t.disbursed_minor) + part,
            };
            let funder = docs_by_id.get(&id).expect("a chosen funder was read");
            reserved.push(Part {
                partner_id: id,
                account: principal_account(funder),
                day,
                amount_minor: part,
                tip: DayTip {
                    version: read_version.map_or(1, |v| v + 1),
                    disbursed_minor: body.disbursed_minor,
                },
            });
            writes.push(write(
                Place {
                    kind: PARTNER_DAY,
                    id: partner_day_id(id, day),
                    tenant: &row.tenant,
                    parent: Some(id),
                    open: false,
                    day,
                },
                encode(&body),
                read_version,
            ));
        }
        Ok((doc, writes, reserved))
    }
}

/// The funders of `ids` in an outage, to be passed over; an error when one's agreement
/// pauses its loans (the origination stops).
fn outage_declines(
    engine: &Engine,
    ids: &[uuid::Uuid],
) -> Result<Vec<colending::PartnerId>, ColendingError> {
    use crate::controls::OutageAction;
    let mut out = Vec::new();
    for id in ids {
        let Some(o) = engine.controls().outage_of(*id) else {
            continue;
        };
        if o.action == Some(OutageAction::Pause) {
            return Err(crate::EngineError::FunderOutage {
                partner_id: o.partner_id,
                reason: o.reason,
            }
            .into());
        }
        out.push(partner_id(*id));
    }
    Ok(out)
}

/// The co-lent book's principal outstanding in the loan's tenant and currency: every
/// partner's principal control account (the candidates' as `usage` already read them),
/// for a routed plan's caps on the book.
async fn book_outstanding(
    engine: &Engine,
    tenant: &str,
    loan: &Loan,
    usage: &BookUsage,
) -> anyhow::Result<i64> {
    let currency = loan.config.principal.currency();
    let (mut total, mut after) = (0i64, None);
    loop {
        let page = super::partners::list_partners(engine, Some(tenant.into()), after, 500)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for p in page
            .partners
            .iter()
            .filter(|p| p.doc.spec.currency == currency)
        {
            let read = usage
                .partners
                .iter()
                .find(|u| u.partner_id == partner_id(p.doc.id));
            let outstanding_minor = match read {
                Some(u) => u.outstanding_minor,
                None => principal_outstanding(engine, &p.doc).await?,
            };
            total = total.saturating_add(outstanding_minor);
        }
        match page.next_after {
            Some(id) => after = Some(id),
            None => return Ok(total),
        }
    }
}

/// A partner's `principal` control account.
fn principal_account(p: &PartnerDoc) -> ledger::AccountId {
    control_account(
        &p.tenant,
        p.spec.currency,
        &p.id.to_string(),
        books::balance_name(colending::Balance::Principal),
    )
}

/// A partner's principal outstanding over every loan: its principal control account as
/// committed, with what queued originations reserved on it (`reserve`).
async fn principal_outstanding(engine: &Engine, p: &PartnerDoc) -> anyhow::Result<i64> {
    let (b, reserved_minor) = engine.watched_usage(principal_account(p)).await?;
    let net = i128::from(b.debits_posted_minor) - i128::from(b.credits_posted_minor);
    Ok(i64::try_from(net + i128::from(reserved_minor)).unwrap_or(i64::MAX))
}

/// The decline with every funder's reason; `answers` are the callback funders' (code,
/// reason), a declined one's standing for its `Declined`.
fn declined_error(d: &Decline, answers: &HashMap<uuid::Uuid, (String, String)>) -> ColendingError {
    let reasons = d
        .reasons
        .iter()
        .map(|(pid, reason)| {
            let partner_id = partner_uuid(*pid);
            let answer = answers.get(&partner_id);
            let (code, text) = match reason {
                DeclineReason::Declined if answer.is_some() => answer.cloned().expect("checked"),
                DeclineReason::UnknownPartner => ("unknown_partner".into(), reason.to_string()),
                DeclineReason::Ineligible(i) => (
                    format!("ineligible_{}", format!("{i:?}").to_lowercase()),
                    reason.to_string(),
                ),
                DeclineReason::Quota { .. } => ("quota".into(), reason.to_string()),
                DeclineReason::DailyQuota { .. } => ("daily_quota".into(), reason.to_string()),
                DeclineReason::Concentration => ("concentration".into(), reason.to_string()),
                DeclineReason::Declined => ("declined".into(), reason.to_string()),
                DeclineReason::Incomplete => ("incomplete".into(), reason.to_string()),
            };
            FunderReason {
                partner_id,
                code,
                reason: text,
            }
        })
        .collect();
    ColendingError::Declined { reasons }
}

/// The plan a loan is funded by while some of its funders are in an outage: refused when
/// one's agreement pauses its loans; otherwise (reroute) a routing policy without them in
/// which each other funder may take its share scaled up by what the absent ones held, in
/// the plan's order, and the platform what they cannot. None when no funder is out.
fn outage_plan(
    engine: &Engine,
    shares: &[Share],
    rules: &PlanRules,
) -> Result<Option<FundingPlan>, ColendingError> {
    let ids: Vec<uuid::Uuid> = shares.iter().map(|s| partner_uuid(s.partner_id)).collect();
    let out: BTreeSet<colending::PartnerId> = outage_declines(engine, &ids)?.into_iter().collect();
    let out_share: Decimal = shares
        .iter()
        .filter(|s| out.contains(&s.partner_id))
        .map(|s| s.share)
        .sum();
    if out.is_empty() {
        return Ok(None);
    }
    let step = Decimal::new(1, 4);
    let left = Decimal::ONE - out_share;
    let mut candidates: Vec<colending::Candidate> = shares
        .iter()
        .filter(|s| !out.contains(&s.partner_id))
        .enumerate()
        .map(|(i, s)| {
            let scaled = if left > Decimal::ZERO {
                ((s.share / left) / step).ceil() * step
            } else {
                Decimal::ONE
            };
            colending::Candidate {
                partner_id: s.partner_id,
                priority: i as u32,
                share_max: if s.partner_id == rules.platform_id {
                    Decimal::ONE
                } else {
                    scaled.min(Decimal::ONE)
                },
                book_share_max: None,
            }
        })
        .collect();
    if !candidates.iter().any(|c| c.partner_id == rules.platform_id) {
        candidates.push(colending::Candidate {
            partner_id: rules.platform_id,
            priority: u32::MAX,
            share_max: Decimal::ONE,
            book_share_max: None,
        });
    }
    Ok(Some(FundingPlan::Routed(colending::RoutingPolicy {
        candidates,
        order: colending::RouteOrder::Priority,
        share_step: step,
    })))
}
