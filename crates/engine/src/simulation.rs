//! A deterministic simulation of a loan book: seeded borrowers of several kinds (on time,
//! late, partial, missed, prepaying, reversed payments) over many business days, with
//! invariants checked as it goes. Used by the engine tests (small) and `puhui sim` (full).

use crate::cob::{self, CobConfig};
use crate::loans::{self, Action, Application};
use crate::Engine;
use lending::loan::{self, AccountPurpose, LoanConfig, LoanStatus};
use lending::product::Component;
use lending::LoanProduct;
use money::{BusinessDate, Money};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

#[derive(Clone, Copy, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub loans: u32,
    pub days: u32,
    /// Loans whose books are checked each day (rotating through the book).
    pub loans_checked_per_day: u32,
    /// Whole-ledger balance is checked every this many days.
    pub ledger_check_every_days: u32,
    /// Loans start on days spread over the first this many; 0: all but the last 400 days.
    pub origination_days: u32,
}

#[derive(Clone, Debug, Default)]
pub struct SimReport {
    pub loans: u32,
    pub days: u32,
    pub repayments: u64,
    pub reversals: u64,
    pub prepayments: u64,
    pub paid_off: u32,
    pub written_off: u32,
    pub loan_checks: u64,
    pub ledger_checks: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    OnTime,
    Late,
    Partial,
    Missed,
    Prepays,
    Reversed,
}

struct SimLoan {
    id: Uuid,
    kind: Kind,
    starts_on: u32,
    /// (day index, amount) of payments still to make, and reversals to make.
    due: Vec<(BusinessDate, i64)>,
    prepay_on: Option<BusinessDate>,
    reverse_seq: Option<(BusinessDate, i32)>,
    disbursed: bool,
}

pub fn start_date() -> BusinessDate {
    BusinessDate::from_ymd(2026, 1, 1).expect("valid date")
}

fn cny(minor: i64) -> Money {
    Money::from_minor(minor, money::Currency::Cny)
}

/// Runs the simulation; returns the first broken invariant as an error naming the seed.
pub async fn run(
    engine: &Engine,
    cfg: SimConfig,
    progress: &(dyn Fn(u32) + Sync),
) -> anyhow::Result<SimReport> {
    let seed = cfg.seed;
    run_inner(engine, cfg, progress)
        .await
        .map_err(|e| e.context(format!("simulation seed {seed}")))
}

async fn run_inner(
    engine: &Engine,
    cfg: SimConfig,
    progress: &(dyn Fn(u32) + Sync),
) -> anyhow::Result<SimReport> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let product = LoanProduct::example_cny();
    let product_id = Uuid::from_u128(u128::from(cfg.seed) << 64 | 0x5157);
    loans::init_business_date(engine, start_date()).await?;
    // Originations spread over the first part, so the book is mixed-age throughout.
    let origination_days = match cfg.origination_days {
        0 => (cfg.days.saturating_sub(400)).max(1),
        n => n,
    };
    let mut book: Vec<SimLoan> = (0..cfg.loans)
        .map(|i| {
            let kind = match rng.gen_range(0..100) {
                0..=44 => Kind::OnTime,
                45..=59 => Kind::Late,
                60..=71 => Kind::Partial,
                72..=79 => Kind::Missed,
                80..=89 => Kind::Prepays,
                _ => Kind::Reversed,
            };
            SimLoan {
                id: Uuid::from_u128(u128::from(cfg.seed) << 64 | u128::from(i) << 8 | 1),
                kind,
                starts_on: rng.gen_range(0..origination_days),
                due: Vec::new(),
                prepay_on: None,
                reverse_seq: None,
                disbursed: false,
            }
        })
        .collect();
    let mut report = SimReport {
        loans: cfg.loans,
        days: cfg.days,
        ..SimReport::default()
    };
    let mut cursor = 0usize;
    for day_index in 0..cfg.days {
        let today = loans::business_date(engine)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no business date"))?;
        for l in book.iter_mut() {
            if l.starts_on == day_index && !l.disbursed {
                originate(engine, &product, product_id, l, today, &mut rng).await?;
            }
            if l.disbursed {
                pay(engine, l, today, &mut report, &mut rng).await?;
            }
        }
        for _ in 0..cfg.loans_checked_per_day.min(cfg.loans) {
            let l = &book[cursor % book.len()];
            cursor += 1;
            if l.disbursed {
                check_loan(engine, l.id).await?;
                report.loan_checks += 1;
            }
        }
        if cfg.ledger_check_every_days > 0 && day_index % cfg.ledger_check_every_days == 0 {
            check_ledger_balances(engine).await?;
            let disbursed = book.iter().filter(|l| l.disbursed).map(|l| l.id);
            check_accrued_interest(engine, "sim", money::Currency::Cny, disbursed).await?;
            report.ledger_checks += 1;
        }
        cob::close_business_day(engine, CobConfig::default(), &|_| {}).await?;
        progress(day_index + 1);
    }
    for l in &book {
        if !l.disbursed {
            continue;
        }
        check_loan(engine, l.id).await?;
        report.loan_checks += 1;
        match loans::load(engine, l.id).await?.loan.status {
            LoanStatus::PaidOff => report.paid_off += 1,
            LoanStatus::WrittenOff => report.written_off += 1,
            _ => {}
        }
    }
    check_ledger_balances(engine).await?;
    let disbursed = book.iter().filter(|l| l.disbursed).map(|l| l.id);
    check_accrued_interest(engine, "sim", money::Currency::Cny, disbursed).await?;
    report.ledger_checks += 1;
    Ok(report)
}

async fn originate(
    engine: &Engine,
    product: &LoanProduct,
    product_id: Uuid,
    l: &mut SimLoan,
    today: BusinessDate,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let amount = cny(rng.gen_range(100..=20_000) * 100);
    let term = rng.gen_range(1..=12);
    let config = LoanConfig::from_product(product, amount, term, 90)?;
    loans::apply_for_loan(
        engine,
        Application {
            id: l.id,
            tenant: "sim".into(),
            borrower: format!("b{}", l.id.as_u128() >> 8 & 0xffff_ffff),
            product_id,
            product_version: 1,
            config,
            decision_id: None,
        },
    )
    .await?;
    loans::decide(engine, l.id, true).await?;
    let (view, _) = loans::execute(
        engine,
        l.id,
        Action::Disburse { payee: None },
        today,
        key(rng),
    )
    .await?;
    l.disbursed = true;
    for i in &view.loan.installments {
        let s = &i.scheduled;
        let (on, amount) = match l.kind {
            Kind::OnTime | Kind::Reversed | Kind::Prepays => (s.due_date, s.total_minor),
            Kind::Late => (
                s.due_date.add_days(12).expect("date"),
                s.total_minor + s.total_minor / 50,
            ),
            Kind::Partial => (s.due_date, s.total_minor / 2),
            Kind::Missed => continue,
        };
        l.due.push((on, amount));
        if l.kind == Kind::Partial {
            l.due.push((
                s.due_date.add_days(20).expect("date"),
                s.total_minor - s.total_minor / 2 + 500,
            ));
        }
    }
    if l.kind == Kind::Prepays {
        let last = view
            .loan
            .installments
            .last()
            .expect("a schedule")
            .scheduled
            .due_date;
        let span = today.days_until(last).max(2);
        l.prepay_on = today.add_days(rng.gen_range(1..span));
    }
    Ok(())
}

fn key(rng: &mut StdRng) -> Uuid {
    Uuid::from_u128(rng.gen())
}

async fn pay(
    engine: &Engine,
    l: &mut SimLoan,
    today: BusinessDate,
    report: &mut SimReport,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    if l.prepay_on == Some(today) {
        let view = loans::load(engine, l.id).await?;
        if view.loan.status == LoanStatus::Active {
            let payoff = loan::payoff_minor(&view.loan)?;
            loans::execute(
                engine,
                l.id,
                Action::PrepayFull {
                    amount: cny(payoff),
                },
                today,
                key(rng),
            )
            .await?;
            report.prepayments += 1;
        }
        l.due.clear();
    }
    if let Some((on, seq)) = l.reverse_seq {
        if on == today {
            loans::reverse_repayment(engine, l.id, seq, key(rng)).await?;
            report.reversals += 1;
            l.reverse_seq = None;
        }
    }
    let amounts: Vec<i64> = l
        .due
        .iter()
        .filter(|(on, _)| *on == today)
        .map(|(_, a)| *a)
        .collect();
    for amount in amounts {
        if loans::load(engine, l.id).await?.loan.status != LoanStatus::Active {
            l.due.clear();
            break;
        }
        let (view, _) = loans::execute(
            engine,
            l.id,
            Action::Repay {
                amount: cny(amount),
            },
            today,
            key(rng),
        )
        .await?;
        report.repayments += 1;
        if l.kind == Kind::Reversed && l.reverse_seq.is_none() && rng.gen_bool(0.3) {
            let events = engine.store().loan_events(l.id).await?;
            let seq = events.last().expect("the repayment's event").seq;
            l.reverse_seq = Some((today.add_days(rng.gen_range(0..5)).expect("date"), seq));
        }
        drop(view);
    }
    Ok(())
}

/// The loan's receivable accounts equal what its state says is owed (billed interest; the
/// interest accrued but not billed is in the tenant's accrued account, see
/// [`check_accrued_interest`]), and its state at the open day equals a replay of its events.
pub async fn check_loan(engine: &Engine, id: Uuid) -> anyhow::Result<()> {
    let view = loans::load(engine, id).await?;
    let on_books = view.loan.status == LoanStatus::Active;
    let l = &view.loan;
    let expected = [
        (
            AccountPurpose::PrincipalReceivable,
            l.principal_outstanding_minor(),
        ),
        (
            AccountPurpose::InterestReceivable,
            l.outstanding_minor(Component::Interest),
        ),
        (
            AccountPurpose::FeeReceivable,
            l.outstanding_minor(Component::Fee),
        ),
        (
            AccountPurpose::PenaltyReceivable,
            l.outstanding_minor(Component::Penalty),
        ),
    ];
    for (purpose, owed) in expected {
        let account = loans::account_id(id, &view.row.tenant, view.currency(), purpose);
        let balance = match engine.account(account).await? {
            Some(a) => a.balances.debits_posted_minor - a.balances.credits_posted_minor,
            None => 0,
        };
        let owed = if on_books { owed } else { 0 };
        anyhow::ensure!(
            balance == owed,
            "loan {id} {purpose:?}: ledger {balance} but state owes {owed}"
        );
    }
    // The credit is a liability whatever the status: it stays until used or refunded.
    let account = loans::account_id(
        id,
        &view.row.tenant,
        view.currency(),
        AccountPurpose::Overpayment,
    );
    let credit = match engine.account(account).await? {
        Some(a) => a.balances.credits_posted_minor - a.balances.debits_posted_minor,
        None => 0,
    };
    anyhow::ensure!(
        credit == l.overpayment_credit_minor,
        "loan {id} overpayment: ledger {credit} but state holds {}",
        l.overpayment_credit_minor
    );
    let events = engine.store().loan_events(id).await?;
    let replayed = loans::replay(&events, l.business_date, None)?;
    anyhow::ensure!(
        replayed.loan == *l,
        "loan {id}: stored state differs from its replay"
    );
    Ok(())
}

/// The tenant's accrued-interest account holds exactly the unbilled accrued interest of its
/// open loans, although close of business books a quiet loan's day only in a sum.
pub async fn check_accrued_interest(
    engine: &Engine,
    tenant: &str,
    currency: money::Currency,
    ids: impl Iterator<Item = Uuid>,
) -> anyhow::Result<()> {
    let mut owed = 0i64;
    for id in ids {
        let l = loans::load(engine, id).await?.loan;
        if l.status == LoanStatus::Active {
            owed += l.interest_accrued_unbilled_minor();
        }
    }
    let account = loans::account_id(
        Uuid::nil(),
        tenant,
        currency,
        AccountPurpose::AccruedInterest,
    );
    let balance = engine.account(account).await?.map_or(0, |a| {
        a.balances.debits_posted_minor - a.balances.credits_posted_minor
    });
    anyhow::ensure!(
        balance == owed,
        "accrued interest of {tenant}: ledger {balance} but the loans' states say {owed}"
    );
    Ok(())
}

/// Debits equal credits over the whole ledger.
pub async fn check_ledger_balances(engine: &Engine) -> anyhow::Result<()> {
    let (mut debits, mut credits) = (0i128, 0i128);
    for a in engine.store().accounts().await? {
        debits += i128::from(a.balances.debits_posted_minor);
        credits += i128::from(a.balances.credits_posted_minor);
    }
    anyhow::ensure!(
        debits == credits,
        "ledger out of balance: debits {debits}, credits {credits}"
    );
    Ok(())
}
