//! The line state machine.
//!
//! Conventions (see `docs/revolving-credit.md`):
//! - A statement bills everything billed and unpaid at its cut (earlier remainders roll
//!   in), so paying one statement's total settles every billed amount.
//! - A statement's `paid_minor` fills its components in the allocation order, and the line
//!   pays each balance oldest amount first; what a statement still shows of each component
//!   follows from `paid_minor` alone and nests inside every newer statement.
//! - Revolving interest runs on the unpaid revolving principal of the newest statement past
//!   its due date and not paid in full; penalty on the largest unpaid minimum past due.

mod book;
mod convert;
mod day;
mod limit;
mod parts;
mod payments;
mod statements;

use crate::installment::{FeePayer, InstallmentPlan};
use crate::terms::{Terms, TermsError};
use crate::{PostingIntent, Purpose};
use book::Book;
use money::BusinessDate;
use serde::{Deserialize, Serialize};

pub use statements::due_date;

/// The largest amount or limit a command takes (10^15 minor units): far above any real
/// line, and low enough that sums of a line's balances cannot overflow an i64.
pub const AMOUNT_MAX_MINOR: i64 = 1_000_000_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    Active,
    /// No new authorizations; repayments, refunds, statements and interest go on.
    Frozen,
    /// As frozen, and final.
    Closed,
}

/// A temporary limit on top of the permanent one, until `expires_on` (exclusive: on that
/// business day it is gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TempLimit {
    pub amount_minor: i64,
    pub expires_on: BusinessDate,
}

/// One monthly statement. Amounts are what was billed; `paid_minor` grows with repayments
/// until the statement is settled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// 1, 2, 3, … per line.
    pub seq: u32,
    /// First business day the statement covers (the previous statement day, or the opening).
    pub period_start: BusinessDate,
    /// The statement day; the statement covers days before it.
    pub statement_date: BusinessDate,
    pub due_date: BusinessDate,
    /// Revolving principal billed: the previous statement's unpaid principal plus the
    /// cycle's purchases net of refunds (installment principal excluded).
    pub revolving_principal_minor: i64,
    /// Installment parts billed on this statement: principal and fee.
    pub installment_principal_minor: i64,
    pub installment_fee_minor: i64,
    /// Interest and penalty accrued and not yet paid when the statement was cut.
    pub interest_minor: i64,
    pub penalty_minor: i64,
    /// Sum of the five amounts above.
    pub total_minor: i64,
    /// `ceil(min_payment_rate × revolving principal) + installment principal and fee +
    /// interest + penalty`, at most `total_minor`.
    pub min_payment_minor: i64,
    /// Repaid towards this statement so far (by the allocation order, capped at total).
    pub paid_minor: i64,
    /// Set on the day after the due date: whether `paid_minor ≥ total_minor` by then.
    pub paid_in_full_on_time: Option<bool>,
    /// Set on the day after the due date: whether `paid_minor ≥ min_payment_minor` by then.
    pub min_paid_on_time: Option<bool>,
    /// Utilization when cut: `(revolving + installment principal outstanding) / limit`, in
    /// basis points.
    pub utilization_bp: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub terms: Terms,
    pub status: LineStatus,
    pub opened_on: BusinessDate,
    /// The day the state is at; `AdvanceDay` moves it by one.
    pub business_date: BusinessDate,
    pub limit_minor: i64,
    pub temp_limit: Option<TempLimit>,
    /// Captured principal not yet repaid or refunded (revolving and installment).
    pub used_minor: i64,
    /// Part of limit decreases still to be taken from principal repayments.
    pub shortfall_minor: i64,
    /// Purchases captured (net of refunds) since the last statement.
    pub unbilled_principal_minor: i64,
    /// Revolving principal billed and not yet repaid.
    pub billed_principal_minor: i64,
    /// Installment principal billed and not yet repaid (the fees billed with it are in
    /// `fee_minor`).
    pub billed_installment_principal_minor: i64,
    /// Installment fees billed and not yet repaid.
    pub fee_minor: i64,
    /// Interest and penalty accrued and unpaid (booked to receivables daily).
    pub interest_minor: i64,
    pub penalty_minor: i64,
    /// Paid beyond what was owed; used first by the next statement.
    pub overpayment_minor: i64,
    pub plans: Vec<InstallmentPlan>,
    /// Statements not yet settled (paid in full) and the latest one; settled older ones are
    /// dropped (the shell keeps the history as events).
    pub statements: Vec<Statement>,
    /// Days past due of the oldest statement whose minimum is unpaid after its due date.
    pub dpd: u32,
    /// Consecutive statements whose minimum was paid on time (reset by a miss).
    pub on_time_streak: u32,
    /// Consecutive statements paid in full on time at utilization ≥ the rules' threshold.
    pub high_use_on_time_streak: u32,
    /// Last day the limit was raised by a rule (to space raises out).
    pub last_raise_on: Option<BusinessDate>,
}

impl Line {
    /// A new active line with a limit and no balances. Refuses invalid terms or a negative
    /// limit.
    pub fn open(
        terms: Terms,
        limit_minor: i64,
        opened_on: BusinessDate,
    ) -> Result<(Line, Vec<PostingIntent>, Vec<LineEvent>), LineError> {
        terms.validate()?;
        if limit_minor < 0 {
            return Err(LineError::Invalid(
                "limit_minor: must not be negative".to_string(),
            ));
        }
        check_max("limit_minor", limit_minor)?;
        let line = Line {
            terms,
            status: LineStatus::Active,
            opened_on,
            business_date: opened_on,
            limit_minor,
            temp_limit: None,
            used_minor: 0,
            shortfall_minor: 0,
            unbilled_principal_minor: 0,
            billed_principal_minor: 0,
            billed_installment_principal_minor: 0,
            fee_minor: 0,
            interest_minor: 0,
            penalty_minor: 0,
            overpayment_minor: 0,
            plans: Vec::new(),
            statements: Vec::new(),
            dpd: 0,
            on_time_streak: 0,
            high_use_on_time_streak: 0,
            last_raise_on: None,
        };
        let mut book = Book::default();
        book.post(Purpose::LimitPool, Purpose::Available, limit_minor);
        book.event(LineEvent::LimitChanged {
            old_limit_minor: 0,
            new_limit_minor: limit_minor,
            old_temp_minor: 0,
            new_temp_minor: 0,
            reason: "line opened".to_string(),
        });
        Ok((line, book.postings, book.events))
    }

    /// Permanent limit plus the temporary one while it lasts.
    pub fn limit_total_minor(&self) -> i64 {
        self.limit_minor + self.temp_limit.map_or(0, |t| t.amount_minor)
    }

    /// What the `Available` account's posted balance must be: `limit_total − used +
    /// shortfall`, since the shortfall is limit removed on paper but still posted (held or
    /// used) in `Available`. Never negative.
    pub fn available_posted_minor(&self) -> i64 {
        self.limit_total_minor() - self.used_minor + self.shortfall_minor
    }

    /// Everything the borrower still owes on the line, less the overpayment: billed and
    /// unbilled revolving principal, installment parts not yet billed and their fees (owed
    /// as the plans run, not yet due), billed fees, interest and penalty. Negative when the
    /// overpayment is larger (the line owes the borrower). A repayment of this amount pays
    /// what is payable now and leaves the rest as overpayment, which pays the installment
    /// parts as they are billed.
    pub fn payoff_minor(&self) -> i64 {
        let unbilled_fees: i64 = self
            .plans
            .iter()
            .map(|p| p.unbilled_borrower_fee_minor())
            .sum();
        self.principal_outstanding_minor()
            + unbilled_fees
            + self.fee_minor
            + self.interest_minor
            + self.penalty_minor
            - self.overpayment_minor
    }

    /// Principal receivable implied by the state (unbilled + billed + billed installment +
    /// unbilled installment principal); equals the ledger account's balance.
    pub fn principal_outstanding_minor(&self) -> i64 {
        let unbilled_plans: i64 = self
            .plans
            .iter()
            .map(|p| p.unbilled_principal_minor())
            .sum();
        self.unbilled_principal_minor
            + self.billed_principal_minor
            + self.billed_installment_principal_minor
            + unbilled_plans
    }

    fn require_active(&self) -> Result<(), LineError> {
        match self.status {
            LineStatus::Active => Ok(()),
            status => Err(LineError::Status { status }),
        }
    }

    fn require_open(&self) -> Result<(), LineError> {
        match self.status {
            LineStatus::Closed => Err(LineError::Status {
                status: LineStatus::Closed,
            }),
            _ => Ok(()),
        }
    }

    fn set_status(&mut self, to: LineStatus, reason: &str, book: &mut Book) {
        book.event(LineEvent::StatusChanged {
            from: self.status,
            to,
            reason: reason.to_string(),
        });
        self.status = to;
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// A captured purchase (the ledger hold `Available → Used` is posted by the shell in the
    /// same transaction). Postings: Dr PrincipalReceivable / Cr MerchantPayable.
    Capture {
        amount_minor: i64,
    },
    /// A refund of captured principal: reduces unbilled principal first, then billed (the
    /// statement is corrected: its revolving principal and total shrink, its minimum is
    /// recomputed), then installment parts of the plan named (if any), and restores limit.
    /// Postings: Dr MerchantPayable / Cr PrincipalReceivable, plus the limit restoration.
    Refund {
        amount_minor: i64,
        plan_id: Option<[u8; 16]>,
    },
    /// A repayment, allocated by `terms.allocation_order`; principal repaid restores limit
    /// (after the shortfall). Postings: Dr BorrowerCash / Cr the receivables (and
    /// Overpayment), Dr Used / Cr Available (and LimitPool for the shortfall).
    Repay {
        amount_minor: i64,
    },
    /// Turns `amount_minor` of unbilled principal (one purchase) into an installment plan.
    /// A merchant-paid fee posts Dr MerchantPayable / Cr FeeIncome at once.
    ConvertPurchase {
        plan_id: [u8; 16],
        amount_minor: i64,
        months: u32,
        fee_payer: FeePayer,
    },
    /// Turns the latest statement's unpaid revolving principal into an installment plan,
    /// before its due date; its total and minimum are recomputed (the first part is billed
    /// on the next statement).
    ConvertStatement {
        plan_id: [u8; 16],
        months: u32,
    },
    /// Moves to the next business day. In order: expire a temporary limit that ends on the
    /// new day; if the day after a due date, mark that statement's on-time flags and streaks;
    /// accrue a day of revolving interest on billed revolving principal whose statement's due
    /// date has passed unpaid in full, and penalty on the unpaid minimum of statements past
    /// due; on the statement day, cut a statement (bill the next part of every plan, post
    /// its fee: Dr FeeReceivable / Cr FeeIncome); update DPD.
    /// `free_minor` is the Available account's balance net of pending holds, as the shell
    /// read it, for a limit decrease (expiry) to take what it can at once.
    AdvanceDay {
        free_minor: i64,
    },
    /// Sets the permanent limit (up or down) with a reason that is logged.
    ChangeLimit {
        limit_minor: i64,
        free_minor: i64,
        reason: String,
    },
    /// Grants a temporary limit until `expires_on`, replacing any current one.
    GrantTemporary {
        amount_minor: i64,
        expires_on: BusinessDate,
        free_minor: i64,
        reason: String,
    },
    Freeze {
        reason: String,
    },
    Unfreeze {
        reason: String,
    },
    /// Closes the line: no new purchases; the limit is taken back (as a decrease to zero).
    Close {
        free_minor: i64,
        reason: String,
    },
    /// Pays the borrower back out of the overpayment, at most all of it, in any status
    /// (a closed line returns what it holds). Postings: Dr Overpayment / Cr BorrowerCash.
    RefundOverpayment {
        amount_minor: i64,
    },
}

/// What happened, for the shell to log (limit history, statements, plans).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LineEvent {
    LimitChanged {
        old_limit_minor: i64,
        new_limit_minor: i64,
        old_temp_minor: i64,
        new_temp_minor: i64,
        reason: String,
    },
    StatusChanged {
        from: LineStatus,
        to: LineStatus,
        reason: String,
    },
    StatementIssued {
        statement: Statement,
    },
    StatementSettled {
        seq: u32,
        on: BusinessDate,
    },
    PlanCreated {
        plan: InstallmentPlan,
    },
    PaymentAllocated {
        amount_minor: i64,
        penalty_minor: i64,
        interest_minor: i64,
        fee_minor: i64,
        principal_minor: i64,
        overpayment_minor: i64,
    },
    OverpaymentRefunded {
        amount_minor: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub line: Line,
    pub postings: Vec<PostingIntent>,
    pub events: Vec<LineEvent>,
}

/// Why a command was refused; the line is unchanged. `field` names the request field at
/// fault where there is one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("{0}")]
    Terms(#[from] TermsError),
    #[error("{field}: amount must be positive, got {got}")]
    NotPositive { field: &'static str, got: i64 },
    #[error("{field}: {got} exceeds what can be {what}: {max}")]
    TooLarge {
        field: &'static str,
        what: &'static str,
        got: i64,
        max: i64,
    },
    #[error("months: {months}-month installments are not offered (offered: {offered:?})")]
    TermNotOffered { months: u32, offered: Vec<u32> },
    #[error("line is {status:?}")]
    Status { status: LineStatus },
    #[error("business date must be {expected}, got {got}")]
    Date {
        expected: BusinessDate,
        got: BusinessDate,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("amount overflows")]
    Overflow,
}

/// The whole state machine: a new state, its postings and events, or a refusal with the
/// line untouched. Every posting is positive; the receivables and memo balances implied by
/// the postings equal what the new state says.
pub fn apply(line: &Line, command: &Command, as_of: BusinessDate) -> Result<Outcome, LineError> {
    check_date(line, command, as_of)?;
    let mut next = line.clone();
    let mut book = Book::default();
    dispatch(&mut next, command, as_of, &mut book)?;
    next.dpd = statements::dpd(&next);
    statements::prune(&mut next);
    Ok(Outcome {
        line: next,
        postings: book.postings,
        events: book.events,
    })
}

fn check_date(line: &Line, command: &Command, as_of: BusinessDate) -> Result<(), LineError> {
    let expected = match command {
        Command::AdvanceDay { .. } => line.business_date.succ(),
        _ => line.business_date,
    };
    if as_of != expected {
        return Err(LineError::Date {
            expected,
            got: as_of,
        });
    }
    Ok(())
}

fn check_positive(field: &'static str, amount: i64) -> Result<(), LineError> {
    if amount <= 0 {
        return Err(LineError::NotPositive { field, got: amount });
    }
    check_max(field, amount)
}

fn check_max(field: &'static str, amount: i64) -> Result<(), LineError> {
    if amount > AMOUNT_MAX_MINOR {
        return Err(LineError::TooLarge {
            field,
            what: "handled by a line",
            got: amount,
            max: AMOUNT_MAX_MINOR,
        });
    }
    Ok(())
}

fn dispatch(
    line: &mut Line,
    command: &Command,
    as_of: BusinessDate,
    book: &mut Book,
) -> Result<(), LineError> {
    match command {
        Command::Capture { amount_minor } => capture(line, *amount_minor, book),
        Command::Refund {
            amount_minor,
            plan_id,
        } => {
            check_positive("amount_minor", *amount_minor)?;
            payments::refund(line, *amount_minor, *plan_id, as_of, book)
        }
        Command::Repay { amount_minor } => {
            check_positive("amount_minor", *amount_minor)?;
            payments::repay(line, *amount_minor, as_of, book);
            Ok(())
        }
        Command::RefundOverpayment { amount_minor } => {
            check_positive("amount_minor", *amount_minor)?;
            payments::refund_overpayment(line, *amount_minor, book)
        }
        Command::ConvertPurchase {
            plan_id,
            amount_minor,
            months,
            fee_payer,
        } => {
            line.require_active()?;
            check_positive("amount_minor", *amount_minor)?;
            convert::purchase(line, *plan_id, *amount_minor, *months, *fee_payer, book)
        }
        Command::ConvertStatement { plan_id, months } => {
            line.require_active()?;
            convert::statement(line, *plan_id, *months, as_of, book)
        }
        Command::AdvanceDay { free_minor } => day::advance(line, as_of, *free_minor, book),
        _ => dispatch_limit(line, command, as_of, book),
    }
}

fn dispatch_limit(
    line: &mut Line,
    command: &Command,
    as_of: BusinessDate,
    book: &mut Book,
) -> Result<(), LineError> {
    match command {
        Command::ChangeLimit {
            limit_minor,
            free_minor,
            reason,
        } => change_limit(line, *limit_minor, *free_minor, reason, as_of, book),
        Command::GrantTemporary {
            amount_minor,
            expires_on,
            free_minor,
            reason,
        } => grant_temporary(
            line,
            *amount_minor,
            *expires_on,
            *free_minor,
            reason,
            as_of,
            book,
        ),
        Command::Freeze { reason } => {
            switch_status(line, LineStatus::Active, LineStatus::Frozen, reason, book)
        }
        Command::Unfreeze { reason } => {
            switch_status(line, LineStatus::Frozen, LineStatus::Active, reason, book)
        }
        Command::Close { free_minor, reason } => close(line, *free_minor, reason, book),
        _ => unreachable!("dispatch handles the other commands"),
    }
}

fn capture(line: &mut Line, amount: i64, book: &mut Book) -> Result<(), LineError> {
    line.require_active()?;
    check_positive("amount_minor", amount)?;
    let max = line.available_posted_minor();
    if amount > max {
        let what = "captured from the available limit";
        return Err(LineError::TooLarge {
            field: "amount_minor",
            what,
            got: amount,
            max,
        });
    }
    line.used_minor += amount;
    line.unbilled_principal_minor += amount;
    book.post(
        Purpose::PrincipalReceivable,
        Purpose::MerchantPayable,
        amount,
    );
    Ok(())
}

/// A raise by a limit rule (reason `rule:…`) starts the spacing before the next one.
fn change_limit(
    line: &mut Line,
    limit_minor: i64,
    free: i64,
    reason: &str,
    as_of: BusinessDate,
    book: &mut Book,
) -> Result<(), LineError> {
    line.require_open()?;
    if limit_minor < 0 {
        return Err(LineError::Invalid(
            "limit_minor: must not be negative".to_string(),
        ));
    }
    check_max("limit_minor", limit_minor)?;
    if reason.starts_with("rule:") && limit_minor > line.limit_minor {
        line.last_raise_on = Some(as_of);
    }
    limit::set(line, limit_minor, line.temp_limit, free, reason, book);
    Ok(())
}

fn grant_temporary(
    line: &mut Line,
    amount: i64,
    expires_on: BusinessDate,
    free: i64,
    reason: &str,
    as_of: BusinessDate,
    book: &mut Book,
) -> Result<(), LineError> {
    line.require_active()?;
    check_positive("amount_minor", amount)?;
    if expires_on <= as_of {
        return Err(LineError::Invalid(format!(
            "expires_on: {expires_on} is not after {as_of}"
        )));
    }
    let temp = TempLimit {
        amount_minor: amount,
        expires_on,
    };
    limit::set(line, line.limit_minor, Some(temp), free, reason, book);
    Ok(())
}

fn switch_status(
    line: &mut Line,
    from: LineStatus,
    to: LineStatus,
    reason: &str,
    book: &mut Book,
) -> Result<(), LineError> {
    if line.status != from {
        return Err(LineError::Status {
            status: line.status,
        });
    }
    line.set_status(to, reason, book);
    Ok(())
}

/// The limit goes to zero like any decrease: what is used or held stays as shortfall and
/// repayments return it to the pool, never to `Available`.
fn close(line: &mut Line, free: i64, reason: &str, book: &mut Book) -> Result<(), LineError> {
    line.require_open()?;
    limit::set(line, 0, None, free, reason, book);
    line.set_status(LineStatus::Closed, reason, book);
    Ok(())
}
