//! Credentials from the AWS default chain, kept until shortly before they expire (instance
//! and container credentials rotate; each rotation gets its own signing key).

use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_types::error::display::DisplayErrorContext;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use super::fetch::{fresh, from_sdk, CredentialError};
use crate::policy::PolicySigner;

pub struct Chain {
    provider: SharedCredentialsProvider,
    region: String,
    /// Refresh when fewer than this remain: the longest policy plus its margin.
    ahead: Duration,
    current: Mutex<Option<Arc<PolicySigner>>>,
}

impl Chain {
    pub fn new(
        provider: SharedCredentialsProvider,
        region: impl Into<String>,
        ahead: Duration,
    ) -> Self {
        Self { provider, region: region.into(), ahead, current: Mutex::new(None) }
    }

    pub async fn signer(&self, now: OffsetDateTime) -> Result<Arc<PolicySigner>, CredentialError> {
        let mut current = self.current.lock().await;
        if let Some(signer) =
            current.as_ref().filter(|s| fresh(s.credentials().expires_at(), now, self.ahead))
        {
            return Ok(Arc::clone(signer));
        }
        let credentials = self
            .provider
            .provide_credentials()
            .await
            .map_err(|err| CredentialError::Chain(DisplayErrorContext(&err).to_string()))?;
        let signer = Arc::new(PolicySigner::new(from_sdk(&credentials), self.region.clone()));
        *current = Some(Arc::clone(&signer));
        Ok(signer)
    }
}
