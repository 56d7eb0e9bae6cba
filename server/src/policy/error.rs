//! The answers S3 gives to a refused POST, worded as AWS words them. Each helper is one row
//! of the table in <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>.

use std::fmt;

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
        Self::new(501, "NotImplemented", message)
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
    S3Error::new(403, "AccessDenied", "Access Denied")
}

/// A policy that exists but does not allow this form.
pub fn policy_violation(detail: impl fmt::Display) -> S3Error {
    S3Error::new(403, "AccessDenied", format!("Invalid according to Policy: {detail}"))
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
    S3Error::new(400, "InvalidPolicyDocument", format!("Invalid Policy: {detail}"))
}

pub fn signature_mismatch() -> S3Error {
    S3Error::new(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
}

/// A presigned URL whose query parameters are missing or malformed.
pub fn query_auth(message: impl Into<String>) -> S3Error {
    S3Error::new(400, "AuthorizationQueryParametersError", message)
}

/// A presigned URL past its `X-Amz-Expires`.
pub fn request_expired() -> S3Error {
    S3Error::new(403, "AccessDenied", "Request has expired")
}

/// A presigned URL dated too far in the future.
pub fn request_not_yet_valid() -> S3Error {
    S3Error::new(403, "AccessDenied", "Request is not valid yet")
}

pub fn wrong_region(got: &str, expected: &str) -> S3Error {
    S3Error::new(
        400,
        "AuthorizationHeaderMalformed",
        format!("The authorization header is malformed; the region '{got}' is wrong; expecting '{expected}'"),
    )
    .with("Region", expected)
}

pub fn invalid_access_key_id() -> S3Error {
    S3Error::new(
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
    )
}

pub fn invalid_token() -> S3Error {
    S3Error::new(400, "InvalidToken", "The provided token is malformed or otherwise invalid.")
}

pub fn expired_token() -> S3Error {
    S3Error::new(400, "ExpiredToken", "The provided token has expired.")
}

pub fn invalid_argument(message: impl Into<String>) -> S3Error {
    S3Error::new(400, "InvalidArgument", message)
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
    S3Error::new(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        .with("ProposedSize", proposed)
        .with("MaxSizeAllowed", max)
}

pub fn entity_too_small(proposed: u64, min: u64) -> S3Error {
    S3Error::new(
        400,
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size",
    )
    .with("ProposedSize", proposed)
    .with("MinSizeAllowed", min)
}

pub fn pre_data_too_large() -> S3Error {
    // "preceeding" is AWS's spelling.
    S3Error::new(
        400,
        "MaxPostPreDataLengthExceeded",
        "Your POST request fields preceeding the upload file was too large.",
    )
}

pub fn key_too_long(size: usize, max: usize) -> S3Error {
    S3Error::new(400, "KeyTooLongError", "Your key is too long")
        .with("Size", size)
        .with("MaxSizeAllowed", max)
}

pub fn no_such_key() -> S3Error {
    S3Error::new(404, "NoSuchKey", "The specified key does not exist.")
}

pub fn no_such_bucket(bucket: &str) -> S3Error {
    S3Error::new(404, "NoSuchBucket", "The specified bucket does not exist")
        .with("BucketName", bucket)
}

pub fn not_multipart() -> S3Error {
    S3Error::new(
        412,
        "PreconditionFailed",
        "Bucket POST must be of the enclosure-type multipart/form-data",
    )
}

pub fn incomplete_body() -> S3Error {
    S3Error::new(400, "IncompleteBody", "The request body terminated unexpectedly")
}

pub fn malformed_post() -> S3Error {
    S3Error::new(
        400,
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

pub fn internal_error() -> S3Error {
    S3Error::new(500, "InternalError", "We encountered an internal error. Please try again.")
}

/// A checksum field whose value cannot be a checksum of that kind.
pub fn invalid_checksum_value(field: &str) -> S3Error {
    S3Error::new(400, "InvalidRequest", format!("Value for {field} header is invalid."))
}

pub fn no_such_upload() -> S3Error {
    S3Error::new(
        404,
        "NoSuchUpload",
        "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.",
    )
}

pub fn invalid_part(detail: impl fmt::Display) -> S3Error {
    S3Error::new(
        400,
        "InvalidPart",
        format!("One or more of the specified parts could not be found or did not match: {detail}"),
    )
}

pub fn missing_content_length() -> S3Error {
    S3Error::new(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
}

pub fn malformed_xml(detail: impl fmt::Display) -> S3Error {
    S3Error::new(400, "MalformedXML", format!("The XML you provided was not well-formed or did not validate against our published schema: {detail}"))
}

pub fn invalid_part_order() -> S3Error {
    S3Error::new(
        400,
        "InvalidPartOrder",
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
    )
}

pub fn bad_digest(algorithm: &str) -> S3Error {
    S3Error::new(
        400,
        "BadDigest",
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
