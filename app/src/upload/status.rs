//! Where one upload stands ([`Status`]), and how it fails: each failure has a [`FailureCode`], shown
//! beside its message, and the ways of failing that several steps share (a refusal from the
//! bucket, a bucket that cannot be reached, a server function's error) are made here once.

use std::fmt;

use super::s3_response::Refusal;
use crate::wire::{StoredUpload, UploadError};

/// Where one upload stands. `as_str` is also the row's `data-status`, for tests and styling.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Queued,
    /// Computing the SHA-256 the bucket will check.
    Hashing,
    Signing,
    Uploading,
    /// A file in parts, stopped by the person: the parts sent stay in the bucket.
    Paused,
    /// The bucket took it; the server is checking the stored object against the policy.
    Verifying,
    /// Stored, and still being checked (a quarantined profile's scan and promotion): the page
    /// asks again until there is a verdict.
    Checking,
    /// Checked by the server. Boxed: a status is passed around as a failure too, and this is
    /// its one large variant.
    Done(Box<StoredUpload>),
    Failed {
        code: FailureCode,
        message: String,
    },
    Cancelled,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Hashing => "hashing",
            Status::Signing => "signing",
            Status::Uploading => "uploading",
            Status::Paused => "paused",
            Status::Verifying => "verifying",
            Status::Checking => "checking",
            Status::Done { .. } => "done",
            Status::Failed { .. } => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Worth retrying: not a refusal the page made itself (the file would be refused again).
    pub fn is_retryable(&self) -> bool {
        match self {
            Status::Failed { code, .. } => !code.is_local_refusal(),
            Status::Cancelled => true,
            _ => false,
        }
    }

    /// Finished one way or another: the row can be removed from the list.
    pub fn is_finished(&self) -> bool {
        matches!(self, Status::Done(_) | Status::Failed { .. } | Status::Cancelled)
    }

    /// Still under way (and so cancellable). Verifying is not: the bytes are in the bucket.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            Status::Queued | Status::Hashing | Status::Signing | Status::Uploading | Status::Paused
        )
    }

    /// Stopped by the person: paused or cancelled.
    pub fn is_stopped(&self) -> bool {
        matches!(self, Status::Paused | Status::Cancelled)
    }
}

/// What failed, as the row names it (`<code class="code">`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureCode {
    // The page's own refusals, before anything is signed: retrying would not help.
    EmptyFile,
    TooLarge,
    TypeNotAllowed,
    // The file.
    /// The file is gone from the page (a row from before a reload).
    NoFile,
    Unreadable,
    /// A file picked to resume an upload is not that upload's file.
    OtherFile,
    NoSuchPart,
    /// The profile's metadata is missing or not as it asks.
    InvalidMetadata,
    // The server.
    AccessCode,
    TooManyRequests,
    NotSigned,
    /// Nobody is signed in (or the session ended): off to the application's sign-in page.
    SignIn,
    /// Every policy is (nearly) expired on arrival: the computer's clock is off.
    PolicyExpired,
    /// The server cannot say which parts the bucket has.
    NotResumable,
    NotVerified,
    // The way to the bucket.
    BrowserError,
    /// The code for this kind of upload could not be fetched: a deploy removed it.
    PageUpdated,
    Offline,
    Unreachable,
    /// The bucket refused, with its own code (`AccessDenied`, `EntityTooLarge`...).
    Bucket(String),
}

impl FailureCode {
    pub fn as_str(&self) -> &str {
        match self {
            FailureCode::EmptyFile => "EmptyFile",
            FailureCode::TooLarge => "TooLarge",
            FailureCode::TypeNotAllowed => "TypeNotAllowed",
            FailureCode::NoFile => "NoFile",
            FailureCode::Unreadable => "Unreadable",
            FailureCode::OtherFile => "OtherFile",
            FailureCode::NoSuchPart => "NoSuchPart",
            FailureCode::InvalidMetadata => "InvalidMetadata",
            FailureCode::AccessCode => "AccessCode",
            FailureCode::TooManyRequests => "TooManyRequests",
            FailureCode::NotSigned => "NotSigned",
            FailureCode::SignIn => "SignIn",
            FailureCode::PolicyExpired => "PolicyExpired",
            FailureCode::NotResumable => "NotResumable",
            FailureCode::NotVerified => "NotVerified",
            FailureCode::BrowserError => "BrowserError",
            FailureCode::PageUpdated => "PageUpdated",
            FailureCode::Offline => "Offline",
            FailureCode::Unreachable => "Unreachable",
            FailureCode::Bucket(code) => code,
        }
    }

    /// A refusal the page makes before anything is signed.
    pub fn is_local_refusal(&self) -> bool {
        matches!(self, FailureCode::EmptyFile | FailureCode::TooLarge | FailureCode::TypeNotAllowed)
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The split-off code a step needs could not be fetched (the browser console says why).
impl From<leptos::wasm_split::SplitLoaderError> for Status {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        failed(
            FailureCode::PageUpdated,
            "This page's code for large files could not be loaded (the site was probably \
             updated, or the connection dropped). Retry, or reload the page; the parts already \
             sent are kept.",
        )
    }
}

pub fn failed(code: FailureCode, message: impl Into<String>) -> Status {
    Status::Failed { code, message: message.into() }
}

/// A server function's refusal to sign. One for want of a user sends the person to sign in,
/// where the application said where: every upload meets it here, in one request or in parts.
pub fn not_signed(err: &UploadError) -> Status {
    let code = match err {
        UploadError::TooManyRequests { .. } => FailureCode::TooManyRequests,
        UploadError::AccessCode(_) => FailureCode::AccessCode,
        UploadError::SignIn(sign_in) => {
            super::account::go_sign_in(sign_in);
            FailureCode::SignIn
        }
        _ => FailureCode::NotSigned,
    };
    failed(code, err.to_string())
}

/// The bucket's refusal, in its words, with what it means for the person uploading.
pub fn bucket_refused(refusal: &Refusal) -> Status {
    let hint = if refusal.is_bad_digest() {
        " The file changed after it was checked, or was damaged on the way; choose it again."
    } else if refusal.is_post_unsupported() {
        " This store takes no POST uploads (Cloudflare R2 does not): the operator sets \
         UPLOAD_METHOD=put (server --method put) to send files with a presigned PUT."
    } else if refusal.is_expired_policy() || refusal.is_expired_url() {
        " The upload policy expired twice; check this computer's clock."
    } else if refusal.is_access_denied() {
        " The bucket did not accept this upload's signature."
    } else {
        ""
    };
    failed(
        FailureCode::Bucket(refusal.code.clone()),
        format!("{} (HTTP {}){hint}", refusal.message, refusal.status),
    )
}

/// No answer from the bucket could be read: the browser does not say whether the network
/// failed or the bucket's CORS rules hid the answer, so the message names both, the likelier
/// first.
pub fn bucket_unreachable() -> Status {
    let offline = web_sys::window().is_some_and(|w| !w.navigator().on_line());
    if offline {
        failed(
            FailureCode::Offline,
            "The network connection was lost. Retry when you are back online.",
        )
    } else {
        failed(
            FailureCode::Unreachable,
            "The bucket could not be reached, or its CORS rules do not allow uploads from this page \
             (an operator can fix that with `server cors --origin <this site>`).",
        )
    }
}

/// The file could not be read (it was moved, changed or its permission withdrawn).
pub fn unreadable(err: &wasm_bindgen::JsValue) -> Status {
    failed(
        FailureCode::Unreadable,
        format!("the file could not be read ({}); choose it again", js_error(err)),
    )
}

/// A JavaScript error in words.
pub fn js_error(err: &wasm_bindgen::JsValue) -> String {
    err.as_string()
        .or_else(|| js_sys::JSON::stringify(err).ok().and_then(|s| s.as_string()))
        .unwrap_or_else(|| "unknown error".into())
}
