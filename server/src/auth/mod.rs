//! Who the uploader is (`UPLOAD_AUTH`): an anonymous browser (the default: a random id in a
//! sealed cookie, see `edge::identity`), a user of the operator's application named by a token
//! it signed ([`token`], from a `Bearer` header or the session cookie it was exchanged for), or
//! by its authenticating proxy's header ([`proxy`]). A user's uploader id is derived from
//! issuer and subject ([`uploader_id`]), so the same person has the same prefix on every
//! instance and across secret rotations.

pub mod jwks;
pub mod key;
pub mod proxy;
pub mod roles;
pub mod session;
pub mod token;

use std::time::Duration;

use app::service::{UploaderId, User};
use sha2::{Digest, Sha256};

/// `UPLOAD_SESSION_TTL_SECS`'s default: a working day.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// How uploaders are named.
pub enum Mode {
    Anonymous,
    Token(token::TokenVerifier),
    Proxy(proxy::ProxyAuth),
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Anonymous => "anonymous",
            Mode::Token(_) => "token",
            Mode::Proxy(_) => "proxy",
        }
    }
}

/// The identity settings, shared by the edge (every request) and the session exchange.
pub struct Auth {
    pub mode: Mode,
    /// `UPLOAD_SIGN_IN_URL`: the application's page that signs people in and comes back with
    /// `#token=`.
    pub sign_in_url: Option<String>,
    /// `UPLOAD_SESSION_TTL_SECS` (default 8 hours): how long an exchanged session lasts.
    pub session_ttl: Duration,
    /// `UPLOAD_ADMIN_ROLE`: the operator's role (read and carried; what it may do comes later).
    pub admin_role: Option<String>,
}

impl Auth {
    /// Today's behaviour: anonymous browsers.
    pub fn anonymous() -> Self {
        Self {
            mode: Mode::Anonymous,
            sign_in_url: None,
            session_ttl: DEFAULT_SESSION_TTL,
            admin_role: None,
        }
    }

    /// Whether `user` holds the operator's role (`UPLOAD_ADMIN_ROLE`).
    pub fn is_admin(&self, user: &User) -> bool {
        self.admin_role.as_ref().is_some_and(|role| user.roles.contains(role))
    }

    /// Why a request names nobody, as the page and the 401 tell it.
    pub fn sign_in(&self, reason: app::wire::NoUser) -> app::wire::SignIn {
        app::wire::SignIn { reason, sign_in_url: self.sign_in_url.clone() }
    }
}

/// A user's uploader id: the first 32 hex digits of SHA-256 over issuer, a zero byte and
/// subject. Safe in a key, stable, and it reveals nobody (the subject is in the object's
/// metadata and the audit log, for the operator).
pub fn uploader_id(user: &User) -> UploaderId {
    let digest = Sha256::new()
        .chain_update(user.issuer.as_bytes())
        .chain_update([0u8])
        .chain_update(user.subject.as_bytes())
        .finalize();
    UploaderId::parse(&hex::encode(&digest[..16])).expect("32 lowercase hex digits")
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::service::Narrowing;

    fn user(issuer: &str, subject: &str) -> User {
        User {
            issuer: issuer.into(),
            subject: subject.into(),
            roles: vec![],
            narrowing: Narrowing::default(),
        }
    }

    #[test]
    fn ids_are_stable_and_keep_issuers_apart() {
        // As `printf 'https://app.example\0ada' | sha256sum` says.
        let ada = uploader_id(&user("https://app.example", "ada"));
        assert_eq!(ada.as_str(), "0df398604d28e90148ff79336ea1ad04");
        assert_eq!(ada, uploader_id(&user("https://app.example", "ada")));
        assert_ne!(ada, uploader_id(&user("https://other.example", "ada")));
        // The zero byte keeps "a" + "bc" apart from "ab" + "c".
        assert_ne!(uploader_id(&user("a", "bc")), uploader_id(&user("ab", "c")));
    }
}
