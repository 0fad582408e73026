//! JSON Schema counts `100.0` and `1e2` as integers, and so do clients that write every
//! number as a double; serde does not. Before a body is deserialized, numbers whose value
//! is an integer are rewritten as integers from their text, so nothing is ever rounded:
//! `100.5`, `1e-2` and `9007199254740993.5` stay as they are and are refused where an
//! integer is due.

use std::borrow::Cow;

/// The body with every integral number written as an integer; borrowed when none is not.
pub fn integral_numbers(body: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let (mut i, mut copied, mut in_string) = (0, 0, false);
    while i < body.len() {
        let b = body[i];
        if in_string {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b != b'-' && !b.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < body.len() && matches!(body[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
            i += 1;
        }
        let token = &body[start..i];
        if !token.iter().any(|c| matches!(c, b'.' | b'e' | b'E')) {
            continue;
        }
        if let Some(int) = integral(token) {
            let o = out.get_or_insert_with(|| Vec::with_capacity(body.len()));
            o.extend_from_slice(&body[copied..start]);
            o.extend_from_slice(int.as_bytes());
            copied = i;
        }
    }
    match out {
        None => Cow::Borrowed(body),
        Some(mut o) => {
            o.extend_from_slice(&body[copied..]);
            Cow::Owned(o)
        }
    }
}

/// The integer a JSON number token denotes exactly, if it denotes one (and has at most
/// about 40 digits); `None` for fractions and for anything that is not a JSON number.
fn integral(token: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(token).ok()?;
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(p) => (&s[..p], s[p + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) if !f.is_empty() => (i, f),
        Some(_) => return None,
        None => (mantissa, ""),
    };
    let digits_only = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || (int.len() > 1 && int.starts_with('0')) || !digits_only(int) {
        return None;
    }
    if !digits_only(frac) || exp.unsigned_abs() > 40 {
        return None;
    }
    let mut digits = format!("{int}{frac}");
    let shift = exp - frac.len() as i32;
    if shift >= 0 {
        digits.extend(std::iter::repeat_n('0', shift as usize));
    } else {
        let cut = shift.unsigned_abs() as usize;
        let keep = digits.len().saturating_sub(cut);
        if !digits[keep..].bytes().all(|b| b == b'0') {
            return None;
        }
        digits.truncate(keep);
    }
    let magnitude = digits.trim_start_matches('0');
    Some(match (magnitude.is_empty(), negative) {
        (true, _) => "0".to_string(),
        (false, true) => format!("-{magnitude}"),
        (false, false) => magnitude.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(s: &str) -> String {
        String::from_utf8(integral_numbers(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn integral_numbers_become_integers_and_nothing_else_changes() {
        assert_eq!(rewrite(r#"{"a":122.0,"b":-3.00}"#), r#"{"a":122,"b":-3}"#);
        assert_eq!(
            rewrite(r#"[1e+16,1.5e3,2E0,-0.0]"#),
            r#"[10000000000000000,1500,2,0]"#
        );
        assert_eq!(
            rewrite(r#"[4.5,1e-2,0.25e1,1.]"#),
            r#"[4.5,1e-2,0.25e1,1.]"#
        );
        // Exact from the text: a double would round this to 2^53.
        assert_eq!(
            rewrite(r#"{"x":9007199254740993.0}"#),
            r#"{"x":9007199254740993}"#
        );
        assert_eq!(
            rewrite(r#"{"x":9007199254740990.9999999}"#),
            r#"{"x":9007199254740990.9999999}"#
        );
        // Strings are left alone, escaped quotes included.
        let s = r#"{"memo":"1.0 \" 2.0","n":[3.0]}"#;
        assert_eq!(rewrite(s), r#"{"memo":"1.0 \" 2.0","n":[3]}"#);
        assert_eq!(rewrite(r#"[01.0,1e99]"#), r#"[01.0,1e99]"#);
        assert!(matches!(integral_numbers(b"{\"a\":1}"), Cow::Borrowed(_)));
    }
}
