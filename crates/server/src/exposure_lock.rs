//! One customer's exposure checks in turn. A borrower limit is checked against the exposure
//! stored before the new loan or line is written; two originations for one customer checked
//! at once would each see the other's amount missing and could both pass. So an origination
//! or limit change holds its customer's lock from the check until its write is committed.
//! The lock is in this process: the store's writer lock makes it the only one that writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::OwnedMutexGuard;

type Slot = tokio::sync::Mutex<()>;

/// Per (tenant, customer) locks, kept only while someone holds or waits for them.
#[derive(Default)]
pub struct ExposureLocks(Mutex<HashMap<(String, String), Weak<Slot>>>);

/// Held while a customer's exposure is checked and the change written.
pub struct ExposureGuard(#[allow(dead_code)] OwnedMutexGuard<()>);

/// Entries beyond which released ones are swept on the next insert.
const SWEEP_AT: usize = 4_096;

impl ExposureLocks {
    pub async fn lock(&self, tenant: &str, customer: &str) -> ExposureGuard {
        let slot = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            // A loan may name its customer's id in any case; a line names it as parsed.
            let customer = uuid::Uuid::parse_str(customer.trim())
                .map_or_else(|_| customer.trim().to_string(), |u| u.to_string());
            let key = (tenant.to_string(), customer);
            match map.get(&key).and_then(Weak::upgrade) {
                Some(slot) => slot,
                None => {
                    if map.len() >= SWEEP_AT {
                        map.retain(|_, w| w.strong_count() > 0);
                    }
                    let slot = Arc::new(Slot::new(()));
                    map.insert(key, Arc::downgrade(&slot));
                    slot
                }
            }
        };
        ExposureGuard(slot.lock_owned().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_check_of_one_customer_waits_for_the_first() {
        let locks = Arc::new(ExposureLocks::default());
        let first = locks.lock("t", "c").await;
        let l2 = locks.clone();
        let second = tokio::spawn(async move { l2.lock("t", "c").await });
        // Another customer is not held up.
        let _other = locks.lock("t", "d").await;
        tokio::task::yield_now().await;
        assert!(!second.is_finished());
        drop(first);
        second.await.unwrap();
    }
}
