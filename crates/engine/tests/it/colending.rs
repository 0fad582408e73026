//! Co-lent term loans on SQLite and PostgreSQL: funders chosen at disbursement, every
//! repayment, prepayment and reversal split per funder in the loan's own submission, the
//! control accounts equal to the positions, and `ledger verify` agreeing.

use engine::cob::{self, CobConfig};
use engine::colending::{
    self as cl, books, ApprovalDoc, ChargeRuleDoc, ColendingError, EligibilityDoc, Kind,
    PartnerSpec, PlanSpec, PositionsDoc, ShareDoc,
};
use engine::loans::{self, Action, Application, LoanUseError};
use engine::{simulation, Engine, EngineConfig};
use lending::loan::{LoanConfig, LoanStatus};
use lending::product::Component;
use lending::LoanProduct;
use money::{BusinessDate, Currency, Decimal, Money};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use uuid::Uuid;

const TENANT: &str = "t1";
const SEED: u64 = 0x5eed_c01e;

pub(crate) async fn engines() -> Vec<(testkit::TestStore, Engine)> {
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

pub(crate) fn bank(name: &str, yield_annual: Option<&str>, quota_minor: i64) -> PartnerSpec {
    PartnerSpec {
        name: name.into(),
        kind: Kind::Bank,
        currency: Currency::Cny,
        yield_annual: yield_annual.map(|y| y.parse().unwrap()),
        quota_minor,
        daily_quota_minor: quota_minor,
        eligibility: EligibilityDoc::default(),
        approval: ApprovalDoc::Auto,
    }
}

/// Three shares in steps of 0.0001, the platform's at least 0.3, summing to exactly 1.
fn random_shares(rng: &mut StdRng) -> [Decimal; 3] {
    let platform = rng.gen_range(3_000..=6_000i64);
    let a = rng.gen_range(1..10_000 - platform);
    let b = 10_000 - platform - a;
    [platform, a, b].map(|x| Decimal::new(x, 4))
}

pub(crate) async fn apply_and_disburse(
    e: &Engine,
    id: Uuid,
    product_id: Uuid,
    amount_minor: i64,
    term: u32,
    today: BusinessDate,
) -> Result<loans::LoanView, LoanUseError> {
    let config =
        LoanConfig::from_product(&LoanProduct::example_cny(), cny(amount_minor), term, 90).unwrap();
    loans::apply_for_loan(e, application(id, product_id, config)).await?;
    loans::decide(e, id, true).await?;
    loans::execute(
        e,
        id,
        Action::Disburse { payee: None },
        today,
        Uuid::now_v7(),
    )
    .await
    .map(|(v, _)| v)
}

/// Borrower `b`'s application in the tests' tenant, for `product_id` version 1.
pub(crate) fn application(id: Uuid, product_id: Uuid, config: LoanConfig) -> Application {
    Application {
        id,
        tenant: TENANT.into(),
        borrower: "b".into(),
        product_id,
        product_version: 1,
        config,
        decision_id: None,
    }
}

/// An independent largest-remainder split: floors, then one unit each to the largest
/// remainders, ties to the earlier funder.
fn largest_remainder(total: i64, shares: &[Decimal]) -> Vec<i64> {
    let exact: Vec<Decimal> = shares.iter().map(|s| Decimal::from(total) * s).collect();
    let mut parts: Vec<i64> = exact
        .iter()
        .map(|x| x.floor().try_into().unwrap())
        .collect();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&i, &j| (exact[j] - exact[j].floor()).cmp(&(exact[i] - exact[i].floor())));
    let left = total - parts.iter().sum::<i64>();
    for &i in order.iter().take(left as usize) {
        parts[i] += 1;
    }
    parts
}

/// The positions of a loan right after its command: sums equal the loan's balances; each
/// funder's principal is its largest-remainder share (exactly at disbursement, within one
/// unit after repayments, as the Alabama-paradox rule allows).
fn check_positions(doc: &PositionsDoc, view: &loans::LoanView, at_disbursement: bool) -> bool {
    let loan = &view.loan;
    let t = &doc.totals;
    assert_eq!(
        t.principal_outstanding_minor,
        loan.principal_outstanding_minor()
    );
    if loan.status != LoanStatus::WrittenOff {
        assert_eq!(
            t.interest_receivable_minor,
            loan.outstanding_minor(Component::Interest)
        );
        assert_eq!(
            t.fee_receivable_minor,
            loan.outstanding_minor(Component::Fee)
        );
        assert_eq!(
            t.penalty_receivable_minor,
            loan.outstanding_minor(Component::Penalty)
        );
    }
    let sum =
        |f: &dyn Fn(&engine::colending::FunderDoc) -> i64| doc.funders.iter().map(f).sum::<i64>();
    assert_eq!(
        sum(&|f| f.balances.principal_outstanding_minor),
        t.principal_outstanding_minor
    );
    assert_eq!(
        sum(&|f| f.balances.interest_receivable_minor) + doc.platform.interest_receivable_minor,
        t.interest_receivable_minor
    );
    let shares: Vec<Decimal> = doc.funders.iter().map(|f| f.share).collect();
    let lr = largest_remainder(t.principal_outstanding_minor, &shares);
    let held: Vec<i64> = doc
        .funders
        .iter()
        .map(|f| f.balances.principal_outstanding_minor)
        .collect();
    if at_disbursement {
        assert_eq!(held, lr, "disbursement splits by largest remainder");
        let funded: Vec<i64> = doc
            .funders
            .iter()
            .map(|f| f.principal_funded_minor)
            .collect();
        assert_eq!(funded, lr);
    }
    for (h, s) in held.iter().zip(&shares) {
        let exact = Decimal::from(t.principal_outstanding_minor) * s;
        assert!(
            (Decimal::from(*h) - exact).abs() < Decimal::ONE,
            "{h} is within one unit of {exact}"
        );
    }
    held == lr
}

/// Every holder's control accounts equal the sum of its positions over the loans.
async fn check_control_accounts(e: &Engine, docs: &[PositionsDoc]) {
    let mut sums: BTreeMap<(String, &str), i64> = BTreeMap::new();
    for doc in docs {
        let mut holders: Vec<(String, &engine::colending::docs::BalancesDoc)> = doc
            .funders
            .iter()
            .map(|f| (f.partner_id.to_string(), &f.balances))
            .collect();
        holders.push(("platform".into(), &doc.platform));
        for (holder, b) in holders {
            for (name, v) in [
                ("principal", b.principal_outstanding_minor),
                ("interest", b.interest_receivable_minor),
                ("fee", b.fee_receivable_minor),
                ("penalty", b.penalty_receivable_minor),
            ] {
                *sums.entry((holder.clone(), name)).or_insert(0) += v;
            }
        }
    }
    for ((holder, name), expected) in sums {
        let id = books::control_account(TENANT, Currency::Cny, &holder, name);
        let balance = match e.account(id).await.unwrap() {
            Some(a) => a.balances.debits_posted_minor - a.balances.credits_posted_minor,
            None => 0,
        };
        assert_eq!(balance, expected, "{holder}/{name}");
    }
}

#[tokio::test]
async fn co_lent_loans_keep_funders_books_in_step_with_the_loan() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let mut rng = StdRng::seed_from_u64(SEED);
        let today = d("2026-01-15");
        loans::init_business_date(&e, today).await.unwrap();
        let (a, _) = cl::create_partner(
            &e,
            TENANT,
            Uuid::now_v7(),
            bank("bank a", Some("0.068"), 1_000_000_000),
        )
        .await
        .unwrap();
        let (b, _) = cl::create_partner(
            &e,
            TENANT,
            Uuid::now_v7(),
            bank("trust b", None, 50_000_000),
        )
        .await
        .unwrap();
        let platform = cl::platform_partner_id(TENANT, Currency::Cny);
        // Each product gets its own random plan; loans take their funders from it.
        let mut products = Vec::new();
        for _ in 0..4 {
            let product_id = Uuid::now_v7();
            let shares = random_shares(&mut rng);
            let spec = PlanSpec {
                shares: [platform, a.doc.id, b.doc.id]
                    .into_iter()
                    .zip(shares)
                    .map(|(partner_id, share)| ShareDoc { partner_id, share })
                    .collect(),
                platform_share_min: Decimal::new(3, 1),
                fees: ChargeRuleDoc::Platform,
                penalties: ChargeRuleDoc::ProRata,
                guarantee: None,
                routing: None,
                first_loss: None,
            };
            cl::set_plan(&e, TENANT, product_id, Currency::Cny, Uuid::now_v7(), spec)
                .await
                .unwrap();
            products.push(product_id);
        }
        let mut ids = Vec::new();
        for i in 0..12 {
            let id = Uuid::now_v7();
            let product = products[i % products.len()];
            let amount = rng.gen_range(100_000..4_000_000);
            let term = rng.gen_range(3..=12);
            let view = apply_and_disburse(&e, id, product, amount, term, today)
                .await
                .unwrap();
            let doc = cl::loan_funding(&e, id).await.unwrap().expect("co-lent");
            check_positions(&doc, &view, true);
            ids.push(id);
        }
        // A loan of a product without a plan has no funders and books as before.
        let plain = Uuid::now_v7();
        apply_and_disburse(&e, plain, Uuid::now_v7(), 500_000, 6, today)
            .await
            .unwrap();
        assert!(cl::loan_funding(&e, plain).await.unwrap().is_none());

        let mut repayments = Vec::new();
        let (mut commands, mut exact) = (0, 0);
        for round in 0..6 {
            for _ in 0..10 + round {
                cob::close_business_day(&e, CobConfig::default(), &|_| {})
                    .await
                    .unwrap();
            }
            let today = loans::business_date(&e).await.unwrap().unwrap();
            for &id in &ids {
                let view = loans::load(&e, id).await.unwrap();
                if view.loan.status != LoanStatus::Active {
                    continue;
                }
                let action = match rng.gen_range(0..4) {
                    0 => continue,
                    1 => Action::PrepayPartial {
                        amount: cny(rng.gen_range(10_000..60_000)),
                    },
                    _ => Action::Repay {
                        amount: cny(rng.gen_range(1_000..200_000)),
                    },
                };
                let repay = matches!(action, Action::Repay { .. });
                let key = Uuid::now_v7();
                let (after, _) = match loans::execute(&e, id, action, today, key).await {
                    Ok(r) => r,
                    // A partial prepayment above what is owed is refused: nothing changes.
                    Err(LoanUseError::Loan(_)) => continue,
                    Err(err) => panic!("{name}: {err}"),
                };
                if repay {
                    let seq = loans::event_seq_for_key(&e, id, key).await.unwrap();
                    repayments.push((id, seq));
                }
                let doc = cl::loan_funding(&e, id).await.unwrap().unwrap();
                commands += 1;
                exact += usize::from(check_positions(&doc, &after, false));
            }
        }
        // Reversing a repayment refolds the loan's positions without it.
        let (id, seq) = repayments[rng.gen_range(0..repayments.len())];
        let (after, _) = loans::reverse_repayment(&e, id, seq, Uuid::now_v7())
            .await
            .unwrap();
        check_positions(
            &cl::loan_funding(&e, id).await.unwrap().unwrap(),
            &after,
            false,
        );
        // Paying a loan off brings every funder to zero.
        let id = ids[0];
        let today = loans::business_date(&e).await.unwrap().unwrap();
        let view = loans::load(&e, id).await.unwrap();
        if view.loan.status == LoanStatus::Active {
            let payoff = lending::loan::payoff_minor(&view.loan).unwrap();
            let (closed, _) = loans::execute(
                &e,
                id,
                Action::PrepayFull {
                    amount: cny(payoff),
                },
                today,
                Uuid::now_v7(),
            )
            .await
            .unwrap();
            let doc = cl::loan_funding(&e, id).await.unwrap().unwrap();
            check_positions(&doc, &closed, false);
            assert!(doc
                .funders
                .iter()
                .all(|f| f.balances.principal_outstanding_minor == 0));
        }
        let mut docs = Vec::new();
        for &id in &ids {
            docs.push(cl::loan_funding(&e, id).await.unwrap().unwrap());
            simulation::check_loan(&e, id).await.unwrap();
        }
        check_control_accounts(&e, &docs).await;
        // Funders' interest: bank A (with a yield) never earns more than its pro-rata part,
        // and the platform's service fee is what is left.
        let a_interest: i64 = docs
            .iter()
            .flat_map(|d| &d.funders)
            .filter(|f| f.partner_id == a.doc.id)
            .map(|f| f.balances.interest_receivable_minor)
            .sum();
        assert!(a_interest >= 0);
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
        // A posting to a funder's control account that no position explains is found.
        let account = |n| books::control_account(TENANT, Currency::Cny, &a.doc.id.to_string(), n);
        let stray = ledger::EntryRequest {
            id: ledger::EntryId(Uuid::now_v7()),
            currency: Currency::Cny,
            postings: vec![
                ledger::Posting {
                    account_id: account("collected"),
                    direction: ledger::Side::Debit,
                    amount_minor: 1,
                },
                ledger::Posting {
                    account_id: account("income"),
                    direction: ledger::Side::Credit,
                    amount_minor: 1,
                },
            ],
            memo: "not from a loan".into(),
        };
        e.submit(vec![engine::Command::Entry(stray)]).await.unwrap();
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert_eq!(
            report.bad_positions.len(),
            2,
            "{name}: {:?}",
            report.bad_positions
        );
        println!("{name}: {commands} commands on co-lent loans, {exact} with every funder exactly at its largest-remainder share");
    }
}

#[tokio::test]
async fn a_declined_funder_books_nothing_and_names_every_reason() {
    for (ts, e) in engines().await {
        let name = ts.name;
        let today = d("2026-01-15");
        loans::init_business_date(&e, today).await.unwrap();
        let (small, _) =
            cl::create_partner(&e, TENANT, Uuid::now_v7(), bank("small", None, 100_000))
                .await
                .unwrap();
        let mut picky = bank("picky", Some("0.05"), 1_000_000_000);
        picky.eligibility.term_months_max = Some(3);
        let (picky, _) = cl::create_partner(&e, TENANT, Uuid::now_v7(), picky)
            .await
            .unwrap();
        let product_id = Uuid::now_v7();
        let platform = cl::platform_partner_id(TENANT, Currency::Cny);
        let share = |partner_id, s: &str| ShareDoc {
            partner_id,
            share: s.parse().unwrap(),
        };
        let spec = PlanSpec {
            shares: vec![
                share(platform, "0.4"),
                share(small.doc.id, "0.3"),
                share(picky.doc.id, "0.3"),
            ],
            platform_share_min: Decimal::new(3, 1),
            fees: ChargeRuleDoc::Platform,
            penalties: ChargeRuleDoc::Platform,
            guarantee: None,
            routing: None,
            first_loss: None,
        };
        cl::set_plan(
            &e,
            TENANT,
            product_id,
            Currency::Cny,
            Uuid::now_v7(),
            spec.clone(),
        )
        .await
        .unwrap();
        let before = engine::verify(e.store(), |_| {}).await.unwrap();
        let id = Uuid::now_v7();
        let err = apply_and_disburse(&e, id, product_id, 1_000_000, 6, today)
            .await
            .unwrap_err();
        let LoanUseError::Colending(ColendingError::Declined { reasons }) = err else {
            panic!("{name}: {err}");
        };
        let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["incomplete", "quota", "ineligible_term"], "{name}");
        let view = loans::load(&e, id).await.unwrap();
        assert_eq!(view.row.stage, "approved", "{name}: not disbursed");
        assert!(cl::loan_funding(&e, id).await.unwrap().is_none());
        let after = engine::verify(e.store(), |_| {}).await.unwrap();
        assert_eq!(
            before.entries_checked, after.entries_checked,
            "{name}: nothing posted"
        );

        // Bad plans are refused with the field at fault.
        let mut bad = spec.clone();
        bad.shares[1].share = "0.31".parse().unwrap();
        let err = cl::set_plan(&e, TENANT, product_id, Currency::Cny, Uuid::now_v7(), bad)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ColendingError::Invalid { errors } if errors[0].0 == "shares"),
            "{err}"
        );
        let mut low = spec.clone();
        low.shares[0].share = "0.2".parse().unwrap();
        low.shares[1].share = "0.5".parse().unwrap();
        let err = cl::set_plan(&e, TENANT, product_id, Currency::Cny, Uuid::now_v7(), low)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ColendingError::Invalid { errors } if errors.iter().any(|(f, m)| f == "shares" && m.contains("minimum"))),
            "{err}"
        );
        let mut unknown = spec;
        unknown.shares[2].partner_id = Uuid::now_v7();
        let err = cl::set_plan(
            &e,
            TENANT,
            product_id,
            Currency::Cny,
            Uuid::now_v7(),
            unknown,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, ColendingError::Invalid { errors } if errors[0].0 == "shares[2].partner_id"),
            "{err}"
        );
        // The plan in force is still the first one.
        let plan = cl::plan(&e, TENANT, product_id).await.unwrap();
        assert_eq!(plan.version, 1);
    }
}
