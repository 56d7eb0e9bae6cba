//! Confirming an upload: after the browser reports that the bucket took a file, the server
//! looks at the object itself and compares it with what it signed. Anything else (a missing
//! object, other bytes, another type) is logged as a security event.

use app::service::Requester;
use app::wire::{StoredUpload, UploadError, UploadReport};
use time::OffsetDateTime;

use super::ledger::{Ledger, Signed};
use super::objects::{ObjectHead, Objects};
use crate::metrics::Metrics;
use crate::policy::{rfc3339, SizeRule};

/// How `found` differs from what `signed` allowed for `key`, if it does.
pub fn differences(signed: &Signed, key: &str, reported_etag: &str, found: &ObjectHead) -> Vec<String> {
    let mut differs = Vec::new();
    let name = key.rsplit('/').next().unwrap_or_default();
    if signed.name.as_deref().is_some_and(|n| n != name) {
        differs.push(format!("the key ends in {name:?}, not {:?}", signed.name.as_deref().unwrap_or_default()));
    }
    let size_ok = match signed.size {
        SizeRule::Exact(n) => found.size == n,
        SizeRule::Range { min, max } => (min..=max).contains(&found.size),
    };
    if !size_ok {
        differs.push(format!("its size is {} bytes, signed for {:?}", found.size, signed.size));
    }
    if let Some(want) = &signed.content_type {
        if !found.content_type.eq_ignore_ascii_case(want) {
            differs.push(format!("its type is {:?}, signed for {want:?}", found.content_type));
        }
    }
    if found.etag.trim_matches('"') != reported_etag.trim_matches('"') {
        differs.push(format!("its ETag is {}, the browser reported {reported_etag}", found.etag));
    }
    // Buckets that keep checksums return them; one that differs means other bytes.
    if let (Some(want), Some(have)) = (&signed.checksum_sha256, &found.checksum_sha256) {
        if want != have {
            differs.push(format!("its SHA-256 is {have}, signed for {want}"));
        }
    }
    differs
}

/// What confirming needs from the upload service: the bucket, what was signed, the counters.
pub struct Confirmer<'a> {
    /// `None`: uploads cannot be checked here, and confirming says the service is unavailable.
    pub objects: Option<&'a Objects>,
    pub ledger: &'a Ledger,
    pub metrics: &'a Metrics,
}

impl Confirmer<'_> {
    /// Checks the object `report` names, as of `now`; on success it is listed as `who`'s.
    pub async fn confirm(self, who: &Requester, report: UploadReport, now: OffsetDateTime) -> Result<StoredUpload, UploadError> {
        let uploader = who.uploader.as_str();
        let key = report.key.as_str();
        let security_event = |problem: String| {
            self.metrics.mismatched();
            tracing::error!(target: "audit", event = "upload_mismatch", uploader, ip = ?who.ip, key, problem = %problem);
            UploadError::Mismatch(problem)
        };
        if !key.starts_with(&format!("uploads/{uploader}/")) {
            return Err(security_event("that upload belongs to someone else".into()));
        }
        if let Some(done) = self.ledger.find_confirmed(&who.uploader, key) {
            return Ok(done);
        }
        let signed = self
            .ledger
            .pending(key, now)
            .filter(|s| s.uploader == who.uploader)
            .ok_or_else(|| security_event("nothing was signed for that key (or it was long ago)".into()))?;
        let objects = self.objects.ok_or_else(|| UploadError::Unavailable("uploads cannot be checked here".into()))?;
        let found = objects.head(key).await.map_err(|err| {
            tracing::error!(target: "audit", event = "confirm_failed", uploader, key, error = %err);
            UploadError::Unavailable("the bucket cannot be checked right now".into())
        })?;
        // One verdict per signature (a bucket that cannot be asked is not a verdict).
        let Some(found) = found else {
            self.ledger.forget(key);
            return Err(security_event("the bucket has no object under that key".into()));
        };
        let differs = differences(&signed, key, &report.etag, &found);
        if !differs.is_empty() {
            self.ledger.forget(key);
            return Err(security_event(format!("the stored file is not the one that was signed: {}", differs.join("; "))));
        }
        let view_url = objects.view_url(key).await.unwrap_or_default();
        let upload = StoredUpload {
            key: key.to_owned(),
            name: key.rsplit('/').next().unwrap_or_default().to_owned(),
            size: found.size,
            content_type: found.content_type,
            etag: found.etag,
            view_url,
            confirmed_at: rfc3339(now),
        };
        self.metrics.confirmed();
        tracing::info!(target: "audit", event = "upload_confirmed", uploader, key, size = upload.size, etag = %upload.etag);
        self.ledger.confirmed(&who.uploader, upload.clone());
        Ok(upload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::service::UploaderId;
    use time::macros::datetime;

    fn signed() -> Signed {
        Signed {
            uploader: UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            name: Some("cat.png".into()),
            size: SizeRule::Exact(10),
            content_type: Some("image/png".into()),
            checksum_sha256: Some("A".repeat(44)),
            signed_at: datetime!(2026-11-28 12:00 UTC),
        }
    }

    fn head() -> ObjectHead {
        ObjectHead { size: 10, content_type: "image/png".into(), etag: "\"abc\"".into(), checksum_sha256: Some("A".repeat(44)) }
    }

    #[test]
    fn the_object_as_signed_has_no_differences() {
        assert!(differences(&signed(), "uploads/u/d/cat.png", "\"abc\"", &head()).is_empty());
        // Quotes or not, an ETag is the same; a bucket that keeps no checksum is not a mismatch.
        let no_sum = ObjectHead { checksum_sha256: None, ..head() };
        assert!(differences(&signed(), "uploads/u/d/cat.png", "abc", &no_sum).is_empty());
    }

    #[test]
    fn every_difference_is_named() {
        let cases = [
            ("uploads/u/d/dog.png", "\"abc\"", head(), "dog.png"),
            ("uploads/u/d/cat.png", "\"abc\"", ObjectHead { size: 11, ..head() }, "size is 11"),
            ("uploads/u/d/cat.png", "\"abc\"", ObjectHead { content_type: "text/html".into(), ..head() }, "text/html"),
            ("uploads/u/d/cat.png", "\"abd\"", head(), "ETag"),
            ("uploads/u/d/cat.png", "\"abc\"", ObjectHead { checksum_sha256: Some("B".repeat(44)), ..head() }, "SHA-256"),
        ];
        for (key, etag, found, expect) in cases {
            let differs = differences(&signed(), key, etag, &found);
            assert_eq!(differs.len(), 1, "{differs:?}");
            assert!(differs[0].contains(expect), "{differs:?}");
        }
    }
}
