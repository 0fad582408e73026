//! A period run on the live book: the period's collections on the pooled loans' sold share
//! (from each loan's journal, replayed to the payment date), `abs::run_period`, and one
//! entry remitting the collections to the SPV and paying the waterfall, written with the
//! deal's new state. A period is run once.

use super::close::{platform_cash, Moves};
use super::docs::{
    call_entry_id, collection_entry_id, deal_account, deal_write, load, period_entry_id,
    CollectionsDoc, DealDoc, DealStatus, DelinquencyDoc, PeriodDoc, PooledLoan, StateDoc,
};
use super::pool::{interest_paid_minor, principal_paid_minor};
use super::purchases;
use super::{open_day, AbsError};
use crate::{loans, Command, Engine, EngineError};
use ledger::EntryRequest;
use lending::loan::{AccountPurpose, LoanStatus};
use money::{BusinessDate, Decimal, RoundingMode};
use uuid::Uuid;

/// Rounding of a loan's sold share of an amount.
pub const SHARE_ROUNDING: RoundingMode = RoundingMode::HalfEven;

fn share_of(share: Decimal, amount_minor: i64) -> Result<i64, AbsError> {
    SHARE_ROUNDING
        .round_minor(share * Decimal::from(amount_minor))
        .map_err(|_| AbsError::Storage(anyhow::anyhow!("a share overflows")))
}

/// One loan's contribution to the period: collections, the scheduled principal of the
/// period on the sold share, and its line after it. `dpd` is the loan's at `to`.
struct Contribution {
    c: CollectionsDoc,
    scheduled_principal_minor: i64,
    dpd: u32,
    next: PooledLoan,
}

async fn collect(
    engine: &Engine,
    line: &PooledLoan,
    from: BusinessDate,
    to: BusinessDate,
) -> Result<Contribution, AbsError> {
    let mut next = line.clone();
    let mut c = CollectionsDoc::default();
    let nothing_left = line.sold_minor == 0 && !line.written_off;
    if nothing_left || line.repurchased {
        return Ok(Contribution {
            c,
            scheduled_principal_minor: 0,
            dpd: 0,
            next,
        });
    }
    let (view, journal) = loans::replay_as_of(engine, line.loan_id, to)
        .await
        .map_err(|e| anyhow::anyhow!("loan {}: {e}", line.loan_id))?;
    // Recoveries after a write-off, on the sold share as its other cash is.
    let recovered: i64 = journal
        .iter()
        .flat_map(|(_, intents)| intents)
        .filter(|i| i.credit == AccountPurpose::RecoveryIncome)
        .map(|i| i.amount_minor)
        .sum();
    c.recovery_minor = share_of(line.share, recovered - line.recovered_minor)?;
    next.recovered_minor = recovered;
    if line.written_off {
        return Ok(Contribution {
            c,
            scheduled_principal_minor: 0,
            dpd: 0,
            next,
        });
    }
    let loan = &view.loan;
    let scheduled: i64 = loan
        .installments
        .iter()
        .filter(|i| i.scheduled.due_date > from && i.scheduled.due_date <= to)
        .map(|i| i.scheduled.principal_minor)
        .sum();
    let principal_paid = principal_paid_minor(loan);
    let interest_paid = interest_paid_minor(loan);
    c.interest_minor = share_of(line.share, interest_paid - line.interest_paid_minor)?;
    if loan.status == LoanStatus::WrittenOff {
        c.principal_minor = share_of(line.share, principal_paid - line.principal_paid_minor)?
            .clamp(0, line.sold_minor);
        c.new_default_minor = line.sold_minor - c.principal_minor;
        next.sold_minor = 0;
        next.written_off = true;
    } else {
        let held = share_of(line.share, loan.principal_outstanding_minor())?;
        next.sold_minor = held.clamp(0, line.sold_minor);
        c.principal_minor = line.sold_minor - next.sold_minor;
    }
    next.principal_paid_minor = principal_paid;
    next.interest_paid_minor = interest_paid;
    Ok(Contribution {
        c,
        scheduled_principal_minor: share_of(line.share, scheduled)?,
        dpd: loan.dpd,
        next,
    })
}

fn fixings(rates: &[abs::IndexRate]) -> Vec<(String, Decimal)> {
    rates.iter().map(|r| (r.index.clone(), r.rate)).collect()
}

fn replay_or_conflict(
    doc: &DealDoc,
    n: u32,
    key: Uuid,
    period: &abs::Period,
) -> Result<(PeriodDoc, bool), AbsError> {
    let same = |p: &PeriodDoc| {
        p.index_rates == fixings(&period.index_rates) && p.called == period.exercise_call
    };
    match doc.periods.iter().find(|p| p.n == n) {
        Some(p) if p.key == key && same(p) => Ok((p.clone(), true)),
        Some(p) if p.key == key => Err(AbsError::conflict(
            "key_reused",
            format!(
                "this Idempotency-Key ran period {} with other fixings or call",
                p.n
            ),
        )),
        Some(_) => Err(AbsError::conflict(
            "period_already_run",
            format!("period {n} has already been run"),
        )),
        None => Err(AbsError::conflict(
            "changed_meanwhile",
            "the deal changed; retry",
        )),
    }
}

/// Runs period `n` (1-based, the next one) on `payment_date` without a call. The same key
/// again answers with the period as it was run (`true`); any other run of it is refused.
#[allow(clippy::too_many_arguments)]
pub async fn run_period(
    engine: &Engine,
    tenant: &str,
    deal_id: Uuid,
    n: u32,
    key: Uuid,
    deal: &abs::Deal,
    payment_date: BusinessDate,
    index_rates: Vec<abs::IndexRate>,
) -> Result<(PeriodDoc, bool), AbsError> {
    let period = abs::Period {
        payment_date,
        exercise_call: false,
        index_rates,
    };
    run_period_with(engine, tenant, (deal_id, deal), n, key, period).await
}

/// [`run_period`] with the period as asked, the clean-up call exercised or not. A call buys
/// back every pooled loan's sold principal left after the period's collections, at par,
/// into the collection account; the deal's clean-up waterfall pays it out and the deal ends.
pub async fn run_period_with(
    engine: &Engine,
    tenant: &str,
    (deal_id, deal): (Uuid, &abs::Deal),
    n: u32,
    key: Uuid,
    period: abs::Period,
) -> Result<(PeriodDoc, bool), AbsError> {
    let payment_date = period.payment_date;
    let (mut doc, version) = load(engine, deal_id, tenant).await?;
    if doc.periods.iter().any(|p| p.n == n) {
        return replay_or_conflict(&doc, n, key, &period);
    }
    if doc.status != DealStatus::Closed {
        return Err(AbsError::conflict(
            "not_closed",
            "close the deal before running periods",
        ));
    }
    if n as usize != doc.periods.len() + 1 {
        return Err(AbsError::conflict(
            "period_out_of_order",
            format!("the next period is {}", doc.periods.len() + 1),
        ));
    }
    let today = open_day(engine).await?;
    if payment_date > today {
        return Err(AbsError::conflict(
            "period_not_due",
            format!("payment date {payment_date} is after the open business day {today}"),
        ));
    }
    let pool = doc.pool.clone().expect("a closed deal has its pool");
    let from = doc.periods.last().map_or(pool.as_of, |p| p.payment_date);
    if payment_date <= from {
        return Err(AbsError::conflict(
            "period_before_pool",
            format!("payment date {payment_date} is not after {from}, when the pool was measured"),
        ));
    }
    let mut total = CollectionsDoc::default();
    let mut lines = Vec::with_capacity(pool.loans.len());
    let mut delinquency = DelinquencyDoc::default();
    let mut prepayment_minor = 0;
    for line in &pool.loans {
        let k = collect(engine, line, from, payment_date).await?;
        let c = k.c;
        total.interest_minor += c.interest_minor;
        total.principal_minor += c.principal_minor;
        total.recovery_minor += c.recovery_minor;
        total.new_default_minor += c.new_default_minor;
        prepayment_minor += (c.principal_minor - k.scheduled_principal_minor).max(0);
        if k.next.sold_minor > 0 {
            delinquency.add(k.dpd, k.next.sold_minor);
        }
        lines.push(k.next);
    }
    // Repurchases since the last period return their principal as cash already in the
    // collection account: principal collections of this period.
    let mut repurchased_minor = 0;
    let mut repurchase_entries = Vec::new();
    for r in doc.repurchases.iter_mut().filter(|r| r.period.is_none()) {
        r.period = Some(n);
        repurchased_minor += r.amount_minor;
        repurchase_entries.push(r.entry_id);
    }
    let state = doc
        .state
        .as_ref()
        .expect("a closed deal has its state")
        .to_domain();
    let collections = abs::Collections {
        interest_minor: total.interest_minor,
        principal_minor: total.principal_minor + repurchased_minor,
        recovery_minor: total.recovery_minor,
        new_default_minor: total.new_default_minor,
    };
    let given = fixings(&period.index_rates);
    let (mut after, mut pay) =
        abs::run_period(deal, &state, &collections, &period).map_err(|e| {
            let field = match e {
                abs::RunError::MissingIndexRate(..) => "index_rates",
                abs::RunError::CallNotExercisable => "exercise_call",
                _ => "payment_date",
            };
            AbsError::invalid(field, "run_refused", e.to_string())
        })?;
    let coll = deal.collection_account();
    let mut purchase_entry = None;
    let (mut purchased_balance_minor, mut purchased_loans) = (0, 0);
    let mut purchase_writes = Vec::new();
    if pay.purchase_paid_minor > 0 {
        let wanted = purchases::Wanted {
            price: deal.purchase_price,
            balance_minor: pay.purchased_balance_minor,
            cash_minor: pay.purchase_paid_minor,
        };
        let bought = purchases::buy(engine, &doc, n, wanted, &lines, today).await?;
        // What too few eligible loans left unbought stays in the collection account, and
        // only what was bought joins the pool.
        let unspent = pay.purchase_paid_minor - bought.paid_minor;
        pay.purchase_paid_minor = bought.paid_minor;
        pay.accounts_closing_minor[coll] += unspent;
        after.accounts_minor[coll] += unspent;
        after.pool_balance_minor -= pay.purchased_balance_minor - bought.balance_minor;
        pay.purchased_balance_minor = bought.balance_minor;
        purchased_balance_minor = bought.balance_minor;
        purchased_loans = bought.lines.len() as u32;
        lines.extend(bought.lines);
        purchase_entry = bought.entry;
        purchase_writes = bought.writes;
    }
    assert_eq!(
        pay.sources_minor(),
        pay.uses_minor(),
        "a live period's sources equal its uses"
    );
    let call = pay.call_proceeds_minor;
    let collection = deal.accounts[coll].name.as_str();
    let call_entry = (call > 0).then(|| call_back(&doc, n, &mut lines, call, collection));

    let account = |name: &str| deal_account(deal_id, name);
    let (p, i, r, d) = (
        total.principal_minor,
        total.interest_minor,
        total.recovery_minor,
        total.new_default_minor,
    );
    let collection_account = account(&format!("spv:account:{}", deal.accounts[coll].name));
    let mut remit = Moves::default();
    // The platform hands over what it collected on the sold share into the collection
    // account, and the sold principal that left the loans (repaid or written off) leaves
    // its contra.
    remit.credit(platform_cash(&doc), p + i + r);
    remit.debit(collection_account, p + i + r);
    remit.debit(account("platform:sold_receivable"), p + d);
    remit.debit(account("platform:collections_remitted"), i + r);
    remit.credit(account("platform:loss_transferred"), d);
    // The SPV receives it: principal and defaults reduce its receivable.
    remit.credit(account("spv:pool_receivable"), p + d);
    remit.credit(account("spv:interest_income"), i);
    remit.credit(account("spv:recovery_income"), r);
    remit.debit(account("spv:credit_loss"), d);
    let collection_entry_id = collection_entry_id(deal_id, n);
    let remit = (!remit.is_empty()).then(|| {
        remit.entry(
            collection_entry_id,
            &doc,
            format!("abs deal {deal_id}: period {n} collections to {payment_date}"),
        )
    });
    let mut moves = Moves::default();
    // The waterfall: every deal account moves to its closing balance, less the cash the
    // collection account already received (the remittance, repurchases), and each use is
    // paid.
    for (k, a) in deal.accounts.iter().enumerate() {
        let change = pay.accounts_closing_minor[k] - pay.accounts_opening_minor[k];
        moves.debit(account(&format!("spv:account:{}", a.name)), change);
    }
    moves.credit(collection_account, p + i + r + repurchased_minor + call);
    for (f, fee) in deal.fees.iter().enumerate() {
        moves.debit(
            account(&format!("spv:fee:{}", fee.name)),
            pay.fees_paid_minor[f],
        );
    }
    for (j, b) in deal.bonds.iter().enumerate() {
        let name = &b.name;
        moves.debit(
            account(&format!("spv:bond_interest:{name}")),
            pay.interest_paid_minor[j],
        );
        moves.debit(
            account(&format!("spv:bond:{name}")),
            pay.principal_paid_minor[j],
        );
        moves.debit(
            account(&format!("spv:residual:{name}")),
            pay.residual_paid_minor[j],
        );
    }
    moves.debit(account("spv:purchases"), pay.purchase_paid_minor);
    let entry_id = period_entry_id(deal_id, n);
    let mut collection_entry_ids: Vec<Uuid> = remit.as_ref().map(|e| e.id.0).into_iter().collect();
    collection_entry_ids.extend(repurchase_entries);
    collection_entry_ids.extend(call_entry.as_ref().map(|e| e.id.0));
    let mut commands: Vec<Command> = remit.into_iter().map(Command::Entry).collect();
    commands.extend(call_entry.map(Command::Entry));
    if !moves.is_empty() {
        commands.push(Command::Entry(moves.entry(
            entry_id,
            &doc,
            format!("abs deal {deal_id}: period {n} paid {payment_date}"),
        )));
    }
    let purchase_entry_id = purchase_entry.as_ref().map(|e| e.id.0);
    commands.extend(purchase_entry.map(Command::Entry));
    let record = PeriodDoc {
        n,
        key,
        index_rates: given,
        from,
        payment_date,
        collections: total,
        waterfall: match pay.waterfall {
            abs::WaterfallKind::Normal => "normal",
            abs::WaterfallKind::Accelerated => "accelerated",
            abs::WaterfallKind::CleanUp => "clean_up",
        }
        .into(),
        revolving: pay.revolving,
        fees_paid_minor: pay.fees_paid_minor.clone(),
        interest_paid_minor: pay.interest_paid_minor.clone(),
        principal_paid_minor: pay.principal_paid_minor.clone(),
        residual_paid_minor: pay.residual_paid_minor.clone(),
        purchase_paid_minor: pay.purchase_paid_minor,
        accounts_closing_minor: pay.accounts_closing_minor.clone(),
        bond_balances_minor: after.bonds.iter().map(|b| b.balance_minor).collect(),
        triggers: pay.triggers.clone(),
        pool_balance_minor: after.pool_balance_minor,
        entry_id: entry_id.0,
        collection_entry_ids,
        purchase_entry_id,
        purchased_balance_minor,
        purchased_loans,
        repurchased_minor,
        prepayment_minor,
        called: period.exercise_call,
        call_proceeds_minor: call,
        delinquency,
        coupons: state.bonds.iter().map(|b| b.coupon).collect(),
    };
    let mut pool = pool;
    pool.loans = lines;
    doc.pool = Some(pool);
    doc.state = Some(StateDoc::from(&after));
    doc.periods.push(record.clone());
    purchase_writes.push(deal_write(&doc, today, Some(version)));
    match engine.submit_with(commands, purchase_writes).await {
        Ok(_) => Ok((record, false)),
        Err(EngineError::StaleDoc { .. }) => {
            let (now, _) = load(engine, deal_id, tenant).await?;
            replay_or_conflict(&now, n, key, &period)
        }
        Err(e) => Err(e.into()),
    }
}

/// The clean-up call: every line still holding sold principal goes back to the platform
/// (as a repurchase does) for `proceeds`, paid into the collection account.
fn call_back(
    doc: &DealDoc,
    n: u32,
    lines: &mut [PooledLoan],
    proceeds: i64,
    collection: &str,
) -> EntryRequest {
    let held: i64 = lines.iter().map(|l| l.sold_minor).sum();
    assert_eq!(held, proceeds, "a call buys back exactly the pool left");
    for l in lines.iter_mut().filter(|l| l.sold_minor > 0) {
        l.sold_minor = 0;
        l.repurchased = true;
    }
    let account = |name: &str| deal_account(doc.id, name);
    let mut moves = Moves::default();
    moves.credit(platform_cash(doc), proceeds);
    moves.debit(account(&format!("spv:account:{collection}")), proceeds);
    moves.debit(account("platform:sold_receivable"), proceeds);
    moves.credit(account("spv:pool_receivable"), proceeds);
    moves.entry(
        call_entry_id(doc.id, n),
        doc,
        format!(
            "abs deal {}: clean-up call of {proceeds} in period {n}",
            doc.id
        ),
    )
}
