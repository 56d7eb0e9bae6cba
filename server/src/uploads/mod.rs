//! The upload service behind the server functions ([`Uploads`]): checks each request against
//! [`app::rules`] and the [`guard`]'s budgets, picks the key under the uploader's prefix, signs
//! through [`crate::policy`] with the uploader's credentials, seals a [`receipt`] of what it
//! signed, and writes an audit event for every form signed or refused; then checks what arrived
//! against its receipt ([`confirm`]) and lists the uploader's objects from the bucket. Files too
//! big for one POST go in parts ([`multipart`]). It keeps nothing per upload: any instance with
//! the same session key answers any request.

mod confirm;
pub mod guard;
mod multipart;
mod objects;
mod ratelimit;
pub mod receipt;

use std::sync::Arc;

use app::rules;
use app::service::{Requester, UploadRequest, UploadService, UploaderId};
use app::wire::{
    BucketInfo, MultipartUpload, PartToSign, SignedPart, SignedUpload, StoredPart, StoredUpload,
    UploadError, UploadReport,
};
use futures::future::BoxFuture;
use time::OffsetDateTime;

use crate::config::Config;
use crate::credentials::Source;
use crate::logging::clip;
use crate::metrics::Metrics;
use crate::policy::{rfc3339, FormSpec, OnSuccess, PolicySigner, SignedForm, SizeRule};
use crate::seal::{ReturnPass, SessionKey};
use crate::shared::SharedStore;
use confirm::Confirmer;
use guard::Guard;
pub use objects::{Listed, Objects};
use receipt::{Receipt, RECEIPT_LIFETIME};

/// Reads the current time; injected so tests can pin it.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// How long after its form expires a no-JavaScript upload may still come back to the return page.
const RETURN_UPLOAD_TIME: time::Duration = time::Duration::hours(1);

/// "Your uploads" shows this many, newest first.
pub const MAX_LISTED: usize = 100;

/// The upload service: what the server functions call (see [`UploadService`]), and what
/// `server sign` and `server doctor` sign with.
pub struct Uploads {
    config: Config,
    source: Source,
    /// Where uploads are checked after the browser reports them, and listed.
    objects: Option<Objects>,
    /// What receipts are sealed with: the session key, the same on every instance.
    seal: Arc<SessionKey>,
    clock: Clock,
    /// Set when signing for the embedded dev bucket: where its files land.
    dev_data_dir: Option<String>,
    guard: Guard,
    metrics: Arc<Metrics>,
}

/// Why a signature could not be made: a short reason for metrics, and the error for the page.
type Refusal = (&'static str, UploadError);

/// How a file goes to the bucket: one POST, or in parts (each with its own checksum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Post,
    Parts,
}

/// A request that passed every check, in the form it is signed in.
struct Checked {
    name: String,
    size: u64,
    content_type: String,
    checksum: Option<String>,
    metadata: Vec<(String, String)>,
}

/// A fresh directory for one upload under the uploader's prefix: two files with one name never
/// overwrite each other, and keys sort newest first (the time counts down), so the bucket's
/// listing, which is in key order, starts with the newest.
fn fresh_directory(uploader: &str, now: OffsetDateTime) -> String {
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let random =
        u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().expect("8 bytes"));
    format!("uploads/{uploader}/{:016x}{random:016x}/", u64::MAX - millis)
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
        let metrics = Arc::new(Metrics::new());
        let guard = Guard::new(
            config.limits.files_per_minute,
            config.limits.signs_per_minute_per_ip,
            metrics.clone(),
        );
        Self {
            config,
            source,
            objects: None,
            seal: Arc::new(SessionKey::random()),
            clock: Arc::new(OffsetDateTime::now_utc),
            dev_data_dir: None,
            guard,
            metrics,
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
        self.guard.set_metrics(metrics.clone());
        self.metrics = metrics;
        self
    }

    /// Seals receipts with `key` (by default, a key of this process only): give every
    /// instance the same one.
    pub fn with_session_key(mut self, key: Arc<SessionKey>) -> Self {
        self.seal = key;
        self
    }

    /// Shares rate budgets and verdicts with every instance through `store`.
    pub fn with_shared_store(mut self, store: Option<Arc<SharedStore>>) -> Self {
        self.guard = self.guard.shared(store);
        self
    }

    /// The service signing for the running dev bucket, checking uploads on its disk.
    pub fn for_dev_bucket(dev: crate::devbucket::Running) -> Self {
        let objects = Objects::Dev {
            store: dev.store,
            bucket: dev.config.bucket.clone(),
            endpoint: dev.endpoint,
        };
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

    /// Where uploads are checked and listed, if anywhere.
    pub fn objects(&self) -> Option<&Objects> {
        self.objects.as_ref()
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

    /// The receipt for a form signed at `now` in `directory`.
    fn receipt(
        &self,
        who: &Requester,
        directory: String,
        name: Option<String>,
        spec: &FormSpec,
        now: OffsetDateTime,
    ) -> String {
        Receipt {
            uploader: who.uploader.as_str().to_owned(),
            directory,
            name,
            size: Receipt::size_of(spec.size),
            content_type: spec.content_type.clone(),
            checksum_sha256: spec.checksum_sha256.clone(),
            expires: (now + RECEIPT_LIFETIME).unix_timestamp(),
            multipart: None,
        }
        .seal(&self.seal)
    }

    /// What the browser gets for a signed form.
    fn answer(&self, key: String, form: SignedForm, receipt: String) -> SignedUpload {
        SignedUpload {
            url: self.config.post_url(),
            key,
            expires_at: rfc3339(form.expires_at()),
            fields: form.fields,
            receipt,
        }
    }

    /// Whether each uploader signs with credentials limited to its own prefix (STS).
    pub fn credentials_per_uploader(&self) -> bool {
        matches!(self.source, Source::Sts(_))
    }

    /// The policy signer holding `uploader`'s credentials (fetched from STS when so configured).
    pub async fn policy_signer(
        &self,
        uploader: &UploaderId,
        now: OffsetDateTime,
    ) -> Result<Arc<PolicySigner>, UploadError> {
        self.source.signer_for(uploader, now).await.map_err(|err| {
            tracing::error!(target: "audit", event = "credentials_unavailable", uploader = uploader.as_str(), error = %err);
            UploadError::Unavailable("signing is temporarily unavailable; try again in a minute".into())
        })
    }

    /// Signs a form and writes the audit event; every signature the server makes comes here.
    pub fn sign_form(
        &self,
        signer: &PolicySigner,
        spec: &FormSpec,
        now: OffsetDateTime,
        uploader: &str,
    ) -> Result<SignedForm, UploadError> {
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
    async fn check(
        &self,
        who: &Requester,
        request: &UploadRequest,
        via: Via,
    ) -> Result<Checked, Refusal> {
        let too_many = |wait: std::time::Duration| {
            (
                "rate_limited",
                UploadError::TooManyRequests {
                    retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                },
            )
        };
        // The code first: a caller without it spends only a budget of guesses of its own, never
        // the signing budgets of the address or of anyone else.
        if !self.config.limits.accepts_access_code(&request.access_code) {
            self.guard.guess(who.uploader.as_str(), who.ip).await.map_err(too_many)?;
            let message = if request.access_code.is_empty() {
                "uploading here needs an access code"
            } else {
                "that access code is not right"
            };
            return Err(("access_code", UploadError::AccessCode(message.into())));
        }
        self.guard.sign(who.uploader.as_str(), who.ip).await.map_err(too_many)?;
        let refused = |reason| move |message| (reason, UploadError::Refused(message));
        let name = rules::file_name(&request.file_name).map_err(refused("invalid_name"))?;
        let limits = &self.config.limits;
        // The page checks size and type with the same functions before asking.
        let size = request.size;
        if let Some(message) = rules::size_refusal(size, limits.max_bytes) {
            return Err(refused(if size == 0 { "invalid_size" } else { "too_large" })(message));
        }
        if via == Via::Post && size > rules::MAX_POST_BYTES {
            return Err(refused("too_large")(format!(
                "one POST carries at most {}: a file this big goes in parts (start_multipart)",
                app::format::human_bytes(rules::MAX_POST_BYTES)
            )));
        }
        let content_type =
            rules::content_type(&request.content_type).map_err(refused("invalid_type"))?;
        if let Some(message) = rules::type_refusal(&limits.allowed_types, &content_type) {
            return Err(refused("type_not_allowed")(message));
        }
        let checksum = request
            .checksum_sha256
            .as_deref()
            .map(rules::checksum_sha256)
            .transpose()
            .map_err(refused("invalid_checksum"))?;
        // What the README promises: with checksums on, the bucket checks every byte of every
        // file up to the checksum limit. A client that leaves the hash out gets no form.
        // (A multipart upload checks every part's SHA-256 instead.)
        if via == Via::Post && checksum.is_none() && size <= limits.checksum_max_bytes {
            return Err(refused("checksum_missing")(format!(
                "files up to {} are sent with their SHA-256 (checksum_sha256), so that the bucket can refuse any other bytes",
                app::format::human_bytes(limits.checksum_max_bytes)
            )));
        }
        let metadata = rules::metadata(&request.metadata).map_err(refused("invalid_metadata"))?;
        Ok(Checked { name, size, content_type, checksum, metadata })
    }

    async fn try_sign(
        &self,
        who: &Requester,
        request: &UploadRequest,
    ) -> Result<SignedUpload, Refusal> {
        let Checked { name, size, content_type, checksum, metadata } =
            self.check(who, request, Via::Post).await?;
        let uploader = who.uploader.as_str();
        let now = self.now();
        let directory = fresh_directory(uploader, now);
        let key = format!("{directory}{name}");
        let signer =
            self.policy_signer(&who.uploader, now).await.map_err(|e| ("credentials", e))?;
        let mut spec = self.spec(key.clone(), Some(content_type), SizeRule::Exact(size));
        spec.checksum_sha256 = checksum;
        spec.metadata = metadata;
        let form = self.sign_form(&signer, &spec, now, uploader).map_err(|e| ("unavailable", e))?;
        let receipt = self.receipt(who, directory, Some(name), &spec, now);
        Ok(self.answer(key, form, receipt))
    }

    /// The page's no-JavaScript form: `${filename}` under a fresh directory of the uploader's
    /// prefix, 1 byte to the size limit, stored as application/octet-stream (a plain form
    /// cannot tell the type), and a redirect back to the app carrying the receipt.
    async fn page_form_for(
        &self,
        who: &Requester,
        redirect: String,
    ) -> Result<Option<SignedUpload>, UploadError> {
        const PLAIN_TYPE: &str = "application/octet-stream";
        let limits = &self.config.limits;
        if limits.access_code_sha256.is_some() || !limits.allows_type(PLAIN_TYPE) {
            return Ok(None);
        }
        // With STS a form costs an STS call for its uploader: a first page view (no cookie yet,
        // as every request of a client that keeps none) gets no form, so that a flood of
        // cookie-less views makes no STS calls. The next view, with the cookie, has one.
        if who.new_visitor && self.credentials_per_uploader() {
            return Ok(None);
        }
        // Every page view signs one: it counts as a file for the uploader and the address (a
        // plain form is a write grant like any other); past either budget the page simply
        // offers no plain form.
        if self.guard.sign(who.uploader.as_str(), who.ip).await.is_err() {
            self.metrics.refused("rate_limited");
            return Ok(None);
        }
        let uploader = who.uploader.as_str();
        let now = self.now();
        let directory = fresh_directory(uploader, now);
        let size = SizeRule::Range { min: 1, max: limits.max_bytes };
        let signer = self.policy_signer(&who.uploader, now).await?;
        let mut spec =
            self.spec(format!("{directory}${{filename}}"), Some(PLAIN_TYPE.into()), size);
        let receipt = self.receipt(who, directory.clone(), None, &spec, now);
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
        let form = self.sign_form(&signer, &spec, now, uploader)?;
        Ok(Some(self.answer(spec.key, form, receipt)))
    }

    async fn sign_upload(
        &self,
        who: &Requester,
        request: UploadRequest,
    ) -> Result<SignedUpload, UploadError> {
        let started = std::time::Instant::now();
        match self.try_sign(who, &request).await {
            Ok(signed) => {
                self.metrics.signed(started.elapsed().as_secs_f64());
                Ok(signed)
            }
            Err((reason, err)) => Err(self.refused(who, &request, reason, err)),
        }
    }

    /// Counts and logs a refusal to sign (a form or a multipart upload), and answers its error.
    fn refused(
        &self,
        who: &Requester,
        request: &UploadRequest,
        reason: &'static str,
        err: UploadError,
    ) -> UploadError {
        self.metrics.refused(reason);
        tracing::warn!(
            target: "audit",
            event = "policy_refused",
            uploader = who.uploader.as_str(),
            ip = ?who.ip,
            file_name = ?clip(&request.file_name),
            size = request.size,
            content_type = ?clip(&request.content_type),
            reason,
            message = ?clip(&err.to_string()),
        );
        err
    }

    fn confirmer(&self) -> Confirmer<'_> {
        Confirmer {
            objects: self.objects.as_ref(),
            seal: &self.seal,
            guard: &self.guard,
            metrics: &self.metrics,
        }
    }

    /// The uploader's objects, newest first (the key layout makes the bucket's order newest
    /// first, so the first page is enough), with fresh links to view them.
    async fn list(&self, who: &Requester) -> Result<Vec<StoredUpload>, UploadError> {
        let Some(objects) = &self.objects else { return Ok(Vec::new()) };
        // A return token shows its one upload's verdict, not the uploader's list.
        if who.scope.is_some() {
            return Ok(Vec::new());
        }
        let prefix = format!("uploads/{}/", who.uploader.as_str());
        let unavailable = |err: String| {
            tracing::error!(event = "list_failed", uploader = who.uploader.as_str(), error = %err);
            UploadError::Unavailable("your uploads cannot be listed right now".into())
        };
        let mut listed = objects.list(&prefix, MAX_LISTED).await.map_err(unavailable)?;
        // A directory is one signature; more than one object in it means a plain form was
        // POSTed again: only its first object is kept (and listed).
        let mut crowded: Vec<String> = Vec::new();
        for pair in listed.windows(2) {
            let directory =
                |key: &str| key.rsplit_once('/').map(|(d, _)| d.to_owned()).unwrap_or_default();
            if directory(&pair[0].key) == directory(&pair[1].key)
                && crowded.last() != Some(&directory(&pair[0].key))
            {
                crowded.push(directory(&pair[0].key));
            }
        }
        for directory in &crowded {
            let kept = objects.keep_first(&format!("{directory}/")).await.map_err(unavailable)?;
            listed.retain(|item| {
                !item.key.starts_with(&format!("{directory}/")) || Some(&item.key) == kept.as_ref()
            });
        }
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
            });
        }
        Ok(uploads)
    }
}

impl UploadService for Uploads {
    fn sign<'a>(
        &'a self,
        who: &'a Requester,
        request: UploadRequest,
    ) -> BoxFuture<'a, Result<SignedUpload, UploadError>> {
        Box::pin(self.sign_upload(who, request))
    }

    fn confirm<'a>(
        &'a self,
        who: &'a Requester,
        report: UploadReport,
    ) -> BoxFuture<'a, Result<StoredUpload, UploadError>> {
        Box::pin(self.confirmer().confirm(who, report, self.now()))
    }

    fn page_form<'a>(
        &'a self,
        who: &'a Requester,
        redirect: String,
    ) -> BoxFuture<'a, Result<Option<SignedUpload>, UploadError>> {
        Box::pin(self.page_form_for(who, redirect))
    }

    fn uploads<'a>(
        &'a self,
        who: &'a Requester,
    ) -> BoxFuture<'a, Result<Vec<StoredUpload>, UploadError>> {
        Box::pin(self.list(who))
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
            multipart_threshold: limits.multipart_threshold,
        }
    }

    fn start_multipart<'a>(
        &'a self,
        who: &'a Requester,
        request: UploadRequest,
    ) -> BoxFuture<'a, Result<MultipartUpload, UploadError>> {
        Box::pin(self.start_multipart_upload(who, request))
    }

    fn sign_parts<'a>(
        &'a self,
        who: &'a Requester,
        receipt: String,
        parts: Vec<PartToSign>,
    ) -> BoxFuture<'a, Result<Vec<SignedPart>, UploadError>> {
        Box::pin(self.sign_upload_parts(who, receipt, parts))
    }

    fn list_parts<'a>(
        &'a self,
        who: &'a Requester,
        receipt: String,
    ) -> BoxFuture<'a, Result<Vec<StoredPart>, UploadError>> {
        Box::pin(self.list_upload_parts(who, receipt))
    }

    fn complete_multipart<'a>(
        &'a self,
        who: &'a Requester,
        receipt: String,
    ) -> BoxFuture<'a, Result<StoredUpload, UploadError>> {
        Box::pin(self.complete_upload(who, receipt))
    }

    fn abort_multipart<'a>(
        &'a self,
        who: &'a Requester,
        receipt: String,
    ) -> BoxFuture<'a, Result<(), UploadError>> {
        Box::pin(self.abort_upload(who, receipt))
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
                checksum_max_bytes: 0,
                ..Default::default()
            },
        };
        Uploads::new(config).with_clock(Arc::new(|| datetime!(2026-11-28 11:55:00 UTC)))
    }

    impl Uploads {
        fn sign_blocking(
            &self,
            who: &Requester,
            request: UploadRequest,
        ) -> Result<SignedUpload, UploadError> {
            futures::executor::block_on(self.sign(who, request))
        }
    }

    fn uploader() -> Requester {
        Requester {
            uploader: UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            ip: None,
            scope: None,
            new_visitor: false,
        }
    }

    fn request(name: &str, size: u64, content_type: &str) -> UploadRequest {
        UploadRequest {
            file_name: name.into(),
            size,
            content_type: content_type.into(),
            access_code: String::new(),
            checksum_sha256: None,
            metadata: Default::default(),
        }
    }

    #[test]
    fn signs_a_key_under_the_uploader_prefix() {
        let signed =
            uploads().sign_blocking(&uploader(), request("../cat.png", 42, "image/png")).unwrap();
        assert_eq!(signed.url, "http://127.0.0.1:3900/uploads");
        assert!(
            signed.key.starts_with("uploads/0123456789abcdef0123456789abcdef/"),
            "{}",
            signed.key
        );
        assert!(signed.key.ends_with("/cat.png"), "{}", signed.key);
        assert_eq!(signed.fields[0], ("key".to_string(), signed.key.clone()));
        assert_eq!(signed.expires_at, "2026-11-28T12:00:00Z");
    }

    #[test]
    fn unknown_type_is_signed_as_octet_stream() {
        let mut config = uploads().config;
        config.limits = crate::config::Limits { checksum_max_bytes: 0, ..Default::default() };
        let signed =
            Uploads::new(config).sign_blocking(&uploader(), request("blob", 1, "")).unwrap();
        assert_eq!(
            signed.fields[1],
            ("Content-Type".to_string(), "application/octet-stream".to_string())
        );
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let s = uploads();
        for req in [
            request("..", 1, "text/plain"),
            request("a.txt", 0, "text/plain"),
            request("a.txt", 1, "not a type"),
        ] {
            assert!(
                matches!(s.sign_blocking(&uploader(), req.clone()), Err(UploadError::Refused(_))),
                "{req:?}"
            );
        }
    }

    #[test]
    fn the_configured_limits_are_enforced_with_readable_reasons() {
        let s = uploads();
        assert_eq!(
            s.sign_blocking(&uploader(), request("big.png", 1001, "image/png")),
            Err(UploadError::Refused(
                "the file is 1001 B; files here can be at most 1000 B".into()
            ))
        );
        assert_eq!(
            s.sign_blocking(&uploader(), request("page.html", 10, "text/html")),
            Err(UploadError::Refused(
                "files of type text/html are not accepted here (allowed: image/*, text/plain)"
                    .into()
            ))
        );
        // An unknown type is application/octet-stream, which this list does not allow either.
        assert!(s.sign_blocking(&uploader(), request("blob", 10, "")).is_err());
        assert!(s.sign_blocking(&uploader(), request("cat.webp", 1000, "image/webp")).is_ok());
    }
}
