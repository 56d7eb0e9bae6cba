//! What an upload holds, checked as verification makes it: its type, from its first bytes read
//! from the bucket and judged by its profile's rules ([`crate::filetype`]), then, where its
//! profile scans, malware ([`Uploads::scan_refusal`]).

use super::objects::{ObjectHead, Objects};
use super::Uploads;
use crate::filetype::{refusal, ContentCheck, SNIFF_BYTES};
use crate::logging::clip;
use crate::quarantine;

impl Uploads {
    /// Every check of what the object `found` at `key` holds, in order (its type, then
    /// malware): the first refusal, if any; an error when a check could not be made now.
    pub(super) async fn content_refusal(
        &self,
        objects: &Objects,
        directory: &str,
        key: &str,
        found: &ObjectHead,
    ) -> Result<Option<String>, String> {
        // A staged upload whose profile was taken out of the configuration: its checks are not
        // known any more, and the default profile's may be fewer (no scan). Never promoted.
        let profile = super::directory_profile(directory);
        if quarantine::is_staged(directory) && self.config.profiles.get(profile).is_none() {
            return Ok(Some(format!(
                "its upload profile {profile:?} is no longer configured, so it could not be checked"
            )));
        }
        if let Some(refused) = self.type_refusal(objects, directory, key, found).await? {
            return Ok(Some(refused));
        }
        self.scan_refusal(objects, directory, key, found).await
    }

    /// Why the object `found` at `key`, in the upload directory `directory`, is refused by its
    /// profile's `content_check` (`Ok(None)`: it passes, or is not checked); an error when its
    /// first bytes could not be read. A refusal is counted and logged; removing the object and
    /// the verdict are the caller's.
    async fn type_refusal(
        &self,
        objects: &Objects,
        directory: &str,
        key: &str,
        found: &ObjectHead,
    ) -> Result<Option<String>, String> {
        let profile = super::directory_profile(directory);
        let check = self
            .config
            .profiles
            .get(profile)
            .map_or(self.config.limits.content_check, |p| p.content_check);
        if check == ContentCheck::Off {
            return Ok(None);
        }
        let head = match found.size {
            // A ranged GET of nothing is an error (416), and there is nothing to read.
            0 => Vec::new(),
            // Gone since its HEAD: no verdict from this look (a later one finds it gone).
            _ => objects
                .first_bytes(key, SNIFF_BYTES, Some(&found.etag))
                .await?
                .ok_or("the object went away while it was checked")?,
        };
        let refused = refusal(check, &found.content_type, &head);
        if let Some(reason) = &refused {
            self.metrics.content_refused();
            tracing::warn!(target: "audit", event = "content_refused", profile, key = ?clip(key), declared = ?clip(&found.content_type), reason = %reason);
        }
        Ok(refused)
    }
}
