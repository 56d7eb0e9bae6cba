//! `page_form`: the page's no-JavaScript form, and the rule that comes with it. The form lets
//! the browser choose the name (`${filename}`) and, like every POST policy, can be used again
//! until it expires; so one form keeps one file, the first stored in its directory, under a
//! name [`app::rules::file_name`] accepts as it is. Confirming
//! ([`Uploads::keep_one_plain_upload`]), listing ([`Uploads::one_per_form`]) and the reconciler
//! remove what breaks the rule, each extra reported first ([`Uploads::remove_extras`]).

use app::rules::MAX_POST_BYTES;
use app::service::Requester;
use app::wire::{SignedUpload, UploadError};

use super::objects::{Listed, Objects};
use super::pending::By;
use super::receipt::Receipt;
use super::Uploads;
use crate::logging::clip;
use crate::policy::{OnSuccess, SizeRule};
use crate::seal::ReturnPass;

/// How long after its form expires a no-JavaScript upload may still come back to the return page.
const RETURN_UPLOAD_TIME: time::Duration = time::Duration::hours(1);

impl Uploads {
    /// The page's no-JavaScript form: `${filename}` under a fresh directory of the uploader's
    /// prefix, 1 byte to the size limit (or what one POST carries), stored as application/octet-stream, and a redirect back
    /// to `redirect` carrying the receipt. `None` where a plain form cannot be offered.
    pub async fn page_form(
        &self,
        who: &Requester,
        profile: &str,
        redirect: String,
    ) -> Result<Option<SignedUpload>, UploadError> {
        let profile = self.profile_for(Some(who), profile)?;
        // A pre-signed form can neither ask for the code nor tell the type nor carry the
        // profile's metadata; one is signed for every page view, which must not spend a day's
        // files; and a browser form cannot PUT, so a store without POST uploads has none.
        if self.config.limits.access_code_sha256.is_some()
            || !profile.takes_any_file()
            || profile.files_per_day.is_some()
            || self.config.method == app::wire::UploadMethod::Put
        {
            return Ok(None);
        }
        // A page reached from another site (a link, a frame) signs nothing: the next view,
        // from this site, has the form.
        if who.cross_site {
            return Ok(None);
        }
        // With STS a form costs an STS call for its uploader: a first page view (no cookie yet,
        // as every request of a client that keeps none) gets no form, so that a flood of
        // cookie-less views makes no STS calls. The next view, with the cookie, has one.
        if !who.is_known() && self.credentials_per_uploader() {
            return Ok(None);
        }
        // Every page view signs one: it counts as a file for the uploader and the address (a
        // plain form is a write grant like any other); past either budget the page simply
        // offers no plain form.
        if self.guard.spend_file(who.uploader.as_str(), who.ip, &profile).await.is_err() {
            self.metrics.refused(super::check::Reason::RateLimited.label());
            return Ok(None);
        }
        let now = self.now();
        let directory = self.fresh_directory(&who.uploader, &profile.name, now);
        // One POST carries at most 5 GiB, whatever larger files may go in parts.
        let size = SizeRule::Range { min: 1, max: profile.max_bytes.min(MAX_POST_BYTES) };
        let signer = self.signer(who, now).await?;
        let mut spec = self.spec(
            format!("{directory}${{filename}}"),
            Some(app::rules::UNKNOWN_TYPE.into()),
            size,
        );
        spec.metadata.extend(super::check::uploader_metadata(who));
        spec.metadata.push(super::check::profile_metadata(&profile));
        let granted = Receipt::for_form(&who.uploader, directory.clone(), None, &spec, now);
        let receipt = granted.seal(&self.seal);
        // The return page names the uploader by this token (the redirect comes without the
        // cookie), for this directory only, until the form expires and an hour of upload time.
        let expires = now + self.config.policy_lifetime + RETURN_UPLOAD_TIME;
        let pass = ReturnPass {
            uploader: who.uploader.clone(),
            directory,
            expires: expires.unix_timestamp(),
        }
        .seal(&self.seal);
        // The redirect is signed into the policy: token and receipt come back with the bucket's
        // `bucket`, `key` and `etag` (both are base64url and hex: nothing to escape).
        let separator = if redirect.contains('?') { '&' } else { '?' };
        spec.on_success = Some(OnSuccess::Redirect(format!(
            "{redirect}{separator}session={pass}&receipt={receipt}"
        )));
        let form = self.sign_form(&signer, &spec, now, who.uploader.as_str())?;
        self.record_grant(&granted, who, form.expires_at(), &spec.metadata)?;
        Ok(Some(self.answer(spec.key, form, receipt)))
    }
}

/// What confirming a plain form's upload found.
pub(super) enum Plain {
    /// It is the form's first file, under a usable name: kept.
    Kept,
    /// Its name is not one the rules accept as it is: removed, with what the page is told.
    UnusableName(UploadError),
    /// The form stored another file first: removed (with any other extra found), with what
    /// the page is told.
    NotFirst(UploadError),
}

impl Uploads {
    /// Confirming a plain form's upload at `key` for `subject`: its name must be one the rules
    /// accept as it is, and it must be its form's first file. Anything else is removed. An
    /// error only when the bucket (or the outbox) cannot be asked.
    pub(super) async fn keep_one_plain_upload(
        &self,
        objects: &Objects,
        signed: &Receipt,
        key: &str,
        subject: Option<&str>,
    ) -> Result<Plain, UploadError> {
        let name = key.rsplit('/').next().unwrap_or_default();
        let uploader = signed.uploader.as_str();
        let unavailable = |err: String| {
            tracing::error!(target: "audit", event = "confirm_failed", uploader, key = ?clip(key), error = %err);
            UploadError::Unavailable("the bucket cannot be checked right now".into())
        };
        if !usable_name(name) {
            if let Err(err) = objects.delete(key).await {
                tracing::error!(target: "audit", event = "mismatch_not_removed", uploader, key = ?clip(key), error = %err);
            }
            tracing::warn!(target: "audit", event = "plain_upload_removed", key = ?clip(key), reason = "unusable name");
            let message =
                format!("{:?} is not a usable file name here; the upload was removed", clip(name));
            return Ok(Plain::UnusableName(UploadError::Refused(message)));
        }
        let directory = &signed.directory;
        let (first, extra) = first_and_extras(objects, directory).await.map_err(unavailable)?;
        if first.as_deref() == Some(key) {
            return Ok(Plain::Kept);
        }
        self.remove_extras(objects, directory, uploader, subject, &extra, By::Browser)
            .await
            .map_err(unavailable)?;
        Ok(Plain::NotFirst(UploadError::Refused(
            "this form was already used for another file; the upload was removed".into(),
        )))
    }

    /// A listing (in key order) without the files plain forms stored after their first, for
    /// `who`. A directory is one signature: more than one object in it means a plain form was
    /// POSTed again, and only its first object is kept (and listed).
    pub(super) async fn one_per_form(
        &self,
        objects: &Objects,
        who: &Requester,
        mut listed: Vec<Listed>,
    ) -> Result<Vec<Listed>, String> {
        let directory = |key: &str| key.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
        let mut crowded: Vec<String> = Vec::new();
        for pair in listed.windows(2) {
            let (first, second) = (directory(&pair[0].key), directory(&pair[1].key));
            if first == second && crowded.last() != Some(&first) {
                crowded.push(first);
            }
        }
        let subject = who.user.as_ref().map(|u| u.subject.as_str());
        for crowded in crowded {
            let prefix = format!("{crowded}/");
            let (kept, extra) = first_and_extras(objects, &prefix).await?;
            let uploader = who.uploader.as_str();
            // Not listed either way; left for the reconciler if they cannot be removed now.
            let removed =
                self.remove_extras(objects, &prefix, uploader, subject, &extra, By::Browser).await;
            if let Err(err) = removed {
                tracing::warn!(event = "extras_not_removed", directory = ?clip(&prefix), error = %err);
            }
            listed
                .retain(|item| !item.key.starts_with(&prefix) || Some(&item.key) == kept.as_ref());
        }
        Ok(listed)
    }

    /// Removes `extra`, objects a plain form in `directory` stored after its first: each one's
    /// `upload.removed` event is queued first (when events are on), so none is removed
    /// unreported; if the outbox does not take them, nothing is removed now (the next look
    /// removes them). Answers how many were removed.
    pub(super) async fn remove_extras(
        &self,
        objects: &Objects,
        directory: &str,
        uploader: &str,
        subject: Option<&str>,
        extra: &[Listed],
        by: By,
    ) -> Result<usize, String> {
        self.report_removed(directory, uploader, subject, extra, by).await?;
        for item in extra {
            objects.delete(&item.key).await?;
            tracing::warn!(target: "audit", event = "plain_upload_removed", key = ?clip(&item.key), reason = "the form was used again");
        }
        Ok(extra.len())
    }
}

/// Whether a plain form's file may keep the name its browser gave it: one
/// [`app::rules::file_name`] accepts as it is.
pub(super) fn usable_name(name: &str) -> bool {
    app::rules::file_name(name).ok().as_deref() == Some(name)
}

/// The objects under `directory` but `keep` (all of them for `None`): a plain form's extras once
/// its browser's verdict kept `keep`.
pub(super) async fn all_but(
    objects: &Objects,
    directory: &str,
    keep: Option<&str>,
) -> Result<Vec<Listed>, String> {
    let mut listed = objects.list(directory, 1000).await?;
    listed.retain(|item| Some(item.key.as_str()) != keep);
    Ok(listed)
}

/// The first object stored under `directory` (the oldest; by key among equals), and every other.
pub(super) async fn first_and_extras(
    objects: &Objects,
    directory: &str,
) -> Result<(Option<String>, Vec<Listed>), String> {
    let mut listed = objects.list(directory, 1000).await?;
    listed.sort_by(|a, b| (a.last_modified, &a.key).cmp(&(b.last_modified, &b.key)));
    let mut rest = listed.into_iter();
    let first = rest.next().map(|first| first.key);
    Ok((first, rest.collect()))
}
