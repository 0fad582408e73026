//! Co-lending's benchmark set-ups: the plans of two or three funders that `puhui bench cob
//! --funders 2|3` puts on the benchmark's product.

use engine::colending::{
    self as cl, ApprovalDoc, ChargeRuleDoc, EligibilityDoc, Kind, PartnerSpec, PlanSpec, ShareDoc,
};
use engine::Engine;
use money::{Currency, Decimal};
use uuid::Uuid;

fn partner(name: &str, yield_annual: Option<Decimal>) -> PartnerSpec {
    PartnerSpec {
        name: name.into(),
        kind: Kind::Bank,
        currency: Currency::Cny,
        yield_annual,
        quota_minor: i64::MAX / 2,
        daily_quota_minor: i64::MAX / 2,
        eligibility: EligibilityDoc::default(),
        approval: ApprovalDoc::Auto,
    }
}

/// The benchmark product's (the nil id) funding plan of `funders` funders, approving
/// automatically: 2 is the platform 0.35 and a bank at a 6.8% yield 0.65; 3 the platform
/// 0.35, the bank 0.4 and a trust pro rata 0.25. Returns the partners' ids, the
/// platform's first.
pub async fn plan(engine: &Engine, tenant: &str, funders: u8) -> anyhow::Result<Vec<Uuid>> {
    let bank = Uuid::from_u128(0xb1);
    let trust = Uuid::from_u128(0xb2);
    cl::create_partner(
        engine,
        tenant,
        bank,
        partner("bank", Some(Decimal::new(68, 3))),
    )
    .await
    .map_err(|e| anyhow::anyhow!("create bench bank: {e}"))?;
    if funders == 3 {
        cl::create_partner(engine, tenant, trust, partner("trust", None))
            .await
            .map_err(|e| anyhow::anyhow!("create bench trust: {e}"))?;
    }
    let platform = cl::platform_partner_id(tenant, Currency::Cny);
    let share = |partner_id, s: i64| ShareDoc {
        partner_id,
        share: Decimal::new(s, 2),
    };
    let shares = match funders {
        2 => vec![share(platform, 35), share(bank, 65)],
        _ => vec![share(platform, 35), share(bank, 40), share(trust, 25)],
    };
    let spec = PlanSpec {
        shares,
        platform_share_min: Decimal::new(3, 1),
        fees: ChargeRuleDoc::Platform,
        penalties: ChargeRuleDoc::ProRata,
        guarantee: None,
        routing: None,
        first_loss: None,
    };
    cl::set_plan(
        engine,
        tenant,
        Uuid::nil(),
        Currency::Cny,
        Uuid::from_u128(0xb3),
        spec,
    )
    .await
    .map_err(|e| anyhow::anyhow!("set bench plan: {e}"))?;
    Ok(match funders {
        2 => vec![platform, bank],
        _ => vec![platform, bank, trust],
    })
}

/// Manifest of the bank's day (every file read once, hashed, discarded): seconds and rows.
pub async fn time_recon(
    engine: &Engine,
    tenant: &str,
    day: money::BusinessDate,
) -> anyhow::Result<(f64, u64)> {
    let t = std::time::Instant::now();
    let m = engine::colending::recon::manifest(engine, tenant, Uuid::from_u128(0xb1), day)
        .await
        .map_err(|e| anyhow::anyhow!("bench recon: {e}"))?;
    Ok((
        t.elapsed().as_secs_f64(),
        m.files.iter().map(|f| f.rows).sum(),
    ))
}
