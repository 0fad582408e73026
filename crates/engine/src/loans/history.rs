//! Replay and reversal: a loan rebuilt from its events up to a business date, and a
//! repayment reversed by replaying without it.

use super::*;

/// Where a replayed posting came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Day(BusinessDate),
    Event(i32),
}

pub struct Replay {
    pub loan: Loan,
    pub journal: Vec<(Source, Vec<PostingIntent>)>,
}

/// Events that were reversed, by seq.
pub(super) fn reversed_seqs(events: &[LoanEvent]) -> Vec<i32> {
    events
        .iter()
        .filter(|e| e.kind == "reversal")
        .filter_map(|e| {
            e.body
                .get(16..20)
                .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")))
        })
        .collect()
}

/// Rebuilds a loan from its events, skipping reversed ones and `skip`, up to `until`.
pub fn replay(
    events: &[LoanEvent],
    until: BusinessDate,
    skip: Option<i32>,
) -> anyhow::Result<Replay> {
    let first = events
        .first()
        .filter(|e| e.kind == "signed")
        .ok_or_else(|| anyhow::anyhow!("a loan's first event is its signing"))?;
    let mut loan = decode_loan(&first.body)?;
    anyhow::ensure!(
        until >= loan.business_date,
        "{until} is before the loan was signed"
    );
    let currency = loan.config.principal.currency();
    let reversed = reversed_seqs(events);
    let mut journal = Vec::new();
    for e in &events[1..] {
        let day =
            BusinessDate::from_epoch_days(e.day).ok_or_else(|| anyhow::anyhow!("event day"))?;
        if day > until {
            break;
        }
        if e.kind == "reversal" || reversed.contains(&e.seq) || skip == Some(e.seq) {
            continue;
        }
        let (state, days) = advance_to(loan, day)?;
        journal.extend(days.into_iter().map(|(d, i)| (Source::Day(d), i)));
        let action = Action::decode(&e.kind, &e.body, currency)?;
        let (state, intents) = loan::apply(&state, &action.command(), day)?;
        journal.push((Source::Event(e.seq), intents));
        loan = state;
    }
    let (loan, days) = advance_to(loan, until)?;
    journal.extend(days.into_iter().map(|(d, i)| (Source::Day(d), i)));
    Ok(Replay { loan, journal })
}

/// Net debit-minus-credit per purpose of a journal.
pub fn net(
    journal: &[(Source, Vec<PostingIntent>)],
    skip: Option<Source>,
) -> BTreeMap<AccountPurpose, i64> {
    let mut out = BTreeMap::new();
    for (source, intents) in journal {
        if Some(*source) == skip {
            continue;
        }
        for i in intents {
            *out.entry(i.debit).or_insert(0) += i.amount_minor;
            *out.entry(i.credit).or_insert(0) -= i.amount_minor;
        }
    }
    out
}

/// The state of a loan at a past (or the current) business date, rebuilt from its events.
pub async fn state_as_of(
    engine: &Engine,
    id: Uuid,
    as_of: BusinessDate,
) -> Result<LoanView, LoanUseError> {
    Ok(replay_as_of(engine, id, as_of).await?.0)
}

/// The loan as it stood at the end of `as_of` ([`state_as_of`]) with the journal that led
/// there.
pub async fn replay_as_of(
    engine: &Engine,
    id: Uuid,
    as_of: BusinessDate,
) -> Result<(LoanView, Vec<(Source, Vec<PostingIntent>)>), LoanUseError> {
    let view = load(engine, id).await?;
    if as_of > view.loan.business_date.max(open_day(engine).await?) {
        return Err(LoanUseError::Refused(format!(
            "{as_of} is after the open business day"
        )));
    }
    let events = engine.store().loan_events(id).await?;
    let signed_day = events.first().map_or(view.row.day, |e| e.day);
    if as_of.to_epoch_days() < signed_day {
        return Err(LoanUseError::Refused(format!(
            "{as_of} is before the loan was signed"
        )));
    }
    let replayed = replay(&events, as_of, None)?;
    let mut row = view.row;
    // The row's stage is today's; a loan not yet disbursed then was at least approved.
    if replayed.loan.status == LoanStatus::Signed
        && !matches!(row.stage.as_str(), "applied" | "approved" | "declined")
    {
        row.stage = "approved".into();
    }
    let journal = replayed.journal;
    Ok((
        LoanView {
            row,
            loan: replayed.loan,
        },
        journal,
    ))
}

pub(super) fn reversal_body(key: Uuid, seq: i32) -> Vec<u8> {
    let mut body = key.as_bytes().to_vec();
    body.extend(seq.to_le_bytes());
    body
}

/// Reverses repayment `seq`: its entry is reversed and everything after it is recomputed
/// as if it had never been paid (allocation, penalty, late fees, DPD); the difference is
/// posted as one adjustment entry.
pub async fn reverse_repayment(
    engine: &Engine,
    id: Uuid,
    seq: i32,
    key: Uuid,
) -> Result<(LoanView, bool), LoanUseError> {
    let _day = enter_loan_day(engine).await?;
    for _ in 0..STALE_RETRIES_MAX {
        let view = load(engine, id).await?;
        let events = engine.store().loan_events(id).await?;
        if let Some(e) = events.iter().find(|e| event_key(e) == Some(key)) {
            if e.kind != "reversal" || e.body != reversal_body(key, seq) {
                return Err(key_reused(key, e));
            }
            return Ok((view, true));
        }
        let target = events
            .iter()
            .find(|e| e.seq == seq && e.kind == "repay")
            .ok_or_else(|| LoanUseError::Refused(format!("no repayment {seq} on this loan")))?;
        if reversed_seqs(&events).contains(&target.seq) {
            return Err(LoanUseError::Refused(format!(
                "repayment {seq} is already reversed"
            )));
        }
        // A paid-off loan's row stops at its payoff; reopened by the reversal, it must come
        // back at the open day, since close of business did not visit it on the days between
        // (an open loan's row may only lag over quiet days).
        let today = open_day(engine).await?.max(view.loan.business_date);
        let old = replay(&events, today, None)?;
        let (current, _) = advance_to(view.loan.clone(), today)?;
        assert_eq!(old.loan, current, "stored loan state equals its replay");
        // Later events may need the reversed money: a refund of the credit it made.
        let new = replay(&events, today, Some(seq)).map_err(|e| {
            LoanUseError::Refused(format!(
                "repayment {seq} cannot be reversed: later events need it ({e:#})"
            ))
        })?;
        let old_net = net(&old.journal, Some(Source::Event(seq)));
        let new_net = net(&new.journal, None);
        let currency = view.currency();
        let account = |p| account_id(id, &view.row.tenant, currency, p);
        let mut postings = Vec::new();
        let purposes: std::collections::BTreeSet<_> =
            old_net.keys().chain(new_net.keys()).copied().collect();
        for p in purposes {
            let delta =
                new_net.get(&p).copied().unwrap_or(0) - old_net.get(&p).copied().unwrap_or(0);
            if delta != 0 {
                postings.push(Posting {
                    account_id: account(p),
                    direction: if delta > 0 { Side::Debit } else { Side::Credit },
                    amount_minor: delta.abs(),
                });
            }
        }
        let next_seq = events.last().map_or(0, |e| e.seq) + 1;
        let mut commands = vec![Command::Reverse {
            original: event_entry_id(id, seq),
            reversal_id: EntryId(Uuid::new_v5(&id, format!("reversal:{seq}").as_bytes())),
            memo: format!("loan {id} repayment {seq} reversed"),
        }];
        if !postings.is_empty() {
            commands.push(Command::Entry(EntryRequest {
                id: event_entry_id(id, next_seq),
                currency,
                postings,
                memo: format!("loan {id} recomputed after reversing repayment {seq}"),
            }));
        }
        let new_row = next_row(&view.row, &new.loan);
        let body = reversal_body(key, seq);
        let mut domain = vec![
            DomainWrite::Loan {
                row: new_row.clone(),
                expected_version: Some(view.row.version),
            },
            DomainWrite::LoanEvent(LoanEvent {
                loan_id: id,
                seq: next_seq,
                day: today.to_epoch_days(),
                kind: "reversal".into(),
                body,
            }),
        ];
        // Co-lending hook: the positions are refolded without the reversed repayment.
        let reserved = crate::colending::loan_hook::attach(
            engine,
            &view.row,
            &new.loan,
            &events,
            today,
            &mut commands,
            &mut domain,
        )
        .await?;
        match reserve::submit(engine, reserved, commands, domain, false).await {
            Ok(_) => {
                return Ok((
                    LoanView {
                        row: new_row,
                        loan: new.loan,
                    },
                    false,
                ))
            }
            Err(EngineError::StaleLoan { .. } | EngineError::StaleDoc { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(EngineError::StaleLoan { id }.into())
}
