//! The queue: at most [`CONCURRENT_UPLOADS`] files go at once, each hashed, signed when its
//! turn comes, POSTed straight to the bucket, then verified by the server; a big file goes in
//! parts instead ([`super::parts`]).

use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::File;

use super::hash::checksum_base64;
use super::row::Row;
use super::s3_response::Outcome;
use super::status::{
    bucket_refused, bucket_unreachable, failed, js_error, not_signed, unreadable, FailureCode,
    Status,
};
use super::waiting::{when_checked, when_signed_in};
use super::{file, parts, xhr};
use crate::api::{confirm_upload, sign_upload};
use crate::format::RateMeter;
use crate::rules;
use crate::wire::{ChecksumMode, SignedUpload, StoredUpload, UploadMethod};

/// How many files upload at the same time; the rest wait their turn.
pub const CONCURRENT_UPLOADS: usize = 3;

/// A policy with less than this left is signed again before its upload starts.
const MIN_POLICY_LEFT_MS: f64 = 15_000.0;

/// What every upload needs from the page.
#[derive(Clone, Copy)]
pub struct Queue {
    pub rows: RwSignal<Vec<Row>>,
    pub running: StoredValue<usize>,
    pub access_code: RwSignal<String>,
    /// Files up to this size are hashed first (0: none).
    pub checksum_max_bytes: RwSignal<u64>,
    /// With which digest (and whether parts are hashed at all).
    pub checksum: RwSignal<ChecksumMode>,
    /// Files above this size go in parts ([`crate::rules::goes_multipart`]).
    pub multipart_threshold: RwSignal<u64>,
    /// Bumped after each verified upload, so "Your uploads" refreshes.
    pub uploads_changed: RwSignal<u32>,
    /// The upload profile the page is for.
    pub profile: StoredValue<String>,
    /// What the person gave the profile's metadata fields, by name.
    pub fields: RwSignal<std::collections::BTreeMap<String, String>>,
}

impl Queue {
    /// Starts queued rows, first come first served, while fewer than the limit are running.
    pub fn pump(self) {
        while self.running.get_value() < CONCURRENT_UPLOADS {
            let next = self.rows.with_untracked(|rows| {
                rows.iter().find(|r| r.status.get_untracked() == Status::Queued).cloned()
            });
            let Some(row) = next else { break };
            let Some(file) = row.file.get_value() else {
                row.status.set(failed(
                    FailureCode::NoFile,
                    "the file is no longer available: choose it again",
                ));
                continue;
            };
            self.running.update_value(|n| *n += 1);
            // Out of `Queued` now, before the task runs, so this loop does not start it twice.
            row.status.set(if self.hashes(&row) { Status::Hashing } else { Status::Signing });
            spawn_local(async move {
                if let Err(status) = self.run(&row, file).await {
                    // A cancelled row stays cancelled, whatever the request ended with.
                    if !row.cancelled() {
                        row.status.set(status);
                    }
                }
                self.running.update_value(|n| *n -= 1);
                self.pump();
            });
        }
    }

    /// What `file` is signed with, as the page stands now.
    fn asking(self, file: &File) -> file::Asking {
        file::Asking::new(
            file,
            self.access_code.get_untracked(),
            self.profile.get_value(),
            self.fields.get_untracked(),
        )
    }

    /// Takes a finished row off the list.
    pub fn remove(self, id: usize) {
        self.rows
            .update(|rows| rows.retain(|r| r.id != id || !r.status.get_untracked().is_finished()));
    }

    /// Queues a failed or cancelled row again: from the start, or a file in parts from where
    /// the bucket's parts end (and a paused one the same way).
    pub fn retry(self, id: usize) {
        let Some(row) = self.rows.with_untracked(|rows| rows.iter().find(|r| r.id == id).cloned())
        else {
            return;
        };
        let status = row.status.get_untracked();
        if status.is_retryable() || status == Status::Paused {
            if row.multipart.with_value(Option::is_none) {
                row.sent.set(0.0);
                row.key.set(None);
            }
            row.hashed.set(0.0);
            row.status.set(Status::Queued);
            self.pump();
        }
    }

    /// Pauses a file going in parts: the parts under way stop, the ones sent stay.
    pub fn pause(self, id: usize) {
        let Some(row) = self.rows.with_untracked(|rows| rows.iter().find(|r| r.id == id).cloned())
        else {
            return;
        };
        if row.status.get_untracked() == Status::Uploading
            && row.multipart.with_value(Option::is_some)
        {
            row.status.set(Status::Paused);
            row.abort_requests();
        }
    }

    /// Whether this file goes in parts.
    fn in_parts(self, row: &Row) -> bool {
        row.multipart.with_value(Option::is_some)
            || rules::goes_multipart(row.size, self.multipart_threshold.get_untracked())
    }

    /// Whether this file is hashed before it is signed (a file in parts hashes each part).
    fn hashes(self, row: &Row) -> bool {
        let max = self.checksum_max_bytes.get_untracked();
        self.checksum.get_untracked() != ChecksumMode::Off
            && max > 0
            && row.size <= max
            && !self.in_parts(row)
    }

    /// Hash, sign, send (in one POST or in parts), verify. Every way this ends leaves the row
    /// done, failed, cancelled or paused.
    async fn run(self, row: &Row, file: File) -> Result<(), Status> {
        let done = if self.in_parts(row) {
            let (asking, checksum) = (self.asking(&file), self.checksum.get_untracked());
            parts::upload_in_parts(row.clone(), file, asking, checksum).await?
        } else {
            self.post_whole(row, &file).await?
        };
        if let Some(done) = done {
            // Where it is now: a quarantined profile's file was promoted from staging.
            row.key.set(Some(done.key.clone()));
            row.status.set(Status::Done(Box::new(done)));
            self.uploads_changed.update(|n| *n += 1);
        }
        Ok(())
    }

    /// Hash, sign, POST, verify one file: the stored upload, or `None` when cancelled.
    async fn post_whole(self, row: &Row, file: &File) -> Result<Option<StoredUpload>, Status> {
        let checksum = if self.hashes(row) {
            let hashed = row.hashed;
            let hashing = checksum_base64(self.checksum.get_untracked(), file, move |done| {
                hashed.set(done);
                !row.cancelled()
            });
            match hashing.await {
                Ok(Some(sum)) => Some(sum),
                Ok(None) => return Ok(None),
                Err(err) => return Err(unreadable(&err)),
            }
        } else {
            None
        };

        // At most one fresh policy after the bucket says the first one expired.
        let mut resigned = false;
        let (stored, signed) = loop {
            let signed = self.sign(row, file, checksum.clone()).await?;
            if row.cancelled() {
                return Ok(None);
            }
            row.key.set(Some(signed.key.clone()));
            row.status.set(Status::Uploading);
            let outcome = self.send(row, file, &signed).await?;
            if row.cancelled() {
                return Ok(None);
            }
            match outcome {
                Outcome::Stored(stored) => break (stored, signed),
                Outcome::Refused(refusal)
                    if !resigned && (refusal.is_expired_policy() || refusal.is_expired_url()) =>
                {
                    resigned = true
                }
                Outcome::Refused(refusal) => return Err(bucket_refused(&refusal)),
                Outcome::Unreachable => return Err(bucket_unreachable()),
            }
        };
        // In the bucket: the file is not needed for a retry any more.
        row.file.set_value(None);
        row.status.set(Status::Verifying);
        let done = when_checked(
            || confirm_upload(signed.key.clone(), stored.etag.clone(), signed.receipt.clone()),
            || row.status.set(Status::Checking),
        )
        .await
        .map_err(|err| failed(FailureCode::NotVerified, err.to_string()))?;
        Ok(Some(done))
    }

    /// A policy for this file, fresh enough to start uploading with.
    async fn sign(
        self,
        row: &Row,
        file: &File,
        checksum: Option<String>,
    ) -> Result<SignedUpload, Status> {
        // The digest goes in the argument the service's mode reads.
        let (sha256, md5) = match self.checksum.get_untracked() {
            ChecksumMode::Md5 => (None, checksum),
            _ => (checksum, None),
        };
        for _ in 0..2 {
            row.status.set(Status::Signing);
            let asking = self.asking(file);
            let signed = when_signed_in(|| {
                sign_upload(
                    row.name.clone(),
                    row.size,
                    file.type_(),
                    asking.access_code.clone(),
                    sha256.clone(),
                    asking.metadata.clone(),
                    md5.clone(),
                    asking.profile.clone(),
                )
            })
            .await
            .map_err(|err| not_signed(&err))?;
            // Signed just now, so this only trips on a clock far off or a very slow network.
            let left = js_sys::Date::parse(&signed.expires_at) - js_sys::Date::now();
            if left.is_nan() || left >= MIN_POLICY_LEFT_MS {
                return Ok(signed);
            }
        }
        Err(failed(
            FailureCode::PolicyExpired,
            "every policy the server signs is already (nearly) expired here: check this computer's clock",
        ))
    }

    /// Sends the file in the one request `signed` describes: a form's POST or a PUT.
    async fn send(self, row: &Row, file: &File, signed: &SignedUpload) -> Result<Outcome, Status> {
        let (sent, speed, requests) = (row.sent, row.speed, row.requests);
        sent.set(0.0);
        let meter = StoredValue::new(RateMeter::default());
        let on_progress = move |done: f64, _total: f64| {
            sent.set(done);
            let rate = meter.try_update_value(|m| m.record(js_sys::Date::now(), done)).flatten();
            speed.set(rate);
        };
        let on_sent = move |xhr| requests.set_value(vec![xhr]);
        let outcome = match signed.method {
            UploadMethod::Post => {
                xhr::post_form(&signed.url, &signed.fields, file, on_progress, on_sent).await
            }
            UploadMethod::Put => {
                xhr::put(&signed.url, &signed.headers, file, on_progress, on_sent).await
            }
        };
        row.requests.set_value(Vec::new());
        row.speed.set(None);
        let outcome = outcome.map_err(|err| failed(FailureCode::BrowserError, js_error(&err)))?;
        if matches!(outcome, Outcome::Stored(_)) {
            row.sent.set(row.size as f64);
        }
        Ok(outcome)
    }
}
