//! Presigned URLs: AWS Signature Version 4 in the query string, for one request anyone holding
//! the URL may make until it expires (a GET of an object, an `UploadPart` PUT): made by
//! [`presign`], checked by [`verify_presigned`] (the dev bucket). Pure: the time is passed in;
//! headers the request must carry (a part's `content-length`, its `x-amz-checksum-sha256`) are
//! signed, so a URL is good for those bytes only.
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html>

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::error::{self, S3Error};
use super::sigv4::{credential_scope, lower_hex, SigningKey, ALGORITHM};
use super::timefmt::{amz_date, parse_amz_date, scope_date};
use super::uri::encoded;
use super::{Credentials, ExpiryError};

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
    /// The credentials leave no time for the URL ([`super::PolicySigner::presign`]).
    #[error(transparent)]
    Expiry(#[from] ExpiryError),
    #[error("a presigned URL lives 1 s to 7 days, not {0} s")]
    Lifetime(u32),
    #[error("the endpoint {0:?} is not http(s)://host[:port]")]
    Endpoint(String),
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

/// The canonical request's parts from decoded pieces: `query` without the signature, `headers`
/// with lowercase names (`host` among them).
fn canonical(
    path: &str,
    query: &[(String, String)],
    mut headers: Vec<(String, String)>,
) -> Canonical {
    headers.sort();
    let signed_headers =
        headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";");
    let mut query: Vec<(String, String)> =
        query.iter().map(|(n, v)| (encoded(n, false), encoded(v, false))).collect();
    query.sort();
    let query = query.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&");
    let mut canonical_headers = String::new();
    for (name, value) in &headers {
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(value.trim());
        canonical_headers.push('\n');
    }
    Canonical { uri: encoded(path, true), query, headers: canonical_headers, signed_headers }
}

/// The query and headers `presign` signs for `request`.
fn to_presign(
    credentials: &Credentials,
    region: &str,
    request: &Presign<'_>,
    now: OffsetDateTime,
) -> Result<Canonical, PresignError> {
    if request.expires_in_secs == 0 || request.expires_in_secs > MAX_PRESIGNED_SECS {
        return Err(PresignError::Lifetime(request.expires_in_secs));
    }
    let host = host_of(request.endpoint)?;
    let mut headers: Vec<(String, String)> = vec![("host".into(), host.to_owned())];
    headers.extend(
        request
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned())),
    );
    let mut names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    let mut query: Vec<(String, String)> = vec![
        ("X-Amz-Algorithm".into(), ALGORITHM.into()),
        ("X-Amz-Credential".into(), credential_scope(credentials.access_key_id(), now, region)),
        ("X-Amz-Date".into(), amz_date(now)),
        ("X-Amz-Expires".into(), request.expires_in_secs.to_string()),
        ("X-Amz-SignedHeaders".into(), names.join(";")),
    ];
    if let Some(token) = credentials.session_token() {
        query.push(("X-Amz-Security-Token".into(), token.to_owned()));
    }
    query.extend(
        request.query.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    Ok(canonical(request.path, &query, headers))
}

fn string_to_sign(
    method: &str,
    canonical: &Canonical,
    now: OffsetDateTime,
    region: &str,
) -> String {
    let canonical_request = format!(
        "{method}\n{}\n{}\n{}\n{}\n{UNSIGNED_PAYLOAD}",
        canonical.uri, canonical.query, canonical.headers, canonical.signed_headers
    );
    format!(
        "{ALGORITHM}\n{}\n{}/{region}/s3/aws4_request\n{}",
        amz_date(now),
        scope_date(now),
        lower_hex(&Sha256::digest(canonical_request.as_bytes()))
    )
}

/// The presigned URL for `request`, signed as of `now` with `credentials` for `region`.
pub fn presign(
    credentials: &Credentials,
    region: &str,
    request: &Presign<'_>,
    now: OffsetDateTime,
) -> Result<String, PresignError> {
    let canonical = to_presign(credentials, region, request, now)?;
    let key = SigningKey::derive(credentials, now, region);
    let signature = key.sign(&string_to_sign(request.method, &canonical, now, region));
    Ok(format!(
        "{}{}?{}&X-Amz-Signature={signature}",
        request.endpoint, canonical.uri, canonical.query
    ))
}

/// A presigned request as the bucket received it, decoded: the path (`/<bucket>/<key>`), every
/// query parameter, and a way to read its headers.
pub struct Received<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub header: &'a dyn Fn(&str) -> Option<String>,
}

impl Received<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// How far ahead of the bucket's clock a presigned URL's date may be (S3 allows 15 minutes).
const MAX_CLOCK_AHEAD: time::Duration = time::Duration::minutes(15);

/// Checks a presigned request the way S3 does: algorithm, credential scope (the key, the region),
/// lifetime, that `host` and every signed header came with it, then the signature. Answers the
/// lowercase names of the headers the signature covers (a caller that needs a header bound, a
/// part's checksum say, checks it is among them). `credentials` looks a key id up.
pub fn verify_presigned(
    received: &Received<'_>,
    region: &str,
    now: OffsetDateTime,
    credentials: impl Fn(&str) -> Option<Credentials>,
) -> Result<Vec<String>, S3Error> {
    let param = |name: &str| {
        received.param(name).ok_or_else(|| {
            error::query_auth(format!("Query-string authentication requires the {name} parameter"))
        })
    };
    if received.param("X-Amz-Signature").is_none() && received.param("X-Amz-Credential").is_none() {
        return Err(error::access_denied());
    }
    if param("X-Amz-Algorithm")? != ALGORITHM {
        return Err(error::query_auth(format!("X-Amz-Algorithm only supports \"{ALGORITHM}\"")));
    }
    let credential = param("X-Amz-Credential")?;
    let [access_key_id, date, scope_region, "s3", "aws4_request"] =
        credential.split('/').collect::<Vec<_>>()[..]
    else {
        return Err(error::query_auth(format!(
            "Error parsing the X-Amz-Credential parameter: {credential:?}"
        )));
    };
    if scope_region != region {
        return Err(error::wrong_region(scope_region, region));
    }
    let signed_at = parse_amz_date(param("X-Amz-Date")?).ok_or_else(|| {
        error::query_auth("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    if scope_date(signed_at) != date {
        return Err(error::query_auth("The date of X-Amz-Credential does not match X-Amz-Date"));
    }
    let expires: u32 = match param("X-Amz-Expires")?.parse() {
        Ok(secs @ 1..=MAX_PRESIGNED_SECS) => secs,
        _ => return Err(error::query_auth("X-Amz-Expires must be from 1 to 604800 seconds")),
    };
    let creds = credentials(access_key_id).ok_or_else(error::invalid_access_key_id)?;
    match (creds.session_token(), received.param("X-Amz-Security-Token")) {
        (Some(_), None) => return Err(error::invalid_access_key_id()),
        (Some(want), Some(got)) if want != got => return Err(error::invalid_token()),
        (None, Some(_)) => return Err(error::invalid_token()),
        _ => {}
    }
    if now > signed_at + time::Duration::seconds(i64::from(expires)) {
        return Err(error::request_expired());
    }
    if signed_at > now + MAX_CLOCK_AHEAD {
        return Err(error::request_not_yet_valid());
    }
    let names: Vec<String> = param("X-Amz-SignedHeaders")?.split(';').map(str::to_owned).collect();
    if !names.iter().any(|n| n == "host")
        || names.iter().any(|n| n.is_empty() || n.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(error::query_auth(
            "X-Amz-SignedHeaders must be lowercase names, host among them",
        ));
    }
    let mut headers = Vec::with_capacity(names.len());
    for name in &names {
        let value = (received.header)(name)
            .ok_or_else(|| error::query_auth(format!("The signed header {name:?} is missing")))?;
        headers.push((name.clone(), value));
    }
    let unsigned: Vec<(String, String)> =
        received.query.iter().filter(|(n, _)| n != "X-Amz-Signature").cloned().collect();
    let canonical = canonical(received.path, &unsigned, headers);
    let key = SigningKey::derive(&creds, signed_at, region);
    if !key.verify(
        &string_to_sign(received.method, &canonical, signed_at, region),
        param("X-Amz-Signature")?,
    ) {
        return Err(error::signature_mismatch());
    }
    Ok(names)
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use time::macros::datetime;

    fn aws_example_credentials() -> Credentials {
        Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    }

    fn get(path: &str) -> Presign<'_> {
        Presign {
            method: "GET",
            endpoint: "https://examplebucket.s3.amazonaws.com",
            path,
            query: vec![],
            headers: vec![],
            expires_in_secs: 86400,
        }
    }

    /// AWS's "Example: GET Object" of query-string authentication: the signature and the
    /// hash of the canonical request it publishes.
    #[test]
    fn aws_published_query_string_example() {
        let now = datetime!(2013-05-24 00:00:00 UTC);
        let request = get("/test.txt");
        let canonical = to_presign(&aws_example_credentials(), "us-east-1", &request, now).unwrap();
        let to_sign = string_to_sign(request.method, &canonical, now, "us-east-1");
        assert!(
            to_sign.ends_with("\n3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"),
            "{to_sign}"
        );
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
        assert!(
            url.starts_with(
                "https://examplebucket.s3.amazonaws.com/uploads/a%20b/%C3%BC%2B%25.txt?"
            ),
            "{url}"
        );
        assert!(
            url.contains("&X-Amz-SignedHeaders=content-length%3Bhost%3Bx-amz-checksum-sha256&"),
            "{url}"
        );
        assert!(url.contains("&partNumber=3&uploadId=x%2Fy%3D&"), "sorted and encoded: {url}");
        // Another length, checksum or part is another signature.
        let signature = |r: &Presign<'_>| {
            presign(&aws_example_credentials(), "us-east-1", r, now)
                .unwrap()
                .rsplit('=')
                .next()
                .unwrap()
                .to_owned()
        };
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
        let url =
            presign(&credentials, "us-east-1", &get("/k"), datetime!(2026-11-29 08:00:00 UTC))
                .unwrap();
        assert!(url.contains("&X-Amz-Security-Token=tok%2Fen%2B&"), "{url}");
    }

    #[test]
    fn lifetimes_and_endpoints_are_checked() {
        let now = datetime!(2026-11-29 08:00:00 UTC);
        let mut request = get("/k");
        request.expires_in_secs = MAX_PRESIGNED_SECS + 1;
        assert_eq!(
            presign(&aws_example_credentials(), "us-east-1", &request, now),
            Err(PresignError::Lifetime(MAX_PRESIGNED_SECS + 1))
        );
        request.expires_in_secs = 0;
        assert!(presign(&aws_example_credentials(), "us-east-1", &request, now).is_err());
        for endpoint in [
            "examplebucket.s3.amazonaws.com",
            "ftp://h",
            "https://",
            "https://h/path",
            "https://u@h",
        ] {
            let request = Presign { endpoint, ..get("/k") };
            assert!(
                matches!(
                    presign(&aws_example_credentials(), "us-east-1", &request, now),
                    Err(PresignError::Endpoint(_))
                ),
                "{endpoint}"
            );
        }
        let request = Presign { endpoint: "http://127.0.0.1:3900", ..get("/uploads/k") };
        let url = presign(&aws_example_credentials(), "garage", &request, now).unwrap();
        assert!(url.starts_with("http://127.0.0.1:3900/uploads/k?"), "{url}");
    }

    /// A presigned URL as a bucket receives it: decoded path and query, and its headers.
    pub(in crate::policy) fn receive(
        url: &str,
        method: &str,
        headers: &[(&str, &str)],
        now: OffsetDateTime,
    ) -> Result<Vec<String>, S3Error> {
        let rest = url.split_once("://").unwrap().1;
        let (authority, path_and_query) = rest.split_at(rest.find('/').unwrap());
        let (path, query) = path_and_query.split_once('?').unwrap();
        let query: Vec<(String, String)> =
            serde_urlencoded::from_str(&query.replace('+', "%2B")).unwrap();
        let path = percent_decode(path);
        let mut all: Vec<(String, String)> = vec![("host".into(), authority.into())];
        all.extend(headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned())));
        let header = move |name: &str| all.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let received = Received { method, path: &path, query: &query, header: &header };
        verify_presigned(&received, "garage", now, |id| {
            (id == "GKexample").then(|| Credentials::new("GKexample", "secret"))
        })
    }

    fn percent_decode(text: &str) -> String {
        let mut out = Vec::new();
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn what_presign_signs_verify_accepts_and_nothing_else() {
        let now = datetime!(2026-11-29 08:00:00 UTC);
        let credentials = Credentials::new("GKexample", "secret");
        let request = Presign {
            method: "PUT",
            endpoint: "http://127.0.0.1:3102",
            path: "/uploads/a b/ü+~%.bin",
            query: vec![("partNumber", "2"), ("uploadId", "abc")],
            headers: vec![("content-length", "5"), ("x-amz-checksum-sha256", "c2hh")],
            expires_in_secs: 300,
        };
        let url = presign(&credentials, "garage", &request, now).unwrap();
        let good = [("content-length", "5"), ("x-amz-checksum-sha256", "c2hh")];
        assert_eq!(
            receive(&url, "PUT", &good, now).unwrap(),
            ["content-length", "host", "x-amz-checksum-sha256"]
        );
        assert!(receive(&url, "PUT", &good, now + time::Duration::seconds(300)).is_ok());
        let code = |r: Result<Vec<String>, S3Error>| r.unwrap_err().code;
        // Expired, or dated far ahead; another method, length, checksum, part or upload.
        let expired = receive(&url, "PUT", &good, now + time::Duration::seconds(301)).unwrap_err();
        assert_eq!((expired.status, expired.message.as_str()), (403, "Request has expired"));
        assert_eq!(
            code(receive(&url, "PUT", &good, now - time::Duration::minutes(16))),
            "AccessDenied"
        );
        assert_eq!(code(receive(&url, "GET", &good, now)), "SignatureDoesNotMatch");
        assert_eq!(
            code(receive(&url, "PUT", &[("content-length", "6"), good[1]], now)),
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            code(receive(&url, "PUT", &[good[0], ("x-amz-checksum-sha256", "b3RoZXI=")], now)),
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            code(receive(&url, "PUT", &good[..1], now)),
            "AuthorizationQueryParametersError"
        );
        assert_eq!(
            code(receive(&url.replace("partNumber=2", "partNumber=3"), "PUT", &good, now)),
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            code(receive(&url.replace("uploadId=abc", "uploadId=abd"), "PUT", &good, now)),
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            code(receive(&url.replace("a%20b", "a%20c"), "PUT", &good, now)),
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            code(receive(
                &url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000"),
                "PUT",
                &good,
                now
            )),
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            code(receive(&url.replace("GKexample", "GKother"), "PUT", &good, now)),
            "InvalidAccessKeyId"
        );
        assert_eq!(
            code(receive(&url.replace("%2Fgarage%2F", "%2Fus-east-1%2F"), "PUT", &good, now)),
            "AuthorizationHeaderMalformed"
        );
        assert_eq!(
            code(receive(&url.replace("X-Amz-Expires=300", "X-Amz-Expires=0"), "PUT", &good, now)),
            "AuthorizationQueryParametersError"
        );
        assert_eq!(
            code(receive(&url.replace("X-Amz-Algorithm=", "X-Amz-Algorithm=x"), "PUT", &good, now)),
            "AuthorizationQueryParametersError"
        );
        let anonymous = url.split('?').next().unwrap().to_owned() + "?partNumber=2&uploadId=abc";
        assert_eq!(code(receive(&anonymous, "PUT", &good, now)), "AccessDenied");
        // A token the key does not have.
        let with_token =
            presign(&credentials.clone().with_session_token("t"), "garage", &request, now).unwrap();
        assert_eq!(code(receive(&with_token, "PUT", &good, now)), "InvalidToken");
    }
}
