use crate::encode::{leaf_data, BodyHash};
use crate::merkle::{leaf_hash, Hash};
use crate::table::{AccountState, AccountTable};
use crate::{
    Account, AccountId, Balances, EntryId, EntryKind, EntryRecord, EntryRequest, HoldId,
    HoldRequest, LedgerError, Posting, Side, LIMITS,
};
use money::Currency;
use std::collections::{HashMap, HashSet};

/// Hash chains are kept per partition of entry ids, so that verification and any later
/// sharding of the writer can proceed partition by partition.
pub const PARTITIONS: u16 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldStatus {
    Pending,
    Posted,
    Voided,
    Expired,
}

impl HoldStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Pending => "pending",
            HoldStatus::Posted => "posted",
            HoldStatus::Voided => "voided",
            HoldStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<HoldStatus> {
        [Self::Pending, Self::Posted, Self::Voided, Self::Expired]
            .into_iter()
            .find(|h| h.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldRecord {
    pub request: HoldRequest,
    pub status: HoldStatus,
    pub posted_entry_id: Option<EntryId>,
    pub posted_amount_minor: i64,
    pub body_hash: BodyHash,
    pub created_at_ms: i64,
}

/// One operation for the writer. Linked operations commit all-or-nothing.
#[derive(Clone, Debug)]
pub enum Op {
    CreateAccount(Account),
    Entry {
        request: EntryRequest,
        kind: EntryKind,
        body_hash: BodyHash,
    },
    Hold {
        request: HoldRequest,
        body_hash: BodyHash,
    },
    PostHold {
        hold_id: HoldId,
        entry_id: EntryId,
        amount_minor: Option<i64>,
        memo: String,
        body_hash: BodyHash,
    },
    VoidHold {
        hold_id: HoldId,
    },
    ExpireHold {
        hold_id: HoldId,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpOutcome {
    Account(Account),
    Entry(EntryRecord),
    Hold(HoldRecord),
}

/// What a group of operations changed, for the shell to persist in one transaction.
#[derive(Debug, Default)]
pub struct Effect {
    pub accounts_created: Vec<Account>,
    pub entries: Vec<EntryRecord>,
    /// Holds created or changed, one record per change, in order.
    pub holds: Vec<HoldRecord>,
    /// Holds created by this group: their first record is an insert, later ones updates.
    pub new_hold_ids: Vec<HoldId>,
    /// Final balances of every account the group touched.
    pub balances: Vec<(AccountId, Balances)>,
}

impl Effect {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.holds.is_empty() && self.accounts_created.is_empty()
    }
}

enum Undo {
    Balances(AccountId, Balances),
    Hold(HoldId, Option<HoldRecord>),
    Chain(u16, Hash),
    Seq(u64),
    AccountCreated(AccountId),
    Effects {
        entries: usize,
        holds: usize,
        new_holds: usize,
        created: usize,
        /// Accounts touched before the mark: those touched after it are forgotten with
        /// their changes, so an account created and undone is not reported afterwards.
        touched: usize,
    },
}

/// The ledger's authoritative in-memory state for one writer.
pub struct Book {
    accounts: AccountTable,
    /// Pending holds only; closed holds live in storage.
    holds: HashMap<HoldId, HoldRecord>,
    chain_heads: [Hash; PARTITIONS as usize],
    /// Leaf index the next entry gets in the Merkle tree.
    next_seq: u64,
    undo: Vec<Undo>,
    touched: Vec<AccountId>,
    touched_set: HashSet<AccountId>,
    effect: Effect,
}

pub fn partition_of(id: EntryId) -> u16 {
    let b = id.0.as_bytes();
    u16::from_be_bytes([b[14], b[15]]) % PARTITIONS
}

impl Book {
    pub fn new(
        accounts: AccountTable,
        pending_holds: Vec<HoldRecord>,
        chain_heads: [Hash; PARTITIONS as usize],
        next_seq: u64,
    ) -> Self {
        Book {
            accounts,
            holds: pending_holds
                .into_iter()
                .map(|h| (h.request.id, h))
                .collect(),
            chain_heads,
            next_seq,
            undo: Vec::new(),
            touched: Vec::new(),
            touched_set: HashSet::new(),
            effect: Effect::default(),
        }
    }

    pub fn account(&self, id: AccountId) -> Option<&AccountState> {
        self.accounts.get(&id)
    }

    pub fn pending_hold(&self, id: HoldId) -> Option<&HoldRecord> {
        self.holds.get(&id)
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn chain_head(&self, partition: u16) -> Hash {
        self.chain_heads[partition as usize]
    }

    /// Pending holds whose expiry is at or before `now_ms`.
    pub fn expired_holds(&self, now_ms: i64, max: usize) -> Vec<HoldId> {
        self.holds
            .values()
            .filter(|h| h.request.expires_at_ms.is_some_and(|t| t <= now_ms))
            .take(max)
            .map(|h| h.request.id)
            .collect()
    }

    /// Applies `ops` all-or-nothing: on error, every change they made is undone and the
    /// error names the failing operation.
    pub fn apply_linked(&mut self, ops: &[Op], now_ms: i64) -> Result<Vec<OpOutcome>, LedgerError> {
        if ops.is_empty() || ops.len() > LIMITS.batch_ops_max {
            return Err(LedgerError::BatchSize {
                got: ops.len(),
                max: LIMITS.batch_ops_max,
            });
        }
        let mark = self.mark();
        let mut out = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            match self.apply_one(op, now_ms) {
                Ok(o) => out.push(o),
                Err(e) => {
                    self.undo_to(mark);
                    if ops.len() == 1 {
                        return Err(e);
                    }
                    return Err(LedgerError::InBatch {
                        index,
                        source: Box::new(e),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Everything applied since the last `finish_group`/`rollback_group`, ready to persist.
    pub fn take_effect(&mut self) -> Effect {
        let mut effect = std::mem::take(&mut self.effect);
        effect.balances = self
            .touched
            .iter()
            .map(|id| (*id, self.state(id).balances))
            .collect();
        self.touched.clear();
        self.touched_set.clear();
        effect
    }

    /// Where the next group's changes start in the undo log. Groups stack: a group may be
    /// applied while the one before it is still being made durable.
    pub fn group_mark(&self) -> usize {
        self.undo.len()
    }

    /// The groups below `mark` are durable: forget how to undo them.
    pub fn forget_undo_before(&mut self, mark: usize) {
        assert!(mark <= self.undo.len(), "mark within the undo log");
        self.undo.drain(..mark);
    }

    /// Undoes everything from `mark` on, including the group being applied.
    pub fn rollback_to(&mut self, mark: usize) {
        self.undo_to(mark);
        self.touched.clear();
        self.touched_set.clear();
        self.effect = Effect::default();
    }

    /// The group was made durable: forget how to undo it.
    pub fn finish_group(&mut self) {
        self.undo.clear();
        self.touched.clear();
        self.touched_set.clear();
        self.effect = Effect::default();
    }

    /// The group could not be made durable: restore memory to before it.
    pub fn rollback_group(&mut self) {
        self.undo_to(0);
        self.finish_group();
    }

    fn mark(&mut self) -> usize {
        self.undo.push(Undo::Effects {
            entries: self.effect.entries.len(),
            holds: self.effect.holds.len(),
            new_holds: self.effect.new_hold_ids.len(),
            created: self.effect.accounts_created.len(),
            touched: self.touched.len(),
        });
        self.undo.len() - 1
    }

    fn undo_to(&mut self, mark: usize) {
        while self.undo.len() > mark {
            match self.undo.pop().expect("undo entry") {
                Undo::Balances(id, b) => {
                    self.accounts
                        .get_mut(&id)
                        .expect("touched account")
                        .balances = b
                }
                Undo::Hold(id, None) => {
                    self.holds.remove(&id);
                }
                Undo::Hold(id, Some(h)) => {
                    self.holds.insert(id, h);
                }
                Undo::Chain(p, h) => self.chain_heads[p as usize] = h,
                Undo::Seq(seq) => self.next_seq = seq,
                Undo::AccountCreated(id) => self.accounts.remove_last(&id),
                Undo::Effects {
                    entries,
                    holds,
                    new_holds,
                    created,
                    touched,
                } => {
                    self.effect.entries.truncate(entries);
                    self.effect.holds.truncate(holds);
                    self.effect.new_hold_ids.truncate(new_holds);
                    self.effect.accounts_created.truncate(created);
                    for id in self.touched.drain(touched.min(self.touched.len())..) {
                        self.touched_set.remove(&id);
                    }
                }
            }
        }
    }

    fn apply_one(&mut self, op: &Op, now_ms: i64) -> Result<OpOutcome, LedgerError> {
        match op {
            Op::CreateAccount(a) => Ok(self.create_account(a.clone())),
            Op::Entry {
                request,
                kind,
                body_hash,
            } => self
                .post_entry(request, *kind, *body_hash, now_ms)
                .map(OpOutcome::Entry),
            Op::Hold { request, body_hash } => self
                .create_hold(request, *body_hash, now_ms)
                .map(OpOutcome::Hold),
            Op::PostHold {
                hold_id,
                entry_id,
                amount_minor,
                memo,
                body_hash,
            } => self.post_hold(*hold_id, *entry_id, *amount_minor, memo, *body_hash, now_ms),
            Op::VoidHold { hold_id } => self
                .close_hold(*hold_id, HoldStatus::Voided, now_ms)
                .map(OpOutcome::Hold),
            Op::ExpireHold { hold_id } => self
                .close_hold(*hold_id, HoldStatus::Expired, now_ms)
                .map(OpOutcome::Hold),
        }
    }

    fn create_account(&mut self, a: Account) -> OpOutcome {
        assert_eq!(a.balances, Balances::default(), "new accounts start empty");
        self.undo.push(Undo::AccountCreated(a.id));
        self.accounts.insert(a.id, AccountState::of(&a));
        self.effect.accounts_created.push(a.clone());
        OpOutcome::Account(a)
    }

    fn state(&self, id: &AccountId) -> &AccountState {
        self.accounts.get(id).expect("validated account")
    }

    fn check_account(
        &self,
        index: usize,
        id: AccountId,
        currency: Currency,
    ) -> Result<(), LedgerError> {
        let acc = self.accounts.get(&id).ok_or(LedgerError::UnknownAccount {
            index,
            account_id: id,
        })?;
        if acc.currency != currency {
            return Err(LedgerError::CurrencyMismatch {
                index,
                account_id: id,
                account_currency: acc.currency,
                entry_currency: currency,
            });
        }
        Ok(())
    }

    fn validate_entry(&self, r: &EntryRequest) -> Result<(), LedgerError> {
        let n = r.postings.len();
        if !(LIMITS.postings_min..=LIMITS.postings_max).contains(&n) {
            return Err(LedgerError::PostingCount {
                got: n,
                min: LIMITS.postings_min,
                max: LIMITS.postings_max,
            });
        }
        if r.memo.len() > LIMITS.memo_bytes_max {
            return Err(LedgerError::MemoTooLong {
                max: LIMITS.memo_bytes_max,
            });
        }
        let (mut debits, mut credits) = (0i128, 0i128);
        for (index, p) in r.postings.iter().enumerate() {
            if p.amount_minor <= 0 {
                return Err(LedgerError::NonPositiveAmount {
                    index,
                    amount_minor: p.amount_minor,
                });
            }
            self.check_account(index, p.account_id, r.currency)?;
            match p.direction {
                Side::Debit => debits += i128::from(p.amount_minor),
                Side::Credit => credits += i128::from(p.amount_minor),
            }
        }
        if debits != credits {
            return Err(LedgerError::Unbalanced {
                debits_minor: debits,
                credits_minor: credits,
            });
        }
        Ok(())
    }

    /// Changes one account's sums through `f`, recording how to undo it; refuses overflow.
    fn adjust(
        &mut self,
        id: AccountId,
        f: impl FnOnce(&mut Balances) -> Option<()>,
    ) -> Result<(), LedgerError> {
        let acc = self.accounts.get_mut(&id).expect("validated account");
        let before = acc.balances;
        let mut after = before;
        f(&mut after).ok_or(LedgerError::Overflow { account_id: id })?;
        acc.balances = after;
        self.undo.push(Undo::Balances(id, before));
        if self.touched_set.insert(id) {
            self.touched.push(id);
        }
        Ok(())
    }

    fn check_constraints(&self, ids: impl Iterator<Item = AccountId>) -> Result<(), LedgerError> {
        for id in ids {
            let acc = self.state(&id);
            if !acc.balances.satisfies(acc.constraint) {
                return Err(LedgerError::ConstraintViolated {
                    account_id: id,
                    constraint: acc.constraint.expect("only constrained accounts can fail"),
                });
            }
        }
        Ok(())
    }

    fn post_postings(&mut self, postings: &[Posting]) -> Result<(), LedgerError> {
        for p in postings {
            let amt = p.amount_minor;
            self.adjust(p.account_id, |b| {
                match p.direction {
                    Side::Debit => {
                        b.debits_posted_minor = b.debits_posted_minor.checked_add(amt)?
                    }
                    Side::Credit => {
                        b.credits_posted_minor = b.credits_posted_minor.checked_add(amt)?
                    }
                }
                Some(())
            })?;
        }
        self.check_constraints(postings.iter().map(|p| p.account_id))
    }

    fn post_entry(
        &mut self,
        r: &EntryRequest,
        kind: EntryKind,
        body_hash: BodyHash,
        now_ms: i64,
    ) -> Result<EntryRecord, LedgerError> {
        self.validate_entry(r)?;
        self.post_postings(&r.postings)?;
        Ok(self.append_record(r, kind, body_hash, now_ms))
    }

    /// Links the entry into its partition's chain and the Merkle tree.
    fn append_record(
        &mut self,
        r: &EntryRequest,
        kind: EntryKind,
        body_hash: BodyHash,
        now_ms: i64,
    ) -> EntryRecord {
        let partition = partition_of(r.id);
        let mut rec = EntryRecord {
            id: r.id,
            seq: self.next_seq,
            partition,
            prev_hash: self.chain_heads[partition as usize],
            hash: [0; 32],
            currency: r.currency,
            kind,
            memo: r.memo.clone(),
            postings: r.postings.clone(),
            created_at_ms: now_ms,
            body_hash,
        };
        rec.hash = leaf_hash(&leaf_data(&rec));
        self.undo.push(Undo::Seq(self.next_seq));
        self.next_seq += 1;
        self.undo.push(Undo::Chain(partition, rec.prev_hash));
        self.chain_heads[partition as usize] = rec.hash;
        self.effect.entries.push(rec.clone());
        rec
    }

    fn set_hold(&mut self, h: HoldRecord) {
        let id = h.request.id;
        let old = if h.status == HoldStatus::Pending {
            self.holds.insert(id, h.clone())
        } else {
            self.holds.remove(&id)
        };
        self.undo.push(Undo::Hold(id, old));
        self.effect.holds.push(h);
    }

    fn create_hold(
        &mut self,
        r: &HoldRequest,
        body_hash: BodyHash,
        now_ms: i64,
    ) -> Result<HoldRecord, LedgerError> {
        if r.debit_account_id == r.credit_account_id {
            return Err(LedgerError::SameAccount);
        }
        if r.amount_minor <= 0 {
            return Err(LedgerError::NonPositiveAmount {
                index: 0,
                amount_minor: r.amount_minor,
            });
        }
        if r.memo.len() > LIMITS.memo_bytes_max {
            return Err(LedgerError::MemoTooLong {
                max: LIMITS.memo_bytes_max,
            });
        }
        self.check_account(0, r.debit_account_id, r.currency)?;
        self.check_account(1, r.credit_account_id, r.currency)?;
        let amt = r.amount_minor;
        self.adjust(r.debit_account_id, |b| {
            b.debits_pending_minor = b.debits_pending_minor.checked_add(amt)?;
            Some(())
        })?;
        self.adjust(r.credit_account_id, |b| {
            b.credits_pending_minor = b.credits_pending_minor.checked_add(amt)?;
            Some(())
        })?;
        self.check_constraints([r.debit_account_id, r.credit_account_id].into_iter())?;
        let hold = HoldRecord {
            request: r.clone(),
            status: HoldStatus::Pending,
            posted_entry_id: None,
            posted_amount_minor: 0,
            body_hash,
            created_at_ms: now_ms,
        };
        self.effect.new_hold_ids.push(r.id);
        self.set_hold(hold.clone());
        Ok(hold)
    }

    fn pending(&self, id: HoldId) -> Result<HoldRecord, LedgerError> {
        self.holds
            .get(&id)
            .cloned()
            .ok_or(LedgerError::UnknownHold { id })
    }

    /// Releases the reservation a pending hold made.
    fn release(&mut self, h: &HoldRequest) -> Result<(), LedgerError> {
        let amt = h.amount_minor;
        self.adjust(h.debit_account_id, |b| {
            b.debits_pending_minor = b.debits_pending_minor.checked_sub(amt)?;
            (b.debits_pending_minor >= 0).then_some(())
        })?;
        self.adjust(h.credit_account_id, |b| {
            b.credits_pending_minor = b.credits_pending_minor.checked_sub(amt)?;
            (b.credits_pending_minor >= 0).then_some(())
        })
    }

    fn post_hold(
        &mut self,
        hold_id: HoldId,
        entry_id: EntryId,
        amount_minor: Option<i64>,
        memo: &str,
        body_hash: BodyHash,
        now_ms: i64,
    ) -> Result<OpOutcome, LedgerError> {
        let mut hold = self.pending(hold_id)?;
        if hold.request.expires_at_ms.is_some_and(|t| t <= now_ms) {
            return Err(LedgerError::HoldExpired { id: hold_id });
        }
        let held = hold.request.amount_minor;
        let amt = amount_minor.unwrap_or(held);
        if amt <= 0 {
            return Err(LedgerError::NonPositiveAmount {
                index: 0,
                amount_minor: amt,
            });
        }
        if amt > held {
            return Err(LedgerError::HoldAmountExceeded {
                amount_minor: amt,
                held_minor: held,
            });
        }
        if memo.len() > LIMITS.memo_bytes_max {
            return Err(LedgerError::MemoTooLong {
                max: LIMITS.memo_bytes_max,
            });
        }
        self.release(&hold.request)?;
        let request = EntryRequest {
            id: entry_id,
            currency: hold.request.currency,
            postings: vec![
                Posting {
                    account_id: hold.request.debit_account_id,
                    direction: Side::Debit,
                    amount_minor: amt,
                },
                Posting {
                    account_id: hold.request.credit_account_id,
                    direction: Side::Credit,
                    amount_minor: amt,
                },
            ],
            memo: memo.to_string(),
        };
        self.post_postings(&request.postings)?;
        let rec = self.append_record(&request, EntryKind::HoldPost(hold_id), body_hash, now_ms);
        hold.status = HoldStatus::Posted;
        hold.posted_entry_id = Some(entry_id);
        hold.posted_amount_minor = amt;
        self.set_hold(hold);
        Ok(OpOutcome::Entry(rec))
    }

    fn close_hold(
        &mut self,
        hold_id: HoldId,
        status: HoldStatus,
        _now_ms: i64,
    ) -> Result<HoldRecord, LedgerError> {
        let mut hold = self.pending(hold_id)?;
        self.release(&hold.request)?;
        hold.status = status;
        self.set_hold(hold.clone());
        Ok(hold)
    }
}
