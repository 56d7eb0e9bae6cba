//! What the server functions need from the server, declared here and implemented by the
//! `server` crate (`server::uploads::Uploads`), so that signing code and its dependencies never
//! reach the wasm: the upload service, and who is asking.

use futures::future::BoxFuture;

use crate::wire::{
    BucketInfo, MultipartUpload, PartToSign, SignedPart, SignedUpload, StoredPart, StoredUpload,
    UploadError, UploadReport,
};

/// The anonymous identity of one browser; every key it uploads lives under
/// `uploads/<uploader-id>/`. The server assigns it (see [`Identity`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UploaderId(String);

impl UploaderId {
    /// Accepts only what the server itself generates (32 lowercase hex digits), so an id can
    /// be used in a key as it is.
    pub fn parse(value: &str) -> Option<Self> {
        (value.len() == 32 && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person the operator's application vouches for, by a token it signed or by its
/// authenticating proxy's header. Their uploader id is derived from issuer and subject.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The token's `iss`; `proxy` for a proxy's header.
    pub issuer: String,
    /// The token's `sub`, or the proxy header's value: who the application says this is.
    pub subject: String,
    /// The token's `roles`, or the proxy's roles header (read and carried; logged).
    pub roles: Vec<String>,
    /// What the token narrows (never widens) for this user.
    pub narrowing: Narrowing,
}

/// Subjects are personal data: a `Debug` print names the issuer and the roles, not who it is.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("issuer", &self.issuer)
            .field("subject", &"<subject>")
            .field("roles", &self.roles)
            .field("narrowing", &self.narrowing)
            .finish()
    }
}

/// Claims a token may carry to narrow what the configuration allows for its user; a value
/// above the configured one changes nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Narrowing {
    /// The one upload profile the user may use; any other is refused.
    pub profile: Option<String>,
    pub max_bytes: Option<u64>,
    pub files_per_minute: Option<u32>,
}

/// Who asks for a signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requester {
    pub uploader: UploaderId,
    /// The signed-in user the uploader id stands for; `None` for an anonymous browser (its id
    /// is then a random one in its cookie).
    pub user: Option<User>,
    /// The client's address: the connection's, or as a trusted proxy reported it.
    pub ip: Option<std::net::IpAddr>,
    /// Set when the uploader is named by a no-JavaScript form's return token rather than the
    /// cookie: the one upload directory (`uploads/<id>/<dir>/`) the request may concern.
    pub scope: Option<String>,
    /// No cookie came with the request: the id was just made for it (a first page view, or a
    /// client that keeps no cookies).
    pub new_visitor: bool,
    /// The browser marked the request as coming from another site (`Sec-Fetch-Site:
    /// cross-site`: a link or a frame there). Server functions refuse such requests outright; a
    /// page so reached is shown, but signs nothing that costs a credentials fetch or a form.
    pub cross_site: bool,
}

impl Requester {
    /// Whether this request stands for a visitor the service knows: it came with the cookie
    /// (not a return token), from this site. Only such a request may cost an STS call or be
    /// given a plain form.
    pub fn is_known(&self) -> bool {
        !self.new_visitor && !self.cross_site && self.scope.is_none()
    }
}

/// Who is asking, as the server's edge established it for one request. This is the link
/// between the two crates: the server's identity middleware (`server::edge::identity::assign`)
/// inserts it into every request's extensions, and the server functions read it back with
/// [`Identity::of`]. Nothing else travels that way.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Who asks, or, where the service uploads for signed-in users only, why nobody is named:
    /// no server function call gets a [`Requester`] without a live identity.
    pub requester: Result<Requester, crate::wire::SignIn>,
    /// Whether the browser reached the site over https (directly, or as a trusted proxy says).
    pub https: bool,
}

impl Identity {
    /// The identity the edge attached to this request, if it went through the edge.
    pub fn of(parts: &http::request::Parts) -> Option<&Identity> {
        parts.extensions.get::<Identity>()
    }

    /// Attaches this identity to a request (the edge does this, once per request).
    pub fn attach(self, extensions: &mut http::Extensions) {
        extensions.insert(self);
    }
}

/// Signing in and out where uploaders are the application's users (`UPLOAD_AUTH=token`):
/// declared here, implemented by the server (which holds the keys tokens are checked with and
/// the key sessions are sealed with).
pub trait SignInService: Send + Sync + 'static {
    /// Checks the application's token and answers the `Set-Cookie` value of a session for its
    /// user.
    fn start_session<'a>(
        &'a self,
        token: &'a str,
        https: bool,
    ) -> BoxFuture<'a, Result<SessionStarted, UploadError>>;

    /// The `Set-Cookie` values that clear the session cookie.
    fn end_session(&self, https: bool) -> Vec<String>;

    /// Whether people sign in here with tokens (and so may sign out of this service).
    fn has_sessions(&self) -> bool;
}

/// A session the page now holds.
#[derive(Clone)]
pub struct SessionStarted {
    /// The `Set-Cookie` header value (sealed; never shown to the page's script).
    pub set_cookie: String,
    /// Unix seconds at which it ends.
    pub expires_at: i64,
}

/// The sealed cookie is a credential: never printed.
impl std::fmt::Debug for SessionStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStarted")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// One file the browser wants to upload, as it describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRequest {
    /// The upload profile it is for ([`crate::rules::profile_name`]: empty is the default).
    pub profile: String,
    pub file_name: String,
    pub size: u64,
    pub content_type: String,
    /// What the visitor typed as access code; empty when none.
    pub access_code: String,
    /// The file's SHA-256 as the browser computed it (base64), when it did: the policy then
    /// binds it and the bucket refuses any other bytes.
    pub checksum_sha256: Option<String>,
    /// The file's MD5 (base64), where the service checks MD5 (`UPLOAD_CHECKSUM=md5`).
    pub content_md5: Option<String>,
    /// User metadata to store with the object (`x-amz-meta-<name>`), bound by the policy.
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// The upload service: signs upload forms and checks what arrived. Implementations validate
/// the request (with [`crate::rules`]), choose the key, sign (fetching temporary credentials
/// when configured), and log.
pub trait UploadService: Send + Sync + 'static {
    fn sign_upload<'a>(
        &'a self,
        who: &'a Requester,
        request: UploadRequest,
    ) -> BoxFuture<'a, Result<SignedUpload, UploadError>>;

    /// Checks an object the browser says it stored against what was signed for it (the
    /// report's receipt says what that was); a difference is a security event and an error.
    fn confirm_upload<'a>(
        &'a self,
        who: &'a Requester,
        report: UploadReport,
    ) -> BoxFuture<'a, Result<StoredUpload, UploadError>>;

    /// A form for the page to carry, for browsers without JavaScript: any one file up to the
    /// size limit, named by the browser (`${filename}`), coming back to `redirect`. `None`
    /// when such a form cannot be offered (an access code or a type allow-list is in force).
    fn page_form<'a>(
        &'a self,
        who: &'a Requester,
        profile: String,
        redirect: String,
    ) -> BoxFuture<'a, Result<Option<SignedUpload>, UploadError>>;

    /// The uploader's uploads under `profile` as the bucket lists them, newest first, with
    /// links to view them.
    fn my_uploads<'a>(
        &'a self,
        who: &'a Requester,
        profile: String,
    ) -> BoxFuture<'a, Result<Vec<StoredUpload>, UploadError>>;

    /// Which bucket uploads go to, and what `profile` takes there, for `who` (narrowed by their
    /// token); `who` is `None` when nobody is signed in yet. An unknown profile is
    /// [`UploadError::NotFound`], one `who` may not use [`UploadError::Forbidden`].
    fn upload_target(
        &self,
        who: Option<&Requester>,
        profile: &str,
    ) -> Result<BucketInfo, UploadError>;

    /// Starts a multipart upload for one file (the request's checksum is not used: every part
    /// carries its own). Checked, counted and logged as signing is.
    fn start_multipart<'a>(
        &'a self,
        who: &'a Requester,
        request: UploadRequest,
    ) -> BoxFuture<'a, Result<MultipartUpload, UploadError>>;

    /// Presigned URLs for parts of the upload the receipt names, each bound to its length and
    /// checksum.
    fn sign_parts<'a>(
        &'a self,
        who: &'a Requester,
        receipt: String,
        parts: Vec<PartToSign>,
    ) -> BoxFuture<'a, Result<Vec<SignedPart>, UploadError>>;

    /// The parts the bucket already has for the upload the receipt names.
    fn list_parts<'a>(
        &'a self,
        who: &'a Requester,
        receipt: String,
    ) -> BoxFuture<'a, Result<Vec<StoredPart>, UploadError>>;

    /// Completes the upload with the parts the bucket has (every one, of the right length), then
    /// checks the object against the receipt as [`UploadService::confirm_upload`] does.
    fn complete_multipart<'a>(
        &'a self,
        who: &'a Requester,
        receipt: String,
    ) -> BoxFuture<'a, Result<StoredUpload, UploadError>>;

    /// Aborts the upload: the bucket drops every part it has.
    fn abort_multipart<'a>(
        &'a self,
        who: &'a Requester,
        receipt: String,
    ) -> BoxFuture<'a, Result<(), UploadError>>;
}

#[cfg(test)]
mod tests {
    use super::UploaderId;

    #[test]
    fn uploader_ids_are_32_lowercase_hex_digits() {
        assert!(UploaderId::parse("0123456789abcdef0123456789abcdef").is_some());
        for bad in [
            "",
            "0123456789ABCDEF0123456789abcdef",
            "../../../../../../../../../../etc",
            "0123456789abcdef0123456789abcde",
        ] {
            assert!(UploaderId::parse(bad).is_none(), "{bad}");
        }
    }
}
