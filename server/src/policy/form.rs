//! A complete, signed POST form for one upload: the policy that binds every field, and the
//! fields in the order the browser must send them (the file goes after all of them).
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTForms.html>

use time::OffsetDateTime;

use super::{
    condition::ConditionError, credential_scope, timefmt::amz_date, Condition, Credentials, PostPolicy,
    SigningKey, ALGORITHM,
};

/// What the file's size may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeRule {
    /// Exactly this many bytes: the bucket refuses one byte more or less.
    Exact(u64),
    /// Anything in `min..=max`.
    Range { min: u64, max: u64 },
}

/// Everything a form binds for one upload.
#[derive(Debug, Clone)]
pub struct FormSpec<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub content_type: &'a str,
    pub size: SizeRule,
    /// `Some(201)` asks S3 for the XML `PostResponse` a script can read.
    pub success_action_status: Option<u16>,
    pub expires_at: OffsetDateTime,
}

/// A signed form, ready to send: `fields` in order, then the file.
#[derive(Debug, Clone)]
pub struct SignedForm {
    pub fields: Vec<(String, String)>,
    pub policy: PostPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error(transparent)]
    Condition(#[from] ConditionError),
    #[error("the signing key is not for this day and region")]
    KeyOutOfScope,
}

impl FormSpec<'_> {
    /// Builds the policy and the fields, and signs them with `key` (derived for `now`'s day).
    pub fn sign(&self, credentials: &Credentials, key: &SigningKey, region: &str, now: OffsetDateTime) -> Result<SignedForm, FormError> {
        if !key.is_for(now, region) {
            return Err(FormError::KeyOutOfScope);
        }
        let (min, max) = match self.size {
            SizeRule::Exact(n) => (n, n),
            SizeRule::Range { min, max } => (min, max),
        };
        let mut fields: Vec<(String, String)> = vec![
            ("key".into(), self.key.into()),
            ("Content-Type".into(), self.content_type.into()),
        ];
        if let Some(status) = self.success_action_status {
            fields.push(("success_action_status".into(), status.to_string()));
        }
        fields.push(("x-amz-credential".into(), credential_scope(credentials.access_key_id(), now, region)));
        fields.push(("x-amz-algorithm".into(), ALGORITHM.into()));
        fields.push(("x-amz-date".into(), amz_date(now)));
        if let Some(token) = credentials.session_token() {
            fields.push(("x-amz-security-token".into(), token.into()));
        }

        // Every field sent (but policy, signature and file) gets an exact condition: S3 refuses
        // fields the policy does not cover, and exact matches leave nothing to tamper with.
        let mut conditions = vec![Condition::eq("bucket", self.bucket)];
        conditions.extend(fields.iter().map(|(name, value)| Condition::eq(name.as_str(), value.as_str())));
        conditions.push(Condition::content_length_range(min, max)?);
        let policy = PostPolicy::new(self.expires_at, conditions);

        let encoded = policy.to_base64();
        let signature = key.sign(&encoded);
        fields.push(("policy".into(), encoded));
        fields.push(("x-amz-signature".into(), signature));
        Ok(SignedForm { fields, policy })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-28 11:55:00 UTC);

    fn spec() -> FormSpec<'static> {
        FormSpec {
            bucket: "b",
            key: "uploads/u1/f/cat.png",
            content_type: "image/png",
            size: SizeRule::Exact(42),
            success_action_status: Some(201),
            expires_at: datetime!(2026-11-28 12:00:00 UTC),
        }
    }

    fn names(form: &SignedForm) -> Vec<&str> {
        form.fields.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn fields_come_in_the_order_to_send() {
        let creds = Credentials::new("AKID", "secret");
        let key = SigningKey::derive(&creds, NOW, "us-east-1");
        let form = spec().sign(&creds, &key, "us-east-1", NOW).unwrap();
        assert_eq!(
            names(&form),
            ["key", "Content-Type", "success_action_status", "x-amz-credential", "x-amz-algorithm", "x-amz-date", "policy", "x-amz-signature"]
        );
        let value = |n: &str| form.fields.iter().find(|(k, _)| k == n).unwrap().1.clone();
        assert_eq!(value("x-amz-credential"), "AKID/20261128/us-east-1/s3/aws4_request");
        assert_eq!(value("x-amz-date"), "20261128T115500Z");
        assert_eq!(value("x-amz-signature"), key.sign(&value("policy")));
    }

    #[test]
    fn policy_binds_every_field_exactly() {
        let creds = Credentials::new("AKID", "secret");
        let key = SigningKey::derive(&creds, NOW, "us-east-1");
        let form = spec().sign(&creds, &key, "us-east-1", NOW).unwrap();
        let policy = base64::engine::general_purpose::STANDARD.decode(&form.fields[6].1).unwrap();
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
    fn session_token_is_sent_and_covered() {
        let creds = Credentials::new("ASIA", "secret").with_session_token("tok");
        let key = SigningKey::derive(&creds, NOW, "us-east-1");
        let form = spec().sign(&creds, &key, "us-east-1", NOW).unwrap();
        assert_eq!(form.fields[6], ("x-amz-security-token".into(), "tok".into()));
        assert!(form.policy.conditions().contains(&Condition::eq("x-amz-security-token", "tok")));
    }

    #[test]
    fn a_key_from_another_day_is_refused() {
        let creds = Credentials::new("AKID", "secret");
        let yesterday = SigningKey::derive(&creds, datetime!(2026-11-27 23:00:00 UTC), "us-east-1");
        assert_eq!(spec().sign(&creds, &yesterday, "us-east-1", NOW).unwrap_err(), FormError::KeyOutOfScope);
    }
}
