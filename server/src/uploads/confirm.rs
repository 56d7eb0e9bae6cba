//! Confirming an upload: after the browser reports that the bucket took a file, the server
//! opens the receipt it sealed when signing, looks at the object itself and compares the two.
//! Anything else (a receipt not ours, a missing object, other bytes, another type) is logged as
//! a security event; an object that is not what was signed is removed from the bucket.

use std::time::Duration;

use app::service::Requester;
use app::wire::{StoredUpload, UploadError, UploadReport};
use time::OffsetDateTime;

use super::guard::Guard;
use super::objects::{ObjectHead, Objects};
use super::receipt::{Receipt, Unaccepted};
use crate::logging::clip;
use crate::metrics::Metrics;
use crate::policy::rfc3339;
use crate::seal::SessionKey;

/// How `found` differs from what `signed` allowed for `key`, if it does. The first list is about
/// the object itself (it is not what was signed), the second about the browser's report.
pub fn differences(
    signed: &Receipt,
    key: &str,
    reported_etag: &str,
    found: &ObjectHead,
) -> (Vec<String>, Vec<String>) {
    let mut object = Vec::new();
    let name = key.rsplit('/').next().unwrap_or_default();
    if signed.name.as_deref().is_some_and(|n| n != name) {
        object.push(format!(
            "the key ends in {name:?}, not {:?}",
            signed.name.as_deref().unwrap_or_default()
        ));
    }
    let (min, max) = signed.size;
    if !(min..=max).contains(&found.size) {
        object.push(format!(
            "its size is {} bytes, signed for {:?}",
            found.size,
            signed.size_rule()
        ));
    }
    if let Some(want) = &signed.content_type {
        if !found.content_type.eq_ignore_ascii_case(want) {
            object.push(format!("its type is {:?}, signed for {want:?}", found.content_type));
        }
    }
    // Buckets that keep checksums return them; one that differs means other bytes.
    if let (Some(want), Some(have)) = (&signed.checksum_sha256, &found.checksum_sha256) {
        if want != have {
            object.push(format!("its SHA-256 is {have}, signed for {want}"));
        }
    }
    let mut report = Vec::new();
    if found.etag.trim_matches('"') != reported_etag.trim_matches('"') {
        report.push(format!("its ETag is {}, the browser reported {reported_etag:?}", found.etag));
    }
    (object, report)
}

/// Whether `etag` is one a bucket gives: an MD5 in hex (with `-<parts>` for a multipart
/// upload), quoted or not. Anything else is refused before it is compared or logged.
pub fn is_etag(etag: &str) -> bool {
    let bare = etag.strip_prefix('"').and_then(|e| e.strip_suffix('"')).unwrap_or(etag);
    let (hex, parts) = bare.split_once('-').map_or((bare, None), |(h, p)| (h, Some(p)));
    hex.len() == 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && parts.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The rules a no-JavaScript upload meets after the fact (its form let the browser choose the
/// name, and a form can be POSTed again until it expires): a name [`app::rules::file_name`]
/// accepts as it is, and one file per form (the first). Anything else is removed.
async fn keep_one_plain_upload(
    objects: &Objects,
    signed: &Receipt,
    key: &str,
) -> Result<(), UploadError> {
    let name = key.rsplit('/').next().unwrap_or_default();
    let removed = |reason: &'static str, message: String| async move {
        if let Err(err) = objects.delete(key).await {
            tracing::error!(target: "audit", event = "mismatch_not_removed", uploader = signed.uploader.as_str(), key = ?clip(key), error = %err);
        }
        tracing::warn!(target: "audit", event = "plain_upload_removed", key = ?clip(key), reason);
        UploadError::Refused(message)
    };
    if app::rules::file_name(name).ok().as_deref() != Some(name) {
        return Err(removed(
            "unusable name",
            format!("{:?} is not a usable file name here; the upload was removed", clip(name)),
        )
        .await);
    }
    match objects.keep_first(&signed.directory).await {
        Ok(Some(kept)) if kept == key => Ok(()),
        Ok(_) => Err(removed(
            "the form was used again",
            "this form was already used for another file; the upload was removed".into(),
        )
        .await),
        Err(err) => {
            tracing::error!(target: "audit", event = "confirm_failed", uploader = signed.uploader.as_str(), key = ?clip(key), error = %err);
            Err(UploadError::Unavailable("the bucket cannot be checked right now".into()))
        }
    }
}

/// What confirming needs from the upload service: the bucket, the key receipts are sealed
/// with, the verdict claims, the counters.
pub struct Confirmer<'a> {
    /// `None`: uploads cannot be checked here, and confirming says the service is unavailable.
    pub objects: Option<&'a Objects>,
    pub seal: &'a SessionKey,
    pub guard: &'a Guard,
    pub metrics: &'a Metrics,
}

impl Confirmer<'_> {
    /// Checks the object `report` names against its receipt, as of `now`.
    pub async fn confirm(
        self,
        who: &Requester,
        report: UploadReport,
        now: OffsetDateTime,
    ) -> Result<StoredUpload, UploadError> {
        let uploader = who.uploader.as_str();
        let key = report.key.as_str();
        let security_event = |problem: String| {
            self.metrics.mismatched();
            tracing::error!(target: "audit", event = "upload_mismatch", uploader, ip = ?who.ip, key = ?clip(key), problem = ?clip(&problem));
            UploadError::Mismatch(problem)
        };
        if !key.starts_with(&format!("uploads/{uploader}/")) {
            return Err(security_event("that upload belongs to someone else".into()));
        }
        if !is_etag(&report.etag) {
            return Err(security_event("the reported ETag is not one a bucket gives".into()));
        }
        let signed = match Receipt::open(self.seal, &report.receipt, &who.uploader, now) {
            Ok(receipt) => receipt,
            Err(Unaccepted::NotOurs) => {
                return Err(security_event("the receipt is not one this service issued".into()))
            }
            Err(Unaccepted::OtherUploader) => {
                return Err(security_event("the receipt was issued to someone else".into()))
            }
            Err(Unaccepted::Expired) => {
                tracing::warn!(target: "audit", event = "receipt_expired", uploader, key = ?clip(key));
                return Err(UploadError::Refused(
                    "this upload was signed too long ago to be checked now".into(),
                ));
            }
        };
        if !signed.covers(key) {
            return Err(security_event("the receipt was issued for another key".into()));
        }
        // Named by a return token: only the upload of that token's form.
        if who.scope.as_ref().is_some_and(|scope| *scope != signed.directory) {
            return Err(security_event("the return link is for another upload".into()));
        }
        self.check_stored(who, &signed, key, &report.etag, now).await
    }

    /// Checks the object at `key` against what `signed` allowed (and the ETag the bucket gave
    /// for it); the receipt is already opened and known to cover `key`.
    pub async fn check_stored(
        self,
        who: &Requester,
        signed: &Receipt,
        key: &str,
        reported_etag: &str,
        now: OffsetDateTime,
    ) -> Result<StoredUpload, UploadError> {
        let uploader = who.uploader.as_str();
        let security_event = |problem: String| {
            self.metrics.mismatched();
            tracing::error!(target: "audit", event = "upload_mismatch", uploader, ip = ?who.ip, key = ?clip(key), problem = ?clip(&problem));
            UploadError::Mismatch(problem)
        };
        let objects = self
            .objects
            .ok_or_else(|| UploadError::Unavailable("uploads cannot be checked here".into()))?;
        // One verdict per receipt, fleet-wide: a client cannot make the service ask the bucket
        // without end. Held until the receipt would expire anyway.
        let ttl = Duration::from_secs(
            u64::try_from(signed.expires - now.unix_timestamp()).unwrap_or(0).max(1),
        );
        if !self.guard.claim_verdict(&signed.directory, ttl).await {
            tracing::warn!(target: "audit", event = "confirm_repeated", uploader, key = ?clip(key));
            return Err(UploadError::Refused(
                "this upload was already checked; Your uploads lists it if it was kept".into(),
            ));
        }
        // Each look at the bucket is counted: a bucket that keeps failing releases the verdict,
        // and a client retrying without end would otherwise make the service ask without end.
        if let Err(wait) = self.guard.confirm(uploader).await {
            self.guard.release_verdict(&signed.directory).await;
            return Err(UploadError::TooManyRequests {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            });
        }
        let found = match objects.head(key).await {
            Ok(found) => found,
            Err(err) => {
                // A bucket that cannot be asked is not a verdict: the check may be made again.
                self.guard.release_verdict(&signed.directory).await;
                tracing::error!(target: "audit", event = "confirm_failed", uploader, key = ?clip(key), error = %err);
                return Err(UploadError::Unavailable(
                    "the bucket cannot be checked right now".into(),
                ));
            }
        };
        let Some(found) = found else {
            return Err(security_event("the bucket has no object under that key".into()));
        };
        let (object, report_differs) = differences(signed, key, reported_etag, &found);
        if !object.is_empty() {
            // Not what was signed: nothing half-right stays listed as this uploader's.
            let removed = match objects.delete(key).await {
                Ok(()) => "removed",
                Err(err) => {
                    tracing::error!(target: "audit", event = "mismatch_not_removed", uploader, key = ?clip(key), error = %err);
                    "could not be removed"
                }
            };
            let all = [object, report_differs].concat();
            return Err(security_event(format!(
                "the stored file is not the one that was signed ({removed}): {}",
                all.join("; ")
            )));
        }
        if !report_differs.is_empty() {
            return Err(security_event(format!(
                "the report does not match the stored file: {}",
                report_differs.join("; ")
            )));
        }
        if signed.name.is_none() {
            keep_one_plain_upload(objects, signed, key).await?;
        }
        let view_url = objects.view_url(key).await.unwrap_or_default();
        let upload = StoredUpload {
            key: key.to_owned(),
            name: key.rsplit('/').next().unwrap_or_default().to_owned(),
            size: found.size,
            content_type: Some(found.content_type),
            etag: found.etag,
            view_url,
            stored_at: rfc3339(found.last_modified.unwrap_or(now)),
        };
        self.metrics.confirmed();
        tracing::info!(target: "audit", event = "upload_confirmed", uploader, key = ?clip(key), size = upload.size, etag = ?upload.etag);
        Ok(upload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn signed() -> Receipt {
        Receipt {
            uploader: "0123456789abcdef0123456789abcdef".into(),
            directory: "uploads/u/d/".into(),
            name: Some("cat.png".into()),
            size: (10, 10),
            content_type: Some("image/png".into()),
            checksum_sha256: Some("A".repeat(44)),
            expires: datetime!(2026-11-29 12:00 UTC).unix_timestamp(),
            multipart: None,
        }
    }

    fn head() -> ObjectHead {
        ObjectHead {
            size: 10,
            content_type: "image/png".into(),
            etag: "\"abc\"".into(),
            checksum_sha256: Some("A".repeat(44)),
            last_modified: None,
        }
    }

    #[test]
    fn etags_are_short_hex() {
        for good in [
            "\"0123456789abcdef0123456789ABCDEF\"",
            "0123456789abcdef0123456789abcdef",
            "\"0123456789abcdef0123456789abcdef-12\"",
        ] {
            assert!(is_etag(good), "{good}");
        }
        for bad in [
            "",
            "\"\"",
            "\"abc\"",
            "\"0123456789abcdef0123456789abcdeg\"",
            "\"0123456789abcdef0123456789abcdef\"\r\nx",
            "0123456789abcdef0123456789abcdef-",
            "0123456789abcdef0123456789abcdef-123456",
        ] {
            assert!(!is_etag(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_object_as_signed_has_no_differences() {
        let none = (Vec::<String>::new(), Vec::<String>::new());
        assert_eq!(differences(&signed(), "uploads/u/d/cat.png", "\"abc\"", &head()), none);
        // Quotes or not, an ETag is the same; a bucket that keeps no checksum is not a mismatch.
        let no_sum = ObjectHead { checksum_sha256: None, ..head() };
        assert_eq!(differences(&signed(), "uploads/u/d/cat.png", "abc", &no_sum), none);
    }

    #[test]
    fn every_difference_is_named() {
        let cases = [
            ("uploads/u/d/dog.png", "\"abc\"", head(), "dog.png"),
            ("uploads/u/d/cat.png", "\"abc\"", ObjectHead { size: 11, ..head() }, "size is 11"),
            (
                "uploads/u/d/cat.png",
                "\"abc\"",
                ObjectHead { content_type: "text/html".into(), ..head() },
                "text/html",
            ),
            ("uploads/u/d/cat.png", "\"abd\"", head(), "ETag"),
            (
                "uploads/u/d/cat.png",
                "\"abc\"",
                ObjectHead { checksum_sha256: Some("B".repeat(44)), ..head() },
                "SHA-256",
            ),
        ];
        for (key, etag, found, expect) in cases {
            let (object, report) = differences(&signed(), key, etag, &found);
            let differs = [object.clone(), report.clone()].concat();
            assert_eq!(differs.len(), 1, "{differs:?}");
            assert!(differs[0].contains(expect), "{differs:?}");
            // Only a wrong ETag is the report's fault; the rest is the object's.
            assert_eq!(report.len(), usize::from(expect == "ETag"), "{differs:?}");
        }
    }
}
