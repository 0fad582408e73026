//! Funding partners and funding plans: create, change (a new version), read, list.

use super::docs::{
    self, decode, encode, find, partner_id, platform_partner_id, platform_spec, write,
    ChargeRuleDoc, Kind, PartnerDoc, PartnerSpec, Place, PlanDoc, PlanSpec, PositionsDoc,
    Versioned, PARTNER, PARTNER_CHANGE, PLAN, POSITIONS, TRIGGER_DPD_MAX,
};
use super::{ColendingError, FUNDERS_MAX};
use crate::{Command, Engine, EngineError};
use colending::{FundingPartner, PlanRules};
use money::{BusinessDate, Currency, Decimal};
use serde::{Deserialize, Serialize};
use store::{DocEvent, DocFilter, DomainWrite};
use uuid::Uuid;

async fn open_day(engine: &Engine) -> Result<BusinessDate, ColendingError> {
    crate::business_day::business_date(engine)
        .await?
        .ok_or_else(|| ColendingError::conflict("no_business_date", "no business date is open yet"))
}

/// Inserts only: a stale answer means a twin request took the id meanwhile.
async fn submit(
    engine: &Engine,
    commands: Vec<Command>,
    domain: Vec<DomainWrite>,
) -> Result<(), ColendingError> {
    engine
        .submit_with(commands, domain)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            EngineError::StaleDoc { .. } => ColendingError::conflict(
                "changed_meanwhile",
                "another request changed this meanwhile; read it and retry",
            ),
            other => other.into(),
        })
}

fn partner_write(doc: &PartnerDoc, read_version: Option<i64>) -> DomainWrite {
    write(
        Place {
            kind: PARTNER,
            id: doc.id,
            tenant: &doc.tenant,
            parent: None,
            open: true,
            day: doc.changed_on,
        },
        encode(doc),
        read_version,
    )
}

/// Creates a partner, or returns the stored one when the same id comes again with the same
/// fields (`true` = replay). The platform's own partner is not created here.
pub async fn create_partner(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
    spec: PartnerSpec,
) -> Result<(Versioned<PartnerDoc>, bool), ColendingError> {
    if spec.kind == Kind::Platform {
        return Err(ColendingError::invalid(
            "kind",
            format!(
                "the platform's own partner is created with the first funding plan in its \
                 currency (id {}); change it with /changes",
                platform_partner_id(tenant, spec.currency)
            ),
        ));
    }
    spec.validate(id)?;
    if let Some(v) =
        docs::stored_twin(engine, PARTNER, id, tenant, |d: &PartnerDoc| d.spec == spec).await?
    {
        return Ok((v, true));
    }
    let day = open_day(engine).await?;
    let doc = PartnerDoc {
        id,
        tenant: tenant.into(),
        spec,
        created_on: day,
        changed_on: day,
    };
    submit(engine, Vec::new(), vec![partner_write(&doc, None)]).await?;
    Ok((Versioned { doc, version: 1 }, false))
}

#[derive(Serialize, Deserialize, PartialEq)]
struct ChangeRecord {
    key: Uuid,
    spec: PartnerSpec,
}

/// A new version of a partner under an Idempotency-Key. Kind and currency stay; a retry
/// with the same key and body is answered with the partner as it is (`true` = replay).
pub async fn change_partner(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
    key: Uuid,
    spec: PartnerSpec,
) -> Result<(Versioned<PartnerDoc>, bool), ColendingError> {
    let current = partner(engine, tenant, id).await?;
    let events = engine.store().doc_events(id).await?;
    let record = ChangeRecord { key, spec };
    for e in events.iter().filter(|e| e.kind == PARTNER_CHANGE) {
        let stored: ChangeRecord = serde_json::from_slice(&e.body)
            .map_err(|err| anyhow::anyhow!("stored partner change: {err}"))?;
        if stored.key == key {
            return match stored == record {
                true => Ok((current, true)),
                false => Err(ColendingError::conflict(
                    "idempotency_key_reused",
                    format!("Idempotency-Key {key} was used for another change of this partner"),
                )),
            };
        }
    }
    let spec = record.spec.clone();
    for (field, same) in [
        ("kind", spec.kind == current.doc.spec.kind),
        ("currency", spec.currency == current.doc.spec.currency),
    ] {
        if !same {
            return Err(ColendingError::invalid(field, "cannot change"));
        }
    }
    spec.validate(id)?;
    let day = open_day(engine).await?;
    let doc = PartnerDoc {
        spec,
        changed_on: day,
        ..current.doc
    };
    let event = DomainWrite::DocEvent(DocEvent {
        doc_id: id,
        seq: events.last().map_or(0, |e| e.seq + 1),
        day: day.to_epoch_days(),
        kind: PARTNER_CHANGE.into(),
        body: serde_json::to_vec(&record).expect("changes serialize"),
    });
    let writes = vec![partner_write(&doc, Some(current.version)), event];
    submit(engine, Vec::new(), writes).await?;
    Ok((
        Versioned {
            doc,
            version: current.version + 1,
        },
        false,
    ))
}

/// A partner of `tenant` (any tenant's for `*`).
pub async fn partner(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
) -> Result<Versioned<PartnerDoc>, ColendingError> {
    find(engine, PARTNER, id, tenant)
        .await?
        .ok_or(ColendingError::NotFound("funding partner"))
}

pub struct PartnerPage {
    pub partners: Vec<Versioned<PartnerDoc>>,
    /// The last id read, when the page was full.
    pub next_after: Option<Uuid>,
}

/// Partners in id order after `after`; `tenant` `None` lists every tenant's.
pub async fn list_partners(
    engine: &Engine,
    tenant: Option<String>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<PartnerPage, ColendingError> {
    let (partners, next_after) = docs::page(engine, PARTNER, tenant, after, limit).await?;
    Ok(PartnerPage {
        partners,
        next_after,
    })
}

#[derive(Serialize, Deserialize, PartialEq)]
struct PlanRecord {
    key: Uuid,
    spec: PlanSpec,
}

/// Attaches a fixed funding plan to a product (a new version if it has one). Loans already
/// disbursed keep the funders and shares they were booked with.
pub async fn set_plan(
    engine: &Engine,
    tenant: &str,
    product_id: Uuid,
    currency: Currency,
    key: Uuid,
    spec: PlanSpec,
) -> Result<(Versioned<PlanDoc>, bool), ColendingError> {
    let doc_id = docs::plan_doc_id(product_id);
    let current: Option<Versioned<PlanDoc>> = find(engine, PLAN, doc_id, tenant).await?;
    let events = engine.store().doc_events(doc_id).await?;
    let record = PlanRecord { key, spec };
    for e in &events {
        let stored: PlanRecord = serde_json::from_slice(&e.body)
            .map_err(|err| anyhow::anyhow!("stored plan change: {err}"))?;
        if stored.key == key {
            return match (stored == record, current) {
                (true, Some(current)) => Ok((current, true)),
                _ => Err(ColendingError::conflict(
                    "idempotency_key_reused",
                    format!("Idempotency-Key {key} was used for another plan of this product"),
                )),
            };
        }
    }
    let spec = record.spec.clone();
    let platform_id = platform_partner_id(tenant, currency);
    let mut writes = Vec::new();
    let platform = match find::<PartnerDoc>(engine, PARTNER, platform_id, tenant).await? {
        Some(p) => p.doc,
        None => {
            let day = open_day(engine).await?;
            let doc = PartnerDoc {
                id: platform_id,
                tenant: tenant.into(),
                spec: platform_spec(currency),
                created_on: day,
                changed_on: day,
            };
            writes.push(partner_write(&doc, None));
            doc
        }
    };
    validate_plan(engine, tenant, &spec, &platform).await?;
    let day = open_day(engine).await?;
    let doc = PlanDoc {
        product_id,
        tenant: tenant.into(),
        currency,
        platform_partner_id: platform_id,
        spec,
        changed_on: day,
    };
    let read_version = current.as_ref().map(|c| c.version);
    writes.push(write(
        Place {
            kind: PLAN,
            id: doc_id,
            tenant,
            parent: Some(product_id),
            open: true,
            day,
        },
        encode(&doc),
        read_version,
    ));
    writes.push(DomainWrite::DocEvent(DocEvent {
        doc_id,
        seq: events.last().map_or(0, |e| e.seq + 1),
        day: day.to_epoch_days(),
        kind: "plan_change".into(),
        body: serde_json::to_vec(&record).expect("plans serialize"),
    }));
    submit(engine, Vec::new(), writes).await?;
    Ok((
        Versioned {
            doc,
            version: read_version.map_or(1, |v| v + 1),
        },
        false,
    ))
}

/// Every problem `colending` finds with the plan, each naming its field.
async fn validate_plan(
    engine: &Engine,
    tenant: &str,
    spec: &PlanSpec,
    platform: &PartnerDoc,
) -> Result<(), ColendingError> {
    let listed = spec.partner_ids();
    let field = spec.partners_field();
    if spec.routing.is_some() && !spec.shares.is_empty() {
        return Err(ColendingError::invalid(
            "routing",
            "a plan has fixed shares or a routing policy, not both",
        ));
    }
    if listed.len() > FUNDERS_MAX {
        return Err(ColendingError::invalid(
            field,
            format!("at most {FUNDERS_MAX} funders"),
        ));
    }
    let min = spec.platform_share_min;
    if min < Decimal::ZERO || min > Decimal::ONE {
        return Err(ColendingError::invalid(
            "platform_share_min",
            "must be between 0 and 1",
        ));
    }
    validate_guarantee(engine, tenant, spec, platform).await?;
    if let Some(f) = spec.first_loss {
        let currency = platform.spec.currency;
        super::first_loss::validate_plan_deposit(engine, tenant, f.deposit_id, currency).await?;
    }
    let mut partners: Vec<FundingPartner> = vec![platform.spec.to_domain(platform.id)?];
    for (index, id) in listed.iter().enumerate() {
        if *id == platform.id {
            continue;
        }
        if let Some(p) = find::<PartnerDoc>(engine, PARTNER, *id, tenant).await? {
            if p.doc.spec.kind == Kind::Guarantor {
                return Err(ColendingError::invalid(
                    &format!("{field}[{index}].partner_id"),
                    "a guarantor funds no share",
                ));
            }
            partners.push(p.doc.spec.to_domain(p.doc.id)?);
        }
    }
    let rules = PlanRules {
        platform_id: partner_id(platform.id),
        platform_share_min: min,
    };
    let plan = spec.to_domain();
    // The domain names a routed plan's fields from inside the policy.
    let prefix = match spec.routing {
        Some(_) => "routing.",
        None => "",
    };
    plan.validate(&partners, &rules)
        .map_err(|errors| ColendingError::Invalid {
            errors: errors
                .iter()
                .map(|e| (format!("{prefix}{}", e.field()), e.to_string()))
                .collect(),
        })
}

/// The plan's guarantee, and the charges it gives the guarantor: a known partner of kind
/// guarantor (so it funds no share) in the plan's currency, and a trigger within bounds.
async fn validate_guarantee(
    engine: &Engine,
    tenant: &str,
    spec: &PlanSpec,
    platform: &PartnerDoc,
) -> Result<(), ColendingError> {
    let mut errors = Vec::new();
    let Some(g) = spec.guarantee else {
        for (field, rule) in [("fees", spec.fees), ("penalties", spec.penalties)] {
            if rule == ChargeRuleDoc::Guarantor {
                errors.push((field.into(), "guarantor: the plan has no guarantee".into()));
            }
        }
        return refuse(errors);
    };
    if !(1..=TRIGGER_DPD_MAX).contains(&g.trigger_dpd) {
        errors.push((
            "guarantee.trigger_dpd".into(),
            format!("must be from 1 to {TRIGGER_DPD_MAX} days"),
        ));
    }
    let field = "guarantee.guarantor_id";
    match find::<PartnerDoc>(engine, PARTNER, g.guarantor_id, tenant).await? {
        None => errors.push((field.into(), "no such funding partner".into())),
        Some(p) if p.doc.spec.kind != Kind::Guarantor => errors.push((
            field.into(),
            "must be a partner of kind guarantor (which funds no share)".into(),
        )),
        Some(p) if p.doc.spec.currency != platform.spec.currency => errors.push((
            field.into(),
            "the guarantor is in another currency than the plan".into(),
        )),
        Some(_) => {}
    }
    refuse(errors)
}

fn refuse(errors: Vec<(String, String)>) -> Result<(), ColendingError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ColendingError::Invalid { errors })
    }
}

/// The funding plan of a product, if it has one.
pub async fn plan(
    engine: &Engine,
    tenant: &str,
    product_id: Uuid,
) -> Result<Versioned<PlanDoc>, ColendingError> {
    find(engine, PLAN, docs::plan_doc_id(product_id), tenant)
        .await?
        .ok_or(ColendingError::NotFound("funding plan"))
}

/// A co-lent loan's positions after its last command; `None` for a loan without a plan.
pub async fn loan_funding(
    engine: &Engine,
    loan_id: Uuid,
) -> Result<Option<PositionsDoc>, ColendingError> {
    let found = find(engine, POSITIONS, docs::positions_doc_id(loan_id), "*").await?;
    Ok(found.map(|v: Versioned<PositionsDoc>| v.doc))
}

/// Co-lent loans' positions in id order after `after` (`tenant` `None`: every tenant's),
/// with the last id read when the page was full.
pub async fn list_positions(
    engine: &Engine,
    tenant: Option<String>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<(Vec<PositionsDoc>, Option<Uuid>), ColendingError> {
    let rows = engine
        .store()
        .docs_page(DocFilter {
            kind: POSITIONS.into(),
            tenant,
            after,
            limit,
            ..DocFilter::default()
        })
        .await?;
    let next_after = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let mut docs = Vec::with_capacity(rows.len());
    for row in &rows {
        docs.push(decode(row)?);
    }
    Ok((docs, next_after))
}
