//! The upload service behind the server functions ([`Uploads`]): checks each request against
//! [`app::rules`] and the rate limits, picks the key under the uploader's prefix, signs through
//! [`crate::policy`] with the uploader's credentials, and writes an audit event for every form
//! signed or refused; then checks what arrived ([`confirm`]) and lists it.

mod confirm;
mod ledger;
mod objects;
mod ratelimit;

use std::sync::Arc;

use app::rules;
use app::service::{Requester, UploadRequest, UploadService, UploaderId};
use app::wire::{BucketInfo, SignedUpload, StoredUpload, UploadError, UploadReport};
use futures::future::BoxFuture;
use time::OffsetDateTime;

use crate::config::Config;
use crate::credentials::Source;
use crate::metrics::Metrics;
use crate::policy::{rfc3339, FormSpec, OnSuccess, PolicySigner, SignedForm, SizeRule};
use confirm::Confirmer;
use ledger::{Ledger, Signed};
pub use objects::Objects;
use ratelimit::SignLimits;

/// Reads the current time; injected so tests can pin it.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The upload service: what the server functions call (see [`UploadService`]), and what
/// `server sign` and `server doctor` sign with.
pub struct Uploads {
    config: Config,
    source: Source,
    /// Where uploads are checked after the browser reports them.
    objects: Option<Objects>,
    /// What was signed and what was confirmed.
    ledger: Ledger,
    clock: Clock,
    /// Set when signing for the embedded dev bucket: where its files land.
    dev_data_dir: Option<String>,
    rate: SignLimits,
    metrics: Arc<Metrics>,
}

/// Why a signature could not be made: a short reason for metrics, and the error for the page.
type Refusal = (&'static str, UploadError);

/// A request that passed every check, in the form it is signed in.
struct Checked {
    name: String,
    size: u64,
    content_type: String,
    checksum: Option<String>,
    metadata: Vec<(String, String)>,
}

impl Uploads {
    /// The service, signing with the configuration's fixed keys.
    ///
    /// # Panics
    /// When the configuration has no keys (it then needs [`Uploads::with_source`]).
    pub fn new(config: Config) -> Self {
        let credentials = config.credentials.clone().expect("Uploads::new needs fixed credentials");
        let source = Source::fixed(credentials, config.region.clone());
        Self::with_source(config, source)
    }

    pub fn with_source(config: Config, source: Source) -> Self {
        let rate = SignLimits::per_minute(config.limits.files_per_minute, config.limits.signs_per_minute_per_ip);
        Self {
            config,
            source,
            objects: None,
            ledger: Ledger::default(),
            clock: Arc::new(OffsetDateTime::now_utc),
            dev_data_dir: None,
            rate,
            metrics: Arc::new(Metrics::new()),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Where uploads are checked after the browser reports them; without it, confirming says
    /// the service is unavailable.
    pub fn with_objects(mut self, objects: Objects) -> Self {
        self.objects = Some(objects);
        self
    }

    /// Counts into `metrics` (by default, a registry of its own).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The service signing for the running dev bucket, checking uploads on its disk.
    pub fn for_dev_bucket(dev: crate::devbucket::Running) -> Self {
        let objects = Objects::Dev { store: dev.store, bucket: dev.config.bucket.clone(), endpoint: dev.endpoint };
        let mut uploads = Self::new(dev.config).with_objects(objects);
        uploads.dev_data_dir = Some(dev.files);
        uploads
    }

    pub fn credential_kind(&self) -> &'static str {
        self.source.kind()
    }

    pub fn config(&self) -> &Config {
        &self.config
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

    /// What the browser gets for a signed form.
    fn answer(&self, key: String, form: SignedForm) -> SignedUpload {
        SignedUpload { url: self.config.post_url(), key, expires_at: rfc3339(form.expires_at()), fields: form.fields }
    }

    /// Whether each uploader signs with credentials limited to its own prefix (STS).
    pub fn credentials_per_uploader(&self) -> bool {
        matches!(self.source, Source::Sts(_))
    }

    /// The policy signer holding `uploader`'s credentials (fetched from STS when so configured).
    pub async fn policy_signer(&self, uploader: &UploaderId, now: OffsetDateTime) -> Result<Arc<PolicySigner>, UploadError> {
        self.source.signer_for(uploader, now).await.map_err(|err| {
            tracing::error!(target: "audit", event = "credentials_unavailable", uploader = uploader.as_str(), error = %err);
            UploadError::Unavailable("signing is temporarily unavailable; try again in a minute".into())
        })
    }

    /// Signs a form and writes the audit event; every signature the server makes comes here.
    pub fn sign_form(&self, signer: &PolicySigner, spec: &FormSpec, now: OffsetDateTime, uploader: &str) -> Result<SignedForm, UploadError> {
        let form = signer.sign(spec, now).map_err(|err| {
            tracing::error!(target: "audit", event = "signing_failed", uploader, error = %err);
            UploadError::Unavailable(err.to_string())
        })?;
        tracing::info!(
            target: "audit",
            event = "policy_signed",
            uploader,
            key = %spec.key,
            size = ?spec.size,
            content_type = spec.content_type.as_deref().unwrap_or(""),
            checksum = spec.checksum_sha256.is_some(),
            expires_at = %rfc3339(form.expires_at()),
            credentials = self.source.kind(),
        );
        Ok(form)
    }

    /// Everything that can be said about a request without credentials: rate, access code, and
    /// what [`app::rules`] says of the name, size, type, checksum and metadata.
    fn check(&self, who: &Requester, request: &UploadRequest) -> Result<Checked, Refusal> {
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
        let name = rules::file_name(&request.file_name).map_err(refused("invalid_name"))?;
        let limits = &self.config.limits;
        // The page checks size and type with the same functions before asking.
        let size = request.size;
        if let Some(message) = rules::size_refusal(size, limits.max_bytes) {
            return Err(refused(if size == 0 { "invalid_size" } else { "too_large" })(message));
        }
        let content_type = rules::content_type(&request.content_type).map_err(refused("invalid_type"))?;
        if let Some(message) = rules::type_refusal(&limits.allowed_types, &content_type) {
            return Err(refused("type_not_allowed")(message));
        }
        let checksum = request.checksum_sha256.as_deref().map(rules::checksum_sha256).transpose().map_err(refused("invalid_checksum"))?;
        let metadata = rules::metadata(&request.metadata).map_err(refused("invalid_metadata"))?;
        Ok(Checked { name, size, content_type, checksum, metadata })
    }

    async fn try_sign(&self, who: &Requester, request: &UploadRequest) -> Result<SignedUpload, Refusal> {
        let Checked { name, size, content_type, checksum, metadata } = self.check(who, request)?;
        let uploader = who.uploader.as_str();
        // A fresh directory per upload: two files with one name never overwrite each other.
        let directory = format!("uploads/{uploader}/{}/", uuid::Uuid::new_v4().simple());
        let key = format!("{directory}{name}");
        let now = self.now();
        let signer = self.policy_signer(&who.uploader, now).await.map_err(|e| ("credentials", e))?;
        let mut spec = self.spec(key.clone(), Some(content_type.clone()), SizeRule::Exact(size));
        spec.checksum_sha256 = checksum.clone();
        spec.metadata = metadata;
        let form = self.sign_form(&signer, &spec, now, uploader).map_err(|e| ("unavailable", e))?;
        self.ledger.signed(
            directory,
            Signed {
                uploader: who.uploader.clone(),
                name: Some(name),
                size: SizeRule::Exact(size),
                content_type: Some(content_type),
                checksum_sha256: checksum,
                signed_at: now,
            },
        );
        Ok(self.answer(key, form))
    }

    /// The page's no-JavaScript form: `${filename}` under a fresh directory of the uploader's
    /// prefix, 1 byte to the size limit, stored as application/octet-stream (a plain form
    /// cannot tell the type), and a redirect back to the app.
    async fn page_form_for(&self, who: &Requester, redirect: String) -> Result<Option<SignedUpload>, UploadError> {
        const PLAIN_TYPE: &str = "application/octet-stream";
        let limits = &self.config.limits;
        if limits.access_code_sha256.is_some() || !limits.allows_type(PLAIN_TYPE) {
            return Ok(None);
        }
        // Every page view signs one (and, with STS, a new visitor costs an STS call): bounded
        // by the address's signing budget; past it the page simply offers no plain form.
        if self.rate.check_ip(who.ip).is_err() {
            self.metrics.refused("rate_limited");
            return Ok(None);
        }
        let uploader = who.uploader.as_str();
        let directory = format!("uploads/{uploader}/{}/", uuid::Uuid::new_v4().simple());
        let size = SizeRule::Range { min: 1, max: limits.max_bytes };
        let now = self.now();
        let signer = self.policy_signer(&who.uploader, now).await?;
        let mut spec = self.spec(format!("{directory}${{filename}}"), Some(PLAIN_TYPE.into()), size);
        spec.on_success = Some(OnSuccess::Redirect(redirect));
        let form = self.sign_form(&signer, &spec, now, uploader)?;
        let signed = Signed {
            uploader: who.uploader.clone(),
            name: None,
            size,
            content_type: Some(PLAIN_TYPE.into()),
            checksum_sha256: None,
            signed_at: now,
        };
        self.ledger.signed(directory, signed);
        Ok(Some(self.answer(spec.key, form)))
    }

    async fn sign_upload(&self, who: &Requester, request: UploadRequest) -> Result<SignedUpload, UploadError> {
        let started = std::time::Instant::now();
        match self.try_sign(who, &request).await {
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
}

impl UploadService for Uploads {
    fn sign<'a>(&'a self, who: &'a Requester, request: UploadRequest) -> BoxFuture<'a, Result<SignedUpload, UploadError>> {
        Box::pin(self.sign_upload(who, request))
    }

    fn confirm<'a>(&'a self, who: &'a Requester, report: UploadReport) -> BoxFuture<'a, Result<StoredUpload, UploadError>> {
        let confirmer = Confirmer { objects: self.objects.as_ref(), ledger: &self.ledger, metrics: &self.metrics };
        Box::pin(confirmer.confirm(who, report, self.now()))
    }

    fn page_form<'a>(&'a self, who: &'a Requester, redirect: String) -> BoxFuture<'a, Result<Option<SignedUpload>, UploadError>> {
        Box::pin(self.page_form_for(who, redirect))
    }

    fn uploads<'a>(&'a self, who: &'a Requester) -> BoxFuture<'a, Result<Vec<StoredUpload>, UploadError>> {
        Box::pin(async move {
            let mut uploads = self.ledger.uploads(&who.uploader);
            // Presigned links are short-lived: make them fresh for every listing.
            if let Some(objects) = &self.objects {
                for upload in &mut uploads {
                    if let Ok(url) = objects.view_url(&upload.key).await {
                        upload.view_url = url;
                    }
                }
            }
            Ok(uploads)
        })
    }

    fn target(&self) -> BucketInfo {
        let limits = &self.config.limits;
        BucketInfo {
            bucket: self.config.bucket.clone(),
            url: self.config.post_url(),
            dev_data_dir: self.dev_data_dir.clone(),
            max_bytes: limits.max_bytes,
            allowed_types: limits.allowed_types.clone(),
            access_code_required: limits.access_code_sha256.is_some(),
            files_per_minute: limits.files_per_minute.get(),
            checksum_max_bytes: limits.checksum_max_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Credentials;
    use app::service::UploaderId;
    use std::time::Duration;
    use time::macros::datetime;

    fn uploads() -> Uploads {
        let config = Config {
            bucket: "uploads".into(),
            region: "garage".into(),
            credentials: Some(Credentials::new("GK0123456789abcdef01234567", "secret")),
            sts: None,
            endpoint: Some("http://127.0.0.1:3900".into()),
            policy_lifetime: Duration::from_secs(300),
            limits: crate::config::Limits {
                max_bytes: 1000,
                allowed_types: vec!["image/*".into(), "text/plain".into()],
                ..Default::default()
            },
        };
        Uploads::new(config).with_clock(Arc::new(|| datetime!(2026-11-28 11:55:00 UTC)))
    }

    impl Uploads {
        fn sign_blocking(&self, who: &Requester, request: UploadRequest) -> Result<SignedUpload, UploadError> {
            futures::executor::block_on(self.sign(who, request))
        }
    }

    fn uploader() -> Requester {
        Requester { uploader: UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap(), ip: None }
    }

    fn request(name: &str, size: u64, content_type: &str) -> UploadRequest {
        UploadRequest { file_name: name.into(), size, content_type: content_type.into(), access_code: String::new(), checksum_sha256: None, metadata: Default::default() }
    }

    #[test]
    fn signs_a_key_under_the_uploader_prefix() {
        let signed = uploads().sign_blocking(&uploader(), request("../cat.png", 42, "image/png")).unwrap();
        assert_eq!(signed.url, "http://127.0.0.1:3900/uploads");
        assert!(signed.key.starts_with("uploads/0123456789abcdef0123456789abcdef/"), "{}", signed.key);
        assert!(signed.key.ends_with("/cat.png"), "{}", signed.key);
        assert_eq!(signed.fields[0], ("key".to_string(), signed.key.clone()));
        assert_eq!(signed.expires_at, "2026-11-28T12:00:00Z");
    }

    #[test]
    fn unknown_type_is_signed_as_octet_stream() {
        let mut config = uploads().config;
        config.limits = crate::config::Limits::default();
        let signed = Uploads::new(config).sign_blocking(&uploader(), request("blob", 1, "")).unwrap();
        assert_eq!(signed.fields[1], ("Content-Type".to_string(), "application/octet-stream".to_string()));
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let s = uploads();
        for req in [request("..", 1, "text/plain"), request("a.txt", 0, "text/plain"), request("a.txt", 1, "not a type")] {
            assert!(matches!(s.sign_blocking(&uploader(), req.clone()), Err(UploadError::Refused(_))), "{req:?}");
        }
    }

    #[test]
    fn the_configured_limits_are_enforced_with_readable_reasons() {
        let s = uploads();
        assert_eq!(
            s.sign_blocking(&uploader(), request("big.png", 1001, "image/png")),
            Err(UploadError::Refused("the file is 1001 B; files here can be at most 1000 B".into()))
        );
        assert_eq!(
            s.sign_blocking(&uploader(), request("page.html", 10, "text/html")),
            Err(UploadError::Refused("files of type text/html are not accepted here (allowed: image/*, text/plain)".into()))
        );
        // An unknown type is application/octet-stream, which this list does not allow either.
        assert!(s.sign_blocking(&uploader(), request("blob", 10, "")).is_err());
        assert!(s.sign_blocking(&uploader(), request("cat.webp", 1000, "image/webp")).is_ok());
    }
}
