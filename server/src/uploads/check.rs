//! What every request to sign goes through first, a POST form or a multipart upload alike: the
//! access code, the signing budgets, and what [`app::rules`] says of the name, size, type,
//! checksum and metadata. A request that fails is refused with a [`Reason`] (its metric label)
//! and counted and logged once, in [`Uploads::counted`].

use std::future::Future;
use std::time::Instant;

use app::rules::{self, Profile, PROFILE_METADATA};
use app::service::{Requester, UploadRequest};
use app::wire::{ChecksumMode, UploadError};

pub use super::bad_receipt::BadReceipt;
use super::guard::retry_after;
use super::Uploads;
use crate::logging::clip;

/// Why a signature was not made; each is a value of the `uploads_refused_total{reason}` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A budget of the uploader, the address or wrong access codes is spent.
    RateLimited,
    AccessCode,
    InvalidName,
    /// An empty file.
    InvalidSize,
    TooLarge,
    InvalidType,
    TypeNotAllowed,
    InvalidChecksum,
    /// A file within the checksum limit came without its SHA-256.
    ChecksumMissing,
    InvalidMetadata,
    /// No credentials to sign with (STS or the chain failed).
    Credentials,
    /// Temporary credentials asked for by a visitor the service does not know yet (no cookie,
    /// or a page reached from another site): it gets none (a flood of them would be a flood of
    /// STS calls).
    UnknownVisitor,
    /// The signer or the bucket failed.
    Unavailable,
    /// No upload profile of that name.
    UnknownProfile,
    /// A profile for other roles, or another than the user's token names.
    ProfileForbidden,
}

impl Reason {
    /// Its metric label, as alerts and dashboards know it.
    pub fn label(self) -> &'static str {
        match self {
            Reason::RateLimited => "rate_limited",
            Reason::AccessCode => "access_code",
            Reason::InvalidName => "invalid_name",
            Reason::InvalidSize => "invalid_size",
            Reason::TooLarge => "too_large",
            Reason::InvalidType => "invalid_type",
            Reason::TypeNotAllowed => "type_not_allowed",
            Reason::InvalidChecksum => "invalid_checksum",
            Reason::ChecksumMissing => "checksum_missing",
            Reason::InvalidMetadata => "invalid_metadata",
            Reason::Credentials => "credentials",
            Reason::UnknownVisitor => "unknown_visitor",
            Reason::Unavailable => "unavailable",
            Reason::UnknownProfile => "unknown_profile",
            Reason::ProfileForbidden => "profile_forbidden",
        }
    }
}

/// A refusal to sign: why, for metrics and logs, and what the page is told.
#[derive(Debug)]
pub struct Refusal {
    pub reason: Reason,
    pub error: UploadError,
}

impl Refusal {
    pub fn new(reason: Reason, error: UploadError) -> Self {
        Self { reason, error }
    }

    /// A file that cannot be uploaded as described.
    fn file(reason: Reason) -> impl Fn(String) -> Self {
        move |message| Self::new(reason, UploadError::Refused(message))
    }
}

/// How a file goes to the bucket: one POST, or in parts (each with its own checksum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Post,
    Parts,
}

/// The digest `mode` checks, as people name it.
fn checksum_name(mode: ChecksumMode) -> &'static str {
    match mode {
        ChecksumMode::Sha256 => "SHA-256",
        ChecksumMode::Md5 => "MD5",
        ChecksumMode::Off => "no checksum",
    }
}

/// The argument of `sign_upload` that carries `mode`'s digest.
fn checksum_argument(mode: ChecksumMode) -> Option<&'static str> {
    match mode {
        ChecksumMode::Sha256 => Some("checksum_sha256"),
        ChecksumMode::Md5 => Some("content_md5"),
        ChecksumMode::Off => None,
    }
}

pub use app::rules::UPLOADER_METADATA;

/// The subject of a signed-in user as metadata (`x-amz-meta-uploader`). Metadata travels in
/// HTTP headers: bytes outside printable ASCII, and `%`, are percent-encoded.
pub fn uploader_metadata(who: &Requester) -> Option<(String, String)> {
    let user = who.user.as_ref()?;
    let mut value = String::with_capacity(user.subject.len());
    for byte in user.subject.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            value.push(byte as char);
        } else {
            value.push_str(&format!("%{byte:02X}"));
        }
    }
    Some((UPLOADER_METADATA.to_owned(), value))
}

/// The metadata that names an object's profile (`x-amz-meta-profile`), on every object.
pub fn profile_metadata(profile: &Profile) -> (String, String) {
    (PROFILE_METADATA.to_owned(), profile.name.clone())
}

/// Who the metadata names as the uploader (the audit events' `subject`); empty for an
/// anonymous browser.
pub fn subject_of(metadata: &[(String, String)]) -> &str {
    metadata.iter().find(|(name, _)| name == UPLOADER_METADATA).map_or("", |(_, value)| value)
}

/// A request that passed every check, in the form it is signed in.
pub struct Checked {
    /// The profile it is for, as it applies to the requester.
    pub profile: Profile,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// Its digest (base64) in the service's [`ChecksumMode`], when it came with one.
    pub checksum: Option<String>,
    pub metadata: Vec<(String, String)>,
}

impl Uploads {
    /// Everything that can be said about a request without credentials: rate, access code, and
    /// what [`app::rules`] says of the name, size, type, checksum and metadata.
    pub(super) async fn check(
        &self,
        who: &Requester,
        request: &UploadRequest,
        via: Via,
    ) -> Result<Checked, Refusal> {
        let too_many = |wait| Refusal::new(Reason::RateLimited, retry_after(wait));
        // Which rules apply comes first: an unknown or forbidden profile spends nothing.
        let profile = self.profile_to_sign(who, &request.profile)?;
        // The code first: a caller without it spends only a budget of guesses of its own, never
        // the signing budgets of the address or of anyone else. Past that budget (or the
        // fleet's) no code is compared, so the answer never says whether a guess was right.
        if self.config.limits.access_code_sha256.is_some() {
            self.guard.may_try_a_code(who.uploader.as_str(), who.ip).await.map_err(too_many)?;
        }
        if !self.config.limits.accepts_access_code(&request.access_code) {
            self.guard.spend_wrong_code(who.uploader.as_str(), who.ip).await.map_err(too_many)?;
            let message = if request.access_code.is_empty() {
                "uploading here needs an access code"
            } else {
                "that access code is not right"
            };
            return Err(Refusal::new(Reason::AccessCode, UploadError::AccessCode(message.into())));
        }
        self.guard.spend_file(who.uploader.as_str(), who.ip, &profile).await.map_err(too_many)?;
        let name =
            rules::file_name(&request.file_name).map_err(Refusal::file(Reason::InvalidName))?;
        // The page checks size, type and metadata with the same functions before asking.
        let size = request.size;
        if let Some(message) = profile.size_refusal(size) {
            let reason =
                if size > profile.max_bytes { Reason::TooLarge } else { Reason::InvalidSize };
            return Err(Refusal::file(reason)(message));
        }
        if via == Via::Post && size > rules::MAX_POST_BYTES {
            return Err(Refusal::file(Reason::TooLarge)(format!(
                "one POST carries at most {}: a file this big goes in parts (start_multipart)",
                app::format::human_bytes(rules::MAX_POST_BYTES)
            )));
        }
        let content_type = rules::content_type(&request.content_type)
            .map_err(Refusal::file(Reason::InvalidType))?;
        if let Some(message) = profile.type_refusal(&content_type) {
            return Err(Refusal::file(Reason::TypeNotAllowed)(message));
        }
        // The digest in the argument the mode reads; the other one is a client that hashed
        // for another service, told so rather than ignored.
        let mode = self.config.limits.checksum;
        let (given, other) = match mode {
            ChecksumMode::Md5 => (&request.content_md5, &request.checksum_sha256),
            _ => (&request.checksum_sha256, &request.content_md5),
        };
        if other.is_some() || (mode == ChecksumMode::Off && given.is_some()) {
            return Err(Refusal::file(Reason::InvalidChecksum)(format!(
                "this service checks {} (UPLOAD_CHECKSUM={}): send {}",
                checksum_name(mode),
                mode.as_str(),
                checksum_argument(mode).unwrap_or("no checksum"),
            )));
        }
        let checksum = given
            .as_deref()
            .map(|raw| rules::checksum(mode, raw))
            .transpose()
            .map_err(Refusal::file(Reason::InvalidChecksum))?;
        // What the README promises: with checksums on, the bucket checks every byte of every
        // file up to the checksum limit. A client that leaves the hash out gets no form.
        // (A multipart upload checks every part's digest instead.)
        if let Some(argument) = checksum_argument(mode) {
            if via == Via::Post && checksum.is_none() && size <= profile.checksum_max_bytes {
                return Err(Refusal::file(Reason::ChecksumMissing)(format!(
                    "files up to {} are sent with their {} ({argument}), so that the bucket \
                     can refuse any other bytes",
                    app::format::human_bytes(profile.checksum_max_bytes),
                    checksum_name(mode),
                )));
            }
        }
        if let Some(own) = [UPLOADER_METADATA, PROFILE_METADATA]
            .into_iter()
            .find(|n| request.metadata.contains_key(*n))
        {
            return Err(Refusal::file(Reason::InvalidMetadata)(format!(
                "the metadata {own:?} is the service's: it names who uploaded and for what"
            )));
        }
        if let Some(message) = profile.fields_refusal(&request.metadata) {
            return Err(Refusal::file(Reason::InvalidMetadata)(message));
        }
        // The service's own entries count against S3's limits with the rest: checked together.
        let mut entries = request.metadata.clone();
        entries.extend(uploader_metadata(who));
        entries.extend([profile_metadata(&profile)]);
        let metadata = rules::metadata(&entries).map_err(Refusal::file(Reason::InvalidMetadata))?;
        // Last: only a file that would be signed counts against the day.
        self.guard.spend_day(who.uploader.as_str(), &profile).await.map_err(too_many)?;
        Ok(Checked { profile, name, size, content_type, checksum, metadata })
    }

    /// Runs one `attempt` to sign for `request` (a form or a multipart upload): counted and
    /// timed when it signs, counted and logged when it is refused.
    pub(super) async fn counted<T>(
        &self,
        who: &Requester,
        request: &UploadRequest,
        attempt: impl Future<Output = Result<T, Refusal>>,
    ) -> Result<T, UploadError> {
        let started = Instant::now();
        match attempt.await {
            Ok(signed) => {
                self.metrics.signed(started.elapsed().as_secs_f64());
                Ok(signed)
            }
            Err(refusal) => Err(self.refused(who, request, refusal)),
        }
    }

    /// A receipt or report refused for `reason` (nothing in the bucket differs): counted,
    /// logged at warn level, spent from the address's budget of bad receipts, and what the
    /// page is told (past the budget: to wait).
    pub(super) async fn bad_receipt(
        &self,
        who: &Requester,
        key: &str,
        reason: BadReceipt,
        problem: String,
    ) -> UploadError {
        self.metrics.receipt_refused(reason.label());
        tracing::warn!(target: "audit", event = "receipt_refused", uploader = who.uploader.as_str(), ip = ?who.ip, key = ?clip(key), reason = reason.label(), problem = ?clip(&problem));
        match self.guard.spend_bad_receipt(who.uploader.as_str(), who.ip).await {
            Ok(()) => UploadError::Mismatch(problem),
            Err(wait) => retry_after(wait),
        }
    }

    /// Spends one call that asks the bucket (or STS) for `who`, for the server function `call`:
    /// `Ok`, or the 429 it answers (counted).
    pub(super) async fn spend_call(
        &self,
        who: &Requester,
        call: &'static str,
    ) -> Result<(), UploadError> {
        self.guard.spend_call(who.uploader.as_str(), who.ip).await.map_err(|wait| {
            self.metrics.call_limited(call);
            tracing::warn!(target: "audit", event = "call_limited", uploader = who.uploader.as_str(), ip = ?who.ip, call);
            retry_after(wait)
        })
    }

    /// Counts and logs a refusal to sign, and answers its error.
    fn refused(&self, who: &Requester, request: &UploadRequest, refusal: Refusal) -> UploadError {
        let Refusal { reason, error } = refusal;
        self.metrics.refused(reason.label());
        tracing::warn!(
            target: "audit",
            event = "policy_refused",
            uploader = who.uploader.as_str(),
            ip = ?who.ip,
            file_name = ?clip(&request.file_name),
            size = request.size,
            content_type = ?clip(&request.content_type),
            reason = reason.label(),
            message = ?clip(&error.to_string()),
        );
        error
    }
}
