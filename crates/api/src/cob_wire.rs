use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Starts close of business in the running server: days close one at a time until `to` is
/// the open business day.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CobRunRequest {
    /// The run's id; defaults to the `Idempotency-Key`, and must equal it when given.
    pub id: Option<uuid::Uuid>,
    /// The business date to open, after the open one (default: the day after it).
    #[schema(example = "2026-03-02")]
    pub to: Option<String>,
}

/// One closed day of a run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CobDayWire {
    #[schema(example = "2026-03-01")]
    pub closed: String,
    pub loans_advanced: u64,
    pub loans_quiet: u64,
    pub entries_posted: u64,
    pub lines_advanced: u64,
    pub statements_issued: u64,
    pub seconds: f64,
}

/// A close-of-business run and how far it has come.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CobRunWire {
    pub id: uuid::Uuid,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// The open business date when the run started.
    pub from: String,
    pub to: String,
    /// The day being closed now (while running), else the open business date.
    pub current_date: String,
    pub days_done: u32,
    pub days_total: u32,
    /// Loans moved to the next day so far, all days together.
    pub loans_processed: u64,
    /// `api` or `schedule`.
    pub started_by: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    pub days: Vec<CobDayWire>,
}

/// The open business date, and the close-of-business run in progress if any.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BusinessDateWire {
    /// Absent only on a store where no business date has been opened.
    pub business_date: Option<String>,
    pub cob_run: Option<uuid::Uuid>,
}
