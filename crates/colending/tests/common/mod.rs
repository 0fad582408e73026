#![allow(dead_code)]

use colending::*;
use money::{Currency, DayCount, Decimal, Money, RateAnnual};

pub const CNY: Currency = Currency::Cny;
pub const PLATFORM: PartnerId = PartnerId(1);
pub const BANK_A: PartnerId = PartnerId(2);
pub const BANK_B: PartnerId = PartnerId(3);
pub const TRUST: PartnerId = PartnerId(4);
pub const GUARANTOR: PartnerId = PartnerId(9);

pub fn partner(id: PartnerId, kind: PartnerKind, yield_annual: Option<&str>) -> FundingPartner {
    FundingPartner {
        id,
        name: format!("partner {}", id.0),
        kind,
        currency: CNY,
        yield_annual: yield_annual.map(|y| y.parse::<RateAnnual>().unwrap()),
        quota_minor: 1_000_000_000,
        daily_quota_minor: 100_000_000,
        eligibility: Eligibility::default(),
        approval: ApprovalMode::Auto,
    }
}

pub fn partners() -> Vec<FundingPartner> {
    vec![
        partner(PLATFORM, PartnerKind::Platform, None),
        partner(BANK_A, PartnerKind::Bank, Some("0.068")),
        partner(BANK_B, PartnerKind::Bank, Some("0.05")),
        partner(TRUST, PartnerKind::Trust, None),
    ]
}

pub fn request(amount_minor: i64) -> LoanRequest {
    LoanRequest {
        amount: Money::from_minor(amount_minor, CNY),
        term_months: 12,
        score: Some(Decimal::from(650)),
        region: Some("310000".to_string()),
        product: "consumer-12".to_string(),
    }
}

pub fn share(partner_id: PartnerId, share: &str) -> Share {
    Share {
        partner_id,
        share: share.parse().unwrap(),
    }
}

pub fn agreement(guarantee: Option<GuaranteeTerms>) -> Agreement {
    Agreement {
        currency: CNY,
        day_count: DayCount::Act365F,
        fees: ChargeRule::Platform,
        penalties: ChargeRule::Platform,
        guarantee,
    }
}

pub fn guarantee(trigger_dpd: u32) -> GuaranteeTerms {
    GuaranteeTerms {
        guarantor_id: GUARANTOR,
        trigger_dpd,
        fee_rate_annual: "0.02".parse().unwrap(),
    }
}

pub fn terms(shares: &[Share], yields: &[Option<&str>]) -> Vec<FunderTerms> {
    shares
        .iter()
        .zip(yields)
        .map(|(s, y)| FunderTerms {
            share: *s,
            yield_annual: y.map(|y| y.parse().unwrap()),
        })
        .collect()
}
