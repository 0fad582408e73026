//! A co-lent loan's movements: each command or close-of-business day that changes its
//! positions (or starts or ends its delinquency) leaves a `MoveDoc` under its business day,
//! written in the same submission as the positions, so the reconciliation files of any day
//! are read back from what was committed.

use super::books::Memo;
use super::docs::{encode, move_doc_id, write, ClaimRecord, MoveDoc, Place, PositionsDoc, MOVE};
use lending::loan::Loan;
use money::BusinessDate;
use store::DomainWrite;

/// The first day of the loan's current delinquency, seen on `day`.
pub(crate) fn overdue_since(loan: &Loan, day: BusinessDate) -> Option<BusinessDate> {
    (loan.dpd > 0)
        .then(|| BusinessDate::from_epoch_days(day.to_epoch_days() - loan.dpd as i32 + 1))
        .flatten()
}

/// What one movement changed: its differences (`books::difference`) of the positions'
/// `memo` and `flows`, and the guarantee claim it paid.
pub(crate) struct Moved {
    pub deltas: Memo,
    pub flows: Memo,
    pub claim: Option<ClaimRecord>,
}

/// Sets the positions' delinquency and, when anything moved, numbers the movement and
/// returns its document's write.
pub(crate) fn record(
    doc: &mut PositionsDoc,
    overdue_since: Option<BusinessDate>,
    moved: Moved,
    day: BusinessDate,
    source: String,
) -> Option<DomainWrite> {
    let Moved {
        deltas,
        flows,
        claim,
    } = moved;
    let before = doc.overdue_since;
    doc.overdue_since = overdue_since;
    if deltas.is_empty() && before == overdue_since {
        return None;
    }
    let n = doc.moves;
    doc.moves += 1;
    let body = MoveDoc {
        loan_id: doc.loan_id,
        seq: n,
        day,
        source,
        deltas,
        flows,
        overdue_since_before: before,
        overdue_since,
        claim,
    };
    Some(write(
        Place {
            kind: MOVE,
            id: move_doc_id(doc.loan_id, n),
            tenant: &doc.tenant,
            parent: Some(doc.loan_id),
            open: false,
            day,
        },
        encode(&body),
        None,
    ))
}
