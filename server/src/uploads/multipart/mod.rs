//! Multipart uploads, for files too big for one POST: the service starts the upload in the
//! bucket under the uploader's prefix, signs a URL for each part (bound to its length and
//! SHA-256), and completes it from the parts the bucket lists, then checks the object as
//! confirming does. What the browser carries between calls is the sealed receipt; nothing is
//! kept per upload here.

mod bucket;

use app::api::MAX_PARTS_PER_CALL;
use app::rules;
use app::service::{Requester, UploadRequest};
use app::wire::{
    ChecksumMode, MultipartUpload, PartToSign, SignedPart, StoredPart, StoredUpload, UploadError,
};
use base64::Engine;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub use bucket::BucketError;

use super::check::{BadReceipt, Checked, Reason, Refusal, Via};
use super::pending::{By, Pending, Verdict, BROWSER};
use super::receipt::{Multipart, Receipt, Unaccepted};
use super::verdicts::{Claimed, Judged};
use super::{signing_unavailable, Uploads};
use crate::logging::clip;
use crate::policy::{rfc3339, Presign};

/// How many times each part may be signed, on average, over its upload's life.
const PART_SIGNATURES_PER_PART: u64 = 3;
/// How many times an abort is made while the bucket still lists parts.
const ABORTS: u32 = 3;

/// What the page is told where no bucket can be asked (an `Uploads` without objects).
const NOT_HERE: &str = "multipart uploads are not possible here";

/// The composite SHA-256 S3 reports for a multipart object: the hash of the parts' digests,
/// then `-<parts>`.
pub fn composite_sha256(parts: &[StoredPart]) -> Option<String> {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(
            base64::engine::general_purpose::STANDARD
                .decode(part.checksum_sha256.as_deref()?)
                .ok()?,
        );
    }
    Some(format!(
        "{}-{}",
        base64::engine::general_purpose::STANDARD.encode(hasher.finalize()),
        parts.len()
    ))
}

/// The ETag S3 gives a multipart object: the MD5 of the parts' MD5s (their ETags), then
/// `-<parts>`; `None` when a part's ETag is not an MD5.
pub fn composite_etag(parts: &[StoredPart]) -> Option<String> {
    let mut hasher = md5::Md5::new();
    for part in parts {
        let digest = hex::decode(part.etag.trim_matches('"')).ok().filter(|d| d.len() == 16)?;
        hasher.update(digest);
    }
    Some(format!("{}-{}", hex::encode(hasher.finalize()), parts.len()))
}

/// Which of parts `1..=count` are missing from `parts` or have another length than the
/// receipt says (their numbers).
fn unfit_parts(parts: &[StoredPart], size: u64, part_size: u64) -> Vec<u64> {
    let count = rules::part_count(size, part_size);
    (1..=count)
        .filter(|&n| {
            let want = rules::part_length(size, part_size, n);
            !parts.iter().any(|p| p.number == n && Some(p.size) == want)
        })
        .collect()
}

/// What the service asked the bucket, for the log of a failure.
#[derive(Debug, Clone, Copy)]
pub(super) enum Action {
    Create,
    ListParts,
    Complete,
    Abort,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::ListParts => "list_parts",
            Action::Complete => "complete",
            Action::Abort => "abort",
        }
    }
}

/// Why an abort did not leave the upload gone.
pub(super) enum Aborted {
    /// The bucket failed at an action.
    Failed(Action, BucketError),
    /// Parts were still listed after every abort (or no bucket to ask).
    PartsLeft,
}

/// A multipart upload's receipt, opened: what it allows, the bucket's upload, and its key.
struct Opened {
    receipt: Receipt,
    multipart: Multipart,
    key: String,
}

impl Uploads {
    /// Checks `request` as signing does, then starts the upload in the bucket under a fresh
    /// directory of the uploader's prefix; counted and logged as signing is.
    pub async fn start_multipart(
        &self,
        who: &Requester,
        request: UploadRequest,
    ) -> Result<MultipartUpload, UploadError> {
        self.counted(who, &request, self.try_start(who, &request)).await
    }

    async fn try_start(
        &self,
        who: &Requester,
        request: &UploadRequest,
    ) -> Result<MultipartUpload, Refusal> {
        let unavailable = |error| Refusal::new(Reason::Unavailable, error);
        // As for a form: a visitor the service does not know gets no upload it could not sign
        // parts for (no STS credentials of its own).
        if self.credentials_per_uploader() && !who.is_known() {
            return Err(Refusal::new(
                Reason::UnknownVisitor,
                UploadError::Refused(
                    "this service signs only for visitors it knows: open the upload page first"
                        .into(),
                ),
            ));
        }
        let Checked { profile, name, size, content_type, metadata, .. } =
            self.check(who, request, Via::Parts).await?;
        let objects = self.bucket_objects(NOT_HERE).map_err(unavailable)?;
        let mode = self.config.limits.checksum;
        let now = self.now();
        let directory = self.fresh_directory(&who.uploader, &profile.name, now);
        let key = format!("{directory}{name}");
        let upload_id = objects
            .create_multipart(&key, &content_type, &metadata, mode == ChecksumMode::Sha256)
            .await
            .map_err(|err| unavailable(self.bucket_failed(who, Action::Create, err)))?;
        let part_size = rules::part_size(size);
        let parts = rules::part_count(size, part_size);
        tracing::info!(target: "audit", event = "multipart_started", uploader = who.uploader.as_str(), subject = super::check::subject_of(&metadata), key = %key, size, content_type, parts, part_size);
        let multipart = Multipart { upload_id: upload_id.clone(), part_size };
        let receipt = Receipt::for_multipart(
            &who.uploader,
            directory,
            name,
            size,
            content_type,
            multipart,
            now,
        );
        self.record_grant(&receipt, who, now, &metadata).map_err(unavailable)?;
        Ok(MultipartUpload { key, upload_id, part_size, parts, receipt: receipt.seal(&self.seal) })
    }

    /// Presigned `UploadPart` URLs for `parts`, each bound to the part's number, length and
    /// SHA-256, living as long as a policy.
    pub async fn sign_parts(
        &self,
        who: &Requester,
        sealed: String,
        parts: Vec<PartToSign>,
    ) -> Result<Vec<SignedPart>, UploadError> {
        let now = self.now();
        let Opened { receipt, multipart, key } = self.open_multipart(who, &sealed, now).await?;
        let size = receipt.size.1;
        let mode = self.config.limits.checksum;
        if parts.is_empty() || parts.len() > MAX_PARTS_PER_CALL {
            return Err(UploadError::Refused(format!(
                "ask for 1 to {MAX_PARTS_PER_CALL} parts at a time"
            )));
        }
        for part in &parts {
            match rules::part_length(size, multipart.part_size, part.number) {
                None => {
                    return Err(UploadError::Refused(format!(
                        "this file has no part {}",
                        part.number
                    )))
                }
                Some(length) if length != part.length => {
                    return Err(UploadError::Refused(format!(
                        "part {} is {length} bytes long, not {}",
                        part.number, part.length
                    )))
                }
                Some(_) => {}
            }
            match (mode, &part.checksum) {
                (ChecksumMode::Off, None) => {}
                (ChecksumMode::Off, Some(_)) => {
                    return Err(UploadError::Refused(
                        "checksums are off here (UPLOAD_CHECKSUM=off): send none".into(),
                    ))
                }
                (_, None) => {
                    return Err(UploadError::Refused(format!(
                        "part {} needs its checksum ({})",
                        part.number,
                        mode.as_str()
                    )))
                }
                (_, Some(sum)) => {
                    rules::checksum(mode, sum).map_err(UploadError::Refused)?;
                }
            }
        }
        // Fetching credentials costs what a signature costs.
        if !self.source.holds(&who.uploader, now) {
            self.guard
                .spend_signature(who.uploader.as_str(), who.ip)
                .await
                .map_err(super::guard::retry_after)?;
        }
        let signer = self.signer(who, now).await?;
        // The budget is the receipt's: every part signed a few times over (a URL expires, a part
        // is damaged on the way and hashed again), and no more, however the calls come.
        let count = rules::part_count(size, multipart.part_size);
        let most = count.saturating_mul(PART_SIGNATURES_PER_PART) + MAX_PARTS_PER_CALL as u64;
        let ttl = std::time::Duration::from_secs(
            u64::try_from(receipt.expires - now.unix_timestamp()).unwrap_or(0).max(1),
        );
        let asked = parts.len() as u64;
        // Named by its directory (fresh for every upload) and the bucket's id for it.
        let tally = format!("parts:{}{}", receipt.directory, multipart.upload_id);
        if !self.guard.tally(&tally, asked, most, ttl).await {
            self.metrics.call_limited("sign_parts");
            tracing::warn!(target: "audit", event = "call_limited", uploader = who.uploader.as_str(), ip = ?who.ip, call = "sign_parts");
            return Err(UploadError::Refused(format!(
                "this upload's {most} part signatures are spent; start it again"
            )));
        }
        let (endpoint, path) = self.config.bucket.object_location(&key);
        let lifetime = u32::try_from(self.config.policy_lifetime.as_secs()).unwrap_or(u32::MAX);
        let mut signed = Vec::with_capacity(parts.len());
        for part in &parts {
            let (number, length) = (part.number.to_string(), part.length.to_string());
            let mut headers = vec![("content-length", length.as_str())];
            headers.extend(mode.header().zip(part.checksum.as_deref()));
            let request = Presign {
                method: "PUT",
                endpoint: &endpoint,
                path: &path,
                query: vec![("partNumber", &number), ("uploadId", &multipart.upload_id)],
                headers,
                expires_in_secs: lifetime,
            };
            let (url, expires_at) = signer.presign(&request, now).map_err(|err| {
                tracing::error!(target: "audit", event = "signing_failed", uploader = who.uploader.as_str(), error = %err);
                signing_unavailable()
            })?;
            signed.push(SignedPart { number: part.number, url, expires_at: rfc3339(expires_at) });
        }
        let numbers: Vec<u64> = parts.iter().map(|p| p.number).collect();
        tracing::info!(
            target: "audit",
            event = "parts_signed",
            uploader = who.uploader.as_str(),
            key = %key,
            parts = ?numbers,
            expires_at = %signed.first().map(|s| s.expires_at.as_str()).unwrap_or_default(),
            credentials = self.source.kind(),
        );
        Ok(signed)
    }

    /// The parts the bucket has: what a resumed upload need not send again.
    pub async fn list_parts(
        &self,
        who: &Requester,
        sealed: String,
    ) -> Result<Vec<StoredPart>, UploadError> {
        let Opened { multipart, key, .. } = self.open_multipart(who, &sealed, self.now()).await?;
        let objects = self.bucket_objects(NOT_HERE)?;
        self.spend_call(who, "list_parts").await?;
        objects
            .list_parts(&key, &multipart.upload_id)
            .await
            .map_err(|err| self.bucket_failed(who, Action::ListParts, err))
    }

    /// Completes the upload from the parts the bucket has (refused while any is missing or of
    /// another length), then checks the object as confirming does.
    pub async fn complete_multipart(
        &self,
        who: &Requester,
        sealed: String,
    ) -> Result<StoredUpload, UploadError> {
        let now = self.now();
        let Opened { receipt, multipart, key } = self.open_multipart(who, &sealed, now).await?;
        let objects = self.bucket_objects(NOT_HERE)?;
        self.spend_call(who, "complete_multipart").await?;
        let size = receipt.size.1;
        // What the object is checked against, and the ETag the bucket gave it.
        let (signed, etag) = match objects.list_parts(&key, &multipart.upload_id).await {
            Ok(parts) => {
                let unfit = unfit_parts(&parts, size, multipart.part_size);
                if !unfit.is_empty() {
                    let shown: Vec<String> = unfit.iter().take(10).map(u64::to_string).collect();
                    return Err(UploadError::Refused(format!(
                        "the bucket does not have every part yet (missing or wrong length: {})",
                        shown.join(", ")
                    )));
                }
                // Exactly the parts the file has, in order (a part sent twice is listed once).
                let parts: Vec<StoredPart> = parts
                    .into_iter()
                    .filter(|p| p.number <= rules::part_count(size, multipart.part_size))
                    .collect();
                // The bucket keeps the composite of the parts' checksums (SHA-256), or gives the
                // object the MD5 of their MD5s as its ETag: checked with the rest.
                let checked = match self.config.limits.checksum {
                    ChecksumMode::Sha256 => {
                        Receipt { checksum_sha256: composite_sha256(&parts), ..receipt }
                    }
                    ChecksumMode::Md5 => Receipt { etag: composite_etag(&parts), ..receipt },
                    ChecksumMode::Off => receipt,
                };
                // Written before the bucket is asked: a completion retried after a lost answer
                // (below) or the reconciler compares the object with it.
                self.record_completion(who, &checked).await?;
                let etag = objects
                    .complete_multipart(&key, &multipart.upload_id, &parts)
                    .await
                    .map_err(|err| self.bucket_failed(who, Action::Complete, err))?;
                tracing::info!(target: "audit", event = "multipart_completed", uploader = who.uploader.as_str(), key = %key, parts = parts.len());
                (checked, etag)
            }
            // Completed already (an answer lost on the way): the object is checked against what
            // the parts added up to when completing began.
            Err(BucketError::NoSuchUpload) => match objects.head(&key).await {
                Ok(Some(head)) => (self.completed_receipt(receipt).await?, head.etag),
                // Staged, and promoted or set aside since: checking finds where it went.
                Ok(None) if crate::quarantine::is_staged(&key) => {
                    (self.completed_receipt(receipt).await?, String::new())
                }
                _ => {
                    return Err(self.bucket_failed(
                        who,
                        Action::Complete,
                        BucketError::NoSuchUpload,
                    ))
                }
            },
            Err(err) => return Err(self.bucket_failed(who, Action::ListParts, err)),
        };
        self.check_stored(who, &signed, &key, &etag).await
    }

    /// Aborts the upload: the bucket drops every part it has. A part still arriving while it
    /// aborts may be kept (S3 says so), so the parts are listed after, and the abort made again
    /// while any is there, up to [`ABORTS`] times in all.
    pub async fn abort_multipart(
        &self,
        who: &Requester,
        sealed: String,
    ) -> Result<(), UploadError> {
        let Opened { receipt, multipart, key } =
            self.open_multipart(who, &sealed, self.now()).await?;
        self.bucket_objects(NOT_HERE)?;
        self.spend_call(who, "abort_multipart").await?;
        // A cancel is a verdict (abandoned): claimed like any, so that the reconciler (or a
        // second cancel) gives no other. Already given: the upload is gone, as the bucket says.
        let directory = receipt.directory.clone();
        let holding = match self.claim_check(&receipt, BROWSER).await? {
            Claimed::Mine(holding) => holding,
            Claimed::Held(_) => {
                return Err(self.bucket_failed(who, Action::Abort, BucketError::NoSuchUpload))
            }
        };
        let aborted = self.abort_fully(&receipt.uploader, &key, &multipart.upload_id).await;
        if aborted.is_err() {
            self.release_check(&directory, &holding).await;
        }
        match aborted {
            Ok(()) => {
                let record = self.record_for(receipt, who).await;
                let judged =
                    Judged { verdict: Verdict::Abandoned, key, found: None, problem: None };
                self.conclude(&record, &judged, By::Browser, false, &holding).await;
                Ok(())
            }
            Err(Aborted::Failed(action, err)) => Err(self.bucket_failed(who, action, err)),
            Err(Aborted::PartsLeft) => Err(UploadError::Unavailable(
                "the bucket did not drop every part of this upload; they are removed within a day"
                    .into(),
            )),
        }
    }

    /// Aborts the upload `upload_id` of `key`: the bucket drops every part it has. A part still
    /// arriving while it aborts may be kept (S3 says so), so the parts are listed after, and the
    /// abort made again while any is there, up to [`ABORTS`] times in all.
    pub(super) async fn abort_fully(
        &self,
        uploader: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), Aborted> {
        let objects = self.objects.as_ref().ok_or(Aborted::PartsLeft)?;
        for abort in 1..=ABORTS {
            match objects.abort_multipart(key, upload_id).await {
                Ok(()) => {}
                // Gone after an abort of this loop: nothing more to abort.
                Err(BucketError::NoSuchUpload) if abort > 1 => {}
                Err(err) => return Err(Aborted::Failed(Action::Abort, err)),
            }
            match objects.list_parts(key, upload_id).await {
                Err(BucketError::NoSuchUpload) => {
                    tracing::info!(target: "audit", event = "multipart_aborted", uploader, key = ?clip(key), aborts = abort);
                    return Ok(());
                }
                Ok(parts) => {
                    tracing::warn!(target: "audit", event = "abort_left_parts", uploader, key = ?clip(key), parts = parts.len(), aborts = abort);
                }
                Err(err) => return Err(Aborted::Failed(Action::ListParts, err)),
            }
        }
        // Still listed: the bucket's lifecycle rule removes what is left within a day.
        tracing::error!(target: "audit", event = "abort_incomplete", uploader, key = ?clip(key), aborts = ABORTS);
        Err(Aborted::PartsLeft)
    }

    /// Writes, before completing, what the parts add up to into the upload's record (`checked`
    /// is its receipt with the composite digest).
    async fn record_completion(
        &self,
        who: &Requester,
        checked: &Receipt,
    ) -> Result<(), UploadError> {
        let record = Pending { completing: true, ..self.record_for(checked.clone(), who).await };
        self.state.record(vec![record.entry(checked.expires)]).await.map_err(|err| {
            self.metrics.state_error("record");
            tracing::error!(event = "completion_not_recorded", uploader = who.uploader.as_str(), error = %err);
            UploadError::Unavailable("the upload cannot be completed right now; try again in a minute".into())
        })
    }

    /// What a completed upload's object is checked against: its receipt with the digest its
    /// record took when completing began (the receipt alone when there is none).
    async fn completed_receipt(&self, receipt: Receipt) -> Result<Receipt, UploadError> {
        match self.state.get(&receipt.directory).await {
            Ok(entry) => Ok(entry
                .as_ref()
                .and_then(Pending::from_entry)
                .filter(|record| record.completing)
                .map_or(receipt, |record| record.receipt)),
            Err(err) => {
                self.metrics.state_error("get");
                tracing::error!(event = "record_unreadable", error = %err);
                Err(UploadError::Unavailable(
                    "the upload cannot be checked right now; try again in a minute".into(),
                ))
            }
        }
    }

    /// Opens a multipart receipt for `who`; anything but a fresh one of theirs is refused (a
    /// forged or foreign one counted and budgeted as a [`BadReceipt`]).
    async fn open_multipart(
        &self,
        who: &Requester,
        sealed: &str,
        now: OffsetDateTime,
    ) -> Result<Opened, UploadError> {
        let refused = |reason, problem: &str| self.bad_receipt(who, "", reason, problem.into());
        if who.scope.is_some() {
            let problem = "a return link cannot be used for a multipart upload";
            return Err(refused(BadReceipt::ReturnLink, problem).await);
        }
        match Receipt::open_multipart(&self.seal, sealed, &who.uploader, now) {
            Ok((receipt, multipart)) => Ok(Opened { key: receipt.key(), receipt, multipart }),
            Err(Unaccepted::NotOurs) => {
                Err(refused(BadReceipt::NotOurs, "the receipt is not one this service issued")
                    .await)
            }
            Err(Unaccepted::OtherUploader) => {
                Err(refused(BadReceipt::OtherUploader, "the receipt was issued to someone else")
                    .await)
            }
            Err(Unaccepted::Expired) => Err(UploadError::Expired(
                "this upload was started too long ago; start it again".into(),
            )),
        }
    }

    /// What the page is told when the bucket could not do `action`; a failure is logged.
    fn bucket_failed(&self, who: &Requester, action: Action, err: BucketError) -> UploadError {
        match err {
            BucketError::NoSuchUpload => UploadError::Gone(
                "the bucket no longer has this upload (it was completed, cancelled, or cleaned \
                 up after a day); start it again"
                    .into(),
            ),
            BucketError::Other(err) => {
                tracing::error!(target: "audit", event = "multipart_failed", uploader = who.uploader.as_str(), action = action.as_str(), error = %err);
                UploadError::Unavailable(
                    "the bucket cannot be reached right now; try again in a moment".into(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(number: u64, size: u64) -> StoredPart {
        StoredPart {
            number,
            size,
            etag: "\"e\"".into(),
            checksum_sha256: Some(
                base64::engine::general_purpose::STANDARD.encode([number as u8; 32]),
            ),
        }
    }

    #[test]
    fn every_part_must_be_there_with_its_length() {
        let (size, part_size) = (20 << 20, 8 << 20);
        let all = [part(1, 8 << 20), part(2, 8 << 20), part(3, 4 << 20)];
        assert!(unfit_parts(&all, size, part_size).is_empty());
        assert_eq!(unfit_parts(&all[..2], size, part_size), [3]);
        assert_eq!(
            unfit_parts(&[part(1, 8 << 20), part(2, 7 << 20), part(3, 4 << 20)], size, part_size),
            [2]
        );
    }

    #[test]
    fn the_composite_checksum_is_the_hash_of_the_part_digests() {
        let parts = [part(1, 1), part(2, 1)];
        let mut both = vec![1u8; 32];
        both.extend([2u8; 32]);
        let want = format!(
            "{}-2",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&both))
        );
        assert_eq!(composite_sha256(&parts), Some(want));
        assert_eq!(composite_sha256(&[StoredPart { checksum_sha256: None, ..part(1, 1) }]), None);
    }

    #[test]
    fn the_multipart_etag_is_the_md5_of_the_part_md5s() {
        let md5 = |bytes: &[u8]| format!("\"{}\"", hex::encode(md5::Md5::digest(bytes)));
        let parts = [
            StoredPart { etag: md5(b"one"), ..part(1, 3) },
            StoredPart { etag: md5(b"two"), ..part(2, 3) },
        ];
        let mut both = md5::Md5::digest(b"one").to_vec();
        both.extend(md5::Md5::digest(b"two"));
        assert_eq!(
            composite_etag(&parts),
            Some(format!("{}-2", hex::encode(md5::Md5::digest(&both))))
        );
        assert_eq!(composite_etag(&[part(1, 1)]), None, "an ETag that is no MD5");
    }
}
