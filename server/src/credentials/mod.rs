//! Where the signing credentials come from: fixed keys, the AWS default chain (environment,
//! profile, web identity, container and instance metadata), or STS credentials scoped to one
//! uploader's prefix. Every path ends in a [`PolicySigner`]; policies never outlive them.

mod chain;
mod session_policy;
mod sts;

use std::sync::Arc;
use std::time::Duration;

use app::service::UploaderId;
use time::OffsetDateTime;

use crate::policy::{Credentials, PolicySigner};

pub use chain::Chain;
pub use session_policy::{partition_for, session_policy, MAX_SESSION_POLICY_CHARS};
pub use sts::{Sts, StsMode};

/// Why no credentials are available. The message is for logs (it never holds a secret); the
/// browser only hears "temporarily unavailable".
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialError {
    #[error("the AWS credential chain gave no credentials: {0}")]
    Chain(String),
    #[error("STS {call} failed: {message}")]
    Sts { call: &'static str, message: String },
}

/// The credentials the server signs with.
pub enum Source {
    /// One fixed key pair (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, or the dev bucket's).
    Fixed(Arc<PolicySigner>),
    /// The AWS default chain, re-read ahead of expiry.
    Chain(Chain),
    /// Temporary credentials per uploader prefix.
    Sts(Sts),
}

impl Source {
    pub fn fixed(credentials: Credentials, region: impl Into<String>) -> Self {
        Source::Fixed(Arc::new(PolicySigner::new(credentials, region)))
    }

    /// The signer for `uploader`'s uploads at `now`.
    pub async fn signer_for(
        &self,
        uploader: &UploaderId,
        now: OffsetDateTime,
    ) -> Result<Arc<PolicySigner>, CredentialError> {
        match self {
            Source::Fixed(signer) => Ok(Arc::clone(signer)),
            Source::Chain(chain) => chain.signer(now).await,
            Source::Sts(sts) => sts.signer_for(uploader, now).await,
        }
    }

    /// For logs and `server doctor`: `static`, `default_chain`, `assume_role` or `federation`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Fixed(_) => "static",
            Source::Chain(_) => "default_chain",
            Source::Sts(sts) => sts.mode().kind(),
        }
    }
}

/// Whether credentials expiring at `expires_at` still leave room for a policy of the longest
/// lifetime (`ahead`) at `now`; if not, they are refreshed before signing.
pub(crate) fn fresh(
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    ahead: Duration,
) -> bool {
    expires_at.is_none_or(|at| at - now > ahead)
}

/// Credentials as the AWS SDK hands them out, in the policy core's type.
pub(crate) fn from_sdk(credentials: &aws_credential_types::Credentials) -> Credentials {
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
