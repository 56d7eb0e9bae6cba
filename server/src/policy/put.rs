//! A presigned PUT of one whole object: what a [`FormSpec`] binds in a POST policy, bound
//! instead by the headers the PUT's signature covers, for stores that take no POST uploads
//! (Cloudflare R2, Backblaze B2). The store refuses another key (the path is signed), another
//! length (`content-length`), type, metadata or checksum (signed headers), and other bytes than
//! the checksum's (`BadDigest`), just as it refuses a form that breaks its policy.

use time::OffsetDateTime;

use super::{Bucket, FormError, FormSpec, PolicySigner, Presign, PresignError, SizeRule};

/// A signed PUT: where to send the file, and the headers to send with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPut {
    pub url: String,
    /// Every signed header but `host` and `content-length`, which the client sets itself from
    /// the URL and the body (a browser may not set them): the body must be the signed size.
    pub headers: Vec<(String, String)>,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutError {
    #[error(transparent)]
    Spec(#[from] FormError),
    #[error(transparent)]
    Presign(#[from] PresignError),
    /// A PUT names one object of one size: no `${filename}`, no size range.
    #[error("a PUT is signed for one key and one exact size")]
    NotExact,
}

impl FormSpec {
    /// The headers a PUT of this spec must carry, each signed (`content-length` first).
    pub fn put_headers(&self) -> Result<Vec<(String, String)>, PutError> {
        self.validate()?;
        let SizeRule::Exact(size) = self.size else { return Err(PutError::NotExact) };
        if self.key.contains("${filename}") {
            return Err(PutError::NotExact);
        }
        let mut headers = vec![("content-length".to_owned(), size.to_string())];
        if let Some(content_type) = &self.content_type {
            headers.push(("content-type".into(), content_type.clone()));
        }
        if let Some(sum) = &self.checksum_sha256 {
            headers.push(("x-amz-checksum-sha256".into(), sum.clone()));
        }
        if let Some(sum) = &self.content_md5 {
            headers.push(("content-md5".into(), sum.clone()));
        }
        for (name, value) in &self.metadata {
            headers.push((format!("x-amz-meta-{name}"), value.clone()));
        }
        Ok(headers)
    }
}

impl PolicySigner {
    /// A presigned PUT of `spec`'s object in `bucket`, living `spec.expires_in` (shortened as a
    /// policy's is).
    pub fn presign_put(
        &self,
        spec: &FormSpec,
        bucket: &Bucket,
        now: OffsetDateTime,
    ) -> Result<SignedPut, PutError> {
        let headers = spec.put_headers()?;
        let (endpoint, path) = bucket.object_location(&spec.key);
        let request = Presign {
            method: "PUT",
            endpoint: &endpoint,
            path: &path,
            query: Vec::new(),
            headers: headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            expires_in_secs: u32::try_from(spec.expires_in.as_secs()).unwrap_or(u32::MAX),
        };
        let (url, expires_at) = self.presign(&request, now)?;
        let headers = headers.into_iter().filter(|(name, _)| name != "content-length").collect();
        Ok(SignedPut { url, headers, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::presign::tests::receive;
    use crate::policy::Credentials;
    use time::macros::datetime;

    fn spec() -> FormSpec {
        let mut spec = FormSpec::new("uploads", "uploads/u/d/cat.png", SizeRule::Exact(5));
        spec.content_type = Some("image/png".into());
        spec.checksum_sha256 = Some("LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=".into());
        spec.metadata = vec![("note".into(), "hi".into())];
        spec
    }

    /// Verifies `url` as the bucket would, with `headers` on the request: the error's code.
    fn verify(url: &str, headers: &[(&str, &str)], now: OffsetDateTime) -> Result<(), String> {
        receive(url, "PUT", headers, now).map(|_| ()).map_err(|err| err.code.to_owned())
    }

    #[test]
    fn a_put_binds_the_key_the_length_the_type_the_checksum_and_the_metadata() {
        let now = datetime!(2026-12-04 12:00:00 UTC);
        let signer = PolicySigner::new(Credentials::new("GKexample", "secret"), "garage");
        let bucket = Bucket::new("uploads", "garage", Some("http://127.0.0.1:3900".into()));
        let put = signer.presign_put(&spec(), &bucket, now).unwrap();
        assert!(put.url.starts_with("http://127.0.0.1:3900/uploads/uploads/u/d/cat.png?"));
        let names: Vec<&str> = put.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["content-type", "x-amz-checksum-sha256", "x-amz-meta-note"]);
        let mut sent: Vec<(&str, &str)> =
            put.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        sent.push(("content-length", "5"));
        assert_eq!(verify(&put.url, &sent, now), Ok(()));
        // Each signed header changed, or left out, breaks the signature.
        for (i, (name, _)) in sent.iter().enumerate() {
            let mut changed = sent.clone();
            changed[i].1 = "6";
            assert_eq!(
                verify(&put.url, &changed, now),
                Err("SignatureDoesNotMatch".into()),
                "{name}"
            );
            let mut missing = sent.clone();
            missing.remove(i);
            assert!(verify(&put.url, &missing, now).is_err(), "{name}");
        }
        // Another key.
        let other = put.url.replace("cat.png", "dog.png");
        assert_eq!(verify(&other, &sent, now), Err("SignatureDoesNotMatch".into()));
        assert_eq!(put.expires_at, now + time::Duration::seconds(300));
    }

    #[test]
    fn a_put_is_for_one_exact_object() {
        let mut range = spec();
        range.size = SizeRule::Range { min: 1, max: 10 };
        assert_eq!(range.put_headers(), Err(PutError::NotExact));
        let mut chosen = spec();
        chosen.key = "uploads/u/d/${filename}".into();
        assert_eq!(chosen.put_headers(), Err(PutError::NotExact));
        let mut bad = spec();
        bad.checksum_sha256 = Some("nope".into());
        assert_eq!(bad.put_headers(), Err(PutError::Spec(FormError::Checksum)));
        let mut md5 = spec();
        md5.checksum_sha256 = None;
        md5.content_md5 = Some("1B2M2Y8AsgTpgAmY7PhCfg==".into());
        let headers = md5.put_headers().unwrap();
        assert!(headers.contains(&("content-md5".into(), "1B2M2Y8AsgTpgAmY7PhCfg==".into())));
        md5.content_md5 = Some("nope".into());
        assert_eq!(md5.put_headers(), Err(PutError::Spec(FormError::ContentMd5)));
    }
}
