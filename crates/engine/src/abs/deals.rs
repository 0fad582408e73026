//! Deals as stored documents: create (idempotent on the id), read, list.

use super::docs::{deal_write, decode, load, DealDoc, DealStatus, DEAL};
use super::{open_day, AbsError};
use crate::{Engine, EngineError};
use store::DocFilter;
use uuid::Uuid;

/// The most postings one entry may carry (the ledger's limit).
const POSTINGS_MAX: usize = 64;
/// Accounts a period's entry touches besides the deal's own lists: platform cash, the
/// sold-receivable contra, remittances, the loss transfer, the SPV's pool receivable,
/// interest and recovery income, credit loss and purchases.
const FIXED_POSTINGS: usize = 9;

/// A period's entry nets one posting per account, so a deal whose lists would need more
/// than one entry's postings is refused when stored rather than at its first run.
fn check_size(deal: &abs::Deal) -> Result<(), AbsError> {
    let needed = FIXED_POSTINGS + deal.accounts.len() + deal.fees.len() + 3 * deal.bonds.len();
    if needed > POSTINGS_MAX {
        return Err(AbsError::invalid(
            "bonds",
            "too_many_accounts",
            format!(
                "a period's entry would post to {needed} accounts (9 + accounts + fees + 3 × \
                 bonds); at most {POSTINGS_MAX}"
            ),
        ));
    }
    Ok(())
}

/// Stores a validated deal with the investors that may read its reports; the same id with
/// the same file and investors again is a replay (`true`), with others a conflict.
pub async fn create_deal(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
    file: serde_json::Value,
    deal: &abs::Deal,
    investors: Vec<String>,
) -> Result<(DealDoc, bool), AbsError> {
    check_size(deal)?;
    if let Some(row) = engine.store().doc(id).await? {
        let stored: Option<DealDoc> = (row.kind == DEAL && row.tenant == tenant)
            .then(|| decode(&row))
            .transpose()?;
        return match stored {
            Some(doc) if doc.file == file && doc.investors == investors => Ok((doc, true)),
            _ => Err(AbsError::conflict(
                "id_reused",
                "this id was already used with a different deal file",
            )),
        };
    }
    let day = open_day(engine).await?;
    let doc = DealDoc {
        id,
        tenant: tenant.into(),
        name: deal.name.clone(),
        currency: deal.currency,
        file,
        status: DealStatus::Draft,
        created_on: day,
        pool: None,
        closing: None,
        state: None,
        periods: Vec::new(),
        investors,
        repurchases: Vec::new(),
    };
    match engine
        .submit_with(Vec::new(), vec![deal_write(&doc, day, None)])
        .await
    {
        Ok(_) => Ok((doc, false)),
        // A twin request stored the id meanwhile: answer as its replay would.
        Err(EngineError::StaleDoc { .. }) => {
            let (stored, _) = load(engine, id, tenant).await?;
            match stored.file == doc.file && stored.investors == doc.investors {
                true => Ok((stored, true)),
                false => Err(AbsError::conflict(
                    "id_reused",
                    "this id was already used with a different deal file",
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The deal `id` of `tenant` (`*`: any tenant's).
pub async fn deal(engine: &Engine, id: Uuid, tenant: &str) -> Result<DealDoc, AbsError> {
    Ok(load(engine, id, tenant).await?.0)
}

/// Deals in id order after `after`, with the last id read when the page was full.
pub async fn list_deals(
    engine: &Engine,
    tenant: Option<String>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<(Vec<DealDoc>, Option<Uuid>), AbsError> {
    let rows = engine
        .store()
        .docs_page(DocFilter {
            kind: DEAL.into(),
            tenant,
            after,
            limit,
            ..DocFilter::default()
        })
        .await?;
    let next = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(decode(row)?);
    }
    Ok((out, next))
}
