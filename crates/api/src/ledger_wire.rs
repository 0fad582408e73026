use crate::FieldError;
use base64::Engine as _;
use ledger::{
    Account, AccountId, Constraint, EntryId, EntryKind, EntryRecord, EntryRequest, HoldId,
    HoldRecord, HoldRequest, Posting, Side, SignedTreeHead,
};
use money::Currency;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

fn currency(field: &str, code: &str) -> Result<Currency, FieldError> {
    code.parse().map_err(|_| {
        FieldError::new(
            field,
            format!("unknown currency {code:?}; use an ISO 4217 code such as CNY"),
        )
    })
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// Who the account belongs to (a borrower, partner bank, SPV, the platform…).
    pub owner: String,
    /// What the account is for, e.g. `principal_receivable`.
    pub purpose: String,
    #[schema(example = "CNY")]
    pub currency: String,
    /// `debit` (assets, receivables; default) or `credit` (liabilities, income).
    pub normal_side: Option<String>,
    /// `debits_must_not_exceed_credits` or `credits_must_not_exceed_debits`.
    pub constraint: Option<String>,
    /// Tenant the account belongs to; defaults to the caller's tenant.
    pub tenant: Option<String>,
}

pub struct NewAccount {
    pub owner: String,
    pub purpose: String,
    pub currency: Currency,
    pub normal_side: Side,
    pub constraint: Option<Constraint>,
    pub tenant: Option<String>,
}

const TEXT_MAX: usize = 128;

fn text(field: &str, s: &str) -> Result<String, FieldError> {
    crate::check_name(field, s, TEXT_MAX)?;
    Ok(s.to_string())
}

impl CreateAccountRequest {
    pub fn parse(self) -> Result<NewAccount, FieldError> {
        Ok(NewAccount {
            owner: text("owner", &self.owner)?,
            purpose: text("purpose", &self.purpose)?,
            currency: currency("currency", &self.currency)?,
            normal_side: match self.normal_side.as_deref() {
                None => Side::Debit,
                Some(s) => Side::parse(s).ok_or_else(|| FieldError::new("normal_side", "must be debit or credit"))?,
            },
            constraint: self
                .constraint
                .as_deref()
                .map(|c| {
                    Constraint::parse(c).ok_or_else(|| {
                        FieldError::new("constraint", "must be debits_must_not_exceed_credits or credits_must_not_exceed_debits")
                    })
                })
                .transpose()?,
            tenant: self.tenant.map(|t| text("tenant", &t)).transpose()?,
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountResponse {
    pub id: Uuid,
    pub tenant: String,
    pub owner: String,
    pub purpose: String,
    pub currency: String,
    pub normal_side: String,
    pub constraint: Option<String>,
    pub debits_posted_minor: i64,
    pub credits_posted_minor: i64,
    pub debits_pending_minor: i64,
    pub credits_pending_minor: i64,
    /// Posted balance on the normal side (debits − credits for debit-normal accounts).
    pub balance_minor: String,
    pub created_at_ms: i64,
}

impl From<&Account> for AccountResponse {
    fn from(a: &Account) -> Self {
        AccountResponse {
            id: a.id.0,
            tenant: a.tenant.clone(),
            owner: a.owner.clone(),
            purpose: a.purpose.clone(),
            currency: a.currency.code().into(),
            normal_side: a.normal_side.as_str().into(),
            constraint: a.constraint.map(|c| c.as_str().into()),
            debits_posted_minor: a.balances.debits_posted_minor,
            credits_posted_minor: a.balances.credits_posted_minor,
            debits_pending_minor: a.balances.debits_pending_minor,
            credits_pending_minor: a.balances.credits_pending_minor,
            balance_minor: a.balances.net_posted_minor(a.normal_side).to_string(),
            created_at_ms: a.created_at_ms,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingWire {
    pub account_id: Uuid,
    /// `debit` or `credit`.
    pub direction: String,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryRequestWire {
    /// Client-chosen UUID; also the idempotency key.
    pub id: Uuid,
    pub currency: String,
    pub postings: Vec<PostingWire>,
    pub memo: Option<String>,
}

impl EntryRequestWire {
    /// `prefix` is the JSON path of this entry, for error messages (`""` or `entries[3].`).
    pub fn parse(self, prefix: &str) -> Result<EntryRequest, FieldError> {
        let currency = currency(&format!("{prefix}currency"), &self.currency)?;
        let postings = self
            .postings
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let direction = Side::parse(&p.direction).ok_or_else(|| {
                    FieldError::new(
                        format!("{prefix}postings[{i}].direction"),
                        "must be debit or credit",
                    )
                })?;
                Ok(Posting {
                    account_id: AccountId(p.account_id),
                    direction,
                    amount_minor: p.amount_minor,
                })
            })
            .collect::<Result<Vec<_>, FieldError>>()?;
        Ok(EntryRequest {
            id: EntryId(self.id),
            currency,
            postings,
            memo: self.memo.unwrap_or_default(),
        })
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryBatchRequest {
    /// Entries committed all-or-nothing.
    pub entries: Vec<EntryRequestWire>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryResponse {
    pub id: Uuid,
    /// Leaf index in the ledger's Merkle tree.
    pub seq: u64,
    pub partition: u16,
    pub currency: String,
    /// `plain`, `hold_post` or `reversal`.
    pub kind: String,
    /// The hold posted or the entry reversed.
    pub reference: Option<Uuid>,
    pub postings: Vec<PostingWire>,
    pub memo: String,
    pub created_at_ms: i64,
    /// RFC 6962 leaf hash, hex.
    pub hash: String,
    /// Hash of the previous entry in the same partition, hex.
    pub prev_hash: String,
}

impl From<&EntryRecord> for EntryResponse {
    fn from(e: &EntryRecord) -> Self {
        EntryResponse {
            id: e.id.0,
            seq: e.seq,
            partition: e.partition,
            currency: e.currency.code().into(),
            kind: match e.kind {
                EntryKind::Plain => "plain",
                EntryKind::HoldPost(_) => "hold_post",
                EntryKind::Reversal(_) => "reversal",
            }
            .into(),
            reference: e.kind.reference(),
            postings: e
                .postings
                .iter()
                .map(|p| PostingWire {
                    account_id: p.account_id.0,
                    direction: p.direction.as_str().into(),
                    amount_minor: p.amount_minor,
                })
                .collect(),
            memo: e.memo.clone(),
            created_at_ms: e.created_at_ms,
            hash: hex::encode(e.hash),
            prev_hash: hex::encode(e.prev_hash),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryBatchResponse {
    pub entries: Vec<EntryResponse>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryPage {
    pub items: Vec<EntryResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequestWire {
    /// Client-chosen UUID; also the idempotency key.
    pub id: Uuid,
    pub currency: String,
    pub debit_account_id: Uuid,
    pub credit_account_id: Uuid,
    pub amount_minor: i64,
    /// Expiry as Unix milliseconds.
    pub expires_at_ms: Option<i64>,
    pub memo: Option<String>,
}

impl HoldRequestWire {
    pub fn parse(self) -> Result<HoldRequest, FieldError> {
        Ok(HoldRequest {
            id: HoldId(self.id),
            currency: currency("currency", &self.currency)?,
            debit_account_id: AccountId(self.debit_account_id),
            credit_account_id: AccountId(self.credit_account_id),
            amount_minor: self.amount_minor,
            expires_at_ms: self.expires_at_ms,
            memo: self.memo.unwrap_or_default(),
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HoldResponse {
    pub id: Uuid,
    /// `pending`, `posted`, `voided` or `expired`.
    pub status: String,
    pub currency: String,
    pub debit_account_id: Uuid,
    pub credit_account_id: Uuid,
    pub amount_minor: i64,
    pub expires_at_ms: Option<i64>,
    pub memo: String,
    pub posted_entry_id: Option<Uuid>,
    pub posted_amount_minor: i64,
    pub created_at_ms: i64,
}

impl From<&HoldRecord> for HoldResponse {
    fn from(h: &HoldRecord) -> Self {
        let r = &h.request;
        HoldResponse {
            id: r.id.0,
            status: h.status.as_str().into(),
            currency: r.currency.code().into(),
            debit_account_id: r.debit_account_id.0,
            credit_account_id: r.credit_account_id.0,
            amount_minor: r.amount_minor,
            expires_at_ms: r.expires_at_ms,
            memo: r.memo.clone(),
            posted_entry_id: h.posted_entry_id.map(|e| e.0),
            posted_amount_minor: h.posted_amount_minor,
            created_at_ms: h.created_at_ms,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostHoldRequest {
    /// Id of the entry the posting creates; also the idempotency key.
    pub entry_id: Uuid,
    /// Defaults to the whole held amount; less posts partially and releases the rest.
    pub amount_minor: Option<i64>,
    pub memo: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    /// Id of the reversing entry; also the idempotency key.
    pub id: Uuid,
    pub memo: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TreeHeadResponse {
    pub tree_size: u64,
    pub timestamp_ms: u64,
    /// Hex.
    pub root_hash: String,
    /// Ed25519 signature over `signed_data`, hex.
    pub signature: String,
    /// Ed25519 public key, hex.
    pub public_key: String,
    /// The RFC 6962 §3.5 TreeHeadSignature bytes that were signed, hex.
    pub signed_data: String,
    pub signature_algorithm: String,
}

impl From<&SignedTreeHead> for TreeHeadResponse {
    fn from(h: &SignedTreeHead) -> Self {
        TreeHeadResponse {
            tree_size: h.tree_size,
            timestamp_ms: h.timestamp_ms,
            root_hash: hex::encode(h.root_hash),
            signature: hex::encode(h.signature),
            public_key: hex::encode(h.public_key),
            signed_data: hex::encode(SignedTreeHead::signed_bytes(
                h.tree_size,
                h.timestamp_ms,
                &h.root_hash,
            )),
            signature_algorithm: "ed25519".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProofResponse {
    pub entry_id: Uuid,
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Base64 of the exact bytes whose SHA-256(0x00 ‖ bytes) is the leaf hash.
    pub leaf_data: String,
    /// Hex.
    pub leaf_hash: String,
    /// RFC 9162 inclusion path, hex, leaf to root.
    pub audit_path: Vec<String>,
    /// Hex.
    pub root_hash: String,
    pub tree_head: TreeHeadResponse,
}

impl From<&engine::EntryProof> for ProofResponse {
    fn from(p: &engine::EntryProof) -> Self {
        ProofResponse {
            entry_id: p.entry.id.0,
            leaf_index: p.leaf_index,
            tree_size: p.tree_head.tree_size,
            leaf_data: base64::engine::general_purpose::STANDARD.encode(&p.leaf_data),
            leaf_hash: hex::encode(p.entry.hash),
            audit_path: p.audit_path.iter().map(hex::encode).collect(),
            root_hash: hex::encode(p.tree_head.root_hash),
            tree_head: TreeHeadResponse::from(&p.tree_head),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsistencyResponse {
    pub first: u64,
    pub second: u64,
    /// Hex, RFC 9162 §2.1.4.
    pub proof: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// operator, risk_analyst, partner_bank, investor, merchant or borrower.
    pub role: String,
    /// The tenant the key may see; `*` for all (operators only).
    pub tenant: String,
    pub label: Option<String>,
    /// The kind of party the key acts for: `borrower` (required for borrower keys),
    /// `merchant` (required for merchant keys), `partner` (partner_bank keys) or `investor`.
    pub party_kind: Option<String>,
    /// The party's id: a borrower id (or a loan's borrower reference), a merchant id, or
    /// the owner named on the partner's or investor's accounts.
    pub party_id: Option<String>,
    /// RFC 3339 time after which the key is refused (401), e.g. `2027-01-31T00:00:00Z`.
    pub expires_at: Option<String>,
    /// Requests per second the key may make (1 to 1,000,000); beyond it the server answers
    /// 429 with `Retry-After`. Absent: the default of the key's role.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub rate_limit_per_s: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreateApiKeyResponse {
    /// Shown once; only its hash is stored.
    pub key: String,
    pub role: String,
    pub tenant: String,
    /// The key's id, for listing and revoking it.
    pub id: uuid::Uuid,
    pub party_kind: Option<String>,
    pub party_id: Option<String>,
    pub expires_at: Option<String>,
    /// The key's own rate limit; absent when it takes its role's default.
    pub rate_limit_per_s: Option<i64>,
}
