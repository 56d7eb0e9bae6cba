//! The policy document: conditions and expiration, and its exact JSON and base64 text.
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use serde_json::Value;
use time::OffsetDateTime;

use app::rules::MAX_POST_BYTES;

use super::timefmt::iso8601_millis;

/// Why a condition cannot be part of a policy S3 would accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("S3 does not allow starts-with on `{0}`")]
    StartsWithNotAllowed(String),
    #[error("content-length-range minimum {min} is greater than its maximum {max}")]
    EmptyRange { min: u64, max: u64 },
    #[error("content-length-range maximum {0} is over the 5 GiB a single POST may carry")]
    RangeTooLarge(u64),
}

/// One entry of the policy's `conditions` array. Built only through the constructors, which
/// refuse what S3 would refuse. Strings are borrowed when signing (from the form's own fields)
/// and owned when parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition<'a> {
    /// `{"field": "value"}`: the form field must equal the value exactly.
    Eq { field: Cow<'a, str>, value: Cow<'a, str> },
    /// `["starts-with", "$field", "prefix"]`; an empty prefix allows any value.
    StartsWith { field: Cow<'a, str>, prefix: Cow<'a, str> },
    /// `["content-length-range", min, max]`, inclusive, checked against the file's length.
    ContentLengthRange { min: u64, max: u64 },
}

/// Fields whose value S3 matches with starts-with; the auth fields, `bucket` and
/// `success_action_status` allow exact matches only.
fn starts_with_allowed(field: &str) -> bool {
    let field = field.to_ascii_lowercase();
    matches!(
        field.as_str(),
        "acl"
            | "key"
            | "content-type"
            | "cache-control"
            | "content-disposition"
            | "content-encoding"
            | "expires"
            | "success_action_redirect"
            | "redirect"
    ) || field.starts_with("x-amz-meta-")
}

/// Appends `text` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    push_escaped(out, text);
    out.push('"');
}

/// Appends `text` escaped for the inside of a JSON string. Every byte JSON escapes is ASCII
/// (and never part of a multi-byte UTF-8 sequence), so a byte scan copying clean runs whole is
/// both correct and fast.
fn push_escaped(out: &mut String, text: &str) {
    // Almost every value is clean, and this check decides it eight bytes at a time.
    if !needs_escaping(text.as_bytes()) {
        out.push_str(text);
        return;
    }
    let mut clean_from = 0;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.push_str(&text[clean_from..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => out.push_str(&format!("\\u{b:04x}")),
        }
        clean_from = i + 1;
    }
    out.push_str(&text[clean_from..]);
}

/// Whether any byte is a control character, `"` or `\\`. Word at a time ("SWAR"): a byte of
/// `x ^ splat(c)` is zero exactly where `x` holds `c`, and `(v - splat(1)) & !v & splat(0x80)` is
/// non-zero exactly when some byte of `v` is zero; the same trick with `splat(0x20)` finds bytes
/// below 0x20. Bytes >= 0x80 (UTF-8) never match.
fn needs_escaping(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().expect("chunks of 8"));
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
        if below_space
            || has_zero_byte(x ^ (ONES * u64::from(b'"')))
            || has_zero_byte(x ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    words.remainder().iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

impl<'a> Condition<'a> {
    pub fn eq(field: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        Self::Eq { field: field.into(), value: value.into() }
    }

    pub fn starts_with(
        field: impl Into<Cow<'a, str>>,
        prefix: impl Into<Cow<'a, str>>,
    ) -> Result<Self, ConditionError> {
        let field = field.into();
        if !starts_with_allowed(&field) {
            return Err(ConditionError::StartsWithNotAllowed(field.into_owned()));
        }
        Ok(Self::StartsWith { field, prefix: prefix.into() })
    }

    pub fn content_length_range(min: u64, max: u64) -> Result<Self, ConditionError> {
        if min > max {
            return Err(ConditionError::EmptyRange { min, max });
        }
        if max > MAX_POST_BYTES {
            return Err(ConditionError::RangeTooLarge(max));
        }
        Ok(Self::ContentLengthRange { min, max })
    }

    /// The form field this condition is about (`None` for content-length-range).
    pub fn field(&self) -> Option<&str> {
        match self {
            Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => Some(field),
            Condition::ContentLengthRange { .. } => None,
        }
    }

    /// Whether a field's value (`None`: the field was not sent) meets this condition.
    /// A Content-Type holding a comma list must match element by element, or a list like
    /// `image/png, text/html` would slip past `starts-with image/`.
    pub fn accepts(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Condition::Eq { value: want, .. }, Some(got)) => got == want,
            (Condition::StartsWith { field, prefix }, Some(got))
                if field.eq_ignore_ascii_case("content-type") =>
            {
                got.split(',').all(|part| part.trim_start().starts_with(prefix.as_ref()))
            }
            (Condition::StartsWith { prefix, .. }, Some(got)) => got.starts_with(prefix.as_ref()),
            _ => false,
        }
    }

    /// Appends the compact JSON form: `{"f":"v"}`, `["starts-with","$f","p"]`,
    /// `["content-length-range",1,2]`.
    fn write_json(&self, out: &mut String) {
        match self {
            Condition::Eq { field, value } => {
                out.push_str("{\"");
                push_escaped(out, field);
                out.push_str("\":\"");
                push_escaped(out, value);
                out.push_str("\"}");
            }
            Condition::StartsWith { field, prefix } => {
                out.push_str("[\"starts-with\",\"$");
                push_escaped(out, field);
                out.push_str("\",\"");
                push_escaped(out, prefix);
                out.push_str("\"]");
            }
            Condition::ContentLengthRange { min, max } => {
                out.push_str(&format!("[\"content-length-range\",{min},{max}]"));
            }
        }
    }
}

impl Condition<'static> {
    /// Reads one entry of a policy's `conditions` array.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let shown = || value.to_string();
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (field, value) = map.iter().next().expect("one entry");
                let value = value
                    .as_str()
                    .ok_or_else(|| format!("the value of {{\"{field}\": ..}} must be a string"))?;
                Ok(Condition::eq(field.clone(), value.to_owned()))
            }
            Value::Array(items) if items.len() == 3 => {
                let op = items[0].as_str().map(str::to_ascii_lowercase);
                match op.as_deref() {
                    Some("eq") | Some("starts-with") => {
                        let field = items[1]
                            .as_str()
                            .and_then(|f| f.strip_prefix('$'))
                            .ok_or_else(|| {
                                format!("the field in {} must be a string starting with $", shown())
                            })?;
                        let value = items[2]
                            .as_str()
                            .ok_or_else(|| format!("the value in {} must be a string", shown()))?;
                        if op.as_deref() == Some("eq") {
                            Ok(Condition::eq(field.to_owned(), value.to_owned()))
                        } else {
                            Condition::starts_with(field.to_owned(), value.to_owned())
                                .map_err(|e| e.to_string())
                        }
                    }
                    Some("content-length-range") => {
                        let bound = |v: &Value| {
                            v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        };
                        match (bound(&items[1]), bound(&items[2])) {
                            (Some(min), Some(max)) => {
                                Condition::content_length_range(min, max).map_err(|e| e.to_string())
                            }
                            _ => Err(format!(
                                "the bounds in {} must be non-negative integers",
                                shown()
                            )),
                        }
                    }
                    _ => Err(format!("unknown condition {}", shown())),
                }
            }
            _ => Err(format!("invalid condition {}", shown())),
        }
    }
}

/// The way AWS quotes a condition in its error messages: `["eq", "$key", "a/b.txt"]`.
impl fmt::Display for Condition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = |s: &str| {
            let mut out = String::with_capacity(s.len() + 2);
            push_json_string(&mut out, s);
            out
        };
        match self {
            Condition::Eq { field, value } => {
                write!(f, "[\"eq\", {}, {}]", quote(&format!("${field}")), quote(value))
            }
            Condition::StartsWith { field, prefix } => {
                write!(f, "[\"starts-with\", {}, {}]", quote(&format!("${field}")), quote(prefix))
            }
            Condition::ContentLengthRange { min, max } => {
                write!(f, "[\"content-length-range\", {min}, {max}]")
            }
        }
    }
}

/// A policy document: when it expires and what a form must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy<'a> {
    expiration: OffsetDateTime,
    conditions: Vec<Condition<'a>>,
}

impl<'a> PostPolicy<'a> {
    pub fn new(expiration: OffsetDateTime, conditions: Vec<Condition<'a>>) -> Self {
        Self { expiration, conditions }
    }

    pub fn expiration(&self) -> OffsetDateTime {
        self.expiration
    }

    pub fn conditions(&self) -> &[Condition<'a>] {
        &self.conditions
    }

    /// The UTF-8 JSON document, compact, with `expiration` first.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(1024);
        out.push_str("{\"expiration\":\"");
        out.push_str(&iso8601_millis(self.expiration));
        out.push_str("\",\"conditions\":[");
        for (i, condition) in self.conditions.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            condition.write_json(&mut out);
        }
        out.push_str("]}");
        out
    }

    /// The `policy` form field: base64 of the JSON. This exact text is what gets signed.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn serializes_every_condition_form() {
        let policy = PostPolicy::new(
            datetime!(2026-11-28 12:00:00 UTC),
            vec![
                Condition::eq("bucket", "b"),
                Condition::starts_with("key", "uploads/u1/").unwrap(),
                Condition::content_length_range(1, MAX_POST_BYTES).unwrap(),
                Condition::eq("x-amz-meta-note", "quote \" and \\ and é"),
            ],
        );
        assert_eq!(
            policy.to_json(),
            r#"{"expiration":"2026-11-28T12:00:00.000Z","conditions":[{"bucket":"b"},["starts-with","$key","uploads/u1/"],["content-length-range",1,5368709120],{"x-amz-meta-note":"quote \" and \\ and é"}]}"#
        );
    }

    #[test]
    fn refuses_conditions_s3_would_reject() {
        for field in [
            "bucket",
            "x-amz-credential",
            "X-Amz-Date",
            "x-amz-security-token",
            "success_action_status",
        ] {
            assert_eq!(
                Condition::starts_with(field, ""),
                Err(ConditionError::StartsWithNotAllowed(field.into())),
                "{field}"
            );
        }
        assert!(Condition::starts_with("Content-Type", "image/").is_ok());
        assert!(Condition::starts_with("x-amz-meta-tag", "").is_ok());
        assert_eq!(
            Condition::content_length_range(2, 1),
            Err(ConditionError::EmptyRange { min: 2, max: 1 })
        );
        assert_eq!(
            Condition::content_length_range(0, MAX_POST_BYTES + 1),
            Err(ConditionError::RangeTooLarge(MAX_POST_BYTES + 1))
        );
    }

    #[test]
    fn reads_every_condition_form() {
        let read = |json: &str| Condition::from_json(&serde_json::from_str(json).unwrap());
        assert_eq!(read(r#"{"bucket": "b"}"#), Ok(Condition::eq("bucket", "b")));
        assert_eq!(read(r#"["eq", "$key", "k"]"#), Ok(Condition::eq("key", "k")));
        assert_eq!(
            read(r#"["Starts-With", "$key", "u/"]"#),
            Ok(Condition::starts_with("key", "u/").unwrap())
        );
        assert_eq!(
            read(r#"["content-length-range", 1, 5368709120]"#),
            Condition::content_length_range(1, 5368709120).map_err(|e| e.to_string())
        );
        assert_eq!(
            read(r#"["content-length-range", "0", "10"]"#),
            Ok(Condition::ContentLengthRange { min: 0, max: 10 })
        );
        for bad in [
            r#"["starts-with", "$bucket", ""]"#,
            r#"["eq", "key", "k"]"#,
            r#"["content-length-range", -1, 10]"#,
            r#"["content-length-range", 10, 1]"#,
            r#"["content-length-range", 0, 5368709121]"#,
            r#"{"a": "1", "b": "2"}"#,
            r#"{"a": 1}"#,
            r#"["in", "$key", "k"]"#,
            r#""key""#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_word_at_a_time_check_agrees_with_the_byte_by_byte_one(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let slow = bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            proptest::prop_assert_eq!(needs_escaping(&bytes), slow);
        }
    }

    #[test]
    fn every_special_byte_is_found_at_every_position() {
        for special in (0u8..0x20).chain([b'"', b'\\']) {
            for len in 1..20 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    assert!(needs_escaping(&bytes), "{special:#x} at {at} of {len}");
                }
            }
        }
        assert!(!needs_escaping("plain ascii and é 🦀 and \u{7f}".as_bytes()));
    }

    #[test]
    fn displays_as_aws_quotes_it() {
        assert_eq!(Condition::eq("key", "a\"b").to_string(), r#"["eq", "$key", "a\"b"]"#);
        assert_eq!(
            Condition::content_length_range(1, 2).unwrap().to_string(),
            r#"["content-length-range", 1, 2]"#
        );
    }

    #[test]
    fn content_type_lists_match_element_by_element() {
        let images = Condition::starts_with("Content-Type", "image/").unwrap();
        assert!(images.accepts(Some("image/png")));
        assert!(images.accepts(Some("image/png, image/gif")));
        assert!(!images.accepts(Some("image/png, text/html")));
        assert!(!images.accepts(None));
        let any_key = Condition::starts_with("key", "").unwrap();
        assert!(any_key.accepts(Some("")) && !any_key.accepts(None));
        assert!(!Condition::eq("key", "a").accepts(Some("A")));
    }

    #[test]
    fn base64_round_trips_to_the_json() {
        let policy =
            PostPolicy::new(datetime!(2026-11-28 12:00:00 UTC), vec![Condition::eq("bucket", "b")]);
        let decoded = base64::engine::general_purpose::STANDARD.decode(policy.to_base64()).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), policy.to_json());
    }
}
