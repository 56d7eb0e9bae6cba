//! The signing service behind the `sign_upload` server function: validates the request,
//! picks the key under the uploader's prefix, signs through [`crate::policy`], and writes an
//! audit event for every form signed or refused.

use std::sync::Arc;

use app::api::{SignedUpload, UploadError, BucketInfo};
use app::format::human_bytes;
use app::signing::{Requester, UploadRequest, UploadSigner};
use time::OffsetDateTime;

use crate::config::Config;
use crate::policy::{rfc3339, FormError, FormSpec, OnSuccess, PolicySigner, SignedForm, SizeRule};
use crate::metrics::Metrics;
use crate::ratelimit::SignLimits;
use crate::validate;

/// Reads the current time; injected so tests can pin it.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

pub struct S3Signer {
    config: Config,
    policies: PolicySigner,
    clock: Clock,
    /// Set when signing for the embedded dev bucket: where its files land.
    dev_data_dir: Option<String>,
    rate: SignLimits,
    metrics: Arc<Metrics>,
}

impl S3Signer {
    pub fn new(config: Config) -> Self {
        Self::with_clock(config, Arc::new(OffsetDateTime::now_utc))
    }

    pub fn with_clock(config: Config, clock: Clock) -> Self {
        let policies = PolicySigner::new(config.credentials.clone(), config.region.clone());
        let rate = SignLimits::per_minute(config.limits.signs_per_minute, config.limits.signs_per_minute_per_ip);
        Self { config, policies, clock, dev_data_dir: None, rate, metrics: Arc::new(Metrics::new()) }
    }

    /// Counts into `metrics` (by default, a registry of its own).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Marks this signer as signing for the embedded dev bucket storing into `dir`.
    pub fn for_dev_bucket(mut self, dir: impl Into<String>) -> Self {
        self.dev_data_dir = Some(dir.into());
        self
    }

    /// The form for one upload; what both the server function and `server sign` go through.
    pub fn spec(&self, key: String, content_type: Option<String>, size: SizeRule) -> FormSpec {
        let mut spec = FormSpec::new(self.config.bucket.clone(), key, size);
        spec.content_type = content_type;
        spec.on_success = Some(OnSuccess::Status(201));
        spec.expires_in = self.config.policy_lifetime;
        spec
    }

    pub fn post_url(&self) -> String {
        self.config.post_url()
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// Signs a form and writes the audit event; every signature the server makes comes here.
    pub fn sign_form(&self, spec: &FormSpec, now: OffsetDateTime, uploader: &str) -> Result<SignedForm, FormError> {
        let form = self.policies.sign(spec, now)?;
        tracing::info!(
            target: "audit",
            event = "policy_signed",
            uploader,
            key = %spec.key,
            size = ?spec.size,
            content_type = spec.content_type.as_deref().unwrap_or(""),
            expires_at = %rfc3339(form.expires_at()),
            temporary_credentials = self.config.credentials.session_token().is_some(),
        );
        Ok(form)
    }

    /// Signs, or says why not: a short reason for metrics, and the error for the page.
    fn try_sign(&self, who: &Requester, request: &UploadRequest) -> Result<SignedUpload, (&'static str, UploadError)> {
        let uploader = &who.uploader;
        self.rate.check(uploader.as_str(), who.ip).map_err(|wait| {
            ("rate_limited", UploadError::TooManyRequests { retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) })
        })?;
        if !self.config.limits.accepts_access_code(&request.access_code) {
            let message = if request.access_code.is_empty() {
                "uploading here needs an access code"
            } else {
                "that access code is not right"
            };
            return Err(("access_code", UploadError::AccessCode(message.into())));
        }
        let refused = |reason| move |message| (reason, UploadError::Refused(message));
        let name = validate::file_name(&request.file_name).map_err(refused("invalid_name"))?;
        let size = validate::size(request.size).map_err(refused("invalid_size"))?;
        let limits = &self.config.limits;
        if size > limits.max_bytes {
            return Err(refused("too_large")(format!(
                "the file is {}; files here can be at most {}",
                human_bytes(size),
                human_bytes(limits.max_bytes)
            )));
        }
        let content_type = validate::content_type(&request.content_type).map_err(refused("invalid_type"))?;
        if !limits.allows_type(&content_type) {
            return Err(refused("type_not_allowed")(format!(
                "files of type {content_type} are not accepted here (allowed: {})",
                limits.allowed_types.join(", ")
            )));
        }

        // A fresh directory per upload: two files with one name never overwrite each other.
        let key = format!("uploads/{}/{}/{name}", uploader.as_str(), uuid::Uuid::new_v4().simple());
        let form = self
            .sign_form(&self.spec(key.clone(), Some(content_type), SizeRule::Exact(size)), self.now(), uploader.as_str())
            .map_err(|e| ("unavailable", UploadError::Unavailable(e.to_string())))?;
        Ok(SignedUpload { url: self.config.post_url(), key, expires_at: rfc3339(form.expires_at()), fields: form.fields })
    }
}

impl UploadSigner for S3Signer {
    fn sign(&self, who: &Requester, request: UploadRequest) -> Result<SignedUpload, UploadError> {
        let started = std::time::Instant::now();
        match self.try_sign(who, &request) {
            Ok(signed) => {
                self.metrics.signed(started.elapsed().as_secs_f64());
                Ok(signed)
            }
            Err((reason, err)) => {
                self.metrics.refused(reason);
                tracing::warn!(
                    target: "audit",
                    event = "policy_refused",
                    uploader = who.uploader.as_str(),
                    ip = ?who.ip,
                    file_name = ?request.file_name,
                    size = request.size,
                    content_type = ?request.content_type,
                    reason,
                    message = %err,
                );
                Err(err)
            }
        }
    }

    fn target(&self) -> BucketInfo {
        BucketInfo {
            bucket: self.config.bucket.clone(),
            url: self.config.post_url(),
            dev_data_dir: self.dev_data_dir.clone(),
            max_bytes: self.config.limits.max_bytes,
            allowed_types: self.config.limits.allowed_types.clone(),
            access_code_required: self.config.limits.access_code_sha256.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Credentials;
    use app::signing::UploaderId;
    use std::time::Duration;
    use time::macros::datetime;

    fn signer() -> S3Signer {
        let config = Config {
            bucket: "uploads".into(),
            region: "garage".into(),
            credentials: Credentials::new("GK0123456789abcdef01234567", "secret"),
            endpoint: Some("http://127.0.0.1:3900".into()),
            policy_lifetime: Duration::from_secs(300),
            limits: crate::config::Limits {
                max_bytes: 1000,
                allowed_types: vec!["image/*".into(), "text/plain".into()],
                ..Default::default()
            },
        };
        S3Signer::with_clock(config, Arc::new(|| datetime!(2026-11-28 11:55:00 UTC)))
    }

    fn uploader() -> Requester {
        Requester { uploader: UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap(), ip: None }
    }

    fn request(name: &str, size: u64, content_type: &str) -> UploadRequest {
        UploadRequest { file_name: name.into(), size, content_type: content_type.into(), access_code: String::new() }
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
        let mut config = signer().config;
        config.limits = crate::config::Limits::default();
        let signed = S3Signer::new(config).sign(&uploader(), request("blob", 1, "")).unwrap();
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
    fn the_configured_limits_are_enforced_with_readable_reasons() {
        let s = signer();
        assert_eq!(
            s.sign(&uploader(), request("big.png", 1001, "image/png")),
            Err(UploadError::Refused("the file is 1001 B; files here can be at most 1000 B".into()))
        );
        assert_eq!(
            s.sign(&uploader(), request("page.html", 10, "text/html")),
            Err(UploadError::Refused("files of type text/html are not accepted here (allowed: image/*, text/plain)".into()))
        );
        // An unknown type is application/octet-stream, which this list does not allow either.
        assert!(s.sign(&uploader(), request("blob", 10, "")).is_err());
        assert!(s.sign(&uploader(), request("cat.webp", 1000, "image/webp")).is_ok());
    }
}
