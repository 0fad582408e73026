//! The documents revolving credit keeps in this process (see `crate::cache`).

use super::docs::{LineDoc, Merchant, Purchase};
use crate::cache::{DocCache, DocLocks};
use std::sync::Arc;

/// Lines this process keeps before it forgets them all and reads them again.
const CACHED_LINES_MAX: usize = 200_000;

/// Authorizations this process keeps, for their capture, before it forgets them all.
const CACHED_PURCHASES_MAX: usize = 100_000;

/// Stripes of the document locks: unrelated lines rarely share one.
const DOC_LOCK_STRIPES: usize = 65_536;

pub(crate) struct Documents {
    /// Changes to one line queue here in this process; versions still guard against other
    /// processes.
    pub(crate) turns: DocLocks,
    /// Credit lines as this process last read or wrote them, with their versions. A stale
    /// one (another process wrote the line) fails its version check and is read again.
    pub(crate) lines: DocCache<(LineDoc, i64)>,
    /// Merchants as stored; a merchant document is written once and never changed.
    pub(crate) merchants: DocCache<Arc<Merchant>>,
    /// Purchases this process authorized, with their versions, until captured or voided: a
    /// capture names the version, so one changed elsewhere is refused and read again.
    pub(crate) purchases: DocCache<(Purchase, i64)>,
}

impl Default for Documents {
    fn default() -> Self {
        Documents {
            turns: DocLocks::new(DOC_LOCK_STRIPES),
            lines: DocCache::new(CACHED_LINES_MAX),
            merchants: DocCache::new(usize::MAX),
            purchases: DocCache::new(CACHED_PURCHASES_MAX),
        }
    }
}
