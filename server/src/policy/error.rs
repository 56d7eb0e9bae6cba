//! The answers S3 gives to a refused POST, worded as AWS words them. Each helper is one row
//! of the table in <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>.

use std::fmt;

/// S3's error codes, named once: what the dev bucket answers and what the service compares
/// a bucket's answer with.
pub mod code {
    pub const ACCESS_DENIED: &str = "AccessDenied";
    pub const AUTHORIZATION_HEADER_MALFORMED: &str = "AuthorizationHeaderMalformed";
    pub const AUTHORIZATION_QUERY_PARAMETERS_ERROR: &str = "AuthorizationQueryParametersError";
    pub const BAD_DIGEST: &str = "BadDigest";
    pub const ENTITY_TOO_LARGE: &str = "EntityTooLarge";
    pub const ENTITY_TOO_SMALL: &str = "EntityTooSmall";
    pub const EXPIRED_TOKEN: &str = "ExpiredToken";
    pub const INCOMPLETE_BODY: &str = "IncompleteBody";
    pub const INTERNAL_ERROR: &str = "InternalError";
    pub const INVALID_ACCESS_KEY_ID: &str = "InvalidAccessKeyId";
    pub const INVALID_ARGUMENT: &str = "InvalidArgument";
    pub const INVALID_DIGEST: &str = "InvalidDigest";
    pub const INVALID_PART: &str = "InvalidPart";
    pub const INVALID_PART_ORDER: &str = "InvalidPartOrder";
    pub const INVALID_POLICY_DOCUMENT: &str = "InvalidPolicyDocument";
    pub const INVALID_REQUEST: &str = "InvalidRequest";
    pub const INVALID_TOKEN: &str = "InvalidToken";
    pub const KEY_TOO_LONG_ERROR: &str = "KeyTooLongError";
    pub const MALFORMED_POST_REQUEST: &str = "MalformedPOSTRequest";
    pub const MALFORMED_XML: &str = "MalformedXML";
    pub const MAX_POST_PRE_DATA_LENGTH_EXCEEDED: &str = "MaxPostPreDataLengthExceeded";
    pub const MISSING_CONTENT_LENGTH: &str = "MissingContentLength";
    pub const NO_SUCH_BUCKET: &str = "NoSuchBucket";
    /// A bucket without CORS rules (GetBucketCors).
    pub const NO_SUCH_CORS_CONFIGURATION: &str = "NoSuchCORSConfiguration";
    pub const NO_SUCH_KEY: &str = "NoSuchKey";
    /// A bucket without lifecycle rules (GetBucketLifecycleConfiguration).
    pub const NO_SUCH_LIFECYCLE_CONFIGURATION: &str = "NoSuchLifecycleConfiguration";
    pub const NO_SUCH_UPLOAD: &str = "NoSuchUpload";
    pub const NOT_IMPLEMENTED: &str = "NotImplemented";
    pub const PRECONDITION_FAILED: &str = "PreconditionFailed";
    pub const SIGNATURE_DOES_NOT_MATCH: &str = "SignatureDoesNotMatch";
}

/// A refusal: HTTP status, S3 error code, and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Extra elements of the error XML, e.g. `ProposedSize` for EntityTooLarge.
    pub details: Vec<(&'static str, String)>,
}

impl S3Error {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Vec::new() }
    }

    /// What the dev bucket does not do.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(501, code::NOT_IMPLEMENTED, message)
    }

    fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.details.push((name, value.to_string()));
        self
    }

    /// `<Error><Code>..</Code><Message>..</Message>..</Error>`, as S3 sends it.
    pub fn to_xml(&self) -> String {
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>",
            self.code,
            xml_escape(&self.message)
        );
        for (name, value) in &self.details {
            xml.push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
        }
        xml.push_str("</Error>");
        xml
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for S3Error {}

pub(crate) fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub fn access_denied() -> S3Error {
    S3Error::new(403, code::ACCESS_DENIED, "Access Denied")
}

/// A policy that exists but does not allow this form.
pub fn policy_violation(detail: impl fmt::Display) -> S3Error {
    S3Error::new(403, code::ACCESS_DENIED, format!("Invalid according to Policy: {detail}"))
}

pub fn policy_expired() -> S3Error {
    policy_violation("Policy expired.")
}

pub fn extra_input_fields(names: &[String]) -> S3Error {
    policy_violation(format_args!("Extra input fields: {}", names.join(", ")))
}

pub fn condition_failed(condition: impl fmt::Display) -> S3Error {
    policy_violation(format_args!("Policy Condition failed: {condition}"))
}

pub fn invalid_policy(detail: impl fmt::Display) -> S3Error {
    S3Error::new(400, code::INVALID_POLICY_DOCUMENT, format!("Invalid Policy: {detail}"))
}

pub fn signature_mismatch() -> S3Error {
    S3Error::new(
        403,
        code::SIGNATURE_DOES_NOT_MATCH,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
}

/// A presigned request carrying `x-amz-*` headers its signature does not cover.
pub fn headers_not_signed(names: &[String]) -> S3Error {
    S3Error::new(
        403,
        code::ACCESS_DENIED,
        format!(
            "There were headers present in the request which were not signed: {}",
            names.join(", ")
        ),
    )
}

/// A presigned URL whose query parameters are missing or malformed.
pub fn query_auth(message: impl Into<String>) -> S3Error {
    S3Error::new(400, code::AUTHORIZATION_QUERY_PARAMETERS_ERROR, message)
}

/// A presigned URL past its `X-Amz-Expires`.
pub fn request_expired() -> S3Error {
    S3Error::new(403, code::ACCESS_DENIED, "Request has expired")
}

/// A presigned URL dated too far in the future.
pub fn request_not_yet_valid() -> S3Error {
    S3Error::new(403, code::ACCESS_DENIED, "Request is not valid yet")
}

pub fn wrong_region(got: &str, expected: &str) -> S3Error {
    S3Error::new(
        400,
        code::AUTHORIZATION_HEADER_MALFORMED,
        format!("The authorization header is malformed; the region '{got}' is wrong; expecting '{expected}'"),
    )
    .with("Region", expected)
}

pub fn invalid_access_key_id() -> S3Error {
    S3Error::new(
        403,
        code::INVALID_ACCESS_KEY_ID,
        "The AWS Access Key Id you provided does not exist in our records.",
    )
}

pub fn invalid_token() -> S3Error {
    S3Error::new(400, code::INVALID_TOKEN, "The provided token is malformed or otherwise invalid.")
}

pub fn expired_token() -> S3Error {
    S3Error::new(400, code::EXPIRED_TOKEN, "The provided token has expired.")
}

pub fn invalid_argument(message: impl Into<String>) -> S3Error {
    S3Error::new(400, code::INVALID_ARGUMENT, message)
}

/// A required field is absent, or was sent after the file (and so ignored).
pub fn missing_field(name: &str) -> S3Error {
    invalid_argument(format!(
        "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
    ))
}

pub fn no_file() -> S3Error {
    invalid_argument("POST requires exactly one file upload per request.")
}

pub fn entity_too_large(proposed: u64, max: u64) -> S3Error {
    S3Error::new(
        400,
        code::ENTITY_TOO_LARGE,
        "Your proposed upload exceeds the maximum allowed size",
    )
    .with("ProposedSize", proposed)
    .with("MaxSizeAllowed", max)
}

pub fn entity_too_small(proposed: u64, min: u64) -> S3Error {
    S3Error::new(
        400,
        code::ENTITY_TOO_SMALL,
        "Your proposed upload is smaller than the minimum allowed size",
    )
    .with("ProposedSize", proposed)
    .with("MinSizeAllowed", min)
}

pub fn pre_data_too_large() -> S3Error {
    // "preceeding" is AWS's spelling.
    S3Error::new(
        400,
        code::MAX_POST_PRE_DATA_LENGTH_EXCEEDED,
        "Your POST request fields preceeding the upload file was too large.",
    )
}

pub fn key_too_long(size: usize, max: usize) -> S3Error {
    S3Error::new(400, code::KEY_TOO_LONG_ERROR, "Your key is too long")
        .with("Size", size)
        .with("MaxSizeAllowed", max)
}

pub fn no_such_key() -> S3Error {
    S3Error::new(404, code::NO_SUCH_KEY, "The specified key does not exist.")
}

pub fn no_such_bucket(bucket: &str) -> S3Error {
    S3Error::new(404, code::NO_SUCH_BUCKET, "The specified bucket does not exist")
        .with("BucketName", bucket)
}

pub fn not_multipart() -> S3Error {
    S3Error::new(
        412,
        code::PRECONDITION_FAILED,
        "Bucket POST must be of the enclosure-type multipart/form-data",
    )
}

pub fn incomplete_body() -> S3Error {
    S3Error::new(400, code::INCOMPLETE_BODY, "The request body terminated unexpectedly")
}

pub fn malformed_post() -> S3Error {
    S3Error::new(
        400,
        code::MALFORMED_POST_REQUEST,
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

pub fn internal_error() -> S3Error {
    S3Error::new(500, code::INTERNAL_ERROR, "We encountered an internal error. Please try again.")
}

/// A checksum field whose value cannot be a checksum of that kind.
pub fn invalid_checksum_value(field: &str) -> S3Error {
    S3Error::new(400, code::INVALID_REQUEST, format!("Value for {field} header is invalid."))
}

pub fn no_such_upload() -> S3Error {
    S3Error::new(
        404,
        code::NO_SUCH_UPLOAD,
        "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.",
    )
}

pub fn invalid_part(detail: impl fmt::Display) -> S3Error {
    S3Error::new(
        400,
        code::INVALID_PART,
        format!("One or more of the specified parts could not be found or did not match: {detail}"),
    )
}

pub fn missing_content_length() -> S3Error {
    S3Error::new(
        411,
        code::MISSING_CONTENT_LENGTH,
        "You must provide the Content-Length HTTP header.",
    )
}

pub fn malformed_xml(detail: impl fmt::Display) -> S3Error {
    S3Error::new(400, code::MALFORMED_XML, format!("The XML you provided was not well-formed or did not validate against our published schema: {detail}"))
}

pub fn invalid_part_order() -> S3Error {
    S3Error::new(
        400,
        code::INVALID_PART_ORDER,
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
    )
}

/// A `Content-MD5` that is not the base64 of an MD5.
pub fn invalid_digest() -> S3Error {
    S3Error::new(400, code::INVALID_DIGEST, "The Content-MD5 you specified was invalid.")
}

pub fn bad_digest(algorithm: &str) -> S3Error {
    S3Error::new(
        400,
        code::BAD_DIGEST,
        format!("The {algorithm} you specified did not match the calculated checksum."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_carries_code_message_and_details_escaped() {
        let xml = entity_too_large(11, 10).to_xml();
        assert!(xml.contains("<Code>EntityTooLarge</Code>"), "{xml}");
        assert!(
            xml.contains("<ProposedSize>11</ProposedSize><MaxSizeAllowed>10</MaxSizeAllowed>"),
            "{xml}"
        );
        let xml = condition_failed(r#"["eq", "$key", "<a&b>"]"#).to_xml();
        assert!(
            xml.contains("[&quot;eq&quot;, &quot;$key&quot;, &quot;&lt;a&amp;b&gt;&quot;]"),
            "{xml}"
        );
    }
}
