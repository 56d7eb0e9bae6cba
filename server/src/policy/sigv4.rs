//! AWS Signature Version 4 as POST forms use it: a signing key derived from (secret, date,
//! region) and an HMAC-SHA256 over the policy's base64 text.
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-authentication-HTTPPOST.html>

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use time::{Date, OffsetDateTime, UtcOffset};
use zeroize::Zeroizing;

use super::{timefmt::scope_date, Credentials};

/// The only algorithm SigV4 POST forms use.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "s3";

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `x-amz-credential`: `<access key id>/<yyyymmdd>/<region>/s3/aws4_request`.
pub fn credential_scope(access_key_id: &str, at: OffsetDateTime, region: &str) -> String {
    let date = scope_date(at);
    let mut scope = String::with_capacity(access_key_id.len() + region.len() + 32);
    for part in [access_key_id, "/", &date, "/", region, "/", SERVICE, "/aws4_request"] {
        scope.push_str(part);
    }
    scope
}

/// Lowercase hex, written directly (the signature is computed for every policy).
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 0xf) as usize]);
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// The derived key for one (secret, day, region). It only changes daily, so callers keep it
/// and sign many policies with it. Held as an HMAC state with the key already absorbed (so
/// each signature skips two SHA-256 blocks); wiped on drop; `Debug` shows only the scope.
#[derive(Clone)]
pub struct SigningKey {
    mac: Hmac<Sha256>,
    date: String,
    day: Option<Date>,
    region: String,
}

impl SigningKey {
    /// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), "s3"), "aws4_request")`.
    pub fn derive(credentials: &Credentials, at: OffsetDateTime, region: &str) -> Self {
        let mut key = Self::derive_for_scope(credentials, scope_date(at), region);
        key.day = Some(at.to_offset(UtcOffset::UTC).date());
        key
    }

    /// The same, for the `yyyymmdd` date of a received credential scope.
    pub(crate) fn derive_for_scope(credentials: &Credentials, date: String, region: &str) -> Self {
        let mut seed =
            Zeroizing::new(String::with_capacity(4 + credentials.secret_access_key().len()));
        seed.push_str("AWS4");
        seed.push_str(credentials.secret_access_key());
        let k_date = Zeroizing::new(hmac_sha256(seed.as_bytes(), date.as_bytes()));
        let k_region = Zeroizing::new(hmac_sha256(&*k_date, region.as_bytes()));
        let k_service = Zeroizing::new(hmac_sha256(&*k_region, SERVICE.as_bytes()));
        let k_signing = Zeroizing::new(hmac_sha256(&*k_service, b"aws4_request"));
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&*k_signing)
            .expect("HMAC takes keys of any length");
        Self { mac, date, day: None, region: region.to_owned() }
    }

    /// Whether this key is the one for `at` in `region` (keys are per UTC day).
    pub fn is_for(&self, at: OffsetDateTime, region: &str) -> bool {
        self.day == Some(at.to_offset(UtcOffset::UTC).date()) && self.region == region
    }

    /// `x-amz-signature`: lowercase hex HMAC-SHA256 of the policy exactly as sent (base64).
    pub fn sign(&self, string_to_sign: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(string_to_sign.as_bytes());
        lower_hex(&mac.finalize().into_bytes())
    }

    /// Checks a received `x-amz-signature` in constant time.
    pub fn verify(&self, string_to_sign: &str, signature_hex: &str) -> bool {
        let Ok(signature) = hex::decode(signature_hex) else { return false };
        let mut mac = self.mac.clone();
        mac.update(string_to_sign.as_bytes());
        mac.verify_slice(&signature).is_ok()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("date", &self.date)
            .field("region", &self.region)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use time::macros::datetime;

    /// The policy of AWS's "Example: Browser-Based Upload using HTTP POST (Using AWS Signature
    /// Version 4)", with the CRLF line endings AWS signed.
    const AWS_EXAMPLE_POLICY: &str = concat!(
        "{ \"expiration\": \"2015-12-30T12:00:00.000Z\",\r\n",
        "  \"conditions\": [\r\n",
        "    {\"bucket\": \"sigv4examplebucket\"},\r\n",
        "    [\"starts-with\", \"$key\", \"user/user1/\"],\r\n",
        "    {\"acl\": \"public-read\"},\r\n",
        "    {\"success_action_redirect\": \"http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html\"},\r\n",
        "    [\"starts-with\", \"$Content-Type\", \"image/\"],\r\n",
        "    {\"x-amz-meta-uuid\": \"14365123651274\"},\r\n",
        "    {\"x-amz-server-side-encryption\": \"AES256\"},\r\n",
        "    [\"starts-with\", \"$x-amz-meta-tag\", \"\"],\r\n",
        "\r\n",
        "    {\"x-amz-credential\": \"AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request\"},\r\n",
        "    {\"x-amz-algorithm\": \"AWS4-HMAC-SHA256\"},\r\n",
        "    {\"x-amz-date\": \"20151229T000000Z\" }\r\n",
        "  ]\r\n",
        "}",
    );

    fn aws_example_credentials() -> Credentials {
        Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    }

    #[test]
    fn aws_published_post_example() {
        let at = datetime!(2015-12-29 00:00:00 UTC);
        let encoded = base64::engine::general_purpose::STANDARD.encode(AWS_EXAMPLE_POLICY);
        assert!(encoded.starts_with("eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0K"));
        let key = SigningKey::derive(&aws_example_credentials(), at, "us-east-1");
        assert_eq!(
            key.sign(&encoded),
            "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
        );
        assert!(key
            .verify(&encoded, "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"));
        assert!(!key
            .verify(&encoded, "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699f"));
        assert!(!key.verify(&encoded, "not hex"));
        assert_eq!(
            credential_scope("AKIAIOSFODNN7EXAMPLE", at, "us-east-1"),
            "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"
        );
    }

    #[test]
    fn a_key_belongs_to_one_day_and_region() {
        let key = SigningKey::derive(
            &aws_example_credentials(),
            datetime!(2015-12-29 23:59:59 UTC),
            "us-east-1",
        );
        assert!(key.is_for(datetime!(2015-12-29 00:00:00 UTC), "us-east-1"));
        assert!(!key.is_for(datetime!(2015-12-30 00:00:00 UTC), "us-east-1"));
        assert!(!key.is_for(datetime!(2015-12-29 00:00:00 UTC), "eu-west-1"));
        let other_day = SigningKey::derive(
            &aws_example_credentials(),
            datetime!(2015-12-30 00:00:00 UTC),
            "us-east-1",
        );
        assert_ne!(key.sign("x"), other_day.sign("x"));
    }

    #[test]
    fn hex_is_lowercase_and_complete() {
        assert_eq!(lower_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    #[test]
    fn debug_hides_the_key() {
        let key = SigningKey::derive(
            &aws_example_credentials(),
            datetime!(2015-12-29 00:00:00 UTC),
            "us-east-1",
        );
        let shown = format!("{key:?}");
        assert!(shown.contains("<redacted>") && shown.contains("20151229"), "{shown}");
    }
}
