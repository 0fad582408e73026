//! From a loan's postings to each holder's positions and control-account bookings.
//!
//! A co-lent loan's positions are a pure function of the loan's journal (the postings of
//! its replayed events and days): every source's postings become `colending` events, and
//! each event's `Change`s are booked in the holder's control accounts. A command replays
//! the loan, folds the journal, and posts the difference between the new bookings and
//! those already posted (`PositionsDoc::memo`), so a repayment, a day billed by close of
//! business since the last command and a reversal (whose replay leaves the repayment out)
//! are all the same step. T-accounts: docs/co-lending.md.

use super::docs::{self, partner_uuid, BalancesDoc, ClaimDoc, DrawDoc, FunderDoc, PositionsDoc};
use crate::loans::Source;
use crate::Command;
use colending::{
    apply_event, claim_guarantee, draw_first_loss, Agreement, Balance, Change, Charge, ClaimId,
    ClaimOutcome, EventError, FirstLossDeposit, FirstLossOutcome, FunderTerms, GuaranteeClaim,
    GuaranteeTerms, Holder, LoanEvent, LoanFunding, Repayment, Share,
};
use ledger::{AccountId, EntryId, EntryRequest, Posting, Side};
use lending::loan::{AccountPurpose, PostingIntent};
use money::{BusinessDate, Currency, DayCount, RateAnnual};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Debit minus credit per `holder/account`.
pub type Memo = BTreeMap<String, i64>;

/// The accounts each holder has, with their normal side.
pub const ACCOUNTS: [(&str, Side); 8] = [
    ("principal", Side::Debit),
    ("interest", Side::Debit),
    ("fee", Side::Debit),
    ("penalty", Side::Debit),
    ("written_off", Side::Debit),
    // The holder's money lent out (credited at disbursement).
    ("funding", Side::Credit),
    // Interest, fees and penalty the holder earned.
    ("income", Side::Credit),
    // Cash the platform collected for the holder and owes it at settlement.
    ("collected", Side::Debit),
];

pub(crate) fn balance_name(b: Balance) -> &'static str {
    match b {
        Balance::Principal => "principal",
        Balance::Interest => "interest",
        Balance::Fee => "fee",
        Balance::Penalty => "penalty",
        Balance::WrittenOff => "written_off",
    }
}

pub fn holder_key(h: Holder) -> String {
    match h {
        Holder::Funder(p) => partner_uuid(p).to_string(),
        Holder::Platform => "platform".into(),
        Holder::Guarantor(p) => docs::guarantor_holder(partner_uuid(p)),
    }
}

/// The control account `name` of a holder in a tenant and currency.
pub fn control_account(tenant: &str, currency: Currency, holder: &str, name: &str) -> AccountId {
    AccountId(Uuid::new_v5(
        &super::docs::NS,
        format!("cl:{tenant}:{}:{holder}:{name}", currency.code()).as_bytes(),
    ))
}

#[derive(Clone, Copy)]
enum Step {
    Disbursed,
    Charged,
    Repaid,
    WrittenOff,
    Recovered,
    /// A guarantee claim: the guarantor paid funders' overdue amounts and holds them.
    Compensated,
    /// A first-loss deposit paid funders' written-off claims; the platform holds them.
    FirstLoss,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Disbursed => "disbursed",
            Step::Charged => "charged",
            Step::Repaid => "repaid",
            Step::WrittenOff => "written_off",
            Step::Recovered => "recovered",
            Step::Compensated => "compensated",
            Step::FirstLoss => "first_loss",
        }
    }
}

/// What a fold booked: per `holder/account` (what the control accounts hold), and per
/// `holder/step/balance` (the gross flows by kind, which the reconciliation files list:
/// a prepayment's interest is billed and repaid in one command, and only the flows tell
/// the two apart).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Booked {
    pub accounts: Memo,
    pub flows: Memo,
}

fn add(memo: &mut Memo, holder: &str, name: &str, delta: i64) {
    if delta != 0 {
        *memo.entry(format!("{holder}/{name}")).or_insert(0) += delta;
    }
}

/// Books one event's changes: each is paired with its counter-account in the same holder's
/// books, so every holder's bookings balance on their own.
fn book(booked: &mut Booked, step: Step, changes: &[Change]) {
    for c in changes {
        let holder = holder_key(c.holder);
        let balance = balance_name(c.balance);
        add(&mut booked.accounts, &holder, balance, c.delta_minor);
        add(
            &mut booked.flows,
            &holder,
            &format!("{}/{balance}", step.name()),
            c.delta_minor,
        );
        let counter = match step {
            Step::Disbursed => Some("funding"),
            Step::Charged => Some("income"),
            // Cash recovered on written-off claims is collected for the holder as a
            // repayment is.
            Step::Repaid | Step::Recovered => Some("collected"),
            // A write-off's changes pair up themselves: a receivable down, written_off up.
            Step::WrittenOff => None,
            // The guarantor's payment is collected for the funder it pays (settled to it
            // as a repayment is); the guarantor's money goes out as its funding.
            Step::Compensated => Some(match c.holder {
                Holder::Guarantor(_) => "funding",
                _ => "collected",
            }),
            // The same for a first-loss draw: the platform's deposit pays the funders.
            Step::FirstLoss => Some(match c.holder {
                Holder::Platform => "funding",
                _ => "collected",
            }),
        };
        if let Some(name) = counter {
            add(&mut booked.accounts, &holder, name, -c.delta_minor);
        }
    }
}

fn receivable(p: AccountPurpose) -> Option<Balance> {
    match p {
        AccountPurpose::PrincipalReceivable => Some(Balance::Principal),
        AccountPurpose::InterestReceivable => Some(Balance::Interest),
        AccountPurpose::FeeReceivable => Some(Balance::Fee),
        AccountPurpose::PenaltyReceivable => Some(Balance::Penalty),
        _ => None,
    }
}

/// The events of one source's postings: disbursement, then charges, then repayments (a
/// prepayment bills interest before it pays it), then a write-off, then a recovery.
fn events_of(intents: &[PostingIntent], on: BusinessDate) -> Vec<(Step, LoanEvent)> {
    let mut principal_minor = 0;
    let mut charge = Charge::default();
    let mut repaid = Repayment::default();
    let mut written_off = false;
    let mut recovered_minor = 0;
    for i in intents {
        let amount = i.amount_minor;
        if i.credit == AccountPurpose::RecoveryIncome {
            recovered_minor += amount;
            continue;
        }
        match (receivable(i.debit), receivable(i.credit)) {
            (Some(Balance::Principal), _) => principal_minor += amount,
            (Some(Balance::Interest), _) => charge.interest_minor += amount,
            (Some(Balance::Fee), _) => charge.fee_minor += amount,
            (Some(Balance::Penalty), _) => charge.penalty_minor += amount,
            (None, Some(b)) => match i.debit {
                AccountPurpose::BorrowerCash | AccountPurpose::Overpayment => match b {
                    Balance::Principal => repaid.principal_minor += amount,
                    Balance::Interest => repaid.interest_minor += amount,
                    Balance::Fee => repaid.fee_minor += amount,
                    _ => repaid.penalty_minor += amount,
                },
                // Expense or income ← receivable: the loan is written off.
                _ => written_off = true,
            },
            _ => {}
        }
    }
    let mut out = Vec::new();
    if principal_minor > 0 {
        out.push((
            Step::Disbursed,
            LoanEvent::Disbursed {
                principal_minor,
                on,
            },
        ));
    }
    if charge != Charge::default() {
        charge.interest_through = Some(on);
        out.push((Step::Charged, LoanEvent::Charged(charge)));
    }
    if repaid != Repayment::default() {
        out.push((Step::Repaid, LoanEvent::Repaid(repaid)));
    }
    if written_off {
        out.push((Step::WrittenOff, LoanEvent::WrittenOff));
    }
    if recovered_minor > 0 {
        out.push((
            Step::Recovered,
            LoanEvent::Recovered {
                amount_minor: recovered_minor,
            },
        ));
    }
    out
}

/// The agreement and funders fixed in a loan's positions document.
pub fn funding_of(doc: &PositionsDoc, day_count: DayCount) -> anyhow::Result<LoanFunding> {
    let agreement = Agreement {
        currency: doc.currency,
        day_count,
        fees: doc.fees.into(),
        penalties: doc.penalties.into(),
        guarantee: doc.guarantor.as_ref().map(|g| GuaranteeTerms {
            guarantor_id: super::docs::partner_id(g.terms.guarantor_id),
            trigger_dpd: g.terms.trigger_dpd,
            // The guarantor's fee is the product's fee given to it by the plan's rule.
            fee_rate_annual: RateAnnual::from_fraction(money::Decimal::ZERO)
                .expect("zero is a rate"),
        }),
    };
    let mut terms = Vec::with_capacity(doc.funders.len());
    for f in &doc.funders {
        let yield_annual = match f.yield_annual {
            Some(y) => Some(RateAnnual::from_fraction(y).map_err(|e| anyhow::anyhow!("{e}"))?),
            None => None,
        };
        terms.push(FunderTerms {
            share: Share {
                partner_id: super::docs::partner_id(f.partner_id),
                share: f.share,
            },
            yield_annual,
        });
    }
    LoanFunding::new(agreement, &terms).map_err(|e| anyhow::anyhow!("stored funders: {e:?}"))
}

/// What close of business did to a loan beyond its journal, which a fold replays in
/// place: the guarantee claims it paid and the first-loss deposit's draw.
#[derive(Clone, Copy)]
pub struct Enhancements<'a> {
    pub loan_id: uuid::Uuid,
    pub claims: &'a [ClaimDoc],
    pub draw: Option<DrawDoc>,
    /// The platform's own partner, which put up the deposit.
    pub depositor: uuid::Uuid,
}

impl<'a> Enhancements<'a> {
    pub fn of(doc: &'a PositionsDoc) -> Enhancements<'a> {
        Enhancements {
            loan_id: doc.loan_id,
            claims: &doc.claims,
            draw: doc.draw,
            depositor: doc.platform_partner_id,
        }
    }

    /// In the order they were made: by day, a day's claim before its draw (a claim is
    /// never paid once the loan is written off, and the draw follows the write-off).
    fn in_order(&self) -> Vec<(BusinessDate, Option<&'a ClaimDoc>)> {
        let mut out: Vec<_> = self.claims.iter().map(|c| (c.day, Some(c))).collect();
        out.extend(self.draw.map(|d| (d.day, None)));
        out.sort_by_key(|(day, claim)| (*day, claim.is_none()));
        out
    }

    fn apply(
        &self,
        funding: &mut LoanFunding,
        booked: &mut Booked,
        claim: Option<&ClaimDoc>,
    ) -> anyhow::Result<()> {
        match (claim, self.draw) {
            (Some(c), _) => pay_claim(funding, booked, self.loan_id, c).map(|_| ()),
            (None, Some(d)) => draw_first_loss_of(
                funding,
                booked,
                self.loan_id,
                self.depositor,
                d.amount_minor,
            )
            .map(|_| ()),
            (None, None) => Ok(()),
        }
    }
}

/// Folds a loan's journal into its funding and bookings, with what close of business did
/// beyond it: a guarantee claim or a first-loss draw of day `D` follows the loan-day `D`
/// and precedes the commands of `D`, as it did when it was made.
pub fn fold(
    mut funding: LoanFunding,
    journal: &[(Source, Vec<PostingIntent>)],
    made: Enhancements<'_>,
    event_day: impl Fn(i32) -> Option<BusinessDate>,
) -> anyhow::Result<(LoanFunding, Booked)> {
    let mut booked = Booked::default();
    let order = made.in_order();
    let mut pending = order.iter().peekable();
    for (source, intents) in journal {
        let (on, same_day) = match source {
            Source::Day(d) => (*d, false),
            Source::Event(seq) => (
                event_day(*seq).expect("every journal event has a day"),
                true,
            ),
        };
        while let Some((_, c)) = pending.next_if(|(day, _)| *day < on || (same_day && *day == on)) {
            made.apply(&mut funding, &mut booked, *c)?;
        }
        fold_source(&mut funding, &mut booked, intents, on)?;
    }
    for (_, c) in pending {
        made.apply(&mut funding, &mut booked, *c)?;
    }
    Ok((funding, booked))
}

/// The id of a loan's first-loss draw (one per loan: a loan is written off once).
pub fn draw_claim_id(loan_id: uuid::Uuid) -> ClaimId {
    ClaimId(uuid::Uuid::new_v5(&docs::NS, format!("first_loss:{loan_id}").as_bytes()).as_u128())
}

/// Pays the funders' written-off claims from a first-loss deposit with `available_minor`
/// left under its cap, and books it; returns what it paid. Replaying a draw gives it what
/// it paid then: the split depends only on the funders' claims, which the replay restores.
pub fn draw_first_loss_of(
    funding: &mut LoanFunding,
    booked: &mut Booked,
    loan_id: uuid::Uuid,
    depositor: uuid::Uuid,
    available_minor: i64,
) -> anyhow::Result<i64> {
    if available_minor <= 0 {
        return Ok(0);
    }
    let deposit = FirstLossDeposit::new(
        "draw".into(),
        money::Decimal::ONE,
        available_minor,
        available_minor,
    )
    .map_err(|e| anyhow::anyhow!("first-loss draw of loan {loan_id}: {e}"))?;
    let outcome = draw_first_loss(
        &deposit,
        funding,
        super::docs::partner_id(depositor),
        draw_claim_id(loan_id),
    )
    .map_err(|e| anyhow::anyhow!("first-loss draw of loan {loan_id}: {e}"))?;
    let FirstLossOutcome::Drawn {
        deposit, outcome, ..
    } = outcome
    else {
        return Ok(0);
    };
    book(booked, Step::FirstLoss, &outcome.changes);
    *funding = outcome.funding;
    Ok(deposit.drawn_minor)
}

/// Moves one guarantee claim onto the positions and books it; whether it moved anything.
pub fn pay_claim(
    funding: &mut LoanFunding,
    booked: &mut Booked,
    loan_id: uuid::Uuid,
    claim: &ClaimDoc,
) -> anyhow::Result<bool> {
    let request = GuaranteeClaim {
        claim_id: ClaimId(docs::claim_id(loan_id, claim.day).as_u128()),
        days_past_due: claim.days_past_due,
        overdue_principal_minor: claim.overdue_principal_minor,
    };
    let outcome = claim_guarantee(funding, &request)
        .map_err(|e| anyhow::anyhow!("guarantee claim of {}: {e}", claim.day))?;
    let ClaimOutcome::Paid { outcome, .. } = outcome else {
        return Ok(false);
    };
    let moved = outcome.changes.iter().any(|c| c.delta_minor != 0);
    book(booked, Step::Compensated, &outcome.changes);
    *funding = outcome.funding;
    Ok(moved)
}

/// Folds one source's postings (a command's, or one day's) into `funding` and `booked`.
pub fn fold_source(
    funding: &mut LoanFunding,
    booked: &mut Booked,
    intents: &[PostingIntent],
    on: BusinessDate,
) -> Result<(), EventError> {
    for (step, mut event) in events_of(intents, on) {
        if let LoanEvent::Recovered { amount_minor } = &mut event {
            // The loan's claim also holds the interest accrued but not billed when it was
            // written off, which no holder was charged: a recovery beyond the holders'
            // written-off claims is the platform's alone and moves no position.
            *amount_minor = (*amount_minor).min(funding.totals.get(Balance::WrittenOff));
            if *amount_minor == 0 {
                continue;
            }
        }
        let out = apply_event(funding, &event)?;
        book(booked, step, &out.changes);
        *funding = out.funding;
    }
    Ok(())
}

/// The funding as a positions document left it, so that one more day can be folded on
/// without replaying the loan: the same state a fold of the loan's journal reaches, since
/// what events read beyond the balances is the yield period's start and the write-off.
pub fn resume(doc: &PositionsDoc, day_count: DayCount) -> anyhow::Result<LoanFunding> {
    let mut funding = funding_of(doc, day_count)?;
    for (p, f) in funding.funders.iter_mut().zip(&doc.funders) {
        p.principal_funded_minor = f.principal_funded_minor;
        p.held = f.balances.to_domain();
    }
    funding.platform = doc.platform.to_domain();
    funding.totals = doc.totals.to_domain();
    funding.disbursed = doc.funders.iter().any(|f| f.principal_funded_minor > 0);
    funding.interest_from = doc.interest_from;
    funding.written_off = doc.written_off;
    if let (Some(g), Some(held)) = (&mut funding.guarantor, &doc.guarantor) {
        g.held = held.balances.to_domain();
    }
    funding.settled_claims = doc
        .claims
        .iter()
        .map(|c| ClaimId(docs::claim_id(doc.loan_id, c.day).as_u128()))
        .collect();
    funding.assert_consistent();
    Ok(funding)
}

/// `new − old` per `holder/account`, without zeros.
pub fn difference(old: &Memo, new: &Memo) -> Memo {
    let mut out = Memo::new();
    for key in old.keys().chain(new.keys()) {
        let delta = new.get(key).copied().unwrap_or(0) - old.get(key).copied().unwrap_or(0);
        if delta != 0 {
            out.insert(key.clone(), delta);
        }
    }
    out
}

/// The control accounts `deltas` touch (each open is idempotent) and one posting per
/// account; every holder's postings balance on their own.
pub fn control_postings(
    tenant: &str,
    currency: Currency,
    deltas: &Memo,
) -> (Vec<Command>, Vec<Posting>) {
    let mut opens = Vec::with_capacity(deltas.len());
    let mut postings = Vec::with_capacity(deltas.len());
    for (key, delta) in deltas {
        let (holder, name) = split_key(key);
        let id = control_account(tenant, currency, holder, name);
        opens.push(open_command(tenant, currency, holder, name, id));
        postings.push(Posting {
            account_id: id,
            direction: if *delta > 0 {
                Side::Debit
            } else {
                Side::Credit
            },
            amount_minor: delta.abs(),
        });
    }
    (opens, postings)
}

fn open_command(
    tenant: &str,
    currency: Currency,
    holder: &str,
    name: &str,
    id: AccountId,
) -> Command {
    Command::OpenAccount {
        id,
        tenant: tenant.to_string(),
        owner: owner(holder),
        purpose: format!("colending_{name}"),
        currency,
        normal_side: normal_side(name),
        constraint: None,
    }
}

/// The positions document's balances after a fold.
pub fn refresh(doc: &mut PositionsDoc, funding: &LoanFunding, booked: Booked) {
    for (f, p) in doc.funders.iter_mut().zip(&funding.funders) {
        assert_eq!(
            f.partner_id,
            partner_uuid(p.partner_id),
            "funders keep order"
        );
        f.principal_funded_minor = p.principal_funded_minor;
        f.balances = BalancesDoc::from(&p.held);
    }
    doc.platform = BalancesDoc::from(&funding.platform);
    if let (Some(g), Some(held)) = (&mut doc.guarantor, &funding.guarantor) {
        g.balances = BalancesDoc::from(&held.held);
    }
    doc.totals = BalancesDoc::from(&funding.totals);
    doc.memo = booked.accounts;
    doc.flows = booked.flows;
    doc.interest_from = funding.interest_from;
    doc.written_off = funding.written_off;
}

fn split_key(key: &str) -> (&str, &str) {
    key.rsplit_once('/').expect("memo keys are holder/account")
}

fn normal_side(name: &str) -> Side {
    ACCOUNTS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(Side::Debit, |(_, s)| *s)
}

/// The commands that post `new − old`: the accounts opened (an open is idempotent) and
/// entries of at most eight holders each (every holder's bookings balance on their own, so
/// each entry does, within the ledger's 64 postings).
pub fn post_difference(
    doc: &PositionsDoc,
    old: &Memo,
    new: &Memo,
    entry_name: &str,
) -> Vec<Command> {
    let mut by_holder: BTreeMap<&str, Vec<(&str, i64)>> = BTreeMap::new();
    for key in old.keys().chain(new.keys()) {
        let delta = new.get(key).copied().unwrap_or(0) - old.get(key).copied().unwrap_or(0);
        let (holder, name) = split_key(key);
        let list = by_holder.entry(holder).or_default();
        if delta != 0 && !list.iter().any(|(n, _)| *n == name) {
            list.push((name, delta));
        }
    }
    by_holder.retain(|_, v| !v.is_empty());
    let mut commands = Vec::new();
    let holders: Vec<_> = by_holder.into_iter().collect();
    for (chunk_index, chunk) in holders.chunks(8).enumerate() {
        let mut postings = Vec::new();
        for (holder, list) in chunk {
            assert_eq!(
                list.iter().map(|(_, d)| d).sum::<i64>(),
                0,
                "a holder's bookings balance"
            );
            for (name, delta) in list {
                let id = control_account(&doc.tenant, doc.currency, holder, name);
                commands.push(open_command(&doc.tenant, doc.currency, holder, name, id));
                postings.push(Posting {
                    account_id: id,
                    direction: if *delta > 0 {
                        Side::Debit
                    } else {
                        Side::Credit
                    },
                    amount_minor: delta.abs(),
                });
            }
        }
        let name = format!("colending:{entry_name}:{chunk_index}");
        commands.push(Command::Entry(EntryRequest {
            id: EntryId(Uuid::new_v5(&doc.loan_id, name.as_bytes())),
            currency: doc.currency,
            postings,
            memo: format!("loan {} funders' positions ({entry_name})", doc.loan_id),
        }));
    }
    commands
}

fn owner(holder: &str) -> String {
    match holder {
        "platform" => "platform".into(),
        h if h.starts_with("guarantor:") => h.into(),
        h => format!("funder:{h}"),
    }
}

/// A new positions document's funders (balances zero until the fold).
pub fn funder_docs(shares: &[(Uuid, money::Decimal, Option<money::Decimal>)]) -> Vec<FunderDoc> {
    shares
        .iter()
        .map(|(partner_id, share, yield_annual)| FunderDoc {
            partner_id: *partner_id,
            share: *share,
            yield_annual: *yield_annual,
            principal_funded_minor: 0,
            balances: BalancesDoc::default(),
        })
        .collect()
}
