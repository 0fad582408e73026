//! Every validation error names its field.

mod common;

use abs::*;
use common::*;
use rust_decimal_macros::dec;

fn fields(deal: &Deal) -> Vec<(String, &'static str)> {
    match deal.validate() {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
    }
}

fn has(deal: &Deal, field: &str, code: &str) {
    let found = fields(deal);
    assert!(
        found.iter().any(|(f, c)| f == field && *c == code),
        "expected {field} ({code}), got {found:?}"
    );
}

#[test]
fn the_sample_deals_are_valid() {
    for deal in [
        senior_equity_deal(),
        three_seniors_deal(),
        cumulative_default_deal(),
        revolving_deal(),
    ] {
        assert_eq!(fields(&deal), [], "{}", deal.name);
    }
}

#[test]
fn bonds_that_do_not_sum_to_the_pool() {
    let mut deal = senior_equity_deal();
    deal.bonds[1].balance_minor += 1;
    has(&deal, "bonds", "sum_mismatch");
    deal.bonds_sum_to_pool = false;
    assert_eq!(fields(&deal), []);
    deal.bonds[1].balance_minor = -5;
    has(&deal, "bonds[1].balance_minor", "negative");
}

#[test]
fn rates_out_of_range() {
    let mut deal = revolving_deal();
    deal.bonds[0].coupon = dec!(1.2);
    deal.fees[0].kind = FeeKind::PoolFraction(dec!(-0.01));
    deal.accounts[1].kind = AccountKind::Reserve {
        target: ReserveTarget::PoolFraction(dec!(2)),
    };
    deal.cleanup_call = Some(CleanUpCall {
        pool_fraction: dec!(1),
    });
    deal.bonds[1].coupon = dec!(0.01);
    deal.bonds[0].floating = Some(Floating {
        index: " ".into(),
        spread: dec!(2),
        reset_dates: vec![date(2026, 3, 1), date(2026, 2, 1), date(2031, 1, 1)],
    });
    has(&deal, "bonds[0].coupon", "out_of_range");
    has(&deal, "fees[0].pool_fraction", "out_of_range");
    has(&deal, "accounts[1].target.pool_fraction", "out_of_range");
    has(&deal, "cleanup_call.pool_fraction", "out_of_range");
    has(&deal, "bonds[1].coupon", "equity_coupon");
    has(&deal, "bonds[0].floating.index", "empty");
    has(&deal, "bonds[0].floating.spread", "out_of_range");
    has(&deal, "bonds[0].floating.reset_dates[1]", "out_of_order");
    has(&deal, "bonds[0].floating.reset_dates[2]", "out_of_order");
}

#[test]
fn dates_out_of_order() {
    let mut deal = revolving_deal();
    deal.dates.closing = date(2025, 12, 1);
    has(&deal, "dates.closing", "out_of_order");
    let mut deal = revolving_deal();
    deal.dates.first_payment = deal.dates.closing;
    has(&deal, "dates.first_payment", "out_of_order");
    let mut deal = revolving_deal();
    deal.dates.revolving_end = Some(date(2031, 1, 1));
    has(&deal, "dates.revolving_end", "out_of_order");
    let mut deal = revolving_deal();
    deal.dates.stated_maturity = date(2026, 1, 15);
    has(&deal, "dates.stated_maturity", "out_of_order");
}

#[test]
fn unknown_names_in_a_waterfall() {
    let mut deal = revolving_deal();
    deal.waterfalls.normal[2] = Step::TopUpReserve {
        account: "nowhere".into(),
    };
    deal.waterfalls.normal[1] = interest(&["A", "Z"]);
    deal.waterfalls.cleanup[1] = seq(&["Q"], PrincipalLimit::AllFunds);
    deal.waterfalls.normal[0] = fee("audit");
    has(&deal, "waterfalls.normal[2].account", "unknown_account");
    has(&deal, "waterfalls.normal[1].bonds[1]", "unknown_bond");
    has(&deal, "waterfalls.cleanup[1].bonds[0]", "unknown_bond");
    has(&deal, "waterfalls.normal[0].fee", "unknown_fee");
    let mut deal = revolving_deal();
    deal.waterfalls.normal[3] = Step::TopUpReserve {
        account: "collection".into(),
    };
    has(&deal, "waterfalls.normal[3].account", "not_reserve");
    deal.dates.revolving_end = None;
    has(&deal, "waterfalls.normal[2]", "no_revolving_period");
}

#[test]
fn names_accounts_triggers_and_curves() {
    let mut deal = cumulative_default_deal();
    deal.bonds[1].name = "A".into();
    deal.accounts.push(collection_account());
    deal.triggers[0].condition = TriggerCondition::CumulativeDefaultAbove {
        curve: vec![
            CurveStep {
                from: date(2026, 3, 1),
                rate: dec!(0.01),
            },
            CurveStep {
                from: date(2026, 2, 1),
                rate: dec!(1.5),
            },
        ],
    };
    has(&deal, "bonds[1].name", "duplicate");
    has(&deal, "accounts[1].name", "duplicate");
    has(&deal, "accounts", "collection_account");
    has(&deal, "triggers[0].curve[1].from", "out_of_order");
    has(&deal, "triggers[0].curve[1].rate", "out_of_range");
    let mut deal = cumulative_default_deal();
    deal.triggers[0].condition = TriggerCondition::BondAboveTarget { bond: "A".into() };
    has(&deal, "triggers[0].bond", "not_target_balance");
    deal.waterfalls.accelerated.clear();
    has(&deal, "waterfalls.accelerated", "empty");
    let mut deal = cumulative_default_deal();
    deal.waterfalls.normal[1] = Step::PayPrincipal {
        bonds: names(&["A"]),
        mode: PrincipalMode::ToTarget,
        limit: PrincipalLimit::AllFunds,
    };
    has(&deal, "waterfalls.normal[1].bonds[0]", "not_target_balance");
}
