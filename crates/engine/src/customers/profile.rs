//! Creating, reading and finding customers. Names, identity numbers, phones and bank cards
//! are sealed with the tenant's data key before they reach storage; an identity number's
//! blind index is the id of a `customer_index` document, so a second customer with the same
//! number fails the commit on the document's key (409) and a lookup is one read.

use super::keys::{TenantKeys, Vault};
use super::{invalid, CustomerError};
use crate::revolving::{self as rc, BorrowerKind};
use crate::{Engine, EngineError};
use compliance::{CreditCode, ResidentId, ResidentIdError};
use money::{BusinessDate, Currency};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use store::{DocRow, DomainWrite};
use uuid::Uuid;
use vault::{blind_index, normalize, Binding, FieldKind, Plaintext, Sealed};

pub const CUSTOMER_INDEX: &str = "customer_index";
const INDEX_NS: Uuid = Uuid::from_u128(0x0b7e_51c9_2a64_4d83_b1f0_5e2c_7a19_d4c6);
/// Occupations, industry codes and region codes are short labels.
const LABEL_BYTES_MAX: usize = 100;
/// Income, capital and revenue are bounded well inside `i64` so that sums across a
/// customer's products cannot overflow.
const AMOUNT_MINOR_MAX: i64 = 1_000_000_000_000_000;

/// The stored document (kind `borrower`). Sealed fields are the hexadecimal of
/// `vault::Sealed`; `name` is the masked name, which is all a revolving borrower shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerDoc {
    pub id: Uuid,
    pub tenant: String,
    pub kind: BorrowerKind,
    pub name: String,
    pub created_on: BusinessDate,
    /// None for a borrower registered through `/v1/borrowers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// HMAC of the request under the tenant's index key: a retry with the same request is
    /// recognised without decrypting, and the tag tells nothing of the fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_mac: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Profile {
    Individual(IndividualProfile),
    Enterprise(EnterpriseProfile),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndividualProfile {
    pub name_sealed: String,
    pub id_number_sealed: String,
    pub phone_sealed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_card_sealed: Option<String>,
    pub birth_date: BusinessDate,
    pub region_code: String,
    pub occupation: String,
    pub student: bool,
    pub currency: Currency,
    pub annual_income_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseProfile {
    pub name_sealed: String,
    pub credit_code: String,
    pub industry_code: String,
    pub region_code: String,
    pub currency: Currency,
    pub registered_capital_minor: i64,
    pub annual_revenue_minor: i64,
    pub legal_representative_id: Uuid,
}

/// A new individual's fields as the request gives them. No `Debug`: it holds plaintext.
pub struct NewIndividual {
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub bank_card: Option<String>,
    pub birth_date: BusinessDate,
    pub region_code: String,
    pub occupation: String,
    pub student: bool,
    pub currency: Currency,
    pub annual_income_minor: i64,
}

pub struct NewEnterprise {
    pub name: String,
    pub credit_code: String,
    pub industry_code: String,
    pub region_code: String,
    pub currency: Currency,
    pub registered_capital_minor: i64,
    pub annual_revenue_minor: i64,
    pub legal_representative_id: Uuid,
}

pub enum NewCustomer {
    Individual(NewIndividual),
    Enterprise(NewEnterprise),
}

/// A customer with its sealed fields opened. `Plaintext` prints only its kind in `Debug`;
/// the caller picks `masked()` or, for a role allowed and audited, `expose()`.
#[derive(Debug)]
pub struct CustomerView {
    pub doc: CustomerDoc,
    pub name: Option<Plaintext>,
    pub id_number: Option<Plaintext>,
    pub phone: Option<Plaintext>,
    pub bank_card: Option<Plaintext>,
}

fn label(field: &str, text: &str, digits: Option<usize>) -> Result<(), CustomerError> {
    if text.trim().is_empty() || text.len() > LABEL_BYTES_MAX {
        return Err(invalid(
            field,
            format!("must be 1 to {LABEL_BYTES_MAX} bytes"),
        ));
    }
    if let Some(n) = digits {
        if text.len() != n || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(field, format!("must be {n} digits")));
        }
    }
    Ok(())
}

fn amount(field: &str, minor: i64) -> Result<(), CustomerError> {
    if !(0..=AMOUNT_MINOR_MAX).contains(&minor) {
        return Err(invalid(
            field,
            format!("must be from 0 to {AMOUNT_MINOR_MAX} minor units"),
        ));
    }
    Ok(())
}

fn normalized(kind: FieldKind, field: &str, raw: &str) -> Result<vault::Normalized, CustomerError> {
    normalize(kind, raw).map_err(|e| invalid(field, e.to_string()))
}

fn index_doc_id(tenant: &str, what: &str, key: &[u8]) -> Uuid {
    let mut name = Vec::with_capacity(tenant.len() + what.len() + key.len() + 2);
    name.extend_from_slice(tenant.as_bytes());
    name.push(0);
    name.extend_from_slice(what.as_bytes());
    name.push(0);
    name.extend_from_slice(key);
    Uuid::new_v5(&INDEX_NS, &name)
}

#[derive(Serialize, Deserialize)]
struct IndexDoc {
    customer_id: Uuid,
}

fn seal_hex(
    keys: &TenantKeys,
    kind: FieldKind,
    text: &str,
    id: Uuid,
    field: &str,
) -> Result<String, CustomerError> {
    let sealed = vault::seal(
        kind,
        text,
        &keys.data,
        &Binding::new(id.as_bytes(), field),
        &mut rand::thread_rng(),
    )
    .map_err(|e| invalid(field, e.to_string()))?;
    Ok(hex::encode(sealed.as_bytes()))
}

fn open_hex(
    keys: &TenantKeys,
    kind: FieldKind,
    hex_text: &str,
    id: Uuid,
    field: &str,
) -> anyhow::Result<Plaintext> {
    let sealed = Sealed::from_bytes(hex::decode(hex_text)?)
        .map_err(|e| anyhow::anyhow!("customer {id} {field}: {e}"))?;
    vault::open(
        kind,
        &sealed,
        &keys.data,
        &Binding::new(id.as_bytes(), field),
    )
    .map_err(|e| anyhow::anyhow!("customer {id} {field}: {e}"))
}

/// Keyed digest of the request's fields, in a fixed order with lengths, for replays: the
/// blind index (HMAC under the tenant's index key) of their SHA-256, which is never stored.
fn request_mac(keys: &TenantKeys, id: Uuid, parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut h = Sha256::new();
    h.update(b"puhui/customer/request");
    h.update(id.as_bytes());
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let digest = hex::encode(h.finalize());
    let text = normalize(FieldKind::Name, &digest).expect("hex digits are a valid name");
    hex::encode(blind_index(&text, &keys.index).0)
}

fn resident_id_error(e: &ResidentIdError) -> CustomerError {
    // The error names positions and check characters, never the number itself.
    invalid("id_number", e.to_string())
}

/// Creates a customer, or answers the stored one when the same id comes again with the
/// same request (`true` = replay). A customer is written with its index document in one
/// commit: both or neither.
pub async fn create_customer(
    engine: &Engine,
    vault: &Vault,
    tenant: &str,
    id: Uuid,
    new: NewCustomer,
) -> Result<(CustomerDoc, bool), CustomerError> {
    let today = rc::business_day(engine).await?;
    let keys = vault.tenant(engine, tenant).await?;
    let mut writes = Vec::with_capacity(2);
    let (doc, index_id, index_field) = match new {
        NewCustomer::Individual(n) => {
            let name = normalized(FieldKind::Name, "name", &n.name)?;
            let rid =
                ResidentId::parse(n.id_number.trim(), today).map_err(|e| resident_id_error(&e))?;
            let id_norm = normalized(FieldKind::ResidentId, "id_number", rid.as_str())?;
            let phone = normalized(FieldKind::Phone, "phone", &n.phone)?;
            let card = n
                .bank_card
                .as_deref()
                .map(|c| normalized(FieldKind::BankCard, "bank_card", c))
                .transpose()?;
            if n.birth_date > today {
                return Err(invalid("birth_date", "must not be after the business date"));
            }
            if n.birth_date != rid.birth_date() {
                return Err(invalid(
                    "birth_date",
                    "must be the birth date the identity number records",
                ));
            }
            label("region_code", &n.region_code, Some(6))?;
            label("occupation", &n.occupation, None)?;
            amount("annual_income_minor", n.annual_income_minor)?;
            let index = blind_index(&id_norm, &keys.index);
            let index_id = index_doc_id(tenant, "resident_id", &index.0);
            let card_text = card.as_ref().map_or("", |c| c.expose());
            let mac = request_mac(
                &keys,
                id,
                &[
                    b"individual",
                    name.expose().as_bytes(),
                    id_norm.expose().as_bytes(),
                    phone.expose().as_bytes(),
                    card_text.as_bytes(),
                    n.birth_date.to_string().as_bytes(),
                    n.region_code.as_bytes(),
                    n.occupation.as_bytes(),
                    &[u8::from(n.student)],
                    n.currency.code().as_bytes(),
                    &n.annual_income_minor.to_be_bytes(),
                ],
            );
            let profile = IndividualProfile {
                name_sealed: seal_hex(&keys, FieldKind::Name, &n.name, id, "name")?,
                id_number_sealed: seal_hex(
                    &keys,
                    FieldKind::ResidentId,
                    id_norm.expose(),
                    id,
                    "id_number",
                )?,
                phone_sealed: seal_hex(&keys, FieldKind::Phone, phone.expose(), id, "phone")?,
                bank_card_sealed: card
                    .as_ref()
                    .map(|c| seal_hex(&keys, FieldKind::BankCard, c.expose(), id, "bank_card"))
                    .transpose()?,
                birth_date: n.birth_date,
                region_code: n.region_code,
                occupation: n.occupation.trim().to_owned(),
                student: n.student,
                currency: n.currency,
                annual_income_minor: n.annual_income_minor,
            };
            let doc = CustomerDoc {
                id,
                tenant: tenant.into(),
                kind: BorrowerKind::Individual,
                name: compliance::mask_name(n.name.trim()),
                created_on: today,
                profile: Some(Profile::Individual(profile)),
                request_mac: Some(mac),
            };
            (doc, index_id, "id_number")
        }
        NewCustomer::Enterprise(n) => {
            normalized(FieldKind::Name, "name", &n.name)?;
            let code = CreditCode::parse(n.credit_code.trim())
                .map_err(|e| invalid("credit_code", e.to_string()))?;
            label("industry_code", &n.industry_code, None)?;
            label("region_code", &n.region_code, Some(6))?;
            amount("registered_capital_minor", n.registered_capital_minor)?;
            amount("annual_revenue_minor", n.annual_revenue_minor)?;
            let mac = request_mac(
                &keys,
                id,
                &[
                    b"enterprise",
                    n.name.as_bytes(),
                    code.as_str().as_bytes(),
                    n.industry_code.as_bytes(),
                    n.region_code.as_bytes(),
                    n.currency.code().as_bytes(),
                    &n.registered_capital_minor.to_be_bytes(),
                    &n.annual_revenue_minor.to_be_bytes(),
                    n.legal_representative_id.as_bytes(),
                ],
            );
            match customer_doc(engine, tenant, n.legal_representative_id).await {
                Ok(rep) if matches!(rep.profile, Some(Profile::Individual(_))) => {}
                Ok(_) | Err(CustomerError::NotFound) => {
                    return Err(invalid(
                        "legal_representative_id",
                        "must be an individual customer of this tenant",
                    ))
                }
                Err(e) => return Err(e),
            }
            let index_id = index_doc_id(tenant, "credit_code", code.as_str().as_bytes());
            let profile = EnterpriseProfile {
                name_sealed: seal_hex(&keys, FieldKind::Name, &n.name, id, "name")?,
                credit_code: code.as_str().to_owned(),
                industry_code: n.industry_code,
                region_code: n.region_code,
                currency: n.currency,
                registered_capital_minor: n.registered_capital_minor,
                annual_revenue_minor: n.annual_revenue_minor,
                legal_representative_id: n.legal_representative_id,
            };
            let doc = CustomerDoc {
                id,
                tenant: tenant.into(),
                kind: BorrowerKind::Enterprise,
                name: compliance::mask_name(n.name.trim()),
                created_on: today,
                profile: Some(Profile::Enterprise(profile)),
                request_mac: Some(mac),
            };
            (doc, index_id, "credit_code")
        }
    };
    writes.push(doc_write(&doc));
    writes.push(DomainWrite::Doc {
        row: DocRow {
            kind: CUSTOMER_INDEX.into(),
            id: index_id,
            tenant: tenant.into(),
            parent: Some(id),
            open: false,
            day: 0,
            version: 1,
            body: serde_json::to_vec(&IndexDoc { customer_id: id }).expect("serializes"),
        },
        expected_version: None,
    });
    // Nothing is read before the commit: a taken id or identity number fails it on the
    // document's key (rare), and only then is it found out which, and whose.
    match engine.submit_with(Vec::new(), writes).await {
        Ok(_) => Ok((doc, false)),
        Err(EngineError::StaleDoc { .. }) => {
            let mac = doc.request_mac.clone().unwrap_or_default();
            if let Some(stored) = replay(engine, tenant, id, &mac).await? {
                return Ok((stored, true));
            }
            match indexed(engine, index_id).await? {
                Some(existing) if existing != id => Err(CustomerError::Duplicate {
                    field: index_field,
                    existing,
                }),
                _ => Err(CustomerError::Conflict {
                    code: "conflict",
                    message: "the customer changed meanwhile; retry".into(),
                }),
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn id_reused() -> CustomerError {
    CustomerError::Conflict {
        code: "id_reused",
        message: "this id was already used with different fields".into(),
    }
}

fn doc_write(doc: &CustomerDoc) -> DomainWrite {
    DomainWrite::Doc {
        row: DocRow {
            kind: rc::BORROWER.into(),
            id: doc.id,
            tenant: doc.tenant.clone(),
            parent: None,
            open: false,
            day: doc.created_on.to_epoch_days(),
            version: 1,
            body: serde_json::to_vec(doc).expect("a customer serializes"),
        },
        expected_version: None,
    }
}

/// The stored customer when `id` is taken: itself if the request is the same, else 409.
async fn replay(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
    mac: &str,
) -> Result<Option<CustomerDoc>, CustomerError> {
    let Some(row) = engine.store().doc(id).await? else {
        return Ok(None);
    };
    if row.kind != rc::BORROWER || row.tenant != tenant {
        return Err(id_reused());
    }
    let doc = decode(&row)?;
    if doc.request_mac.as_deref() == Some(mac) {
        Ok(Some(doc))
    } else {
        Err(id_reused())
    }
}

async fn indexed(engine: &Engine, index_id: Uuid) -> anyhow::Result<Option<Uuid>> {
    Ok(match engine.store().doc(index_id).await? {
        Some(row) => Some(serde_json::from_slice::<IndexDoc>(&row.body)?.customer_id),
        None => None,
    })
}

pub fn decode(row: &DocRow) -> anyhow::Result<CustomerDoc> {
    serde_json::from_slice(&row.body)
        .map_err(|e| anyhow::anyhow!("stored customer {} does not decode: {e}", row.id))
}

/// The stored document of customer `id` of `tenant` (`*`: any tenant).
pub async fn customer_doc(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
) -> Result<CustomerDoc, CustomerError> {
    let row = engine
        .store()
        .doc(id)
        .await?
        .filter(|r| r.kind == rc::BORROWER && (tenant == "*" || r.tenant == tenant))
        .ok_or(CustomerError::NotFound)?;
    Ok(decode(&row)?)
}

/// Opens a customer's sealed fields.
pub async fn open_customer(
    engine: &Engine,
    vault: &Vault,
    doc: CustomerDoc,
) -> Result<CustomerView, CustomerError> {
    let mut view = CustomerView {
        name: None,
        id_number: None,
        phone: None,
        bank_card: None,
        doc,
    };
    let Some(profile) = &view.doc.profile else {
        return Ok(view);
    };
    let keys = vault.tenant(engine, &view.doc.tenant).await?;
    let id = view.doc.id;
    match profile {
        Profile::Individual(p) => {
            view.name = Some(open_hex(
                &keys,
                FieldKind::Name,
                &p.name_sealed,
                id,
                "name",
            )?);
            view.id_number = Some(open_hex(
                &keys,
                FieldKind::ResidentId,
                &p.id_number_sealed,
                id,
                "id_number",
            )?);
            view.phone = Some(open_hex(
                &keys,
                FieldKind::Phone,
                &p.phone_sealed,
                id,
                "phone",
            )?);
            view.bank_card = p
                .bank_card_sealed
                .as_deref()
                .map(|s| open_hex(&keys, FieldKind::BankCard, s, id, "bank_card"))
                .transpose()?;
        }
        Profile::Enterprise(p) => {
            view.name = Some(open_hex(
                &keys,
                FieldKind::Name,
                &p.name_sealed,
                id,
                "name",
            )?);
        }
    }
    Ok(view)
}

/// The customer whose identity number is `raw`, found by its blind index.
pub async fn find_by_id_number(
    engine: &Engine,
    vault: &Vault,
    tenant: &str,
    raw: &str,
) -> Result<Option<CustomerDoc>, CustomerError> {
    let keys = vault.tenant(engine, tenant).await?;
    let norm = normalized(FieldKind::ResidentId, "id_number", raw)?;
    let index_id = index_doc_id(tenant, "resident_id", &blind_index(&norm, &keys.index).0);
    match indexed(engine, index_id).await? {
        Some(id) => match customer_doc(engine, tenant, id).await {
            Ok(doc) => Ok(Some(doc)),
            Err(CustomerError::NotFound) => Ok(None),
            Err(e) => Err(e),
        },
        None => Ok(None),
    }
}
