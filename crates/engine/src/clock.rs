//! Where the engine reads the time of day: hold expiry, entry and hold timestamps, signed
//! tree heads. It is injected so that tests move time forward instead of waiting for it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;

    /// Resolves when the time jumped forward (a manual clock was moved), so that work due
    /// at a time (expiring holds) need not wait for its next periodic check. The system
    /// clock never jumps.
    fn jumped(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::pending())
    }
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        system_now_ms()
    }
}

/// The operating system's time in milliseconds since the Unix epoch (0 before it).
pub fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A clock that stands still until it is moved, for tests.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
    moved: tokio::sync::Notify,
}

impl ManualClock {
    /// A clock showing `now_ms`.
    pub fn at(now_ms: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            now_ms: AtomicI64::new(now_ms),
            moved: tokio::sync::Notify::new(),
        })
    }

    /// A clock showing the system time now.
    pub fn starting_now() -> Arc<ManualClock> {
        ManualClock::at(system_now_ms())
    }

    /// Moves the clock forward by `ms` and wakes whoever waits for a jump.
    pub fn advance_ms(&self, ms: i64) {
        assert!(ms >= 0, "time does not run backwards");
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
        // One waiter (the ledger writer); a jump it is not waiting for yet is kept for it.
        self.moved.notify_one();
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }

    fn jumped(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.moved.notified())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_moves_only_when_told_and_says_so() {
        let c = ManualClock::at(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance_ms(250);
        assert_eq!(c.now_ms(), 1_250);
        // The jump happened before anyone waited: it is still reported.
        tokio::time::timeout(std::time::Duration::from_secs(5), c.jumped())
            .await
            .expect("a jump is reported");
        assert!(
            tokio::time::timeout(std::time::Duration::ZERO, c.jumped())
                .await
                .is_err(),
            "and only once"
        );
    }

    #[test]
    fn the_system_clock_is_past_2020() {
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }
}
