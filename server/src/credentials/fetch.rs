//! What every way of fetching credentials shares: the error when none come, when a cached set
//! is due for a refresh, and the AWS SDK's credentials in the policy core's type and back.

use std::time::Duration;

use time::OffsetDateTime;

use crate::policy::Credentials;

/// Why no credentials are available. The message is for logs (it never holds a secret); the
/// browser only hears "temporarily unavailable".
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialError {
    #[error("the AWS credential chain gave no credentials: {0}")]
    Chain(String),
    #[error("STS {call} failed: {message}")]
    Sts { call: &'static str, message: String },
}

/// Whether credentials expiring at `expires_at` still leave room for a policy of the longest
/// lifetime (`ahead`) at `now`; if not, they are refreshed before signing.
pub fn fresh(expires_at: Option<OffsetDateTime>, now: OffsetDateTime, ahead: Duration) -> bool {
    expires_at.is_none_or(|at| at - now > ahead)
}

/// Credentials as the AWS SDK hands them out, in the policy core's type.
pub fn from_sdk(credentials: &aws_credential_types::Credentials) -> Credentials {
    let mut converted =
        Credentials::new(credentials.access_key_id(), credentials.secret_access_key());
    if let Some(token) = credentials.session_token() {
        converted = converted.with_session_token(token);
    }
    if let Some(expiry) = credentials.expiry() {
        converted = converted.with_expiry(OffsetDateTime::from(expiry));
    }
    converted
}

/// The policy core's credentials for the AWS SDK (for the server's own S3 calls).
pub fn to_sdk(credentials: &Credentials) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(
        credentials.access_key_id(),
        credentials.secret_access_key(),
        credentials.session_token().map(str::to_owned),
        credentials.expires_at().map(std::time::SystemTime::from),
        "upload-config",
    )
}
