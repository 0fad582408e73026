//! Close of business shared with worker processes (PostgreSQL only).
//!
//! Most of a close-of-business day is reading and decoding every open loan to find the few
//! that do more than accrue. That part can run anywhere: a worker claims a partition from
//! the database's queue (`FOR UPDATE SKIP LOCKED`), reads its loans, adds the quiet ones'
//! accrual to the partition's sums and lists the others, and stores that as the partition's
//! plan. Writing stays with the one process that owns the ledger (the hash chain and every
//! account's sums live in its memory): it reads the listed loans again, advances them, and
//! commits them with the sums and the partition's mark.
//!
//! A worker writes nothing but its plan, and only under the lock of its claim, so a worker
//! that dies or stalls (its session is ended after a minute idle in the claim) loses
//! nothing: the partition is open again for the next claimant.

use super::loans::{add_accrual, quiet_day_accrual, AccrualSums};
use crate::loans::LoanView;
use money::{BusinessDate, Currency};
use store::Store;
use uuid::Uuid;

const PLAN_VERSION: u8 = 1;

/// What a worker found in one partition-day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerPlan {
    /// Open loans read.
    pub loans_read: u64,
    /// Loans whose day only accrues: counted in `sums`, not to be written.
    pub quiet: u64,
    pub sums: AccrualSums,
    /// Loans to advance and write, in id order.
    pub write: Vec<Uuid>,
}

impl WorkerPlan {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.write.len() * 16);
        out.push(PLAN_VERSION);
        out.extend(self.loans_read.to_be_bytes());
        out.extend(self.quiet.to_be_bytes());
        out.extend((self.sums.len() as u32).to_be_bytes());
        for ((tenant, currency), amount_minor) in &self.sums {
            out.extend((tenant.len() as u32).to_be_bytes());
            out.extend(tenant.as_bytes());
            out.extend(currency.code().as_bytes());
            out.extend(amount_minor.to_be_bytes());
        }
        out.extend((self.write.len() as u32).to_be_bytes());
        for id in &self.write {
            out.extend(id.as_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> anyhow::Result<WorkerPlan> {
        let mut r = Reader(bytes);
        anyhow::ensure!(r.take(1)? == [PLAN_VERSION], "unknown plan version");
        let loans_read = r.u64()?;
        let quiet = r.u64()?;
        let mut sums = AccrualSums::new();
        for _ in 0..r.u32()? {
            let len = r.u32()? as usize;
            let tenant = String::from_utf8(r.take(len)?.to_vec())?;
            let code = std::str::from_utf8(r.take(3)?)?;
            let currency: Currency = code
                .parse()
                .map_err(|_| anyhow::anyhow!("unknown currency {code}"))?;
            sums.push(((tenant, currency), r.i64()?));
        }
        let n = r.u32()? as usize;
        let mut write = Vec::with_capacity(n.min(bytes.len() / 16));
        for _ in 0..n {
            write.push(Uuid::from_slice(r.take(16)?)?);
        }
        anyhow::ensure!(r.0.is_empty(), "trailing bytes after a plan");
        Ok(WorkerPlan {
            loans_read,
            quiet,
            sums,
            write,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        anyhow::ensure!(self.0.len() >= n, "plan is truncated");
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> anyhow::Result<u32> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into()?))
    }

    fn u64(&mut self) -> anyhow::Result<u64> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into()?))
    }

    fn i64(&mut self) -> anyhow::Result<i64> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into()?))
    }
}

/// One partition planned by a worker.
#[derive(Clone, Copy, Debug)]
pub struct WorkerReport {
    pub day: BusinessDate,
    pub partition: i32,
    pub loans_read: u64,
    pub quiet: u64,
    pub to_write: u64,
}

/// Claims one open partition, plans it and stores the plan; `None` when no partition is
/// open (none published, or all claimed).
pub async fn work_once(store: &Store, chunk_loans: u32) -> anyhow::Result<Option<WorkerReport>> {
    let queue = store
        .cob_queue()
        .ok_or_else(|| anyhow::anyhow!("close-of-business workers need a PostgreSQL store"))?;
    let Some(mut claim) = queue.claim().await? else {
        return Ok(None);
    };
    let next = BusinessDate::from_epoch_days(claim.day)
        .ok_or_else(|| anyhow::anyhow!("a published day is out of range: {}", claim.day))?;
    let mut plan = WorkerPlan::default();
    let mut after = None;
    loop {
        let rows = claim.loans(after, chunk_loans).await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = Some(last.id);
        let found = tokio::task::spawn_blocking(move || classify(rows, next))
            .await
            .map_err(|e| anyhow::anyhow!("join close-of-business worker: {e}"))??;
        plan.loans_read += found.loans_read;
        plan.quiet += found.quiet;
        for ((tenant, currency), amount_minor) in found.sums {
            add_accrual(&mut plan.sums, &tenant, currency, amount_minor);
        }
        plan.write.extend(found.write);
    }
    let report = WorkerReport {
        day: next,
        partition: claim.partition,
        loans_read: plan.loans_read,
        quiet: plan.quiet,
        to_write: plan.write.len() as u64,
    };
    claim.finish(&plan.encode()).await?;
    Ok(Some(report))
}

/// A chunk of a partition: quiet loans summed, the others listed.
fn classify(rows: Vec<store::LoanRow>, next: BusinessDate) -> anyhow::Result<WorkerPlan> {
    let mut plan = WorkerPlan::default();
    for row in rows {
        let view = LoanView::decode(row)?;
        plan.loans_read += 1;
        match quiet_day_accrual(&view, next) {
            Some(accrued_minor) => {
                let currency = view.currency();
                add_accrual(&mut plan.sums, &view.row.tenant, currency, accrued_minor);
                plan.quiet += 1;
            }
            None => plan.write.push(view.row.id),
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_survives_encoding_and_refuses_damage() {
        let plan = WorkerPlan {
            loans_read: 7,
            quiet: 5,
            sums: vec![
                (("t1".into(), Currency::Cny), 1_234),
                (("租户".into(), Currency::Usd), i64::MAX),
            ],
            write: vec![Uuid::from_u128(1), Uuid::from_u128(u128::MAX)],
        };
        let bytes = plan.encode();
        assert_eq!(WorkerPlan::decode(&bytes).unwrap(), plan);
        assert!(WorkerPlan::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(WorkerPlan::decode(&longer).is_err());
        let mut other_version = bytes;
        other_version[0] = 9;
        assert!(WorkerPlan::decode(&other_version).is_err());
    }
}
