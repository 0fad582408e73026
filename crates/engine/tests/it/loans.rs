//! Term-loan servicing on SQLite and PostgreSQL: postings and loan state commit together,
//! replays agree with stored state, close of business resumes after an interruption.

use engine::cob::{self, CobConfig};
use engine::loans::{self, Action, Application, LoanUseError};
use engine::simulation::{self, SimConfig};
use engine::{Engine, EngineConfig};
use lending::loan::{LoanConfig, LoanStatus};
use lending::LoanProduct;
use money::{BusinessDate, Currency, Money};
use uuid::Uuid;

async fn engines() -> Vec<(testkit::TestStore, Engine)> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let e = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .expect("start engine");
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

fn config(amount_minor: i64, term: u32) -> LoanConfig {
    LoanConfig::from_product(&LoanProduct::example_cny(), cny(amount_minor), term, 90).unwrap()
}

async fn new_loan(e: &Engine, id: Uuid, amount_minor: i64) {
    loans::apply_for_loan(
        e,
        Application {
            id,
            tenant: "t1".into(),
            borrower: "alice".into(),
            product_id: Uuid::nil(),
            product_version: 1,
            config: config(amount_minor, 6),
            decision_id: None,
        },
    )
    .await
    .unwrap();
}

async fn cob(e: &Engine, days: u32) {
    for _ in 0..days {
        cob::close_business_day(e, CobConfig::default(), &|_| {})
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_loan_lives_its_life_with_books_and_state_in_step() {
    for (ts, e) in engines().await {
        let name = ts.name;
        loans::init_business_date(&e, d("2026-01-15"))
            .await
            .unwrap();
        let id = Uuid::now_v7();
        new_loan(&e, id, 1_000_000).await;
        let today = d("2026-01-15");
        // Not approved yet: no money moves.
        let err = loans::execute(
            &e,
            id,
            Action::Disburse { payee: None },
            today,
            Uuid::now_v7(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, LoanUseError::Stage { .. }), "{name}: {err}");
        loans::decide(&e, id, true).await.unwrap();
        let key = Uuid::now_v7();
        let (view, replayed) = loans::execute(&e, id, Action::Disburse { payee: None }, today, key)
            .await
            .unwrap();
        assert!(!replayed);
        assert_eq!(view.loan.status, LoanStatus::Active);
        // The same key again is a replay; a new key is a second disbursement, refused.
        let (_, replayed) = loans::execute(&e, id, Action::Disburse { payee: None }, today, key)
            .await
            .unwrap();
        assert!(replayed, "{name}");
        let err = loans::execute(
            &e,
            id,
            Action::Disburse { payee: None },
            today,
            Uuid::now_v7(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, LoanUseError::Stage { .. }), "{name}: {err}");
        simulation::check_loan(&e, id).await.unwrap();

        cob(&e, 40).await;
        let today = loans::business_date(&e).await.unwrap().unwrap();
        assert_eq!(today, d("2026-02-24"));
        let view = loans::load(&e, id).await.unwrap();
        assert!(view.loan.dpd > 0, "{name}: first installment is overdue");
        simulation::check_loan(&e, id).await.unwrap();

        // A repayment dated other than the open day changes nothing.
        let err = loans::execute(
            &e,
            id,
            Action::Repay {
                amount: cny(50_000),
            },
            d("2026-02-23"),
            Uuid::now_v7(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, LoanUseError::NotOpenDay { .. }),
            "{name}: {err}"
        );
        let (paid, _) = loans::execute(
            &e,
            id,
            Action::Repay {
                amount: cny(300_000),
            },
            today,
            Uuid::now_v7(),
        )
        .await
        .unwrap();
        assert_eq!(paid.loan.dpd, 0, "{name}: arrears cleared");
        simulation::check_loan(&e, id).await.unwrap();
        cob(&e, 3).await;

        // Reversing the repayment recomputes penalty and DPD as if it never came.
        let seq = e.store().loan_events(id).await.unwrap().last().unwrap().seq;
        let (reversed, _) = loans::reverse_repayment(&e, id, seq, Uuid::now_v7())
            .await
            .unwrap();
        assert!(
            reversed.loan.dpd >= 12,
            "{name}: overdue again, dpd {}",
            reversed.loan.dpd
        );
        simulation::check_loan(&e, id).await.unwrap();
        let err = loans::reverse_repayment(&e, id, seq, Uuid::now_v7())
            .await
            .unwrap_err();
        assert!(matches!(err, LoanUseError::Refused(_)), "{name}: {err}");

        // The state on a past date is rebuilt from the events.
        let past = loans::state_as_of(&e, id, d("2026-01-20")).await.unwrap();
        assert_eq!(past.loan.business_date, d("2026-01-20"));
        assert_eq!(past.loan.dpd, 0);

        // Paying off with too much leaves a refundable credit; a closed loan takes no more.
        let payoff = lending::loan::payoff_minor(&loans::load(&e, id).await.unwrap().loan).unwrap();
        let today = loans::business_date(&e).await.unwrap().unwrap();
        let (closed, _) = loans::execute(
            &e,
            id,
            Action::PrepayFull {
                amount: cny(payoff + 1_234),
            },
            today,
            Uuid::now_v7(),
        )
        .await
        .unwrap();
        assert_eq!(closed.loan.status, LoanStatus::PaidOff, "{name}");
        let err = loans::execute(
            &e,
            id,
            Action::Repay { amount: cny(1_234) },
            today,
            Uuid::now_v7(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, LoanUseError::Stage { .. }), "{name}: {err}");
        let credit = e
            .account(loans::account_id(
                id,
                "t1",
                Currency::Cny,
                lending::loan::AccountPurpose::Overpayment,
            ))
            .await
            .unwrap()
            .expect("overpayment account");
        assert_eq!(
            credit.balances.credits_posted_minor - credit.balances.debits_posted_minor,
            1_234
        );
        simulation::check_loan(&e, id).await.unwrap();
        simulation::check_ledger_balances(&e).await.unwrap();
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
    }
}

#[tokio::test]
async fn close_of_business_resumes_after_an_interruption_with_the_same_result() {
    let mut results = Vec::new();
    for interrupted in [false, true] {
        for (ts, e) in engines().await {
            loans::init_business_date(&e, d("2026-03-01"))
                .await
                .unwrap();
            for i in 0..120u128 {
                let id = Uuid::from_u128(i * 7_919 + 1);
                new_loan(&e, id, 100_000 + i as i64 * 1_000).await;
                loans::decide(&e, id, true).await.unwrap();
                loans::execute(
                    &e,
                    id,
                    Action::Disburse { payee: None },
                    d("2026-03-01"),
                    Uuid::from_u128((i + 1) << 64),
                )
                .await
                .unwrap();
            }
            for _ in 0..35 {
                if interrupted {
                    let partial = CobConfig {
                        partitions_max: Some(5),
                        ..CobConfig::default()
                    };
                    let (still, r) = cob::close_business_day(&e, partial, &|_| {}).await.unwrap();
                    assert_eq!(
                        still,
                        loans::business_date(&e).await.unwrap().unwrap(),
                        "the day stays open"
                    );
                    assert_eq!(r.partitions_done, 5);
                    // Closed partitions booked their quiet loans' day from the loans as
                    // they were, so no loan may change until the day is finished.
                    let refused = loans::execute(
                        &e,
                        Uuid::from_u128(1),
                        Action::Repay { amount: cny(100) },
                        still,
                        Uuid::from_u128(99),
                    )
                    .await;
                    assert!(
                        matches!(refused, Err(LoanUseError::DayClosing)),
                        "{}: {refused:?}",
                        ts.name
                    );
                    // Restart the engine as a crash would, then finish.
                    drop(e.clone());
                }
                cob::close_business_day(&e, CobConfig::default(), &|_| {})
                    .await
                    .unwrap();
            }
            let mut snapshot = Vec::new();
            for i in 0..120u128 {
                let id = Uuid::from_u128(i * 7_919 + 1);
                let v = loans::load(&e, id).await.unwrap();
                simulation::check_loan(&e, id).await.unwrap();
                snapshot.push((v.row.day, v.row.state));
            }
            let report = engine::verify(e.store(), |_| {}).await.unwrap();
            assert!(report.ok());
            results.push((ts.name, interrupted, snapshot, report.entries_checked));
        }
    }
    let clean: Vec<_> = results.iter().filter(|r| !r.1).collect();
    for r in results.iter().filter(|r| r.1) {
        let c = clean.iter().find(|c| c.0 == r.0).unwrap();
        assert_eq!(
            c.2, r.2,
            "{}: interrupted COB ends in the same loan states",
            r.0
        );
        assert_eq!(c.3, r.3, "{}: and the same number of entries", r.0);
    }
}

/// Repayments race close of business over the same loans: each lands before the day closes
/// or waits for it and is then refused as dated on a closed day; every loan ends the day
/// once, with its books right.
#[tokio::test]
async fn close_of_business_and_concurrent_repayments_both_land() {
    for (ts, e) in engines().await {
        loans::init_business_date(&e, d("2026-03-01"))
            .await
            .unwrap();
        let ids: Vec<Uuid> = (0..400u128)
            .map(|i| Uuid::from_u128(i * 7_919 + 3))
            .collect();
        for (i, id) in ids.iter().enumerate() {
            new_loan(&e, *id, 100_000 + i as i64 * 1_000).await;
            loans::decide(&e, *id, true).await.unwrap();
            loans::execute(
                &e,
                *id,
                Action::Disburse { payee: None },
                d("2026-03-01"),
                Uuid::from_u128((i as u128 + 1) << 64),
            )
            .await
            .unwrap();
        }
        let repayments: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let (e, id) = (e.clone(), *id);
                tokio::spawn(async move {
                    let key = Uuid::from_u128((i as u128 + 1) << 72);
                    let repay = Action::Repay { amount: cny(1_000) };
                    loans::execute(&e, id, repay, d("2026-03-01"), key).await
                })
            })
            .collect();
        // Let some repayments start first, so that some land and some wait.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let closed = cob::close_business_day(&e, CobConfig::default(), &|_| {}).await;
        let (mut landed, mut refused) = (0, 0);
        for r in repayments {
            match r.await.unwrap() {
                Ok(_) => landed += 1,
                Err(LoanUseError::NotOpenDay { .. }) => refused += 1,
                Err(other) => panic!("{}: {other}", ts.name),
            }
        }
        assert_eq!(landed + refused, ids.len(), "{}", ts.name);
        let (opened, report) = closed.unwrap();
        assert_eq!(opened, d("2026-03-02"), "{}", ts.name);
        assert_eq!(report.loans_advanced, ids.len() as u64, "{}", ts.name);
        eprintln!(
            "{}: {landed} repayments landed, {} loans quiet",
            ts.name, report.loans_quiet
        );
        for id in &ids {
            let v = loans::load(&e, *id).await.unwrap();
            assert_eq!(v.loan.business_date, d("2026-03-02"), "{}", ts.name);
            simulation::check_loan(&e, *id).await.unwrap();
        }
        simulation::check_ledger_balances(&e).await.unwrap();
        assert!(engine::verify(e.store(), |_| {}).await.unwrap().ok());
    }
}

#[tokio::test]
async fn simulated_book_stays_balanced_and_replayable() {
    let loans_n = std::env::var("PUHUI_SIM_LOANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let days = std::env::var("PUHUI_SIM_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    for (ts, e) in engines().await {
        let cfg = SimConfig {
            seed: 20_260_101,
            loans: loans_n,
            days,
            loans_checked_per_day: 10,
            // Weekly: every write already asserts its own balance; the whole-ledger sums
            // are what a week of closes, repayments and reversals must still agree with.
            ledger_check_every_days: 7,
            origination_days: 0,
        };
        let report = simulation::run(&e, cfg, &|_| {}).await.unwrap();
        eprintln!("{}: {report:?}", ts.name);
        assert!(report.repayments > 0 && report.reversals > 0 && report.prepayments > 0);
        assert!(report.paid_off > 0 && report.written_off > 0, "{report:?}");
        let v = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(v.ok(), "{}: {v:?}", ts.name);
    }
}

/// Reversing the repayment that paid a loan off reopens it at the open business day, not at
/// its payoff date: close of business did not visit it while it was closed, so it must not
/// come back with a row behind the days since.
#[tokio::test]
async fn reversing_the_payoff_reopens_the_loan_at_the_open_day() {
    for (ts, e) in engines().await {
        loans::init_business_date(&e, d("2026-03-01"))
            .await
            .unwrap();
        let id = Uuid::from_u128(77);
        let application = Application {
            id,
            tenant: "t1".into(),
            borrower: "bob".into(),
            product_id: Uuid::nil(),
            product_version: 1,
            config: config(500_000, 1),
            decision_id: None,
        };
        loans::apply_for_loan(&e, application).await.unwrap();
        loans::decide(&e, id, true).await.unwrap();
        let key = |n: u128| Uuid::from_u128(n << 64);
        let disburse = Action::Disburse { payee: None };
        loans::execute(&e, id, disburse, d("2026-03-01"), key(1))
            .await
            .unwrap();
        cob(&e, 31).await;
        let due = loans::load(&e, id).await.unwrap().loan.installments[0]
            .scheduled
            .total_minor;
        let repay = Action::Repay { amount: cny(due) };
        let (paid, _) = loans::execute(&e, id, repay, d("2026-04-01"), key(2))
            .await
            .unwrap();
        assert_eq!(paid.loan.status, LoanStatus::PaidOff, "{}", ts.name);
        cob(&e, 10).await;
        let seq = loans::event_seq_for_key(&e, id, key(2)).await.unwrap();
        let (reopened, _) = loans::reverse_repayment(&e, id, seq, key(3)).await.unwrap();
        assert_eq!(reopened.loan.status, LoanStatus::Active, "{}", ts.name);
        assert_eq!(reopened.loan.business_date, d("2026-04-11"), "{}", ts.name);
        assert_eq!(reopened.loan.dpd, 10, "{}", ts.name);
        cob(&e, 5).await;
        simulation::check_loan(&e, id).await.unwrap();
        simulation::check_accrued_interest(&e, "t1", Currency::Cny, [id].into_iter())
            .await
            .unwrap();
        simulation::check_ledger_balances(&e).await.unwrap();
    }
}
