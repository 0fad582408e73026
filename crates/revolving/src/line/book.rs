//! Collects what one command books and reports.

use crate::line::LineEvent;
use crate::{PostingIntent, Purpose};

#[derive(Default)]
pub(super) struct Book {
    pub postings: Vec<PostingIntent>,
    pub events: Vec<LineEvent>,
}

impl Book {
    /// Books a movement; a zero amount books nothing, so callers need not guard every
    /// split that may come out empty.
    pub fn post(&mut self, debit: Purpose, credit: Purpose, amount_minor: i64) {
        // A negative amount would be dropped below, silently losing money: stop instead.
        assert!(amount_minor >= 0, "negative posting {amount_minor}");
        if amount_minor > 0 {
            self.postings.push(PostingIntent {
                debit,
                credit,
                amount_minor,
            });
        }
    }

    pub fn event(&mut self, event: LineEvent) {
        self.events.push(event);
    }

    pub fn append(&mut self, other: Book) {
        self.postings.extend(other.postings);
        self.events.extend(other.events);
    }
}
