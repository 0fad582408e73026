//! Party binding: which party an object belongs to, read from storage with one indexed
//! lookup (two for a purchase seen by its borrower), and only for bound keys.

use super::{Party, PartyOf, Principal};
use crate::app::AppState;
use crate::problem::{not_found, ApiError};
use api::Problem;
use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use ledger::{AccountId, EntryId, HoldId};
use std::str::FromStr;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyKind {
    Borrower,
    Merchant,
    Partner,
    Investor,
}

impl PartyKind {
    pub const ALL: [PartyKind; 4] = [
        PartyKind::Borrower,
        PartyKind::Merchant,
        PartyKind::Partner,
        PartyKind::Investor,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            PartyKind::Borrower => "borrower",
            PartyKind::Merchant => "merchant",
            PartyKind::Partner => "partner",
            PartyKind::Investor => "investor",
        }
    }
}

impl FromStr for PartyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PartyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown party kind {s:?}"))
    }
}

/// The parties an object belongs to.
#[derive(Clone, Debug, Default)]
pub struct Parties {
    pub borrowers: Vec<String>,
    pub merchants: Vec<String>,
    /// Owners named on accounts opened through the ledger API (a partner bank, an investor).
    pub owners: Vec<String>,
}

impl Parties {
    pub fn includes(&self, p: &Party) -> bool {
        let list = match p.kind {
            PartyKind::Borrower => &self.borrowers,
            PartyKind::Merchant => &self.merchants,
            PartyKind::Partner | PartyKind::Investor => &self.owners,
        };
        list.contains(&p.id)
    }

    pub fn borrower(id: impl Into<String>) -> Parties {
        Parties {
            borrowers: vec![id.into()],
            ..Parties::default()
        }
    }

    pub fn merchant(id: impl Into<String>) -> Parties {
        Parties {
            merchants: vec![id.into()],
            ..Parties::default()
        }
    }

    fn extend(&mut self, o: Parties) {
        self.borrowers.extend(o.borrowers);
        self.merchants.extend(o.merchants);
        self.owners.extend(o.owners);
    }
}

fn refused(detail: &str) -> ApiError {
    super::problem(403, "forbidden", "Forbidden", detail)
}

/// Checks a bound key's request against the route's party rule; the body comes back
/// untouched (read into memory only where a body field names the party).
pub(crate) async fn check(
    s: &AppState,
    p: &Principal,
    rule: PartyOf,
    parts: &mut Parts,
    body: Body,
) -> Result<Body, ApiError> {
    let what = match rule {
        PartyOf::Unowned | PartyOf::List => return Ok(body),
        PartyOf::Unbound => return Err(refused("a key bound to a party may not do this")),
        PartyOf::BodyField(field) => return body_field(p, field, body).await,
        other => other,
    };
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| refused("unreadable path"))?;
    let Some(raw) = params.iter().find(|(k, _)| *k == "id").map(|(_, v)| v) else {
        return Err(refused("this route names no object"));
    };
    // An id that is not a UUID names nothing; the handler answers that with a 400.
    let Ok(id) = Uuid::parse_str(raw) else {
        return Ok(body);
    };
    let (parties, kind) = parties_of(s, what, id, p).await?;
    match parties {
        Some(parties) if p.acts_for(&parties) => Ok(body),
        // Another party's object is as absent as one in another tenant.
        _ => Err(not_found(kind)),
    }
}

async fn body_field(p: &Principal, field: &str, body: Body) -> Result<Body, ApiError> {
    let bytes = axum::body::to_bytes(body, crate::limits::BODY_BYTES_MAX)
        .await
        .map_err(|_| refused("unreadable body"))?;
    let named = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get(field).and_then(|f| f.as_str().map(str::to_owned)));
    // A body without the field is left for the handler to refuse.
    if let Some(named) = named {
        let own = p.party.as_ref().is_some_and(|party| {
            let mut parties = Parties::default();
            match party.kind {
                PartyKind::Merchant => parties.merchants.push(named.clone()),
                PartyKind::Borrower => parties.borrowers.push(named.clone()),
                _ => parties.owners.push(named.clone()),
            }
            parties.includes(party)
        });
        if !own {
            return Err(ApiError::from(
                Problem::new(
                    403,
                    "forbidden",
                    "Forbidden",
                    "this key acts for another party",
                )
                .with_field(field),
            ));
        }
    }
    Ok(Body::from(bytes))
}

/// The parties of the object `id` of the kind `what` names, None when it does not exist;
/// with the kind's name for a 404.
async fn parties_of(
    s: &AppState,
    what: PartyOf,
    id: Uuid,
    p: &Principal,
) -> Result<(Option<Parties>, &'static str), ApiError> {
    let store = s.engine.store();
    Ok(match what {
        PartyOf::Loan => (
            store.loan(id).await?.map(|l| Parties::borrower(l.borrower)),
            "loan",
        ),
        PartyOf::Borrower => (
            doc_of(s, "borrower", id)
                .await?
                .map(|_| Parties::borrower(id.to_string())),
            "borrower",
        ),
        PartyOf::Merchant => (
            doc_of(s, "merchant", id)
                .await?
                .map(|_| Parties::merchant(id.to_string())),
            "merchant",
        ),
        PartyOf::FundingPartner => (
            doc_of(s, "funding_partner", id).await?.map(|_| Parties {
                owners: vec![id.to_string()],
                ..Parties::default()
            }),
            "funding partner",
        ),
        PartyOf::Line => (line_parties(s, id).await?, "credit line"),
        PartyOf::Deal => (deal_parties(s, id).await?, "deal"),
        PartyOf::Purchase => (purchase_parties(s, id, p).await?, "purchase"),
        PartyOf::Account => (account_parties(s, AccountId(id)).await?, "account"),
        PartyOf::Entry => {
            let found = match s.engine.entry(EntryId(id)).await? {
                None => None,
                Some(e) => {
                    let ids = e.postings.iter().map(|x| x.account_id).collect();
                    Some(accounts_parties(s, ids).await?)
                }
            };
            (found, "entry")
        }
        PartyOf::Hold => {
            let found = match s.engine.hold(HoldId(id)).await? {
                None => None,
                Some(h) => {
                    let r = &h.request;
                    let ids = vec![r.debit_account_id, r.credit_account_id];
                    Some(accounts_parties(s, ids).await?)
                }
            };
            (found, "hold")
        }
        PartyOf::Webhook => (
            store.webhook(id).await?.map(|w| {
                let mut parties = Parties::default();
                if let (Some(kind), Some(id)) = (w.party_kind, w.party_id) {
                    match kind.as_str() {
                        "merchant" => parties.merchants.push(id),
                        "borrower" => parties.borrowers.push(id),
                        _ => parties.owners.push(id),
                    }
                }
                parties
            }),
            "webhook",
        ),
        PartyOf::Unowned | PartyOf::Unbound | PartyOf::List | PartyOf::BodyField(_) => {
            unreachable!("handled by check")
        }
    })
}

async fn doc_of(s: &AppState, kind: &str, id: Uuid) -> Result<Option<store::DocRow>, ApiError> {
    Ok(s.engine.store().doc(id).await?.filter(|d| d.kind == kind))
}

async fn line_parties(s: &AppState, id: Uuid) -> Result<Option<Parties>, ApiError> {
    Ok(doc_of(s, "line", id)
        .await?
        .and_then(|d| d.parent)
        .map(|b| Parties::borrower(b.to_string())))
}

#[derive(serde::Deserialize)]
struct DealParties {
    #[serde(default)]
    investors: Vec<String>,
}

/// A deal's investors: the parties its bound `investor` keys act for.
async fn deal_parties(s: &AppState, id: Uuid) -> Result<Option<Parties>, ApiError> {
    let Some(doc) = doc_of(s, "abs_deal", id).await? else {
        return Ok(None);
    };
    let deal: DealParties = serde_json::from_slice(&doc.body)
        .map_err(|e| crate::problem::internal(&format!("stored deal: {e}")))?;
    Ok(Some(Parties {
        owners: deal.investors,
        ..Parties::default()
    }))
}

#[derive(serde::Deserialize)]
struct PurchaseParty {
    merchant_id: Uuid,
}

async fn purchase_parties(
    s: &AppState,
    id: Uuid,
    p: &Principal,
) -> Result<Option<Parties>, ApiError> {
    let Some(doc) = doc_of(s, "purchase", id).await? else {
        return Ok(None);
    };
    let merchant: PurchaseParty = serde_json::from_slice(&doc.body)
        .map_err(|e| crate::problem::internal(&format!("stored purchase: {e}")))?;
    let mut parties = Parties::merchant(merchant.merchant_id.to_string());
    // The line's borrower costs a second lookup, made only for a borrower's key.
    let for_borrower = p
        .party
        .as_ref()
        .is_some_and(|x| x.kind == PartyKind::Borrower);
    if let (true, Some(line)) = (for_borrower, doc.parent) {
        if let Some(b) = line_parties(s, line).await? {
            parties.extend(b);
        }
    }
    Ok(Some(parties))
}

/// An account's parties from its owner: `loan:…` and `line:…` accounts belong to the
/// borrower, `merchant:…` ones to the merchant, any other owner to itself.
async fn account_parties(s: &AppState, id: AccountId) -> Result<Option<Parties>, ApiError> {
    let Some(a) = s.engine.account(id).await? else {
        return Ok(None);
    };
    owner_parties(s, &a.owner).await.map(Some)
}

async fn owner_parties(s: &AppState, owner: &str) -> Result<Parties, ApiError> {
    let tagged = |prefix: &str| {
        owner
            .strip_prefix(prefix)
            .and_then(|rest| Uuid::parse_str(rest).ok())
    };
    if let Some(loan) = tagged("loan:") {
        let l = s.engine.store().loan(loan).await?;
        return Ok(l.map(|l| Parties::borrower(l.borrower)).unwrap_or_default());
    }
    if let Some(line) = tagged("line:") {
        return Ok(line_parties(s, line).await?.unwrap_or_default());
    }
    if let Some(m) = tagged("merchant:") {
        return Ok(Parties::merchant(m.to_string()));
    }
    // A funder's control accounts belong to the funding partner.
    if let Some(f) = tagged("funder:") {
        return Ok(Parties {
            owners: vec![f.to_string()],
            ..Parties::default()
        });
    }
    Ok(Parties {
        owners: vec![owner.to_string()],
        ..Parties::default()
    })
}

async fn accounts_parties(s: &AppState, ids: Vec<AccountId>) -> Result<Parties, ApiError> {
    let mut all = Parties::default();
    for id in ids {
        if let Some(found) = account_parties(s, id).await? {
            all.extend(found);
        }
    }
    Ok(all)
}

/// For list routes: the borrower (or merchant) a bound key's list must be narrowed to, or
/// a refusal when the key's party owns nothing of this kind.
pub fn list_party(p: &Principal, kinds: &[PartyKind]) -> Result<Option<Party>, ApiError> {
    if !p.is_bound() {
        return Ok(None);
    }
    match &p.party {
        Some(party) if kinds.contains(&party.kind) => Ok(Some(party.clone())),
        _ => Err(refused("this key's party has nothing of this kind")),
    }
}
