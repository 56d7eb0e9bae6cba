//! The policy signer: one set of credentials and one region, the day's signing key derived
//! once and reused, and every expiry clamped to what the credentials allow.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use super::{
    policy_expiry, presign, Credentials, ExpiryLimits, FormError, FormSpec, Presign, PresignError,
    SignedForm, SigningKey,
};

#[derive(Debug)]
pub struct PolicySigner {
    credentials: Credentials,
    region: String,
    limits: ExpiryLimits,
    /// The key for the last day signed in; a new UTC day derives a new one.
    key: Mutex<Option<Arc<SigningKey>>>,
}

impl PolicySigner {
    pub fn new(credentials: Credentials, region: impl Into<String>) -> Self {
        Self {
            credentials,
            region: region.into(),
            limits: ExpiryLimits::default(),
            key: Mutex::new(None),
        }
    }

    pub fn with_limits(mut self, limits: ExpiryLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    fn key_for(&self, now: OffsetDateTime) -> Arc<SigningKey> {
        let mut cached = self.key.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match cached.as_ref() {
            Some(key) if key.is_for(now, &self.region) => Arc::clone(key),
            _ => Arc::clone(cached.insert(Arc::new(SigningKey::derive(
                &self.credentials,
                now,
                &self.region,
            )))),
        }
    }

    /// Signs `spec` at `now`. Its expiry is `spec.expires_in`, shortened to the configured
    /// maximum and to a margin before the credentials expire.
    pub fn sign(&self, spec: &FormSpec, now: OffsetDateTime) -> Result<SignedForm, FormError> {
        let expires_at =
            policy_expiry(now, spec.expires_in, self.limits, self.credentials.expires_at())?;
        spec.sign_with(&self.credentials, &self.key_for(now), &self.region, now, expires_at)
    }

    /// A presigned URL for `request` that lives its `expires_in_secs`, shortened as
    /// [`PolicySigner::sign`] shortens a policy's (to the longest lifetime, and a margin before
    /// the credentials expire); answers it with its expiry.
    pub fn presign(
        &self,
        request: &Presign<'_>,
        now: OffsetDateTime,
    ) -> Result<(String, OffsetDateTime), PresignError> {
        let wanted = Duration::from_secs(u64::from(request.expires_in_secs));
        let expires_at = policy_expiry(now, wanted, self.limits, self.credentials.expires_at())?;
        let secs = u32::try_from((expires_at - now).whole_seconds()).unwrap_or(0);
        let request = Presign { expires_in_secs: secs, ..request.clone() };
        let url = presign(&self.credentials, &self.region, &request, now)?;
        Ok((url, expires_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SizeRule;
    use time::macros::datetime;

    #[test]
    fn expiry_is_clamped_by_the_limits_and_the_credentials() {
        let now = datetime!(2026-11-28 11:55:00 UTC);
        let mut spec = FormSpec::new("b", "k", SizeRule::Exact(1));
        spec.expires_in = Duration::from_secs(3600);
        let long_lived = PolicySigner::new(Credentials::new("AKID", "s"), "us-east-1");
        assert_eq!(
            long_lived.sign(&spec, now).unwrap().expires_at(),
            datetime!(2026-11-28 12:05:00 UTC)
        );
        let sts = PolicySigner::new(
            Credentials::new("ASIA", "s")
                .with_session_token("t")
                .with_expiry(datetime!(2026-11-28 11:59:00 UTC)),
            "us-east-1",
        );
        assert_eq!(sts.sign(&spec, now).unwrap().expires_at(), datetime!(2026-11-28 11:58:00 UTC));
    }

    #[test]
    fn a_presigned_url_lives_as_asked_within_the_limits() {
        let now = datetime!(2026-11-28 11:55:00 UTC);
        let signer = PolicySigner::new(Credentials::new("AKID", "s"), "us-east-1");
        let request = |secs| Presign {
            method: "PUT",
            endpoint: "https://b.s3.us-east-1.amazonaws.com",
            path: "/k",
            query: vec![],
            headers: vec![],
            expires_in_secs: secs,
        };
        let (url, expires_at) = signer.presign(&request(60), now).unwrap();
        assert!(url.contains("X-Amz-Expires=60&"), "{url}");
        assert_eq!(expires_at, datetime!(2026-11-28 11:56:00 UTC));
        let (url, _) = signer.presign(&request(3600), now).unwrap();
        assert!(url.contains("X-Amz-Expires=600&"), "at most a policy's longest: {url}");
        let expiring = PolicySigner::new(
            Credentials::new("ASIA", "s").with_expiry(datetime!(2026-11-28 11:56:00 UTC)),
            "us-east-1",
        );
        assert!(matches!(expiring.presign(&request(60), now), Err(PresignError::Expiry(_))));
    }

    #[test]
    fn the_day_key_is_derived_once_per_day() {
        let signer = PolicySigner::new(Credentials::new("AKID", "s"), "us-east-1");
        let spec = FormSpec::new("b", "k", SizeRule::Exact(1));
        let day = |t| {
            signer.sign(&spec, t).unwrap();
            format!("{:?}", signer.key.lock().unwrap())
        };
        let morning = day(datetime!(2026-11-28 08:00:00 UTC));
        assert_eq!(morning, day(datetime!(2026-11-28 23:59:59 UTC)));
        assert_ne!(morning, day(datetime!(2026-11-29 00:00:00 UTC)));
    }
}
