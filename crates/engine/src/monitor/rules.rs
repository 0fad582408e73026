//! Early-warning rule pack files: JSON read into `risk::early_warning::RulePack`, with the
//! field at fault named whether the file does not parse or does not make sense.

use risk::early_warning::{RuleError, RulePack};

/// Parses and validates a rule pack file's text.
pub fn parse_pack(text: &str) -> Result<RulePack, RuleError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let pack: RulePack = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        RuleError {
            field: if path == "." { "(file)".into() } else { path },
            message: e.into_inner().to_string(),
        }
    })?;
    pack.validate()?;
    Ok(pack)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pack_round_trips() {
        let p = risk::early_warning::default_pack();
        let text = serde_json::to_string_pretty(&p).unwrap();
        assert_eq!(parse_pack(&text).unwrap(), p);
    }

    #[test]
    fn errors_name_the_field() {
        let bad = r#"{"version":"1","rules":[{"id":"a","effective_from":"2026-01-01",
            "when":{"dpd_at_least":3},"actions":[{"kind":"freeze_lines"}]}]}"#;
        // The unknown action kind is named down to its tag.
        assert!(parse_pack(bad)
            .unwrap_err()
            .field
            .starts_with("rules[0].actions[0]"));
        let bad = r#"{"version":"1","rules":[{"id":"a","effective_from":"2026-13-01",
            "when":{"dpd_at_least":3},"actions":[{"kind":"freeze_line"}]}]}"#;
        assert_eq!(
            parse_pack(bad).unwrap_err().field,
            "rules[0].effective_from"
        );
        let bad = r#"{"version":"1","rules":[{"id":"a","effective_from":"2026-01-01",
            "when":{"dpd_at_least":3, "colour":"red"},"actions":[{"kind":"freeze_line"}]}]}"#;
        assert!(parse_pack(bad)
            .unwrap_err()
            .field
            .starts_with("rules[0].when"));
        let bad = r#"{"version":"1","rules":[{"id":"a","effective_from":"2026-01-01",
            "when":{"utilization_at_least":"0"},"actions":[{"kind":"freeze_line"}]}]}"#;
        assert_eq!(
            parse_pack(bad).unwrap_err().field,
            "rules[0].when.utilization_at_least"
        );
        assert_eq!(parse_pack("not json").unwrap_err().field, "(file)");
    }
}
