//! The limit memo accounts: `Available` and `Used` (credit-normal) against `LimitPool`.
//! The line keeps `Available posted = limit_total − used + shortfall`.

use super::book::Book;
use crate::line::{Line, LineEvent};
use crate::Purpose;

/// Principal that came back (repaid, refunded) frees limit: the shortfall is taken first.
pub(super) fn restore(line: &mut Line, principal: i64, book: &mut Book) {
    let to_pool = principal.min(line.shortfall_minor);
    line.shortfall_minor -= to_pool;
    line.used_minor -= principal;
    book.post(Purpose::Used, Purpose::LimitPool, to_pool);
    book.post(Purpose::Used, Purpose::Available, principal - to_pool);
}

/// A higher limit first cancels what a decrease still had to take.
fn raise(line: &mut Line, by: i64, book: &mut Book) {
    let cancelled = by.min(line.shortfall_minor);
    line.shortfall_minor -= cancelled;
    book.post(Purpose::LimitPool, Purpose::Available, by - cancelled);
}

/// A lower limit takes what is free in `Available` now (`posted` is its balance before the
/// change); the rest (held or already used) becomes shortfall. Returns what it took, so the
/// caller can keep `free` current.
fn lower(line: &mut Line, by: i64, free: i64, posted: i64, book: &mut Book) -> i64 {
    let taken = by.min(free.max(0)).min(posted);
    line.shortfall_minor += by - taken;
    book.post(Purpose::Available, Purpose::LimitPool, taken);
    taken
}

/// Takes shortfall from `Available` as soon as holds release it, so a decrease does not
/// wait for repayments when the limit it removed sits unused. Returns what it took.
pub(super) fn sweep_shortfall(line: &mut Line, free: i64, book: &mut Book) -> i64 {
    let taken = line
        .shortfall_minor
        .min(free.max(0))
        .min(line.available_posted_minor());
    line.shortfall_minor -= taken;
    book.post(Purpose::Available, Purpose::LimitPool, taken);
    taken
}

/// Sets the permanent limit and the temporary amount, books the difference in the total
/// and logs it. Returns what a decrease took from `free`.
pub(super) fn set(
    line: &mut Line,
    limit_minor: i64,
    temp: Option<crate::line::TempLimit>,
    free: i64,
    reason: &str,
    book: &mut Book,
) -> i64 {
    let old_total = line.limit_total_minor();
    let posted = line.available_posted_minor();
    let old_limit = line.limit_minor;
    let old_temp = temp_amount(line);
    line.limit_minor = limit_minor;
    line.temp_limit = temp;
    let new_total = line.limit_total_minor();
    let taken = if new_total >= old_total {
        raise(line, new_total - old_total, book);
        0
    } else {
        lower(line, old_total - new_total, free, posted, book)
    };
    book.event(LineEvent::LimitChanged {
        old_limit_minor: old_limit,
        new_limit_minor: limit_minor,
        old_temp_minor: old_temp,
        new_temp_minor: temp_amount(line),
        reason: reason.to_string(),
    });
    taken
}

fn temp_amount(line: &Line) -> i64 {
    line.temp_limit.map_or(0, |t| t.amount_minor)
}
