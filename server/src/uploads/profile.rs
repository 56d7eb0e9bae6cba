//! Which upload profile a call is for, whether its requester may use it, and its rules for
//! them: the profile's own, narrowed (never widened) by the user's token.

use app::rules::{profile_name, Profile};
use app::service::Requester;
use app::wire::UploadError;

use super::check::{Reason, Refusal};
use super::Uploads;

impl Uploads {
    /// The rules `who` uploads under with the profile `name` (empty: `default`): unknown is
    /// [`UploadError::NotFound`]; a profile for roles `who` has none of, or another than the
    /// one their token names, is [`UploadError::Forbidden`]. `who` is `None` when nobody is
    /// signed in yet: the limits are no secret, and every call that signs names someone.
    pub fn profile_for(&self, who: Option<&Requester>, name: &str) -> Result<Profile, UploadError> {
        let name = profile_name(name);
        let profile = self.config.profiles.get(name).ok_or_else(|| {
            UploadError::NotFound(format!("there is no upload profile {name:?} here"))
        })?;
        let Some(who) = who else { return Ok(profile.rules.clone()) };
        let user = who.user.as_ref();
        if let Some(only) = user.and_then(|user| user.narrowing.profile.as_deref()) {
            if only != name {
                return Err(UploadError::Forbidden(format!(
                    "your sign-in is for the upload profile {only:?}, not {name:?}"
                )));
            }
        }
        let roles = user.map(|user| user.roles.as_slice()).unwrap_or_default();
        if !profile.roles.is_empty() && !profile.roles.iter().any(|role| roles.contains(role)) {
            return Err(UploadError::Forbidden(format!(
                "the upload profile {name:?} is for other users (roles: {})",
                profile.roles.join(", ")
            )));
        }
        let mut rules = profile.rules.clone();
        if let Some(user) = user {
            let narrowing = &user.narrowing;
            rules.max_bytes =
                narrowing.max_bytes.map_or(rules.max_bytes, |n| n.min(rules.max_bytes));
            rules.files_per_minute = narrowing
                .files_per_minute
                .map_or(rules.files_per_minute, |n| n.min(rules.files_per_minute));
        }
        Ok(rules)
    }

    /// [`Uploads::profile_for`] for a call that signs: its refusal counted under the reason it
    /// is.
    pub(super) fn profile_to_sign(&self, who: &Requester, name: &str) -> Result<Profile, Refusal> {
        self.profile_for(Some(who), name).map_err(|error| {
            let reason = match error {
                UploadError::NotFound(_) => Reason::UnknownProfile,
                _ => Reason::ProfileForbidden,
            };
            Refusal::new(reason, error)
        })
    }
}
