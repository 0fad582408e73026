//! Revolving credit use cases (Huabei-style): borrowers, merchants, credit lines, purchases
//! paid to merchants, repayments, installments, limit changes and their close of business.
//!
//! - Documents (`store::DocRow`) hold borrowers, merchants, lines and purchases as versioned
//!   JSON; every change of a line or a purchase commits in the same writer envelope as the
//!   ledger commands it caused, and names the version it read.
//! - Limit is money-like and lives in the ledger: a line's `available` account (credit-normal,
//!   debits must not exceed credits, pending holds counted) and `used` account. An
//!   authorization is a hold `available → used`; the ledger's constraint makes "the sum of
//!   holds never exceeds the limit" true under any concurrency, without a lock here.
//! - Money never reaches the borrower: a capture books principal receivable against the
//!   merchant's payable; close of business settles each merchant's payable from the funder's
//!   cash, net of the merchant discount.
//! - Ids are UUIDv5 of what caused them, so retries and re-runs never post twice.

use crate::{Command, Engine, EngineError, Outcome};
use ledger::{
    Account, AccountId, Constraint, EntryId, EntryRequest, HoldId, HoldRequest, LedgerError,
    Posting, Side,
};
use money::{BusinessDate, Currency, Decimal, RoundingMode};
use revolving::{FeePayer, LimitRules, Line, LineEvent, LineStatus, PostingIntent, Purpose};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::sync::Arc;
use store::{DocEvent, DocRow, DomainWrite};
use uuid::Uuid;

const NS: Uuid = Uuid::from_u128(0x3a8e_2c41_7d0b_4f6e_9b15_c2d7_0e84_a619);
pub const BORROWER: &str = "borrower";
pub const MERCHANT: &str = "merchant";
pub const LINE: &str = "line";
pub const PURCHASE: &str = "purchase";
/// A line change as requested, under its Idempotency-Key, so a retry is answered, not
/// applied again.
pub const LINE_CHANGE: &str = "line_change";
const STALE_RETRIES_MAX: usize = 16;
/// An authorization not captured within this long is released by the ledger.
pub const AUTHORIZATION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum RevolvingError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request is wrong on its face; `field` is the request field at fault.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The request is fine but the state does not allow it (frozen line, voided purchase).
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String },
    /// An authorization the available limit cannot cover: declined, nothing stored.
    #[error("declined: {reason}")]
    Declined {
        reason: &'static str,
        detail: String,
    },
    #[error(transparent)]
    Line(#[from] revolving::LineError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

fn invalid(field: &str, message: impl Into<String>) -> RevolvingError {
    RevolvingError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn conflict(code: &'static str, message: impl Into<String>) -> RevolvingError {
    RevolvingError::Conflict {
        code,
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------
// Documents

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BorrowerKind {
    Individual,
    Enterprise,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Borrower {
    pub id: Uuid,
    pub tenant: String,
    pub kind: BorrowerKind,
    pub name: String,
    pub created_on: BusinessDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merchant {
    pub id: Uuid,
    pub tenant: String,
    pub name: String,
    pub currency: Currency,
    /// Merchant discount rate (MDR), e.g. 0.008: the share of each settled amount the
    /// platform keeps.
    pub discount_rate: Decimal,
    /// Where settlements are paid (the merchant's bank or wallet account reference).
    pub settlement_account: String,
    pub created_on: BusinessDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDoc {
    pub id: Uuid,
    pub tenant: String,
    pub borrower_id: Uuid,
    pub line: Line,
    pub rules: LimitRules,
    /// Sequence of the next event.
    pub event_seq: i32,
    /// How the line's account ids derive from its id; absent in lines opened before
    /// `Prefixed`, which keep `Hashed`.
    #[serde(default)]
    pub account_ids: LineAccountIds,
}

/// How a line's account ids derive from its id (`line_account`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineAccountIds {
    /// A UUIDv5 of the line id and the purpose: the accounts are scattered over the
    /// accounts table, so a purchase's balance updates dirtied three pages of it.
    #[default]
    Hashed,
    /// The line id's first 8 bytes, then 8 bytes of that UUIDv5: a line's accounts are
    /// adjacent in storage, and a purchase's balance updates dirty one page of them.
    Prefixed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseStatus {
    Authorized,
    Captured,
    Voided,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: Uuid,
    pub amount_minor: i64,
    pub entry_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    pub id: Uuid,
    pub tenant: String,
    pub line_id: Uuid,
    pub merchant_id: Uuid,
    pub currency: Currency,
    pub amount_minor: i64,
    pub status: PurchaseStatus,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub authorized_on: BusinessDate,
    pub captured_on: Option<BusinessDate>,
    pub refunds: Vec<Refund>,
    pub installment_months: Option<u32>,
}

/// A document and the version it was read at.
#[derive(Clone, Debug)]
pub struct Versioned<T> {
    pub doc: T,
    pub version: i64,
}

fn encode<T: Serialize>(doc: &T) -> Vec<u8> {
    serde_json::to_vec(doc).expect("documents serialize")
}

async fn load<T: DeserializeOwned>(
    engine: &Engine,
    kind: &'static str,
    id: Uuid,
    tenant: &str,
) -> Result<Versioned<T>, RevolvingError> {
    let row = engine
        .store()
        .doc(id)
        .await?
        .filter(|r| r.kind == kind && (tenant == "*" || r.tenant == tenant))
        .ok_or(RevolvingError::NotFound(kind))?;
    let doc = serde_json::from_slice(&row.body)
        .map_err(|e| anyhow::anyhow!("stored {kind} {id} does not decode: {e}"))?;
    Ok(Versioned {
        doc,
        version: row.version,
    })
}

/// Where a document sits: its kind, id, tenant and the document it belongs to.
struct Place<'a> {
    kind: &'a str,
    id: Uuid,
    tenant: &'a str,
    parent: Option<Uuid>,
}

fn doc_write(
    at: Place<'_>,
    open: bool,
    day: BusinessDate,
    body: Vec<u8>,
    read_version: Option<i64>,
) -> DomainWrite {
    DomainWrite::Doc {
        row: DocRow {
            kind: at.kind.into(),
            id: at.id,
            tenant: at.tenant.into(),
            parent: at.parent,
            open,
            day: day.to_epoch_days(),
            version: read_version.map_or(1, |v| v + 1),
            body,
        },
        expected_version: read_version,
    }
}

fn line_write(l: &LineDoc, read_version: Option<i64>) -> DomainWrite {
    let open = l.line.status != LineStatus::Closed || l.line.payoff_minor() != 0;
    doc_write(
        Place {
            kind: LINE,
            id: l.id,
            tenant: &l.tenant,
            parent: Some(l.borrower_id),
        },
        open,
        l.line.business_date,
        encode(l),
        read_version,
    )
}

fn purchase_write(p: &Purchase, read_version: Option<i64>) -> DomainWrite {
    let day = p.captured_on.unwrap_or(p.authorized_on);
    doc_write(
        Place {
            kind: PURCHASE,
            id: p.id,
            tenant: &p.tenant,
            parent: Some(p.line_id),
        },
        false,
        day,
        encode(p),
        read_version,
    )
}

/// Events of a line, numbered from its `event_seq`, which moves past them.
fn line_events(l: &mut LineDoc, day: BusinessDate, events: &[LineEvent]) -> Vec<DomainWrite> {
    events
        .iter()
        .map(|e| {
            let body = serde_json::to_value(e).expect("events serialize");
            let kind = body["kind"].as_str().unwrap_or("event").to_string();
            let seq = l.event_seq;
            l.event_seq += 1;
            DomainWrite::DocEvent(DocEvent {
                doc_id: l.id,
                seq,
                day: day.to_epoch_days(),
                kind,
                body: serde_json::to_vec(&body).expect("events serialize"),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Accounts

/// Accounts shared by a tenant's lines in one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    LimitPool,
    InterestIncome,
    FeeIncome,
    PenaltyIncome,
    DiscountIncome,
    /// Repayments received from borrowers.
    BorrowerCash,
    /// The funder's money: credited when a merchant is paid.
    FunderCash,
}

impl Platform {
    const ALL: [Platform; 7] = [
        Platform::LimitPool,
        Platform::InterestIncome,
        Platform::FeeIncome,
        Platform::PenaltyIncome,
        Platform::DiscountIncome,
        Platform::BorrowerCash,
        Platform::FunderCash,
    ];

    fn name(self) -> &'static str {
        match self {
            Platform::LimitPool => "rc_limit_pool",
            Platform::InterestIncome => "rc_interest_income",
            Platform::FeeIncome => "rc_fee_income",
            Platform::PenaltyIncome => "rc_penalty_income",
            Platform::DiscountIncome => "rc_discount_income",
            Platform::BorrowerCash => "rc_borrower_cash",
            Platform::FunderCash => "rc_funder_cash",
        }
    }

    fn side(self) -> Side {
        match self {
            Platform::LimitPool | Platform::BorrowerCash | Platform::FunderCash => Side::Debit,
            _ => Side::Credit,
        }
    }
}

pub fn platform_account(tenant: &str, currency: Currency, p: Platform) -> AccountId {
    AccountId(Uuid::new_v5(
        &NS,
        format!("{tenant}:{}:{}", currency.code(), p.name()).as_bytes(),
    ))
}

/// The line's own accounts.
const LINE_PURPOSES: [Purpose; 7] = [
    Purpose::Available,
    Purpose::Used,
    Purpose::PrincipalReceivable,
    Purpose::InterestReceivable,
    Purpose::FeeReceivable,
    Purpose::PenaltyReceivable,
    Purpose::Overpayment,
];

fn purpose_name(p: Purpose) -> &'static str {
    match p {
        Purpose::Available => "available",
        Purpose::Used => "used",
        Purpose::LimitPool => "limit_pool",
        Purpose::PrincipalReceivable => "principal_receivable",
        Purpose::InterestReceivable => "interest_receivable",
        Purpose::FeeReceivable => "fee_receivable",
        Purpose::PenaltyReceivable => "penalty_receivable",
        Purpose::InterestIncome => "interest_income",
        Purpose::FeeIncome => "fee_income",
        Purpose::PenaltyIncome => "penalty_income",
        Purpose::BorrowerCash => "borrower_cash",
        Purpose::MerchantPayable => "merchant_payable",
        Purpose::Overpayment => "overpayment",
    }
}

pub fn line_account(l: &LineDoc, p: Purpose) -> AccountId {
    let name = purpose_name(p);
    AccountId(match l.account_ids {
        LineAccountIds::Hashed => Uuid::new_v5(&l.id, name.as_bytes()),
        LineAccountIds::Prefixed => derived_id(l.id, name),
    })
}

pub fn merchant_payable(merchant_id: Uuid, currency: Currency) -> AccountId {
    AccountId(Uuid::new_v5(
        &merchant_id,
        format!("payable:{}", currency.code()).as_bytes(),
    ))
}

/// Maps a line's posting purpose to its account; `MerchantPayable` needs the merchant.
fn resolve(l: &LineDoc, merchant: Option<Uuid>, p: Purpose) -> AccountId {
    let c = l.line.terms.currency;
    let shared = |x| platform_account(&l.tenant, c, x);
    match p {
        Purpose::LimitPool => shared(Platform::LimitPool),
        Purpose::InterestIncome => shared(Platform::InterestIncome),
        Purpose::FeeIncome => shared(Platform::FeeIncome),
        Purpose::PenaltyIncome => shared(Platform::PenaltyIncome),
        Purpose::BorrowerCash => shared(Platform::BorrowerCash),
        Purpose::MerchantPayable => {
            merchant_payable(merchant.expect("merchant postings name the merchant"), c)
        }
        other => line_account(l, other),
    }
}

fn open_platform(tenant: &str, currency: Currency) -> Vec<Command> {
    Platform::ALL
        .iter()
        .map(|&p| Command::OpenAccount {
            id: platform_account(tenant, currency, p),
            tenant: tenant.into(),
            owner: "platform".into(),
            purpose: p.name().into(),
            currency,
            normal_side: p.side(),
            constraint: None,
        })
        .collect()
}

fn open_line_accounts(l: &LineDoc) -> Vec<Command> {
    LINE_PURPOSES
        .iter()
        .map(|&p| Command::OpenAccount {
            id: line_account(l, p),
            tenant: l.tenant.clone(),
            owner: format!("line:{}", l.id),
            purpose: format!("rc_{}", purpose_name(p)),
            currency: l.line.terms.currency,
            normal_side: match p {
                Purpose::Available | Purpose::Used | Purpose::Overpayment => Side::Credit,
                _ => Side::Debit,
            },
            constraint: (p == Purpose::Available).then_some(Constraint::DebitsMustNotExceedCredits),
        })
        .collect()
}

/// One entry of a line's postings, or none when there are none.
fn line_entry(
    l: &LineDoc,
    merchant: Option<Uuid>,
    (id, mut postings): (EntryId, Vec<Posting>),
    intents: &[PostingIntent],
    memo: String,
) -> Option<Command> {
    if intents.is_empty() && postings.is_empty() {
        return None;
    }
    postings.reserve(intents.len() * 2);
    for i in intents {
        assert!(
            i.amount_minor > 0,
            "the line state machine posts positive amounts"
        );
        postings.push(Posting {
            account_id: resolve(l, merchant, i.debit),
            direction: Side::Debit,
            amount_minor: i.amount_minor,
        });
        postings.push(Posting {
            account_id: resolve(l, merchant, i.credit),
            direction: Side::Credit,
            amount_minor: i.amount_minor,
        });
    }
    Some(Command::Entry(EntryRequest {
        id,
        currency: l.line.terms.currency,
        postings,
        memo,
    }))
}

/// An id derived from `of` and what it is for: `of`'s first 8 bytes, then the last 8 of
/// UUIDv5(of, what). Purchases, refunds and request keys are time-ordered (UUIDv7) ids, so
/// the ids derived from them are too, and the ledger's id indexes grow at their end instead
/// of taking a write at a random page per entry (a fifth of what a sale wrote, measured).
/// Two derived ids of one `of` differ in 62 bits of hash; were they ever equal, the second
/// would be refused as a conflicting id, not merged.
fn derived_id(of: Uuid, what: &str) -> Uuid {
    let hash = Uuid::new_v5(&of, what.as_bytes());
    let mut b = *hash.as_bytes();
    b[..8].copy_from_slice(&of.as_bytes()[..8]);
    Uuid::from_bytes(b)
}

fn derived_entry(of: Uuid, what: &str) -> EntryId {
    EntryId(derived_id(of, what))
}

pub fn hold_id(purchase_id: Uuid) -> HoldId {
    HoldId(derived_id(purchase_id, "authorization"))
}

pub fn capture_limit_entry(purchase_id: Uuid) -> EntryId {
    derived_entry(purchase_id, "capture-limit")
}

pub fn capture_entry(purchase_id: Uuid) -> EntryId {
    derived_entry(purchase_id, "capture")
}

pub fn settlement_entry(merchant_id: Uuid, currency: Currency, day: BusinessDate) -> EntryId {
    derived_entry(merchant_id, &format!("settle:{}:{day}", currency.code()))
}

/// What a new hold could still take from the line's available limit.
pub fn free_minor(available: &Account) -> i64 {
    let b = &available.balances;
    b.credits_posted_minor - b.debits_posted_minor - b.debits_pending_minor
}

async fn account(engine: &Engine, id: AccountId) -> Result<Account, RevolvingError> {
    Ok(engine
        .account(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("account {id} is missing"))?)
}

async fn line_free(engine: &Engine, l: &LineDoc) -> Result<i64, RevolvingError> {
    Ok(free_minor(
        &account(engine, line_account(l, Purpose::Available)).await?,
    ))
}

// ---------------------------------------------------------------------------------------
// Borrowers and merchants

pub async fn business_day(engine: &Engine) -> Result<BusinessDate, RevolvingError> {
    crate::loans::business_date(engine)
        .await?
        .ok_or_else(|| conflict("no_business_date", "no business date is open yet"))
}

/// Creates a borrower, or returns the stored one when the same id comes again with the
/// same fields (`true` = replay).
pub async fn create_borrower(
    engine: &Engine,
    id: Uuid,
    tenant: &str,
    kind: BorrowerKind,
    name: String,
) -> Result<(Borrower, bool), RevolvingError> {
    if let Ok(b) = load::<Borrower>(engine, BORROWER, id, tenant).await {
        return same_or_conflict(b.doc, |b| b.kind == kind && b.name == name);
    }
    let day = business_day(engine).await?;
    let b = Borrower {
        id,
        tenant: tenant.into(),
        kind,
        name,
        created_on: day,
    };
    let w = doc_write(
        Place {
            kind: BORROWER,
            id,
            tenant,
            parent: None,
        },
        false,
        day,
        encode(&b),
        None,
    );
    submit_doc(engine, Vec::new(), vec![w]).await?;
    Ok((b, false))
}

fn same_or_conflict<T>(stored: T, same: impl Fn(&T) -> bool) -> Result<(T, bool), RevolvingError> {
    if same(&stored) {
        Ok((stored, true))
    } else {
        Err(conflict(
            "id_reused",
            "this id was already used with different fields",
        ))
    }
}

/// A commit whose only versioned writes are inserts: a stale answer means the id was taken
/// meanwhile by the same request's twin.
async fn submit_doc(
    engine: &Engine,
    commands: Vec<Command>,
    domain: Vec<DomainWrite>,
) -> Result<Vec<Outcome>, RevolvingError> {
    engine
        .submit_with(commands, domain)
        .await
        .map_err(|e| match e {
            EngineError::StaleDoc { .. } => {
                conflict("id_reused", "this id was taken meanwhile; retry")
            }
            other => other.into(),
        })
}

pub struct NewMerchant {
    pub id: Uuid,
    pub name: String,
    pub currency: Currency,
    pub discount_rate: Decimal,
    pub settlement_account: String,
}

pub async fn create_merchant(
    engine: &Engine,
    tenant: &str,
    m: NewMerchant,
) -> Result<(Merchant, bool), RevolvingError> {
    if m.discount_rate < Decimal::ZERO || m.discount_rate >= Decimal::new(1, 1) {
        return Err(invalid(
            "discount_rate",
            "must be at least 0 and below 0.1 (10%)",
        ));
    }
    if m.settlement_account.trim().is_empty() {
        return Err(invalid(
            "settlement_account",
            "must name the account settlements go to",
        ));
    }
    if let Ok(s) = load::<Merchant>(engine, MERCHANT, m.id, tenant).await {
        return same_or_conflict(s.doc, |s| {
            s.name == m.name
                && s.currency == m.currency
                && s.discount_rate == m.discount_rate
                && s.settlement_account == m.settlement_account
        });
    }
    let day = business_day(engine).await?;
    let doc = Merchant {
        id: m.id,
        tenant: tenant.into(),
        name: m.name,
        currency: m.currency,
        discount_rate: m.discount_rate.normalize(),
        settlement_account: m.settlement_account,
        created_on: day,
    };
    let mut commands = open_platform(tenant, m.currency);
    commands.push(Command::OpenAccount {
        id: merchant_payable(doc.id, doc.currency),
        tenant: tenant.into(),
        owner: format!("merchant:{}", doc.id),
        purpose: "rc_merchant_payable".into(),
        currency: doc.currency,
        normal_side: Side::Credit,
        constraint: None,
    });
    let w = doc_write(
        Place {
            kind: MERCHANT,
            id: doc.id,
            tenant,
            parent: None,
        },
        true,
        day,
        encode(&doc),
        None,
    );
    submit_doc(engine, commands, vec![w]).await?;
    Ok((doc, false))
}

pub async fn merchant(engine: &Engine, tenant: &str, id: Uuid) -> Result<Merchant, RevolvingError> {
    Ok(load::<Merchant>(engine, MERCHANT, id, tenant).await?.doc)
}

pub async fn borrower(engine: &Engine, tenant: &str, id: Uuid) -> Result<Borrower, RevolvingError> {
    Ok(load::<Borrower>(engine, BORROWER, id, tenant).await?.doc)
}

// ---------------------------------------------------------------------------------------
// Credit lines

pub struct NewLine {
    pub id: Uuid,
    pub borrower_id: Uuid,
    pub limit_minor: i64,
    pub terms: revolving::Terms,
    pub rules: LimitRules,
}

/// A line with its ledger figures.
#[derive(Clone, Debug)]
pub struct LineView {
    pub doc: LineDoc,
    pub version: i64,
    pub available_minor: i64,
    pub held_minor: i64,
}

pub async fn open_line(
    engine: &Engine,
    tenant: &str,
    n: NewLine,
) -> Result<(LineView, bool), RevolvingError> {
    if let Ok(v) = load::<LineDoc>(engine, LINE, n.id, tenant).await {
        let same = v.doc.borrower_id == n.borrower_id
            && v.doc.line.terms == n.terms
            && v.doc.rules == n.rules;
        if !same {
            return Err(conflict(
                "id_reused",
                "this id was already used with different fields",
            ));
        }
        return Ok((line_view(engine, v).await?, true));
    }
    borrower(engine, tenant, n.borrower_id)
        .await
        .map_err(|_| invalid("borrower_id", "no such borrower"))?;
    let day = business_day(engine).await?;
    let (line, intents, events) = Line::open(n.terms, n.limit_minor, day)?;
    let mut doc = LineDoc {
        id: n.id,
        tenant: tenant.into(),
        borrower_id: n.borrower_id,
        line,
        rules: n.rules,
        event_seq: 0,
        account_ids: LineAccountIds::Prefixed,
    };
    let mut commands = open_platform(tenant, doc.line.terms.currency);
    commands.extend(open_line_accounts(&doc));
    commands.extend(line_entry(
        &doc,
        None,
        (derived_entry(doc.id, "open"), Vec::new()),
        &intents,
        "line opened".into(),
    ));
    let mut domain = line_events(&mut doc, day, &events);
    domain.push(line_write(&doc, None));
    submit_doc(engine, commands, domain).await?;
    let version = 1;
    Ok((line_view(engine, Versioned { doc, version }).await?, false))
}

async fn line_view(engine: &Engine, v: Versioned<LineDoc>) -> Result<LineView, RevolvingError> {
    let a = account(engine, line_account(&v.doc, Purpose::Available)).await?;
    Ok(LineView {
        available_minor: free_minor(&a),
        held_minor: a.balances.debits_pending_minor,
        doc: v.doc,
        version: v.version,
    })
}

pub async fn line(engine: &Engine, tenant: &str, id: Uuid) -> Result<LineView, RevolvingError> {
    let v = load::<LineDoc>(engine, LINE, id, tenant).await?;
    line_view(engine, v).await
}

pub async fn line_history(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
) -> Result<Vec<(i32, BusinessDate, serde_json::Value)>, RevolvingError> {
    load::<LineDoc>(engine, LINE, id, tenant).await?;
    engine
        .store()
        .doc_events(id)
        .await?
        .into_iter()
        .map(|e| {
            let day = BusinessDate::from_epoch_days(e.day)
                .ok_or_else(|| anyhow::anyhow!("stored event day {} is out of range", e.day))?;
            let body = serde_json::from_slice(&e.body).map_err(anyhow::Error::from)?;
            Ok((e.seq, day, body))
        })
        .collect()
}

/// Runs a line command against the latest line, retrying when another change got there
/// first. `extra` adds the commands and writes of the use case (a purchase's hold post, its
/// document), built from the line as read.
async fn run_line<F>(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
    needs_free: bool,
    mut build: F,
) -> Result<LineDoc, RevolvingError>
where
    F: FnMut(&Versioned<LineDoc>, i64) -> Result<LinePlan, RevolvingError>,
{
    let _turn = engine.doc_turn(id).await;
    for _ in 0..STALE_RETRIES_MAX {
        let v = cached_line(engine, id, tenant).await?;
        let free = if needs_free {
            line_free(engine, &v.doc).await?
        } else {
            0
        };
        let plan = build(&v, free)?;
        let as_of = match plan.command {
            revolving::Command::AdvanceDay { .. } => v.doc.line.business_date.succ(),
            _ => v.doc.line.business_date,
        };
        let outcome = revolving::apply(&v.doc.line, &plan.command, as_of)?;
        let mut doc = LineDoc {
            line: outcome.line,
            ..v.doc.clone()
        };
        let mut commands = plan.before;
        commands.extend(line_entry(
            &v.doc,
            plan.merchant,
            (plan.entry_id, plan.leading),
            &outcome.postings,
            plan.memo,
        ));
        let mut domain = line_events(&mut doc, as_of, &outcome.events);
        domain.push(line_write(&doc, Some(v.version)));
        domain.extend(plan.writes);
        match engine.submit_with(commands, domain).await {
            Ok(_) => {
                remember_line(engine, doc.clone(), v.version + 1);
                return Ok(doc);
            }
            // The line changed since it was read: read it again. Another document gone
            // stale is the caller's to handle (it may be a twin request's insert).
            Err(EngineError::StaleDoc { id: stale }) if stale == id => {
                engine.line_cache().lock().expect("line cache").remove(&id);
                tokio::task::yield_now().await
            }
            // A hold took limit between reading the free amount and the change.
            Err(EngineError::Rejected(LedgerError::ConstraintViolated { .. })) if needs_free => {
                tokio::task::yield_now().await
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(conflict(
        "changed_meanwhile",
        "the line kept changing; retry",
    ))
}

/// Lines this process keeps before it forgets them all and reads them again.
const CACHED_LINES_MAX: usize = 200_000;

/// The line as this process last read or wrote it, else as stored. Only `run_line` uses
/// it: its write names the version, so a line another process changed is refused and read
/// again.
async fn cached_line(
    engine: &Engine,
    id: Uuid,
    tenant: &str,
) -> Result<Versioned<LineDoc>, RevolvingError> {
    let hit = engine
        .line_cache()
        .lock()
        .expect("line cache")
        .get(&id)
        .cloned();
    match hit {
        Some((doc, version)) if tenant == "*" || doc.tenant == tenant => {
            Ok(Versioned { doc, version })
        }
        Some(_) => Err(RevolvingError::NotFound(LINE)),
        None => {
            let v = load::<LineDoc>(engine, LINE, id, tenant).await?;
            remember_line(engine, v.doc.clone(), v.version);
            Ok(v)
        }
    }
}

fn remember_line(engine: &Engine, doc: LineDoc, version: i64) {
    let mut lines = engine.line_cache().lock().expect("line cache");
    if lines.len() >= CACHED_LINES_MAX {
        lines.clear();
    }
    lines.insert(doc.id, (doc, version));
}

/// What a use case adds around one line command.
struct LinePlan {
    command: revolving::Command,
    entry_id: EntryId,
    memo: String,
    merchant: Option<Uuid>,
    /// Ledger commands before the line's entry (e.g. the authorization's hold post).
    before: Vec<Command>,
    /// Postings that lead the line's entry (a sale's limit taken).
    leading: Vec<Posting>,
    writes: Vec<DomainWrite>,
}

impl LinePlan {
    fn new(command: revolving::Command, entry_id: EntryId, memo: impl Into<String>) -> Self {
        LinePlan {
            command,
            entry_id,
            memo: memo.into(),
            merchant: None,
            before: Vec::new(),
            leading: Vec::new(),
            writes: Vec::new(),
        }
    }
}

/// A repayment under the client's id; a retry answers with the line as it is.
pub async fn repay(
    engine: &Engine,
    tenant: &str,
    line_id: Uuid,
    repayment_id: Uuid,
    amount_minor: i64,
) -> Result<(LineDoc, bool), RevolvingError> {
    if amount_minor <= 0 {
        return Err(invalid("amount_minor", "must be positive"));
    }
    let entry_id = EntryId(repayment_id);
    if let Some(e) = engine.entry(entry_id).await? {
        let v = load::<LineDoc>(engine, LINE, line_id, tenant).await?;
        let cash = platform_account(tenant, v.doc.line.terms.currency, Platform::BorrowerCash);
        let received: i64 = e
            .postings
            .iter()
            .filter(|p| p.account_id == cash && p.direction == Side::Debit)
            .map(|p| p.amount_minor)
            .sum();
        let this_line = e.postings.iter().any(|p| {
            LINE_PURPOSES
                .iter()
                .any(|&q| p.account_id == line_account(&v.doc, q))
        });
        if !this_line || received != amount_minor {
            return Err(conflict(
                "id_reused",
                "this repayment id was used for another repayment",
            ));
        }
        return Ok((v.doc, true));
    }
    let doc = run_line(engine, tenant, line_id, false, |_, _| {
        Ok(LinePlan::new(
            revolving::Command::Repay { amount_minor },
            entry_id,
            "repayment",
        ))
    })
    .await?;
    Ok((doc, false))
}

pub enum LimitAction {
    Set {
        limit_minor: i64,
    },
    Temporary {
        amount_minor: i64,
        expires_on: BusinessDate,
    },
    Freeze,
    Unfreeze,
    Close,
    Signal(revolving::RiskSignal),
}

impl LimitAction {
    /// The request as stored with its key, to tell a retry from a reused key.
    fn describe(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            LimitAction::Set { limit_minor } => {
                json!({"action": "set_limit", "limit_minor": limit_minor})
            }
            LimitAction::Temporary {
                amount_minor,
                expires_on,
            } => json!({"action": "temporary_limit", "amount_minor": amount_minor,
                        "expires_on": expires_on.to_string()}),
            LimitAction::Freeze => json!({"action": "freeze"}),
            LimitAction::Unfreeze => json!({"action": "unfreeze"}),
            LimitAction::Close => json!({"action": "close"}),
            LimitAction::Signal(revolving::RiskSignal::Lower { fraction, reason }) => {
                json!({"action": "risk_signal", "lower_fraction": fraction.normalize().to_string(),
                       "signal_reason": reason})
            }
            LimitAction::Signal(revolving::RiskSignal::Freeze { reason }) => {
                json!({"action": "risk_signal", "signal_reason": reason})
            }
        }
    }
}

/// The line as it is when `key` already changed it with the same request; a conflict when
/// the key was used for another request; `None` when the key is new.
async fn change_replay(
    engine: &Engine,
    tenant: &str,
    record_id: Uuid,
    request: &serde_json::Value,
) -> Result<Option<LineDoc>, RevolvingError> {
    let Ok(stored) = load::<serde_json::Value>(engine, LINE_CHANGE, record_id, tenant).await else {
        return Ok(None);
    };
    if &stored.doc != request {
        return Err(conflict(
            "id_reused",
            "this Idempotency-Key was used for another change",
        ));
    }
    let line_id = request["line_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| anyhow::anyhow!("stored line change {record_id} names no line"))?;
    Ok(Some(
        load::<LineDoc>(engine, LINE, line_id, tenant).await?.doc,
    ))
}

/// An operator's or a risk system's change of a line, logged with its reason. The change is
/// recorded under `key` with the line's update, so the same key again answers with the line
/// instead of changing it twice (a freeze retried is not refused; a limit set again logs no
/// second event; a reused key whose postings happen to match cannot move the line without
/// the ledger).
pub async fn change_line(
    engine: &Engine,
    tenant: &str,
    line_id: Uuid,
    key: Uuid,
    action: LimitAction,
    reason: String,
) -> Result<LineDoc, RevolvingError> {
    if reason.trim().is_empty() {
        return Err(invalid("reason", "say why the line changes"));
    }
    let record_id = Uuid::new_v5(&key, b"line-change");
    let request = serde_json::json!({
        "line_id": line_id.to_string(),
        "change": action.describe(),
        "reason": reason,
    });
    if let Some(line) = change_replay(engine, tenant, record_id, &request).await? {
        return Ok(line);
    }
    let changed = run_line(engine, tenant, line_id, true, |v, free| {
        let command = match &action {
            LimitAction::Set { limit_minor } => revolving::Command::ChangeLimit {
                limit_minor: *limit_minor,
                free_minor: free,
                reason: reason.clone(),
            },
            LimitAction::Temporary {
                amount_minor,
                expires_on,
            } => revolving::Command::GrantTemporary {
                amount_minor: *amount_minor,
                expires_on: *expires_on,
                free_minor: free,
                reason: reason.clone(),
            },
            LimitAction::Freeze => revolving::Command::Freeze {
                reason: reason.clone(),
            },
            LimitAction::Unfreeze => revolving::Command::Unfreeze {
                reason: reason.clone(),
            },
            LimitAction::Close => revolving::Command::Close {
                free_minor: free,
                reason: reason.clone(),
            },
            LimitAction::Signal(s) => revolving::limits::on_signal(&v.doc.line, s, free),
        };
        let mut plan = LinePlan::new(
            command,
            derived_entry(key, "line-change"),
            format!("line change: {reason}"),
        );
        plan.writes = vec![doc_write(
            Place {
                kind: LINE_CHANGE,
                id: record_id,
                tenant,
                parent: Some(line_id),
            },
            false,
            v.doc.line.business_date,
            encode(&request),
            None,
        )];
        Ok(plan)
    })
    .await;
    match changed {
        Ok(line) => Ok(line),
        // A twin with the same key committed first: answer as its retry would be answered.
        Err(e) => match change_replay(engine, tenant, record_id, &request).await? {
            Some(line) => Ok(line),
            None => Err(e),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Purchases

pub struct NewPurchase {
    pub id: Uuid,
    pub line_id: Uuid,
    pub merchant_id: Uuid,
    pub currency: Currency,
    pub amount_minor: i64,
}

/// A merchant from this engine's cache, or from the store (then cached): merchant
/// documents are never rewritten, so a cached one is never stale.
async fn cached_merchant(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
) -> Result<Arc<Merchant>, RevolvingError> {
    let hit = engine
        .merchant_cache()
        .lock()
        .expect("merchant cache")
        .get(&id)
        .cloned();
    let m = match hit {
        Some(m) => m,
        None => {
            let m = Arc::new(load::<Merchant>(engine, MERCHANT, id, "*").await?.doc);
            engine
                .merchant_cache()
                .lock()
                .expect("merchant cache")
                .insert(id, m.clone());
            m
        }
    };
    if tenant != "*" && m.tenant != tenant {
        return Err(RevolvingError::NotFound(MERCHANT));
    }
    Ok(m)
}

/// The merchant of a new purchase, once its amount is known to be positive.
async fn purchase_merchant(
    engine: &Engine,
    tenant: &str,
    n: &NewPurchase,
) -> Result<Arc<Merchant>, RevolvingError> {
    if n.amount_minor <= 0 {
        return Err(invalid("amount_minor", "must be positive"));
    }
    cached_merchant(engine, tenant, n.merchant_id)
        .await
        .map_err(|_| invalid("merchant_id", "no such merchant"))
}

/// Authorizes a purchase: a hold `available → used` for its amount. Declined (nothing
/// stored) when the available limit cannot cover it; refused when the line is not active
/// or the merchant unknown. The same id again answers with the stored purchase.
pub async fn authorize(
    engine: &Engine,
    tenant: &str,
    n: NewPurchase,
) -> Result<(Purchase, bool), RevolvingError> {
    if n.amount_minor <= 0 {
        return Err(invalid("amount_minor", "must be positive"));
    }
    if let Ok(p) = load::<Purchase>(engine, PURCHASE, n.id, tenant).await {
        return same_or_conflict(p.doc, |p| {
            p.line_id == n.line_id
                && p.merchant_id == n.merchant_id
                && p.currency == n.currency
                && p.amount_minor == n.amount_minor
        });
    }
    let line = load::<LineDoc>(engine, LINE, n.line_id, tenant)
        .await
        .map_err(|_| invalid("credit_line_id", "no such credit line"))?
        .doc;
    let merchant = purchase_merchant(engine, tenant, &n).await?;
    check_purchase(&line, &merchant, &n)?;
    let p = authorized_purchase(tenant, &n, line.line.business_date);
    let hold = Command::Hold(HoldRequest {
        id: hold_id(p.id),
        currency: p.currency,
        debit_account_id: line_account(&line, Purpose::Available),
        credit_account_id: line_account(&line, Purpose::Used),
        amount_minor: p.amount_minor,
        expires_at_ms: Some(crate::now_ms() + AUTHORIZATION_TTL_MS),
        memo: format!("purchase {} at merchant {}", p.id, p.merchant_id),
    });
    match submit_doc(engine, vec![hold], vec![purchase_write(&p, None)]).await {
        Ok(_) => Ok((p, false)),
        Err(RevolvingError::Engine(EngineError::Rejected(LedgerError::ConstraintViolated {
            ..
        }))) => Err(declined(p.amount_minor)),
        Err(e) => Err(e),
    }
}

/// A one-step sale: authorization and capture of the whole amount in one commit, and one
/// entry: its first postings move the limit `available → used` (what the authorization's
/// hold post does in two steps), the rest are the capture's, under the capture's id. A retry, or an id
/// first used by a plain authorization, takes the two-step path, which answers replays.
pub async fn sale(
    engine: &Engine,
    tenant: &str,
    n: NewPurchase,
) -> Result<(Purchase, bool), RevolvingError> {
    // No read for a retry first: the purchase's insert fails if its id is taken.
    let merchant = purchase_merchant(engine, tenant, &n).await?;
    let mut sold = None;
    let r = run_line(engine, tenant, n.line_id, false, |v, _| {
        check_purchase(&v.doc, &merchant, &n)?;
        let p = sold_purchase(tenant, &n, v.doc.line.business_date);
        let mut plan = LinePlan::new(
            revolving::Command::Capture {
                amount_minor: p.amount_minor,
            },
            capture_entry(p.id),
            format!("purchase {} at merchant {}", p.id, p.merchant_id),
        );
        plan.merchant = Some(p.merchant_id);
        plan.leading = limit_taken(&v.doc, p.amount_minor);
        plan.writes = vec![purchase_write(&p, None)];
        sold = Some(p);
        Ok(plan)
    })
    .await;
    let e = match r {
        Ok(_) => return Ok((sold.expect("a committed plan was built"), false)),
        Err(e) => e,
    };
    // A retry of a sale that went through (its insert failed, or the line has since moved
    // on) is answered by the two-step path, which finds the stored purchase.
    if load::<Purchase>(engine, PURCHASE, n.id, tenant)
        .await
        .is_ok()
    {
        return sale_in_two_steps(engine, tenant, n).await;
    }
    match e {
        RevolvingError::NotFound(_) => Err(invalid("credit_line_id", "no such credit line")),
        // The line's own check or the ledger's constraint on `available`: either way the
        // limit does not cover the sale.
        RevolvingError::Engine(EngineError::Rejected(LedgerError::ConstraintViolated {
            ..
        }))
        | RevolvingError::Line(revolving::LineError::TooLarge {
            field: "amount_minor",
            ..
        }) => Err(declined(n.amount_minor)),
        e => Err(e),
    }
}

async fn sale_in_two_steps(
    engine: &Engine,
    tenant: &str,
    n: NewPurchase,
) -> Result<(Purchase, bool), RevolvingError> {
    let (p, replayed) = authorize(engine, tenant, n).await?;
    let (captured, _) = capture(engine, tenant, p.id, None).await?;
    Ok((captured, replayed))
}

fn authorized_purchase(tenant: &str, n: &NewPurchase, today: BusinessDate) -> Purchase {
    Purchase {
        id: n.id,
        tenant: tenant.into(),
        line_id: n.line_id,
        merchant_id: n.merchant_id,
        currency: n.currency,
        amount_minor: n.amount_minor,
        status: PurchaseStatus::Authorized,
        captured_minor: 0,
        refunded_minor: 0,
        authorized_on: today,
        captured_on: None,
        refunds: Vec::new(),
        installment_months: None,
    }
}

fn sold_purchase(tenant: &str, n: &NewPurchase, today: BusinessDate) -> Purchase {
    Purchase {
        status: PurchaseStatus::Captured,
        captured_minor: n.amount_minor,
        captured_on: Some(today),
        ..authorized_purchase(tenant, n, today)
    }
}

/// The limit a sale takes: what posting its authorization's hold would have moved.
fn limit_taken(l: &LineDoc, amount_minor: i64) -> Vec<Posting> {
    vec![
        Posting {
            account_id: line_account(l, Purpose::Available),
            direction: Side::Debit,
            amount_minor,
        },
        Posting {
            account_id: line_account(l, Purpose::Used),
            direction: Side::Credit,
            amount_minor,
        },
    ]
}

fn declined(amount_minor: i64) -> RevolvingError {
    RevolvingError::Declined {
        reason: "insufficient_available_limit",
        detail: format!("the line's available limit does not cover {amount_minor} minor units"),
    }
}

fn check_purchase(line: &LineDoc, m: &Merchant, n: &NewPurchase) -> Result<(), RevolvingError> {
    if n.currency != line.line.terms.currency {
        return Err(invalid(
            "currency",
            format!("the line is in {}", line.line.terms.currency),
        ));
    }
    if m.currency != n.currency {
        return Err(invalid(
            "currency",
            format!("the merchant settles in {}", m.currency),
        ));
    }
    match line.line.status {
        LineStatus::Active => Ok(()),
        LineStatus::Frozen => Err(conflict("line_frozen", "the credit line is frozen")),
        LineStatus::Closed => Err(conflict("line_closed", "the credit line is closed")),
    }
}

pub async fn purchase(engine: &Engine, tenant: &str, id: Uuid) -> Result<Purchase, RevolvingError> {
    Ok(load::<Purchase>(engine, PURCHASE, id, tenant).await?.doc)
}

/// Captures an authorization, fully or partly (the rest of the hold is released). The
/// merchant's payable is credited; the borrower never holds the money.
pub async fn capture(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
    amount_minor: Option<i64>,
) -> Result<(Purchase, bool), RevolvingError> {
    for _ in 0..STALE_RETRIES_MAX {
        let p = load::<Purchase>(engine, PURCHASE, id, tenant).await?;
        let amount = amount_minor.unwrap_or(p.doc.amount_minor);
        match p.doc.status {
            PurchaseStatus::Captured if amount == p.doc.captured_minor => return Ok((p.doc, true)),
            PurchaseStatus::Authorized => {}
            s => {
                return Err(conflict(
                    "purchase_not_authorized",
                    format!("the purchase is {s:?}, not authorized"),
                ))
            }
        }
        if amount <= 0 {
            return Err(invalid("amount_minor", "must be positive"));
        }
        if amount > p.doc.amount_minor {
            return Err(invalid(
                "amount_minor",
                format!("exceeds the authorized {}", p.doc.amount_minor),
            ));
        }
        let mut after = p.doc.clone();
        after.status = PurchaseStatus::Captured;
        after.captured_minor = amount;
        match capture_once(engine, tenant, &p, after).await {
            Ok(done) => return Ok((done, false)),
            Err(RevolvingError::Engine(EngineError::StaleDoc { .. })) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(conflict(
        "changed_meanwhile",
        "the purchase kept changing; retry",
    ))
}

async fn capture_once(
    engine: &Engine,
    tenant: &str,
    p: &Versioned<Purchase>,
    mut after: Purchase,
) -> Result<Purchase, RevolvingError> {
    let amount = after.captured_minor;
    let post = Command::PostHold {
        hold_id: hold_id(p.doc.id),
        entry_id: capture_limit_entry(p.doc.id),
        amount_minor: Some(amount),
        memo: format!("purchase {} captured", p.doc.id),
    };
    run_line(engine, tenant, p.doc.line_id, false, |v, _| {
        after.captured_on = Some(v.doc.line.business_date);
        let mut plan = LinePlan::new(
            revolving::Command::Capture {
                amount_minor: amount,
            },
            capture_entry(p.doc.id),
            format!("purchase {} at merchant {}", p.doc.id, p.doc.merchant_id),
        );
        plan.merchant = Some(p.doc.merchant_id);
        plan.before = vec![post.clone()];
        plan.writes = vec![purchase_write(&after, Some(p.version))];
        Ok(plan)
    })
    .await
    .map_err(|e| match e {
        RevolvingError::Engine(EngineError::Rejected(LedgerError::HoldExpired { .. })) => conflict(
            "authorization_expired",
            "the authorization expired; authorize again",
        ),
        other => other,
    })?;
    Ok(after)
}

/// Releases an authorization that will not be captured.
pub async fn void(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
) -> Result<(Purchase, bool), RevolvingError> {
    let p = load::<Purchase>(engine, PURCHASE, id, tenant).await?;
    match p.doc.status {
        PurchaseStatus::Voided => return Ok((p.doc, true)),
        PurchaseStatus::Authorized => {}
        PurchaseStatus::Captured => {
            return Err(conflict(
                "purchase_captured",
                "a captured purchase is refunded, not voided",
            ))
        }
    }
    let mut after = p.doc.clone();
    after.status = PurchaseStatus::Voided;
    let void = Command::VoidHold {
        hold_id: hold_id(id),
    };
    let write = purchase_write(&after, Some(p.version));
    match engine.submit_with(vec![void], vec![write]).await {
        Ok(_) => Ok((after, false)),
        Err(EngineError::Rejected(LedgerError::HoldExpired { .. }))
        | Err(EngineError::Rejected(LedgerError::HoldNotPending { .. })) => Err(conflict(
            "authorization_expired",
            "the authorization is no longer pending",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Refunds part or all of what was captured and not yet refunded: the borrower's debt and
/// the statement shrink, the limit comes back, the merchant's payable is debited.
pub async fn refund(
    engine: &Engine,
    tenant: &str,
    purchase_id: Uuid,
    refund_id: Uuid,
    amount_minor: i64,
) -> Result<(Purchase, bool), RevolvingError> {
    if amount_minor <= 0 {
        return Err(invalid("amount_minor", "must be positive"));
    }
    change_purchase(engine, tenant, purchase_id, |p| {
        if let Some(r) = p.refunds.iter().find(|r| r.id == refund_id) {
            if r.amount_minor != amount_minor {
                return Err(conflict(
                    "id_reused",
                    "this refund id was used with another amount",
                ));
            }
            return Ok(None);
        }
        if p.status != PurchaseStatus::Captured {
            return Err(conflict(
                "purchase_not_captured",
                "only a captured purchase is refunded",
            ));
        }
        let refundable = p.captured_minor - p.refunded_minor;
        if amount_minor > refundable {
            return Err(invalid(
                "amount_minor",
                format!("exceeds what can still be refunded: {refundable}"),
            ));
        }
        let entry_id = derived_entry(refund_id, "refund");
        let mut after = p.clone();
        after.refunded_minor += amount_minor;
        after.refunds.push(Refund {
            id: refund_id,
            amount_minor,
            entry_id: entry_id.0,
        });
        let plan_id = p.installment_months.map(|_| *p.id.as_bytes());
        Ok(Some(PurchaseChange {
            after,
            plan: LinePlan::new(
                revolving::Command::Refund {
                    amount_minor,
                    plan_id,
                },
                entry_id,
                format!("refund {refund_id} of purchase {purchase_id}"),
            ),
        }))
    })
    .await
}

/// Turns a captured purchase into monthly installments.
pub async fn convert_purchase(
    engine: &Engine,
    tenant: &str,
    purchase_id: Uuid,
    months: u32,
    fee_payer: FeePayer,
) -> Result<(Purchase, bool), RevolvingError> {
    change_purchase(engine, tenant, purchase_id, |p| {
        if let Some(m) = p.installment_months {
            if m == months {
                return Ok(None);
            }
            return Err(conflict(
                "already_converted",
                format!("already in {m} installments"),
            ));
        }
        if p.status != PurchaseStatus::Captured {
            return Err(conflict(
                "purchase_not_captured",
                "only a captured purchase is converted",
            ));
        }
        let mut after = p.clone();
        after.installment_months = Some(months);
        Ok(Some(PurchaseChange {
            after,
            plan: LinePlan::new(
                revolving::Command::ConvertPurchase {
                    plan_id: *purchase_id.as_bytes(),
                    amount_minor: p.captured_minor - p.refunded_minor,
                    months,
                    fee_payer,
                },
                derived_entry(purchase_id, "installments"),
                format!("purchase {purchase_id} in {months} installments"),
            ),
        }))
    })
    .await
}

/// A purchase as it will be after a line command, and that command.
struct PurchaseChange {
    after: Purchase,
    plan: LinePlan,
}

/// Commits a change to a captured purchase with its line command (the merchant named, the
/// purchase rewritten under the version read). `decide` answers `None` for a replay of a
/// change already made. A purchase changed meanwhile is read and decided again.
async fn change_purchase(
    engine: &Engine,
    tenant: &str,
    purchase_id: Uuid,
    mut decide: impl FnMut(&Purchase) -> Result<Option<PurchaseChange>, RevolvingError>,
) -> Result<(Purchase, bool), RevolvingError> {
    for _ in 0..STALE_RETRIES_MAX {
        let p = load::<Purchase>(engine, PURCHASE, purchase_id, tenant).await?;
        let Some(change) = decide(&p.doc)? else {
            return Ok((p.doc, true));
        };
        let write = purchase_write(&change.after, Some(p.version));
        let r = run_line(engine, tenant, p.doc.line_id, false, |_, _| {
            let mut plan = LinePlan::new(
                change.plan.command.clone(),
                change.plan.entry_id,
                change.plan.memo.clone(),
            );
            plan.merchant = Some(p.doc.merchant_id);
            plan.writes = vec![write.clone()];
            Ok(plan)
        })
        .await;
        match r {
            Ok(_) => return Ok((change.after, false)),
            Err(RevolvingError::Engine(EngineError::StaleDoc { .. })) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(conflict(
        "changed_meanwhile",
        "the purchase kept changing; retry",
    ))
}

/// Turns the latest statement's unpaid revolving principal into installments.
pub async fn convert_statement(
    engine: &Engine,
    tenant: &str,
    line_id: Uuid,
    key: Uuid,
    months: u32,
) -> Result<LineDoc, RevolvingError> {
    let memo = format!("statement in {months} installments");
    if let Some(e) = engine.entry(derived_entry(key, "installments")).await? {
        // The key names one conversion: the same months again is a retry, others a reuse.
        if e.memo != memo {
            return Err(conflict(
                "id_reused",
                "this Idempotency-Key was used for another conversion",
            ));
        }
        return Ok(load::<LineDoc>(engine, LINE, line_id, tenant).await?.doc);
    }
    run_line(engine, tenant, line_id, false, |_, _| {
        Ok(LinePlan::new(
            revolving::Command::ConvertStatement {
                plan_id: *key.as_bytes(),
                months,
            },
            derived_entry(key, "installments"),
            memo.clone(),
        ))
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Fund-flow trace

/// One hop of a purchase's money: the ledger entry and what it moved.
#[derive(Clone, Debug)]
pub struct TraceStep {
    pub step: &'static str,
    pub entry_id: EntryId,
}

/// The entries that moved a purchase's money, in order: the limit taken, the capture
/// (receivable ← merchant payable; a one-step sale's single entry is both), the merchant's settlement from the funder's cash (when
/// close of business has run), and refunds.
pub async fn trace(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
) -> Result<(Purchase, Merchant, Vec<TraceStep>), RevolvingError> {
    let p = purchase(engine, tenant, id).await?;
    let m = merchant(engine, tenant, p.merchant_id).await?;
    let mut steps = Vec::new();
    if p.status == PurchaseStatus::Captured {
        // A capture posts its authorization's hold; a one-step sale takes the limit in
        // its capture entry (and sales stored before that, in an entry of their own).
        let limit = capture_limit_entry(id);
        let limit = match engine.entry(limit).await? {
            Some(_) => limit,
            None => capture_entry(id),
        };
        steps.push(TraceStep {
            step: "limit_used",
            entry_id: limit,
        });
        steps.push(TraceStep {
            step: "capture",
            entry_id: capture_entry(id),
        });
        if let Some(day) = p.captured_on {
            let settle = settlement_entry(m.id, m.currency, day);
            if engine.entry(settle).await?.is_some() {
                steps.push(TraceStep {
                    step: "merchant_settlement",
                    entry_id: settle,
                });
            }
        }
    }
    if let Some(plan) = p.installment_months {
        let e = derived_entry(id, "installments");
        if plan > 0 && engine.entry(e).await?.is_some() {
            steps.push(TraceStep {
                step: "installment_fee",
                entry_id: e,
            });
        }
    }
    for r in &p.refunds {
        steps.push(TraceStep {
            step: "refund",
            entry_id: EntryId(r.entry_id),
        });
    }
    Ok((p, m, steps))
}

// ---------------------------------------------------------------------------------------
// Close of business

#[derive(Clone, Copy, Debug, Default)]
pub struct RevolvingCobReport {
    pub lines_advanced: u64,
    pub statements_issued: u64,
    pub limit_changes: u64,
    pub merchants_settled: u64,
    pub settled_minor: i64,
}

const COB_CHUNK_LINES: u32 = 512;

/// Settles every merchant's payable for `today`, then moves every open line to `next`
/// (interest, penalty, statements, installments billed, temporary limits expired, limit
/// rules). Each line-day commits alone with its postings, so a crash leaves each line
/// before or after the day and a re-run picks up the rest.
pub async fn close_day(
    engine: &Engine,
    today: BusinessDate,
    next: BusinessDate,
) -> anyhow::Result<RevolvingCobReport> {
    let mut report = RevolvingCobReport::default();
    settle_merchants(engine, today, &mut report).await?;
    let mut after = None;
    loop {
        let rows = engine
            .store()
            .docs(LINE, Some(next.to_epoch_days()), after, COB_CHUNK_LINES)
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
        let mut tasks = tokio::task::JoinSet::new();
        for row in rows {
            let engine = engine.clone();
            tasks.spawn(async move { advance_line(&engine, row, next).await });
        }
        while let Some(r) = tasks.join_next().await {
            let (statements, changes) = r??;
            report.lines_advanced += 1;
            report.statements_issued += statements;
            report.limit_changes += changes;
        }
    }
    Ok(report)
}

async fn advance_line(
    engine: &Engine,
    row: DocRow,
    next: BusinessDate,
) -> anyhow::Result<(u64, u64)> {
    let tenant = row.tenant.clone();
    let id = row.id;
    let mut statements = 0;
    let mut changes = 0;
    let r = run_line(engine, &tenant, id, true, |v, free| {
        let outcome = revolving::apply(
            &v.doc.line,
            &revolving::Command::AdvanceDay { free_minor: free },
            next,
        )?;
        statements = outcome
            .events
            .iter()
            .filter(|e| matches!(e, LineEvent::StatementIssued { .. }))
            .count() as u64;
        // The rule is judged on the line as it will be after the day.
        let rule = revolving::limits::review(&outcome.line, &v.doc.rules, next, free);
        changes = u64::from(rule.is_some());
        Ok(LinePlan::new(
            revolving::Command::AdvanceDay { free_minor: free },
            derived_entry(id, &format!("day:{next}")),
            format!("close of business {next}"),
        ))
    })
    .await;
    r.map_err(|e| anyhow::anyhow!("line {id}: {e}"))?;
    if changes > 0 {
        apply_rule(engine, &tenant, id, next).await?;
    }
    Ok((statements, changes))
}

/// Applies the limit rule due on `next` to a line already moved to `next`.
async fn apply_rule(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
    next: BusinessDate,
) -> anyhow::Result<()> {
    run_line(engine, tenant, id, true, |v, free| {
        let command = revolving::limits::review(&v.doc.line, &v.doc.rules, next, free)
            .ok_or_else(|| conflict("no_rule", "no limit rule is due"))?;
        Ok(LinePlan::new(
            command,
            derived_entry(id, &format!("rule:{next}")),
            "limit rule".to_string(),
        ))
    })
    .await
    .map(|_| ())
    .or_else(|e| match e {
        RevolvingError::Conflict {
            code: "no_rule", ..
        } => Ok(()),
        e => Err(anyhow::anyhow!("line {id} limit rule: {e}")),
    })
}

/// Pays each merchant what the platform owes it, less the discount, from the funder's cash.
async fn settle_merchants(
    engine: &Engine,
    today: BusinessDate,
    report: &mut RevolvingCobReport,
) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let rows = engine.store().docs(MERCHANT, None, after, 1024).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
        for row in rows {
            let m: Merchant = serde_json::from_slice(&row.body)?;
            if let Some(amount) = settle_merchant(engine, &m, today).await? {
                report.merchants_settled += 1;
                report.settled_minor += amount;
            }
        }
    }
    Ok(())
}

async fn settle_merchant(
    engine: &Engine,
    m: &Merchant,
    today: BusinessDate,
) -> anyhow::Result<Option<i64>> {
    let payable = merchant_payable(m.id, m.currency);
    let Some(acct) = engine.account(payable).await? else {
        return Ok(None);
    };
    let gross = acct.balances.credits_posted_minor - acct.balances.debits_posted_minor;
    if gross <= 0 {
        return Ok(None);
    }
    let discount = RoundingMode::HalfEven
        .round_minor(Decimal::from(gross) * m.discount_rate)
        .map_err(|e| anyhow::anyhow!("discount of {gross}: {e:?}"))?;
    let cash = platform_account(&m.tenant, m.currency, Platform::FunderCash);
    let income = platform_account(&m.tenant, m.currency, Platform::DiscountIncome);
    let mut postings = vec![Posting {
        account_id: payable,
        direction: Side::Debit,
        amount_minor: gross,
    }];
    for (account_id, amount_minor) in [(cash, gross - discount), (income, discount)] {
        if amount_minor > 0 {
            postings.push(Posting {
                account_id,
                direction: Side::Credit,
                amount_minor,
            });
        }
    }
    let entry = Command::Entry(EntryRequest {
        id: settlement_entry(m.id, m.currency, today),
        currency: m.currency,
        postings,
        memo: format!(
            "settlement {today} to merchant {} account {}",
            m.id, m.settlement_account
        ),
    });
    match engine.submit_waiting(vec![entry], Vec::new()).await {
        Ok(_) => Ok(Some(gross)),
        // Settled earlier today by a run that stopped before the lines: the entry stands.
        Err(EngineError::Rejected(LedgerError::IdConflict { .. })) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_line(id: Uuid) -> LineDoc {
        let terms = revolving::Terms::standard(Currency::Cny);
        let day = BusinessDate::from_ymd(2026, 1, 5).unwrap();
        LineDoc {
            id,
            tenant: "t".into(),
            borrower_id: Uuid::nil(),
            line: Line::open(terms, 500_000, day).unwrap().0,
            rules: LimitRules::default(),
            event_seq: 0,
            account_ids: LineAccountIds::Prefixed,
        }
    }

    #[test]
    fn lines_stored_before_prefixed_account_ids_keep_their_hashed_ids() {
        let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_1234_5678_9abc);
        let new = a_line(id);
        let mut stored = serde_json::to_value(&new).unwrap();
        stored.as_object_mut().unwrap().remove("account_ids");
        let old: LineDoc = serde_json::from_value(stored).unwrap();
        assert_eq!(old.account_ids, LineAccountIds::Hashed);
        for p in LINE_PURPOSES {
            let name = purpose_name(p).as_bytes();
            assert_eq!(line_account(&old, p).0, Uuid::new_v5(&id, name));
            let prefixed = line_account(&new, p).0;
            assert_eq!(
                prefixed.as_bytes()[..8],
                id.as_bytes()[..8],
                "adjacent in storage"
            );
            assert_eq!(
                prefixed.as_bytes()[8..],
                Uuid::new_v5(&id, name).as_bytes()[8..]
            );
        }
        let distinct: std::collections::HashSet<_> = LINE_PURPOSES
            .iter()
            .map(|p| line_account(&new, *p))
            .collect();
        assert_eq!(distinct.len(), LINE_PURPOSES.len());
    }

    #[test]
    fn derived_ids_keep_the_order_of_what_they_derive_from_and_differ_by_purpose() {
        let mut purchases: Vec<Uuid> = (0..1_000u128)
            .map(|i| Uuid::from_u128((i << 80) | 0x7000_8000_0000_0000_0000 | (i * 7_919)))
            .collect();
        purchases.sort();
        let derived =
            |f: fn(Uuid) -> EntryId| -> Vec<Uuid> { purchases.iter().map(|p| f(*p).0).collect() };
        for ids in [derived(capture_entry), derived(capture_limit_entry)] {
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "ordered like the purchases"
            );
        }
        let holds: Vec<Uuid> = purchases.iter().map(|p| hold_id(*p).0).collect();
        assert!(holds.windows(2).all(|w| w[0] < w[1]));
        let mut all: Vec<Uuid> = derived(capture_entry);
        all.extend(derived(capture_limit_entry));
        all.extend(holds);
        all.sort();
        all.dedup();
        assert_eq!(
            all.len(),
            3 * purchases.len(),
            "no two derived ids are equal"
        );
    }
}

/// Pays the borrower back out of the line's overpayment (`refund_id` names the entry, as a
/// repayment's id does). A retry with the same id and amount is answered with the line; the
/// same id with another amount or line is refused.
pub async fn refund_overpayment(
    engine: &Engine,
    tenant: &str,
    line_id: Uuid,
    refund_id: Uuid,
    amount_minor: i64,
) -> Result<(LineDoc, bool), RevolvingError> {
    if amount_minor <= 0 {
        return Err(invalid("amount_minor", "must be positive"));
    }
    let entry_id = EntryId(refund_id);
    if let Some(e) = engine.entry(entry_id).await? {
        let v = load::<LineDoc>(engine, LINE, line_id, tenant).await?;
        let cash = platform_account(tenant, v.doc.line.terms.currency, Platform::BorrowerCash);
        let paid_out: i64 = e
            .postings
            .iter()
            .filter(|p| p.account_id == cash && p.direction == Side::Credit)
            .map(|p| p.amount_minor)
            .sum();
        let overpayment = line_account(&v.doc, Purpose::Overpayment);
        let this_line = e.postings.iter().any(|p| p.account_id == overpayment);
        if !this_line || paid_out != amount_minor {
            return Err(conflict(
                "id_reused",
                "this refund id was used for another request",
            ));
        }
        return Ok((v.doc, true));
    }
    let doc = run_line(engine, tenant, line_id, false, |_, _| {
        Ok(LinePlan::new(
            revolving::Command::RefundOverpayment { amount_minor },
            entry_id,
            "overpayment refund",
        ))
    })
    .await?;
    Ok((doc, false))
}
