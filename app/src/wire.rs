//! What the page and the server send each other: the arguments and answers of the server
//! functions in [`crate::api`], and the one error type they fail with.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// What the browser needs to POST one file straight to the bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedUpload {
    /// The bucket's URL: the form is POSTed here.
    pub url: String,
    /// The object key the file will be stored under.
    pub key: String,
    /// Form fields in the order they must be sent; the file is appended after them.
    pub fields: Vec<(String, String)>,
    /// When the policy stops being accepted (RFC 3339).
    pub expires_at: String,
    /// What was signed, sealed by the server: handed back to [`crate::api::confirm_upload`], so
    /// that any instance can check the upload without remembering anything.
    pub receipt: String,
}

/// What the browser reports after the bucket accepted an upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReport {
    pub key: String,
    /// The ETag the bucket answered with (quotes and all).
    pub etag: String,
    /// The receipt that came with the signed form ([`SignedUpload::receipt`]).
    pub receipt: String,
}

/// A multipart upload the server started for one file: the browser sends the parts straight to
/// the bucket, each with a URL from [`crate::api::sign_parts`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultipartUpload {
    /// The object key the file will be stored under.
    pub key: String,
    /// The bucket's id for this upload.
    pub upload_id: String,
    /// Every part is this long but the last ([`crate::rules::part_length`]).
    pub part_size: u64,
    pub parts: u64,
    /// What was started, sealed by the server: handed back to every later call for this upload.
    pub receipt: String,
}

/// A part the browser has read and hashed and wants a URL for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartToSign {
    /// From 1.
    pub number: u64,
    /// Its length in bytes, as [`crate::rules::part_length`] says it must be.
    pub length: u64,
    /// The part's SHA-256 (base64): the URL is good for these bytes only.
    pub checksum_sha256: String,
}

/// Where to PUT one part: a presigned `UploadPart` URL that binds the part's length and
/// checksum. The request must carry the `x-amz-checksum-sha256` header with the part's checksum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPart {
    pub number: u64,
    pub url: String,
    /// When the URL stops being accepted (RFC 3339).
    pub expires_at: String,
}

/// A part the bucket has, as it lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPart {
    pub number: u64,
    pub size: u64,
    pub etag: String,
    /// Base64, when the bucket reports one.
    pub checksum_sha256: Option<String>,
}

/// An upload in the bucket: just checked by the server, or listed from the bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUpload {
    pub key: String,
    /// The file name, as the last segment of the key.
    pub name: String,
    pub size: u64,
    /// Known when the server just checked the object; a listing does not say.
    pub content_type: Option<String>,
    pub etag: String,
    /// Where to view it: a short-lived presigned GET for S3, the dev bucket's own URL.
    pub view_url: String,
    /// When the bucket stored it (RFC 3339).
    pub stored_at: String,
}

/// Which bucket uploads go to, for the page to say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketInfo {
    pub bucket: String,
    /// Where forms are POSTed.
    pub url: String,
    /// Set for the embedded dev bucket: the directory its files land in.
    pub dev_data_dir: Option<String>,
    /// The largest file the server signs for.
    pub max_bytes: u64,
    /// Accepted content types (`type/*` wildcards); empty: any.
    pub allowed_types: Vec<String>,
    /// Whether signing needs the operator's access code.
    pub access_code_required: bool,
    /// Files one uploader may upload per minute.
    pub files_per_minute: u32,
    /// Files up to this size are hashed in the browser and the bucket checks the SHA-256;
    /// 0 turns checksums off.
    pub checksum_max_bytes: u64,
    /// Files above this size (and every file above 5 GiB) go in parts, each with its SHA-256
    /// ([`crate::rules::goes_multipart`]).
    pub multipart_threshold: u64,
}

/// Why the server would not sign, check or go on with an upload, one variant per meaning (the
/// page may say each differently). The message is meant for the person uploading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum UploadError {
    /// The file or the request cannot be accepted as described (name, size, type, parts).
    #[error("{0}")]
    Refused(String),
    /// The receipt is too old to be used: the upload must be started again.
    #[error("{0}")]
    Expired(String),
    /// The bucket no longer has the upload (completed, cancelled or cleaned up).
    #[error("{0}")]
    Gone(String),
    /// The upload was checked already: one verdict per receipt.
    #[error("{0}")]
    AlreadyChecked(String),
    /// Signing is not possible right now (configuration, credentials); nothing was signed.
    #[error("the upload service is unavailable: {0}")]
    Unavailable(String),
    /// Signing needs the operator's access code, and it was missing or wrong.
    #[error("{0}")]
    AccessCode(String),
    /// Too many signatures asked for in a short time; nothing was signed.
    #[error("too many uploads in a short time: try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// The stored object is not what was signed (or is missing): logged as a security event.
    #[error("{0}")]
    Mismatch(String),
    /// The request did not reach the server function or its answer was unreadable.
    #[error("could not reach the upload service: {0}")]
    Transport(String),
}

impl FromServerFnError for UploadError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        UploadError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl UploadError {
    /// The HTTP status the server function answers with.
    pub fn status(&self) -> http::StatusCode {
        match self {
            UploadError::Refused(_)
            | UploadError::Expired(_)
            | UploadError::Gone(_)
            | UploadError::AlreadyChecked(_) => http::StatusCode::BAD_REQUEST,
            UploadError::Unavailable(_) => http::StatusCode::SERVICE_UNAVAILABLE,
            UploadError::AccessCode(_) => http::StatusCode::FORBIDDEN,
            UploadError::TooManyRequests { .. } => http::StatusCode::TOO_MANY_REQUESTS,
            UploadError::Transport(_) => http::StatusCode::BAD_GATEWAY,
            UploadError::Mismatch(_) => http::StatusCode::CONFLICT,
        }
    }
}
