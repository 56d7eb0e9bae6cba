//! Temporary credentials from STS, one set per uploader prefix, each able only to put objects
//! under that prefix. Cached, and fetched again ahead of expiry so that a policy always ends a
//! margin before its credentials do.
//! <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>

use std::num::NonZeroUsize;
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

/// At most this many uploaders' credentials are kept; past it the one used longest ago goes
/// (in O(1)), so that uploaders signing now keep theirs however many others come and go. An
/// evicted uploader costs one more STS call, which its budget of signatures pays for.
const MAX_CACHED: NonZeroUsize = NonZeroUsize::new(10_000).expect("not zero");

pub struct Sts {
    client: aws_sdk_sts::Client,
    mode: StsMode,
    duration: Duration,
    bucket: String,
    region: String,
    /// Refresh when fewer than this remain: the longest policy plus its margin.
    ahead: Duration,
    metrics: Arc<Metrics>,
    slots: Mutex<lru::LruCache<UploaderId, Slot>>,
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
            slots: Mutex::new(lru::LruCache::new(MAX_CACHED)),
        }
    }

    pub fn mode(&self) -> &StsMode {
        &self.mode
    }

    /// `uploader`'s slot, made if need be; either way now the most recently used.
    fn slot(&self, uploader: &UploaderId) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // A slot being refreshed stays alive with its caller when evicted; only the cache
        // forgets it.
        Arc::clone(slots.get_or_insert(uploader.clone(), Slot::default))
    }

    /// How many uploaders' credentials are cached.
    pub fn cached(&self) -> usize {
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    /// Whether `uploader` has credentials fresh at `now` (or being fetched): signing with them
    /// makes no STS call. Looks without making the uploader recently used.
    pub fn holds(&self, uploader: &UploaderId, now: OffsetDateTime) -> bool {
        let slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.peek(uploader).is_some_and(|slot| match slot.try_lock() {
            Ok(cached) => cached
                .as_ref()
                .is_some_and(|s| fresh(s.credentials().expires_at(), now, self.ahead)),
            Err(_) => true,
        })
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
        // Their own prefix, and their staging prefix (profiles that quarantine sign for it).
        let own = format!("uploads/{}/", uploader.as_str());
        let staging = crate::quarantine::staging_prefix(uploader.as_str());
        let policy = session_policy(partition_for(&self.region), &self.bucket, &[&own, &staging]);
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
    fn the_cache_is_bounded_and_keeps_what_is_used() {
        let sts = sts();
        let slot = sts.slot(&id(0));
        assert!(Arc::ptr_eq(&slot, &sts.slot(&id(0))), "one slot per uploader");
        let started = std::time::Instant::now();
        // Three times the cache's size of uploaders come and go; uploader 0 keeps signing.
        for n in 1..=3 * MAX_CACHED.get() {
            sts.slot(&id(n));
            if n % 1000 == 0 {
                sts.slot(&id(0));
            }
        }
        // Constant work per uploader: 30 000 arrivals take milliseconds, not a scan each.
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!(sts.cached(), MAX_CACHED.get());
        assert!(Arc::ptr_eq(&slot, &sts.slot(&id(0))), "the uploader in use was kept");
        assert!(!sts.slots.lock().unwrap().contains(&id(1)), "the one unused longest went");
        assert!(
            sts.slots.lock().unwrap().contains(&id(3 * MAX_CACHED.get())),
            "the newest is kept"
        );
        // Nothing fetched yet: signing would call STS.
        assert!(!sts.holds(&id(0), OffsetDateTime::now_utc()));
        assert!(!sts.holds(&id(999_999), OffsetDateTime::now_utc()));
    }
}
