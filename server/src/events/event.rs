//! The event a verdict becomes, as `docs/events.md` documents it: a Standard Webhooks envelope
//! (`type`, `timestamp`, `data`) built from the verdict's line in the log, the same bytes
//! whenever it is sent. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::uploads::pending::{By, Outcome, VerdictLine};

/// The version of `data`'s shape: raised when a field changes meaning or goes.
pub const VERSION: u32 = 1;

/// What an event is about: `upload.<outcome>`.
pub fn event_type(outcome: Outcome) -> String {
    format!("upload.{}", outcome.as_str())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: String,
    /// When the verdict was given (RFC 3339): the same on every attempt.
    pub timestamp: String,
    pub data: Data,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Data {
    pub version: u32,
    pub bucket: String,
    pub key: String,
    /// Bytes, as the bucket reported them; `null` when nothing was found.
    pub size: Option<u64>,
    pub content_type: Option<String>,
    /// The SHA-256 the bucket checked; `null` where none was bound (`UPLOAD_CHECKSUM=md5|off`).
    pub checksum: Option<Checksum>,
    /// As the bucket quotes it; `null` when nothing was found.
    pub etag: Option<String>,
    pub uploader: Uploader,
    /// The upload profile it was signed under (`default` for records from before profiles).
    pub profile: String,
    pub metadata: BTreeMap<String, String>,
    /// When the grant was signed; `null` where that is not known (an extra object of a plain
    /// form whose record had ended).
    pub signed_at: Option<String>,
    pub verdict_at: String,
    pub by: By,
    /// What differed, for `upload.mismatched`; `null` otherwise.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploader {
    /// The uploader id: the prefix its objects are under (`uploads/<id>/`).
    pub id: String,
    /// The application's user, where uploaders are its users; `null` for an anonymous one.
    pub subject: Option<String>,
}

/// A SHA-256 as S3 keeps it: of the whole object, or for a multipart upload the composite, the
/// SHA-256 of the parts' SHA-256s (`value` then is what S3 reports without its `-<parts>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: String,
    #[serde(rename = "type")]
    pub kind: ChecksumKind,
    /// Base64.
    pub value: String,
    /// For `composite`: how many parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumKind {
    FullObject,
    Composite,
}

impl Checksum {
    /// From S3's form: `<base64>`, or `<base64>-<parts>` for a composite.
    pub fn from_s3(reported: &str) -> Self {
        let (value, parts) = match reported.rsplit_once('-') {
            Some((value, parts)) if parts.bytes().all(|b| b.is_ascii_digit()) => {
                (value, parts.parse().ok())
            }
            _ => (reported, None),
        };
        Self {
            algorithm: "sha256".into(),
            kind: if parts.is_some() { ChecksumKind::Composite } else { ChecksumKind::FullObject },
            value: value.into(),
            parts,
        }
    }
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

impl Event {
    /// The event `line` reports.
    pub fn of(line: &VerdictLine) -> Self {
        Self {
            kind: event_type(line.verdict),
            timestamp: rfc3339(line.at),
            data: Data {
                version: VERSION,
                bucket: line.bucket.clone(),
                key: line.key.clone(),
                size: line.size,
                content_type: line.content_type.clone(),
                checksum: line.checksum.as_deref().map(Checksum::from_s3),
                etag: line.etag.clone(),
                uploader: Uploader { id: line.uploader.clone(), subject: line.subject.clone() },
                profile: line.profile().to_owned(),
                metadata: line.metadata.clone(),
                signed_at: (line.signed > 0).then(|| rfc3339(line.signed)),
                verdict_at: rfc3339(line.at),
                by: line.by,
                problem: line.problem.clone(),
            },
        }
    }

    pub fn body(&self) -> String {
        serde_json::to_string(self).expect("an event serializes")
    }
}

/// The `webhook-id` of the event `line` reports: from its grant, its type and its key, so it is
/// the same on every attempt, instance and replay (the receiver's idempotency key), and two
/// events never share one (a plain form's extra objects each have their own key).
pub fn webhook_id(line: &VerdictLine) -> String {
    let mut hash = Sha256::new();
    for part in [line.id.as_str(), line.verdict.as_str(), line.key.as_str()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    format!("evt_{}", &hex::encode(hash.finalize())[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn line(outcome: Outcome) -> VerdictLine {
        VerdictLine {
            id: "uploads/0123456789abcdef0123456789abcdef/fffe6b1c2d3e4f50a1b2c3d4e5f60718/".into(),
            key:
                "uploads/0123456789abcdef0123456789abcdef/fffe6b1c2d3e4f50a1b2c3d4e5f60718/cat.png"
                    .into(),
            uploader: "0123456789abcdef0123456789abcdef".into(),
            subject: Some("alice".into()),
            verdict: outcome,
            by: By::Browser,
            at: 1_764_900_000,
            size: Some(1234),
            etag: Some("\"0cc175b9c0f1b6a831c399e269772661\"".into()),
            problem: None,
            bucket: "uploads".into(),
            signed: 1_764_899_990,
            content_type: Some("image/png".into()),
            checksum: Some("ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=".into()),
            metadata: [("invoice-id".to_owned(), "42".to_owned())].into(),
        }
    }

    #[test]
    fn an_event_reports_its_line_in_standard_webhooks_envelope() {
        let event = Event::of(&line(Outcome::Verified));
        let json: serde_json::Value = serde_json::from_str(&event.body()).unwrap();
        assert_eq!(json["type"], "upload.verified");
        assert_eq!(json["timestamp"], "2025-12-05T02:00:00Z");
        assert_eq!(json["data"]["version"], 1);
        assert_eq!(json["data"]["signed_at"], "2025-12-05T01:59:50Z");
        assert_eq!(json["data"]["uploader"]["subject"], "alice");
        assert_eq!(json["data"]["by"], "browser");
        assert_eq!(json["data"]["checksum"]["type"], "full_object");
        assert_eq!(json["data"]["metadata"]["invoice-id"], "42");
        assert!(json["data"]["problem"].is_null());
        assert_eq!(serde_json::from_str::<Event>(&event.body()).unwrap(), event);
    }

    /// The JSON Schema in docs/events.md: the receiver in the tests validates every event
    /// against it (scripts/webhook-receiver.py); here, its fields are the ones sent.
    fn documented_schema() -> serde_json::Value {
        let doc = include_str!("../../../docs/events.md");
        let from = doc.find("## Schema").expect("docs/events.md has a Schema section");
        let block = &doc[from..];
        let start = block.find("```json\n").expect("a json block") + 8;
        let end = start + block[start..].find("\n```").expect("its end");
        serde_json::from_str(&block[start..end]).expect("the schema is JSON")
    }

    #[test]
    fn the_documented_schema_names_every_field_and_type_sent() {
        let schema = documented_schema();
        let keys = |v: &serde_json::Value| {
            let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        let data = &schema["properties"]["data"];
        let mut sent = serde_json::to_value(Event::of(&line(Outcome::Verified))).unwrap();
        assert_eq!(keys(&schema["properties"]), keys(&sent));
        assert_eq!(keys(&data["properties"]), keys(&sent["data"]));
        let mut required: Vec<String> = serde_json::from_value(data["required"].clone()).unwrap();
        required.sort();
        assert_eq!(required, keys(&sent["data"]), "every field is always there (null if unknown)");
        let types: Vec<String> =
            serde_json::from_value(schema["properties"]["type"]["enum"].clone()).unwrap();
        assert_eq!(types, Outcome::ALL.map(event_type));
        let checksum = &data["properties"]["checksum"]["oneOf"][1];
        let composite = Checksum::from_s3("ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=-3");
        sent["data"]["checksum"] = serde_json::to_value(composite).unwrap();
        for field in keys(&sent["data"]["checksum"]) {
            assert!(checksum["properties"].get(&field).is_some(), "checksum.{field}");
        }
    }

    #[test]
    fn a_composite_checksum_says_so_and_how_many_parts() {
        let composite = Checksum::from_s3("ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=-3");
        assert_eq!(composite.kind, ChecksumKind::Composite);
        assert_eq!(
            (composite.value.as_str(), composite.parts),
            ("ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=", Some(3))
        );
        let whole = Checksum::from_s3("ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=");
        assert_eq!((whole.kind, whole.parts), (ChecksumKind::FullObject, None));
    }

    #[test]
    fn an_events_id_is_its_grants_type_and_key_and_nothing_else() {
        let verified = line(Outcome::Verified);
        let later = VerdictLine { at: verified.at + 60, by: By::Reconciler, ..verified.clone() };
        assert_eq!(webhook_id(&verified), webhook_id(&later), "the same on every attempt");
        assert_ne!(webhook_id(&verified), webhook_id(&line(Outcome::Removed)));
        let other = VerdictLine { key: format!("{}other.png", verified.id), ..verified.clone() };
        assert_ne!(webhook_id(&verified), webhook_id(&other));
        assert!(webhook_id(&verified).starts_with("evt_"));
        assert_eq!(webhook_id(&verified).len(), 36);
    }
}
