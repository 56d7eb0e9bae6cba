//! How a grant is recorded when it is signed, and how its verdict is written, once, whoever
//! gives it (the browser's confirm, a completion or cancel, or the reconciler): the claim that
//! makes it one, the record's end, the log line, the counters and the audit event.

use app::rules::PROFILE_METADATA;
use app::service::Requester;
use app::wire::UploadError;
use time::OffsetDateTime;

use super::objects::{Listed, ObjectHead, Objects};
use super::pending::{check_lease, checking, By, Outcome, Pending, Verdict, VerdictLine};
use super::receipt::{Receipt, RECEIPT_LIFETIME};
use super::Uploads;
use crate::logging::clip;
use crate::state::{Claim, Conclusion};

/// A verdict, with what it is about.
pub struct Judged {
    pub verdict: Verdict,
    /// The object's key (a plain form's: the one kept, if any).
    pub key: String,
    pub found: Option<ObjectHead>,
    /// What differed, for a mismatch.
    pub problem: Option<String>,
}

/// A claim on a grant's check.
pub(super) enum Claimed {
    /// This caller's, holding what it wrote.
    Mine(String),
    /// Someone else's (a check under way, or the verdict given), with what they wrote.
    Held(String),
}

/// What the page is told when the record store cannot be asked.
fn state_unavailable() -> UploadError {
    UploadError::Unavailable("uploads cannot be checked right now; try again in a minute".into())
}

impl Uploads {
    /// The record of `who`'s new grant `receipt`, whose policy expires at `policy_expires`:
    /// queued for the store's next batch. An error (the store is not keeping up) refuses the
    /// grant: nothing is signed that would get no verdict.
    pub(super) fn record_grant(
        &self,
        receipt: &Receipt,
        who: &Requester,
        policy_expires: OffsetDateTime,
        metadata: &[(String, String)],
    ) -> Result<(), UploadError> {
        let record = Pending::new(receipt.clone(), who.user.as_ref().map(|u| u.subject.clone()))
            .with_metadata(metadata);
        let due = record.first_due(policy_expires, self.grace);
        self.state.record_later(record.entry(due)).map_err(|err| {
            self.metrics.state_error("record");
            tracing::error!(event = "grant_not_recorded", uploader = who.uploader.as_str(), error = %err);
            super::signing_unavailable()
        })
    }

    /// The record of `who`'s grant `receipt`, keeping the metadata its stored record has (a
    /// completion or cancel rewrites it; the receipt does not carry metadata).
    pub(super) async fn record_for(&self, receipt: Receipt, who: &Requester) -> Pending {
        let stored = match self.state.get(&receipt.directory).await {
            Ok(entry) => entry.as_ref().and_then(Pending::from_entry),
            Err(_) => None,
        };
        let metadata = stored.map(|record| record.metadata).unwrap_or_default();
        Pending { metadata, ..Pending::new(receipt, who.user.as_ref().map(|u| u.subject.clone())) }
    }

    /// Claims the check of the grant `receipt` for `checker` ([`BROWSER`], or the
    /// reconciler's lease holder): [`Claimed::Mine`] with what this caller wrote in it (a token
    /// of its own), or [`Claimed::Held`] with what its holder wrote.
    pub(super) async fn claim_check(
        &self,
        receipt: &Receipt,
        checker: &str,
    ) -> Result<Claimed, UploadError> {
        let (directory, holding) = (receipt.directory.as_str(), checking(checker));
        match self.state.claim(directory, &holding, check_lease(receipt)).await {
            Ok(Claim::Taken) => Ok(Claimed::Mine(holding)),
            Ok(Claim::Held(held)) => Ok(Claimed::Held(held)),
            Err(err) => {
                self.metrics.state_error("claim");
                tracing::error!(event = "claim_failed", directory = ?clip(directory), error = %err);
                Err(state_unavailable())
            }
        }
    }

    /// Gives the check up (it could not be made, or was no verdict): another may make it. Only
    /// this caller's claim (`holding`), never one taken since by another.
    pub(super) async fn release_check(&self, directory: &str, holding: &str) {
        if let Err(err) = self.state.release(directory, holding).await {
            self.metrics.state_error("claim");
            tracing::error!(event = "claim_not_released", directory = ?clip(directory), error = %err, "checked again when the claim expires");
        }
    }

    /// Writes `judged` as the verdict on `record`'s grant, by `by`, while this caller's claim
    /// (`holding`) still holds: the claim holds the verdict from now on, the record ends (unless
    /// `keep_record`: a plain form's, whose other objects are removed at its due time), and the
    /// log has its line. A store that fails is asked again a few times; a claim lost meanwhile
    /// (expired, and taken by another check) writes nothing: that check gives the verdict.
    /// Answers whether the verdict was written here.
    pub(super) async fn conclude(
        &self,
        record: &Pending,
        judged: &Judged,
        by: By,
        keep_record: bool,
        holding: &str,
    ) -> bool {
        let now = self.now();
        let bucket = &self.config.bucket.name;
        let outcome = judged.verdict.into();
        let line = VerdictLine {
            size: judged.found.as_ref().map(|f| f.size),
            etag: judged.found.as_ref().map(|f| f.etag.clone()),
            problem: judged.problem.clone(),
            ..VerdictLine::new(record, bucket, &judged.key, outcome, by, now.unix_timestamp())
        };
        let endpoints = self.endpoints(line.profile());
        let line = line.to_json();
        let conclusion = Conclusion {
            id: record.id(),
            holding: Some(holding),
            claim: Some((judged.verdict.as_str(), record.verdict_kept(now))),
            log: Some(&line),
            remove: !keep_record,
            outbox: endpoints,
        };
        let mut written = self.state.conclude(conclusion).await;
        for pause in [100, 400, 1600] {
            if written.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            written = self.state.conclude(conclusion).await;
        }
        match written {
            Ok(true) => self.events_waiting(endpoints),
            Ok(false) => {
                tracing::warn!(event = "verdict_superseded", directory = ?clip(record.id()), verdict = judged.verdict.as_str(), "the check took longer than its claim, and another check took it over");
                return false;
            }
            Err(err) => {
                // Its claim still says "checking": the grant is looked at again when it expires.
                self.metrics.state_error("conclude");
                tracing::error!(event = "verdict_not_written", directory = ?clip(record.id()), verdict = judged.verdict.as_str(), error = %err);
            }
        }
        if keep_record {
            // What the browser's verdict kept: the rest of the directory goes at the due time.
            let kept = (judged.verdict == Verdict::Verified).then(|| judged.key.clone());
            let updated = Pending { kept, ..record.clone() };
            let due = self.form_due(&updated);
            if let Err(err) = self.state.reschedule(vec![updated.entry(due)]).await {
                self.metrics.state_error("record");
                tracing::error!(event = "record_not_updated", directory = ?clip(record.id()), error = %err);
            }
        }
        self.metrics.verdict(judged.verdict.as_str(), by.as_str());
        tracing::info!(target: "audit", event = "upload_verdict", verdict = judged.verdict.as_str(), by = by.as_str(), uploader = record.receipt.uploader.as_str(), subject = record.subject.as_deref().unwrap_or(""), key = ?clip(&judged.key), problem = ?judged.problem.as_deref().map(clip));
        true
    }

    /// Wakes this instance's deliverers of `endpoints`: an event is in their outboxes.
    fn events_waiting(&self, endpoints: &[String]) {
        if let Some(routes) = &self.events {
            routes.ring(endpoints);
        }
    }

    /// Reports objects about to be removed from the plain form in `directory` (each a file
    /// stored after the form's first): an `upload.removed` event each, queued, when events are
    /// on. The grant's record says who and what; without it (already ended), the uploader and
    /// `subject` do. An error when the outbox does not take them (then nothing is removed).
    pub(super) async fn report_removed(
        &self,
        directory: &str,
        uploader: &str,
        subject: Option<&str>,
        removed: &[Listed],
        by: By,
    ) -> Result<(), String> {
        let profile = super::directory_profile(directory);
        let endpoints = self.endpoints(profile);
        if endpoints.is_empty() || removed.is_empty() {
            return Ok(());
        }
        let record = match self.state.get(directory).await {
            Ok(entry) => entry.as_ref().and_then(Pending::from_entry),
            Err(_) => None,
        };
        let now = self.now().unix_timestamp();
        let bucket = &self.config.bucket.name;
        let lines: Vec<String> = removed
            .iter()
            .map(|item| {
                let line = match &record {
                    Some(record) => {
                        VerdictLine::new(record, bucket, &item.key, Outcome::Removed, by, now)
                    }
                    None => VerdictLine {
                        id: directory.to_owned(),
                        key: item.key.clone(),
                        uploader: uploader.to_owned(),
                        subject: subject.map(str::to_owned),
                        verdict: Outcome::Removed,
                        by,
                        at: now,
                        size: None,
                        etag: None,
                        problem: None,
                        bucket: bucket.clone(),
                        signed: 0,
                        content_type: None,
                        checksum: None,
                        // The profile its directory names: the record that said is gone.
                        metadata: [(PROFILE_METADATA.to_owned(), profile.to_owned())].into(),
                    },
                };
                VerdictLine {
                    size: Some(item.size),
                    etag: Some(item.etag.clone()),
                    problem: Some("the form was used again: it keeps its first file".into()),
                    ..line
                }
                .to_json()
            })
            .collect();
        match self.state.enqueue(endpoints, lines).await {
            Ok(()) => {
                self.events_waiting(endpoints);
                Ok(())
            }
            Err(err) => {
                self.metrics.state_error("outbox");
                tracing::error!(event = "events_not_queued", directory = ?clip(directory), removed = removed.len(), error = %err);
                Err(format!("the outbox did not take the events: {err}"))
            }
        }
    }

    /// When a form's record is first due: its policy's expiry (from when its receipt was
    /// issued) and the grace.
    fn form_due(&self, record: &Pending) -> i64 {
        let issued = record.receipt.expires - RECEIPT_LIFETIME.whole_seconds();
        let issued = OffsetDateTime::from_unix_timestamp(issued).unwrap_or_else(|_| self.now());
        record.first_due(issued + self.config.policy_lifetime, self.grace)
    }

    /// Removes the object at `key`, which is not what was signed: what the problem says of it.
    pub(super) async fn remove_mismatch(
        &self,
        objects: &Objects,
        uploader: &str,
        key: &str,
    ) -> &'static str {
        match objects.delete(key).await {
            Ok(()) => "removed",
            Err(err) => {
                tracing::error!(target: "audit", event = "mismatch_not_removed", uploader, key = ?clip(key), error = %err);
                "could not be removed"
            }
        }
    }
}
