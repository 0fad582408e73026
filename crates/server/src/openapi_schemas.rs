//! Schema facts the wire types' derives cannot say: the decision input (a domain type
//! without OpenAPI derives), the ISO 4217 codes the server knows, and the length and range
//! limits the parsers enforce. Every limit written here is one the server refuses beyond,
//! so a request the document calls invalid is refused.

use serde_json::{json, Value};

pub fn complete(doc: &mut Value) {
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("components.schemas");
    schemas.insert("DecisionRequest".into(), decision_request());
    unsigned_ranges(&mut doc["paths"]);
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("components.schemas");
    unsigned_ranges_all(schemas);
    for name in [
        "FeeWire",
        "CouponWire",
        "StepWire",
        "TriggerWire",
        "HaltScopeWire",
    ] {
        if let Some(schema) = schemas.get_mut(name) {
            close_variants(schema);
        }
    }
    let codes: Vec<&str> = money::Currency::ALL.iter().map(|c| c.code()).collect();
    for (name, schema) in schemas.iter_mut() {
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        if let Some(c) = props.get_mut("currency") {
            restrict(c, &json!({ "enum": codes }));
        }
        for (prop, extra) in limits(name) {
            if let Some(p) = props.get_mut(prop) {
                restrict(p, &extra);
            }
        }
    }
}

/// Adds keywords to a property schema, keeping `null` allowed where it was.
fn restrict(prop: &mut Value, extra: &Value) {
    let nullable = prop["type"]
        .as_array()
        .is_some_and(|t| t.iter().any(|v| v == "null"));
    let obj = prop.as_object_mut().expect("property schema");
    for (k, v) in extra.as_object().expect("keywords") {
        let v = match (k.as_str(), v) {
            ("enum", Value::Array(items)) if nullable => {
                let mut items = items.clone();
                items.push(Value::Null);
                Value::Array(items)
            }
            _ => v.clone(),
        };
        obj.insert(k.clone(), v);
    }
}

/// Per schema, the limits its parser enforces (see the `parse` functions in `crates/api`
/// and the handlers). Lengths are in bytes on the server and in characters here, so a
/// string the document allows may still be refused (422) for its UTF-8 length, and one it
/// forbids is always refused.
fn limits(schema: &str) -> Vec<(&'static str, Value)> {
    let text = |max: usize| json!({ "minLength": 1, "maxLength": max });
    let memo = json!({ "maxLength": ledger::LIMITS.memo_bytes_max });
    let positive = json!({ "minimum": 1 });
    let date = json!({ "format": "date" });
    match schema {
        "RepurchaseRequest" => vec![("reason", text(engine::abs::repurchase::REASON_BYTES_MAX))],
        "DealCreateRequest" => vec![(
            "investors",
            json!({ "maxItems": 50,
                    "items": { "type": "string", "minLength": 1, "maxLength": 128 } }),
        )],
        "CreateAccountRequest" => vec![
            ("owner", text(128)),
            ("purpose", text(128)),
            ("tenant", text(128)),
            ("normal_side", json!({ "enum": ["debit", "credit"] })),
            (
                "constraint",
                json!({ "enum": ["debits_must_not_exceed_credits", "credits_must_not_exceed_debits"] }),
            ),
        ],
        "PostingWire" => vec![
            ("direction", json!({ "enum": ["debit", "credit"] })),
            ("amount_minor", positive.clone()),
        ],
        "EntryRequestWire" => vec![
            (
                "postings",
                json!({ "minItems": ledger::LIMITS.postings_min, "maxItems": ledger::LIMITS.postings_max }),
            ),
            ("memo", memo),
        ],
        "EntryBatchRequest" => vec![(
            "entries",
            json!({ "minItems": 1, "maxItems": ledger::LIMITS.batch_ops_max }),
        )],
        "HoldRequestWire" => vec![("amount_minor", positive.clone()), ("memo", memo)],
        "PostHoldRequest" | "ReverseRequest" => vec![("memo", memo)],
        "CreateApiKeyRequest" => vec![
            (
                "role",
                json!({ "enum": ["operator", "risk_analyst", "partner_bank", "investor", "merchant", "borrower"] }),
            ),
            ("tenant", text(128)),
        ],
        "BorrowerRequest" => vec![
            ("kind", json!({ "enum": ["individual", "enterprise"] })),
            ("name", text(200)),
        ],
        "MerchantRequest" => vec![("name", text(200))],
        "CreditLineRequest" => vec![("limit_minor", json!({ "minimum": 0 }))],
        "InstallmentRequest" => vec![("fee_payer", json!({ "enum": ["borrower", "merchant"] }))],
        "LineChangeRequest" => vec![
            (
                "action",
                json!({ "enum": ["set_limit", "temporary_limit", "freeze", "unfreeze", "close", "risk_signal"] }),
            ),
            ("expires_on", date.clone()),
        ],
        "DisburseRequest" => vec![("payee", text(128))],
        "RepaymentRequest" => vec![("amount_minor", positive.clone()), ("date", date.clone())],
        "PrepayRequest" => vec![
            ("amount_minor", positive),
            ("date", date.clone()),
            ("kind", json!({ "enum": ["full", "partial"] })),
        ],
        "SchedulePreviewRequest" => vec![
            (
                "amount_minor",
                json!({ "minimum": 1, "maximum": lending::product::LOAN_AMOUNT_MINOR_MAX }),
            ),
            ("start", date.clone()),
        ],
        "CashFlowWire" => vec![("date", date)],
        "LoanProductWire" => vec![("repayment_day", json!({ "maximum": u8::MAX }))],
        _ => vec![],
    }
}

/// Unsigned integers: utoipa writes `u32` as `int32` with a minimum of 0, which would let a
/// client think 2^31 is out of range; the server reads the whole unsigned range. A maximum
/// the type states itself (a signed field kept to 0..=N) is kept.
pub fn unsigned_ranges(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let unsigned = o.get("minimum").and_then(Value::as_i64) == Some(0);
            match o.get("format").and_then(Value::as_str) {
                Some("int32") if unsigned => {
                    o.remove("format");
                    o.entry("maximum").or_insert(json!(u32::MAX));
                }
                Some("int64") if unsigned => {
                    o.remove("format");
                    o.entry("maximum").or_insert(json!(u64::MAX));
                }
                _ => {}
            }
            o.values_mut().for_each(unsigned_ranges);
        }
        Value::Array(a) => a.iter_mut().for_each(unsigned_ranges),
        _ => {}
    }
}

/// The variants of a tagged union whose Rust enum denies unknown fields: each object with
/// properties says so too (the derive leaves `additionalProperties` open on variants).
fn close_variants(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.contains_key("properties") {
                o.entry("additionalProperties").or_insert(json!(false));
            }
            o.values_mut().for_each(close_variants);
        }
        Value::Array(a) => a.iter_mut().for_each(close_variants),
        _ => {}
    }
}

fn unsigned_ranges_all(schemas: &mut serde_json::Map<String, Value>) {
    schemas.values_mut().for_each(unsigned_ranges);
}

fn object(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "additionalProperties": false,
            "required": required, "properties": props })
}

fn uint() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": u32::MAX })
}

fn int64() -> Value {
    json!({ "type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX })
}

fn date() -> Value {
    json!({ "type": "string", "format": "date" })
}

/// `risk::features::DecisionInput`, field for field.
fn decision_request() -> Value {
    let tx = object(
        json!({ "date": date(), "amount_minor": int64() }),
        &["date", "amount_minor"],
    );
    let repayment = object(
        json!({ "due_date": date(), "dpd": uint() }),
        &["due_date", "dpd"],
    );
    let sales = object(
        json!({ "month": date(), "revenue_minor": int64(), "refunds_minor": int64() }),
        &["month", "revenue_minor", "refunds_minor"],
    );
    let enterprise = object(
        json!({ "registered_on": date(), "employees": uint(), "industry": { "type": "string" } }),
        &["registered_on", "employees", "industry"],
    );
    let mut enterprise_or_null = enterprise;
    enterprise_or_null["type"] = json!(["object", "null"]);
    let application = object(
        json!({
            "age": uint(), "monthly_income_minor": int64(), "purpose": { "type": "string" },
            "student": { "type": "boolean" }, "requested_minor": int64(), "term_months": uint(),
            "enterprise": enterprise_or_null,
            "attributes": { "type": "object",
                "additionalProperties": { "type": ["number", "string"] },
                "description": "further raw fields a model reads by name" },
        }),
        &[
            "age",
            "monthly_income_minor",
            "purpose",
            "student",
            "requested_minor",
            "term_months",
            "attributes",
        ],
    );
    let bureau = object(
        json!({ "open_loans": uint(), "inquiries_6m": uint(), "max_dpd_24m": uint(),
                "outstanding_minor": int64(), "blacklisted": { "type": "boolean" } }),
        &[
            "open_loans",
            "inquiries_6m",
            "max_dpd_24m",
            "outstanding_minor",
            "blacklisted",
        ],
    );
    let behaviour = object(
        json!({ "transactions": { "type": "array", "items": tx },
                "repayments": { "type": "array", "items": repayment },
                "sales": { "type": "array", "items": sales } }),
        &["transactions", "repayments", "sales"],
    );
    let mut input = object(
        json!({ "applicant_id": { "type": "string" }, "as_of": date(),
                "application": application, "bureau": bureau, "behaviour": behaviour }),
        &[
            "applicant_id",
            "as_of",
            "application",
            "bureau",
            "behaviour",
        ],
    );
    input["description"] = json!(
        "An application, a bureau report and behaviour histories, decided as of `as_of`. \
         Field order is the canonical order the input hash is taken over."
    );
    input
}
