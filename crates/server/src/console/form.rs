//! Form fields: read from the query or body, checked, and on failure the message beside
//! the field. A form with any error is shown again with its values and nothing is done.

use super::Text;
use maud::{html, Markup};
use money::{BusinessDate, Currency, Money};
use std::collections::HashMap;
use uuid::Uuid;

pub struct Form {
    values: HashMap<String, String>,
    errors: Vec<(String, String)>,
    t: &'static Text,
}

impl Form {
    pub fn new(values: HashMap<String, String>, t: &'static Text) -> Form {
        Form {
            values,
            errors: Vec::new(),
            t,
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", |v| v.trim())
    }

    /// Sets a value shown in the form (a default).
    pub fn default(&mut self, name: &str, value: &str) {
        self.values
            .entry(name.to_string())
            .or_insert_with(|| value.to_string());
    }

    pub fn fail(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push((name.to_string(), message.into()));
    }

    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.as_str())
    }

    fn required(&mut self, name: &str) -> Option<String> {
        let v = self.value(name).to_string();
        if v.is_empty() {
            self.fail(name, self.t.err_required);
            return None;
        }
        Some(v)
    }

    pub fn text(&mut self, name: &str, max_len: usize) -> Option<String> {
        let v = self.required(name)?;
        if v.len() > max_len {
            self.fail(name, format!("{} {max_len}", self.t.err_too_long));
            return None;
        }
        Some(v)
    }

    pub fn uuid(&mut self, name: &str) -> Option<Uuid> {
        let v = self.required(name)?;
        match Uuid::parse_str(&v) {
            Ok(id) => Some(id),
            Err(_) => {
                self.fail(name, self.t.err_uuid);
                None
            }
        }
    }

    /// An amount in major units (`3000`, `3000.50`), positive, in `currency`'s scale.
    pub fn amount_minor(&mut self, name: &str, currency: Currency) -> Option<i64> {
        let v = self.required(name)?;
        match Money::parse_major(&v.replace(',', ""), currency) {
            Ok(m) if m.amount_minor() > 0 => Some(m.amount_minor()),
            _ => {
                self.fail(name, self.t.err_amount);
                None
            }
        }
    }

    pub fn date(&mut self, name: &str) -> Option<BusinessDate> {
        let v = self.required(name)?;
        match v.parse::<BusinessDate>() {
            Ok(d) => Some(d),
            Err(_) => {
                self.fail(name, self.t.err_date);
                None
            }
        }
    }

    pub fn int(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        let v = self.required(name)?;
        match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.fail(name, format!("{} {min}–{max}", self.t.err_range));
                None
            }
        }
    }

    /// One of `choices`.
    pub fn choice(&mut self, name: &str, choices: &[String]) -> Option<String> {
        let v = self.required(name)?;
        if choices.contains(&v) {
            Some(v)
        } else {
            self.fail(name, self.t.err_choice);
            None
        }
    }

    /// A text input with its label and, after a failed submission, its error beside it.
    pub fn input(&self, name: &str, label: &str, kind: &str) -> Markup {
        let err = self.error(name);
        html! {
            label {
                (label)
                input type=(kind) name=(name) value=(self.value(name))
                    aria-invalid=(err.is_some()) aria-describedby={ "e-" (name) };
                @if let Some(e) = err { span.field-error id={ "e-" (name) } { (e) } }
            }
        }
    }

    pub fn select(&self, name: &str, label: &str, choices: &[String]) -> Markup {
        let err = self.error(name);
        let current = self.value(name);
        html! {
            label {
                (label)
                select name=(name) aria-invalid=(err.is_some()) {
                    @for c in choices {
                        option value=(c) selected[c == current] { (c) }
                    }
                }
                @if let Some(e) = err { span.field-error { (e) } }
            }
        }
    }
}

/// `application/x-www-form-urlencoded` or a query string into a map (the last value wins).
pub fn parse(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_browsers_send() {
        let m = parse("a=1&b=car+%28new%29&c=%E4%B8%AD&d=%ZZ&e");
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "car (new)");
        assert_eq!(m["c"], "中");
        assert_eq!(m["d"], "%ZZ");
        assert_eq!(m["e"], "");
        assert_eq!(
            parse(&format!("x={}", encode("… >= 7 years")))["x"],
            "… >= 7 years"
        );
    }

    #[test]
    fn bad_values_fail_beside_their_field() {
        let t = super::super::Lang::En.text();
        let mut f = Form::new(parse("id=nope&amount=12.345&when=2026-02-30&n=0"), t);
        assert!(f.uuid("id").is_none());
        assert!(f.amount_minor("amount", Currency::Cny).is_none());
        assert!(f.date("when").is_none());
        assert!(f.int("n", 1, 5).is_none());
        assert!(f.text("missing", 10).is_none());
        assert!(!f.ok());
        for name in ["id", "amount", "when", "n", "missing"] {
            assert!(f.error(name).is_some(), "{name}");
        }
        let mut g = Form::new(parse("amount=3%2C000.50"), t);
        assert_eq!(g.amount_minor("amount", Currency::Cny), Some(300_050));
    }
}
