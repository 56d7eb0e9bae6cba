//! The record of a grant the service signed and has no verdict for yet: what checking it needs
//! (its receipt: the key, or a plain form's directory; the uploader; size rule, type, checksum;
//! for parts the bucket's upload id and the part size), whose user it was for, and which look is
//! next. And the verdicts: what the log says of each grant, once. Pure: the store keeps records
//! as JSON ([`crate::state`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::receipt::Receipt;
use crate::state::Entry;

/// How long a claim taken to check an upload lasts: longer than a check's calls to the bucket
/// can take (each is bounded to 10 s; an abort takes six at most); a holder that died mid-check
/// leaves the record to the next look after it.
pub const CHECKING_FOR: std::time::Duration = std::time::Duration::from_secs(120);

/// How long a claim on `receipt`'s check lasts: [`CHECKING_FOR`], and for a staged upload
/// (whose check copies it, and may scan it) a second more per 10 MiB it may hold, so that a
/// long copy or scan is not taken for a check that stopped.
pub fn check_lease(receipt: &Receipt) -> std::time::Duration {
    if !crate::quarantine::is_staged(&receipt.directory) {
        return CHECKING_FOR;
    }
    CHECKING_FOR + std::time::Duration::from_secs(receipt.size.1 / (10 << 20))
}
/// What a claim holds while its check is under way: `checking:<checker>:<token>`, the checker
/// being [`BROWSER`] or a reconciler's lease holder.
pub const CHECKING: &str = "checking";
/// The checker of a browser's confirm, completion or cancel.
pub const BROWSER: &str = "browser";

/// What a claim's holder wrote in it, for a check under way: `checking:<checker>:<token>`.
pub fn checking(checker: &str) -> String {
    format!("{CHECKING}:{checker}:{}", uuid::Uuid::new_v4().simple())
}

/// The checker named in a claim that holds a check under way (`None`: it holds a verdict).
pub fn checker_of(held: &str) -> Option<&str> {
    let rest = held.strip_prefix(CHECKING)?.strip_prefix(':')?;
    Some(rest.rsplit_once(':').map_or(rest, |(checker, _)| checker))
}
/// How long a verdict's claim outlives its receipt: no check after it makes a second verdict,
/// whoever asks.
const VERDICT_OUTLIVES_RECEIPT: time::Duration = time::Duration::days(1);
/// How long after a look that could not be made (the bucket did not answer, a check under way
/// elsewhere) the record is looked at again.
pub const LOOK_AGAIN_AFTER: time::Duration = time::Duration::minutes(1);

/// Which look at a grant comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Look {
    /// A form's, at its policy's expiry and the grace; a multipart upload's, at its receipt's.
    #[serde(rename = "f")]
    First,
    /// A form that had stored nothing at the first: once more when its receipt expires, so
    /// that a transfer longer than the grace still gets its verdict.
    #[serde(rename = "l")]
    Last,
}

/// What kind of grant a record is for: what the reconciler does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A POST form or a presigned PUT for one named key.
    Form,
    /// The no-JavaScript form: the browser names the file; its first object is kept.
    PlainForm,
    /// A multipart upload.
    Multipart,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    #[serde(rename = "r")]
    pub receipt: Receipt,
    /// The user's subject, where the uploader is one of the application's users.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(rename = "l")]
    pub look: Look,
    /// Set when a multipart upload's completion began: the receipt then holds the digest the
    /// parts add up to (a completion retried after a lost answer compares it).
    #[serde(rename = "c", default, skip_serializing_if = "std::ops::Not::not")]
    pub completing: bool,
    /// A plain form's, once its browser gave the verdict: the key it kept (`None`: it kept
    /// none). Every other object in its directory is removed at its due time.
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
    /// The user metadata signed with the object (`x-amz-meta-*`, names without the prefix):
    /// what its events report.
    #[serde(rename = "m", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl Pending {
    /// A new grant's record: its first look is due at `first_due`.
    pub fn new(receipt: Receipt, subject: Option<String>) -> Self {
        Self {
            receipt,
            subject,
            look: Look::First,
            completing: false,
            kept: None,
            metadata: BTreeMap::new(),
        }
    }

    /// With the user metadata signed with the object.
    pub fn with_metadata(mut self, metadata: &[(String, String)]) -> Self {
        self.metadata = metadata.iter().cloned().collect();
        self
    }

    /// When its grant was signed (Unix seconds): its receipt lives a day from then.
    pub fn signed_at(&self) -> i64 {
        self.receipt.expires - super::receipt::RECEIPT_LIFETIME.whole_seconds()
    }

    /// Its id in the store: the grant's directory, fresh for every grant.
    pub fn id(&self) -> &str {
        &self.receipt.directory
    }

    pub fn kind(&self) -> Kind {
        match (&self.receipt.multipart, &self.receipt.name) {
            (Some(_), _) => Kind::Multipart,
            (None, Some(_)) => Kind::Form,
            (None, None) => Kind::PlainForm,
        }
    }

    /// When the first look is due: a form's when its policy (which expires at
    /// `policy_expires`) can start no upload and `grace` has passed for one started just
    /// before; a multipart upload's when its receipt expires (it may be paused and resumed
    /// until then).
    pub fn first_due(&self, policy_expires: OffsetDateTime, grace: time::Duration) -> i64 {
        match self.kind() {
            Kind::Multipart => self.receipt.expires,
            Kind::Form | Kind::PlainForm => {
                (policy_expires + grace).unix_timestamp().min(self.receipt.expires)
            }
        }
    }

    /// Whether a look that finds nothing stored may look once more, later.
    pub fn has_last_look(&self, due: i64) -> bool {
        self.look == Look::First && self.kind() != Kind::Multipart && due < self.receipt.expires
    }

    /// How long a verdict's claim is kept, from `now`: a day past the receipt, and at least a
    /// day (a record reached late, after a fleet stood still, is not checked again either).
    pub fn verdict_kept(&self, now: OffsetDateTime) -> std::time::Duration {
        let until = self.receipt.expires + VERDICT_OUTLIVES_RECEIPT.whole_seconds();
        let least = VERDICT_OUTLIVES_RECEIPT.unsigned_abs();
        std::time::Duration::from_secs(u64::try_from(until - now.unix_timestamp()).unwrap_or(0))
            .max(least)
    }

    /// The record as the store keeps it, due at `due`.
    pub fn entry(&self, due: i64) -> Entry {
        let body = serde_json::to_string(self).expect("a record serializes");
        Entry { id: self.id().to_owned(), due, body }
    }

    /// The record in `entry`; `None` for one that is not a record (written by something else).
    pub fn from_entry(entry: &Entry) -> Option<Self> {
        serde_json::from_str(&entry.body).ok()
    }
}

/// What became of a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Its object is what was signed, and stays.
    Verified,
    /// Its object was not what was signed, and was removed.
    Mismatched,
    /// Nothing was stored with it (or the uploader cancelled it; parts left were aborted).
    Abandoned,
    /// Its object was as signed, staged, and a check of what it holds refused it: it was moved
    /// to the quarantine prefix or removed, as its profile says ([`crate::quarantine`]).
    Quarantined,
}

impl Verdict {
    pub const ALL: [Verdict; 4] =
        [Verdict::Verified, Verdict::Mismatched, Verdict::Abandoned, Verdict::Quarantined];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Mismatched => "mismatched",
            Verdict::Abandoned => "abandoned",
            Verdict::Quarantined => "quarantined",
        }
    }

    /// The verdict a claim holds, if it holds one (not a check under way).
    pub fn parse(held: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == held)
    }
}

/// What a line of the log says became of an object: its grant's verdict, or, for one of a
/// plain form's extra objects, that it was removed (the form keeps its first file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Verified,
    Mismatched,
    Abandoned,
    Removed,
    Quarantined,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Verified,
        Outcome::Mismatched,
        Outcome::Abandoned,
        Outcome::Removed,
        Outcome::Quarantined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::Mismatched => "mismatched",
            Outcome::Abandoned => "abandoned",
            Outcome::Removed => "removed",
            Outcome::Quarantined => "quarantined",
        }
    }
}

impl From<Verdict> for Outcome {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Verified => Outcome::Verified,
            Verdict::Mismatched => Outcome::Mismatched,
            Verdict::Abandoned => Outcome::Abandoned,
            Verdict::Quarantined => Outcome::Quarantined,
        }
    }
}

/// Who gave a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// The uploader's browser came back: `confirm_upload`, a completion, a cancel.
    Browser,
    /// The reconciler, at the grant's due time.
    Reconciler,
}

impl By {
    pub fn as_str(self) -> &'static str {
        match self {
            By::Browser => "browser",
            By::Reconciler => "reconciler",
        }
    }
}

/// One verdict as the log keeps it: all that its event reports (`events::event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictLine {
    /// The grant's directory (its record's id).
    pub id: String,
    /// The object's key (a plain form's: the one kept, if any).
    pub key: String,
    pub uploader: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub verdict: Outcome,
    pub by: By,
    /// Unix seconds.
    pub at: i64,
    /// The bucket the grant was for.
    #[serde(default)]
    pub bucket: String,
    /// When the grant was signed, Unix seconds.
    #[serde(default)]
    pub signed: i64,
    /// The type signed for, where one was.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The SHA-256 the bucket checked, as S3 reports it: base64, or for parts the composite,
    /// `<base64>-<parts>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// What differed, for a mismatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl VerdictLine {
    /// The line for `record`'s grant in `bucket`: `outcome` for `key`, by `by` at `at` (Unix
    /// seconds); what was found and what differed are the caller's to add.
    pub fn new(
        record: &Pending,
        bucket: &str,
        key: &str,
        outcome: Outcome,
        by: By,
        at: i64,
    ) -> Self {
        Self {
            id: record.id().to_owned(),
            key: key.to_owned(),
            uploader: record.receipt.uploader.clone(),
            subject: record.subject.clone(),
            verdict: outcome,
            by,
            at,
            size: None,
            etag: None,
            problem: None,
            bucket: bucket.to_owned(),
            signed: record.signed_at(),
            content_type: record.receipt.content_type.clone(),
            checksum: record.receipt.checksum_sha256.clone(),
            metadata: record.metadata.clone(),
        }
    }

    /// The upload profile it was signed under: the object's metadata says, else its directory
    /// (`default` for records from before profiles).
    pub fn profile(&self) -> &str {
        match self.metadata.get(app::rules::PROFILE_METADATA) {
            Some(profile) => profile,
            None => super::directory_profile(&self.id),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a verdict serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uploads::receipt::Multipart;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-04 12:00 UTC);

    fn receipt(name: Option<&str>, multipart: bool) -> Receipt {
        Receipt {
            uploader: "0123456789abcdef0123456789abcdef".into(),
            directory: "uploads/0123456789abcdef0123456789abcdef/d/".into(),
            name: name.map(Into::into),
            size: (1, 10),
            content_type: None,
            checksum_sha256: None,
            etag: None,
            expires: (NOW + time::Duration::days(1)).unix_timestamp(),
            multipart: multipart.then(|| Multipart { upload_id: "u".into(), part_size: 5 }),
        }
    }

    #[test]
    fn forms_fall_due_after_their_grace_and_parts_when_their_receipt_expires() {
        let grace = time::Duration::seconds(900);
        let expires = NOW + time::Duration::seconds(300);
        let form = Pending::new(receipt(Some("a.txt"), false), None);
        assert_eq!(form.kind(), Kind::Form);
        assert_eq!(
            form.first_due(expires, grace),
            (NOW + time::Duration::seconds(1200)).unix_timestamp()
        );
        assert!(form.has_last_look(form.first_due(expires, grace)));
        let plain = Pending::new(receipt(None, false), None);
        assert_eq!(plain.kind(), Kind::PlainForm);
        let parts = Pending::new(receipt(Some("a.bin"), true), None);
        assert_eq!(parts.kind(), Kind::Multipart);
        assert_eq!(parts.first_due(expires, grace), parts.receipt.expires);
        assert!(!parts.has_last_look(parts.receipt.expires - 1));
        // A grace past the receipt: one look, at its expiry.
        let long = form.first_due(expires, time::Duration::days(2));
        assert_eq!(long, form.receipt.expires);
        assert!(!form.has_last_look(long));
        let last = Pending { look: Look::Last, ..form.clone() };
        assert!(!last.has_last_look(0));
    }

    #[test]
    fn a_record_goes_through_the_store_as_it_was() {
        let record =
            Pending { completing: true, ..Pending::new(receipt(None, true), Some("alice".into())) };
        let entry = record.entry(42);
        assert_eq!((entry.id.as_str(), entry.due), (record.id(), 42));
        assert_eq!(Pending::from_entry(&entry), Some(record));
        assert_eq!(Pending::from_entry(&Entry { body: "{}".into(), ..entry }), None);
    }

    #[test]
    fn a_claim_names_its_verdict_or_a_check_under_way() {
        for verdict in Verdict::ALL {
            assert_eq!(Verdict::parse(verdict.as_str()), Some(verdict));
        }
        assert_eq!(Verdict::parse(CHECKING), None);
        let held = checking("a-1f2e");
        assert_eq!(checker_of(&held), Some("a-1f2e"));
        assert_eq!(Verdict::parse(&held), None);
        assert_eq!(checker_of(&checking(BROWSER)), Some(BROWSER));
        assert_eq!(checker_of("verified"), None);
        let record = Pending::new(receipt(Some("a"), false), None);
        assert_eq!(record.verdict_kept(NOW), std::time::Duration::from_secs(2 * 86_400));
        assert_eq!(
            record.verdict_kept(NOW + time::Duration::days(5)),
            std::time::Duration::from_secs(86_400)
        );
    }
}
