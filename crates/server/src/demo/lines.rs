//! The demo's revolving credit: small merchants that sell on credit, and consumers' lines
//! that buy from them, get statements at close of business and pay by habit. Through the
//! engine's use cases (the ones the API calls), many at a time.

use super::people::{person_name, shop_name};
use super::DemoReport;
use engine::revolving::{self as rc, BorrowerKind, NewLine, NewMerchant, NewPurchase};
use engine::Engine;
use money::{BusinessDate, Currency, Decimal};
use rand::rngs::StdRng;
use rand::Rng;
use revolving::{LimitRules, Terms};
use uuid::Uuid;

const TENANT: &str = "default";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Habit {
    Full,
    Minimum,
    Misses,
}

struct DemoLine {
    id: Uuid,
    habit: Habit,
    due_day: u32,
    captured: Vec<(Uuid, i64)>,
}

enum Op {
    /// A purchase, as a one-step sale when `true`.
    Buy(NewPurchase, bool),
    Refund(Uuid, i64),
}

impl Op {
    /// The purchase bought and its amount, if it was one.
    async fn run(self, engine: &Engine) -> Result<Option<(Uuid, i64)>, rc::RevolvingError> {
        match self {
            Op::Buy(p, true) => {
                let (id, amount) = (p.id, p.amount_minor);
                rc::sale(engine, TENANT, p).await?;
                Ok(Some((id, amount)))
            }
            Op::Buy(p, false) => {
                let (id, amount) = (p.id, p.amount_minor);
                rc::authorize(engine, TENANT, p).await?;
                rc::capture(engine, TENANT, id, None).await?;
                Ok(Some((id, amount)))
            }
            Op::Refund(purchase, amount) => {
                rc::refund(engine, TENANT, purchase, Uuid::now_v7(), amount).await?;
                Ok(None)
            }
        }
    }
}

pub struct LineBook {
    merchants: Vec<Uuid>,
    lines: Vec<DemoLine>,
}

fn err(e: rc::RevolvingError) -> anyhow::Error {
    anyhow::anyhow!("revolving: {e}")
}

impl LineBook {
    pub async fn open(
        engine: &Engine,
        rng: &mut StdRng,
        merchants: u32,
        lines: u32,
    ) -> anyhow::Result<LineBook> {
        let mut book = LineBook {
            merchants: Vec::new(),
            lines: Vec::new(),
        };
        for i in 0..merchants.max(1) {
            let id = Uuid::now_v7();
            let m = NewMerchant {
                id,
                name: shop_name(rng, i),
                currency: Currency::Cny,
                discount_rate: Decimal::new(rng.gen_range(6..=10), 3),
                settlement_account: format!("bank:6222{i:08}"),
            };
            rc::create_merchant(engine, TENANT, m).await.map_err(err)?;
            book.merchants.push(id);
        }
        for i in 0..lines {
            let (borrower, id) = (Uuid::now_v7(), Uuid::now_v7());
            rc::create_borrower(
                engine,
                borrower,
                TENANT,
                BorrowerKind::Individual,
                person_name(rng),
            )
            .await
            .map_err(err)?;
            let mut terms = Terms::standard(Currency::Cny);
            terms.statement_day = [1, 5, 10, 15, 19][i as usize % 5];
            terms.due_day = terms.statement_day + 9;
            let line = NewLine {
                id,
                borrower_id: borrower,
                limit_minor: rng.gen_range(20..=200) * 100_000,
                terms,
                rules: LimitRules::default(),
            };
            rc::open_line(engine, TENANT, line).await.map_err(err)?;
            let habit = match rng.gen_range(0..10) {
                0..=5 => Habit::Full,
                6..=8 => Habit::Minimum,
                _ => Habit::Misses,
            };
            book.lines.push(DemoLine {
                id,
                habit,
                due_day: terms_due_day(i),
                captured: Vec::new(),
            });
        }
        Ok(book)
    }

    pub fn count(&self) -> usize {
        self.lines.len()
    }

    /// A day's purchases (half one-step sales, half authorized then captured) and a few
    /// refunds: drawn in order, then made all at once, as shoppers would.
    pub async fn trade(
        &mut self,
        engine: &Engine,
        rng: &mut StdRng,
        report: &mut DemoReport,
    ) -> anyhow::Result<()> {
        let mut ops = Vec::new();
        for (i, l) in self.lines.iter_mut().enumerate() {
            if rng.gen_bool(0.2) {
                let p = NewPurchase {
                    id: Uuid::now_v7(),
                    line_id: l.id,
                    merchant_id: self.merchants[rng.gen_range(0..self.merchants.len())],
                    currency: Currency::Cny,
                    amount_minor: rng.gen_range(10..=800) * 100,
                };
                ops.push((i, Op::Buy(p, rng.gen_bool(0.5))));
            } else if !l.captured.is_empty() && rng.gen_bool(0.01) {
                let (pid, amount) = l.captured.swap_remove(rng.gen_range(0..l.captured.len()));
                ops.push((i, Op::Refund(pid, amount / 2)));
            }
        }
        let done = futures_util::future::join_all(
            ops.into_iter()
                .map(|(i, op)| async move { (i, op.run(engine).await) }),
        )
        .await;
        for (i, r) in done {
            match r {
                Ok(Some(bought)) => {
                    report.purchases += 1;
                    self.lines[i].captured.push(bought);
                }
                Ok(None) => {}
                Err(rc::RevolvingError::Declined { .. } | rc::RevolvingError::Conflict { .. }) => {
                    report.declined_purchases += 1
                }
                Err(e) => return Err(err(e)),
            }
        }
        Ok(())
    }

    /// On a statement's due date borrowers pay it in full, pay the minimum, or miss.
    pub async fn repay_due(
        &self,
        engine: &Engine,
        rng: &mut StdRng,
        today: BusinessDate,
        report: &mut DemoReport,
    ) -> anyhow::Result<()> {
        let due: Vec<(&DemoLine, bool)> = self
            .lines
            .iter()
            .filter(|l| l.due_day == today.day())
            .map(|l| (l, rng.gen_bool(0.6)))
            .collect();
        let paid = futures_util::future::join_all(due.into_iter().map(|(l, misses)| async move {
            let v = rc::line(engine, TENANT, l.id).await?;
            let Some(s) = v.doc.line.statements.last() else {
                return Ok(false);
            };
            if s.due_date != today {
                return Ok(false);
            }
            let amount = match l.habit {
                Habit::Full => s.total_minor - s.paid_minor,
                Habit::Minimum => s.min_payment_minor - s.paid_minor,
                Habit::Misses if misses => 0,
                Habit::Misses => s.min_payment_minor - s.paid_minor,
            };
            if amount <= 0 {
                return Ok(false);
            }
            rc::repay(engine, TENANT, l.id, Uuid::now_v7(), amount).await?;
            Ok::<_, rc::RevolvingError>(true)
        }))
        .await;
        for p in paid {
            report.line_repayments += u64::from(p.map_err(err)?);
        }
        Ok(())
    }
}

fn terms_due_day(i: u32) -> u32 {
    [1, 5, 10, 15, 19][i as usize % 5] + 9
}
