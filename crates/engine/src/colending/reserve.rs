//! Room that queued co-lent originations hold in their funders' quotas.
//!
//! A co-lent origination chooses its funders in its engine's turn, on each funder's usage:
//! its principal control account as committed plus what queued originations reserved on
//! it (submitted to the writer, not yet committed), both kept in the engine's memory
//! (`Engine::watched_usage`). The turn ends as soon as the loan's submission is queued, so
//! concurrent originations share group commits. The writer releases a committed
//! submission's reservation in the same step that publishes its balances, so every
//! origination is counted exactly once, and two cannot both fit in one quota's room; one
//! that does not commit releases its own.
//!
//! Each funder's day document (what it disbursed that day) is chained: an origination
//! writes over the version the last queued one will write, so queued originations do not
//! conflict with each other. When a queued one fails, its chain is dropped: the ones queued
//! behind it fail as stale (the writer checks every version) and choose again.

use crate::{Command, Engine, EngineError, Outcome};
use ledger::AccountId;
use money::BusinessDate;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use store::DomainWrite;
use tokio::sync::{oneshot, OwnedMutexGuard};
use uuid::Uuid;

type Reply = oneshot::Receiver<crate::writer::EnvelopeResult>;

/// One engine's co-lent originations: whose turn it is to choose, and what is queued.
#[derive(Default)]
pub(crate) struct Originations {
    turn: Arc<tokio::sync::Mutex<()>>,
    queued: Mutex<Queued>,
}

#[derive(Default)]
struct Queued {
    /// The last day document queued or written for (funder, day).
    days: HashMap<(Uuid, i32), DayChain>,
    chains: u64,
}

struct DayChain {
    chain: u64,
    tip: DayTip,
    /// Queued writes that lead to the tip, the tip's own included.
    queued: u32,
}

/// A funder's day document as the next origination builds on it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DayTip {
    pub version: i64,
    pub disbursed_minor: i64,
}

/// What one chosen funder takes: its part of the principal and its day document after.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Part {
    pub partner_id: Uuid,
    /// The funder's principal control account, where the part is reserved.
    pub account: AccountId,
    pub day: BusinessDate,
    pub amount_minor: i64,
    pub tip: DayTip,
}

/// A part as reserved: the chain its day document joined.
struct Held {
    part: Part,
    chain: u64,
}

impl Originations {
    /// Waits for the turn to choose funders; only one origination of the engine chooses at
    /// a time.
    pub(crate) async fn turn(self: &Arc<Self>) -> Turn {
        Turn {
            guard: self.turn.clone().lock_owned().await,
            originations: self.clone(),
        }
    }

    /// The day document the last origination wrote or will write, if known.
    pub(crate) fn day_tip(&self, partner: Uuid, day: BusinessDate) -> Option<DayTip> {
        self.lock()
            .days
            .get(&(partner, day.to_epoch_days()))
            .map(|c| c.tip)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queued> {
        self.queued.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends the parts' chains; a submission that did not commit also releases its
    /// reservations (the writer released those of one that did).
    fn settle(&self, engine: &Engine, held: &[Held], committed: bool) {
        let mut q = self.lock();
        for h in held {
            if !committed {
                engine.release_on(h.part.account, h.part.amount_minor);
            }
            let key = (h.part.partner_id, h.part.day.to_epoch_days());
            let Some(c) = q.days.get_mut(&key).filter(|c| c.chain == h.chain) else {
                continue;
            };
            c.queued -= 1;
            // A failed write breaks the chain: storage holds what stands. Otherwise the tip
            // stays, as storage will hold it (only this process writes the store).
            if !committed {
                q.days.remove(&key);
            }
        }
    }
}

/// The turn to choose funders, held until the loan's submission is queued.
pub(crate) struct Turn {
    guard: OwnedMutexGuard<()>,
    originations: Arc<Originations>,
}

impl Turn {
    /// Reserves the chosen funders' parts; the turn goes on until the submission.
    pub(crate) fn reserve(self, engine: &Engine, parts: Vec<Part>) -> Reservation {
        let mut held = Vec::with_capacity(parts.len());
        {
            let mut q = self.originations.lock();
            for part in parts {
                engine.reserve_on(part.account, part.amount_minor);
                q.chains += 1;
                let fresh = q.chains;
                let day = part.day.to_epoch_days();
                if !q.days.contains_key(&(part.partner_id, day)) {
                    // Tips of days before are kept no longer than the next day's first.
                    q.days.retain(|(_, d), c| *d >= day || c.queued > 0);
                }
                let c = q.days.entry((part.partner_id, day)).or_insert(DayChain {
                    chain: fresh,
                    tip: part.tip,
                    queued: 0,
                });
                c.tip = part.tip;
                c.queued += 1;
                held.push(Held {
                    part,
                    chain: c.chain,
                });
            }
        }
        Reservation {
            turn: Some(self.guard),
            engine: engine.clone(),
            held,
            reply: None,
            settled: false,
        }
    }
}

/// Room held in the funders' quotas from the choice until the commit answers.
pub(crate) struct Reservation {
    turn: Option<OwnedMutexGuard<()>>,
    engine: Engine,
    held: Vec<Held>,
    reply: Option<Reply>,
    settled: bool,
}

impl Reservation {
    /// Submits the loan's commands and writes, ends the turn once they are queued and the
    /// reservation once they are answered.
    pub(crate) async fn submit(
        mut self,
        engine: &Engine,
        commands: Vec<Command>,
        domain: Vec<DomainWrite>,
        wait_for_room: bool,
    ) -> Result<Vec<Outcome>, EngineError> {
        let reserved = self
            .held
            .iter()
            .map(|h| (h.part.account, h.part.amount_minor))
            .collect();
        let sent = engine
            .send_reserved(commands, domain, wait_for_room, reserved)
            .await;
        self.turn = None;
        let reply = match sent {
            Ok(reply) => self.reply.insert(reply),
            Err(e) => {
                self.finish(false);
                return Err(e);
            }
        };
        let answer = reply.await.unwrap_or(Err(EngineError::WriterGone));
        self.reply = None;
        self.finish(answer.is_ok());
        answer
    }

    fn finish(&mut self, committed: bool) {
        self.settled = true;
        self.engine
            .originations()
            .settle(&self.engine, &self.held, committed);
    }
}

impl Drop for Reservation {
    /// A caller that stopped waiting leaves its submission queued: the room stays held
    /// until the writer answers.
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let (engine, held) = (self.engine.clone(), std::mem::take(&mut self.held));
        match (self.reply.take(), tokio::runtime::Handle::try_current()) {
            (Some(reply), Ok(runtime)) => {
                runtime.spawn(async move {
                    let committed = matches!(reply.await, Ok(Ok(_)));
                    engine.originations().settle(&engine, &held, committed);
                });
            }
            _ => engine.originations().settle(&engine, &held, false),
        }
    }
}

/// Submits a loan command's writes, through its reservation when it originates a co-lent
/// loan.
pub(crate) async fn submit(
    engine: &Engine,
    reservation: Option<Reservation>,
    commands: Vec<Command>,
    domain: Vec<DomainWrite>,
    wait_for_room: bool,
) -> Result<Vec<Outcome>, EngineError> {
    match reservation {
        Some(r) => r.submit(engine, commands, domain, wait_for_room).await,
        None if wait_for_room => engine.submit_waiting(commands, domain).await,
        None => engine.submit_with(commands, domain).await,
    }
}
