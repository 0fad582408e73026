//! The book report: a clean book lists no breach, and every planted breach is listed under
//! its rule with its item, and nothing else is.
// Amounts in fen are written yuan_fen (300_000_00 is 300,000.00 CNY).
#![allow(clippy::inconsistent_digit_grouping)]

use compliance::{
    builtin_packs, AnnualIncome, ColendingFacts, CustomerFacts, CustomerKind, Exposure, Facts,
    LenderFacts, LenderKind, LoanFacts, Purpose, Report,
};
use money::{BusinessDate, Currency, Decimal, Money};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::collections::{BTreeMap, BTreeSet};

fn on() -> BusinessDate {
    "2026-12-06".parse().unwrap()
}

fn cny(minor: i64) -> Money {
    Money::from_minor(minor, Currency::Cny)
}

const LENDER_KINDS: [LenderKind; 3] = [
    LenderKind::OnlineMicroLoanCompany,
    LenderKind::CommercialBank,
    LenderKind::Other,
];
const ALLOWED_PURPOSES: [Purpose; 6] = [
    Purpose::Consumption,
    Purpose::BusinessOperation,
    Purpose::Education,
    Purpose::Medical,
    Purpose::HomeImprovement,
    Purpose::Other,
];

fn exposure_strategy(max_minor: i64) -> impl Strategy<Value = Exposure> {
    (0..3usize, any::<bool>(), 1..=max_minor).prop_map(|(kind, consumer_credit, minor)| Exposure {
        product_id: "p".into(),
        funder_id: "f".into(),
        funder_kind: LENDER_KINDS[kind],
        consumer_credit,
        principal: cny(minor),
    })
}

/// A book item that breaks no rule: balances and rates inside every limit.
fn clean_item() -> impl Strategy<Value = Facts> {
    // Four exposures of at most 50,000.00 stay within 200,000 (bank consumer credit) and
    // 300,000; an income of at least 1,000,000.00 a year allows 333,333.33.
    let individual = (
        prop::collection::vec(exposure_strategy(50_000_00), 1..=4),
        prop::collection::vec(1_000_000_00i64..=5_000_000_00, 1..=3),
    )
        .prop_map(|(exposure, incomes)| Facts {
            customer: Some(CustomerFacts {
                kind: CustomerKind::Individual,
                student: false,
                income_history: incomes
                    .into_iter()
                    .zip(2024..)
                    .map(|(minor, year)| AnnualIncome {
                        year,
                        amount: cny(minor),
                    })
                    .collect(),
                exposure,
            }),
            ..Facts::default()
        });
    let enterprise =
        prop::collection::vec(exposure_strategy(250_000_00), 0..=4).prop_map(|exposure| Facts {
            customer: Some(CustomerFacts {
                kind: CustomerKind::Enterprise,
                student: false,
                income_history: vec![],
                exposure,
            }),
            ..Facts::default()
        });
    let loan = (0..ALLOWED_PURPOSES.len(), 0..=2400i64).prop_map(|(purpose, apr)| Facts {
        loan: Some(LoanFacts {
            purpose: ALLOWED_PURPOSES[purpose],
            all_in_apr_percent: Decimal::new(apr, 2),
        }),
        ..Facts::default()
    });
    let colending = (30..=100i64).prop_map(|share| Facts {
        colending: Some(ColendingFacts {
            platform_share: Decimal::new(share, 2),
        }),
        ..Facts::default()
    });
    let lender = (1..=1_000_000_000_00i64, 0..=100i64, 0..=100i64).prop_map(|(net, b, a)| Facts {
        lender: Some(LenderFacts {
            net_assets: cny(net),
            borrowing: cny(net / 100 * b),
            bonds_and_abs: cny(net / 100 * 4 * a),
        }),
        ..Facts::default()
    });
    prop_oneof![individual, enterprise, loan, colending, lender]
}

/// Breaks exactly one rule of `item` if its kind allows, returning that rule's id. `n` is a
/// free number that sizes the breach.
fn plant(item: &mut Facts, choice: usize, n: i64) -> Option<&'static str> {
    let n = n.max(1);
    if let Some(customer) = &mut item.customer {
        let total: i64 = customer
            .exposure
            .iter()
            .map(|e| e.principal.amount_minor())
            .sum();
        return Some(match (customer.kind, choice % 4) {
            (CustomerKind::Enterprise, _) => {
                customer.exposure.push(Exposure {
                    product_id: "planted".into(),
                    funder_id: "planted".into(),
                    funder_kind: LenderKind::Other,
                    consumer_credit: false,
                    principal: cny(1_000_000_00 - total + n),
                });
                "cn.microloan.enterprise_balance_max"
            }
            (_, 0) => {
                customer.student = true;
                "cn.no_students"
            }
            (_, 1) => {
                customer.exposure.push(Exposure {
                    product_id: "planted".into(),
                    funder_id: "planted".into(),
                    funder_kind: LenderKind::OnlineMicroLoanCompany,
                    consumer_credit: false,
                    principal: cny(300_000_00 - total + n.min(30_000_00)),
                });
                "cn.microloan.individual_balance_max"
            }
            (_, 2) => {
                // Bank consumer credit just over 200,000 replaces the rest, total ≤ 300,000.
                customer.exposure = vec![Exposure {
                    product_id: "planted".into(),
                    funder_id: "planted".into(),
                    funder_kind: LenderKind::CommercialBank,
                    consumer_credit: true,
                    principal: cny(200_000_00 + n.min(100_000_00)),
                }];
                "cn.bank.individual_consumer_credit_max"
            }
            _ => {
                // An income whose third is a fen below the balance.
                let yearly = 3 * total - 3;
                for income in &mut customer.income_history {
                    income.amount = cny(yearly);
                }
                "cn.microloan.individual_income_share_max"
            }
        });
    }
    if let Some(loan) = &mut item.loan {
        return Some(if choice % 2 == 1 {
            loan.purpose = [Purpose::Securities, Purpose::PropertyDownPayment][choice % 4 / 2];
            "cn.banned_purposes"
        } else {
            loan.all_in_apr_percent = Decimal::from(24) + Decimal::new(n.min(10_000), 4);
            "cn.all_in_apr_max"
        });
    }
    if let Some(colending) = &mut item.colending {
        colending.platform_share = Decimal::new(3000 - n.min(3000), 4);
        return Some("cn.colending.platform_share_min");
    }
    if let Some(lender) = &mut item.lender {
        return Some(if choice % 2 == 1 {
            lender.bonds_and_abs = cny(lender.net_assets.amount_minor() * 4 + n);
            "cn.microloan.leverage_bonds_abs_max"
        } else {
            lender.borrowing = lender.net_assets.checked_add(cny(n)).unwrap();
            "cn.microloan.leverage_borrowing_max"
        });
    }
    None
}

fn listed(report: &Report<usize>) -> BTreeMap<String, BTreeSet<usize>> {
    report
        .by_rule
        .iter()
        .map(|(rule, findings)| {
            assert!(findings.iter().all(|f| &f.breach.rule_id == rule));
            (rule.clone(), findings.iter().map(|f| f.subject).collect())
        })
        .collect()
}

proptest! {
    #[test]
    fn a_clean_book_lists_no_breach(book in prop::collection::vec(clean_item(), 0..200)) {
        let items: Vec<(usize, Facts)> = book.into_iter().enumerate().collect();
        let report = builtin_packs().report(&items, on());
        prop_assert_eq!(report.items_checked, items.len());
        prop_assert!(report.is_clean(), "{:?}", report.by_rule);
    }

    #[test]
    fn every_planted_breach_is_listed_under_its_rule_and_nothing_else(
        book in prop::collection::vec(clean_item(), 1..200),
        plants in prop::collection::vec((any::<prop::sample::Index>(), 0..4usize, 1..1_000_000i64), 1..20),
    ) {
        let mut items: Vec<(usize, Facts)> = book.into_iter().enumerate().collect();
        let mut expected: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        let mut planted = BTreeSet::new();
        for (index, choice, n) in plants {
            let at = index.index(items.len());
            // One breach per item, so that two plants cannot mask or compound each other.
            if !planted.insert(at) {
                continue;
            }
            if let Some(rule) = plant(&mut items[at].1, choice, n) {
                expected.entry(rule.to_string()).or_default().insert(at);
            }
        }
        let report = builtin_packs().report(&items, on());
        prop_assert_eq!(report.breach_count(), planted.len());
        prop_assert_eq!(listed(&report), expected);
    }
}

/// A book of 10,000 items with a planted breach every 101 items.
#[test]
fn a_large_book_lists_exactly_its_planted_breaches() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop::collection::vec(clean_item(), 10_000);
    let book = strategy.new_tree(&mut runner).unwrap().current();
    let mut items: Vec<(usize, Facts)> = book.into_iter().enumerate().collect();
    let mut expected: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for at in (0..items.len()).step_by(101) {
        let rule = plant(&mut items[at].1, at / 101, at as i64).unwrap();
        expected.entry(rule.to_string()).or_default().insert(at);
    }
    let report = builtin_packs().report(&items, on());
    assert_eq!(report.items_checked, 10_000);
    assert_eq!(listed(&report), expected);
    assert_eq!(
        expected.len(),
        10,
        "the plants reach every rule plant() can break"
    );
}
