//! The policy document: conditions and expiration, and its exact JSON and base64 text.
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>

use base64::Engine;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use time::OffsetDateTime;

use super::{timefmt::iso8601_millis, MAX_POST_OBJECT_SIZE};

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

/// One entry of the policy's `conditions` array. Fields are private so that only conditions
/// S3 accepts can be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `{"field": "value"}`: the form field must equal the value exactly.
    Eq { field: String, value: String },
    /// `["starts-with", "$field", "prefix"]`; an empty prefix allows any value.
    StartsWith { field: String, prefix: String },
    /// `["content-length-range", min, max]`, inclusive, checked against the file's length.
    ContentLengthRange { min: u64, max: u64 },
}

/// Fields whose value S3 matches with starts-with; the auth fields, `bucket` and
/// `success_action_status` allow exact matches only.
fn starts_with_allowed(field: &str) -> bool {
    let field = field.to_ascii_lowercase();
    matches!(
        field.as_str(),
        "acl" | "key" | "content-type" | "cache-control" | "content-disposition" | "content-encoding"
            | "expires" | "success_action_redirect" | "redirect"
    ) || field.starts_with("x-amz-meta-")
}

impl Condition {
    pub fn eq(field: impl Into<String>, value: impl Into<String>) -> Self {
        Self::Eq { field: field.into(), value: value.into() }
    }

    pub fn starts_with(field: impl Into<String>, prefix: impl Into<String>) -> Result<Self, ConditionError> {
        let field = field.into();
        if !starts_with_allowed(&field) {
            return Err(ConditionError::StartsWithNotAllowed(field));
        }
        Ok(Self::StartsWith { field, prefix: prefix.into() })
    }

    pub fn content_length_range(min: u64, max: u64) -> Result<Self, ConditionError> {
        if min > max {
            return Err(ConditionError::EmptyRange { min, max });
        }
        if max > MAX_POST_OBJECT_SIZE {
            return Err(ConditionError::RangeTooLarge(max));
        }
        Ok(Self::ContentLengthRange { min, max })
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Condition::Eq { field, value } => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry(field, value)?;
                map.end()
            }
            Condition::StartsWith { field, prefix } => {
                let mut seq = s.serialize_seq(Some(3))?;
                seq.serialize_element("starts-with")?;
                seq.serialize_element(&format!("${field}"))?;
                seq.serialize_element(prefix)?;
                seq.end()
            }
            Condition::ContentLengthRange { min, max } => {
                let mut seq = s.serialize_seq(Some(3))?;
                seq.serialize_element("content-length-range")?;
                seq.serialize_element(min)?;
                seq.serialize_element(max)?;
                seq.end()
            }
        }
    }
}

/// A policy document: when it expires and what a form must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    expiration: OffsetDateTime,
    conditions: Vec<Condition>,
}

impl PostPolicy {
    pub fn new(expiration: OffsetDateTime, conditions: Vec<Condition>) -> Self {
        Self { expiration, conditions }
    }

    pub fn expiration(&self) -> OffsetDateTime {
        self.expiration
    }

    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The UTF-8 JSON document, compact, with `expiration` first.
    pub fn to_json(&self) -> String {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            expiration: String,
            conditions: &'a [Condition],
        }
        serde_json::to_string(&Doc { expiration: iso8601_millis(self.expiration), conditions: &self.conditions })
            .expect("strings and integers always serialize")
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
                Condition::content_length_range(1, MAX_POST_OBJECT_SIZE).unwrap(),
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
        for field in ["bucket", "x-amz-credential", "X-Amz-Date", "x-amz-security-token", "success_action_status"] {
            assert_eq!(
                Condition::starts_with(field, ""),
                Err(ConditionError::StartsWithNotAllowed(field.into())),
                "{field}"
            );
        }
        assert!(Condition::starts_with("Content-Type", "image/").is_ok());
        assert!(Condition::starts_with("x-amz-meta-tag", "").is_ok());
        assert_eq!(Condition::content_length_range(2, 1), Err(ConditionError::EmptyRange { min: 2, max: 1 }));
        assert_eq!(
            Condition::content_length_range(0, MAX_POST_OBJECT_SIZE + 1),
            Err(ConditionError::RangeTooLarge(MAX_POST_OBJECT_SIZE + 1))
        );
    }

    #[test]
    fn base64_round_trips_to_the_json() {
        let policy = PostPolicy::new(datetime!(2026-11-28 12:00:00 UTC), vec![Condition::eq("bucket", "b")]);
        let decoded = base64::engine::general_purpose::STANDARD.decode(policy.to_base64()).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), policy.to_json());
    }
}
