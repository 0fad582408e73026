//! Applying one envelope's commands to the book: resolving each command against what is
//! stored and what the group already did (retries are answered, not applied again), then
//! the remaining operations all-or-nothing.

use super::command::{Command, Outcome};
use ledger::{
    body_hash, Account, Balances, Body, Book, Constraint, EntryId, EntryKind, EntryRecord,
    EntryRequest, HoldId, HoldRecord, HoldStatus, LedgerError, Op, OpOutcome, Posting, Side,
};
use money::Currency;
use std::collections::{HashMap, HashSet};
use store::Existing;

/// What this group has already done, so a retry inside the same group is answered too.
#[derive(Default)]
pub(super) struct Seen {
    /// Loan and document row versions written.
    pub(super) loan_versions: HashMap<uuid::Uuid, i64>,
    pub(super) entries: HashMap<EntryId, EntryRecord>,
    pub(super) holds: HashMap<HoldId, HoldRecord>,
    pub(super) reversed: HashSet<EntryId>,
}

struct Ctx<'a> {
    existing: &'a Existing,
    seen: &'a Seen,
    /// What the group still being committed did; storage does not show it yet.
    prev: Option<&'a Seen>,
    book: &'a Book,
    now_ms: i64,
}

impl Ctx<'_> {
    fn entry(&self, id: EntryId) -> Option<&EntryRecord> {
        self.seen
            .entries
            .get(&id)
            .or_else(|| self.prev.and_then(|p| p.entries.get(&id)))
            .or_else(|| self.existing.entries.get(&id))
    }

    fn hold(&self, id: HoldId) -> Option<HoldRecord> {
        self.book
            .pending_hold(id)
            .cloned()
            .or_else(|| self.seen.holds.get(&id).cloned())
            .or_else(|| self.prev.and_then(|p| p.holds.get(&id)).cloned())
            .or_else(|| self.existing.holds.get(&id).cloned())
    }

    fn reversed(&self, id: EntryId) -> bool {
        self.existing.reversals.contains_key(&id)
            || self.seen.reversed.contains(&id)
            || self.prev.is_some_and(|p| p.reversed.contains(&id))
    }
}

enum Step {
    Replay(Outcome),
    Apply(Op),
}

fn replay_entry(
    ctx: &Ctx<'_>,
    id: EntryId,
    kind: EntryKind,
    body: [u8; 32],
) -> Result<Option<Step>, LedgerError> {
    match ctx.entry(id) {
        None => Ok(None),
        Some(rec) if rec.body_hash == body && rec.kind == kind => {
            Ok(Some(Step::Replay(Outcome::Entry(rec.clone(), true))))
        }
        Some(_) => Err(LedgerError::IdConflict { id: id.to_string() }),
    }
}

/// A new, empty account as of the group's time; the caller sets its id.
fn open_account(
    ctx: &Ctx<'_>,
    tenant: &str,
    owner: &str,
    purpose: &str,
    currency: Currency,
    normal_side: Side,
    constraint: Option<Constraint>,
) -> Account {
    Account {
        id: ledger::AccountId(uuid::Uuid::nil()),
        tenant: tenant.to_string(),
        owner: owner.to_string(),
        purpose: purpose.to_string(),
        currency,
        normal_side,
        constraint,
        balances: Balances::default(),
        created_at_ms: ctx.now_ms,
    }
}

fn resolve(ctx: &Ctx<'_>, cmd: &Command) -> Result<Step, LedgerError> {
    match cmd {
        Command::CreateAccount {
            tenant,
            owner,
            purpose,
            currency,
            normal_side,
            constraint,
        } => Ok(Step::Apply(Op::CreateAccount(Account {
            id: ledger::AccountId(uuid::Uuid::now_v7()),
            ..open_account(
                ctx,
                tenant,
                owner,
                purpose,
                *currency,
                *normal_side,
                *constraint,
            )
        }))),
        Command::Entry(r) => {
            let body = body_hash(Body::Entry(r));
            if let Some(step) = replay_entry(ctx, r.id, EntryKind::Plain, body)? {
                return Ok(step);
            }
            Ok(Step::Apply(Op::Entry {
                request: r.clone(),
                kind: EntryKind::Plain,
                body_hash: body,
            }))
        }
        Command::Hold(h) => {
            let body = body_hash(Body::Hold(h));
            match ctx.hold(h.id) {
                Some(rec) if rec.body_hash == body => Ok(Step::Replay(Outcome::Hold(rec, true))),
                Some(_) => Err(LedgerError::IdConflict {
                    id: h.id.to_string(),
                }),
                None => Ok(Step::Apply(Op::Hold {
                    request: h.clone(),
                    body_hash: body,
                })),
            }
        }
        Command::PostHold {
            hold_id,
            entry_id,
            amount_minor,
            memo,
        } => resolve_post_hold(ctx, *hold_id, *entry_id, *amount_minor, memo),
        Command::VoidHold { hold_id } => match ctx.hold(*hold_id) {
            Some(h) if h.status == HoldStatus::Pending => {
                Ok(Step::Apply(Op::VoidHold { hold_id: *hold_id }))
            }
            Some(h) if h.status == HoldStatus::Voided => Ok(Step::Replay(Outcome::Hold(h, true))),
            Some(h) => Err(LedgerError::HoldNotPending {
                id: *hold_id,
                status: h.status.as_str(),
            }),
            None => Err(LedgerError::UnknownHold { id: *hold_id }),
        },
        Command::Reverse {
            original,
            reversal_id,
            memo,
        } => resolve_reversal(ctx, *original, *reversal_id, memo),
        Command::ExpireHold { hold_id } => Ok(Step::Apply(Op::ExpireHold { hold_id: *hold_id })),
        Command::OpenAccount {
            id,
            tenant,
            owner,
            purpose,
            currency,
            normal_side,
            constraint,
        } => {
            if let Some(a) = ctx.book.account(*id) {
                let same = a.names_digest == ledger::names_digest(tenant, owner, purpose)
                    && a.currency == *currency
                    && a.normal_side == *normal_side
                    && a.constraint == *constraint;
                return if same {
                    Ok(Step::Replay(Outcome::Account(Account {
                        id: *id,
                        tenant: tenant.clone(),
                        owner: owner.clone(),
                        purpose: purpose.clone(),
                        currency: a.currency,
                        normal_side: a.normal_side,
                        constraint: a.constraint,
                        balances: a.balances,
                        created_at_ms: a.created_at_ms,
                    })))
                } else {
                    Err(LedgerError::IdConflict { id: id.to_string() })
                };
            }
            Ok(Step::Apply(Op::CreateAccount(Account {
                id: *id,
                ..open_account(
                    ctx,
                    tenant,
                    owner,
                    purpose,
                    *currency,
                    *normal_side,
                    *constraint,
                )
            })))
        }
    }
}

fn resolve_post_hold(
    ctx: &Ctx<'_>,
    hold_id: HoldId,
    entry_id: EntryId,
    amount_minor: Option<i64>,
    memo: &str,
) -> Result<Step, LedgerError> {
    let body = body_hash(Body::HoldPost {
        hold_id,
        amount_minor,
        memo,
    });
    if let Some(step) = replay_entry(ctx, entry_id, EntryKind::HoldPost(hold_id), body)? {
        return Ok(step);
    }
    match ctx.hold(hold_id) {
        Some(h) if h.status == HoldStatus::Pending => Ok(Step::Apply(Op::PostHold {
            hold_id,
            entry_id,
            amount_minor,
            memo: memo.to_string(),
            body_hash: body,
        })),
        Some(h) => Err(LedgerError::HoldNotPending {
            id: hold_id,
            status: h.status.as_str(),
        }),
        None => Err(LedgerError::UnknownHold { id: hold_id }),
    }
}

fn resolve_reversal(
    ctx: &Ctx<'_>,
    original: EntryId,
    reversal_id: EntryId,
    memo: &str,
) -> Result<Step, LedgerError> {
    let body = body_hash(Body::Reversal { original, memo });
    if let Some(step) = replay_entry(ctx, reversal_id, EntryKind::Reversal(original), body)? {
        return Ok(step);
    }
    let orig = ctx
        .entry(original)
        .ok_or(LedgerError::UnknownEntry { id: original })?;
    if ctx.reversed(original) {
        return Err(LedgerError::AlreadyReversed { id: original });
    }
    let postings = orig
        .postings
        .iter()
        .map(|p| Posting {
            direction: match p.direction {
                Side::Debit => Side::Credit,
                Side::Credit => Side::Debit,
            },
            ..*p
        })
        .collect();
    Ok(Step::Apply(Op::Entry {
        request: EntryRequest {
            id: reversal_id,
            currency: orig.currency,
            postings,
            memo: memo.to_string(),
        },
        kind: EntryKind::Reversal(original),
        body_hash: body,
    }))
}

fn wrap(index: usize, len: usize, e: LedgerError) -> LedgerError {
    if len == 1 {
        e
    } else {
        LedgerError::InBatch {
            index,
            source: Box::new(e),
        }
    }
}

/// Resolves and applies one envelope's commands; all of them or none reach the book.
pub(super) fn apply_envelope(
    book: &mut Book,
    existing: &Existing,
    (seen, prev): (&mut Seen, Option<&Seen>),
    commands: &[Command],
    now: i64,
) -> Result<Vec<Outcome>, LedgerError> {
    let mut plan = Vec::with_capacity(commands.len());
    let mut ops = Vec::new();
    {
        let ctx = Ctx {
            existing,
            seen,
            prev,
            book,
            now_ms: now,
        };
        let mut ids = HashSet::new();
        for (i, c) in commands.iter().enumerate() {
            if let Some(id) = own_id(c) {
                if !ids.insert(id) {
                    return Err(LedgerError::DuplicateInBatch { id: id.to_string() });
                }
            }
            match resolve(&ctx, c).map_err(|e| wrap(i, commands.len(), e))? {
                Step::Replay(o) => plan.push(Err(o)),
                Step::Apply(op) => {
                    plan.push(Ok(ops.len()));
                    ops.push(op);
                }
            }
        }
    }
    let applied = if ops.is_empty() {
        Vec::new()
    } else {
        book.apply_linked(&ops, now)?
    };
    let mut applied: Vec<Option<OpOutcome>> = applied.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(plan.len());
    for (step, cmd) in plan.into_iter().zip(commands) {
        out.push(match step {
            Err(replayed) => replayed,
            Ok(i) => record(seen, cmd, applied[i].take().expect("one outcome per op")),
        });
    }
    Ok(out)
}

fn own_id(c: &Command) -> Option<uuid::Uuid> {
    match c {
        Command::OpenAccount { id, .. } => Some(id.0),
        Command::Entry(r) => Some(r.id.0),
        Command::Hold(h) => Some(h.id.0),
        Command::PostHold { entry_id, .. } => Some(entry_id.0),
        Command::Reverse { reversal_id, .. } => Some(reversal_id.0),
        _ => None,
    }
}

fn record(seen: &mut Seen, cmd: &Command, o: OpOutcome) -> Outcome {
    match o {
        OpOutcome::Account(a) => Outcome::Account(a),
        OpOutcome::Entry(e) => {
            if let Command::Reverse { original, .. } = cmd {
                seen.reversed.insert(*original);
            }
            seen.entries.insert(e.id, e.clone());
            Outcome::Entry(e, false)
        }
        OpOutcome::Hold(h) => {
            seen.holds.insert(h.request.id, h.clone());
            Outcome::Hold(h, false)
        }
    }
}
