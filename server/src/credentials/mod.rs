//! Where the signing credentials come from: fixed keys, the AWS default chain (environment,
//! profile, web identity, container and instance metadata), or STS credentials scoped to one
//! uploader's prefix. Every path ends in a [`PolicySigner`]; policies never outlive them.

mod chain;
mod fetch;
mod session_policy;
mod sts;

use std::sync::Arc;

use app::service::UploaderId;
use time::OffsetDateTime;

use crate::policy::{Credentials, PolicySigner};

pub use chain::Chain;
pub use fetch::{to_sdk, CredentialError};
pub use session_policy::{partition_for, session_policy, MAX_SESSION_POLICY_CHARS};
pub use sts::{Sts, StsMode};

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

    /// Whether signing for `uploader` at `now` needs no fetch of credentials (only STS fetches
    /// per uploader; the chain's are shared and re-read ahead of expiry).
    pub fn holds(&self, uploader: &UploaderId, now: OffsetDateTime) -> bool {
        match self {
            Source::Sts(sts) => sts.holds(uploader, now),
            Source::Fixed(_) | Source::Chain(_) => true,
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
