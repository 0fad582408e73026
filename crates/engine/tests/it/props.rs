//! Property: under random concurrent workloads (valid and invalid entries, holds posted,
//! voided or left pending, reversals, linked batches), every stored entry balances and every
//! account's cached sums equal the sums of its postings and pending holds — on both stores.

use engine::{Command, Engine, EngineConfig, Outcome};
use ledger::{AccountId, Constraint, EntryId, EntryRequest, HoldId, HoldRequest, Posting, Side};
use money::Currency;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use uuid::Uuid;

fn random_entry(rng: &mut impl Rng, accounts: &[AccountId]) -> EntryRequest {
    let n = rng.gen_range(2..=4);
    let mut postings = Vec::new();
    let mut debit_total = 0i64;
    for i in 0..n - 1 {
        let amount_minor = rng.gen_range(1..5_000);
        debit_total += amount_minor;
        postings.push(Posting {
            account_id: accounts[rng.gen_range(0..accounts.len())],
            direction: Side::Debit,
            amount_minor,
        });
        let _ = i;
    }
    postings.push(Posting {
        account_id: accounts[rng.gen_range(0..accounts.len())],
        direction: Side::Credit,
        amount_minor: debit_total,
    });
    if rng.gen_bool(0.1) {
        postings.last_mut().unwrap().amount_minor += 1; // unbalanced: must be refused
    }
    EntryRequest {
        id: EntryId(Uuid::new_v4()),
        currency: Currency::Cny,
        postings,
        memo: String::new(),
    }
}

async fn client(engine: Engine, accounts: Arc<Vec<AccountId>>, seed: u64, ops: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut posted: Vec<EntryId> = Vec::new();
    for _ in 0..ops {
        let roll = rng.gen_range(0..100);
        let cmds = if roll < 50 {
            vec![Command::Entry(random_entry(&mut rng, &accounts))]
        } else if roll < 65 {
            (0..rng.gen_range(2..5))
                .map(|_| Command::Entry(random_entry(&mut rng, &accounts)))
                .collect()
        } else if roll < 85 {
            let hold = HoldRequest {
                id: HoldId(Uuid::new_v4()),
                currency: Currency::Cny,
                debit_account_id: accounts[0],
                credit_account_id: accounts[rng.gen_range(1..accounts.len())],
                amount_minor: rng.gen_range(1..3_000),
                expires_at_ms: None,
                memo: String::new(),
            };
            let id = hold.id;
            if engine.submit_one(Command::Hold(hold)).await.is_err() {
                continue;
            }
            match rng.gen_range(0..3) {
                0 => vec![Command::VoidHold { hold_id: id }],
                1 => vec![Command::PostHold {
                    hold_id: id,
                    entry_id: EntryId(Uuid::new_v4()),
                    amount_minor: Some(1),
                    memo: String::new(),
                }],
                _ => continue,
            }
        } else if let Some(orig) = posted.pop() {
            vec![Command::Reverse {
                original: orig,
                reversal_id: EntryId(Uuid::new_v4()),
                memo: String::new(),
            }]
        } else {
            continue;
        };
        if let Ok(out) = engine.submit(cmds).await {
            for o in out {
                if let Outcome::Entry(e, false) = o {
                    posted.push(e.id);
                }
            }
        }
    }
}

async fn run_workload(seed: u64, clients: usize, ops: usize) {
    for ts in testkit::all_stores().await {
        let engine = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .unwrap();
        let mut accounts = Vec::new();
        for i in 0..6 {
            // Account 0 funds holds and may not go below zero.
            let constraint = (i == 0).then_some(Constraint::DebitsMustNotExceedCredits);
            let Outcome::Account(a) = engine
                .submit_one(Command::CreateAccount {
                    tenant: "t".into(),
                    owner: format!("o{i}"),
                    purpose: "p".into(),
                    currency: Currency::Cny,
                    normal_side: Side::Debit,
                    constraint,
                })
                .await
                .unwrap()
            else {
                unreachable!()
            };
            accounts.push(a.id);
        }
        let accounts = Arc::new(accounts);
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                tokio::spawn(client(
                    engine.clone(),
                    accounts.clone(),
                    seed.wrapping_add(c as u64),
                    ops,
                ))
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let report = engine::verify(&ts.store, |_| {}).await.unwrap();
        assert!(report.ok(), "{}: seed {seed}: {report:?}", ts.name);
        let head = engine.tree_head();
        assert_eq!(
            (head.tree_size, head.root_hash),
            (report.tree_size, report.root_hash),
            "{}: served head matches recomputed",
            ts.name
        );
        let funder = engine.account(accounts[0]).await.unwrap().unwrap();
        assert!(
            funder.balances.satisfies(funder.constraint),
            "{}: constraint held",
            ts.name
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
    #[test]
    fn random_concurrent_workloads_keep_the_ledger_exact(seed in any::<u64>(), clients in 2usize..12, ops in 10usize..60) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run_workload(seed, clients, ops));
    }
}
