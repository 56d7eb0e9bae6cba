//! Reading a policy as a POST form carries it: base64 of a JSON document. The text is kept
//! exactly as received, since the signature is over that text and not over any re-encoding.

use base64::Engine;
use serde_json::Value;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{error, Condition, PostPolicy, S3Error};

/// A policy from a form: the base64 text as signed, and the document it encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPolicy {
    text: String,
    policy: PostPolicy<'static>,
}

impl ReceivedPolicy {
    /// Decodes and checks the document; a malformed one is S3's `InvalidPolicyDocument`.
    pub fn parse(text: &str) -> Result<Self, S3Error> {
        let json = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| error::invalid_policy("Policy is not valid base64."))?;
        let doc: Value =
            serde_json::from_slice(&json).map_err(|_| error::invalid_policy("Invalid JSON."))?;
        let Value::Object(doc) = doc else {
            return Err(error::invalid_policy("The policy must be a JSON object."));
        };
        if let Some(other) = doc.keys().find(|k| *k != "expiration" && *k != "conditions") {
            return Err(error::invalid_policy(format_args!("Unexpected field '{other}'.")));
        }
        let expiration = doc
            .get("expiration")
            .ok_or_else(|| error::invalid_policy("Policy missing expiration."))?
            .as_str()
            .filter(|s| is_iso8601_utc(s))
            .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
            .ok_or_else(|| {
                error::invalid_policy(
                    "Invalid 'expiration' value: it must be an ISO 8601 UTC time.",
                )
            })?;
        let conditions = doc
            .get("conditions")
            .ok_or_else(|| error::invalid_policy("Policy missing conditions."))?
            .as_array()
            .ok_or_else(|| error::invalid_policy("'conditions' must be an array."))?
            .iter()
            .map(|c| Condition::from_json(c).map_err(error::invalid_policy))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { text: text.to_owned(), policy: PostPolicy::new(expiration, conditions) })
    }

    /// The base64 text exactly as it was signed.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn policy(&self) -> &PostPolicy<'static> {
        &self.policy
    }

    pub fn into_policy(self) -> PostPolicy<'static> {
        self.policy
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, as S3 takes a policy's expiration: a capital `T`, UTC
/// written `Z` (no offset, not even `+00:00`), no space.
fn is_iso8601_utc(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let fixed = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let rest = &b[b.len().min(19)..];
    let tail_ok = match rest {
        [b'Z'] => true,
        [b'.', fraction @ .., b'Z'] => {
            (1..=9).contains(&fraction.len()) && fraction.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    fixed && tail_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn b64(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    #[test]
    fn keeps_the_text_and_reads_the_document() {
        // Whitespace and CRLFs in the JSON are part of what was signed: they must survive.
        let text = b64("{ \"expiration\": \"2015-12-30T12:00:00.000Z\",\r\n \"conditions\": [ {\"bucket\": \"b\"} ] }");
        let received = ReceivedPolicy::parse(&text).unwrap();
        assert_eq!(received.text(), text);
        assert_eq!(received.policy().expiration(), datetime!(2015-12-30 12:00:00 UTC));
        assert_eq!(received.policy().conditions(), [Condition::eq("bucket", "b")]);
    }

    #[test]
    fn a_built_policy_reads_back_the_same() {
        let built = PostPolicy::new(
            datetime!(2026-11-28 12:00:00 UTC),
            vec![
                Condition::eq("key", "k"),
                // Everything the hand-written JSON writer must escape.
                Condition::eq(
                    "x-amz-meta-note",
                    "quote \" backslash \\ tab \t nl \n ctl \u{1} é 🦀",
                ),
                Condition::starts_with("x-amz-meta-\"odd\"", "\u{7f}").unwrap(),
                Condition::content_length_range(1, 9).unwrap(),
            ],
        );
        assert_eq!(ReceivedPolicy::parse(&built.to_base64()).unwrap().policy(), &built);
    }

    #[test]
    fn malformed_documents_are_invalid_policy_documents() {
        for text in [
            "%%%".to_owned(),
            b64("not json"),
            b64("[]"),
            b64(r#"{"conditions": []}"#),
            b64(r#"{"expiration": "tomorrow", "conditions": []}"#),
            // Not ISO 8601 in UTC as S3 takes it (an independent conformance suite's cases).
            b64(r#"{"expiration": "2026-11-29 02:20:16.123456+00:00", "conditions": []}"#),
            b64(r#"{"expiration": "2026-11-29T00:00:00+05:00", "conditions": []}"#),
            b64(r#"{"expiration": "2026-11-29T00:00:00+00:00", "conditions": []}"#),
            b64(r#"{"expiration": "2026-11-29t00:00:00Z", "conditions": []}"#),
            b64(r#"{"expiration": "2026-11-29T00:00:00z", "conditions": []}"#),
            b64(r#"{"expiration": "2026-11-29T00:00:00.Z", "conditions": []}"#),
            b64(r#"{"expiration": "2026-11-28T12:00:00Z", "conditions": {}}"#),
            b64(r#"{"expiration": "2026-11-28T12:00:00Z", "conditions": [], "extra": 1}"#),
            b64(
                r#"{"expiration": "2026-11-28T12:00:00Z", "conditions": [["starts-with", "$bucket", ""]]}"#,
            ),
        ] {
            let err = ReceivedPolicy::parse(&text).unwrap_err();
            assert_eq!((err.status, err.code), (400, "InvalidPolicyDocument"), "{text}: {err}");
        }
    }
}
