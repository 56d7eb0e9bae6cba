//! Credentials as the signer holds them: secrets are zeroized on drop and never printed.

use std::fmt;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// An access key pair, with the session token and expiry that temporary (STS) credentials carry.
///
/// `Debug` shows the access key id (it is public: it travels in every form) and hides the
/// secret and the token.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
    expires_at: Option<OffsetDateTime>,
}

impl Credentials {
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            session_token: None,
            expires_at: None,
        }
    }

    /// Temporary credentials: the token must be sent with every form and covered by the policy.
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(Zeroizing::new(token.into()));
        self
    }

    /// When the credentials stop working; a policy must expire before this.
    pub fn with_expiry(mut self, expires_at: OffsetDateTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    pub(crate) fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref().map(String::as_str)
    }

    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let creds =
            Credentials::new("AKIDPUBLIC", "s3cr3t-value").with_session_token("t0ken-value");
        let shown = format!("{creds:?} {creds:#?}");
        assert!(shown.contains("AKIDPUBLIC"));
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(!shown.contains("t0ken-value"), "{shown}");
    }
}
