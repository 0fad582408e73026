//! Close of business of revolving credit: merchants settled, then every open line moved to
//! the next day.

use crate::revolving::{
    conflict, derived_entry, merchant_payable, platform_account, run_line, settlement_entry,
    LinePlan, Merchant, Platform, RevolvingError, LINE, MERCHANT,
};
use crate::{Command, Engine, EngineError};
use ledger::{EntryRequest, LedgerError, Posting, Side};
use money::{BusinessDate, Decimal, RoundingMode};
use revolving::LineEvent;
use store::DocRow;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, Default)]
pub struct RevolvingCobReport {
    pub lines_advanced: u64,
    pub statements_issued: u64,
    pub limit_changes: u64,
    pub merchants_settled: u64,
    pub settled_minor: i64,
}

const COB_CHUNK_LINES: u32 = 512;

/// Settles every merchant's payable for `today`, then moves every open line to `next`
/// (interest, penalty, statements, installments billed, temporary limits expired, limit
/// rules). Each line-day commits alone with its postings, so a crash leaves each line
/// before or after the day and a re-run picks up the rest.
pub async fn close_day(
    engine: &Engine,
    today: BusinessDate,
    next: BusinessDate,
) -> anyhow::Result<RevolvingCobReport> {
    let mut report = RevolvingCobReport::default();
    settle_merchants(engine, today, &mut report).await?;
    let mut after = None;
    loop {
        let rows = engine
            .store()
            .docs(LINE, Some(next.to_epoch_days()), after, COB_CHUNK_LINES)
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
        let mut tasks = tokio::task::JoinSet::new();
        for row in rows {
            let engine = engine.clone();
            tasks.spawn(async move { advance_line(&engine, row, next).await });
        }
        while let Some(r) = tasks.join_next().await {
            let (statements, changes) = r??;
            report.lines_advanced += 1;
            report.statements_issued += statements;
            report.limit_changes += changes;
        }
    }
    Ok(report)
}

async fn advance_line(
    engine: &Engine,
    row: DocRow,
    next: BusinessDate,
) -> anyhow::Result<(u64, u64)> {
    let tenant = row.tenant.clone();
    let id = row.id;
    let mut statements = 0;
    let mut changes = 0;
    let r = run_line(engine, &tenant, id, true, |v, free| {
        let outcome = revolving::apply(
            &v.doc.line,
            &revolving::Command::AdvanceDay { free_minor: free },
            next,
        )?;
        statements = outcome
            .events
            .iter()
            .filter(|e| matches!(e, LineEvent::StatementIssued { .. }))
            .count() as u64;
        // The rule is judged on the line as it will be after the day.
        let rule = revolving::limits::review(&outcome.line, &v.doc.rules, next, free);
        changes = u64::from(rule.is_some());
        Ok(LinePlan::new(
            revolving::Command::AdvanceDay { free_minor: free },
            derived_entry(id, &format!("day:{next}")),
            format!("close of business {next}"),
        ))
    })
    .await;
    r.map_err(|e| anyhow::anyhow!("line {id}: {e}"))?;
    if changes > 0 {
        apply_rule(engine, &tenant, id, next).await?;
    }
    Ok((statements, changes))
}

/// Applies the limit rule due on `next` to a line already moved to `next`.
async fn apply_rule(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
    next: BusinessDate,
) -> anyhow::Result<()> {
    run_line(engine, tenant, id, true, |v, free| {
        let command = revolving::limits::review(&v.doc.line, &v.doc.rules, next, free)
            .ok_or_else(|| conflict("no_rule", "no limit rule is due"))?;
        Ok(LinePlan::new(
            command,
            derived_entry(id, &format!("rule:{next}")),
            "limit rule".to_string(),
        ))
    })
    .await
    .map(|_| ())
    .or_else(|e| match e {
        RevolvingError::Conflict {
            code: "no_rule", ..
        } => Ok(()),
        e => Err(anyhow::anyhow!("line {id} limit rule: {e}")),
    })
}

/// Pays each merchant what the platform owes it, less the discount, from the funder's cash.
async fn settle_merchants(
    engine: &Engine,
    today: BusinessDate,
    report: &mut RevolvingCobReport,
) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let rows = engine.store().docs(MERCHANT, None, after, 1024).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
        for row in rows {
            let m: Merchant = serde_json::from_slice(&row.body)?;
            if let Some(amount) = settle_merchant(engine, &m, today).await? {
                report.merchants_settled += 1;
                report.settled_minor += amount;
            }
        }
    }
    Ok(())
}

async fn settle_merchant(
    engine: &Engine,
    m: &Merchant,
    today: BusinessDate,
) -> anyhow::Result<Option<i64>> {
    let payable = merchant_payable(m.id, m.currency);
    let Some(acct) = engine.account(payable).await? else {
        return Ok(None);
    };
    let gross = acct.balances.credits_posted_minor - acct.balances.debits_posted_minor;
    if gross <= 0 {
        return Ok(None);
    }
    let discount = RoundingMode::HalfEven
        .round_minor(Decimal::from(gross) * m.discount_rate)
        .map_err(|e| anyhow::anyhow!("discount of {gross}: {e:?}"))?;
    let cash = platform_account(&m.tenant, m.currency, Platform::FunderCash);
    let income = platform_account(&m.tenant, m.currency, Platform::DiscountIncome);
    let mut postings = vec![Posting {
        account_id: payable,
        direction: Side::Debit,
        amount_minor: gross,
    }];
    for (account_id, amount_minor) in [(cash, gross - discount), (income, discount)] {
        if amount_minor > 0 {
            postings.push(Posting {
                account_id,
                direction: Side::Credit,
                amount_minor,
            });
        }
    }
    let entry = Command::Entry(EntryRequest {
        id: settlement_entry(m.id, m.currency, today),
        currency: m.currency,
        postings,
        memo: format!(
            "settlement {today} to merchant {} account {}",
            m.id, m.settlement_account
        ),
    });
    match engine.submit_waiting(vec![entry], Vec::new()).await {
        Ok(_) => Ok(Some(gross)),
        // Settled earlier today by a run that stopped before the lines: the entry stands.
        Err(EngineError::Rejected(LedgerError::IdConflict { .. })) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
