//! A quarantined upload's way out of staging ([`crate::quarantine`]). Once every check has
//! passed, the staged object is copied to its final key with the service's own credentials
//! ([`Objects::copy`], only while it is still the object that was checked: its ETag), the copy
//! is checked (its size and type, and its SHA-256 where both the staged object and the copy
//! report a whole-object one: a copy made in parts reports the composite of its parts, which is
//! its own), the staged object is removed, and only then is the verdict given, naming the final
//! key. A file a check refused is set aside: moved to the quarantine prefix, or removed, as its
//! profile says. A look that finds the staged object gone but its promotion or quarantine done
//! (an earlier look stopped before its verdict) gives the verdict that look would have given.

use super::objects::{ObjectHead, Objects};
use super::pending::Verdict;
use super::receipt::Receipt;
use super::verdicts::Judged;
use super::Uploads;
use crate::logging::clip;
use crate::quarantine::{self, Refused};

/// What became of a refused file: its verdict, the key it is now under, and what was done with
/// it in words ("removed", "moved to quarantine", ...), for its reason.
pub(super) struct SetAside {
    pub verdict: Verdict,
    pub key: String,
    pub done: &'static str,
}

/// How a copy differs from the object it was made of, if it does.
fn copy_differs(staged: &ObjectHead, copy: &ObjectHead) -> Option<String> {
    if copy.size != staged.size {
        return Some(format!("its size is {} bytes, not {}", copy.size, staged.size));
    }
    if !copy.content_type.eq_ignore_ascii_case(&staged.content_type) {
        return Some(format!("its type is {:?}, not {:?}", copy.content_type, staged.content_type));
    }
    // A composite checksum ("...-N") is its parts', never comparable to a whole object's.
    let whole = |sum: &Option<String>| sum.clone().filter(|s| !s.contains('-'));
    if let (Some(want), Some(have)) = (whole(&staged.checksum_sha256), whole(&copy.checksum_sha256))
    {
        if want != have {
            return Some(format!("its SHA-256 is {have}, not {want}"));
        }
    }
    None
}

impl Uploads {
    /// The key and head an upload that passed every check is verified under: for a staged one,
    /// its final key once the copy there is made and checked (the staged object then removed);
    /// any other, as it is. An error: no verdict from this look, nothing at the final key, and
    /// the staged object stays for a later look (the browser's again, or the reconciler's).
    pub(super) async fn promote(
        &self,
        objects: &Objects,
        uploader: &str,
        key: &str,
        found: ObjectHead,
    ) -> Result<(String, ObjectHead), String> {
        let Some(to) = quarantine::promoted(key) else { return Ok((key.to_owned(), found)) };
        let failed = |error: String| {
            self.metrics.promotion_failed();
            tracing::error!(target: "audit", event = "promotion_failed", uploader, key = ?clip(key), error = %error);
            error
        };
        let part = self.config.limits.copy_part_bytes;
        objects.copy(key, &found.etag, &to, found.size, part).await.map_err(failed)?;
        let differs = match objects.head(&to).await {
            Ok(Some(copy)) => match copy_differs(&found, &copy) {
                None => Ok(copy),
                Some(differs) => Err(format!("the copy differs from the staged file: {differs}")),
            },
            Ok(None) => Err("the copy is not in the bucket".to_owned()),
            Err(err) => Err(format!("the copy could not be checked: {err}")),
        };
        let copy = match differs {
            Ok(copy) => copy,
            Err(error) => {
                // Nothing unchecked is left where it would be listed and served.
                if let Err(err) = objects.delete(&to).await {
                    tracing::error!(target: "audit", event = "mismatch_not_removed", uploader, key = ?clip(&to), error = %err);
                }
                return Err(failed(error));
            }
        };
        if let Err(err) = objects.delete(key).await {
            // The copy is whole and checked; the staging prefix's lifecycle rule removes this.
            tracing::warn!(event = "staged_not_removed", key = ?clip(key), error = %err);
        }
        self.metrics.promoted();
        tracing::info!(target: "audit", event = "upload_promoted", uploader, key = ?clip(&to), size = copy.size);
        Ok((to, copy))
    }

    /// A file a content check refused, set aside: a staged one is moved to the quarantine
    /// prefix (or removed, as its profile's `quarantine_refused` says) and its verdict is
    /// `quarantined`; any other is removed, and its verdict is `mismatched`. An error (the move
    /// failed): no verdict from this look; the file stays staged, out of reach, for the next.
    pub(super) async fn set_aside(
        &self,
        objects: &Objects,
        uploader: &str,
        directory: &str,
        key: &str,
        found: &ObjectHead,
    ) -> Result<SetAside, String> {
        let Some(held) = quarantine::quarantined(key) else {
            let done = self.remove_mismatch(objects, uploader, key).await;
            return Ok(SetAside { verdict: Verdict::Mismatched, key: key.to_owned(), done });
        };
        let profile = super::directory_profile(directory);
        let refused = self.config.profiles.get(profile).map_or(Refused::Keep, |p| p.refused);
        let part = self.config.limits.copy_part_bytes;
        let (key, done) = match refused {
            Refused::Keep => {
                let copied = objects.copy(key, &found.etag, &held, found.size, part).await;
                if let Err(err) = copied {
                    tracing::error!(target: "audit", event = "quarantine_failed", uploader, key = ?clip(key), error = %err);
                    return Err(err);
                }
                let done = match self.remove_mismatch(objects, uploader, key).await {
                    "removed" => "moved to quarantine",
                    _ => "copied to quarantine, but could not be removed from staging",
                };
                (held, done)
            }
            Refused::Remove => (key.to_owned(), self.remove_mismatch(objects, uploader, key).await),
        };
        self.metrics.quarantined();
        tracing::warn!(target: "audit", event = "upload_quarantined", uploader, profile, key = ?clip(&key), done);
        Ok(SetAside { verdict: Verdict::Quarantined, key, done })
    }

    /// For a staged `key` that is not there: the verdict an earlier look gave no more than the
    /// work of (it promoted the upload or set it aside, then stopped, or its claim ran out
    /// before its verdict was written), from where that look left it; `None` when it is in
    /// neither place (nothing was stored).
    pub(super) async fn moved_already(
        &self,
        objects: &Objects,
        signed: &Receipt,
        key: &str,
    ) -> Result<Option<Judged>, String> {
        let (Some(promoted), Some(held)) =
            (quarantine::promoted(key), quarantine::quarantined(key))
        else {
            return Ok(None);
        };
        let (min, max) = signed.size;
        // Only the service writes final keys of staged uploads: one there of the signed size
        // is this upload, promoted.
        if let Some(found) = objects.head(&promoted).await? {
            if (min..=max).contains(&found.size) {
                let judged = Judged {
                    verdict: Verdict::Verified,
                    key: promoted,
                    found: Some(found),
                    problem: None,
                };
                return Ok(Some(judged));
            }
        }
        if let Some(found) = objects.head(&held).await? {
            let problem =
                "a check of its content refused it; it was moved to quarantine".to_owned();
            let judged = Judged {
                verdict: Verdict::Quarantined,
                key: held,
                found: Some(found),
                problem: Some(problem),
            };
            return Ok(Some(judged));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(size: u64, sum: Option<&str>) -> ObjectHead {
        ObjectHead {
            size,
            content_type: "image/png".into(),
            etag: "\"e\"".into(),
            checksum_sha256: sum.map(str::to_owned),
            last_modified: None,
        }
    }

    #[test]
    fn a_copy_must_have_the_size_type_and_whole_checksum_of_its_source() {
        let staged = head(10, Some("AAAA"));
        assert_eq!(copy_differs(&staged, &head(10, Some("AAAA"))), None);
        // Made in parts, or by a bucket that keeps no checksum: nothing to compare.
        assert_eq!(copy_differs(&staged, &head(10, Some("BBBB-2"))), None);
        assert_eq!(copy_differs(&staged, &head(10, None)), None);
        assert!(copy_differs(&staged, &head(11, Some("AAAA"))).unwrap().contains("size is 11"));
        assert!(copy_differs(&staged, &head(10, Some("BBBB"))).unwrap().contains("SHA-256"));
        let other_type = ObjectHead { content_type: "text/html".into(), ..head(10, None) };
        assert!(copy_differs(&staged, &other_type).unwrap().contains("text/html"));
    }
}
