//! Presigned URLs: AWS Signature Version 4 in the query string, for one request anyone holding
//! the URL may make until it expires (a GET of an object, an `UploadPart` PUT). Pure: the time
//! is passed in; headers the request must carry (a part's `content-length`, its
//! `x-amz-checksum-sha256`) are signed, so a URL is good for those bytes only.
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html>

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::sigv4::{credential_scope, lower_hex, SigningKey, ALGORITHM};
use super::timefmt::{amz_date, scope_date};
use super::Credentials;

/// The longest a presigned URL may live (7 days).
pub const MAX_PRESIGNED_SECS: u32 = 7 * 24 * 3600;

/// What the bucket hashes in place of the body: the URL signs the request, not its bytes (the
/// bytes are bound by a signed checksum header where that matters).
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// One request to presign. `path` is the object's path as S3 names it, not yet encoded (path
/// style: `/<bucket>/<key>`); `endpoint` is scheme and authority (`https://host[:port]`).
#[derive(Debug, Clone)]
pub struct Presign<'a> {
    pub method: &'a str,
    pub endpoint: &'a str,
    pub path: &'a str,
    /// Further query parameters (`partNumber`, `uploadId`, `response-content-type`...).
    pub query: Vec<(&'a str, &'a str)>,
    /// Headers the request must carry, besides `host` (names in any case).
    pub headers: Vec<(&'a str, &'a str)>,
    pub expires_in_secs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresignError {
    #[error("a presigned URL lives 1 s to 7 days, not {0} s")]
    Lifetime(u32),
    #[error("the endpoint {0:?} is not http(s)://host[:port]")]
    Endpoint(String),
}

/// S3's URI encoding: every byte but `A-Z a-z 0-9 - . _ ~` as `%XX`, and `/` too unless it
/// separates path segments.
fn uri_encode(out: &mut String, text: &str, keep_slash: bool) {
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b'/' if keep_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

fn encoded(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    uri_encode(&mut out, text, keep_slash);
    out
}

/// The host as the request's `Host` header carries it: the endpoint's authority.
fn host_of(endpoint: &str) -> Result<&str, PresignError> {
    let rest = endpoint.strip_prefix("https://").or_else(|| endpoint.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) => Ok(host),
        _ => Err(PresignError::Endpoint(endpoint.to_owned())),
    }
}

/// The parts of a presigned request that are signed, in canonical form.
struct Canonical {
    uri: String,
    /// Without the signature.
    query: String,
    headers: String,
    signed_headers: String,
}

fn canonical(credentials: &Credentials, region: &str, request: &Presign<'_>, now: OffsetDateTime) -> Result<Canonical, PresignError> {
    if request.expires_in_secs == 0 || request.expires_in_secs > MAX_PRESIGNED_SECS {
        return Err(PresignError::Lifetime(request.expires_in_secs));
    }
    let host = host_of(request.endpoint)?;
    let mut headers: Vec<(String, String)> = vec![("host".into(), host.to_owned())];
    headers.extend(request.headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned())));
    headers.sort();
    let signed_headers = headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";");

    let expires = request.expires_in_secs.to_string();
    let date = amz_date(now);
    let scope = credential_scope(credentials.access_key_id(), now, region);
    let mut query: Vec<(String, String)> = vec![
        ("X-Amz-Algorithm".into(), ALGORITHM.into()),
        ("X-Amz-Credential".into(), scope),
        ("X-Amz-Date".into(), date),
        ("X-Amz-Expires".into(), expires),
        ("X-Amz-SignedHeaders".into(), signed_headers.clone()),
    ];
    if let Some(token) = credentials.session_token() {
        query.push(("X-Amz-Security-Token".into(), token.to_owned()));
    }
    query.extend(request.query.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())));
    let mut query: Vec<(String, String)> = query.into_iter().map(|(n, v)| (encoded(&n, false), encoded(&v, false))).collect();
    query.sort();
    let query = query.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&");

    let mut canonical_headers = String::new();
    for (name, value) in &headers {
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(value);
        canonical_headers.push('\n');
    }
    Ok(Canonical { uri: encoded(request.path, true), query, headers: canonical_headers, signed_headers })
}

fn string_to_sign(request: &Presign<'_>, canonical: &Canonical, now: OffsetDateTime, region: &str) -> String {
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{UNSIGNED_PAYLOAD}",
        request.method, canonical.uri, canonical.query, canonical.headers, canonical.signed_headers
    );
    format!(
        "{ALGORITHM}\n{}\n{}/{region}/s3/aws4_request\n{}",
        amz_date(now),
        scope_date(now),
        lower_hex(&Sha256::digest(canonical_request.as_bytes()))
    )
}

/// The presigned URL for `request`, signed as of `now` with `credentials` for `region`.
pub fn presign(credentials: &Credentials, region: &str, request: &Presign<'_>, now: OffsetDateTime) -> Result<String, PresignError> {
    let canonical = canonical(credentials, region, request, now)?;
    let key = SigningKey::derive(credentials, now, region);
    let signature = key.sign(&string_to_sign(request, &canonical, now, region));
    Ok(format!("{}{}?{}&X-Amz-Signature={signature}", request.endpoint, canonical.uri, canonical.query))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn aws_example_credentials() -> Credentials {
        Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    }

    fn get(path: &str) -> Presign<'_> {
        Presign { method: "GET", endpoint: "https://examplebucket.s3.amazonaws.com", path, query: vec![], headers: vec![], expires_in_secs: 86400 }
    }

    /// AWS's "Example: GET Object" of query-string authentication: the signature and the
    /// hash of the canonical request it publishes.
    #[test]
    fn aws_published_query_string_example() {
        let now = datetime!(2013-05-24 00:00:00 UTC);
        let request = get("/test.txt");
        let canonical = canonical(&aws_example_credentials(), "us-east-1", &request, now).unwrap();
        let to_sign = string_to_sign(&request, &canonical, now, "us-east-1");
        assert!(to_sign.ends_with("\n3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"), "{to_sign}");
        let url = presign(&aws_example_credentials(), "us-east-1", &request, now).unwrap();
        assert_eq!(
            url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn keys_are_encoded_segment_by_segment_and_headers_are_signed() {
        let now = datetime!(2026-11-29 08:00:00 UTC);
        let mut request = get("/uploads/a b/ü+%.txt");
        request.method = "PUT";
        request.query = vec![("uploadId", "x/y="), ("partNumber", "3")];
        request.headers = vec![("X-Amz-Checksum-Sha256", " abc= "), ("Content-Length", "5")];
        let url = presign(&aws_example_credentials(), "us-east-1", &request, now).unwrap();
        assert!(url.starts_with("https://examplebucket.s3.amazonaws.com/uploads/a%20b/%C3%BC%2B%25.txt?"), "{url}");
        assert!(url.contains("&X-Amz-SignedHeaders=content-length%3Bhost%3Bx-amz-checksum-sha256&"), "{url}");
        assert!(url.contains("&partNumber=3&uploadId=x%2Fy%3D&"), "sorted and encoded: {url}");
        // Another length, checksum or part is another signature.
        let signature = |r: &Presign<'_>| presign(&aws_example_credentials(), "us-east-1", r, now).unwrap().rsplit('=').next().unwrap().to_owned();
        let base = signature(&request);
        let mut other = request.clone();
        other.headers[1].1 = "6";
        assert_ne!(signature(&other), base);
        let mut other = request.clone();
        other.query[1].1 = "4";
        assert_ne!(signature(&other), base);
    }

    #[test]
    fn a_session_token_is_carried_and_signed() {
        let credentials = aws_example_credentials().with_session_token("tok/en+");
        let url = presign(&credentials, "us-east-1", &get("/k"), datetime!(2026-11-29 08:00:00 UTC)).unwrap();
        assert!(url.contains("&X-Amz-Security-Token=tok%2Fen%2B&"), "{url}");
    }

    #[test]
    fn lifetimes_and_endpoints_are_checked() {
        let now = datetime!(2026-11-29 08:00:00 UTC);
        let mut request = get("/k");
        request.expires_in_secs = MAX_PRESIGNED_SECS + 1;
        assert_eq!(presign(&aws_example_credentials(), "us-east-1", &request, now), Err(PresignError::Lifetime(MAX_PRESIGNED_SECS + 1)));
        request.expires_in_secs = 0;
        assert!(presign(&aws_example_credentials(), "us-east-1", &request, now).is_err());
        for endpoint in ["examplebucket.s3.amazonaws.com", "ftp://h", "https://", "https://h/path", "https://u@h"] {
            let request = Presign { endpoint, ..get("/k") };
            assert!(matches!(presign(&aws_example_credentials(), "us-east-1", &request, now), Err(PresignError::Endpoint(_))), "{endpoint}");
        }
        let request = Presign { endpoint: "http://127.0.0.1:3900", ..get("/uploads/k") };
        let url = presign(&aws_example_credentials(), "garage", &request, now).unwrap();
        assert!(url.starts_with("http://127.0.0.1:3900/uploads/k?"), "{url}");
    }
}
