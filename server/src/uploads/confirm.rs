//! `confirm_upload`: after the browser reports that the bucket took a file, the server opens
//! the receipt it sealed when signing, looks at the object itself and compares the two.
//! An object that is not what was signed is a security event (it pages), and is removed from
//! the bucket; a receipt not ours or someone else's, or a report of an object that is not there,
//! is refused and counted apart ([`BadReceipt`]): anyone can send those.

use std::panic::AssertUnwindSafe;
use std::sync::Weak;
use std::time::Duration;

use app::service::Requester;
use app::wire::{StoredUpload, UploadError, UploadReport};
use futures::FutureExt;
use time::OffsetDateTime;

use super::check::BadReceipt;
use super::objects::{ObjectHead, Objects};
use super::pending::{By, Pending, Verdict, BROWSER};
use super::plain_form::Plain;
use super::receipt::{Receipt, Unaccepted};
use super::verdicts::{Claimed, Judged};
use super::Uploads;
use crate::logging::clip;
use crate::policy::rfc3339;
use crate::quarantine;

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
    // Where MD5s were bound, the ETag is the digest the bucket computed.
    if let Some(want) = &signed.etag {
        let have = found.etag.trim_matches('"');
        if !have.eq_ignore_ascii_case(want) {
            object.push(format!("its ETag (MD5) is {have}, signed for {want}"));
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

impl Uploads {
    /// Checks the object `report` names against its receipt: only then is the upload "done".
    pub async fn confirm_upload(
        &self,
        who: &Requester,
        report: UploadReport,
    ) -> Result<StoredUpload, UploadError> {
        let now = self.now();
        let uploader = who.uploader.as_str();
        let key = report.key.as_str();
        let refused =
            |reason, problem: &str| self.bad_receipt(who, key, reason, problem.to_owned());
        if !super::owned_by(key, &who.uploader) {
            return Err(
                refused(BadReceipt::OtherUploader, "that upload belongs to someone else").await
            );
        }
        if !is_etag(&report.etag) {
            return Err(refused(
                BadReceipt::BadEtag,
                "the reported ETag is not one a bucket gives",
            )
            .await);
        }
        let signed = match Receipt::open(&self.seal, &report.receipt, &who.uploader, now) {
            Ok(receipt) => receipt,
            Err(Unaccepted::NotOurs) => {
                return Err(refused(
                    BadReceipt::NotOurs,
                    "the receipt is not one this service issued",
                )
                .await)
            }
            Err(Unaccepted::OtherUploader) => {
                return Err(refused(
                    BadReceipt::OtherUploader,
                    "the receipt was issued to someone else",
                )
                .await)
            }
            Err(Unaccepted::Expired) => {
                tracing::warn!(target: "audit", event = "receipt_expired", uploader, key = ?clip(key));
                return Err(UploadError::Expired(
                    "this upload was signed too long ago to be checked now".into(),
                ));
            }
        };
        if !signed.covers(key) {
            return Err(
                refused(BadReceipt::OtherKey, "the receipt was issued for another key").await
            );
        }
        // Named by a return token: only the upload of that token's form.
        if who.scope.as_ref().is_some_and(|scope| *scope != signed.directory) {
            return Err(
                refused(BadReceipt::ReturnLink, "the return link is for another upload").await
            );
        }
        // A look at the bucket, paid for here (completing a multipart upload pays for its own).
        self.spend_call(who, "confirm_upload").await?;
        self.check_stored(who, &signed, key, &report.etag).await
    }

    /// A security event: an object in the bucket that is not what was signed. Counted, logged
    /// as `upload_mismatch` (at error level: it pages), and what the page is told.
    fn mismatch(&self, who: &Requester, key: &str, problem: String) -> UploadError {
        self.metrics.mismatched();
        tracing::error!(target: "audit", event = "upload_mismatch", uploader = who.uploader.as_str(), ip = ?who.ip, key = ?clip(key), problem = ?clip(&problem));
        UploadError::Mismatch(problem)
    }

    /// Checks the object at `key` against what `signed` allowed (and the ETag the bucket gave
    /// for it), once per receipt; the receipt is already opened and known to cover `key`, and
    /// the call paid for. The verdict is written as the reconciler's would be
    /// ([`Uploads::conclude`]); a check that could not be made (the bucket did not answer, no
    /// object yet) is no verdict, and may be asked again (a client retrying without end spends
    /// its budget each time).
    pub(super) async fn check_stored(
        &self,
        who: &Requester,
        signed: &Receipt,
        key: &str,
        reported_etag: &str,
    ) -> Result<StoredUpload, UploadError> {
        let objects = self.bucket_objects("uploads cannot be checked here")?;
        let staged = quarantine::is_staged(key);
        // One verdict per receipt, fleet-wide, whoever gives it: a client cannot make the
        // service ask the bucket without end, nor race the reconciler to a second verdict.
        let holding = match self.claim_check(signed, BROWSER).await? {
            Claimed::Mine(holding) => holding,
            // A staged upload's checks may outlast the confirm that started them: asking again
            // is how the page learns how they ended.
            Claimed::Held(held) if staged => return held_verdict(objects, key, &held).await,
            Claimed::Held(_) => {
                let uploader = who.uploader.as_str();
                tracing::warn!(target: "audit", event = "confirm_repeated", uploader, key = ?clip(key));
                return Err(UploadError::AlreadyChecked(
                    "this upload was already checked; Your uploads lists it if it was kept".into(),
                ));
            }
        };
        // A scan and a copy take a while for a big file: they go on, on this instance, after
        // the answer (that they are under way) if they outlast the wait. Should the instance
        // stop, the claim expires and a later look (the page's, the reconciler's) makes them.
        let Some(me) = self.me.get().and_then(Weak::upgrade).filter(|_| staged) else {
            return self.check_claimed(who, signed, key, reported_etag, holding).await;
        };
        let (who, signed) = (who.clone(), signed.clone());
        let (key, etag) = (key.to_owned(), reported_etag.to_owned());
        let checks = tokio::spawn(async move {
            let (directory, mine) = (signed.directory.clone(), holding.clone());
            let checked = me.check_claimed(&who, &signed, &key, &etag, holding);
            let answer = AssertUnwindSafe(checked).catch_unwind().await;
            // A check that panicked gave no verdict: another look may make it now rather than
            // when the claim runs out.
            if answer.is_err() {
                me.release_check(&directory, &mine).await;
            }
            answer.unwrap_or_else(|_| Err(checks_later()))
        });
        let wait = Duration::from_millis(self.config.limits.check_wait_ms);
        match tokio::time::timeout(wait, checks).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_stopped)) => Err(checks_later()),
            Err(_) => Err(UploadError::Checking { retry_after_secs: ASK_AGAIN_SECS }),
        }
    }

    /// [`Uploads::check_stored`]'s checks, once its claim (`holding`) is this caller's.
    async fn check_claimed(
        &self,
        who: &Requester,
        signed: &Receipt,
        key: &str,
        reported_etag: &str,
        holding: String,
    ) -> Result<StoredUpload, UploadError> {
        let uploader = who.uploader.as_str();
        let objects = self.bucket_objects("uploads cannot be checked here")?;
        let directory = signed.directory.as_str();
        let found = match objects.head(key).await {
            Ok(Some(found)) => found,
            Ok(None) => {
                // Staged, then promoted or set aside by a look that stopped before its verdict.
                match self.moved_already(objects, signed, key).await {
                    Ok(Some(judged)) => {
                        return self.conclude_moved(who, signed, objects, judged, &holding).await
                    }
                    Ok(None) => {}
                    Err(err) => {
                        self.release_check(directory, &holding).await;
                        tracing::error!(target: "audit", event = "confirm_failed", uploader, key = ?clip(key), error = %err);
                        return Err(checks_later());
                    }
                }
                self.release_check(directory, &holding).await;
                let problem = "the bucket has no object under that key".to_owned();
                return Err(self.bad_receipt(who, key, BadReceipt::NoObject, problem).await);
            }
            Err(err) => {
                self.release_check(directory, &holding).await;
                tracing::error!(target: "audit", event = "confirm_failed", uploader, key = ?clip(key), error = %err);
                return Err(UploadError::Unavailable(
                    "the bucket cannot be checked right now".into(),
                ));
            }
        };
        // With the metadata its record keeps (the receipt carries none), for the event: read
        // after the claim, which the embedded store commits after every record queued before.
        let record = self.record_for(signed.clone(), who).await;
        let plain = signed.name.is_none();
        let (object, report_differs) = differences(signed, key, reported_etag, &found);
        if !object.is_empty() {
            // Not what was signed: nothing half-right stays listed as this uploader's.
            let removed = self.remove_mismatch(objects, uploader, key).await;
            let all = [object, report_differs].concat();
            let problem = format!(
                "the stored file is not the one that was signed ({removed}): {}",
                all.join("; ")
            );
            let judged = Judged {
                verdict: Verdict::Mismatched,
                key: key.to_owned(),
                found: Some(found),
                problem: Some(problem.clone()),
            };
            self.conclude(&record, &judged, By::Browser, plain, &holding).await;
            return Err(self.mismatch(who, key, problem));
        }
        if !report_differs.is_empty() {
            // The object is as signed, the report is not: no verdict from this report.
            self.release_check(directory, &holding).await;
            let problem =
                format!("the report does not match the stored file: {}", report_differs.join("; "));
            return Err(self.bad_receipt(who, key, BadReceipt::EtagDiffers, problem).await);
        }
        if plain {
            let subject = record.subject.as_deref();
            match self.keep_one_plain_upload(objects, signed, key, subject).await {
                Ok(Plain::Kept) => {}
                Ok(Plain::NotFirst(refused)) => {
                    // Another object is the form's: its verdict is still to be given.
                    self.release_check(directory, &holding).await;
                    return Err(refused);
                }
                Ok(Plain::UnusableName(refused)) => {
                    let judged = Judged {
                        verdict: Verdict::Mismatched,
                        key: key.to_owned(),
                        found: Some(found),
                        problem: Some("a name the rules do not accept as it is".into()),
                    };
                    self.conclude(&record, &judged, By::Browser, true, &holding).await;
                    return Err(refused);
                }
                Err(unavailable) => {
                    self.release_check(directory, &holding).await;
                    return Err(unavailable);
                }
            }
        }
        // As signed, and the form's: is it what it says it is?
        match self.content_refusal(objects, directory, key, &found).await {
            Ok(None) => {}
            Ok(Some(refused)) => {
                let Ok(aside) = self.set_aside(objects, uploader, directory, key, &found).await
                else {
                    self.release_check(directory, &holding).await;
                    return Err(checks_later());
                };
                let problem = format!("{refused}; it was {}", aside.done);
                let judged = Judged {
                    verdict: aside.verdict,
                    key: aside.key,
                    found: Some(found),
                    problem: Some(problem.clone()),
                };
                self.conclude(&record, &judged, By::Browser, plain, &holding).await;
                // Counted and logged as what it is, not as a signature's failure (which pages).
                return Err(UploadError::Mismatch(problem));
            }
            Err(err) => {
                self.release_check(directory, &holding).await;
                tracing::error!(target: "audit", event = "confirm_failed", uploader, key = ?clip(key), error = %err);
                // A later look (this call again, or the reconciler's) makes the check.
                return Err(checks_later());
            }
        }
        // Every check passed: a staged upload goes to its final key before its verdict.
        let (key, found) = match self.promote(objects, uploader, key, found).await {
            Ok(promoted) => promoted,
            Err(_) => {
                self.release_check(directory, &holding).await;
                return Err(checks_later());
            }
        };
        Ok(self.verified(who, &record, objects, &key, found, &holding).await)
    }

    /// The verdict `verified` on `record`'s upload, now at `key` as `found`: written, counted,
    /// logged, and what the page shows.
    async fn verified(
        &self,
        who: &Requester,
        record: &Pending,
        objects: &Objects,
        key: &str,
        found: ObjectHead,
        holding: &str,
    ) -> StoredUpload {
        let upload = stored_upload(objects, key, &found, self.now()).await;
        let judged = Judged {
            verdict: Verdict::Verified,
            key: key.to_owned(),
            found: Some(found),
            problem: None,
        };
        let plain = record.receipt.name.is_none();
        self.conclude(record, &judged, By::Browser, plain, holding).await;
        self.metrics.confirmed();
        tracing::info!(target: "audit", event = "upload_confirmed", uploader = who.uploader.as_str(), key = ?clip(key), size = upload.size, etag = ?upload.etag);
        upload
    }

    /// The verdict an earlier look did the work of but did not write
    /// ([`Uploads::moved_already`]), written now.
    async fn conclude_moved(
        &self,
        who: &Requester,
        signed: &Receipt,
        objects: &Objects,
        judged: Judged,
        holding: &str,
    ) -> Result<StoredUpload, UploadError> {
        let record = self.record_for(signed.clone(), who).await;
        match (judged.verdict, judged.found.clone()) {
            (Verdict::Verified, Some(found)) => {
                Ok(self.verified(who, &record, objects, &judged.key, found, holding).await)
            }
            _ => {
                let problem = judged.problem.clone().unwrap_or_default();
                let plain = signed.name.is_none();
                self.conclude(&record, &judged, By::Browser, plain, holding).await;
                Err(UploadError::Mismatch(problem))
            }
        }
    }
}

/// The upload at `key` as `found`, as the page shows it (`now` stands in for a store that
/// gives no time).
async fn stored_upload(
    objects: &Objects,
    key: &str,
    found: &ObjectHead,
    now: OffsetDateTime,
) -> StoredUpload {
    StoredUpload {
        key: key.to_owned(),
        name: key.rsplit('/').next().unwrap_or_default().to_owned(),
        size: found.size,
        content_type: Some(found.content_type.clone()),
        etag: found.etag.clone(),
        view_url: objects.view_url(key).await.unwrap_or_default(),
        stored_at: rfc3339(found.last_modified.unwrap_or(now)),
        checksum_sha256: found.checksum_sha256.clone(),
    }
}

/// How many seconds the page waits before asking again about checks under way.
const ASK_AGAIN_SECS: u64 = 2;

/// What a confirm of the staged upload at `key` is told when the claim on its check holds
/// `held`: that the checks are under way, or how they ended (its reasons went with the
/// verdict's event; the file passed: where it is now).
async fn held_verdict(
    objects: &Objects,
    key: &str,
    held: &str,
) -> Result<StoredUpload, UploadError> {
    let refused = |what: &str| Err(UploadError::Mismatch(format!("the file {what}")));
    match Verdict::parse(held) {
        None => Err(UploadError::Checking { retry_after_secs: ASK_AGAIN_SECS }),
        Some(Verdict::Verified) => {
            let promoted = quarantine::promoted(key).unwrap_or_else(|| key.to_owned());
            match objects.head(&promoted).await {
                Ok(Some(found)) => {
                    let now = found.last_modified.unwrap_or_else(OffsetDateTime::now_utc);
                    Ok(stored_upload(objects, &promoted, &found, now).await)
                }
                // Removed since, or another file of a plain form (which keeps its first).
                Ok(None) => Err(UploadError::AlreadyChecked(
                    "this upload was already checked; Your uploads lists it if it was kept".into(),
                )),
                Err(_) => {
                    Err(UploadError::Unavailable("the bucket cannot be checked right now".into()))
                }
            }
        }
        // Kept for the operator or removed, as the profile says: either way, not served.
        Some(Verdict::Quarantined) => refused("did not pass its checks, and was set aside"),
        Some(Verdict::Mismatched) => refused("did not pass its checks, and was removed"),
        Some(Verdict::Abandoned) => refused("was cancelled"),
    }
}

/// What the page is told when a check could not be made now (the bucket or clamd did not
/// answer, a copy failed): a later look (this call again, or the reconciler's) makes it.
fn checks_later() -> UploadError {
    UploadError::Unavailable(
        "the file is stored, but its checks could not be made yet; they will be made again \
         shortly"
            .into(),
    )
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
            etag: None,
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

    #[test]
    fn where_md5s_were_bound_the_etag_is_checked_as_the_object() {
        let md5 = Receipt { etag: Some("abc".into()), ..signed() };
        let none = (Vec::<String>::new(), Vec::<String>::new());
        assert_eq!(differences(&md5, "uploads/u/d/cat.png", "\"abc\"", &head()), none);
        let other = ObjectHead { etag: "\"abd\"".into(), ..head() };
        let (object, _) = differences(&md5, "uploads/u/d/cat.png", "\"abd\"", &other);
        assert_eq!(object, ["its ETag (MD5) is abd, signed for abc"]);
    }
}
