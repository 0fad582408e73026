//! Schedules per second for a 12-installment annuity on one core, and loan-days per second
//! for the daily close of business of such a loan.
//!
//! Run with `cargo bench -p lending`. Prints the fast path and the `Decimal` reference, with
//! the plan (validated terms + annuity factor) reused as a product would, and rebuilt per
//! schedule, so a regression in any of them shows up as a number.

use lending::loan::{apply, Command, Loan, LoanConfig};
use lending::product::{
    AllocationOrder, ContractRate, PartialPrepaymentEffect, PrepaymentPolicy, RepaymentDayRule,
    RepaymentMethod,
};
use lending::{RepaymentTerms, Schedule, ScheduleError, SchedulePlan};
use money::{BusinessDate, Currency, DayCount, Decimal, Money, RoundingMode};
use std::hint::black_box;
use std::time::{Duration, Instant};

const ROUND_TIME: Duration = Duration::from_millis(400);
const ROUNDS: usize = 7;
const BATCH: i64 = 1_000;

type Generate = fn(&SchedulePlan, Money, BusinessDate) -> Result<Schedule, ScheduleError>;

fn repayment(rate: ContractRate) -> RepaymentTerms {
    RepaymentTerms {
        term_months: 12,
        method: RepaymentMethod::Annuity,
        rate,
        day_count: DayCount::Act360,
        rounding: RoundingMode::HalfUp,
        repayment_day: RepaymentDayRule::DisbursementDay,
        origination_fee: None,
    }
}

/// Schedules per second over one round of about `ROUND_TIME`.
fn round(
    rate: ContractRate,
    plan_per_schedule: bool,
    generate: Generate,
    checksum: &mut i64,
) -> f64 {
    let disbursed_on = BusinessDate::from_ymd(2026, 1, 15).expect("valid date");
    let shared_plan = SchedulePlan::new(repayment(rate)).expect("valid terms");
    let mut count: u64 = 0;
    let start = Instant::now();
    while start.elapsed() < ROUND_TIME {
        for k in 0..BATCH {
            let plan = if plan_per_schedule {
                SchedulePlan::new(black_box(repayment(rate))).expect("valid terms")
            } else {
                shared_plan
            };
            // Vary the amount so nothing can be hoisted out of the loop.
            let principal = Money::from_minor(1_000_000 + k * 37, Currency::Cny);
            let schedule = generate(black_box(&plan), principal, disbursed_on).expect("valid");
            *checksum = checksum.wrapping_add(black_box(schedule).total_interest_minor);
        }
        count += BATCH as u64;
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// Prints the best and the median of `ROUNDS` rounds: the machine is shared, so the best
/// round is the closest to what the code can do and the median shows the noise.
fn measure(name: &str, rate: ContractRate, plan_per_schedule: bool, generate: Generate) {
    let mut checksum: i64 = 0;
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| round(rate, plan_per_schedule, generate, &mut checksum))
        .collect();
    rounds.sort_by(|a, b| a.total_cmp(b));
    let best = rounds[ROUNDS - 1];
    let median = rounds[ROUNDS / 2];
    println!(
        "{name:<46} best {best:>10.0}  median {median:>10.0} schedules/s  (checksum {checksum})"
    );
}

/// A 10,000.00 loan at 0.05% a day that is never repaid: every day accrues interest, and
/// after the first due date also penalty interest, so the day is not trivially empty.
fn unpaid_loan() -> Loan {
    let rate = ContractRate::Daily("0.05%".parse().expect("rate"));
    let config = LoanConfig {
        principal: Money::from_minor(1_000_000, Currency::Cny),
        repayment: repayment(rate),
        penalty_rate_daily: "0.075%".parse().expect("rate"),
        penalty_compounds: false,
        late_fee_minor: 1_000,
        grace_days: 3,
        allocation_order: AllocationOrder::STANDARD,
        prepayment: PrepaymentPolicy {
            full_allowed: true,
            partial_allowed: true,
            partial_effect: PartialPrepaymentEffect::ShortenTerm,
            fee_rate_fraction: Decimal::ZERO,
            partial_minimum_minor: 0,
        },
        entrusted_payment_threshold_minor: i64::MAX,
        write_off_dpd: 100_000,
        overpayment_credit: lending::product::OverpaymentCredit::ApplyToNextDue,
    };
    let signed_on = BusinessDate::from_ymd(2026, 1, 15).expect("valid date");
    let signed = Loan::signed(config, signed_on);
    let disburse = Command::Disburse { payee: None };
    apply(&signed, &disburse, signed_on).expect("disburses").0
}

/// Loan-days per second: one loan advanced through 400 days, again and again.
fn measure_days() {
    let start_state = unpaid_loan();
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let mut days: u64 = 0;
            let start = Instant::now();
            while start.elapsed() < ROUND_TIME {
                let mut loan = start_state.clone();
                for _ in 0..400 {
                    let next = loan.business_date.succ();
                    let (state, postings) =
                        apply(black_box(&loan), &Command::AdvanceDay, next).expect("advances");
                    black_box(postings);
                    loan = state;
                }
                days += 400;
            }
            days as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    rounds.sort_by(|a, b| a.total_cmp(b));
    let (best, median) = (rounds[ROUNDS - 1], rounds[ROUNDS / 2]);
    let name = "loan AdvanceDay, 12 installments, unpaid";
    println!("{name:<46} best {best:>10.0}  median {median:>10.0} loan-days/s");
}

fn main() {
    let monthly = ContractRate::Monthly("1.5%".parse().expect("rate"));
    let daily = ContractRate::Daily("0.05%".parse().expect("rate"));
    let fast: Generate = SchedulePlan::generate;
    let reference: Generate = SchedulePlan::generate_reference;
    measure("monthly rate, plan reused, i128", monthly, false, fast);
    measure(
        "monthly rate, plan reused, Decimal reference",
        monthly,
        false,
        reference,
    );
    measure("daily rate,   plan reused, i128", daily, false, fast);
    measure(
        "daily rate,   plan reused, Decimal reference",
        daily,
        false,
        reference,
    );
    measure("monthly rate, plan per schedule, i128", monthly, true, fast);
    measure("daily rate,   plan per schedule, i128", daily, true, fast);
    measure_days();
}
