//! Reading what the bucket answered to a POST: the 201 `PostResponse` or the error XML.
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html>

use web_sys::{Document, DomParser, SupportedType};

/// The bucket stored the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub location: String,
    pub bucket: String,
    pub key: String,
    pub etag: String,
}

/// The bucket refused the upload, in its own words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Refusal {
    /// AWS (and the dev bucket): 403 AccessDenied "Invalid according to Policy: Policy
    /// expired."; Garage: 400 InvalidRequest "Expiration date is in the past".
    pub fn is_expired_policy(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        message.contains("policy expired") || message.contains("expiration date is in the past")
    }
}

impl Refusal {
    /// A presigned URL past its expiry. AWS (and the dev bucket): 403 AccessDenied "Request has
    /// expired"; Garage: 400 InvalidRequest "Date is too old".
    pub fn is_expired_url(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        message.contains("request has expired") || message.contains("date is too old")
    }

    /// The bucket refused the signature (or the policy refused the form).
    pub fn is_access_denied(&self) -> bool {
        self.code == "AccessDenied"
    }

    /// The store does not take browser-based POST uploads (Cloudflare R2 answers a form with
    /// 501 NotImplemented).
    pub fn is_post_unsupported(&self) -> bool {
        self.status == 501 || self.code == "NotImplemented"
    }

    /// The bytes are not the ones the checksum (or Content-MD5) was computed over.
    pub fn is_bad_digest(&self) -> bool {
        matches!(self.code.as_str(), "BadDigest" | "InvalidDigest" | "XAmzContentSHA256Mismatch")
    }
}

/// How one POST to the bucket ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Stored(Stored),
    Refused(Refusal),
    /// No HTTP answer could be read: the network failed, or the bucket's CORS rules do not
    /// let this page see the answer (the browser reports both the same way).
    Unreachable,
}

fn parse_xml(body: &str) -> Option<Document> {
    DomParser::new().ok()?.parse_from_string(body, SupportedType::TextXml).ok()
}

fn text(doc: Option<&Document>, tag: &str) -> Option<String> {
    doc?.get_elements_by_tag_name(tag).item(0)?.text_content()
}

/// Classifies an XHR's final status and body.
pub fn outcome(status: u16, body: &str) -> Outcome {
    if status == 0 {
        return Outcome::Unreachable;
    }
    let doc = if body.trim_start().starts_with('<') { parse_xml(body) } else { None };
    let doc = doc.as_ref();
    if (200..300).contains(&status) {
        return Outcome::Stored(Stored {
            location: text(doc, "Location").unwrap_or_default(),
            bucket: text(doc, "Bucket").unwrap_or_default(),
            key: text(doc, "Key").unwrap_or_default(),
            etag: text(doc, "ETag").unwrap_or_default(),
        });
    }
    Outcome::Refused(Refusal {
        status,
        code: text(doc, "Code").unwrap_or_else(|| format!("HTTP{status}")),
        message: text(doc, "Message")
            .unwrap_or_else(|| "the bucket refused the upload without saying why".into()),
    })
}
