//! The reconciler: every grant whose browser never came back gets its verdict here, at its due
//! time ([`super::pending`]). One instance at a time reconciles a fleet's records (a lease in
//! Redis, renewed every round, taken over when its holder stops renewing it); without Redis,
//! each instance reconciles what it signed itself.
//!
//! A form's object is checked exactly as `confirm_upload` checks it; a plain form keeps its
//! first object and every other is removed; a form that stored nothing is looked at once more
//! when its receipt expires, then abandoned; a multipart upload still open when its receipt
//! expires is aborted (until no part is left) and abandoned, one completed but never confirmed
//! is checked. A browser's confirm and the reconciler claim the same verdict: one gives it.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::confirm::differences;
use super::multipart::{Aborted, BucketError};
use super::objects::{Listed, Objects};
use super::pending::{
    check_lease, checker_of, checking, By, Kind, Look, Pending, Verdict, BROWSER, LOOK_AGAIN_AFTER,
};
use super::plain_form::{all_but, first_and_extras, usable_name};
use super::verdicts::{Claimed, Judged};
use super::Uploads;
use crate::logging::clip;
use crate::state::{Conclusion, Entry, StateError};

/// Records taken per batch of a round (the lease is renewed between batches: a batch takes
/// well under the lease's 15 s unless the bucket is slow, and then a record's claim, which
/// outlasts its check, still keeps a second reconciler off it).
pub const BATCH: usize = 20;
/// Batches per tick, at most.
const BATCHES_PER_TICK: usize = 250;
/// How long the lease lasts unless renewed: a holder that stops (killed, partitioned) is
/// replaced this long after its last renewal at most.
pub const LEASE_FOR: Duration = Duration::from_secs(15);

/// What a look at a grant found.
enum Found {
    /// The verdict.
    Verdict(Judged),
    /// Nothing stored under it (yet).
    Nothing,
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Records looked at.
    pub looked: usize,
    /// Verdicts given.
    pub verdicts: usize,
    /// Records left for a later look.
    pub later: usize,
}

impl Uploads {
    /// Looks at up to `max` records due now, each in turn. An error only when the store cannot
    /// say which are due.
    /// `holder` names this reconciler (its lease's holder).
    pub async fn reconcile_round(&self, max: usize, holder: &str) -> Result<Round, StateError> {
        let now = self.now();
        let due = self.state.due(now.unix_timestamp(), max).await?;
        let mut round = Round::default();
        for entry in due {
            round.looked += 1;
            match self.reconcile(&entry, now, holder).await {
                Some(true) => round.verdicts += 1,
                Some(false) => {}
                None => round.later += 1,
            }
        }
        Ok(round)
    }

    /// The look at one record: `Some(true)` when it got its verdict here, `Some(false)` when it
    /// is done with otherwise (the browser gave it), `None` when it is left for a later look.
    async fn reconcile(&self, entry: &Entry, now: OffsetDateTime, holder: &str) -> Option<bool> {
        self.metrics.reconciler_looked();
        let Some(record) = Pending::from_entry(entry) else {
            tracing::error!(event = "record_unreadable", id = ?clip(&entry.id), "dropped");
            self.forget(&entry.id).await;
            return Some(false);
        };
        let objects = self.objects.as_ref()?;
        let key = record.receipt.key();
        let holding = match self.claim_check(&record.receipt, holder).await {
            Err(_) => return self.later(&record, now, "the store did not answer").await,
            Ok(Claimed::Mine(holding)) => holding,
            Ok(Claimed::Held(held)) if Verdict::parse(&held).is_none() => {
                match checker_of(&held) {
                    // Another reconciler's: it no longer holds the lease (this one does), so it
                    // stopped mid-check; its claim is taken over (were it still running, its
                    // verdict would not be written).
                    Some(other) if other != BROWSER && other != holder => {
                        let mine = checking(holder);
                        match self
                            .state
                            .steal(record.id(), &held, &mine, check_lease(&record.receipt))
                            .await
                        {
                            Ok(true) => {
                                tracing::info!(event = "check_taken_over", id = ?clip(record.id()), from = other);
                                mine
                            }
                            _ => return self.later(&record, now, "a check is under way").await,
                        }
                    }
                    // A browser's check under way: looked at again after it.
                    _ => return self.later(&record, now, "a check is under way").await,
                }
            }
            Ok(Claimed::Held(_)) => {
                // The browser gave the verdict. A plain form's record stayed for this: every
                // object but the one it kept goes.
                if record.kind() == Kind::PlainForm {
                    let directory = &record.receipt.directory;
                    let removed = match all_but(objects, directory, record.kept.as_deref()).await {
                        Ok(extra) => self.remove_extras_counted(objects, &record, &extra).await,
                        Err(err) => Err(err),
                    };
                    if let Err(err) = removed {
                        return self.later(&record, now, &err).await;
                    }
                }
                self.forget(record.id()).await;
                return Some(false);
            }
        };
        let found = match record.kind() {
            Kind::Form => self.look_at_object(objects, &record, &record.receipt, key).await,
            Kind::PlainForm => self.look_at_plain_form(objects, &record).await,
            Kind::Multipart => self.look_at_parts(objects, &record, key).await,
        };
        match found {
            Ok(Found::Verdict(judged)) => {
                Some(self.conclude(&record, &judged, By::Reconciler, false, &holding).await)
            }
            Ok(Found::Nothing) if record.has_last_look(entry.due) => {
                // A transfer may still be under way: looked at once more when the receipt
                // expires (a browser's confirm until then is still welcome).
                self.release_check(record.id(), &holding).await;
                let last = Pending { look: Look::Last, ..record.clone() };
                self.reschedule(&last, last.receipt.expires).await;
                None
            }
            Ok(Found::Nothing) => {
                let judged = Judged {
                    verdict: Verdict::Abandoned,
                    key: record.receipt.key(),
                    found: None,
                    problem: None,
                };
                Some(self.conclude(&record, &judged, By::Reconciler, false, &holding).await)
            }
            Err(err) => {
                self.release_check(record.id(), &holding).await;
                self.later(&record, now, &err).await
            }
        }
    }

    /// The object at `key` checked against `signed` as confirming checks it (the ETag it has is
    /// the one "reported").
    async fn look_at_object(
        &self,
        objects: &Objects,
        record: &Pending,
        signed: &super::receipt::Receipt,
        key: String,
    ) -> Result<Found, String> {
        let Some(found) = objects.head(&key).await? else {
            // Staged, then promoted or set aside by a look that stopped before its verdict.
            let moved = self.moved_already(objects, signed, &key).await?;
            return Ok(moved.map_or(Found::Nothing, Found::Verdict));
        };
        let (object, _) = differences(signed, &key, &found.etag, &found);
        if object.is_empty() {
            let directory = &record.receipt.directory;
            let uploader = record.receipt.uploader.as_str();
            let Some(refused) = self.content_refusal(objects, directory, &key, &found).await?
            else {
                // Every check passed: a staged upload goes to its final key first.
                let (key, found) = self.promote(objects, uploader, &key, found).await?;
                return Ok(Found::Verdict(Judged {
                    verdict: Verdict::Verified,
                    key,
                    found: Some(found),
                    problem: None,
                }));
            };
            let aside = self.set_aside(objects, uploader, directory, &key, &found).await?;
            if aside.done == "removed" {
                self.metrics.reconciler_removed(1);
            }
            return Ok(Found::Verdict(Judged {
                verdict: aside.verdict,
                key: aside.key,
                found: Some(found),
                problem: Some(format!("{refused}; it was {}", aside.done)),
            }));
        }
        let removed = self.remove_mismatch(objects, &record.receipt.uploader, &key).await;
        if removed == "removed" {
            self.metrics.reconciler_removed(1);
        }
        let problem = format!(
            "the stored file is not the one that was signed ({removed}): {}",
            object.join("; ")
        );
        // No client asked: no address to name.
        tracing::error!(target: "audit", event = "upload_mismatch", uploader = record.receipt.uploader.as_str(), ip = ?None::<std::net::IpAddr>, key = ?clip(&key), problem = ?clip(&problem));
        self.metrics.mismatched();
        Ok(Found::Verdict(Judged {
            verdict: Verdict::Mismatched,
            key,
            found: Some(found),
            problem: Some(problem),
        }))
    }

    /// A plain form: its first object is kept (every other removed) and checked.
    async fn look_at_plain_form(
        &self,
        objects: &Objects,
        record: &Pending,
    ) -> Result<Found, String> {
        let Some(first) = self.keep_first_counted(objects, record).await? else {
            return Ok(Found::Nothing);
        };
        let name = first.rsplit('/').next().unwrap_or_default();
        if !usable_name(name) {
            let removed = self.remove_mismatch(objects, &record.receipt.uploader, &first).await;
            if removed == "removed" {
                self.metrics.reconciler_removed(1);
            }
            tracing::warn!(target: "audit", event = "plain_upload_removed", key = ?clip(&first), reason = "unusable name");
            return Ok(Found::Verdict(Judged {
                verdict: Verdict::Mismatched,
                key: first,
                found: None,
                problem: Some(format!("a name the rules do not accept as it is ({removed})")),
            }));
        }
        self.look_at_object(objects, record, &record.receipt, first).await
    }

    /// Keeps the first object of `record`'s plain form and removes every other: the key kept.
    async fn keep_first_counted(
        &self,
        objects: &Objects,
        record: &Pending,
    ) -> Result<Option<String>, String> {
        let (kept, extra) = first_and_extras(objects, &record.receipt.directory).await?;
        self.remove_extras_counted(objects, record, &extra).await?;
        Ok(kept)
    }

    /// [`Uploads::remove_extras`] for `record`'s plain form, by the reconciler, counted.
    async fn remove_extras_counted(
        &self,
        objects: &Objects,
        record: &Pending,
        extra: &[Listed],
    ) -> Result<(), String> {
        let (directory, uploader) = (&record.receipt.directory, &record.receipt.uploader);
        let subject = record.subject.as_deref();
        let removed = self
            .remove_extras(objects, directory, uploader, subject, extra, By::Reconciler)
            .await?;
        self.metrics.reconciler_removed(removed as u64);
        Ok(())
    }

    /// A multipart upload at its receipt's expiry: still open, it is aborted until no part is
    /// left (abandoned); completed, its object is checked against what its parts added up to.
    async fn look_at_parts(
        &self,
        objects: &Objects,
        record: &Pending,
        key: String,
    ) -> Result<Found, String> {
        let Some(multipart) = &record.receipt.multipart else { return Ok(Found::Nothing) };
        match objects.list_parts(&key, &multipart.upload_id).await {
            Ok(parts) => {
                tracing::info!(target: "audit", event = "multipart_expired", uploader = record.receipt.uploader.as_str(), key = ?clip(&key), parts = parts.len());
                match self.abort_fully(&record.receipt.uploader, &key, &multipart.upload_id).await {
                    Ok(()) => Ok(Found::Verdict(Judged {
                        verdict: Verdict::Abandoned,
                        key,
                        found: None,
                        problem: None,
                    })),
                    Err(Aborted::Failed(_, err)) => Err(err.to_string()),
                    Err(Aborted::PartsLeft) => Err("parts were left after every abort".into()),
                }
            }
            // Completed (or aborted by its browser, whose verdict is already given).
            Err(BucketError::NoSuchUpload) => {
                self.look_at_object(objects, record, &record.receipt, key).await
            }
            Err(err) => Err(err.to_string()),
        }
    }

    /// Leaves `record` for a look after [`LOOK_AGAIN_AFTER`], saying why.
    async fn later(&self, record: &Pending, now: OffsetDateTime, why: &str) -> Option<bool> {
        self.metrics.reconciler_later();
        tracing::warn!(event = "reconcile_later", id = ?clip(record.id()), why);
        self.reschedule(record, (now + LOOK_AGAIN_AFTER).unix_timestamp()).await;
        None
    }

    /// Moves `record` to `due`, unless it ended meanwhile (a browser gave the verdict).
    async fn reschedule(&self, record: &Pending, due: i64) {
        if let Err(err) = self.state.reschedule(vec![record.entry(due)]).await {
            self.metrics.state_error("record");
            tracing::error!(event = "record_not_rescheduled", id = ?clip(record.id()), error = %err, "looked at again at its old due time");
        }
    }

    /// Ends a record with no new verdict.
    async fn forget(&self, id: &str) {
        let end =
            Conclusion { id, holding: None, claim: None, log: None, remove: true, outbox: &[] };
        if let Err(err) = self.state.conclude(end).await {
            self.metrics.state_error("conclude");
            tracing::error!(event = "record_not_ended", id = ?clip(id), error = %err);
        }
    }

    /// The records' backlog at `now`, for the metrics: how many are due, and since when the
    /// longest due one has been.
    pub async fn measure_backlog(&self) {
        let now = self.now().unix_timestamp();
        match self.state.backlog(now).await {
            Ok((first, due)) => {
                let lag = first.map_or(0, |first| (now - first).max(0));
                self.metrics.reconciler_backlog(due, lag);
            }
            Err(err) => {
                self.metrics.state_error("backlog");
                tracing::warn!(event = "backlog_unknown", error = %err);
            }
        }
    }
}

/// Reconciles for as long as the process runs: every `every`, the backlog is measured, the
/// lease taken or renewed (as `holder`), and, while it is held, the due records looked at in
/// batches.
pub async fn reconcile_forever(uploads: Arc<Uploads>, holder: String, every: Duration) {
    let state = uploads.state.clone();
    let mut held = false;
    loop {
        tokio::time::sleep(every).await;
        uploads.measure_backlog().await;
        match state.lease(&holder, LEASE_FOR).await {
            Ok(true) => {
                if !held && state.shared() {
                    tracing::info!(event = "reconciler_lease_taken", holder = %holder);
                }
                held = true;
            }
            Ok(false) => {
                held = false;
                continue;
            }
            Err(err) => {
                held = false;
                tracing::warn!(event = "reconciler_lease_unknown", error = %err);
                continue;
            }
        }
        // A bounded number of batches a tick: records that keep failing cannot hold it forever.
        for _ in 0..BATCHES_PER_TICK {
            match uploads.reconcile_round(BATCH, &holder).await {
                Ok(round) if round.looked == BATCH => {
                    // More may be due: on, with the lease renewed.
                    if !matches!(state.lease(&holder, LEASE_FOR).await, Ok(true)) {
                        held = false;
                        break;
                    }
                }
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(event = "reconcile_round_failed", error = %err);
                    break;
                }
            }
        }
    }
}
