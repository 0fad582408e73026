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
    /// A loan whose funders did not all approve: every funder's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub funders: Option<Vec<FunderDecline>>,
    /// The emergency halt that refused the request (code `halted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub halt_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FunderDecline {
    pub partner_id: uuid::Uuid,
    /// unknown_partner, ineligible_<rule>, quota, daily_quota, concentration, declined,
    /// callback_<timeout|malformed|bad_signature|status|unreachable>, incomplete (it could
    /// fund; another funder could not).
    pub code: String,
    pub reason: String,
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
            funders: None,
            halt_id: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }
}

/// A request value that parsed as JSON but is not acceptable, with the field that is wrong.
/// Most are 422 `invalid_field`; a value no client could mean (a control character in a
/// name, a hold that has expired before it is made) is 400 with its own code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    pub status: u16,
    pub code: &'static str,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
            status: 422,
            code: "invalid_field",
        }
    }

    /// A 422 with its own `code`: the request parses, and the schema cannot state the rule.
    pub fn refused(
        field: impl Into<String>,
        message: impl Into<String>,
        code: &'static str,
    ) -> FieldError {
        FieldError {
            code,
            ..FieldError::new(field, message)
        }
    }

    pub fn into_problem(self) -> Problem {
        Problem::new(
            self.status,
            self.code,
            "Invalid field",
            format!("{}: {}", self.field, self.message),
        )
        .with_field(self.field)
    }
}

/// A name people will read (a borrower's, a merchant's, a product's): 1 to `max_bytes`
/// bytes, not blank, and free of control characters, which no name contains and which break
/// logs, exports and screens downstream.
pub fn check_name(field: &str, name: &str, max_bytes: usize) -> Result<(), FieldError> {
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(FieldError::refused(
            field,
            format!(
                "must not contain control characters (found U+{:04X})",
                u32::from(c)
            ),
            "control_character",
        ));
    }
    if name.trim().is_empty() || name.len() > max_bytes {
        return Err(FieldError::new(
            field,
            format!("must be 1 to {max_bytes} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_control_characters_and_keep_other_text() {
        for bad in ["a\0b", "tab\there", "new\nline", "del\u{7f}", "c1\u{85}"] {
            let e = check_name("name", bad, 200).unwrap_err();
            assert_eq!(
                (e.status, e.code, e.field.as_str()),
                (422, "control_character", "name")
            );
        }
        for good in ["Zhang Wei", "张伟 商店", "O'Brien & Sons, Ltd."] {
            assert_eq!(check_name("name", good, 200), Ok(()));
        }
        assert_eq!(check_name("name", "  ", 200).unwrap_err().status, 422);
        assert_eq!(check_name("name", "abc", 2).unwrap_err().status, 422);
    }
}
