//! What the page and the server send each other: the arguments and answers of the server
//! functions in [`crate::api`], and the one error type they fail with.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// How single-request uploads reach the bucket (`UPLOAD_METHOD`): a POST form where the store
/// takes browser-based uploads (AWS, Garage), a presigned PUT where it does not (Cloudflare R2,
/// Backblaze B2). Either way what was signed binds the key, the size, the type and the checksum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum UploadMethod {
    #[default]
    Post,
    Put,
}

impl UploadMethod {
    /// As the setting and the HTTP method name it, in lowercase.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadMethod::Post => "post",
            UploadMethod::Put => "put",
        }
    }
}

/// Which digest of the bytes the bucket checks (`UPLOAD_CHECKSUM`): SHA-256 in the
/// `x-amz-checksum-sha256` header or a POST field (AWS, Garage), MD5 in `Content-MD5` for stores
/// that refuse checksum headers (Backblaze B2; a PUT only: no store checks a form's MD5), or
/// none. The page hashes what the service asks for; the service binds it into what it signs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumMode {
    #[default]
    Sha256,
    Md5,
    Off,
}

impl ChecksumMode {
    /// As the setting names it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumMode::Sha256 => "sha256",
            ChecksumMode::Md5 => "md5",
            ChecksumMode::Off => "off",
        }
    }

    /// The header a PUT (of a file or of a part) carries the digest in.
    pub fn header(self) -> Option<&'static str> {
        match self {
            ChecksumMode::Sha256 => Some("x-amz-checksum-sha256"),
            ChecksumMode::Md5 => Some("content-md5"),
            ChecksumMode::Off => None,
        }
    }
}

/// What the browser needs to send one file straight to the bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedUpload {
    /// Where the request goes: the bucket's URL for a form, the object's presigned URL for a PUT.
    pub url: String,
    /// The object key the file will be stored under.
    pub key: String,
    /// How the file goes: `POST` (a form: `fields`, then the file) or `PUT` (the file as the
    /// whole body, with `headers`). A plain struct rather than a tagged enum: serde's tagged
    /// enums buffer what they read, and that code would weigh on every page's wasm.
    pub method: UploadMethod,
    /// A form's fields, in the order they must be sent; the file is appended after them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<(String, String)>,
    /// A PUT's headers: exactly these, signed (the bucket refuses the request without them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
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
    /// The part's digest (base64) in the service's [`ChecksumMode`]: its SHA-256, or its MD5;
    /// none with checksums off. The URL is good for these bytes only.
    #[serde(default, alias = "checksum_sha256")]
    pub checksum: Option<String>,
}

/// Where to PUT one part: a presigned `UploadPart` URL that binds the part's length and
/// checksum. The request must carry the checksum in the mode's header
/// ([`ChecksumMode::header`]).
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
    /// The SHA-256 the bucket checked, as it reports it: base64, or for a multipart upload the
    /// composite (of the parts' digests) with `-<parts>`. Known when the server just checked
    /// the object, where one was bound; a listing does not say.
    #[serde(default)]
    pub checksum_sha256: Option<String>,
}

/// What one profile takes; the default profile's are the global settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    /// Accepted content types (`type/*` wildcards); empty: any.
    pub allowed_types: Vec<String>,
    /// The smallest file accepted (at least 1: empty files never are).
    pub min_bytes: u64,
    /// The largest file signed for.
    pub max_bytes: u64,
    /// Files up to this size are hashed in the browser and the bucket checks the digest;
    /// 0 turns checksums off for files in one request.
    pub checksum_max_bytes: u64,
    /// Files above this size (and every file above 5 GiB) go in parts
    /// ([`crate::rules::goes_multipart`]).
    pub multipart_threshold: u64,
    /// Files one uploader may start per minute.
    pub files_per_minute: u32,
    /// Files one uploader may start per day, if limited.
    pub files_per_day: Option<u32>,
    /// The metadata this profile asks for, in the order the page shows it.
    pub fields: Vec<Field>,
}

/// One metadata entry a profile asks for (`x-amz-meta-<name>`), with rules simple enough for
/// the page to check without a regex engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// A metadata name (lowercase letters, digits, `-`).
    pub name: String,
    /// Every file must carry it, not empty.
    pub required: bool,
    /// Its longest value, in characters.
    pub max_len: Option<u32>,
    /// The only values it may take; empty: any (within `chars`).
    pub values: Vec<String>,
    /// The characters it may hold.
    pub chars: Chars,
}

/// Which characters a metadata value may hold: printable ASCII at most (values travel in
/// HTTP headers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chars {
    /// `0-9`.
    Digits,
    /// ASCII letters, digits, `-` and `_`.
    Word,
    /// Any printable ASCII, space included.
    #[default]
    Printable,
}

/// Which bucket uploads go to, for the page to say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketInfo {
    pub bucket: String,
    /// Where forms are POSTed.
    pub url: String,
    /// How single-request uploads are sent (a `PUT` store has no plain form).
    pub method: UploadMethod,
    /// Set for the embedded dev bucket: the directory its files land in.
    pub dev_data_dir: Option<String>,
    /// The profile the page uploads under, with its limits (narrowed where the user's token
    /// narrows them) and the metadata it asks for.
    pub profile: Profile,
    /// Whether signing needs the operator's access code.
    pub access_code_required: bool,
    /// Which digest: SHA-256, MD5 (with PUT) or none.
    pub checksum: ChecksumMode,
    /// Who the page uploads as (the service's answer says anonymous; the server function
    /// fills in the request's identity).
    pub who: Who,
}

/// Who the page uploads as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Who {
    /// An anonymous browser (`UPLOAD_AUTH=anonymous`).
    Anonymous,
    /// A user of the application: `name` is the subject it gave; `can_sign_out` when the
    /// session is this service's (`UPLOAD_AUTH=token`), not a proxy's.
    User { name: String, can_sign_out: bool },
    /// Nobody: uploads need signing in first.
    Nobody(SignIn),
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
    /// Not a refusal: the file is stored and its checks (a quarantined profile's scan and
    /// promotion) are still under way. The same call, made again after `retry_after_secs`,
    /// answers with the verdict once there is one.
    #[error("the file is stored and is being checked")]
    Checking { retry_after_secs: u64 },
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
    /// No such thing here (an upload profile that is not configured).
    #[error("{0}")]
    NotFound(String),
    /// Not for this user (a profile for other roles, or one their token does not name).
    #[error("{0}")]
    Forbidden(String),
    /// The request did not reach the server function or its answer was unreadable.
    #[error("could not reach the upload service: {0}")]
    Transport(String),
    /// This service uploads for the application's signed-in users only, and the request named
    /// none (or a token that does not hold): nothing was signed.
    #[error("{0}")]
    SignIn(SignIn),
}

/// A token the page hands over to be exchanged for a session: a credential, so never printed
/// (a server function's arguments are `Debug`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Why a request names no user, and where the person signs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    pub reason: NoUser,
    /// The application's page that signs people in and comes back with a token, when the
    /// operator named one (`UPLOAD_SIGN_IN_URL`).
    pub sign_in_url: Option<String>,
}

impl std::fmt::Display for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let why = self.reason.explain();
        match &self.sign_in_url {
            Some(url) => write!(f, "{why}: sign in at {url}, then come back"),
            None => write!(f, "{why}: sign in to the application that sent you here"),
        }
    }
}

/// Why no user is named, as the 401's JSON body and the refusal counter say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoUser {
    /// No token, session or proxy header came with the request.
    Missing,
    /// The token's `exp` (or the session's end) has passed.
    Expired,
    /// The token's `nbf` or `iat` is still ahead.
    NotYetValid,
    WrongAudience,
    WrongIssuer,
    /// Signed with a key the service does not know (no such `kid` in the JWKS).
    UnknownKey,
    /// The signature does not hold, or the algorithm is not the key's.
    BadSignature,
    /// Not a token, or one without the claims the service needs.
    Malformed,
    /// The session cookie names another user than the token sent beside it.
    OtherUser,
    /// The user header came from an address that is not the authenticating proxy.
    UntrustedProxy,
}

impl NoUser {
    pub const ALL: [NoUser; 10] = [
        NoUser::Missing,
        NoUser::Expired,
        NoUser::NotYetValid,
        NoUser::WrongAudience,
        NoUser::WrongIssuer,
        NoUser::UnknownKey,
        NoUser::BadSignature,
        NoUser::Malformed,
        NoUser::OtherUser,
        NoUser::UntrustedProxy,
    ];

    /// Its name in the 401's body, the logs and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            NoUser::Missing => "missing",
            NoUser::Expired => "expired",
            NoUser::NotYetValid => "not_yet_valid",
            NoUser::WrongAudience => "wrong_audience",
            NoUser::WrongIssuer => "wrong_issuer",
            NoUser::UnknownKey => "unknown_key",
            NoUser::BadSignature => "bad_signature",
            NoUser::Malformed => "malformed",
            NoUser::OtherUser => "other_user",
            NoUser::UntrustedProxy => "untrusted_proxy",
        }
    }

    fn explain(self) -> &'static str {
        match self {
            NoUser::Missing => "you are not signed in",
            NoUser::Expired => "your session has ended",
            NoUser::OtherUser => "you signed in as someone else meanwhile",
            _ => "your sign-in could not be checked",
        }
    }
}

impl FromServerFnError for UploadError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        UploadError::Transport(value.to_string())
    }
}

/// The `WWW-Authenticate` of a 401 (RFC 6750): a missing token is only a challenge; any other
/// reason says the token did not hold.
#[cfg(feature = "ssr")]
pub fn www_authenticate(reason: NoUser) -> http::HeaderValue {
    http::HeaderValue::from_static(match reason {
        NoUser::Missing => "Bearer",
        _ => "Bearer error=\"invalid_token\"",
    })
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
            // With a Retry-After: an answer to ask for again, as a busy service's is.
            UploadError::Unavailable(_) | UploadError::Checking { .. } => {
                http::StatusCode::SERVICE_UNAVAILABLE
            }
            UploadError::AccessCode(_) | UploadError::Forbidden(_) => http::StatusCode::FORBIDDEN,
            UploadError::NotFound(_) => http::StatusCode::NOT_FOUND,
            UploadError::TooManyRequests { .. } => http::StatusCode::TOO_MANY_REQUESTS,
            UploadError::Transport(_) => http::StatusCode::BAD_GATEWAY,
            UploadError::Mismatch(_) => http::StatusCode::CONFLICT,
            UploadError::SignIn(_) => http::StatusCode::UNAUTHORIZED,
        }
    }
}
