//! Real-time risk: a signal about a customer, and the customer's risk state with its rule
//! hits, actions and behaviour score.

use crate::FieldError;
use engine::monitor::{NewSignal, RiskState, Signal};
use money::Currency;
use risk::early_warning::SignalKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    /// Defaults to the Idempotency-Key.
    pub id: Option<Uuid>,
    /// `bureau_alert`, `multi_borrowing` or `merchant_revenue`.
    pub kind: String,
    /// `merchant_revenue` only: the revenue of the period, in minor units.
    pub amount_minor: Option<i64>,
    /// With `amount_minor`.
    pub currency: Option<String>,
    /// Free text from the source (at most 2,000 characters).
    pub detail: Option<String>,
}

fn signal_kind(s: &str) -> Option<SignalKind> {
    match s {
        "bureau_alert" => Some(SignalKind::BureauAlert),
        "multi_borrowing" => Some(SignalKind::MultiBorrowing),
        "merchant_revenue" => Some(SignalKind::MerchantRevenue),
        _ => None,
    }
}

impl SignalRequest {
    pub fn parse(&self) -> Result<NewSignal, FieldError> {
        let kind = signal_kind(&self.kind).ok_or_else(|| {
            FieldError::new(
                "kind",
                "must be bureau_alert, multi_borrowing or merchant_revenue",
            )
        })?;
        let currency = self
            .currency
            .as_deref()
            .map(|c| {
                c.parse::<Currency>()
                    .map_err(|_| FieldError::new("currency", "not an ISO 4217 code we support"))
            })
            .transpose()?;
        Ok(NewSignal {
            kind,
            amount_minor: self.amount_minor,
            currency,
            detail: self.detail.clone(),
        })
    }
}

#[derive(Clone, Serialize, ToSchema)]
pub struct SignalResponse {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub kind: String,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub detail: Option<String>,
    /// The business date it was recorded on.
    pub day: String,
}

impl SignalResponse {
    pub fn of(s: &Signal) -> SignalResponse {
        SignalResponse {
            id: s.id,
            customer_id: s.customer_id,
            kind: s.kind.as_str().into(),
            amount_minor: s.amount_minor,
            currency: s.currency.map(|c| c.code().into()),
            detail: s.detail.clone(),
            day: s.day.to_string(),
        }
    }
}

#[derive(Clone, Serialize, ToSchema)]
pub struct LoanRiskResponse {
    pub loan_id: Uuid,
    pub dpd: u32,
    pub missed_payments: u32,
}

#[derive(Clone, Serialize, ToSchema)]
pub struct LineRiskResponse {
    pub line_id: Uuid,
    pub currency: String,
    pub limit_minor: i64,
    pub used_minor: i64,
    pub status: String,
    pub dpd: u32,
}

#[derive(Clone, Serialize, ToSchema)]
pub struct SignalSeenResponse {
    pub id: Uuid,
    pub kind: String,
    pub day: String,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
}

#[derive(Clone, Serialize, ToSchema)]
pub struct RuleHitResponse {
    pub rule_id: String,
    pub pack_version: String,
    pub cause_event_id: Uuid,
    pub cause_seq: i64,
    pub day: String,
}

#[derive(Clone, Serialize, ToSchema)]
pub struct RiskActionResponse {
    pub rule_id: String,
    /// `freeze_line`, `lower_limit`, `halt_new_loans`, `refer_to_collections` or
    /// `notify_funders`.
    pub action: String,
    pub cause_event_id: Uuid,
    pub cause_seq: i64,
    pub day: String,
    /// The lines changed or the funding partners told.
    pub targets: Vec<Uuid>,
    /// `done`, `skipped: …` or `failed: …`.
    pub result: String,
}

#[derive(Clone, Serialize, ToSchema)]
pub struct RiskStateResponse {
    pub customer_id: Uuid,
    /// The business date of the last event applied (absent before any).
    pub as_of: Option<String>,
    /// The sequence number of the last event applied.
    pub last_seq: i64,
    pub dpd: u32,
    pub max_dpd: u32,
    pub missed_payments: u32,
    pub payments_on_time: u32,
    /// Decimal string, 0–1.
    pub on_time_ratio: Option<String>,
    /// Used over limit across open lines, decimal string.
    pub utilization: Option<String>,
    pub borrowings_30d: u32,
    pub borrowings_90d: u32,
    /// The bundled behaviour scorecard's points (300–700; higher is safer).
    pub behaviour_score: Option<String>,
    /// No new loan, line or purchase is accepted.
    pub halted: bool,
    pub in_collections: bool,
    /// Rules whose condition holds now.
    pub active_rules: Vec<String>,
    pub loans: Vec<LoanRiskResponse>,
    pub lines: Vec<LineRiskResponse>,
    pub signals: Vec<SignalSeenResponse>,
    /// The latest rule hits and actions, oldest first (every one is also an event).
    pub rule_hits: Vec<RuleHitResponse>,
    pub actions: Vec<RiskActionResponse>,
}

impl RiskStateResponse {
    pub fn of(s: &RiskState) -> RiskStateResponse {
        let day = s.as_of.unwrap_or_else(|| {
            money::BusinessDate::from_epoch_days(0).expect("the epoch is a date")
        });
        let facts = s.facts(day);
        RiskStateResponse {
            customer_id: s.customer_id,
            as_of: s.as_of.map(|d| d.to_string()),
            last_seq: s.last_seq,
            dpd: s.dpd_max(),
            max_dpd: s.max_dpd,
            missed_payments: s.missed_payments,
            payments_on_time: s.payments_on_time,
            on_time_ratio: s.on_time_ratio().map(|r| r.normalize().to_string()),
            utilization: s.utilization().map(|u| u.normalize().to_string()),
            borrowings_30d: facts.borrowings_30d,
            borrowings_90d: facts.borrowings_90d,
            behaviour_score: s.behaviour_score.map(|b| b.normalize().to_string()),
            halted: s.halted,
            in_collections: s.in_collections,
            active_rules: s.active_rules.iter().cloned().collect(),
            loans: s
                .loans
                .iter()
                .map(|(id, l)| LoanRiskResponse {
                    loan_id: *id,
                    dpd: l.dpd,
                    missed_payments: l.missed_payments,
                })
                .collect(),
            lines: s
                .lines
                .iter()
                .map(|(id, l)| LineRiskResponse {
                    line_id: *id,
                    currency: l.currency.code().into(),
                    limit_minor: l.limit_minor,
                    used_minor: l.used_minor,
                    status: l.status.clone(),
                    dpd: l.dpd,
                })
                .collect(),
            signals: s
                .signals
                .iter()
                .map(|x| SignalSeenResponse {
                    id: x.id,
                    kind: x.kind.as_str().into(),
                    day: x.day.to_string(),
                    amount_minor: x.amount_minor,
                    currency: x.currency.map(|c| c.code().into()),
                })
                .collect(),
            rule_hits: s
                .hits
                .iter()
                .map(|h| RuleHitResponse {
                    rule_id: h.rule_id.clone(),
                    pack_version: h.pack_version.clone(),
                    cause_event_id: h.cause_event_id,
                    cause_seq: h.cause_seq,
                    day: h.day.to_string(),
                })
                .collect(),
            actions: s
                .actions
                .iter()
                .map(|a| RiskActionResponse {
                    rule_id: a.rule_id.clone(),
                    action: a.action.clone(),
                    cause_event_id: a.cause_event_id,
                    cause_seq: a.cause_seq,
                    day: a.day.to_string(),
                    targets: a.targets.clone(),
                    result: a.result.clone(),
                })
                .collect(),
        }
    }
}
