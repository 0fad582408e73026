//! The writer's in-memory accounts, kept small: a lending book has millions of accounts
//! (four per loan), and all of them must be in memory for the writer to validate against.
//! Names (tenant, owner, purpose) stay in storage; the table keeps a digest of them, enough
//! to tell an idempotent re-open of an account from a conflicting one.

use crate::{Account, AccountId, Balances, Constraint, Side};
use money::Currency;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// What the writer needs of one account to validate and post (56 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountState {
    pub balances: Balances,
    pub created_at_ms: i64,
    pub names_digest: u64,
    pub currency: Currency,
    pub normal_side: Side,
    pub constraint: Option<Constraint>,
}

impl AccountState {
    pub fn of(a: &Account) -> AccountState {
        AccountState {
            balances: a.balances,
            created_at_ms: a.created_at_ms,
            names_digest: names_digest(&a.tenant, &a.owner, &a.purpose),
            currency: a.currency,
            normal_side: a.normal_side,
            constraint: a.constraint,
        }
    }
}

/// The first 8 bytes of SHA-256 over the length-prefixed names: a different set of names
/// yields the same digest with probability 2⁻⁶⁴, which is what telling a retry from a
/// conflict may cost.
pub fn names_digest(tenant: &str, owner: &str, purpose: &str) -> u64 {
    let mut h = Sha256::new();
    for name in [tenant, owner, purpose] {
        h.update((name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
    }
    let d = h.finalize();
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Accounts by id: a dense vector of states and an index into it, so an account costs its
/// 56-byte state plus a 20-byte index slot instead of a map entry holding three strings.
#[derive(Debug, Default)]
pub struct AccountTable {
    index: HashMap<AccountId, u32>,
    states: Vec<AccountState>,
}

impl AccountTable {
    pub fn with_capacity(n: usize) -> AccountTable {
        AccountTable {
            index: HashMap::with_capacity(n),
            states: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    pub fn contains(&self, id: &AccountId) -> bool {
        self.index.contains_key(id)
    }

    pub fn get(&self, id: &AccountId) -> Option<&AccountState> {
        self.index.get(id).map(|&i| &self.states[i as usize])
    }

    pub fn get_mut(&mut self, id: &AccountId) -> Option<&mut AccountState> {
        self.index.get(id).map(|&i| &mut self.states[i as usize])
    }

    pub fn iter(&self) -> impl Iterator<Item = (AccountId, &AccountState)> {
        self.index
            .iter()
            .map(|(id, &i)| (*id, &self.states[i as usize]))
    }

    /// Adds an account; ids are unique.
    pub fn insert(&mut self, id: AccountId, state: AccountState) {
        let slot = u32::try_from(self.states.len()).expect("fewer than 2^32 accounts");
        let previous = self.index.insert(id, slot);
        assert!(previous.is_none(), "account ids are unique");
        self.states.push(state);
    }

    /// Removes the account added last (undo runs in reverse order of creation).
    pub fn remove_last(&mut self, id: &AccountId) {
        let slot = self.index.remove(id).expect("account to remove exists");
        assert_eq!(
            slot as usize + 1,
            self.states.len(),
            "only the newest account can be removed"
        );
        self.states.pop();
    }
}

impl FromIterator<Account> for AccountTable {
    fn from_iter<I: IntoIterator<Item = Account>>(iter: I) -> AccountTable {
        let mut table = AccountTable::default();
        for a in iter {
            table.insert(a.id, AccountState::of(&a));
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_stays_small() {
        assert!(std::mem::size_of::<AccountState>() <= 56);
    }

    #[test]
    fn digest_separates_names_at_their_boundaries() {
        assert_ne!(names_digest("ab", "c", "d"), names_digest("a", "bc", "d"));
        assert_eq!(names_digest("t", "o", "p"), names_digest("t", "o", "p"));
    }

    #[test]
    fn only_the_newest_account_can_be_removed() {
        let state = |n| AccountState {
            balances: Balances::default(),
            created_at_ms: n,
            names_digest: 0,
            currency: Currency::Cny,
            normal_side: Side::Debit,
            constraint: None,
        };
        let (a, b) = (
            AccountId(uuid::Uuid::from_u128(1)),
            AccountId(uuid::Uuid::from_u128(2)),
        );
        let mut table = AccountTable::default();
        table.insert(a, state(1));
        table.insert(b, state(2));
        assert!(std::panic::catch_unwind(move || {
            let mut t = table;
            t.remove_last(&a);
        })
        .is_err());
        let mut table = AccountTable::default();
        table.insert(a, state(1));
        table.insert(b, state(2));
        table.remove_last(&b);
        assert_eq!(table.len(), 1);
        assert_eq!(table.get(&a).map(|s| s.created_at_ms), Some(1));
        assert!(table.get(&b).is_none());
    }
}
