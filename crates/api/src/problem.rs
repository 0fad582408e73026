use serde::Serialize;
use utoipa::ToSchema;

/// RFC 9457 problem details. `code` is stable for programs; `field` names the request field
/// at fault, as a JSON path, when there is one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    /// A refused purchase's outcome: `{"id", "status": "declined", "reason"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase: Option<DeclinedPurchase>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeclinedPurchase {
    pub id: uuid::Uuid,
    /// Always `declined`.
    pub status: String,
    pub reason: String,
}

impl Problem {
    pub fn new(status: u16, code: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: format!("urn:puhui:problem:{code}"),
            title: title.to_string(),
            status,
            detail: detail.into(),
            code: code.to_string(),
            field: None,
            incident_id: None,
            purchase: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }
}

/// A request value that parsed as JSON but is not acceptable, with the field that is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn into_problem(self) -> Problem {
        Problem::new(
            422,
            "invalid_field",
            "Invalid field",
            format!("{}: {}", self.field, self.message),
        )
        .with_field(self.field)
    }
}
