//! A seeded simulation of a revolving-credit book: borrowers who pay in full, pay the
//! minimum, or miss, buying at merchants, asking for refunds and turning purchases into
//! installments, through every close of business of a period. It checks what must hold
//! every day (the ledger balances) and at the end (each line's state equals its ledger
//! accounts; borrowers who always paid in full owe no interest; money leaving the funder
//! lands only in merchant accounts).

use crate::cob::{self, CobConfig};
use crate::loans;
use crate::revolving::{self as rc, BorrowerKind, NewLine, NewMerchant, NewPurchase, Platform};
use crate::Engine;
use money::{BusinessDate, Currency, Decimal};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use revolving::{FeePayer, LimitRules, Purpose, Terms};
use std::collections::HashSet;
use uuid::Uuid;

#[derive(Clone, Copy, Debug)]
pub struct RcSimConfig {
    pub lines: u32,
    pub merchants: u32,
    pub days: u32,
    pub seed: u64,
    pub start: BusinessDate,
}

#[derive(Clone, Debug, Default)]
pub struct RcSimReport {
    pub lines: u64,
    pub days: u32,
    pub purchases: u64,
    pub declined: u64,
    pub refunds: u64,
    pub conversions: u64,
    pub repayments: u64,
    pub statements: u64,
    /// Days the trial balance was checked (every day).
    pub balanced_days: u32,
    /// Interest and penalty booked on lines whose borrower always paid in full on time.
    pub full_payer_interest_minor: i64,
    pub full_payer_lines: u64,
    /// Interest and penalty booked on all the other lines.
    pub other_interest_minor: i64,
    /// Entries that took money from the funder's cash; each credited only merchant payables.
    pub funder_outflow_entries: u64,
    pub funder_outflow_minor: i64,
    pub seconds: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Habit {
    Full,
    Minimum,
    Misses,
}

struct SimLine {
    id: Uuid,
    habit: Habit,
    due_day: u32,
    captured: Vec<(Uuid, i64)>,
}

const T: &str = "sim";

/// Runs the simulation; `progress(day)` is called after each closed day.
pub async fn run(
    engine: &Engine,
    config: RcSimConfig,
    progress: &(dyn Fn(u32) + Sync),
) -> anyhow::Result<RcSimReport> {
    let started = std::time::Instant::now();
    let mut rng = StdRng::seed_from_u64(config.seed);
    loans::init_business_date(engine, config.start).await?;
    let merchants = open_merchants(engine, &mut rng, config.merchants).await?;
    let mut lines = open_lines(engine, &mut rng, config.lines).await?;
    let mut report = RcSimReport {
        lines: lines.len() as u64,
        ..RcSimReport::default()
    };
    for day in 0..config.days {
        let today = loans::business_date(engine)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no business date"))?;
        trade(engine, &mut rng, &mut lines, &merchants, &mut report).await?;
        repay_due(engine, &mut rng, &lines, today, &mut report).await?;
        let (_, cob) = cob::close_business_day(engine, CobConfig::default(), &|_| {}).await?;
        report.statements += cob.statements_issued;
        check_balanced(engine).await?;
        report.balanced_days += 1;
        progress(day + 1);
    }
    report.days = config.days;
    check_lines(engine, &lines, &mut report).await?;
    check_outflows(engine, &mut report).await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn open_merchants(engine: &Engine, rng: &mut StdRng, n: u32) -> anyhow::Result<Vec<Uuid>> {
    let mut out = Vec::new();
    for i in 0..n.max(1) {
        let id = Uuid::from_u128(rng.gen());
        let rate = Decimal::new(rng.gen_range(6..=10), 3);
        rc::create_merchant(
            engine,
            T,
            NewMerchant {
                id,
                name: format!("merchant {i}"),
                currency: Currency::Cny,
                discount_rate: rate,
                settlement_account: format!("bank:{i:08}"),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("merchant: {e}"))?;
        out.push(id);
    }
    Ok(out)
}

async fn open_lines(engine: &Engine, rng: &mut StdRng, n: u32) -> anyhow::Result<Vec<SimLine>> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut out = Vec::new();
    for i in 0..n {
        let (borrower, id) = (Uuid::from_u128(rng.gen()), Uuid::from_u128(rng.gen()));
        let habit = match rng.gen_range(0..10) {
            0..=5 => Habit::Full,
            6..=8 => Habit::Minimum,
            _ => Habit::Misses,
        };
        let mut terms = Terms::standard(Currency::Cny);
        // Statement days spread over the month (due nine days later) spread the work.
        terms.statement_day = [1, 5, 10, 15, 19][i as usize % 5];
        terms.due_day = terms.statement_day + 9;
        let limit_minor = rng.gen_range(20..=200) * 100_000;
        out.push(SimLine {
            id,
            habit,
            due_day: terms.due_day,
            captured: Vec::new(),
        });
        let engine = engine.clone();
        tasks.spawn(async move {
            rc::create_borrower(
                &engine,
                borrower,
                T,
                BorrowerKind::Individual,
                format!("b{i}"),
            )
            .await?;
            rc::open_line(
                &engine,
                T,
                NewLine {
                    id,
                    borrower_id: borrower,
                    limit_minor,
                    terms,
                    rules: LimitRules::default(),
                },
            )
            .await?;
            Ok::<_, rc::RevolvingError>(())
        });
        if tasks.len() >= 256 {
            join_one(&mut tasks).await?;
        }
    }
    while !tasks.is_empty() {
        join_one(&mut tasks).await?;
    }
    Ok(out)
}

async fn join_one<T: 'static>(
    tasks: &mut tokio::task::JoinSet<Result<T, rc::RevolvingError>>,
) -> anyhow::Result<T> {
    match tasks.join_next().await {
        Some(r) => r?.map_err(|e| anyhow::anyhow!("{e}")),
        None => anyhow::bail!("no task"),
    }
}

/// One day's purchases, refunds and installment conversions, all lines at once.
async fn trade(
    engine: &Engine,
    rng: &mut StdRng,
    lines: &mut [SimLine],
    merchants: &[Uuid],
    report: &mut RcSimReport,
) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut done = Vec::new();
    for (i, l) in lines.iter_mut().enumerate() {
        let engine = engine.clone();
        let line_id = l.id;
        if rng.gen_bool(0.25) {
            let p = NewPurchase {
                id: Uuid::from_u128(rng.gen()),
                line_id,
                merchant_id: merchants[rng.gen_range(0..merchants.len())],
                currency: Currency::Cny,
                amount_minor: rng.gen_range(10..=800) * 100,
            };
            let convert = rng.gen_bool(0.05).then(|| [3, 6, 12][rng.gen_range(0..3)]);
            let payer = if rng.gen_bool(0.3) {
                FeePayer::Merchant
            } else {
                FeePayer::Borrower
            };
            tasks.spawn(async move { buy(&engine, p, convert, payer).await.map(|r| (i, r)) });
        } else if !l.captured.is_empty() && rng.gen_bool(0.01) {
            let (pid, amount) = l.captured.swap_remove(rng.gen_range(0..l.captured.len()));
            let part = if rng.gen_bool(0.5) {
                amount
            } else {
                amount / 2
            };
            let rid = Uuid::from_u128(rng.gen());
            tasks.spawn(async move {
                rc::refund(&engine, T, pid, rid, part)
                    .await
                    .map(|_| (i, Bought::Refunded))
            });
        }
        if tasks.len() >= 512 {
            done.push(join_one(&mut tasks).await?);
        }
    }
    while !tasks.is_empty() {
        done.push(join_one(&mut tasks).await?);
    }
    for d in done {
        tally(d, lines, report);
    }
    Ok(())
}

enum Bought {
    Captured {
        purchase: Uuid,
        amount_minor: i64,
        converted: bool,
    },
    Declined,
    Refunded,
}

fn tally((i, r): (usize, Bought), lines: &mut [SimLine], report: &mut RcSimReport) {
    match r {
        Bought::Captured {
            purchase,
            amount_minor,
            converted,
        } => {
            report.purchases += 1;
            report.conversions += u64::from(converted);
            if !converted {
                lines[i].captured.push((purchase, amount_minor));
            }
        }
        Bought::Declined => report.declined += 1,
        Bought::Refunded => report.refunds += 1,
    }
}

async fn buy(
    engine: &Engine,
    p: NewPurchase,
    convert: Option<u32>,
    payer: FeePayer,
) -> Result<Bought, rc::RevolvingError> {
    let (id, amount_minor) = (p.id, p.amount_minor);
    // Half the purchases are one-step sales, half an authorization and then its capture.
    let one_step = id.as_u64_pair().1 % 2 == 0;
    let bought = if one_step {
        rc::sale(engine, T, p).await.map(|_| ())
    } else {
        rc::authorize(engine, T, p).await.map(|_| ())
    };
    match bought {
        Ok(()) => {}
        Err(rc::RevolvingError::Declined { .. })
        | Err(rc::RevolvingError::Conflict {
            code: "line_frozen" | "line_closed",
            ..
        }) => return Ok(Bought::Declined),
        Err(e) => return Err(e),
    }
    if !one_step {
        rc::capture(engine, T, id, None).await?;
    }
    if let Some(months) = convert {
        rc::convert_purchase(engine, T, id, months, payer).await?;
    }
    Ok(Bought::Captured {
        purchase: id,
        amount_minor,
        converted: convert.is_some(),
    })
}

/// On each statement's due date (or the day before), borrowers pay by habit.
async fn repay_due(
    engine: &Engine,
    rng: &mut StdRng,
    lines: &[SimLine],
    today: BusinessDate,
    report: &mut RcSimReport,
) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for l in lines.iter().filter(|l| l.due_day == today.day()) {
        let key = Uuid::from_u128(rng.gen());
        let miss = rng.gen_bool(0.5);
        let engine = engine.clone();
        let (id, habit) = (l.id, l.habit);
        tasks.spawn(async move {
            let v = rc::line(&engine, T, id).await?;
            let Some(s) = v.doc.line.statements.last() else {
                return Ok(0);
            };
            if s.due_date != today {
                return Ok(0);
            }
            let outstanding = s.total_minor - s.paid_minor;
            let amount = match habit {
                Habit::Full => outstanding,
                Habit::Minimum => (s.min_payment_minor - s.paid_minor).max(0),
                Habit::Misses if miss => 0,
                Habit::Misses => (s.min_payment_minor - s.paid_minor).max(0),
            };
            if amount <= 0 {
                return Ok(0);
            }
            rc::repay(&engine, T, id, key, amount).await?;
            Ok::<u64, rc::RevolvingError>(1)
        });
        if tasks.len() >= 512 {
            report.repayments += join_one(&mut tasks).await?;
        }
    }
    while !tasks.is_empty() {
        report.repayments += join_one(&mut tasks).await?;
    }
    Ok(())
}

async fn check_balanced(engine: &Engine) -> anyhow::Result<()> {
    for (currency, debits, credits) in engine.store().trial_balance().await? {
        anyhow::ensure!(
            debits == credits,
            "ledger out of balance in {currency}: debits {debits} ≠ credits {credits}"
        );
    }
    Ok(())
}

/// Each line's state agrees with its ledger accounts; full payers owe no interest.
async fn check_lines(
    engine: &Engine,
    lines: &[SimLine],
    report: &mut RcSimReport,
) -> anyhow::Result<()> {
    for l in lines {
        let v = rc::line(engine, T, l.id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let line = &v.doc.line;
        let doc = &v.doc;
        let bal = |p: Purpose| async move {
            let a = engine
                .account(rc::line_account(doc, p))
                .await?
                .ok_or_else(|| anyhow::anyhow!("missing account"))?;
            Ok::<_, anyhow::Error>(a.balances)
        };
        let principal = bal(Purpose::PrincipalReceivable).await?;
        anyhow::ensure!(
            principal.debits_posted_minor - principal.credits_posted_minor
                == line.principal_outstanding_minor(),
            "line {}: principal receivable differs from state",
            l.id
        );
        let available = bal(Purpose::Available).await?;
        anyhow::ensure!(
            available.credits_posted_minor - available.debits_posted_minor
                == line.available_posted_minor(),
            "line {}: available differs from state",
            l.id
        );
        let interest = bal(Purpose::InterestReceivable).await?.debits_posted_minor
            + bal(Purpose::PenaltyReceivable).await?.debits_posted_minor;
        if l.habit == Habit::Full {
            report.full_payer_lines += 1;
            report.full_payer_interest_minor += interest;
        } else {
            report.other_interest_minor += interest;
        }
    }
    Ok(())
}

/// Every entry that credits the funder's cash debits only merchant payable accounts.
async fn check_outflows(engine: &Engine, report: &mut RcSimReport) -> anyhow::Result<()> {
    let cash = rc::platform_account(T, Currency::Cny, Platform::FunderCash);
    let merchants: HashSet<ledger::AccountId> = engine
        .store()
        .docs(rc::MERCHANT, None, None, u32::MAX)
        .await?
        .iter()
        .map(|r| rc::merchant_payable(r.id, Currency::Cny))
        .collect();
    let mut after = None;
    loop {
        let page = engine.store().entries_by_account(cash, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        for e in &page {
            for p in &e.postings {
                if p.direction == ledger::Side::Debit {
                    anyhow::ensure!(
                        merchants.contains(&p.account_id),
                        "entry {} pays funder cash to a non-merchant account {}",
                        e.id,
                        p.account_id
                    );
                } else if p.account_id == cash {
                    report.funder_outflow_minor += p.amount_minor;
                }
            }
            report.funder_outflow_entries += 1;
        }
    }
    Ok(())
}
