//! A complete, signed POST form for one upload: the policy that binds every field, and the
//! fields in the order the browser must send them (the file goes after all of them).
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTForms.html>

use std::time::Duration;

use time::OffsetDateTime;

use super::{
    condition::ConditionError, credential_scope, expiry::ExpiryError, timefmt::amz_date, Condition,
    Credentials, PostPolicy, ReceivedPolicy, SigningKey, ALGORITHM,
};

/// What the file's size may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeRule {
    /// Exactly this many bytes: the bucket refuses one byte more or less.
    Exact(u64),
    /// Anything in `min..=max`.
    Range { min: u64, max: u64 },
}

/// What the bucket does after storing the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnSuccess {
    /// `success_action_status`: 201 answers with the XML `PostResponse` a script can read;
    /// 200 and 204 answer with an empty body.
    Status(u16),
    /// `success_action_redirect`: a 303 to this URL with `bucket`, `key` and `etag` appended;
    /// for plain HTML forms.
    Redirect(String),
}

/// Everything a form binds for one upload. Build with [`FormSpec::new`], then set the rest.
#[derive(Debug, Clone)]
pub struct FormSpec {
    pub bucket: String,
    /// The object key. A `${filename}` in it stands for the browser's file name; the policy then
    /// binds the text before it with starts-with, everything else exactly.
    pub key: String,
    pub content_type: Option<String>,
    pub size: SizeRule,
    pub on_success: Option<OnSuccess>,
    /// User metadata, names without the `x-amz-meta-` prefix.
    pub metadata: Vec<(String, String)>,
    /// Base64 SHA-256 of the file: the bucket then refuses any other bytes.
    pub checksum_sha256: Option<String>,
    /// Base64 MD5 of the file, for a PUT's `Content-MD5` ([`FormSpec::put_headers`]); a form
    /// cannot bind one (no store checks a form's MD5), so signing a form with it is refused.
    pub content_md5: Option<String>,
    /// How long the form should be accepted; the signer may shorten it (see [`super::ExpiryLimits`]).
    pub expires_in: Duration,
}

impl FormSpec {
    pub fn new(bucket: impl Into<String>, key: impl Into<String>, size: SizeRule) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
            content_type: None,
            size,
            on_success: None,
            metadata: Vec::new(),
            checksum_sha256: None,
            content_md5: None,
            expires_in: Duration::from_secs(300),
        }
    }
}

/// A signed form, ready to send: `fields` in order, then the file.
#[derive(Debug, Clone)]
pub struct SignedForm {
    pub fields: Vec<(String, String)>,
    expires_at: OffsetDateTime,
}

impl SignedForm {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// The policy as the bucket will read it: parsed back from the `policy` field.
    pub fn policy(&self) -> PostPolicy<'static> {
        ReceivedPolicy::parse(self.field("policy").expect("a signed form has a policy"))
            .expect("the signer writes valid policies")
            .into_policy()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error(transparent)]
    Condition(#[from] ConditionError),
    #[error(transparent)]
    Expiry(#[from] ExpiryError),
    #[error("metadata name {0:?} must be 1-64 lowercase letters, digits or '-'")]
    MetadataName(String),
    #[error("the value of metadata {0:?} must be printable ASCII")]
    MetadataValue(String),
    #[error("user metadata is {0} bytes; S3 allows at most 2048")]
    MetadataTooLarge(usize),
    #[error("the SHA-256 checksum must be the base64 of 32 bytes")]
    Checksum,
    #[error("the MD5 must be the base64 of 16 bytes")]
    ContentMd5,
    #[error("a form cannot bind an MD5: no store checks it (sign a PUT)")]
    Md5InForm,
    #[error("the signing key is not for this day and region")]
    KeyOutOfScope,
}

/// S3's limit on user metadata: names and values together.
pub const MAX_METADATA_BYTES: usize = 2048;

impl FormSpec {
    pub(super) fn validate(&self) -> Result<(), FormError> {
        // The same rules as the app's (`app::rules::metadata`; tests/rules.rs pins the two):
        // values travel as HTTP headers, and proxies drop header names with '_'.
        for (name, value) in &self.metadata {
            let ok = (1..=64).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(FormError::MetadataName(name.clone()));
            }
            if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                return Err(FormError::MetadataValue(name.clone()));
            }
        }
        let metadata_bytes: usize = self.metadata.iter().map(|(n, v)| n.len() + v.len()).sum();
        if metadata_bytes > MAX_METADATA_BYTES {
            return Err(FormError::MetadataTooLarge(metadata_bytes));
        }
        // The digests as the app's rules read them (the page and the server decide alike).
        if let Some(sum) = &self.checksum_sha256 {
            app::rules::checksum_sha256(sum).map_err(|_| FormError::Checksum)?;
        }
        if let Some(sum) = &self.content_md5 {
            app::rules::content_md5(sum).map_err(|_| FormError::ContentMd5)?;
        }
        Ok(())
    }

    /// Builds the policy and the fields, and signs them with `key` (derived for `now`'s day).
    pub(crate) fn sign_with(
        &self,
        credentials: &Credentials,
        key: &SigningKey,
        region: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<SignedForm, FormError> {
        if !key.is_for(now, region) {
            return Err(FormError::KeyOutOfScope);
        }
        self.validate()?;
        if self.content_md5.is_some() {
            return Err(FormError::Md5InForm);
        }
        let (min, max) = match self.size {
            SizeRule::Exact(n) => (n, n),
            SizeRule::Range { min, max } => (min, max),
        };
        let size_condition = Condition::content_length_range(min, max)?;

        let mut fields: Vec<(String, String)> = Vec::with_capacity(12);
        fields.push(("key".into(), self.key.clone()));
        if let Some(content_type) = &self.content_type {
            fields.push(("Content-Type".into(), content_type.clone()));
        }
        match &self.on_success {
            Some(OnSuccess::Status(status)) => {
                fields.push(("success_action_status".into(), status.to_string()))
            }
            Some(OnSuccess::Redirect(url)) => {
                fields.push(("success_action_redirect".into(), url.clone()))
            }
            None => {}
        }
        fields.extend(self.metadata.iter().map(|(n, v)| (format!("x-amz-meta-{n}"), v.clone())));
        if let Some(sum) = &self.checksum_sha256 {
            fields.push(("x-amz-checksum-algorithm".into(), "SHA256".into()));
            fields.push(("x-amz-checksum-sha256".into(), sum.clone()));
        }
        fields.push((
            "x-amz-credential".into(),
            credential_scope(credentials.access_key_id(), now, region),
        ));
        fields.push(("x-amz-algorithm".into(), ALGORITHM.into()));
        fields.push(("x-amz-date".into(), amz_date(now)));
        if let Some(token) = credentials.session_token() {
            fields.push(("x-amz-security-token".into(), token.into()));
        }

        // Every field sent (but policy, signature and file) gets a condition: S3 refuses fields
        // the policy does not cover, and exact matches leave nothing to tamper with. The one
        // exception is a key naming `${filename}`, which binds the prefix the server chose.
        // The conditions borrow the fields: nothing is copied twice.
        let encoded = {
            let mut conditions = Vec::with_capacity(fields.len() + 2);
            conditions.push(Condition::eq("bucket", self.bucket.as_str()));
            for (name, value) in &fields {
                let template_at = if name == "key" { value.find("${filename}") } else { None };
                conditions.push(match template_at {
                    Some(at) => Condition::starts_with("key", &value[..at])?,
                    None => Condition::eq(name.as_str(), value.as_str()),
                });
            }
            conditions.push(size_condition);
            PostPolicy::new(expires_at, conditions).to_base64()
        };
        let signature = key.sign(&encoded);
        fields.push(("policy".into(), encoded));
        fields.push(("x-amz-signature".into(), signature));
        Ok(SignedForm { fields, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-28 11:55:00 UTC);
    const EXPIRES: OffsetDateTime = datetime!(2026-11-28 12:00:00 UTC);

    fn spec() -> FormSpec {
        let mut spec = FormSpec::new("b", "uploads/u1/f/cat.png", SizeRule::Exact(42));
        spec.content_type = Some("image/png".into());
        spec.on_success = Some(OnSuccess::Status(201));
        spec
    }

    fn sign(spec: &FormSpec, creds: &Credentials) -> Result<SignedForm, FormError> {
        spec.sign_with(
            creds,
            &SigningKey::derive(creds, NOW, "us-east-1"),
            "us-east-1",
            NOW,
            EXPIRES,
        )
    }

    fn names(form: &SignedForm) -> Vec<&str> {
        form.fields.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn fields_come_in_the_order_to_send() {
        let creds = Credentials::new("AKID", "secret");
        let form = sign(&spec(), &creds).unwrap();
        assert_eq!(
            names(&form),
            [
                "key",
                "Content-Type",
                "success_action_status",
                "x-amz-credential",
                "x-amz-algorithm",
                "x-amz-date",
                "policy",
                "x-amz-signature"
            ]
        );
        assert_eq!(form.field("x-amz-credential"), Some("AKID/20261128/us-east-1/s3/aws4_request"));
        assert_eq!(form.field("x-amz-date"), Some("20261128T115500Z"));
        let key = SigningKey::derive(&creds, NOW, "us-east-1");
        assert_eq!(form.field("x-amz-signature").unwrap(), key.sign(form.field("policy").unwrap()));
    }

    #[test]
    fn policy_binds_every_field_exactly() {
        let form = sign(&spec(), &Credentials::new("AKID", "secret")).unwrap();
        let policy = base64::engine::general_purpose::STANDARD
            .decode(form.field("policy").unwrap())
            .unwrap();
        let policy: serde_json::Value = serde_json::from_slice(&policy).unwrap();
        assert_eq!(
            policy,
            serde_json::json!({
                "expiration": "2026-11-28T12:00:00.000Z",
                "conditions": [
                    {"bucket": "b"},
                    {"key": "uploads/u1/f/cat.png"},
                    {"Content-Type": "image/png"},
                    {"success_action_status": "201"},
                    {"x-amz-credential": "AKID/20261128/us-east-1/s3/aws4_request"},
                    {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                    {"x-amz-date": "20261128T115500Z"},
                    ["content-length-range", 42, 42]
                ]
            })
        );
    }

    #[test]
    fn session_token_metadata_and_checksum_are_sent_and_covered() {
        let creds = Credentials::new("ASIA", "secret").with_session_token("tok");
        let mut spec = spec();
        spec.metadata = vec![("origin".into(), "browser".into())];
        spec.checksum_sha256 = Some(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
        let form = sign(&spec, &creds).unwrap();
        assert_eq!(
            names(&form),
            [
                "key",
                "Content-Type",
                "success_action_status",
                "x-amz-meta-origin",
                "x-amz-checksum-algorithm",
                "x-amz-checksum-sha256",
                "x-amz-credential",
                "x-amz-algorithm",
                "x-amz-date",
                "x-amz-security-token",
                "policy",
                "x-amz-signature"
            ]
        );
        for (name, value) in &form.fields[..form.fields.len() - 2] {
            assert!(
                form.policy().conditions().contains(&Condition::eq(name.as_str(), value.as_str())),
                "{name}"
            );
        }
    }

    #[test]
    fn a_filename_key_binds_its_prefix() {
        let mut spec = spec();
        spec.key = "uploads/u1/${filename}".into();
        spec.on_success = Some(OnSuccess::Redirect("http://app/done".into()));
        spec.size = SizeRule::Range { min: 1, max: 1000 };
        let form = sign(&spec, &Credentials::new("AKID", "secret")).unwrap();
        let policy = form.policy();
        let conditions = policy.conditions();
        assert!(conditions.contains(&Condition::starts_with("key", "uploads/u1/").unwrap()));
        assert!(conditions.contains(&Condition::eq("success_action_redirect", "http://app/done")));
        assert!(conditions.contains(&Condition::content_length_range(1, 1000).unwrap()));
    }

    #[test]
    fn bad_metadata_and_checksums_are_refused() {
        let creds = Credentials::new("AKID", "secret");
        let mut bad_name = spec();
        bad_name.metadata = vec![("Has Space".into(), "v".into())];
        assert!(matches!(sign(&bad_name, &creds), Err(FormError::MetadataName(_))));
        let mut too_big = spec();
        too_big.metadata = vec![("note".into(), "x".repeat(2045))];
        assert_eq!(sign(&too_big, &creds).unwrap_err(), FormError::MetadataTooLarge(2049));
        let mut short_sum = spec();
        short_sum.checksum_sha256 =
            Some(base64::engine::general_purpose::STANDARD.encode([1u8; 31]));
        assert_eq!(sign(&short_sum, &creds).unwrap_err(), FormError::Checksum);
    }

    #[test]
    fn a_key_from_another_day_is_refused() {
        let creds = Credentials::new("AKID", "secret");
        let yesterday = SigningKey::derive(&creds, datetime!(2026-11-27 23:00:00 UTC), "us-east-1");
        assert_eq!(
            spec().sign_with(&creds, &yesterday, "us-east-1", NOW, EXPIRES).unwrap_err(),
            FormError::KeyOutOfScope
        );
    }
}
