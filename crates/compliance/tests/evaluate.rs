//! Each rule of the built-in packs passes at its limit and blocks just past it, only in its
//! scopes and only while its pack is in effect.
// Amounts in fen are written yuan_fen (300_000_00 is 300,000.00 CNY).
#![allow(clippy::inconsistent_digit_grouping)]

use compliance::{
    builtin_packs, china_online_lending, evaluate, unevaluated, us_regulation_z, AnnualIncome,
    AprDisclosure, Breach, ColendingFacts, CustomerFacts, CustomerKind, DisclosureFacts,
    DisclosureField, Exposure, Facts, Fraction, LenderFacts, LenderKind, LoanFacts, Purpose,
    RulePack, Scope, Value,
};
use money::{BusinessDate, Currency, Decimal, Money};
use rust_decimal_macros::dec;

fn date(s: &str) -> BusinessDate {
    s.parse().unwrap()
}

fn on() -> BusinessDate {
    date("2026-12-06")
}

fn cny(minor: i64) -> Money {
    Money::from_minor(minor, Currency::Cny)
}

fn exposure(funder_kind: LenderKind, consumer_credit: bool, principal: Money) -> Exposure {
    Exposure {
        product_id: "term-loan".into(),
        funder_id: format!("{funder_kind:?}"),
        funder_kind,
        consumer_credit,
        principal,
    }
}

/// An individual with a high income (so only the rule under test can bind) and `exposure`.
fn individual(exposure: Vec<Exposure>) -> CustomerFacts {
    CustomerFacts {
        kind: CustomerKind::Individual,
        student: false,
        income_history: (2024..=2026)
            .map(|year| AnnualIncome {
                year,
                amount: cny(100_000_000_00),
            })
            .collect(),
        exposure,
    }
}

fn customer_facts(customer: CustomerFacts) -> Facts {
    Facts {
        customer: Some(customer),
        ..Facts::default()
    }
}

fn ids(breaches: &[Breach]) -> Vec<&str> {
    breaches.iter().map(|b| b.rule_id.as_str()).collect()
}

fn china_breaches(scope: Scope, facts: &Facts) -> Vec<Breach> {
    evaluate(&china_online_lending(), scope, facts, on())
}

/// Split `total` over two products and two funder kinds, so the rule must aggregate.
fn two_products(total_minor: i64, kind: LenderKind) -> Vec<Exposure> {
    let first = total_minor / 3;
    vec![
        exposure(kind, false, cny(first)),
        Exposure {
            product_id: "credit-line".into(),
            ..exposure(kind, false, cny(total_minor - first))
        },
    ]
}

#[test]
fn individual_balance_300k_across_products_and_funders() {
    let limit = 300_000_00;
    for scope in [
        Scope::Origination,
        Scope::LimitChange,
        Scope::Purchase,
        Scope::Book,
    ] {
        let at = customer_facts(individual(two_products(limit, LenderKind::Other)));
        assert!(china_breaches(scope, &at).is_empty(), "{scope}");
        let mut over = two_products(limit, LenderKind::Other);
        over.push(exposure(LenderKind::OnlineMicroLoanCompany, false, cny(1)));
        let breaches = china_breaches(scope, &customer_facts(individual(over)));
        assert_eq!(
            ids(&breaches),
            ["cn.microloan.individual_balance_max"],
            "{scope}"
        );
        assert_eq!(breaches[0].observed, Value::Money(cny(limit + 1)));
        assert_eq!(breaches[0].limit, Value::Money(cny(limit)));
        assert_eq!(breaches[0].pack_id, "cn.online_lending");
        assert!(breaches[0].message.contains("300,000"));
    }
    // Not a rule of pricing or co-lending.
    let over = customer_facts(individual(two_products(limit + 1, LenderKind::Other)));
    assert!(china_breaches(Scope::Pricing, &over).is_empty());
    assert!(china_breaches(Scope::Colending, &over).is_empty());
}

#[test]
fn income_share_one_third_of_three_years_average() {
    // 90,000.00, 120,000.00 and 150,000.01 over 2024–2026: average 120,000.00 and 1/3 of a
    // fen, a third of which is 40,000.00 and 1/9 fen, rounded down to 40,000.00.
    let mut customer = individual(vec![]);
    customer.income_history = vec![
        AnnualIncome {
            year: 2026,
            amount: cny(150_000_01),
        },
        AnnualIncome {
            year: 2024,
            amount: cny(90_000_00),
        },
        AnnualIncome {
            year: 2025,
            amount: cny(120_000_00),
        },
        // Outside the three most recent years: ignored.
        AnnualIncome {
            year: 2021,
            amount: cny(9_000_000_00),
        },
    ];
    let limit = 40_000_00;
    customer.exposure = two_products(limit, LenderKind::OnlineMicroLoanCompany);
    assert!(china_breaches(Scope::Origination, &customer_facts(customer.clone())).is_empty());
    customer.exposure = two_products(limit + 1, LenderKind::OnlineMicroLoanCompany);
    let breaches = china_breaches(Scope::Origination, &customer_facts(customer.clone()));
    assert_eq!(ids(&breaches), ["cn.microloan.individual_income_share_max"]);
    assert_eq!(breaches[0].observed, Value::Money(cny(limit + 1)));
    assert_eq!(breaches[0].limit, Value::Money(cny(limit)));

    // Exactly divisible: 30,000.00 a year gives exactly 10,000.00 (no decimal third).
    customer.income_history = (2024..=2026)
        .map(|year| AnnualIncome {
            year,
            amount: cny(30_000_00),
        })
        .collect();
    customer.exposure = vec![exposure(LenderKind::Other, false, cny(10_000_00))];
    assert!(china_breaches(Scope::Origination, &customer_facts(customer.clone())).is_empty());
    customer.exposure = vec![exposure(LenderKind::Other, false, cny(10_000_01))];
    assert_eq!(
        ids(&china_breaches(
            Scope::Origination,
            &customer_facts(customer.clone())
        )),
        ["cn.microloan.individual_income_share_max"]
    );

    // Fails closed without a declared income in the window, naming what is missing.
    customer.income_history = vec![AnnualIncome {
        year: 2019,
        amount: cny(1),
    }];
    customer.exposure = vec![exposure(LenderKind::Other, false, cny(1))];
    let breaches = china_breaches(Scope::Origination, &customer_facts(customer.clone()));
    assert_eq!(ids(&breaches), ["cn.microloan.individual_income_share_max"]);
    assert_eq!(
        breaches[0].observed,
        Value::Missing("customer.income_history")
    );
    assert_eq!(
        breaches[0].limit,
        Value::IncomeShare {
            share: Fraction {
                numerator: 1,
                denominator: 3
            },
            years: 3,
        }
    );
    // And on incomes it cannot average.
    customer.income_history = vec![
        AnnualIncome {
            year: 2026,
            amount: cny(1_000_000_00),
        },
        AnnualIncome {
            year: 2025,
            amount: Money::from_minor(1_000_000_00, Currency::Usd),
        },
    ];
    let breaches = china_breaches(Scope::Origination, &customer_facts(customer));
    assert!(
        matches!(breaches[0].observed, Value::Invalid(_)),
        "{breaches:?}"
    );
}

#[test]
fn enterprise_balance_one_million_and_individual_rules_skip_enterprises() {
    let limit = 1_000_000_00;
    let enterprise = |total: i64| {
        customer_facts(CustomerFacts {
            kind: CustomerKind::Enterprise,
            // Ignored for an enterprise, as is its (absent) income.
            student: true,
            income_history: vec![],
            exposure: two_products(total, LenderKind::OnlineMicroLoanCompany),
        })
    };
    assert!(china_breaches(Scope::Origination, &enterprise(limit)).is_empty());
    let breaches = china_breaches(Scope::Origination, &enterprise(limit + 1));
    assert_eq!(ids(&breaches), ["cn.microloan.enterprise_balance_max"]);
    assert_eq!(breaches[0].observed, Value::Money(cny(limit + 1)));
    // An individual at 300,000 is far below 1,000,000 but the enterprise rule skips them.
    let person = customer_facts(individual(two_products(300_000_00, LenderKind::Other)));
    assert!(china_breaches(Scope::Origination, &person).is_empty());
}

#[test]
fn bank_consumer_credit_200k_counts_only_banks_unsecured_consumer_credit() {
    let limit = 200_000_00;
    let facts = |bank_consumer: i64| {
        customer_facts(individual(vec![
            exposure(
                LenderKind::CommercialBank,
                true,
                cny(bank_consumer - 50_000_00),
            ),
            exposure(LenderKind::CommercialBank, true, cny(50_000_00)),
            // Counted by the 300,000 rule, not by this one.
            exposure(LenderKind::CommercialBank, false, cny(50_000_00)),
            exposure(LenderKind::OnlineMicroLoanCompany, true, cny(40_000_00)),
        ]))
    };
    assert!(china_breaches(Scope::Origination, &facts(limit)).is_empty());
    let breaches = china_breaches(Scope::LimitChange, &facts(limit + 1));
    assert_eq!(ids(&breaches), ["cn.bank.individual_consumer_credit_max"]);
    assert_eq!(breaches[0].observed, Value::Money(cny(limit + 1)));
    assert_eq!(breaches[0].limit, Value::Money(cny(limit)));
}

#[test]
fn exposure_in_another_currency_fails_closed() {
    let facts = customer_facts(individual(vec![
        exposure(LenderKind::Other, false, cny(1)),
        exposure(
            LenderKind::Other,
            false,
            Money::from_minor(1, Currency::Usd),
        ),
    ]));
    let breaches = china_breaches(Scope::Origination, &facts);
    assert!(ids(&breaches).contains(&"cn.microloan.individual_balance_max"));
    let breach = breaches
        .iter()
        .find(|b| b.rule_id == "cn.microloan.individual_balance_max")
        .unwrap();
    assert!(matches!(&breach.observed, Value::Invalid(reason) if reason.contains("USD")));
}

fn loan(purpose: Purpose, apr_percent: Decimal) -> Facts {
    Facts {
        loan: Some(LoanFacts {
            purpose,
            all_in_apr_percent: apr_percent,
        }),
        ..Facts::default()
    }
}

#[test]
fn all_in_apr_24_percent() {
    for scope in [
        Scope::Pricing,
        Scope::Origination,
        Scope::Purchase,
        Scope::Book,
    ] {
        assert!(china_breaches(scope, &loan(Purpose::Consumption, dec!(24))).is_empty());
        let breaches = china_breaches(scope, &loan(Purpose::Consumption, dec!(24.0001)));
        assert_eq!(ids(&breaches), ["cn.all_in_apr_max"], "{scope}");
        assert_eq!(breaches[0].observed, Value::Percent(dec!(24.0001)));
        assert_eq!(breaches[0].limit, Value::Percent(dec!(24)));
    }
}

#[test]
fn no_students() {
    let mut student = individual(vec![exposure(LenderKind::Other, false, cny(1_000_00))]);
    student.student = true;
    let breaches = china_breaches(Scope::Origination, &customer_facts(student.clone()));
    assert_eq!(ids(&breaches), ["cn.no_students"]);
    assert_eq!(breaches[0].observed, Value::Flag(true));
    student.student = false;
    assert!(china_breaches(Scope::Origination, &customer_facts(student)).is_empty());
}

#[test]
fn banned_purposes_each_blocked_others_pass() {
    for (purpose, rule) in [
        (Purpose::Securities, Some("cn.banned_purposes")),
        (Purpose::PropertyDownPayment, Some("cn.banned_purposes")),
        (Purpose::LoanRepayment, Some("cn.no_loan_repayment")),
        (Purpose::Consumption, None),
        (Purpose::BusinessOperation, None),
        (Purpose::Education, None),
        (Purpose::Medical, None),
        (Purpose::HomeImprovement, None),
        (Purpose::Other, None),
    ] {
        let breaches = china_breaches(Scope::Origination, &loan(purpose, dec!(10)));
        assert_eq!(
            ids(&breaches),
            rule.into_iter().collect::<Vec<_>>(),
            "{purpose:?}"
        );
        if let Some(breach) = breaches.first() {
            assert_eq!(breach.observed, Value::Purpose(purpose));
        }
    }
}

#[test]
fn colending_platform_share_30_percent() {
    let plan = |share: Decimal| Facts {
        colending: Some(ColendingFacts {
            platform_share: share,
        }),
        ..Facts::default()
    };
    assert!(china_breaches(Scope::Colending, &plan(dec!(0.30))).is_empty());
    let breaches = china_breaches(Scope::Colending, &plan(dec!(0.2999)));
    assert_eq!(ids(&breaches), ["cn.colending.platform_share_min"]);
    assert_eq!(breaches[0].observed, Value::Share(dec!(0.2999)));
    assert_eq!(breaches[0].limit, Value::Share(dec!(0.3)));
}

#[test]
fn leverage_once_net_assets_for_borrowing_four_times_for_bonds_and_abs() {
    let lender = |borrowing: i64, bonds: i64, net: i64| Facts {
        lender: Some(LenderFacts {
            net_assets: cny(net),
            borrowing: cny(borrowing),
            bonds_and_abs: cny(bonds),
        }),
        ..Facts::default()
    };
    let net = 5_000_000_000_01;
    assert!(china_breaches(Scope::Book, &lender(net, 4 * net, net)).is_empty());
    let breaches = china_breaches(Scope::Book, &lender(net + 1, 4 * net, net));
    assert_eq!(ids(&breaches), ["cn.microloan.leverage_borrowing_max"]);
    assert_eq!(breaches[0].limit, Value::Money(cny(net)));
    let breaches = china_breaches(Scope::Book, &lender(net, 4 * net + 1, net));
    assert_eq!(ids(&breaches), ["cn.microloan.leverage_bonds_abs_max"]);
    assert_eq!(breaches[0].limit, Value::Money(cny(4 * net)));
    // Negative net assets allow no funding, and no funding is no breach.
    assert!(china_breaches(Scope::Book, &lender(0, 0, -1)).is_empty());
    assert_eq!(china_breaches(Scope::Book, &lender(1, 0, -1)).len(), 1);
    // Leverage is a book rule only.
    assert!(china_breaches(Scope::Origination, &lender(net + 1, 0, net)).is_empty());
}

fn disclosure(shown: Vec<DisclosureField>, apr: Option<AprDisclosure>, prominent: bool) -> Facts {
    Facts {
        disclosure: Some(DisclosureFacts {
            fields_shown: shown,
            apr,
            annual_rate_at_least_as_prominent: prominent,
        }),
        ..Facts::default()
    }
}

const ALL_FIELDS: [DisclosureField; 5] = [
    DisclosureField::AmountFinanced,
    DisclosureField::FinanceCharge,
    DisclosureField::AnnualPercentageRate,
    DisclosureField::PaymentSchedule,
    DisclosureField::TotalOfPayments,
];

#[test]
fn annual_rate_prominence() {
    let ok = disclosure(vec![], None, true);
    assert!(china_breaches(Scope::Pricing, &ok).is_empty());
    let hidden = disclosure(vec![], None, false);
    assert_eq!(
        ids(&china_breaches(Scope::Pricing, &hidden)),
        ["cn.annual_rate_prominence"]
    );
}

#[test]
fn regulation_z_apr_within_an_eighth_or_a_quarter_point() {
    let pack = us_regulation_z();
    let apr = |disclosed: Decimal, regular: bool| {
        disclosure(
            ALL_FIELDS.to_vec(),
            Some(AprDisclosure {
                disclosed_percent: disclosed,
                actual_percent: dec!(9.685708),
                regular,
            }),
            true,
        )
    };
    let check = |facts: &Facts| ids(&evaluate(&pack, Scope::Pricing, facts, on())).len();
    assert_eq!(check(&apr(dec!(9.810708), true)), 0);
    assert_eq!(check(&apr(dec!(9.560708), true)), 0);
    assert_eq!(check(&apr(dec!(9.810709), true)), 1);
    assert_eq!(check(&apr(dec!(9.935708), false)), 0);
    assert_eq!(check(&apr(dec!(9.935709), false)), 1);
    let breaches = evaluate(&pack, Scope::Pricing, &apr(dec!(9.5), true), on());
    assert_eq!(ids(&breaches), ["us.regz.apr_accuracy"]);
    assert_eq!(
        breaches[0].limit,
        Value::PercentWithin {
            centre: dec!(9.685708),
            tolerance: dec!(0.125)
        }
    );
    // No APR disclosed at all fails closed.
    let breaches = evaluate(
        &pack,
        Scope::Pricing,
        &disclosure(ALL_FIELDS.to_vec(), None, true),
        on(),
    );
    assert_eq!(ids(&breaches), ["us.regz.apr_accuracy"]);
    assert_eq!(breaches[0].observed, Value::Missing("disclosure.apr"));
}

#[test]
fn regulation_z_closed_end_disclosure_fields() {
    let pack = us_regulation_z();
    let apr = Some(AprDisclosure {
        disclosed_percent: dec!(9.69),
        actual_percent: dec!(9.69),
        regular: true,
    });
    assert!(evaluate(
        &pack,
        Scope::Origination,
        &disclosure(ALL_FIELDS.to_vec(), apr, true),
        on()
    )
    .is_empty());
    for missing in ALL_FIELDS {
        let shown = ALL_FIELDS.into_iter().filter(|f| *f != missing).collect();
        let breaches = evaluate(
            &pack,
            Scope::Origination,
            &disclosure(shown, apr, true),
            on(),
        );
        assert_eq!(ids(&breaches), ["us.regz.closed_end_disclosures"]);
        assert_eq!(breaches[0].observed, Value::Fields(vec![missing]));
    }
}

#[test]
fn only_packs_in_effect_apply() {
    let facts = loan(Purpose::Securities, dec!(36));
    let mut pack: RulePack = china_online_lending();
    assert!(evaluate(&pack, Scope::Origination, &facts, date("2021-02-28")).is_empty());
    assert_eq!(
        evaluate(&pack, Scope::Origination, &facts, date("2021-03-01")).len(),
        2
    );
    pack.effective_to = Some(date("2025-12-31"));
    assert_eq!(
        evaluate(&pack, Scope::Origination, &facts, date("2025-12-31")).len(),
        2
    );
    assert!(evaluate(&pack, Scope::Origination, &facts, date("2026-01-01")).is_empty());
}

#[test]
fn a_pack_set_applies_every_pack_in_effect_and_names_what_it_could_not_check() {
    let set = builtin_packs();
    let mut facts = loan(Purpose::Consumption, dec!(25));
    facts.disclosure = Some(DisclosureFacts {
        fields_shown: vec![],
        apr: None,
        annual_rate_at_least_as_prominent: true,
    });
    let breaches = set.evaluate(Scope::Pricing, &facts, on());
    assert_eq!(
        ids(&breaches),
        [
            "cn.all_in_apr_max",
            "us.regz.apr_accuracy",
            "us.regz.closed_end_disclosures"
        ]
    );
    // Without customer facts the origination rules that read them are listed as unchecked.
    let china = china_online_lending();
    let skipped = unevaluated(&china, Scope::Origination, &facts, on());
    assert_eq!(
        skipped,
        [
            "cn.microloan.individual_balance_max",
            "cn.microloan.individual_income_share_max",
            "cn.microloan.enterprise_balance_max",
            "cn.bank.individual_consumer_credit_max",
            "cn.no_students",
            "cn.colending.platform_share_min",
        ]
    );
    assert!(set.unevaluated(Scope::Pricing, &facts, on()).is_empty());
}

/// Facts that break every rule they reach: an individual (`individual` true) or an
/// enterprise, a purpose that is banned, and every other group past its limit.
fn breaking_everything(individual_customer: bool) -> Facts {
    let over = exposure(LenderKind::CommercialBank, true, cny(2_000_000_00));
    let customer = CustomerFacts {
        kind: if individual_customer {
            CustomerKind::Individual
        } else {
            CustomerKind::Enterprise
        },
        student: true,
        income_history: vec![AnnualIncome {
            year: 2026,
            amount: cny(3_000_00),
        }],
        exposure: vec![over],
    };
    Facts {
        customer: Some(customer),
        loan: Some(LoanFacts {
            purpose: if individual_customer {
                Purpose::Securities
            } else {
                Purpose::LoanRepayment
            },
            all_in_apr_percent: dec!(36),
        }),
        colending: Some(ColendingFacts {
            platform_share: dec!(0.1),
        }),
        disclosure: Some(DisclosureFacts {
            fields_shown: vec![],
            apr: Some(AprDisclosure {
                disclosed_percent: dec!(5),
                actual_percent: dec!(36),
                regular: true,
            }),
            annual_rate_at_least_as_prominent: false,
        }),
        lender: Some(LenderFacts {
            net_assets: cny(1_00),
            borrowing: cny(2_00),
            bonds_and_abs: cny(5_00),
        }),
    }
}

#[test]
fn in_every_scope_exactly_the_rules_that_list_it_apply() {
    let set = builtin_packs();
    for scope in Scope::ALL {
        let mut applied: Vec<String> = [true, false]
            .into_iter()
            .flat_map(|individual| set.evaluate(scope, &breaking_everything(individual), on()))
            .map(|breach| breach.rule_id)
            .collect();
        applied.sort();
        applied.dedup();
        let mut listed: Vec<String> = set
            .packs()
            .iter()
            .flat_map(|pack| &pack.rules)
            .filter(|rule| rule.scopes.contains(&scope))
            .map(|rule| rule.id.clone())
            .collect();
        listed.sort();
        assert_eq!(applied, listed, "{scope}");
        assert!(set
            .unevaluated(scope, &breaking_everything(true), on())
            .is_empty());
    }
}
