//! The API contract between the page and the server: the server functions and the types they
//! exchange. The browser calls these; the server answers through an [`crate::signing::UploadSigner`]
//! that it puts in the Leptos context.

use leptos::prelude::*;
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
}

/// What the browser reports after the bucket accepted an upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReport {
    pub key: String,
    /// The ETag the bucket answered with (quotes and all).
    pub etag: String,
}

/// An upload the server checked in the bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUpload {
    pub key: String,
    /// The file name, as the last segment of the key.
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub etag: String,
    /// Where to view it: a short-lived presigned GET for S3, the dev bucket's own URL.
    pub view_url: String,
    /// When it was confirmed (RFC 3339).
    pub confirmed_at: String,
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
}

/// Why the server would not sign an upload. The message is meant for the person uploading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum UploadError {
    /// The file cannot be uploaded as described (name, size, type).
    #[error("{0}")]
    Refused(String),
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

/// Signs a POST policy for one file of exactly `size` bytes of type `content_type`.
/// An empty `content_type` (browsers report one for unknown extensions) is signed as
/// `application/octet-stream`, which the browser must then send. `access_code` is checked when
/// the operator set one (see [`BucketInfo::access_code_required`]); otherwise it is ignored.
/// With `checksum_sha256` (base64), the bucket accepts only those exact bytes; `metadata` is
/// stored with the object (names of lowercase letters, digits and `-`; 2 KB in all).
#[server(endpoint = "sign_upload")]
pub async fn sign_upload(
    file_name: String,
    size: u64,
    content_type: String,
    access_code: String,
    #[server(default)] checksum_sha256: Option<String>,
    #[server(default)] metadata: std::collections::BTreeMap<String, String>,
) -> Result<SignedUpload, UploadError> {
    use crate::signing::UploadRequest;

    let request = UploadRequest { file_name, size, content_type, access_code, checksum_sha256, metadata };
    let response = server_side::response();
    let result = match server_side::context() {
        Ok((signer, who)) => signer.sign(&who, request).await,
        Err(err) => Err(err),
    };
    server_side::answer(response, result)
}

/// Reports an upload the bucket accepted (its key and the ETag it answered with); the server
/// checks the stored object against what it signed. Only then is the upload "done".
#[server(endpoint = "confirm_upload")]
pub async fn confirm_upload(key: String, etag: String) -> Result<StoredUpload, UploadError> {
    let response = server_side::response();
    let result = match server_side::context() {
        Ok((signer, who)) => signer.confirm(&who, UploadReport { key, etag }).await,
        Err(err) => Err(err),
    };
    server_side::answer(response, result)
}

/// A signed form for the page's no-JavaScript upload: it comes back to `/uploaded`.
#[server(endpoint = "page_form")]
pub async fn page_form() -> Result<Option<SignedUpload>, UploadError> {
    let response = server_side::response();
    let result = match server_side::context() {
        Ok((signer, who)) => {
            let redirect = server_side::return_url("/uploaded");
            signer.page_form(&who, redirect).await
        }
        Err(err) => Err(err),
    };
    server_side::answer(response, result)
}

/// This browser's confirmed uploads, newest first.
#[server(endpoint = "my_uploads")]
pub async fn my_uploads() -> Result<Vec<StoredUpload>, UploadError> {
    let response = server_side::response();
    let result = match server_side::context() {
        Ok((signer, who)) => signer.uploads(&who).await,
        Err(err) => Err(err),
    };
    server_side::answer(response, result)
}

/// The bucket this server signs for.
#[server(endpoint = "upload_target")]
pub async fn upload_target() -> Result<BucketInfo, UploadError> {
    server_side::signer().map(|signer| signer.target())
}

/// What every server function takes from the Leptos context, read before any `.await`.
#[cfg(feature = "ssr")]
mod server_side {
    use std::sync::Arc;

    use leptos::prelude::use_context;

    use super::UploadError;
    use crate::signing::{ClientIp, Requester, UploadSigner, UploaderId};

    pub fn signer() -> Result<Arc<dyn UploadSigner>, UploadError> {
        use_context::<Arc<dyn UploadSigner>>().ok_or_else(|| UploadError::Unavailable("no signer is configured".into()))
    }

    pub fn context() -> Result<(Arc<dyn UploadSigner>, Requester), UploadError> {
        let who = use_context::<http::request::Parts>()
            .and_then(|parts| {
                let uploader = parts.extensions.get::<UploaderId>().cloned()?;
                Some(Requester { uploader, ip: parts.extensions.get::<ClientIp>().map(|ip| ip.0) })
            })
            .ok_or_else(|| UploadError::Unavailable("no uploader session".into()))?;
        Ok((signer()?, who))
    }

    /// An absolute URL on this site (as the browser addresses it) for `path`, carrying the
    /// uploader's return token.
    pub fn return_url(path: &str) -> String {
        let parts = use_context::<http::request::Parts>();
        let header = |name| parts.as_ref()?.headers.get(name)?.to_str().ok().map(str::to_owned);
        let host = header(http::header::HOST).unwrap_or_else(|| "localhost".into());
        let scheme = header(http::header::HeaderName::from_static("x-forwarded-proto")).unwrap_or_else(|| "http".into());
        let token = parts.as_ref().and_then(|p| p.extensions.get::<crate::signing::ReturnToken>().cloned());
        match token {
            Some(token) => format!("{scheme}://{host}{path}?session={}", token.0),
            None => format!("{scheme}://{host}{path}"),
        }
    }

    pub fn response() -> Option<leptos_axum::ResponseOptions> {
        use_context::<leptos_axum::ResponseOptions>()
    }

    /// Gives an error its HTTP status (and Retry-After), so the answer means what it says.
    pub fn answer<T>(response: Option<leptos_axum::ResponseOptions>, result: Result<T, UploadError>) -> Result<T, UploadError> {
        if let (Err(err), Some(response)) = (&result, response) {
            response.set_status(err.status());
            if let UploadError::TooManyRequests { retry_after_secs } = err {
                response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(*retry_after_secs));
            }
        }
        result
    }
}

#[cfg(feature = "ssr")]
impl UploadError {
    /// The HTTP status the server function answers with.
    pub fn status(&self) -> http::StatusCode {
        match self {
            UploadError::Refused(_) => http::StatusCode::BAD_REQUEST,
            UploadError::Unavailable(_) => http::StatusCode::SERVICE_UNAVAILABLE,
            UploadError::AccessCode(_) => http::StatusCode::FORBIDDEN,
            UploadError::TooManyRequests { .. } => http::StatusCode::TOO_MANY_REQUESTS,
            UploadError::Transport(_) => http::StatusCode::BAD_GATEWAY,
            UploadError::Mismatch(_) => http::StatusCode::CONFLICT,
        }
    }
}
