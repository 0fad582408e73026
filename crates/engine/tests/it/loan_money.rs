//! Money on a term loan beyond the schedule, on SQLite and PostgreSQL: an Idempotency-Key
//! names one request only, a view `as_of` a date is that date's state, and the overpayment
//! credit is used at billing (by close of business), counted in a payoff and refunded.

use engine::cob::CobConfig;
use engine::loans::{self, Action, Application, LoanUseError};
use engine::simulation;
use engine::{Engine, EngineConfig};
use lending::loan::{Loan, LoanConfig, LoanError, LoanStatus};
use lending::LoanProduct;
use money::{BusinessDate, Currency, Money};
use uuid::Uuid;

async fn engines() -> Vec<(testkit::TestStore, Engine)> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let e = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .expect("start engine");
        loans::init_business_date(&e, d("2026-01-15"))
            .await
            .unwrap();
        out.push((ts, e));
    }
    out
}

fn d(s: &str) -> BusinessDate {
    s.parse().unwrap()
}

fn cny(minor: i64) -> Money {
    Money::from_minor(minor, Currency::Cny)
}

fn config(amount_minor: i64) -> LoanConfig {
    LoanConfig::from_product(&LoanProduct::example_cny(), cny(amount_minor), 6, 90).unwrap()
}

/// An approved and disbursed loan of 10,000.00 over 6 months, first due 2026-02-15.
async fn active_loan(e: &Engine) -> Uuid {
    let id = Uuid::now_v7();
    loans::apply_for_loan(
        e,
        Application {
            id,
            tenant: "t1".into(),
            borrower: "alice".into(),
            product_id: Uuid::nil(),
            product_version: 1,
            config: config(1_000_000),
            decision_id: None,
        },
    )
    .await
    .unwrap();
    loans::decide(e, id, true).await.unwrap();
    let today = loans::business_date(e).await.unwrap().unwrap();
    loans::execute(
        e,
        id,
        Action::Disburse { payee: None },
        today,
        Uuid::now_v7(),
    )
    .await
    .unwrap();
    id
}

async fn today(e: &Engine) -> BusinessDate {
    loans::business_date(e).await.unwrap().unwrap()
}

async fn cob(e: &Engine, days: u32) {
    for _ in 0..days {
        engine::cob::close_business_day(e, CobConfig::default(), &|_| {})
            .await
            .unwrap();
    }
}

async fn run(e: &Engine, id: Uuid, action: Action, key: Uuid) -> Result<Loan, LoanUseError> {
    let date = today(e).await;
    loans::execute(e, id, action, date, key)
        .await
        .map(|(v, _)| v.loan)
}

fn repay(minor: i64) -> Action {
    Action::Repay { amount: cny(minor) }
}

#[tokio::test]
async fn an_idempotency_key_names_one_request() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let id = active_loan(&e).await;
        let key = Uuid::now_v7();
        let first = run(&e, id, repay(100_000), key).await.unwrap();
        let size = e.tree_head().tree_size;
        // 7.77 under the key of the 1,000.00 repayment: refused, not answered with it.
        for other in [
            repay(777),
            repay(100_001),
            Action::PrepayPartial {
                amount: cny(100_000),
            },
            Action::Refund {
                amount: cny(100_000),
            },
            Action::Repay {
                amount: Money::from_minor(100_000, Currency::Usd),
            },
            Action::Disburse { payee: None },
        ] {
            let err = run(&e, id, other.clone(), key).await.unwrap_err();
            assert!(
                matches!(err, LoanUseError::KeyReused(_)),
                "{name} {other:?}: {err}"
            );
        }
        let (again, replayed) = loans::execute(&e, id, repay(100_000), today(&e).await, key)
            .await
            .unwrap();
        assert!(replayed, "{name}");
        assert_eq!(again.loan, first, "{name}");
        assert_eq!(e.tree_head().tree_size, size, "{name}");

        // A reversal's key names that reversal: another repayment under it is refused.
        let second = run(&e, id, repay(500), Uuid::now_v7()).await;
        assert!(second.is_ok(), "{name}");
        let seqs: Vec<i32> = e
            .store()
            .loan_events(id)
            .await
            .unwrap()
            .iter()
            .filter(|ev| ev.kind == "repay")
            .map(|ev| ev.seq)
            .collect();
        let rkey = Uuid::now_v7();
        loans::reverse_repayment(&e, id, seqs[1], rkey)
            .await
            .unwrap();
        let (_, replayed) = loans::reverse_repayment(&e, id, seqs[1], rkey)
            .await
            .unwrap();
        assert!(replayed, "{name}");
        let err = loans::reverse_repayment(&e, id, seqs[0], rkey)
            .await
            .unwrap_err();
        assert!(matches!(err, LoanUseError::KeyReused(_)), "{name}: {err}");
        let err = loans::reverse_repayment(&e, id, seqs[0], key)
            .await
            .unwrap_err();
        assert!(matches!(err, LoanUseError::KeyReused(_)), "{name}: {err}");
        simulation::check_loan(&e, id).await.unwrap();
    }
}

/// The state after each day's commands, read on that day, equals the view `as_of` that day
/// read later: every field, the overpayment credit included.
#[tokio::test]
async fn a_view_as_of_a_date_is_that_dates_state() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let id = active_loan(&e).await;
        let mut seen = Vec::new();
        for day in 0..40u32 {
            let paid_minor = match day {
                1 => 1_000,
                20 => 2_500,
                33 => 90_000,
                _ => 0,
            };
            if paid_minor > 0 {
                run(&e, id, repay(paid_minor), Uuid::now_v7())
                    .await
                    .unwrap();
            }
            seen.push(loans::load(&e, id).await.unwrap().loan);
            cob(&e, 1).await;
        }
        assert_eq!(seen[0].overpayment_credit_minor, 0);
        assert_eq!(seen[1].overpayment_credit_minor, 1_000, "{name}");
        for then in &seen {
            let view = loans::state_as_of(&e, id, then.business_date)
                .await
                .unwrap();
            assert_eq!(&view.loan, then, "{name} as of {}", then.business_date);
        }
    }
}

/// 50.00 paid before the first bill pays part of it at close of business; the rest paid on
/// the due date leaves the loan current. A payoff counts the credit, and what is left after
/// payoff is refunded, never more.
#[tokio::test]
async fn the_credit_is_used_at_billing_counted_in_payoff_and_refunded() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let id = active_loan(&e).await;
        let fresh = loans::load(&e, id).await.unwrap().loan;
        let first_total = fresh.installments[0].scheduled.total_minor;
        run(&e, id, repay(5_000), Uuid::now_v7()).await.unwrap();
        cob(&e, 31).await;
        assert_eq!(today(&e).await, d("2026-02-15"));
        let billed = loans::load(&e, id).await.unwrap().loan;
        assert_eq!(billed.overpayment_credit_minor, 0, "{name}");
        assert_eq!(
            billed.installments[0].outstanding_total(),
            first_total - 5_000,
            "{name}"
        );
        simulation::check_loan(&e, id).await.unwrap();
        run(&e, id, repay(first_total - 5_000), Uuid::now_v7())
            .await
            .unwrap();
        cob(&e, 5).await;
        let current = loans::load(&e, id).await.unwrap().loan;
        assert_eq!((current.dpd, current.installments[0].penalty_minor), (0, 0));

        // Payoff with 12.34 too much: the quote is met, the excess is a credit.
        run(&e, id, repay(3_000), Uuid::now_v7()).await.unwrap();
        let loan = loans::load(&e, id).await.unwrap().loan;
        let quote = lending::loan::payoff_minor(&loan).unwrap();
        let mut stepped = loan.clone();
        stepped.overpayment_credit_minor = 0;
        assert_eq!(
            quote,
            lending::loan::payoff_minor(&stepped).unwrap() - 3_000,
            "{name}"
        );
        let paid = run(
            &e,
            id,
            Action::PrepayFull {
                amount: cny(quote + 1_234),
            },
            Uuid::now_v7(),
        )
        .await
        .unwrap();
        assert_eq!(
            (paid.status, paid.overpayment_credit_minor),
            (LoanStatus::PaidOff, 1_234)
        );
        let err = run(
            &e,
            id,
            Action::Refund { amount: cny(1_235) },
            Uuid::now_v7(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                LoanUseError::Loan(LoanError::RefundAboveCredit {
                    credit_minor: 1_234
                })
            ),
            "{name}: {err}"
        );
        cob(&e, 2).await;
        let key = Uuid::now_v7();
        let refunded = run(&e, id, Action::Refund { amount: cny(1_234) }, key)
            .await
            .unwrap();
        assert_eq!(refunded.overpayment_credit_minor, 0, "{name}");
        let (_, replayed) = loans::execute(
            &e,
            id,
            Action::Refund { amount: cny(1_234) },
            today(&e).await,
            key,
        )
        .await
        .unwrap();
        assert!(replayed, "{name}");
        simulation::check_loan(&e, id).await.unwrap();
        simulation::check_ledger_balances(&e).await.unwrap();
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
    }
}
