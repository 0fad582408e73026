//! Co-lent loans over close of business, on SQLite and PostgreSQL: the day a loan is
//! billed, charged a late fee or penalty, or written off moves its funders' positions and
//! control accounts that same day, so after every close of business the positions equal
//! the loan's balances and the control accounts equal the positions, without waiting for
//! the loan's next command. Written-off loans recover cash now and then; the partners' files
//! show their part and still re-add. Each month end's snapshot holds every funder's share:
//! concentration by funder equals the positions.

use engine::cob::{self, CobConfig};
use engine::colending::{
    self as cl, books, ApprovalDoc, ChargeRuleDoc, EligibilityDoc, GuaranteeDoc, Kind, PartnerSpec,
    PlanSpec, PositionsDoc, ShareDoc,
};
use engine::loans::{self, Action};
use engine::{simulation, Engine, EngineConfig};
use lending::loan::{LoanConfig, LoanStatus};
use lending::product::Component;
use lending::LoanProduct;
use money::{BusinessDate, Currency, Decimal, Money};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use store::analytics::{AnalyticsFilter, ConcentrationRow, Dimension, Month};
use uuid::Uuid;

use crate::recon_check;

const TENANT: &str = "t1";
const SEED: u64 = 0xc0b_c01e;

fn cny(minor: i64) -> Money {
    Money::from_minor(minor, Currency::Cny)
}

fn bank(name: &str, yield_annual: Option<&str>) -> PartnerSpec {
    PartnerSpec {
        name: name.into(),
        kind: Kind::Bank,
        currency: Currency::Cny,
        yield_annual: yield_annual.map(|y| y.parse().unwrap()),
        quota_minor: 10_000_000_000,
        daily_quota_minor: 10_000_000_000,
        eligibility: EligibilityDoc::default(),
        approval: ApprovalDoc::Auto,
    }
}

/// Days past due at which the guarantor of the guaranteed run pays.
pub const TRIGGER_DPD: u32 = 3;

/// Sets up a plan of the platform and two banks on a product, with a guarantor that takes
/// the product's fees as its guarantee fee when `guaranteed`; returns the funders' ids.
pub async fn three_funders(e: &Engine, product_id: Uuid, guaranteed: bool) -> [Uuid; 3] {
    let (a, _) = cl::create_partner(e, TENANT, Uuid::now_v7(), bank("bank a", Some("0.068")))
        .await
        .unwrap();
    let (b, _) = cl::create_partner(e, TENANT, Uuid::now_v7(), bank("trust b", None))
        .await
        .unwrap();
    let platform = cl::platform_partner_id(TENANT, Currency::Cny);
    let share = |partner_id, s: &str| ShareDoc {
        partner_id,
        share: s.parse().unwrap(),
    };
    let spec = PlanSpec {
        shares: vec![
            share(platform, "0.35"),
            share(a.doc.id, "0.4"),
            share(b.doc.id, "0.25"),
        ],
        platform_share_min: Decimal::new(3, 1),
        fees: ChargeRuleDoc::Platform,
        penalties: ChargeRuleDoc::ProRata,
        guarantee: None,
        routing: None,
        first_loss: None,
    };
    let spec = match guaranteed {
        false => spec,
        true => {
            let guarantor = PartnerSpec {
                kind: Kind::Guarantor,
                ..bank("guarantor g", None)
            };
            let (g, _) = cl::create_partner(e, TENANT, Uuid::now_v7(), guarantor)
                .await
                .unwrap();
            PlanSpec {
                fees: ChargeRuleDoc::Guarantor,
                guarantee: Some(GuaranteeDoc {
                    guarantor_id: g.doc.id,
                    trigger_dpd: TRIGGER_DPD,
                }),
                ..spec
            }
        }
    };
    cl::set_plan(e, TENANT, product_id, Currency::Cny, Uuid::now_v7(), spec)
        .await
        .unwrap();
    [platform, a.doc.id, b.doc.id]
}

/// The positions equal the loan's balances as the loan stands on the open day.
fn positions_match_loan(doc: &PositionsDoc, view: &loans::LoanView, day: BusinessDate) {
    let loan = &view.loan;
    let t = &doc.totals;
    let at = format!("loan {} on {day}", doc.loan_id);
    if loan.status == LoanStatus::WrittenOff {
        // Everything the loan was owed moved to written off, the day it was written off,
        // less what was recovered since (principal first).
        assert!(doc.written_off, "{at}");
        assert_eq!(t.principal_outstanding_minor, 0, "{at}");
        assert!(
            t.written_off_minor >= loan.written_off.get(Component::Principal),
            "{at}"
        );
        // Recoveries come off both; the loan's claim also holds the interest accrued but
        // not billed when it was written off, which no holder was charged.
        assert!(
            t.written_off_minor <= claim_minor(&loan.written_off),
            "{at}"
        );
        return;
    }
    assert_eq!(
        t.principal_outstanding_minor,
        loan.principal_outstanding_minor(),
        "{at}"
    );
    for (held, component) in [
        (t.interest_receivable_minor, Component::Interest),
        (t.fee_receivable_minor, Component::Fee),
        (t.penalty_receivable_minor, Component::Penalty),
    ] {
        assert_eq!(
            held,
            loan.outstanding_minor(component),
            "{at}: {component:?}"
        );
    }
    let overdue = (loan.dpd > 0)
        .then(|| BusinessDate::from_epoch_days(day.to_epoch_days() - loan.dpd as i32 + 1).unwrap());
    assert_eq!(doc.overdue_since, overdue, "{at}: delinquency");
}

fn claim_minor(w: &lending::loan::ComponentAmounts) -> i64 {
    [
        Component::Principal,
        Component::Interest,
        Component::Fee,
        Component::Penalty,
    ]
    .map(|c| w.get(c))
    .iter()
    .sum()
}

/// Every holder's control accounts equal the sum of its positions over the loans.
pub async fn control_accounts_match(e: &Engine, docs: &[PositionsDoc]) {
    let mut sums: BTreeMap<(String, &str), i64> = BTreeMap::new();
    for doc in docs {
        let mut holders: Vec<(String, &cl::docs::BalancesDoc)> = doc
            .funders
            .iter()
            .map(|f| (f.partner_id.to_string(), &f.balances))
            .collect();
        holders.push(("platform".into(), &doc.platform));
        if let Some(g) = &doc.guarantor {
            holders.push((format!("guarantor:{}", g.terms.guarantor_id), &g.balances));
        }
        for (holder, b) in holders {
            for (name, v) in [
                ("principal", b.principal_outstanding_minor),
                ("interest", b.interest_receivable_minor),
                ("fee", b.fee_receivable_minor),
                ("penalty", b.penalty_receivable_minor),
                ("written_off", b.written_off_minor),
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

/// The month-end snapshot's concentration by funder (taken by the close of business that
/// just ran) equals each active loan's funders' principal in its positions, which no
/// command has moved since; the platform's own share is `platform`.
async fn funders_concentration_matches(e: &Engine, ids: &[Uuid], month: Month) {
    let platform = cl::platform_partner_id(TENANT, Currency::Cny);
    let mut brute: BTreeMap<String, ConcentrationRow> = BTreeMap::new();
    for &id in ids {
        if loans::load(e, id).await.unwrap().loan.status != LoanStatus::Active {
            continue;
        }
        let doc = cl::loan_funding(e, id).await.unwrap().unwrap();
        for f in &doc.funders {
            let held = f.balances.principal_outstanding_minor;
            if held == 0 {
                continue;
            }
            let key = match f.partner_id == platform {
                true => "platform".to_string(),
                false => f.partner_id.to_string(),
            };
            let row = brute
                .entry(key.clone())
                .or_insert_with(|| ConcentrationRow {
                    currency: "CNY".into(),
                    key,
                    ..ConcentrationRow::default()
                });
            row.loans += 1;
            row.principal_minor += held;
        }
    }
    let mut stored = e
        .store()
        .concentration(AnalyticsFilter::default(), month, Dimension::Funder)
        .await
        .unwrap();
    stored.sort();
    let brute: Vec<ConcentrationRow> = brute.into_values().collect();
    assert_eq!(brute.len(), 3, "{month:?}: the platform and two banks");
    assert_eq!(stored, brute, "{month:?}");
}

/// Each claim moved the funders' amounts to the guarantor once: per loan, the claims have
/// distinct days, what the funders gave up is what the guarantor took over, and over the
/// book the guarantor's `funding` account holds what it paid. Returns how many claims.
async fn claims_moved_once(e: &Engine, docs: &[PositionsDoc]) -> usize {
    let (mut claims, mut paid) = (0, BTreeMap::<String, i64>::new());
    for doc in docs {
        let Some(g) = &doc.guarantor else {
            assert!(doc.claims.is_empty());
            continue;
        };
        let days: std::collections::BTreeSet<_> = doc.claims.iter().map(|c| c.day).collect();
        assert_eq!(
            days.len(),
            doc.claims.len(),
            "loan {}: one claim a day",
            doc.loan_id
        );
        claims += doc.claims.len();
        let holder = format!("guarantor:{}", g.terms.guarantor_id);
        let flow = |h: &str| -> i64 {
            ["principal", "interest"]
                .iter()
                .map(|b| {
                    doc.flows
                        .get(&format!("{h}/compensated/{b}"))
                        .copied()
                        .unwrap_or(0)
                })
                .sum()
        };
        let given_up: i64 = doc
            .funders
            .iter()
            .map(|f| flow(&f.partner_id.to_string()))
            .sum();
        assert_eq!(flow(&holder), -given_up, "loan {}", doc.loan_id);
        assert_eq!(
            flow("platform"),
            0,
            "the platform's own part is not guaranteed"
        );
        *paid.entry(holder).or_default() += flow(&format!("guarantor:{}", g.terms.guarantor_id));
    }
    for (holder, paid_minor) in paid {
        let id = books::control_account(TENANT, Currency::Cny, &holder, "funding");
        let a = e
            .account(id)
            .await
            .unwrap()
            .expect("the guarantor's funding account");
        let credit = a.balances.credits_posted_minor - a.balances.debits_posted_minor;
        assert_eq!(credit, paid_minor, "{holder}: funding holds what it paid");
    }
    claims
}

pub async fn disburse(
    e: &Engine,
    product_id: Uuid,
    amount_minor: i64,
    term: u32,
    day: BusinessDate,
) -> Uuid {
    let id = Uuid::now_v7();
    let config =
        LoanConfig::from_product(&LoanProduct::example_cny(), cny(amount_minor), term, 10).unwrap();
    loans::apply_for_loan(e, super::colending::application(id, product_id, config))
        .await
        .unwrap();
    loans::decide(e, id, true).await.unwrap();
    loans::execute(e, id, Action::Disburse { payee: None }, day, Uuid::now_v7())
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn close_of_business_moves_funders_positions_every_day() {
    run_days(false).await;
}

/// The same book with a guarantor: from 3 days past due close of business has it pay the
/// funders' overdue principal and interest; the partners' files list the claims and still
/// re-add, and every claim moved its amounts once.
#[tokio::test]
async fn a_guarantor_pays_overdue_funders_every_day_it_is_due() {
    run_days(true).await;
}

/// The same book with a first-loss deposit of the platform, capped below the book's
/// losses: each write-off draws it for the funders' written-off claims until the cap is
/// reached; the funders' files list the draws and still re-add, later recoveries on what
/// the deposit paid go to the platform, and the deposit never pays beyond its cap.
#[tokio::test]
async fn a_first_loss_deposit_pays_funders_losses_up_to_its_cap() {
    run_days_with(Enhancement::FirstLoss).await;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Enhancement {
    None,
    Guarantee,
    FirstLoss,
}

/// The deposit's cap: 10% of a 20,000,000 portfolio (less than it holds).
const DEPOSIT_CAP_MINOR: i64 = 2_000_000;

async fn with_deposit(e: &Engine, product_id: Uuid) -> Uuid {
    let spec = cl::DepositSpec {
        portfolio: "2026 consumer".into(),
        currency: Currency::Cny,
        cap_fraction: "0.1".parse().unwrap(),
        portfolio_principal_minor: 20_000_000,
        deposited_minor: 3_000_000,
    };
    let (d, _) = cl::create_deposit(e, TENANT, Uuid::now_v7(), spec)
        .await
        .unwrap();
    assert_eq!(d.doc.cap_minor(), DEPOSIT_CAP_MINOR);
    let plan = cl::plan(e, TENANT, product_id).await.unwrap().doc.spec;
    let spec = PlanSpec {
        first_loss: Some(cl::FirstLossRef {
            deposit_id: d.doc.id,
        }),
        ..plan
    };
    cl::set_plan(e, TENANT, product_id, Currency::Cny, Uuid::now_v7(), spec)
        .await
        .unwrap();
    d.doc.id
}

/// Each written-off loan's draw moved the funders' written-off claims to the platform
/// once; over the book the draws are the deposit's drawn total, within its cap, and the
/// platform's `funding` account holds what it paid. Returns the loans that drew.
async fn draws_moved_once(e: &Engine, docs: &[PositionsDoc], deposit_id: Uuid) -> usize {
    let (mut drawn_minor, mut loans) = (0, 0);
    for doc in docs {
        let flow = |h: &str| {
            doc.flows
                .get(&format!("{h}/first_loss/written_off"))
                .copied()
                .unwrap_or(0)
        };
        let given_up: i64 = doc
            .funders
            .iter()
            .map(|f| flow(&f.partner_id.to_string()))
            .sum();
        assert_eq!(flow(&doc.platform_partner_id.to_string()), 0, "not its own");
        assert_eq!(flow("platform"), -given_up, "loan {}", doc.loan_id);
        match doc.draw {
            Some(d) => {
                assert!(
                    doc.written_off,
                    "loan {}: drawn once written off",
                    doc.loan_id
                );
                assert_eq!(d.amount_minor, -given_up, "loan {}", doc.loan_id);
                drawn_minor += d.amount_minor;
                loans += usize::from(d.amount_minor > 0);
            }
            None => assert_eq!(given_up, 0, "loan {}", doc.loan_id),
        }
    }
    let deposit = cl::deposit(e, TENANT, deposit_id).await.unwrap().doc;
    assert_eq!(deposit.drawn_minor, drawn_minor);
    assert_eq!(
        drawn_minor, DEPOSIT_CAP_MINOR,
        "the book's losses exhaust the cap"
    );
    let id = books::control_account(TENANT, Currency::Cny, "platform", "funding");
    let a = e
        .account(id)
        .await
        .unwrap()
        .expect("the platform's funding");
    let credit = a.balances.credits_posted_minor - a.balances.debits_posted_minor;
    assert_eq!(
        credit, drawn_minor,
        "the platform's funding holds what it paid"
    );
    loans
}

async fn run_days(guaranteed: bool) {
    let mode = match guaranteed {
        true => Enhancement::Guarantee,
        false => Enhancement::None,
    };
    run_days_with(mode).await
}

async fn run_days_with(mode: Enhancement) {
    let guaranteed = mode == Enhancement::Guarantee;
    for ts in testkit::all_stores().await {
        let name = ts.name;
        let e = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .unwrap();
        let mut rng = StdRng::seed_from_u64(SEED);
        let start: BusinessDate = "2026-01-15".parse().unwrap();
        loans::init_business_date(&e, start).await.unwrap();
        let product_id = Uuid::now_v7();
        let mut partners = three_funders(&e, product_id, guaranteed).await.to_vec();
        let deposit = match mode {
            Enhancement::FirstLoss => Some(with_deposit(&e, product_id).await),
            _ => None,
        };
        // The guarantee company's files are checked like a funder's.
        let plan = cl::plan(&e, TENANT, product_id).await.unwrap();
        partners.extend(plan.doc.spec.guarantee.map(|g| g.guarantor_id));
        let mut ids = Vec::new();
        for _ in 0..12 {
            let amount = rng.gen_range(100_000..3_000_000);
            ids.push(disburse(&e, product_id, amount, rng.gen_range(2..=6), start).await);
        }
        // Per partner: its control accounts at the end of the day before the one to check
        // and at the end of that day, and the day before's balances file.
        let zero: recon_check::Snapshot = recon_check::ACCOUNTS.iter().map(|a| (*a, 0)).collect();
        let mut books = Vec::new();
        for &p in &partners {
            let end = recon_check::snapshot(&e, TENANT, p).await;
            books.push((zero.clone(), end, recon_check::Balances::new()));
        }
        let mut overdue = BTreeMap::new();
        // Half the loans are never repaid (they go overdue, pay penalty and late fees and
        // are written off at 10 days past due); the others are repaid now and then.
        let (mut cob_moves, mut checked, mut recoveries, mut month_ends) = (0, 0, 0, 0);
        for day in 0..50 {
            let closed = loans::business_date(&e).await.unwrap().unwrap();
            cob::close_business_day(&e, CobConfig::default(), &|_| {})
                .await
                .unwrap();
            // The closed day's files re-add to what the ledger held at its end.
            for (&p, (before, end, balances)) in partners.iter().zip(books.iter_mut()) {
                *balances = recon_check::check_day(
                    &e,
                    (TENANT, p),
                    closed,
                    (before, balances),
                    end,
                    &overdue,
                    day % 10 == 0,
                )
                .await;
            }
            let today = loans::business_date(&e).await.unwrap().unwrap();
            if Month::of_date(closed) != Month::of_date(today) {
                funders_concentration_matches(&e, &ids, Month::of_date(closed)).await;
                month_ends += 1;
            }
            if day == 10 {
                ids.push(disburse(&e, product_id, 900_000, 3, today).await);
            }
            let mut docs = Vec::new();
            for (i, &id) in ids.iter().enumerate() {
                let view = loans::load(&e, id).await.unwrap();
                let doc = cl::loan_funding(&e, id).await.unwrap().unwrap();
                positions_match_loan(&doc, &view, today);
                checked += 1;
                docs.push(doc);
                if i % 2 == 0 && day % 9 == 4 && view.loan.status == LoanStatus::Active {
                    let amount = cny(rng.gen_range(50_000..400_000));
                    let action = match day % 2 {
                        0 => Action::PrepayPartial { amount },
                        _ => Action::Repay { amount },
                    };
                    match loans::execute(&e, id, action, today, Uuid::now_v7()).await {
                        Ok(_) | Err(loans::LoanUseError::Loan(_)) => {}
                        Err(err) => panic!("{name}: {err}"),
                    }
                    let doc = cl::loan_funding(&e, id).await.unwrap().unwrap();
                    positions_match_loan(&doc, &loans::load(&e, id).await.unwrap(), today);
                    *docs.last_mut().unwrap() = doc;
                }
                let claim = claim_minor(&view.loan.written_off);
                if i % 2 == 1 && day % 5 == 2 && claim > 0 {
                    // Part of a written-off loan recovered, at times all of what is left.
                    let amount = cny(rng.gen_range(1..=claim.min(400_000)));
                    loans::execute(&e, id, Action::Recover { amount }, today, Uuid::now_v7())
                        .await
                        .unwrap();
                    recoveries += 1;
                    let doc = cl::loan_funding(&e, id).await.unwrap().unwrap();
                    positions_match_loan(&doc, &loans::load(&e, id).await.unwrap(), today);
                    *docs.last_mut().unwrap() = doc;
                }
            }
            control_accounts_match(&e, &docs).await;
            cob_moves = docs.iter().map(|d| d.moves).sum::<u32>();
            overdue.clear();
            for &id in &ids {
                let loan = loans::load(&e, id).await.unwrap().loan;
                if loan.dpd > 0 && loan.status == LoanStatus::Active {
                    overdue.insert(id, loan.dpd);
                }
            }
            for (&p, (before, end, _)) in partners.iter().zip(books.iter_mut()) {
                *before = std::mem::replace(end, recon_check::snapshot(&e, TENANT, p).await);
            }
        }
        let written_off = {
            let mut n = 0;
            for &id in &ids {
                simulation::check_loan(&e, id).await.unwrap();
                n += usize::from(
                    loans::load(&e, id).await.unwrap().loan.status == LoanStatus::WrittenOff,
                );
            }
            n
        };
        assert!(written_off > 0, "{name}: some loans were written off");
        assert!(
            recoveries > 0,
            "{name}: some written-off loans recovered cash"
        );
        assert_eq!(
            month_ends, 2,
            "{name}: January's and February's snapshots checked"
        );
        let mut docs = Vec::new();
        for &id in &ids {
            docs.push(cl::loan_funding(&e, id).await.unwrap().unwrap());
        }
        let claims = claims_moved_once(&e, &docs).await;
        assert_eq!(claims > 0, guaranteed, "{name}: {claims} guarantee claims");
        let draws = match deposit {
            Some(id) => draws_moved_once(&e, &docs, id).await,
            None => 0,
        };
        let report = engine::verify(e.store(), |_| {}).await.unwrap();
        assert!(report.ok(), "{name}: {report:?}");
        println!("{name}: {checked} loan-days checked, {cob_moves} position movements, {written_off} loans written off, {recoveries} recoveries, {claims} guarantee claims, {draws} first-loss draws");
    }
}
