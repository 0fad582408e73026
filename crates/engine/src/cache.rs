//! What the engine keeps in this process between requests, besides the ledger: copies of
//! documents as it last read or wrote them, and turns for changing one document. Neither is
//! needed for correctness (every write names the version it read); both save a refused
//! write and a read again when requests on one document crowd in.

use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// Striped locks that queue changes to one document in this process, so that concurrent
/// requests on a busy document wait their turn instead of failing their version check and
/// retrying. Unrelated documents rarely share a stripe.
pub(crate) struct DocLocks {
    stripes: Box<[tokio::sync::Mutex<()>]>,
}

impl DocLocks {
    pub(crate) fn new(stripes: usize) -> DocLocks {
        assert!(stripes > 0, "at least one stripe");
        DocLocks {
            stripes: (0..stripes).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// Waits for this process's turn to change document `id`; the turn lasts as long as the
    /// guard.
    pub(crate) async fn turn(&self, id: Uuid) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = (id.as_u64_pair().1 % self.stripes.len() as u64) as usize;
        self.stripes[stripe].lock().await
    }
}

/// Documents by id, as this process last read or wrote them; once `max` are kept, all are
/// forgotten and read again as needed (cheaper than tracking which are cold).
pub(crate) struct DocCache<T> {
    docs: Mutex<HashMap<Uuid, T>>,
    max: usize,
}

impl<T: Clone> DocCache<T> {
    pub(crate) fn new(max: usize) -> DocCache<T> {
        DocCache {
            docs: Mutex::default(),
            max,
        }
    }

    fn docs(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, T>> {
        // A panic while holding the lock cannot leave a map half-changed.
        self.docs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, id: Uuid) -> Option<T> {
        self.docs().get(&id).cloned()
    }

    pub(crate) fn put(&self, id: Uuid, doc: T) {
        let mut docs = self.docs();
        if docs.len() >= self.max {
            docs.clear();
        }
        docs.insert(id, doc);
    }

    pub(crate) fn forget(&self, id: Uuid) {
        self.docs().remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_forgets_everything_and_keeps_the_newest() {
        let cache = DocCache::new(2);
        cache.put(Uuid::from_u128(1), 1);
        cache.put(Uuid::from_u128(2), 2);
        assert_eq!(cache.get(Uuid::from_u128(1)), Some(1));
        cache.put(Uuid::from_u128(3), 3);
        assert_eq!(cache.get(Uuid::from_u128(1)), None);
        assert_eq!(cache.get(Uuid::from_u128(3)), Some(3));
        cache.forget(Uuid::from_u128(3));
        assert_eq!(cache.get(Uuid::from_u128(3)), None);
    }

    #[tokio::test]
    async fn one_document_waits_for_its_turn_and_others_do_not() {
        let locks = DocLocks::new(1 << 16);
        let a = Uuid::from_u128(1);
        let turn = locks.turn(a).await;
        assert!(
            tokio::time::timeout(std::time::Duration::ZERO, locks.turn(a))
                .await
                .is_err(),
            "the same document waits"
        );
        let _other = locks.turn(Uuid::from_u128(2)).await;
        drop(turn);
        let _again = locks.turn(a).await;
    }
}
