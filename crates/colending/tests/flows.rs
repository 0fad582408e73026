//! Worked examples: routing with fallback, the interest spread, guarantee and first loss.

mod common;

use colending::*;
use common::*;
use money::BusinessDate;
use rust_decimal_macros::dec;
use std::collections::BTreeSet;

fn date(y: i32, m: u32, d: u32) -> BusinessDate {
    BusinessDate::from_ymd(y, m, d).unwrap()
}

fn candidate(partner_id: PartnerId, priority: u32, share_max: &str) -> Candidate {
    Candidate {
        partner_id,
        priority,
        share_max: share_max.parse().unwrap(),
        book_share_max: None,
    }
}

fn policy(order: RouteOrder) -> FundingPlan {
    FundingPlan::Routed(RoutingPolicy {
        candidates: vec![
            candidate(PLATFORM, 9, "1"),
            candidate(BANK_A, 1, "0.5"),
            candidate(BANK_B, 2, "0.5"),
            candidate(TRUST, 3, "0.7"),
        ],
        order,
        share_step: dec!(0.01),
    })
}

fn choose(
    plan: &FundingPlan,
    usage: &BookUsage,
    declined: &[PartnerId],
) -> Result<Vec<Share>, Decline> {
    let declined: BTreeSet<PartnerId> = declined.iter().copied().collect();
    let rules = PlanRules::new(PLATFORM);
    plan.validate(&partners(), &rules).unwrap();
    plan.choose(&partners(), &rules, &request(1_000_000), usage, &declined)
}

#[test]
fn routing_by_priority_fills_the_best_funders_first() {
    let shares = choose(&policy(RouteOrder::Priority), &BookUsage::default(), &[]).unwrap();
    assert_eq!(
        shares,
        [
            share(PLATFORM, "0.3"),
            share(BANK_A, "0.5"),
            share(BANK_B, "0.2")
        ]
    );
    // By cost the cheaper bank (5%) comes before the 6.8% one; the trust (pro rata) last.
    let shares = choose(&policy(RouteOrder::Cost), &BookUsage::default(), &[]).unwrap();
    assert_eq!(
        shares,
        [
            share(PLATFORM, "0.3"),
            share(BANK_B, "0.5"),
            share(BANK_A, "0.2")
        ]
    );
}

#[test]
fn quota_and_fallback_shift_the_funding() {
    // Bank A has 250,001 fen of quota room: one unit of margin leaves 0.25 of 1,000,000.
    let usage = BookUsage {
        partners: vec![PartnerUsage {
            partner_id: BANK_A,
            outstanding_minor: 1_000_000_000 - 250_001,
            disbursed_today_minor: 0,
        }],
        book_outstanding_minor: 5_000_000_000,
    };
    let shares = choose(&policy(RouteOrder::Priority), &usage, &[]).unwrap();
    assert_eq!(
        shares,
        [
            share(PLATFORM, "0.3"),
            share(BANK_A, "0.25"),
            share(BANK_B, "0.45")
        ]
    );
    // Bank A declines at approval: the policy chooses again without it.
    let shares = choose(&policy(RouteOrder::Priority), &usage, &[BANK_A]).unwrap();
    assert_eq!(
        shares,
        [
            share(PLATFORM, "0.3"),
            share(BANK_B, "0.5"),
            share(TRUST, "0.2")
        ]
    );
}

#[test]
fn a_decline_gives_every_funders_reason() {
    let plan = FundingPlan::Routed(RoutingPolicy {
        candidates: vec![candidate(PLATFORM, 0, "0.3"), candidate(BANK_A, 1, "0.7")],
        order: RouteOrder::Priority,
        share_step: dec!(0.01),
    });
    let decline = choose(&plan, &BookUsage::default(), &[BANK_A]).unwrap_err();
    assert_eq!(
        decline.reasons,
        [
            (PLATFORM, DeclineReason::Incomplete),
            (BANK_A, DeclineReason::Declined)
        ]
    );
    let usage = BookUsage {
        partners: vec![PartnerUsage {
            partner_id: BANK_A,
            outstanding_minor: 0,
            disbursed_today_minor: 100_000_000,
        }],
        book_outstanding_minor: 0,
    };
    let decline = choose(&plan, &usage, &[]).unwrap_err();
    assert_eq!(
        decline.reasons[1],
        (BANK_A, DeclineReason::DailyQuota { room_minor: 0 })
    );
    // A fixed plan cannot fall back: one decline declines the loan.
    let fixed = FundingPlan::Fixed(vec![share(PLATFORM, "0.3"), share(BANK_A, "0.7")]);
    let decline = choose(&fixed, &BookUsage::default(), &[BANK_A]).unwrap_err();
    assert_eq!(decline.reasons[1], (BANK_A, DeclineReason::Declined));
    assert!(choose(&fixed, &BookUsage::default(), &[]).is_ok());
}

#[test]
fn concentration_caps_hold_against_the_book() {
    let mut plan = policy(RouteOrder::Priority);
    if let FundingPlan::Routed(p) = &mut plan {
        p.candidates[1].book_share_max = Some(dec!(0.1));
    }
    // Bank A holds 95,000 of a 1,000,000 book; with this loan the book is 2,000,000, so
    // it may hold 200,000: 104,999 more with the margin unit, a share of 0.10.
    let usage = BookUsage {
        partners: vec![PartnerUsage {
            partner_id: BANK_A,
            outstanding_minor: 95_000,
            disbursed_today_minor: 0,
        }],
        book_outstanding_minor: 1_000_000,
    };
    let shares = choose(&plan, &usage, &[]).unwrap();
    assert_eq!(shares[1], share(BANK_A, "0.1"));
}

fn two_funders(guarantee: Option<GuaranteeTerms>) -> LoanFunding {
    let funders = terms(
        &[share(PLATFORM, "0.3"), share(BANK_A, "0.7")],
        &[None, Some("0.068")],
    );
    let funding = LoanFunding::new(agreement(guarantee), &funders).unwrap();
    apply(
        &funding,
        LoanEvent::Disbursed {
            principal_minor: 1_000_000,
            on: date(2026, 1, 1),
        },
    )
}

fn apply(funding: &LoanFunding, event: LoanEvent) -> LoanFunding {
    apply_event(funding, &event).unwrap().funding
}

fn january() -> Option<BusinessDate> {
    Some(date(2026, 1, 31))
}

#[test]
fn the_platform_keeps_the_spread_over_the_funders_yield() {
    let funding = two_funders(None);
    assert_eq!(funding.funders[0].held.principal_outstanding_minor, 300_000);
    assert_eq!(funding.funders[1].held.principal_outstanding_minor, 700_000);
    // 18% a year on 1,000,000 fen for 30 days is 14,795 fen. Pro-rata parts 4,438.5 and
    // 10,356.5: the tie goes to the earlier funder. Bank A's yield is 700,000 × 6.8% ×
    // 30/365 = 3,912.33, rounded down; the platform keeps 10,356 − 3,912 = 6,444.
    let charge = Charge {
        interest_minor: 14_795,
        interest_through: january(),
        ..Charge::default()
    };
    let outcome = apply_event(&funding, &LoanEvent::Charged(charge)).unwrap();
    let change = |holder, delta_minor| Change {
        holder,
        balance: Balance::Interest,
        delta_minor,
    };
    assert_eq!(
        outcome.changes,
        [
            change(Holder::Funder(PLATFORM), 4_439),
            change(Holder::Funder(BANK_A), 3_912),
            change(Holder::Platform, 6_444),
        ]
    );
    // The borrower pays less interest than bank A's yield: bank A takes its pro-rata part.
    let thin = Charge {
        interest_minor: 100,
        interest_through: january(),
        ..Charge::default()
    };
    let after = apply(&funding, LoanEvent::Charged(thin));
    assert_eq!(after.funders[1].held.interest_receivable_minor, 70);
    assert_eq!(after.platform.interest_receivable_minor, 0);
}

#[test]
fn fees_and_penalties_go_where_the_agreement_says() {
    let funding = two_funders(None);
    let charge = Charge {
        fee_minor: 1_001,
        penalty_minor: 11,
        ..Charge::default()
    };
    let after = apply(&funding, LoanEvent::Charged(charge));
    assert_eq!(after.platform.fee_receivable_minor, 1_001);
    assert_eq!(after.platform.penalty_receivable_minor, 11);
    let mut pro_rata = funding.clone();
    pro_rata.agreement.penalties = ChargeRule::ProRata;
    let after = apply(&pro_rata, LoanEvent::Charged(charge));
    assert_eq!(after.funders[0].held.penalty_receivable_minor, 3);
    assert_eq!(after.funders[1].held.penalty_receivable_minor, 8);
    // Fees given to the guarantor are its guarantee fee; only a guaranteed agreement may.
    let mut guaranteed = two_funders(Some(guarantee(80)));
    guaranteed.agreement.fees = ChargeRule::Guarantor;
    let after = apply(&guaranteed, LoanEvent::Charged(charge));
    let g = after.guarantor.as_ref().unwrap();
    assert_eq!(g.held.fee_receivable_minor, 1_001);
    assert_eq!(after.platform.fee_receivable_minor, 0);
    assert_eq!(after.totals.fee_receivable_minor, 1_001);
    let mut bare = agreement(None);
    bare.fees = ChargeRule::Guarantor;
    let funders = terms(&[share(PLATFORM, "1")], &[None]);
    assert_eq!(
        LoanFunding::new(bare, &funders).unwrap_err(),
        [PlanError::NoGuarantor { field: "fees" }]
    );
}

#[test]
fn the_guarantor_pays_once_and_is_repaid_first() {
    let funding = two_funders(Some(guarantee(80)));
    let interest = Charge {
        interest_minor: 14_795,
        interest_through: january(),
        ..Charge::default()
    };
    let funding = apply(&funding, LoanEvent::Charged(interest));
    let claim = GuaranteeClaim {
        claim_id: ClaimId(42),
        days_past_due: 79,
        overdue_principal_minor: 100_001,
    };
    assert_eq!(
        claim_guarantee(&funding, &claim),
        Err(GuaranteeError::NotDue {
            dpd: 79,
            trigger_dpd: 80
        })
    );
    let claim = GuaranteeClaim {
        days_past_due: 80,
        ..claim
    };
    let ClaimOutcome::Paid { outcome, payments } = claim_guarantee(&funding, &claim).unwrap()
    else {
        panic!("a due claim pays");
    };
    // The funders' principal goes from 1,000,000 to 899,999 split 0.3 / 0.7 by largest
    // remainder: 269,999.7 → 270,000 and 629,999.3 → 629,999.
    assert_eq!(
        payments,
        [
            ClaimPayment {
                partner_id: PLATFORM,
                principal_minor: 30_000,
                interest_minor: 4_439
            },
            ClaimPayment {
                partner_id: BANK_A,
                principal_minor: 70_001,
                interest_minor: 3_912
            },
        ]
    );
    let funding = outcome.funding;
    let guarantor = funding.guarantor.as_ref().unwrap();
    assert_eq!(guarantor.held.principal_outstanding_minor, 100_001);
    assert_eq!(
        claim_guarantee(&funding, &claim),
        Ok(ClaimOutcome::AlreadySettled)
    );
    // A later claim with the same overdue principal moves nothing new.
    let later = GuaranteeClaim {
        claim_id: ClaimId(43),
        ..claim
    };
    let ClaimOutcome::Paid { payments, .. } = claim_guarantee(&funding, &later).unwrap() else {
        panic!("a new claim id is paid");
    };
    assert!(payments
        .iter()
        .all(|p| p.principal_minor == 0 && p.interest_minor == 0));
    // The borrower repays 150,000 of principal: 100,001 to the guarantor first.
    let repaid = Repayment {
        principal_minor: 150_000,
        ..Repayment::default()
    };
    let funding = apply(&funding, LoanEvent::Repaid(repaid));
    assert_eq!(
        funding
            .guarantor
            .as_ref()
            .unwrap()
            .held
            .principal_outstanding_minor,
        0
    );
    let principal: Vec<i64> = funding
        .funders
        .iter()
        .map(|f| f.held.principal_outstanding_minor)
        .collect();
    assert_eq!(principal, [255_000, 595_000]);
}

#[test]
fn recoveries_after_write_off_go_to_the_guarantor_first() {
    let funding = two_funders(Some(guarantee(80)));
    let claim = GuaranteeClaim {
        claim_id: ClaimId(1),
        days_past_due: 90,
        overdue_principal_minor: 200_000,
    };
    let ClaimOutcome::Paid { outcome, .. } = claim_guarantee(&funding, &claim).unwrap() else {
        panic!("paid");
    };
    let funding = apply(&outcome.funding, LoanEvent::WrittenOff);
    assert_eq!(funding.totals.written_off_minor, 1_000_000);
    assert_eq!(funding.totals.principal_outstanding_minor, 0);
    let claim = GuaranteeClaim {
        claim_id: ClaimId(2),
        ..claim
    };
    assert_eq!(
        claim_guarantee(&funding, &claim),
        Err(GuaranteeError::WrittenOff)
    );
    let late = LoanEvent::Repaid(Repayment::default());
    assert_eq!(apply_event(&funding, &late), Err(EventError::WrittenOff));
    let funding = apply(
        &funding,
        LoanEvent::Recovered {
            amount_minor: 250_000,
        },
    );
    assert_eq!(
        funding.guarantor.as_ref().unwrap().held.written_off_minor,
        0
    );
    let left: Vec<i64> = funding
        .funders
        .iter()
        .map(|f| f.held.written_off_minor)
        .collect();
    // 800,000 of funders' claims less 50,000 split 240,000 : 560,000.
    assert_eq!(left, [225_000, 525_000]);
}

#[test]
fn a_first_loss_deposit_pays_up_to_its_cap_once() {
    let funding = apply(&two_funders(None), LoanEvent::WrittenOff);
    // 5% of a 2,000,000 portfolio caps the deposit at 100,000 though 150,000 was put up.
    let deposit =
        FirstLossDeposit::new("consumer-2026".into(), dec!(0.05), 2_000_000, 150_000).unwrap();
    assert_eq!(deposit.cap_minor(), 100_000);
    let FirstLossOutcome::Drawn {
        deposit,
        outcome,
        payments,
    } = draw_first_loss(&deposit, &funding, PLATFORM, ClaimId(7)).unwrap()
    else {
        panic!("drawn");
    };
    assert_eq!(payments, [(BANK_A, 100_000)]);
    assert_eq!(deposit.available_minor(), 0);
    assert_eq!(outcome.funding.platform.written_off_minor, 100_000);
    assert_eq!(
        draw_first_loss(&deposit, &outcome.funding, PLATFORM, ClaimId(7)),
        Ok(FirstLossOutcome::AlreadySettled)
    );
    let live = two_funders(None);
    assert_eq!(
        draw_first_loss(&deposit, &live, PLATFORM, ClaimId(8)),
        Err(GuaranteeError::NotWrittenOff)
    );
}

#[test]
fn the_guarantee_fee_is_a_rate_on_principal() {
    let fee = guarantee_fee_minor(
        &guarantee(80),
        1_000_000,
        date(2026, 1, 1),
        date(2026, 1, 31),
        money::DayCount::Act365F,
        money::RoundingMode::HalfUp,
    )
    .unwrap();
    // 1,000,000 × 2% × 30/365 = 1,643.84
    assert_eq!(fee, 1_644);
    let funding = two_funders(Some(guarantee(80)));
    let charge = Charge {
        guarantee_fee_minor: fee,
        ..Charge::default()
    };
    let funding = apply(&funding, LoanEvent::Charged(charge));
    assert_eq!(
        funding
            .guarantor
            .as_ref()
            .unwrap()
            .held
            .fee_receivable_minor,
        1_644
    );
    assert_eq!(funding.totals.fee_receivable_minor, 1_644);
}

#[test]
fn a_whole_yield_is_not_lost_to_rounding() {
    // 117,500 × 14.6% × 6/365 is exactly 282. Dividing 6 by 365 first rounds the year
    // fraction to 28 digits, and truncating the product then loses the unit.
    let funders = terms(
        &[share(PLATFORM, "0.5"), share(BANK_A, "0.5")],
        &[None, Some("0.146")],
    );
    let funding = LoanFunding::new(agreement(None), &funders).unwrap();
    let funding = apply(
        &funding,
        LoanEvent::Disbursed {
            principal_minor: 235_000,
            on: date(2026, 3, 1),
        },
    );
    let charge = Charge {
        interest_minor: 1_000,
        interest_through: Some(date(2026, 3, 7)),
        ..Charge::default()
    };
    let funding = apply(&funding, LoanEvent::Charged(charge));
    assert_eq!(funding.funders[1].held.interest_receivable_minor, 282);
    assert_eq!(funding.platform.interest_receivable_minor, 500 - 282);
}
