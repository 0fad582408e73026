//! Validation of rule packs and of sets of pack versions.

use compliance::{
    builtin_packs, china_online_lending, us_regulation_z, Condition, DisclosureField, Fraction,
    PackError, PackProblem, PackSet, Purpose, RuleKind, RulePack, Scope, SourceStatus,
};
use money::{BusinessDate, Currency, Decimal, Money};

fn date(s: &str) -> BusinessDate {
    s.parse().unwrap()
}

fn refused(pack: &RulePack) -> PackError {
    pack.validate().expect_err("the pack must be refused")
}

#[test]
fn the_builtin_packs_are_valid_and_name_a_source_for_every_rule() {
    let set = builtin_packs();
    assert_eq!(set.packs().len(), 2);
    for pack in set.packs() {
        pack.validate().unwrap();
        for rule in &pack.rules {
            assert!(!rule.source.regulation.is_empty(), "{}", rule.id);
            assert!(!rule.source.article.is_empty(), "{}", rule.id);
        }
    }
    let china = china_online_lending();
    let status = |id: &str| china.rule(id).unwrap().source.status;
    // Honest statuses: the 2020 micro-lending measures are a draft, 24% is a convention.
    assert_eq!(
        status("cn.microloan.individual_balance_max"),
        SourceStatus::Draft
    );
    assert_eq!(
        status("cn.microloan.leverage_bonds_abs_max"),
        SourceStatus::Draft
    );
    assert_eq!(status("cn.all_in_apr_max"), SourceStatus::Convention);
    assert_eq!(
        status("cn.bank.individual_consumer_credit_max"),
        SourceStatus::InForce
    );
    assert_eq!(
        status("cn.colending.platform_share_min"),
        SourceStatus::Notice
    );
    assert_eq!(
        set.rule("us.regz.apr_accuracy", date("2026-12-06"))
            .unwrap()
            .0
            .id,
        "us.regulation_z"
    );
}

#[test]
fn pack_fields_are_refused_with_their_path() {
    let base = china_online_lending();
    type Change = Box<dyn Fn(&mut RulePack)>;
    let cases: Vec<(Change, &str, PackProblem)> = vec![
        (
            Box::new(|p| p.id = "CN online".into()),
            "id",
            PackProblem::BadId,
        ),
        (
            Box::new(|p| p.id = "cn..x".into()),
            "id",
            PackProblem::BadId,
        ),
        (
            Box::new(|p| p.version = 0),
            "version",
            PackProblem::VersionZero,
        ),
        (
            Box::new(|p| p.jurisdiction = "China".into()),
            "jurisdiction",
            PackProblem::BadJurisdiction,
        ),
        (
            Box::new(|p| p.effective_to = Some(date("2021-02-28"))),
            "effective_to",
            PackProblem::EndsBeforeStart,
        ),
        (Box::new(|p| p.rules.clear()), "rules", PackProblem::Empty),
        (
            Box::new(|p| p.rules[2].id = p.rules[0].id.clone()),
            "rules[2].id",
            PackProblem::DuplicateRule("cn.microloan.individual_balance_max".into()),
        ),
        (
            Box::new(|p| p.rules[1].message = "  ".into()),
            "rules[1].message",
            PackProblem::Empty,
        ),
        (
            Box::new(|p| p.rules[3].source.regulation.clear()),
            "rules[3].source.regulation",
            PackProblem::Empty,
        ),
        (
            Box::new(|p| p.rules[3].source.article.clear()),
            "rules[3].source.article",
            PackProblem::Empty,
        ),
        (
            Box::new(|p| p.rules[0].scopes.clear()),
            "rules[0].scopes",
            PackProblem::Empty,
        ),
        (
            Box::new(|p| p.rules[0].scopes.push(Scope::Origination)),
            "rules[0].scopes[4]",
            PackProblem::DuplicateScope(Scope::Origination),
        ),
        (
            Box::new(|p| p.rules[10].scopes.push(Scope::Purchase)),
            "rules[10].scopes[1]",
            PackProblem::ScopeNotAllowed {
                kind: RuleKind::LeverageMax,
                scope: Scope::Purchase,
            },
        ),
        (
            Box::new(|p| {
                p.rules[0].condition = Condition::IndividualBalanceMax {
                    limit: Money::zero(Currency::Cny),
                    funder_kind: None,
                    consumer_credit_only: false,
                }
            }),
            "rules[0].condition.limit_minor",
            PackProblem::NotPositive,
        ),
        (
            Box::new(|p| {
                p.rules[1].condition = Condition::IncomeShareMax {
                    share: Fraction {
                        numerator: 4,
                        denominator: 3,
                    },
                    years: 3,
                    funder_kind: None,
                }
            }),
            "rules[1].condition.share",
            PackProblem::ShareOutOfRange,
        ),
        (
            Box::new(|p| {
                p.rules[1].condition = Condition::IncomeShareMax {
                    share: Fraction {
                        numerator: 1,
                        denominator: 3,
                    },
                    years: 0,
                    funder_kind: None,
                }
            }),
            "rules[1].condition.years",
            PackProblem::NotPositive,
        ),
        (
            Box::new(|p| {
                p.rules[4].condition = Condition::AllInAprMax {
                    percent: Decimal::new(1001, 1),
                }
            }),
            "rules[4].condition.percent",
            PackProblem::PercentOutOfRange,
        ),
        (
            Box::new(|p| {
                p.rules[7].condition = Condition::BannedPurposes {
                    purposes: vec![Purpose::Securities, Purpose::Securities],
                }
            }),
            "rules[7].condition.purposes[1]",
            PackProblem::Duplicate("Securities".into()),
        ),
        (
            Box::new(|p| p.rules[7].condition = Condition::BannedPurposes { purposes: vec![] }),
            "rules[7].condition.purposes",
            PackProblem::Empty,
        ),
        (
            Box::new(|p| {
                p.rules[9].condition = Condition::PlatformShareMin {
                    share: Decimal::ZERO,
                }
            }),
            "rules[9].condition.share",
            PackProblem::ShareOutOfRange,
        ),
        (
            Box::new(|p| {
                p.rules[10].condition = Condition::LeverageMax {
                    funding: compliance::FundingKind::Borrowing,
                    multiple: Decimal::ZERO,
                }
            }),
            "rules[10].condition.multiple",
            PackProblem::NotPositive,
        ),
    ];
    for (change, field, problem) in cases {
        let mut pack = base.clone();
        change(&mut pack);
        let error = refused(&pack);
        assert_eq!(
            (error.field.as_str(), &error.problem),
            (field, &problem),
            "{error}"
        );
    }
}

#[test]
fn disclosure_fields_are_checked_for_duplicates() {
    let mut pack = us_regulation_z();
    pack.rules[1].condition = Condition::DisclosureFields {
        fields: vec![
            DisclosureField::FinanceCharge,
            DisclosureField::FinanceCharge,
        ],
    };
    assert_eq!(refused(&pack).field, "rules[1].condition.fields[1]");
}

#[test]
fn an_unknown_rule_kind_is_refused_and_every_known_one_parses() {
    for kind in RuleKind::ALL {
        assert_eq!(RuleKind::parse(kind.as_str(), 0), Ok(kind));
        assert!(!kind.allowed_scopes().is_empty());
    }
    let error = RuleKind::parse("max_loan_to_value", 4).unwrap_err();
    assert_eq!(error.field, "rules[4].kind");
    assert_eq!(
        error.problem,
        PackProblem::UnknownRuleKind("max_loan_to_value".into())
    );
    for scope in Scope::ALL {
        assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
    }
    assert!("everywhere".parse::<Scope>().is_err());
}

fn version(version: u32, from: &str, to: Option<&str>) -> RulePack {
    let mut pack = china_online_lending();
    pack.version = version;
    pack.effective_from = date(from);
    pack.effective_to = to.map(date);
    pack
}

#[test]
fn versions_of_one_pack_may_follow_each_other_but_not_overlap() {
    let set = PackSet::new(vec![
        version(1, "2021-03-01", Some("2025-12-31")),
        version(2, "2026-01-01", None),
        us_regulation_z(),
    ])
    .unwrap();
    let in_effect = |on: &str| -> Vec<(String, u32)> {
        set.in_effect(date(on))
            .map(|p| (p.id.clone(), p.version))
            .collect()
    };
    assert_eq!(in_effect("2025-12-31")[0], ("cn.online_lending".into(), 1));
    assert_eq!(in_effect("2026-01-01")[0], ("cn.online_lending".into(), 2));
    assert_eq!(in_effect("2021-02-28"), vec![("us.regulation_z".into(), 1)]);

    let error = PackSet::new(vec![
        version(1, "2021-03-01", Some("2026-01-01")),
        version(2, "2026-01-01", None),
    ])
    .unwrap_err();
    assert_eq!(error.field, "packs[1].effective_from");
    assert!(matches!(
        error.problem,
        PackProblem::Overlap {
            other_version: 1,
            ..
        }
    ));

    // An open-ended version overlaps every later one.
    let error = PackSet::new(vec![
        version(2, "2030-01-01", None),
        version(1, "2021-03-01", None),
    ])
    .unwrap_err();
    assert!(matches!(
        error.problem,
        PackProblem::Overlap {
            other_version: 2,
            ..
        }
    ));

    let error = PackSet::new(vec![
        version(1, "2021-03-01", Some("2021-12-31")),
        version(1, "2022-01-01", None),
    ])
    .unwrap_err();
    assert_eq!(error.field, "packs[1].version");

    let error = PackSet::new(vec![
        version(2, "2021-03-01", Some("2021-12-31")),
        version(1, "2022-01-01", None),
    ])
    .unwrap_err();
    assert!(matches!(error.problem, PackProblem::VersionOrder { .. }));

    let mut bad = version(1, "2021-03-01", None);
    bad.rules[0].scopes.clear();
    let error = PackSet::new(vec![us_regulation_z(), bad]).unwrap_err();
    assert_eq!(error.field, "packs[1].rules[0].scopes");
}

#[test]
fn a_rule_id_belongs_to_one_pack_only_and_unknown_ids_are_named() {
    let mut other = us_regulation_z();
    other.rules[1].id = "cn.no_students".into();
    let error = PackSet::new(vec![china_online_lending(), other]).unwrap_err();
    assert_eq!(error.field, "packs[1].rules[1].id");

    let set = builtin_packs();
    let error = set.rule("cn.no_such_rule", date("2026-12-06")).unwrap_err();
    assert_eq!(error.field, "rule_id");
    assert_eq!(
        error.problem,
        PackProblem::UnknownRule("cn.no_such_rule".into())
    );
    // Before the pack takes effect its rules are unknown too.
    assert!(set.rule("cn.no_students", date("2021-02-28")).is_err());
}
