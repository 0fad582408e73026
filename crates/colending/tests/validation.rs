//! Every validation error, each naming its field.

mod common;

use colending::*;
use common::*;
use money::Decimal;
use rust_decimal_macros::dec;

fn day(d: u32) -> money::BusinessDate {
    money::BusinessDate::from_ymd(2026, 1, d).unwrap()
}

fn partner_errors(edit: impl FnOnce(&mut FundingPartner)) -> Vec<(String, &'static str)> {
    let mut p = partner(BANK_A, PartnerKind::Bank, Some("0.068"));
    edit(&mut p);
    match p.validate() {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(|e| (e.to_string(), e.field())).collect(),
    }
}

fn fields(errors: &[(String, &'static str)]) -> Vec<&'static str> {
    errors.iter().map(|(_, f)| *f).collect()
}

#[test]
fn a_good_partner_passes() {
    assert!(partner_errors(|_| {}).is_empty());
    let callback = partner_errors(|p| {
        p.approval = ApprovalMode::Callback {
            url: "https://bank.example/approve".into(),
            secret: "0123456789abcdef".into(),
            timeout_ms: 3_000,
        }
    });
    assert!(callback.is_empty(), "{callback:?}");
}

#[test]
fn partner_errors_name_their_fields() {
    assert_eq!(fields(&partner_errors(|p| p.name = " ".into())), ["name"]);
    assert_eq!(
        fields(&partner_errors(
            |p| p.yield_annual = Some("1.0".parse().unwrap())
        )),
        ["yield_annual"]
    );
    assert_eq!(
        fields(&partner_errors(|p| p.quota_minor = 0)),
        ["quota_minor"]
    );
    assert_eq!(
        fields(&partner_errors(|p| p.daily_quota_minor = -1)),
        ["daily_quota_minor"]
    );
    let above = partner_errors(|p| p.daily_quota_minor = p.quota_minor + 1);
    assert_eq!(fields(&above), ["daily_quota_minor"]);
    assert!(above[0].0.contains("exceeds the quota"), "{above:?}");
}

#[test]
fn eligibility_errors_name_their_fields() {
    let e = |edit: fn(&mut Eligibility)| fields(&partner_errors(|p| edit(&mut p.eligibility)));
    assert_eq!(
        e(|el| el.score_min = Some(dec!(-1))),
        ["eligibility.score_min"]
    );
    assert_eq!(
        e(|el| el.amount_min_minor = Some(-5)),
        ["eligibility.amount_min_minor"]
    );
    assert_eq!(
        e(|el| {
            el.amount_min_minor = Some(10);
            el.amount_max_minor = Some(5);
        }),
        ["eligibility.amount_max_minor"]
    );
    assert_eq!(
        e(|el| {
            el.term_months_min = Some(24);
            el.term_months_max = Some(12);
        }),
        ["eligibility.term_months_max"]
    );
    assert_eq!(
        e(|el| el.regions = vec![String::new()]),
        ["eligibility.regions"]
    );
    assert_eq!(
        e(|el| el.products = vec!["  ".into()]),
        ["eligibility.products"]
    );
}

#[test]
fn callback_errors_name_their_fields() {
    let with = |url: &str, secret: &str, timeout_ms: u32| {
        fields(&partner_errors(|p| {
            p.approval = ApprovalMode::Callback {
                url: url.into(),
                secret: secret.into(),
                timeout_ms,
            }
        }))
    };
    let secret = "0123456789abcdef";
    for bad in [
        "ftp://bank",
        "https://",
        "bank.example",
        "http://:80/x",
        "https://a b",
    ] {
        assert_eq!(with(bad, secret, 1000), ["approval.url"], "{bad}");
    }
    assert_eq!(
        with("http://127.0.0.1:9/a", "short", 1000),
        ["approval.secret"]
    );
    assert_eq!(
        with("https://b.example", secret, 0),
        ["approval.timeout_ms"]
    );
    assert_eq!(
        with("https://b.example", secret, 60_001),
        ["approval.timeout_ms"]
    );
}

#[test]
fn eligibility_misses_are_named() {
    let mut p = partner(BANK_A, PartnerKind::Bank, None);
    p.eligibility = Eligibility {
        score_min: Some(dec!(600)),
        amount_min_minor: Some(100_000),
        amount_max_minor: Some(5_000_000),
        term_months_min: Some(6),
        term_months_max: Some(24),
        regions: vec!["310000".into()],
        products: vec!["consumer-12".into()],
    };
    assert_eq!(p.eligible(&request(1_000_000)), Ok(()));
    let miss = |edit: fn(&mut LoanRequest)| {
        let mut r = request(1_000_000);
        edit(&mut r);
        p.eligible(&r).unwrap_err()
    };
    assert_eq!(miss(|r| r.score = Some(dec!(599.9))), Ineligible::Score);
    assert_eq!(miss(|r| r.score = None), Ineligible::Score);
    assert_eq!(
        miss(|r| r.amount = money::Money::from_minor(99_999, CNY)),
        Ineligible::Amount
    );
    assert_eq!(
        miss(|r| r.amount = money::Money::from_minor(1, money::Currency::Usd)),
        Ineligible::Currency
    );
    assert_eq!(miss(|r| r.term_months = 36), Ineligible::Term);
    assert_eq!(
        miss(|r| r.region = Some("110000".into())),
        Ineligible::Region
    );
    assert_eq!(miss(|r| r.region = None), Ineligible::Region);
    assert_eq!(miss(|r| r.product = "auto".into()), Ineligible::Product);
    // Without a cut-off or a region list, a loan with neither is eligible.
    let open = partner(BANK_A, PartnerKind::Bank, None);
    let mut unknown = request(1_000_000);
    (unknown.score, unknown.region) = (None, None);
    assert_eq!(open.eligible(&unknown), Ok(()));
}

fn plan_fields(plan: FundingPlan) -> Vec<String> {
    let rules = PlanRules::new(PLATFORM);
    match plan.validate(&partners(), &rules) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(PlanError::field).collect(),
    }
}

#[test]
fn fixed_plan_errors_name_their_fields() {
    let ok = FundingPlan::Fixed(vec![share(PLATFORM, "0.3"), share(BANK_A, "0.7")]);
    assert!(plan_fields(ok).is_empty());
    assert_eq!(
        plan_fields(FundingPlan::Fixed(vec![])),
        ["shares", "shares"]
    );
    let short = FundingPlan::Fixed(vec![share(PLATFORM, "0.3"), share(BANK_A, "0.69")]);
    assert_eq!(plan_fields(short), ["shares"]);
    let over = FundingPlan::Fixed(vec![share(PLATFORM, "1.3"), share(BANK_A, "-0.3")]);
    assert_eq!(plan_fields(over), ["shares[0].share", "shares[1].share"]);
    let unknown = FundingPlan::Fixed(vec![share(PLATFORM, "0.3"), share(PartnerId(77), "0.7")]);
    assert_eq!(plan_fields(unknown), ["shares[1].partner_id"]);
    let twice = FundingPlan::Fixed(vec![
        share(PLATFORM, "0.3"),
        share(BANK_A, "0.35"),
        share(BANK_A, "0.35"),
    ]);
    assert_eq!(plan_fields(twice), ["shares[2].partner_id"]);
    let low = FundingPlan::Fixed(vec![share(PLATFORM, "0.29"), share(BANK_A, "0.71")]);
    assert_eq!(plan_fields(low), ["shares"]);
}

#[test]
fn plan_currency_and_platform_kind_are_checked() {
    let mut list = partners();
    list[1].currency = money::Currency::Usd;
    let rules = PlanRules::new(PLATFORM);
    let plan = FundingPlan::Fixed(vec![share(PLATFORM, "0.3"), share(BANK_A, "0.7")]);
    let errors = plan.validate(&list, &rules).unwrap_err();
    assert_eq!(
        errors,
        [PlanError::Currency {
            field: "shares",
            index: 1
        }]
    );
    let rules = PlanRules::new(BANK_B);
    let errors = plan.validate(&partners(), &rules).unwrap_err();
    assert_eq!(errors[0].field(), "platform_id");
}

#[test]
fn routing_policy_errors_name_their_fields() {
    let candidate = |partner_id, share_max: Decimal| Candidate {
        partner_id,
        priority: 0,
        share_max,
        book_share_max: None,
    };
    let policy = |candidates, share_step| {
        FundingPlan::Routed(RoutingPolicy {
            candidates,
            order: RouteOrder::Priority,
            share_step,
        })
    };
    let good = policy(
        vec![candidate(PLATFORM, dec!(1)), candidate(BANK_A, dec!(0.7))],
        dec!(0.01),
    );
    assert!(plan_fields(good).is_empty());
    assert_eq!(
        plan_fields(policy(vec![candidate(PLATFORM, dec!(1))], dec!(0))),
        ["share_step"]
    );
    assert_eq!(
        plan_fields(policy(vec![candidate(PLATFORM, dec!(0.2))], dec!(0.01))),
        ["candidates"]
    );
    assert_eq!(
        plan_fields(policy(
            vec![candidate(PLATFORM, dec!(1)), candidate(BANK_A, dec!(1.5))],
            dec!(0.01)
        )),
        ["candidates[].share_max"]
    );
    assert_eq!(
        plan_fields(policy(vec![], dec!(0.01))),
        ["candidates", "candidates"]
    );
}

#[test]
fn funding_refuses_bad_shares_and_events_refuse_bad_amounts() {
    let bad = LoanFunding::new(agreement(None), &terms(&[share(PLATFORM, "0.5")], &[None]));
    assert_eq!(bad.unwrap_err()[0].field(), "shares");
    let twice = terms(
        &[share(PLATFORM, "0.5"), share(PLATFORM, "0.5")],
        &[None, None],
    );
    assert_eq!(
        LoanFunding::new(agreement(None), &twice).unwrap_err()[0].field(),
        "shares[1].partner_id"
    );
    let funding = LoanFunding::new(
        agreement(None),
        &terms(
            &[share(PLATFORM, "0.3"), share(BANK_A, "0.7")],
            &[None, Some("0.068")],
        ),
    )
    .unwrap();
    let repaid = LoanEvent::Repaid(Repayment::default());
    assert_eq!(
        apply_event(&funding, &repaid),
        Err(EventError::NotDisbursed)
    );
    let zero = LoanEvent::Disbursed {
        principal_minor: 0,
        on: day(1),
    };
    assert_eq!(
        apply_event(&funding, &zero),
        Err(EventError::NotPositive {
            field: "principal_minor"
        })
    );
    let live = apply_event(
        &funding,
        &LoanEvent::Disbursed {
            principal_minor: 10_000,
            on: day(1),
        },
    )
    .unwrap()
    .funding;
    let again = LoanEvent::Disbursed {
        principal_minor: 1,
        on: day(1),
    };
    assert_eq!(
        apply_event(&live, &again),
        Err(EventError::AlreadyDisbursed)
    );
    let charge = |c: Charge| apply_event(&live, &LoanEvent::Charged(c));
    assert_eq!(
        charge(Charge {
            fee_minor: -1,
            ..Charge::default()
        }),
        Err(EventError::Negative { field: "fee_minor" })
    );
    assert_eq!(
        charge(Charge {
            interest_minor: 5,
            ..Charge::default()
        }),
        Err(EventError::MissingInterestThrough)
    );
    assert_eq!(
        charge(Charge {
            interest_minor: 5,
            interest_through: Some(day(1).pred()),
            ..Charge::default()
        }),
        Err(EventError::InterestThroughTooEarly { from: day(1) })
    );
    assert_eq!(
        charge(Charge {
            guarantee_fee_minor: 5,
            ..Charge::default()
        }),
        Err(EventError::NoGuarantor)
    );
    let too_much = Repayment {
        principal_minor: 10_001,
        ..Repayment::default()
    };
    assert_eq!(
        apply_event(&live, &LoanEvent::Repaid(too_much)),
        Err(EventError::AboveOutstanding {
            balance: Balance::Principal,
            requested_minor: 10_001,
            outstanding_minor: 10_000
        })
    );
    assert_eq!(
        apply_event(&live, &LoanEvent::Recovered { amount_minor: 1 }),
        Err(EventError::AboveOutstanding {
            balance: Balance::WrittenOff,
            requested_minor: 1,
            outstanding_minor: 0
        })
    );
}

#[test]
fn first_loss_deposit_errors_name_their_fields() {
    let field = |r: Result<FirstLossDeposit, GuaranteeError>| match r {
        Err(GuaranteeError::Field { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field(FirstLossDeposit::new(" ".into(), dec!(0.05), 1, 0)),
        "portfolio"
    );
    assert_eq!(
        field(FirstLossDeposit::new("p".into(), dec!(0), 1, 0)),
        "cap_fraction"
    );
    assert_eq!(
        field(FirstLossDeposit::new("p".into(), dec!(1.01), 1, 0)),
        "cap_fraction"
    );
    assert_eq!(
        field(FirstLossDeposit::new("p".into(), dec!(0.05), 0, 0)),
        "portfolio_principal_minor"
    );
    assert_eq!(
        field(FirstLossDeposit::new("p".into(), dec!(0.05), 1, -1)),
        "deposited_minor"
    );
}
