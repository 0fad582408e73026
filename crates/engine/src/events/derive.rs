//! Events from a group's domain writes (see the parent module for why here).

use super::event_id;
use std::collections::HashMap;
use store::{DocEvent, DocRow, DomainWrite, EventRow, LoanEvent, LoanRow};
use uuid::Uuid;

/// Appends to `domain` the outbox rows of the changes it holds, so they commit with them.
pub fn append(domain: &mut Vec<DomainWrite>) {
    if !super::outbox_enabled() {
        return;
    }
    let events = derive(domain);
    domain.extend(events.into_iter().map(DomainWrite::Event));
}

/// One event before ordering: creations move in front of their subject's other events.
struct Made {
    event: EventRow,
    creation: bool,
}

fn derive(domain: &[DomainWrite]) -> Vec<EventRow> {
    let mut loans: HashMap<Uuid, &LoanRow> = HashMap::new();
    let mut docs: HashMap<Uuid, &DocRow> = HashMap::new();
    let mut loans_with_events: HashMap<Uuid, ()> = HashMap::new();
    for w in domain {
        match w {
            DomainWrite::Loan { row, .. } => {
                loans.insert(row.id, row);
            }
            DomainWrite::LoanEvent(e) => {
                loans_with_events.insert(e.loan_id, ());
            }
            DomainWrite::Doc { row, .. } => {
                docs.insert(row.id, row);
            }
            _ => {}
        }
    }
    let mut made = Vec::new();
    for w in domain {
        match w {
            DomainWrite::LoanEvent(e) => made.extend(loan_event(e, loans.get(&e.loan_id))),
            DomainWrite::Loan {
                row,
                expected_version: Some(_),
            } if !loans_with_events.contains_key(&row.id) => made.extend(loan_row(row)),
            DomainWrite::Doc { row, .. } => made.extend(doc_written(row)),
            DomainWrite::DocEvent(e) => made.extend(doc_event(e, docs.get(&e.doc_id))),
            _ => {}
        }
    }
    order(made)
}

/// Keeps the writes' order, except that a creation (written after the first events of its
/// subject by some use cases) comes just before its subject's first event.
fn order(made: Vec<Made>) -> Vec<EventRow> {
    let mut first: HashMap<Uuid, usize> = HashMap::new();
    for (i, m) in made.iter().enumerate() {
        first.entry(m.event.subject).or_insert(i);
    }
    let mut keyed: Vec<(usize, u8, Made)> = made
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            if m.creation {
                (first[&m.event.subject], 0, m)
            } else {
                (i, 1, m)
            }
        })
        .collect();
    keyed.sort_by_key(|(pos, rank, _)| (*pos, *rank));
    keyed.into_iter().map(|(_, _, m)| m.event).collect()
}

fn loan_event(e: &LoanEvent, row: Option<&&LoanRow>) -> Option<Made> {
    let kind = match e.kind.as_str() {
        "signed" => "loan.created",
        "disburse" => "loan.disbursed",
        "repay" => "loan.repaid",
        "prepay_full" => "loan.prepaid",
        "prepay_partial" => "loan.prepaid_partially",
        "refund" => "loan.refunded",
        "recover" => "loan.recovered",
        "reversal" => "loan.reversed",
        _ => return None,
    };
    let row = row?;
    let loan = lending::codec::decode_loan(&row.state).ok();
    // Amount-bearing commands store the idempotency key then the amount (engine::loans).
    let amount_minor = (e.kind != "signed" && e.kind != "disburse" && e.body.len() == 24)
        .then(|| i64::from_le_bytes(e.body[16..24].try_into().expect("8 bytes")));
    let amount_minor = match e.kind.as_str() {
        "disburse" => loan.as_ref().map(|l| l.config.principal.amount_minor()),
        _ => amount_minor,
    };
    let payload = serde_json::json!({
        "loan_id": row.id,
        "borrower": row.borrower,
        "product_id": row.product_id,
        "stage": row.stage,
        "dpd": row.dpd,
        "loan_event_seq": e.seq,
        "amount_minor": amount_minor,
        "currency": loan.as_ref().map(|l| l.config.principal.currency().code()),
    });
    Some(Made {
        event: EventRow {
            id: event_id(row.id, "loan", i64::from(e.seq), 0),
            kind: kind.into(),
            tenant: row.tenant.clone(),
            day: e.day,
            subject: row.id,
            payload: payload.to_string(),
        },
        creation: e.kind == "signed",
    })
}

/// A loan written without an event of its own: a decision on its application, or close of
/// business (a missed due date, a write-off).
fn loan_row(row: &LoanRow) -> Vec<Made> {
    let mut out = Vec::new();
    let event = |kind: &str, tag: &str, index: u32, payload: serde_json::Value| Made {
        event: EventRow {
            id: event_id(row.id, tag, row.version, index),
            kind: kind.into(),
            tenant: row.tenant.clone(),
            day: row.day,
            subject: row.id,
            payload: payload.to_string(),
        },
        creation: false,
    };
    let stage_event = match row.stage.as_str() {
        "approved" => Some("loan.approved"),
        "declined" => Some("loan.declined"),
        "written_off" => Some("loan.written_off"),
        _ => None,
    };
    if let Some(kind) = stage_event {
        out.push(event(
            kind,
            "stage",
            0,
            serde_json::json!({"loan_id": row.id, "borrower": row.borrower, "stage": row.stage, "dpd": row.dpd}),
        ));
        return out;
    }
    // Only a delinquent loan can have missed a due date; only those are decoded.
    if row.dpd == 0 {
        return out;
    }
    let Ok(loan) = lending::codec::decode_loan(&row.state) else {
        return out;
    };
    let today = loan.business_date.to_epoch_days();
    for (n, i) in loan.installments.iter().enumerate() {
        let due = i.scheduled.due_date.to_epoch_days();
        if i.billed && i.outstanding_total() > 0 && due + 1 == today {
            out.push(event(
                "loan.payment_missed",
                "missed",
                n as u32,
                serde_json::json!({
                    "loan_id": row.id,
                    "borrower": row.borrower,
                    "installment": n + 1,
                    "due_date": i.scheduled.due_date.to_string(),
                    "outstanding_minor": i.outstanding_total(),
                    "currency": loan.config.principal.currency().code(),
                    "dpd": row.dpd,
                }),
            ));
        }
    }
    out
}

#[derive(serde::Deserialize)]
struct PurchaseView {
    status: String,
    #[serde(default)]
    refunds: Vec<serde::de::IgnoredAny>,
    installment_months: Option<u32>,
}

/// A co-lent loan's movement: only whether it paid a guarantee claim.
#[derive(serde::Deserialize)]
struct MoveView {
    #[serde(default)]
    claim: Option<serde::de::IgnoredAny>,
}

fn doc_written(row: &DocRow) -> Option<Made> {
    let created = row.version == 1;
    let kind = match (row.kind.as_str(), created) {
        ("borrower", true) => "borrower.created",
        ("merchant", true) => "merchant.created",
        ("line", true) => "line.opened",
        ("purchase", _) => {
            let p: PurchaseView = serde_json::from_slice(&row.body).ok()?;
            match p.status.as_str() {
                "authorized" => "purchase.authorized",
                "voided" => "purchase.voided",
                "captured" if !p.refunds.is_empty() => "purchase.refunded",
                "captured" if !created && p.installment_months.is_some() => "purchase.converted",
                "captured" => "purchase.captured",
                _ => return None,
            }
        }
        ("funding_partner", true) => "colending.partner_created",
        ("funding_plan", true) => "colending.plan_created",
        ("loan_funding", _) => "colending.positions_changed",
        ("funding_move", true) => {
            // Most movements pay no claim: skip the parse in this commit-path loop unless
            // the key is there at all.
            memchr::memmem::find(&row.body, br#""claim":"#)?;
            let m: MoveView = serde_json::from_slice(&row.body).ok()?;
            m.claim?;
            "colending.guarantee_claimed"
        }
        ("halt", true) => "control.halted",
        ("halt", false) => "control.halt_lifted",
        ("control_mode", _) => "control.read_only_changed",
        ("funder_outage", _) => "control.funder_outage_changed",
        _ => return None,
    };
    Some(Made {
        event: EventRow {
            id: event_id(row.id, "doc", row.version, 0),
            kind: kind.into(),
            tenant: row.tenant.clone(),
            day: row.day,
            subject: row.id,
            payload: match row.kind.as_str() {
                "funding_partner" => {
                    let body = without_secrets(&row.body);
                    raw_payload(row.id, &row.kind, row.version, "doc", &body)
                }
                _ => raw_payload(row.id, &row.kind, row.version, "doc", &row.body),
            },
        },
        creation: created
            && !matches!(
                row.kind.as_str(),
                "purchase" | "loan_funding" | "funding_move"
            ),
    })
}

fn doc_event(e: &DocEvent, doc: Option<&&DocRow>) -> Option<Made> {
    let kind = match e.kind.as_str() {
        "limit_changed" => "line.limit_changed",
        "status_changed" => "line.status_changed",
        "statement_issued" => "line.statement_issued",
        "statement_settled" => "line.statement_settled",
        "plan_created" => "line.plan_created",
        "payment_allocated" => "line.payment_allocated",
        "overpayment_refunded" => "line.overpayment_refunded",
        "partner_change" => "colending.partner_changed",
        "plan_change" => "colending.plan_changed",
        _ => return None,
    };
    let doc_kind = doc.map_or("", |d| d.kind.as_str());
    Some(Made {
        event: EventRow {
            id: event_id(e.doc_id, "doc_event", i64::from(e.seq), 0),
            kind: kind.into(),
            tenant: doc.map(|d| d.tenant.clone()).unwrap_or_default(),
            day: e.day,
            subject: e.doc_id,
            payload: match e.kind.as_str() {
                "partner_change" => {
                    let body = without_secrets(&e.body);
                    raw_payload(e.doc_id, doc_kind, i64::from(e.seq), "event", &body)
                }
                _ => raw_payload(e.doc_id, doc_kind, i64::from(e.seq), "event", &e.body),
            },
        },
        creation: false,
    })
}

/// A funding partner's body with its callback `approval.secret` taken out: the HMAC key of
/// its approvals must not travel with events to feeds and webhook URLs. A body that does
/// not parse becomes `null`.
fn without_secrets(body: &[u8]) -> Vec<u8> {
    fn strip(v: &mut serde_json::Value) {
        if let serde_json::Value::Object(m) = v {
            if let Some(serde_json::Value::Object(a)) = m.get_mut("approval") {
                a.remove("secret");
            }
            m.values_mut().for_each(strip);
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            strip(&mut v);
            v.to_string().into_bytes()
        }
        Err(_) => b"null".to_vec(),
    }
}

/// A payload embedding a document or event body without parsing it: the engine writes
/// every such body with `serde_json` (an object), which the cheap check below confirms.
fn raw_payload(id: Uuid, kind: &str, number: i64, field: &str, body: &[u8]) -> String {
    let body = std::str::from_utf8(body)
        .ok()
        .filter(|b| b.starts_with('{') && b.ends_with('}'))
        .unwrap_or("null");
    format!(
        r#"{{"id":"{id}","kind":{},"number":{number},"{field}":{body}}}"#,
        serde_json::Value::from(kind)
    )
}
