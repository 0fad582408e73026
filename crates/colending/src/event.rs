//! Loan-level events in, per-holder changes out.
//!
//! The engine runs the loan state machine as it does for any loan; for a co-lent loan it
//! also turns the loan's postings into a [`LoanEvent`] and calls [`apply_event`], which
//! splits the event among the funders, the platform and the guarantor and returns the new
//! positions with every holder's change, for the per-holder control accounts.

use crate::position::{Balance, Change, ChargeRule, Component, Holder, LoanFunding};
use crate::split::{reduce_toward_shares, split_by_shares, split_by_weights};
use money::{BusinessDate, DayCount, Decimal, RoundingMode};

/// Amounts charged to the borrower (billed into the loan's receivables).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Charge {
    pub interest_minor: i64,
    /// The date the charged interest runs to (the loan's business date when it bills
    /// interest). The funders' yields run from the date of the previous charge (or the
    /// disbursement) to this one. Required when interest is charged and some funder has
    /// a yield; when given, it moves the loan's interest date forward.
    pub interest_through: Option<BusinessDate>,
    pub fee_minor: i64,
    pub penalty_minor: i64,
    /// The guarantor's fee, charged to the borrower (part of the loan's fee receivable).
    pub guarantee_fee_minor: i64,
}

/// A repayment as the loan allocated it, by component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repayment {
    pub principal_minor: i64,
    pub interest_minor: i64,
    pub fee_minor: i64,
    pub penalty_minor: i64,
}

impl Repayment {
    pub fn get(&self, component: Component) -> i64 {
        match component {
            Component::Principal => self.principal_minor,
            Component::Interest => self.interest_minor,
            Component::Fee => self.fee_minor,
            Component::Penalty => self.penalty_minor,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoanEvent {
    Disbursed {
        principal_minor: i64,
        on: BusinessDate,
    },
    Charged(Charge),
    Repaid(Repayment),
    /// Every receivable of every holder is taken off the books.
    WrittenOff,
    /// Money recovered on written-off amounts.
    Recovered {
        amount_minor: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the loan is already disbursed")]
    AlreadyDisbursed,
    #[error("the loan is not disbursed yet")]
    NotDisbursed,
    #[error("the loan is written off: only recoveries move it")]
    WrittenOff,
    #[error("{field}: must be positive")]
    NotPositive { field: &'static str },
    #[error("{field}: must not be negative")]
    Negative { field: &'static str },
    #[error("{balance:?}: {requested_minor} is more than the {outstanding_minor} outstanding")]
    AboveOutstanding {
        balance: Balance,
        requested_minor: i64,
        outstanding_minor: i64,
    },
    #[error("interest_through: needed to compute the funders' yields")]
    MissingInterestThrough,
    #[error("interest_through: before {from}, the date interest was charged through")]
    InterestThroughTooEarly { from: BusinessDate },
    #[error("guarantee_fee_minor: the agreement has no guarantor")]
    NoGuarantor,
    #[error("amount overflows")]
    Overflow,
}

/// The new positions and what changed, per holder and balance (zero changes omitted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub funding: LoanFunding,
    pub changes: Vec<Change>,
}

/// A copy of the funding being changed, recording each change as it is made.
pub(crate) struct Work {
    pub(crate) funding: LoanFunding,
    holders: Vec<Holder>,
    pub(crate) changes: Vec<Change>,
}

impl Work {
    pub(crate) fn new(funding: &LoanFunding) -> Work {
        Work {
            holders: funding.holders(),
            funding: funding.clone(),
            changes: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, index: usize, balance: Balance, delta_minor: i64) {
        if delta_minor == 0 {
            return;
        }
        *self.funding.held_mut(index).get_mut(balance) += delta_minor;
        self.changes.push(Change {
            holder: self.holders[index],
            balance,
            delta_minor,
        });
    }

    pub(crate) fn total(&mut self, balance: Balance, delta_minor: i64) {
        *self.funding.totals.get_mut(balance) += delta_minor;
    }

    pub(crate) fn finish(self) -> Outcome {
        self.funding.assert_consistent();
        Outcome {
            funding: self.funding,
            changes: self.changes,
        }
    }

    fn funder_count(&self) -> usize {
        self.funding.funders.len()
    }

    /// Indices of the principal's possible holders: the funders and the guarantor.
    pub(crate) fn principal_holders(&self) -> Vec<usize> {
        let mut out: Vec<usize> = (0..self.funder_count()).collect();
        out.extend(self.funding.guarantor_index());
        out
    }

    /// Splits `amount_minor` over `indices` weighted by their `weight` balance (falling back
    /// to the funders' shares when no one holds any) and adds it to their `target` balance.
    pub(crate) fn spread(
        &mut self,
        indices: &[usize],
        weight: Balance,
        amount_minor: i64,
        target: Balance,
        sign: i64,
    ) -> Vec<i64> {
        let parts = self.weighted_parts(indices, weight, amount_minor);
        for (&index, &part) in indices.iter().zip(&parts) {
            self.add(index, target, sign * part);
        }
        parts
    }

    fn weighted_parts(&self, indices: &[usize], weight: Balance, amount_minor: i64) -> Vec<i64> {
        let weights: Vec<i64> = indices
            .iter()
            .map(|&i| self.funding.held(i).get(weight))
            .collect();
        let fallback: Vec<Decimal> = indices
            .iter()
            .map(|&i| {
                self.funding
                    .funders
                    .get(i)
                    .map_or(Decimal::ZERO, |f| f.share)
            })
            .collect();
        let currency = self.funding.currency();
        split_by_weights(amount_minor, currency, &weights, &fallback)
    }
}

/// Applies one loan-level event; the state is untouched on an error.
pub fn apply_event(funding: &LoanFunding, event: &LoanEvent) -> Result<Outcome, EventError> {
    if !funding.disbursed && !matches!(event, LoanEvent::Disbursed { .. }) {
        return Err(EventError::NotDisbursed);
    }
    let live_only = matches!(event, LoanEvent::Charged(_) | LoanEvent::Repaid(_));
    if funding.written_off && live_only {
        return Err(EventError::WrittenOff);
    }
    let mut work = Work::new(funding);
    match *event {
        LoanEvent::Disbursed {
            principal_minor,
            on,
        } => disburse(&mut work, principal_minor, on)?,
        LoanEvent::Charged(charge) => self::charge(&mut work, &charge)?,
        LoanEvent::Repaid(repayment) => repay(&mut work, &repayment)?,
        LoanEvent::WrittenOff => write_off(&mut work),
        LoanEvent::Recovered { amount_minor } => recover(&mut work, amount_minor)?,
    }
    Ok(work.finish())
}

fn disburse(work: &mut Work, principal_minor: i64, on: BusinessDate) -> Result<(), EventError> {
    if work.funding.disbursed {
        return Err(EventError::AlreadyDisbursed);
    }
    if principal_minor <= 0 {
        return Err(EventError::NotPositive {
            field: "principal_minor",
        });
    }
    let shares = work.funding.shares();
    let parts = split_by_shares(principal_minor, work.funding.currency(), &shares);
    for (index, part) in parts.into_iter().enumerate() {
        work.add(index, Balance::Principal, part);
        work.funding.funders[index].principal_funded_minor = part;
    }
    work.total(Balance::Principal, principal_minor);
    work.funding.disbursed = true;
    work.funding.interest_from = Some(on);
    Ok(())
}

fn charge(work: &mut Work, charge: &Charge) -> Result<(), EventError> {
    for (field, value) in [
        ("interest_minor", charge.interest_minor),
        ("fee_minor", charge.fee_minor),
        ("penalty_minor", charge.penalty_minor),
        ("guarantee_fee_minor", charge.guarantee_fee_minor),
    ] {
        if value < 0 {
            return Err(EventError::Negative { field });
        }
    }
    let guarantor = work.funding.guarantor_index();
    if charge.guarantee_fee_minor > 0 && guarantor.is_none() {
        return Err(EventError::NoGuarantor);
    }
    let yields_needed = work
        .funding
        .funders
        .iter()
        .any(|f| f.yield_annual.is_some());
    if charge.interest_minor > 0 && yields_needed && charge.interest_through.is_none() {
        return Err(EventError::MissingInterestThrough);
    }
    let from = work
        .funding
        .interest_from
        .expect("a disbursed loan has an interest date");
    if charge.interest_through.is_some_and(|to| to < from) {
        return Err(EventError::InterestThroughTooEarly { from });
    }
    let period = charge.interest_through.map(|to| (from, to));
    let fees_total = charge
        .fee_minor
        .checked_add(charge.guarantee_fee_minor)
        .ok_or(EventError::Overflow)?;
    charge_interest(work, charge.interest_minor, period);
    if let Some(to) = charge.interest_through {
        work.funding.interest_from = Some(to);
    }
    charge_by_rule(
        work,
        Balance::Fee,
        charge.fee_minor,
        work.funding.agreement.fees,
    );
    let penalties = work.funding.agreement.penalties;
    charge_by_rule(work, Balance::Penalty, charge.penalty_minor, penalties);
    if let Some(g) = guarantor {
        work.add(g, Balance::Fee, charge.guarantee_fee_minor);
    }
    work.total(Balance::Interest, charge.interest_minor);
    work.total(Balance::Fee, fees_total);
    work.total(Balance::Penalty, charge.penalty_minor);
    Ok(())
}

/// The interest rule. The borrower's interest is first split among the principal's holders
/// by the principal they hold (each holder's pro-rata part). A funder with a yield earns
/// its yield on its principal over the period (rounded toward zero), but never more than
/// its pro-rata part: if the borrower pays less than the yield, **the funder takes less**
/// (the platform, as a loan-assistance party, does not guarantee the funder's return). The
/// rest of the part is the platform's service fee. A funder without a yield, and the
/// guarantor, earn their whole part.
fn charge_interest(
    work: &mut Work,
    interest_minor: i64,
    period: Option<(BusinessDate, BusinessDate)>,
) {
    if interest_minor == 0 {
        return;
    }
    let holders = work.principal_holders();
    let parts = work.weighted_parts(&holders, Balance::Principal, interest_minor);
    let platform = work.funding.platform_index();
    for (&index, &part) in holders.iter().zip(&parts) {
        let earned = match work.funding.funders.get(index) {
            Some(f) => match (f.yield_annual, period) {
                (Some(rate), Some(p)) => {
                    let day_count = work.funding.agreement.day_count;
                    let principal = f.held.principal_outstanding_minor;
                    yield_minor(principal, rate.fraction(), day_count, p).min(part)
                }
                _ => part,
            },
            None => part,
        };
        work.add(index, Balance::Interest, earned);
        work.add(platform, Balance::Interest, part - earned);
    }
}

/// `principal × rate × days / days_per_year`, rounded toward zero; never negative. An
/// amount too large for the decimal type is capped by the caller's `min` with the pro-rata
/// part.
fn yield_minor(
    principal_minor: i64,
    rate: Decimal,
    day_count: DayCount,
    (from, to): (BusinessDate, BusinessDate),
) -> i64 {
    match period_amount(principal_minor, rate, day_count, from, to) {
        Some(value) => RoundingMode::Down
            .round_minor(value)
            .unwrap_or(i64::MAX)
            .max(0),
        None => i64::MAX,
    }
}

/// `principal × annual rate` over a period, exactly: the one division (by the days in the
/// year) comes last, so a result that is a whole number of minor units stays whole
/// (dividing first would round the year fraction to 28 digits and lose a unit on
/// truncation).
pub(crate) fn period_amount(
    principal_minor: i64,
    rate_annual: Decimal,
    day_count: DayCount,
    from: BusinessDate,
    to: BusinessDate,
) -> Option<Decimal> {
    Decimal::from(principal_minor)
        .checked_mul(rate_annual)?
        .checked_mul(Decimal::from(day_count.days_between(from, to)))?
        .checked_div(Decimal::from(day_count.days_per_year()))
}

fn charge_by_rule(work: &mut Work, balance: Balance, amount_minor: i64, rule: ChargeRule) {
    if amount_minor == 0 {
        return;
    }
    match rule {
        ChargeRule::Platform => {
            let platform = work.funding.platform_index();
            work.add(platform, balance, amount_minor);
        }
        ChargeRule::ProRata => {
            let holders = work.principal_holders();
            work.spread(&holders, Balance::Principal, amount_minor, balance, 1);
        }
        ChargeRule::Guarantor => {
            let g = work
                .funding
                .guarantor_index()
                .expect("an agreement naming the guarantor has one");
            work.add(g, balance, amount_minor);
        }
    }
}

fn repay(work: &mut Work, repayment: &Repayment) -> Result<(), EventError> {
    for component in crate::position::COMPONENTS {
        let balance = Balance::from(component);
        let amount_minor = repayment.get(component);
        check_within(work, balance, amount_minor)?;
    }
    for component in crate::position::COMPONENTS {
        let balance = Balance::from(component);
        reduce(work, balance, repayment.get(component));
    }
    Ok(())
}

pub(crate) fn check_within(
    work: &Work,
    balance: Balance,
    amount_minor: i64,
) -> Result<(), EventError> {
    if amount_minor < 0 {
        return Err(EventError::Negative {
            field: "amount_minor",
        });
    }
    let outstanding_minor = work.funding.totals.get(balance);
    if amount_minor > outstanding_minor {
        return Err(EventError::AboveOutstanding {
            balance,
            requested_minor: amount_minor,
            outstanding_minor,
        });
    }
    Ok(())
}

/// Takes `amount_minor` off one balance of the loan. The guarantor's claim is paid first:
/// it took over the oldest overdue amounts, which the loan's allocation pays first. Then
/// principal comes off the funders so that each stays nearest its share
/// ([`reduce_toward_shares`]); other balances come off funders and the platform in
/// proportion to what each is owed.
pub(crate) fn reduce(work: &mut Work, balance: Balance, amount_minor: i64) {
    let mut rest = amount_minor;
    if let Some(g) = work.funding.guarantor_index() {
        let paid = rest.min(work.funding.held(g).get(balance));
        work.add(g, balance, -paid);
        rest -= paid;
    }
    if balance == Balance::Principal {
        let n = work.funding.funders.len();
        let held: Vec<i64> = (0..n).map(|i| work.funding.held(i).get(balance)).collect();
        let shares = work.funding.shares();
        let parts = reduce_toward_shares(&held, &shares, work.funding.currency(), rest);
        for (index, part) in parts.into_iter().enumerate() {
            work.add(index, balance, -part);
        }
    } else if rest > 0 {
        let holders: Vec<usize> = (0..=work.funding.platform_index()).collect();
        work.spread(&holders, balance, rest, balance, -1);
    }
    work.total(balance, -amount_minor);
}

fn write_off(work: &mut Work) {
    work.funding.written_off = true;
    let holders = work.funding.holders().len();
    for index in 0..holders {
        for component in crate::position::COMPONENTS {
            let balance = Balance::from(component);
            let amount_minor = work.funding.held(index).get(balance);
            work.add(index, balance, -amount_minor);
            work.add(index, Balance::WrittenOff, amount_minor);
        }
    }
    for component in crate::position::COMPONENTS {
        let balance = Balance::from(component);
        let amount_minor = work.funding.totals.get(balance);
        work.total(balance, -amount_minor);
        work.total(Balance::WrittenOff, amount_minor);
    }
}

/// A recovery pays the guarantor's written-off claim first (subrogation: it paid the
/// funders for the oldest amounts), then the funders and the platform in proportion to
/// their written-off claims.
fn recover(work: &mut Work, amount_minor: i64) -> Result<(), EventError> {
    if amount_minor <= 0 {
        return Err(EventError::NotPositive {
            field: "amount_minor",
        });
    }
    check_within(work, Balance::WrittenOff, amount_minor)?;
    reduce(work, Balance::WrittenOff, amount_minor);
    Ok(())
}
