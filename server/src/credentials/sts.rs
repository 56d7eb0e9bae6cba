//! Temporary credentials from STS, one set per uploader prefix, each able only to put objects
//! under that prefix. Cached, and fetched again ahead of expiry so that a policy always ends a
//! margin before its credentials do.
//! <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::service::UploaderId;
use aws_sdk_sts::error::DisplayErrorContext;
use time::OffsetDateTime;

use super::fetch::{fresh, CredentialError};
use super::session_policy::{partition_for, session_policy};
use crate::metrics::Metrics;
use crate::policy::{Credentials, PolicySigner};

/// Which STS call hands out the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsMode {
    /// `AssumeRole` on this role (`UPLOAD_ROLE_ARN`).
    AssumeRole { role_arn: String },
    /// `GetFederationToken` (`UPLOAD_STS_MODE=federation`), with an IAM user's long-term keys.
    Federation,
}

impl StsMode {
    pub fn kind(&self) -> &'static str {
        match self {
            StsMode::AssumeRole { .. } => "assume_role",
            StsMode::Federation => "federation",
        }
    }
}

/// One uploader's credentials; its lock is held while they are fetched, so concurrent
/// signatures for one uploader make one STS call.
type Slot = Arc<tokio::sync::Mutex<Option<Arc<PolicySigner>>>>;

/// At most this many uploaders' credentials are kept; past it the longest-cached go first (in
/// O(1): the cache never scans itself). An evicted uploader costs one more STS call.
const MAX_CACHED: usize = 10_000;

/// The cache: each uploader's slot, and the order they came in.
#[derive(Default)]
struct Slots {
    by_uploader: HashMap<UploaderId, Slot>,
    arrival: VecDeque<UploaderId>,
}

pub struct Sts {
    client: aws_sdk_sts::Client,
    mode: StsMode,
    duration: Duration,
    bucket: String,
    region: String,
    /// Refresh when fewer than this remain: the longest policy plus its margin.
    ahead: Duration,
    metrics: Arc<Metrics>,
    slots: Mutex<Slots>,
}

impl Sts {
    pub fn new(
        client: aws_sdk_sts::Client,
        mode: StsMode,
        duration: Duration,
        bucket: impl Into<String>,
        region: impl Into<String>,
        ahead: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (bucket, region) = (bucket.into(), region.into());
        Self {
            client,
            mode,
            duration,
            bucket,
            region,
            ahead,
            metrics,
            slots: Mutex::new(Slots::default()),
        }
    }

    pub fn mode(&self) -> &StsMode {
        &self.mode
    }

    fn slot(&self, uploader: &UploaderId) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(slot) = slots.by_uploader.get(uploader) {
            return Arc::clone(slot);
        }
        let slot = Slot::default();
        slots.by_uploader.insert(uploader.clone(), Arc::clone(&slot));
        slots.arrival.push_back(uploader.clone());
        while slots.arrival.len() > MAX_CACHED {
            // A slot being refreshed stays alive with its caller; only the cache forgets it.
            if let Some(oldest) = slots.arrival.pop_front() {
                slots.by_uploader.remove(&oldest);
            }
        }
        slot
    }

    /// How many uploaders' credentials are cached.
    pub fn cached(&self) -> usize {
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).by_uploader.len()
    }

    pub async fn signer_for(
        &self,
        uploader: &UploaderId,
        now: OffsetDateTime,
    ) -> Result<Arc<PolicySigner>, CredentialError> {
        let slot = self.slot(uploader);
        let mut cached = slot.lock().await;
        if let Some(signer) =
            cached.as_ref().filter(|s| fresh(s.credentials().expires_at(), now, self.ahead))
        {
            return Ok(Arc::clone(signer));
        }
        let call = match self.mode {
            StsMode::AssumeRole { .. } => "AssumeRole",
            StsMode::Federation => "GetFederationToken",
        };
        let result = self.fetch(uploader).await;
        self.metrics.sts_call(call, result.is_ok());
        let credentials = result.map_err(|message| CredentialError::Sts { call, message })?;
        tracing::info!(
            target: "audit",
            event = "sts_credentials",
            call,
            uploader = uploader.as_str(),
            access_key_id = credentials.access_key_id(),
            expires_at = ?credentials.expires_at(),
        );
        let signer = Arc::new(PolicySigner::new(credentials, self.region.clone()));
        *cached = Some(Arc::clone(&signer));
        Ok(signer)
    }

    async fn fetch(&self, uploader: &UploaderId) -> Result<Credentials, String> {
        let prefix = format!("uploads/{}/", uploader.as_str());
        let policy = session_policy(partition_for(&self.region), &self.bucket, &prefix);
        // STS takes 900 s to 12 h (role chaining: 1 h); the configuration is checked at start.
        let seconds = i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX);
        let issued = match &self.mode {
            StsMode::AssumeRole { role_arn } => {
                self.client
                    .assume_role()
                    .role_arn(role_arn)
                    // 7 + 32 characters of [0-9a-f-]: within STS's 64 and its character set.
                    .role_session_name(format!("upload-{}", uploader.as_str()))
                    .policy(policy)
                    .duration_seconds(seconds)
                    .send()
                    .await
                    .map_err(|err| DisplayErrorContext(&err).to_string())?
                    .credentials
            }
            StsMode::Federation => {
                self.client
                    .get_federation_token()
                    // Exactly 32 characters, STS's maximum for a federated user name.
                    .name(uploader.as_str())
                    .policy(policy)
                    .duration_seconds(seconds)
                    .send()
                    .await
                    .map_err(|err| DisplayErrorContext(&err).to_string())?
                    .credentials
            }
        };
        let issued = issued.ok_or("the answer held no credentials")?;
        let expires_at = OffsetDateTime::from_unix_timestamp(issued.expiration.secs())
            .map_err(|err| err.to_string())?;
        Ok(Credentials::new(issued.access_key_id, issued.secret_access_key)
            .with_session_token(issued.session_token)
            .with_expiry(expires_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts() -> Sts {
        // Never called: the cache is tested alone.
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .build();
        let client = aws_sdk_sts::Client::from_conf(config);
        Sts::new(
            client,
            StsMode::Federation,
            Duration::from_secs(900),
            "b",
            "us-east-1",
            Duration::from_secs(60),
            Arc::new(Metrics::new()),
        )
    }

    fn id(n: usize) -> UploaderId {
        UploaderId::parse(&format!("{n:032x}")).unwrap()
    }

    #[test]
    fn the_cache_is_bounded_and_forgets_the_longest_cached_first() {
        let sts = sts();
        let slot = sts.slot(&id(0));
        assert!(Arc::ptr_eq(&slot, &sts.slot(&id(0))), "one slot per uploader");
        let started = std::time::Instant::now();
        for n in 1..=3 * MAX_CACHED {
            sts.slot(&id(n));
        }
        // Constant work per uploader: 30 000 arrivals take milliseconds, not a scan each.
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!(sts.cached(), MAX_CACHED);
        assert!(!Arc::ptr_eq(&slot, &sts.slot(&id(0))), "the first uploader was forgotten");
        assert!(
            sts.slots.lock().unwrap().by_uploader.contains_key(&id(3 * MAX_CACHED)),
            "the newest is kept"
        );
    }
}
