//! The signing service behind the `sign_upload` server function: validates the request,
//! picks the key under the uploader's prefix, signs through [`crate::policy`], and writes an
//! audit event for every form signed or refused.

use std::sync::{Arc, Mutex};

use app::api::{SignedUpload, UploadError};
use app::signing::{UploadRequest, UploadSigner, UploaderId};
use time::OffsetDateTime;

use crate::config::Config;
use crate::policy::{policy_expiry, rfc3339, ExpiryLimits, FormSpec, SigningKey, SizeRule};
use crate::validate;

/// Reads the current time; injected so tests can pin it.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

pub struct S3Signer {
    config: Config,
    clock: Clock,
    /// The day's signing key, derived on first use each UTC day.
    key: Mutex<Option<SigningKey>>,
}

impl S3Signer {
    pub fn new(config: Config) -> Self {
        Self::with_clock(config, Arc::new(OffsetDateTime::now_utc))
    }

    pub fn with_clock(config: Config, clock: Clock) -> Self {
        Self { config, clock, key: Mutex::new(None) }
    }

    fn signing_key(&self, now: OffsetDateTime) -> SigningKey {
        let mut cached = self.key.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match cached.as_ref() {
            Some(key) if key.is_for(now, &self.config.region) => key.clone(),
            _ => {
                let key = SigningKey::derive(&self.config.credentials, now, &self.config.region);
                *cached = Some(key.clone());
                key
            }
        }
    }

    fn try_sign(&self, uploader: &UploaderId, request: &UploadRequest) -> Result<SignedUpload, UploadError> {
        let refused = UploadError::Refused;
        let name = validate::file_name(&request.file_name).map_err(refused)?;
        let size = validate::size(request.size).map_err(refused)?;
        let content_type = validate::content_type(&request.content_type).map_err(refused)?;

        let now = (self.clock)();
        let expires_at = policy_expiry(now, self.config.policy_lifetime, ExpiryLimits::default(), self.config.credentials.expires_at())
            .map_err(|e| UploadError::Unavailable(e.to_string()))?;
        // A fresh directory per upload: two files with one name never overwrite each other.
        let key = format!("uploads/{}/{}/{name}", uploader.as_str(), uuid::Uuid::new_v4().simple());
        let form = FormSpec {
            bucket: &self.config.bucket,
            key: &key,
            content_type: &content_type,
            size: SizeRule::Exact(size),
            success_action_status: Some(201),
            expires_at,
        }
        .sign(&self.config.credentials, &self.signing_key(now), &self.config.region, now)
        .map_err(|e| UploadError::Unavailable(e.to_string()))?;

        tracing::info!(
            target: "audit",
            event = "policy_signed",
            uploader = uploader.as_str(),
            key = %key,
            size,
            content_type = %content_type,
            expires_at = %rfc3339(expires_at),
            temporary_credentials = self.config.credentials.session_token().is_some(),
        );
        Ok(SignedUpload { url: self.config.post_url(), key, fields: form.fields, expires_at: rfc3339(expires_at) })
    }
}

impl UploadSigner for S3Signer {
    fn sign(&self, uploader: &UploaderId, request: UploadRequest) -> Result<SignedUpload, UploadError> {
        let result = self.try_sign(uploader, &request);
        if let Err(err) = &result {
            tracing::warn!(
                target: "audit",
                event = "policy_refused",
                uploader = uploader.as_str(),
                file_name = ?request.file_name,
                size = request.size,
                content_type = ?request.content_type,
                reason = %err,
            );
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Credentials;
    use std::time::Duration;
    use time::macros::datetime;

    fn signer() -> S3Signer {
        let config = Config {
            bucket: "uploads".into(),
            region: "garage".into(),
            credentials: Credentials::new("GK0123456789abcdef01234567", "secret"),
            endpoint: Some("http://127.0.0.1:3900".into()),
            policy_lifetime: Duration::from_secs(300),
        };
        S3Signer::with_clock(config, Arc::new(|| datetime!(2026-11-28 11:55:00 UTC)))
    }

    fn uploader() -> UploaderId {
        UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap()
    }

    fn request(name: &str, size: u64, content_type: &str) -> UploadRequest {
        UploadRequest { file_name: name.into(), size, content_type: content_type.into() }
    }

    #[test]
    fn signs_a_key_under_the_uploader_prefix() {
        let signed = signer().sign(&uploader(), request("../cat.png", 42, "image/png")).unwrap();
        assert_eq!(signed.url, "http://127.0.0.1:3900/uploads");
        assert!(signed.key.starts_with("uploads/0123456789abcdef0123456789abcdef/"), "{}", signed.key);
        assert!(signed.key.ends_with("/cat.png"), "{}", signed.key);
        assert_eq!(signed.fields[0], ("key".to_string(), signed.key.clone()));
        assert_eq!(signed.expires_at, "2026-11-28T12:00:00Z");
    }

    #[test]
    fn unknown_type_is_signed_as_octet_stream() {
        let signed = signer().sign(&uploader(), request("blob", 1, "")).unwrap();
        assert_eq!(signed.fields[1], ("Content-Type".to_string(), "application/octet-stream".to_string()));
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let s = signer();
        for req in [request("..", 1, "text/plain"), request("a.txt", 0, "text/plain"), request("a.txt", 1, "not a type")] {
            assert!(matches!(s.sign(&uploader(), req.clone()), Err(UploadError::Refused(_))), "{req:?}");
        }
    }

    #[test]
    fn the_day_key_is_reused() {
        let s = signer();
        s.sign(&uploader(), request("a", 1, "")).unwrap();
        let first = format!("{:?}", s.key.lock().unwrap());
        s.sign(&uploader(), request("b", 1, "")).unwrap();
        assert_eq!(first, format!("{:?}", s.key.lock().unwrap()));
    }
}
