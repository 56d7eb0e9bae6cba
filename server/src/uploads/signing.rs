//! `sign_upload`: a POST form (or, for stores without POST uploads, a presigned PUT) for one
//! checked file, under a fresh directory of the uploader's
//! prefix, signed with the uploader's credentials, and its sealed receipt. Every form the
//! server signs (this one, the plain form, `server sign`) goes through [`Uploads::sign_form`],
//! which writes the audit event.

use app::service::{Requester, UploadRequest};
use app::wire::{ChecksumMode, SignedUpload, UploadError, UploadMethod};
use time::OffsetDateTime;

use super::check::{Checked, Reason, Refusal, Via};
use super::receipt::Receipt;
use super::Uploads;
use crate::policy::{rfc3339, FormSpec, OnSuccess, PolicySigner, SignedForm, SignedPut, SizeRule};

impl Uploads {
    /// Checks `request`, then signs a form for exactly that file; counted and logged either way.
    pub async fn sign_upload(
        &self,
        who: &Requester,
        request: UploadRequest,
    ) -> Result<SignedUpload, UploadError> {
        self.counted(who, &request, self.try_sign(who, &request)).await
    }

    async fn try_sign(
        &self,
        who: &Requester,
        request: &UploadRequest,
    ) -> Result<SignedUpload, Refusal> {
        let Checked { profile, name, size, content_type, checksum, metadata } =
            self.check(who, request, Via::Post).await?;
        let now = self.now();
        let directory = self.fresh_directory(&who.uploader, &profile.name, now);
        let key = format!("{directory}{name}");
        let signer = self.signer(who, now).await.map_err(|e| {
            let reason = match e {
                UploadError::Refused(_) => Reason::UnknownVisitor,
                _ => Reason::Credentials,
            };
            Refusal::new(reason, e)
        })?;
        let mut spec = self.spec(key, Some(content_type), SizeRule::Exact(size));
        match self.config.limits.checksum {
            ChecksumMode::Md5 => spec.content_md5 = checksum,
            _ => spec.checksum_sha256 = checksum,
        }
        spec.metadata = metadata;
        let uploader = who.uploader.as_str();
        let granted = Receipt::for_form(&who.uploader, directory, Some(name), &spec, now);
        let receipt = granted.seal(&self.seal);
        let unavailable = |e| Refusal::new(Reason::Unavailable, e);
        match self.config.method {
            UploadMethod::Post => {
                let form = self.sign_form(&signer, &spec, now, uploader).map_err(unavailable)?;
                self.record_grant(&granted, who, form.expires_at(), &spec.metadata)
                    .map_err(unavailable)?;
                Ok(self.answer(spec.key, form, receipt))
            }
            UploadMethod::Put => {
                let put = self.sign_put(&signer, &spec, now, uploader).map_err(unavailable)?;
                self.record_grant(&granted, who, put.expires_at, &spec.metadata)
                    .map_err(unavailable)?;
                Ok(SignedUpload {
                    url: put.url,
                    key: spec.key,
                    method: UploadMethod::Put,
                    fields: Vec::new(),
                    headers: put.headers,
                    expires_at: rfc3339(put.expires_at),
                    receipt,
                })
            }
        }
    }

    /// Presigns a PUT of one whole object and writes the audit event, as [`Self::sign_form`]
    /// does for a form.
    pub fn sign_put(
        &self,
        signer: &PolicySigner,
        spec: &FormSpec,
        now: OffsetDateTime,
        uploader: &str,
    ) -> Result<SignedPut, UploadError> {
        let put = signer.presign_put(spec, &self.config.bucket, now).map_err(|err| {
            tracing::error!(target: "audit", event = "signing_failed", uploader, error = %err);
            UploadError::Unavailable(err.to_string())
        })?;
        tracing::info!(
            target: "audit",
            event = "put_signed",
            uploader,
            subject = super::check::subject_of(&spec.metadata),
            key = %spec.key,
            size = ?spec.size,
            content_type = spec.content_type.as_deref().unwrap_or(""),
            checksum = spec.checksum_sha256.is_some() || spec.content_md5.is_some(),
            expires_at = %rfc3339(put.expires_at),
            credentials = self.source.kind(),
        );
        Ok(put)
    }

    /// The form for one upload; what both the server function and `server sign` go through.
    pub fn spec(&self, key: String, content_type: Option<String>, size: SizeRule) -> FormSpec {
        let mut spec = FormSpec::new(self.config.bucket.name.clone(), key, size);
        spec.content_type = content_type;
        spec.on_success = Some(OnSuccess::Status(201));
        spec.expires_in = self.config.policy_lifetime;
        spec
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
            subject = super::check::subject_of(&spec.metadata),
            key = %spec.key,
            size = ?spec.size,
            content_type = spec.content_type.as_deref().unwrap_or(""),
            checksum = spec.checksum_sha256.is_some(),
            expires_at = %rfc3339(form.expires_at()),
            credentials = self.source.kind(),
        );
        Ok(form)
    }

    /// What the browser gets for a form signed for `key`, with its sealed receipt.
    pub(super) fn answer(&self, key: String, form: SignedForm, receipt: String) -> SignedUpload {
        SignedUpload {
            url: self.config.bucket.post_url(),
            key,
            expires_at: rfc3339(form.expires_at()),
            method: UploadMethod::Post,
            fields: form.fields,
            headers: Vec::new(),
            receipt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Limits, Profiles};
    use crate::policy::{Bucket, Credentials};
    use app::service::UploaderId;
    use app::wire::{ChecksumMode, UploadMethod};
    use std::sync::Arc;
    use std::time::Duration;
    use time::macros::datetime;

    fn uploads() -> Uploads {
        let limits = Limits {
            max_bytes: 1000,
            allowed_types: vec!["image/*".into(), "text/plain".into()],
            checksum_max_bytes: 0,
            ..Default::default()
        };
        let config = Config {
            bucket: Bucket::new("uploads", "garage", Some("http://127.0.0.1:3900".into())),
            credentials: Some(Credentials::new("GK0123456789abcdef01234567", "secret")),
            sts: None,
            policy_lifetime: Duration::from_secs(300),
            profiles: Arc::new(Profiles::only_default(&limits)),
            limits,
            method: UploadMethod::Post,
        };
        Uploads::new(config).with_clock(Arc::new(|| datetime!(2026-11-28 11:55:00 UTC)))
    }

    impl Uploads {
        fn sign_blocking(
            &self,
            who: &Requester,
            request: UploadRequest,
        ) -> Result<SignedUpload, UploadError> {
            futures::executor::block_on(self.sign_upload(who, request))
        }
    }

    fn uploader() -> Requester {
        Requester {
            uploader: UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            user: None,
            ip: None,
            scope: None,
            new_visitor: false,
            cross_site: false,
        }
    }

    fn request(name: &str, size: u64, content_type: &str) -> UploadRequest {
        UploadRequest {
            profile: String::new(),
            file_name: name.into(),
            size,
            content_type: content_type.into(),
            access_code: String::new(),
            checksum_sha256: None,
            content_md5: None,
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
        config.limits = Limits { checksum_max_bytes: 0, ..Default::default() };
        config.profiles = Arc::new(Profiles::only_default(&config.limits));
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

    #[test]
    fn a_put_store_gets_a_presigned_put_with_the_same_receipt() {
        let mut config = uploads().config;
        config.method = UploadMethod::Put;
        let s = Uploads::new(config).with_clock(Arc::new(|| datetime!(2026-11-28 11:55:00 UTC)));
        let mut req = request("cat.png", 42, "image/png");
        req.metadata.insert("note".into(), "hi".into());
        let signed = s.sign_blocking(&uploader(), req).unwrap();
        let prefix = "http://127.0.0.1:3900/uploads/uploads/0123456789abcdef0123456789abcdef/";
        assert!(signed.url.starts_with(prefix), "{}", signed.url);
        assert!(
            signed.url.contains("/cat.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&"),
            "{}",
            signed.url
        );
        assert!(
            signed.url.contains(
                "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bx-amz-meta-note%3Bx-amz-meta-profile&"
            ),
            "{}",
            signed.url
        );
        assert_eq!(signed.method, UploadMethod::Put);
        assert_eq!(
            signed.headers,
            [
                ("content-type".into(), "image/png".into()),
                ("x-amz-meta-note".into(), "hi".into()),
                ("x-amz-meta-profile".into(), "default".into())
            ]
        );
        assert!(signed.fields.is_empty());
        assert_eq!(signed.expires_at, "2026-11-28T12:00:00Z");
        // The answer the page gets names its shape.
        let json = serde_json::to_value(&signed).unwrap();
        assert_eq!(json["method"], "PUT");
        assert!(Receipt::open(&s.seal, &signed.receipt, &uploader().uploader, s.now()).is_ok());
    }

    #[test]
    fn each_checksum_mode_takes_its_own_digest_and_no_other() {
        let with = |mode, method| {
            let mut config = uploads().config;
            config.limits.checksum = mode;
            config.limits.checksum_max_bytes = 1000;
            config.profiles = Arc::new(Profiles::only_default(&config.limits));
            config.method = method;
            Uploads::new(config).with_clock(Arc::new(|| datetime!(2026-11-28 11:55:00 UTC)))
        };
        let sha256 = || Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".to_owned());
        let md5 = || Some("1B2M2Y8AsgTpgAmY7PhCfg==".to_owned());
        let ask = |s: &Uploads, sha: Option<String>, md5: Option<String>| {
            let mut req = request("cat.png", 42, "image/png");
            (req.checksum_sha256, req.content_md5) = (sha, md5);
            s.sign_blocking(&uploader(), req)
        };
        let refused = |r: Result<SignedUpload, UploadError>, says: &str| {
            assert!(matches!(&r, Err(UploadError::Refused(m)) if m.contains(says)), "{r:?}");
        };
        let off = with(ChecksumMode::Off, UploadMethod::Post);
        assert!(ask(&off, None, None).is_ok(), "off: nothing to hash");
        refused(ask(&off, sha256(), None), "no checksum");
        let md5_mode = with(ChecksumMode::Md5, UploadMethod::Put);
        refused(ask(&md5_mode, None, None), "content_md5");
        refused(ask(&md5_mode, sha256(), None), "content_md5");
        let signed = ask(&md5_mode, None, md5()).unwrap();
        assert!(signed.headers.contains(&("content-md5".into(), md5().unwrap())));
        let sha_mode = with(ChecksumMode::Sha256, UploadMethod::Post);
        refused(ask(&sha_mode, None, md5()), "checksum_sha256");
        assert!(ask(&sha_mode, sha256(), None).is_ok());
    }
}
