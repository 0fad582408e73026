//! Per-key rate limits: a GCRA bucket (`governor`) per API key, refilled at the key's own
//! rate or its role's default, holding one second's worth of requests. A request over it
//! is answered 429 with `Retry-After` before any handler runs. The check is one atomic
//! compare-and-swap on the key's bucket, which the key cache already hands out.

use super::Role;
use crate::problem::problem;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;

/// The most a key may be given.
pub const RATE_LIMIT_PER_S_MAX: i64 = 1_000_000;

/// A default far above what one key of a role needs, so that load tests and batch jobs
/// are not throttled unless an operator lowers it.
const ROLE_DEFAULT_PER_S: u32 = 100_000;

/// Each role's default requests per second (`puhui serve --rate-limit ROLE=N`). Keys
/// already cached keep their rate until the cache reads them again.
#[derive(Debug)]
pub struct RoleRates([AtomicU32; 6]);

impl Default for RoleRates {
    fn default() -> Self {
        RoleRates(std::array::from_fn(|_| AtomicU32::new(ROLE_DEFAULT_PER_S)))
    }
}

fn slot(role: Role) -> usize {
    match role {
        Role::Operator => 0,
        Role::RiskAnalyst => 1,
        Role::PartnerBank => 2,
        Role::Investor => 3,
        Role::Merchant => 4,
        Role::Borrower => 5,
    }
}

impl RoleRates {
    /// Parses `ROLE=N` settings over the defaults.
    pub fn parse(settings: &[String]) -> Result<RoleRates, String> {
        let out = RoleRates::default();
        out.set(settings)?;
        Ok(out)
    }

    /// Applies `ROLE=N` settings; none is applied if one is wrong.
    pub fn set(&self, settings: &[String]) -> Result<(), String> {
        let mut parsed = Vec::new();
        for s in settings {
            let (role, n) = s
                .split_once('=')
                .ok_or_else(|| format!("--rate-limit {s:?}: expected ROLE=REQUESTS_PER_SECOND"))?;
            let role: Role = role.trim().parse()?;
            let n: i64 = n
                .trim()
                .parse()
                .map_err(|_| format!("--rate-limit {s:?}: not a whole number"))?;
            if !(1..=RATE_LIMIT_PER_S_MAX).contains(&n) {
                return Err(format!(
                    "--rate-limit {s:?}: must be 1 to {RATE_LIMIT_PER_S_MAX}"
                ));
            }
            parsed.push((slot(role), n as u32));
        }
        for (i, n) in parsed {
            self.0[i].store(n, Relaxed);
        }
        Ok(())
    }

    /// The rate of a key of `role`, its own if it has one.
    pub fn of(&self, role: Role, own: Option<i64>) -> u32 {
        own.and_then(|n| u32::try_from(n.clamp(1, RATE_LIMIT_PER_S_MAX)).ok())
            .unwrap_or_else(|| self.0[slot(role)].load(Relaxed))
    }
}

/// One key's bucket.
#[derive(Clone)]
pub struct KeyLimiter {
    per_s: u32,
    bucket: Arc<DefaultDirectRateLimiter>,
}

impl std::fmt::Debug for KeyLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyLimiter({}/s)", self.per_s)
    }
}

impl KeyLimiter {
    pub fn new(per_s: u32) -> KeyLimiter {
        let n = NonZeroU32::new(per_s.max(1)).expect("at least one");
        KeyLimiter {
            per_s: n.get(),
            bucket: Arc::new(RateLimiter::direct(Quota::per_second(n))),
        }
    }

    pub fn per_s(&self) -> u32 {
        self.per_s
    }

    /// Ok, or the 429 answer with the whole seconds until a request would pass.
    pub fn check(&self) -> Result<(), Response> {
        match self.bucket.check() {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let secs = secs.max(1);
                metrics::counter!("puhui_http_rate_limited_total").increment(1);
                let mut resp = problem(
                    429,
                    "rate_limited",
                    "Too many requests",
                    format!(
                        "this API key may make {} requests per second; retry after {secs} s",
                        self.per_s
                    ),
                )
                .into_response();
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                Err(resp)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_rate_is_told_when_to_retry() {
        let l = KeyLimiter::new(3);
        for _ in 0..3 {
            assert!(l.check().is_ok());
        }
        let resp = l.check().unwrap_err();
        assert_eq!(resp.status().as_u16(), 429);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn role_defaults_yield_to_a_key_of_its_own() {
        let r = RoleRates::parse(&["borrower=5".into()]).unwrap();
        assert_eq!(r.of(Role::Borrower, None), 5);
        assert_eq!(r.of(Role::Borrower, Some(9)), 9);
        assert_eq!(r.of(Role::Operator, None), ROLE_DEFAULT_PER_S);
        assert!(RoleRates::parse(&["borrower=0".into()]).is_err());
        assert!(RoleRates::parse(&["nobody=5".into()]).is_err());
    }
}
