//! How long a policy may live: the requested lifetime, capped by a configured maximum and by
//! the credentials' own expiry (a policy that outlives its credentials fails at S3 anyway,
//! with a confusing ExpiredToken).

use std::time::Duration;
use time::OffsetDateTime;

use super::timefmt::rfc3339;

/// Bounds on policy lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryLimits {
    /// No policy lives longer than this (default 10 minutes).
    pub max_lifetime: Duration,
    /// A policy expires at least this long before its credentials do.
    pub credentials_margin: Duration,
    /// Below this, a policy is useless: refuse rather than sign it.
    pub min_lifetime: Duration,
}

impl Default for ExpiryLimits {
    fn default() -> Self {
        Self {
            max_lifetime: Duration::from_secs(600),
            credentials_margin: Duration::from_secs(60),
            min_lifetime: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    #[error("the credentials expire at {} and leave no time for a policy", rfc3339(*.0))]
    CredentialsExpireTooSoon(OffsetDateTime),
}

/// The expiration for a policy signed at `now` that should live `requested`.
pub fn policy_expiry(
    now: OffsetDateTime,
    requested: Duration,
    limits: ExpiryLimits,
    credentials_expire_at: Option<OffsetDateTime>,
) -> Result<OffsetDateTime, ExpiryError> {
    let mut expires = now + requested.min(limits.max_lifetime);
    if let Some(limit) = credentials_expire_at {
        expires = expires.min(limit - limits.credentials_margin);
        if expires < now + limits.min_lifetime {
            return Err(ExpiryError::CredentialsExpireTooSoon(limit));
        }
    }
    Ok(expires)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-28 12:00:00 UTC);

    #[test]
    fn requested_lifetime_within_the_maximum_is_kept() {
        let at =
            policy_expiry(NOW, Duration::from_secs(300), ExpiryLimits::default(), None).unwrap();
        assert_eq!(at, datetime!(2026-11-28 12:05:00 UTC));
    }

    #[test]
    fn lifetime_is_capped_by_the_maximum() {
        let at =
            policy_expiry(NOW, Duration::from_secs(86_400), ExpiryLimits::default(), None).unwrap();
        assert_eq!(at, datetime!(2026-11-28 12:10:00 UTC));
    }

    #[test]
    fn policy_ends_a_margin_before_the_credentials() {
        let creds_end = datetime!(2026-11-28 12:03:00 UTC);
        let at =
            policy_expiry(NOW, Duration::from_secs(300), ExpiryLimits::default(), Some(creds_end))
                .unwrap();
        assert_eq!(at, datetime!(2026-11-28 12:02:00 UTC));
    }

    #[test]
    fn nearly_expired_credentials_are_refused() {
        let creds_end = datetime!(2026-11-28 12:01:20 UTC);
        assert_eq!(
            policy_expiry(NOW, Duration::from_secs(300), ExpiryLimits::default(), Some(creds_end)),
            Err(ExpiryError::CredentialsExpireTooSoon(creds_end))
        );
    }
}
