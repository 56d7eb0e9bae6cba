//! `my_uploads`: the uploader's objects as the bucket lists them, newest first (the key layout
//! makes the bucket's order newest first, so the first page is enough), with fresh links to
//! view them; without the files plain forms stored after their first.

use app::rules::DEFAULT_PROFILE;
use app::service::{Requester, UploaderId};
use app::wire::{StoredUpload, UploadError};

use super::Uploads;
use crate::policy::rfc3339;

/// "Your uploads" shows this many, newest first.
pub const MAX_LISTED: usize = 100;

/// Where `profile`'s uploads of `uploader` are: the profile's directory, or for the default
/// profile its directories alone, which all start `ffff` (they count down from the largest
/// 64-bit number, in milliseconds: for the next 8 000 years), a start no profile's name may
/// have ([`app::rules::profile_name_refusal`]).
fn listing_prefix(uploader: &UploaderId, profile: &str) -> String {
    let base = super::uploader_prefix(uploader);
    match profile {
        DEFAULT_PROFILE => format!("{base}ffff"),
        other => format!("{base}{other}/"),
    }
}

impl Uploads {
    /// The uploader's uploads, newest first; nothing for a return token (it shows its one
    /// upload's verdict), for a visitor whose id was made for this request (it has none yet:
    /// the bucket is not asked), or where no bucket can be listed.
    pub async fn my_uploads(
        &self,
        who: &Requester,
        profile: &str,
    ) -> Result<Vec<StoredUpload>, UploadError> {
        let profile = self.profile_for(Some(who), profile)?;
        let Some(objects) = &self.objects else { return Ok(Vec::new()) };
        if who.scope.is_some() || who.new_visitor {
            return Ok(Vec::new());
        }
        self.spend_call(who, "my_uploads").await?;
        let prefix = listing_prefix(&who.uploader, &profile.name);
        let unavailable = |err: String| {
            tracing::error!(event = "list_failed", uploader = who.uploader.as_str(), error = %err);
            UploadError::Unavailable("your uploads cannot be listed right now".into())
        };
        let listed = objects.list(&prefix, MAX_LISTED).await.map_err(unavailable)?;
        let listed = self.one_per_form(objects, who, listed).await.map_err(unavailable)?;
        let mut uploads = Vec::with_capacity(listed.len());
        for item in listed {
            // Presigned links are short-lived: made fresh for every listing.
            let view_url = objects.view_url(&item.key).await.unwrap_or_default();
            uploads.push(StoredUpload {
                name: item.key.rsplit('/').next().unwrap_or_default().to_owned(),
                key: item.key,
                size: item.size,
                content_type: None,
                etag: item.etag,
                view_url,
                stored_at: rfc3339(item.last_modified),
                checksum_sha256: None,
            });
        }
        Ok(uploads)
    }
}
