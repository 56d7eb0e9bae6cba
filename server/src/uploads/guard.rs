//! What stops clients from making the service sign or check without end: the signing budgets
//! (per uploader, per client address) and "one verdict per receipt". Shared by every instance
//! through the [`SharedStore`] when one is configured; this instance's own memory otherwise, and
//! whenever the shared store fails (each fallback logged and counted, never an error for the
//! client).

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::wire::UploadError;

use crate::metrics::Metrics;
use crate::shared::{Budget, SharedStore};

use super::ratelimit::{address_key, SignLimits, GUESSES_PER_MINUTE};

pub struct Guard {
    local: SignLimits,
    verdicts: LocalClaims,
    shared: Option<Arc<SharedStore>>,
    per_uploader: NonZeroU32,
    per_ip: NonZeroU32,
    metrics: Arc<Metrics>,
}

impl Guard {
    /// Budgets of `per_uploader` and `per_ip` signatures a minute.
    pub fn new(per_uploader: NonZeroU32, per_ip: NonZeroU32, metrics: Arc<Metrics>) -> Self {
        Self {
            local: SignLimits::per_minute(per_uploader, per_ip),
            verdicts: LocalClaims::default(),
            shared: None,
            per_uploader,
            per_ip,
            metrics,
        }
    }

    /// Shares the budgets and claims with every instance using `store`.
    pub fn shared(mut self, store: Option<Arc<SharedStore>>) -> Self {
        self.shared = store;
        self
    }

    pub fn set_metrics(&mut self, metrics: Arc<Metrics>) {
        self.metrics = metrics;
    }

    fn budget(key: String, per_minute: NonZeroU32) -> Budget {
        Budget {
            key,
            interval: Duration::from_secs(60) / per_minute.get(),
            burst: per_minute.get(),
        }
    }

    fn fell_back(&self, op: &str, err: &dyn std::fmt::Display) {
        self.metrics.shared_store_error(op);
        tracing::warn!(event = "shared_store_fallback", op, error = %err, "deciding with this instance's own limits");
    }

    /// Spends one signature (a file) from `uploader`'s and `ip`'s budgets: `Ok`, or how long
    /// to wait first.
    pub async fn spend_signature(
        &self,
        uploader: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), Duration> {
        let mut budgets = vec![Self::budget(format!("u:{uploader}"), self.per_uploader)];
        budgets.extend(ip.map(|ip| Self::budget(format!("ip:{}", address_key(ip)), self.per_ip)));
        self.spend(&budgets, || self.local.spend_signature(uploader, ip)).await
    }

    /// Spends one wrong access code from `ip`'s (or, without an address, `uploader`'s) budget of
    /// [`GUESSES_PER_MINUTE`] a minute, apart from the signing budgets: `Ok`, or how long to
    /// wait first.
    pub async fn spend_wrong_code(
        &self,
        uploader: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), Duration> {
        let who = ip.map_or_else(|| format!("u:{uploader}"), |ip| address_key(ip).to_string());
        let per_minute = NonZeroU32::new(GUESSES_PER_MINUTE).expect("not zero");
        self.spend(&[Self::budget(format!("g:{who}"), per_minute)], || {
            self.local.spend_wrong_code(&who)
        })
        .await
    }

    /// Spends one look at the bucket for `uploader`'s uploads (as many a minute as files may be
    /// signed): `Ok`, or how long to wait first.
    pub async fn spend_bucket_check(&self, uploader: &str) -> Result<(), Duration> {
        self.spend(&[Self::budget(format!("c:{uploader}"), self.per_uploader)], || {
            self.local.spend_bucket_check(uploader)
        })
        .await
    }

    /// Spends from `budgets` in the shared store, or, without one (or when it fails), from this
    /// instance's own limits (`local`).
    async fn spend(
        &self,
        budgets: &[Budget],
        local: impl FnOnce() -> Result<(), Duration>,
    ) -> Result<(), Duration> {
        if let Some(store) = &self.shared {
            match store.spend(budgets).await {
                Ok(None) => return Ok(()),
                Ok(Some(wait)) => return Err(wait),
                Err(err) => self.fell_back("rate", &err),
            }
        }
        local()
    }

    /// True the first time the fleet checks the upload named `name` in `ttl`; false after.
    pub async fn claim_verdict(&self, name: &str, ttl: Duration) -> bool {
        if let Some(store) = &self.shared {
            match store.claim(&format!("verdict:{name}"), ttl).await {
                Ok(first) => return first,
                Err(err) => self.fell_back("verdict", &err),
            }
        }
        self.verdicts.claim(name, ttl)
    }

    /// The check could not be made (the bucket did not answer): it may be asked again.
    pub async fn release_verdict(&self, name: &str) {
        if let Some(store) = &self.shared {
            if let Err(err) = store.release(&format!("verdict:{name}")).await {
                self.fell_back("verdict", &err);
            }
        }
        self.verdicts.release(name);
    }
}

/// What a client that must wait `wait` is told: the seconds, rounded up (the `Retry-After`).
pub fn retry_after(wait: Duration) -> UploadError {
    UploadError::TooManyRequests {
        retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
    }
}

/// Claims in this instance's memory: bounded, oldest dropped first, expired ones pruned as new
/// ones arrive (one TTL for all, so arrival order is expiry order: O(1) per claim).
#[derive(Default)]
struct LocalClaims {
    inner: Mutex<Claims>,
}

#[derive(Default)]
struct Claims {
    held: HashSet<String>,
    order: VecDeque<(Instant, String)>,
}

/// A dropped claim only allows one more check of that upload: memory stays bounded.
const MAX_LOCAL_CLAIMS: usize = 100_000;

impl LocalClaims {
    fn claim(&self, name: &str, ttl: Duration) -> bool {
        let mut claims = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        while let Some((expires, _)) = claims.order.front() {
            if *expires > now && claims.order.len() < MAX_LOCAL_CLAIMS {
                break;
            }
            if let Some((_, old)) = claims.order.pop_front() {
                claims.held.remove(&old);
            }
        }
        if !claims.held.insert(name.to_owned()) {
            return false;
        }
        claims.order.push_back((now + ttl, name.to_owned()));
        true
    }

    fn release(&self, name: &str) {
        // Its entry in `order` stays until it expires; it then removes nothing that matters
        // (or a later claim of the same name early, which only allows one more check).
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).held.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_granted_once_until_released() {
        let claims = LocalClaims::default();
        assert!(claims.claim("a", Duration::from_secs(60)));
        assert!(!claims.claim("a", Duration::from_secs(60)));
        assert!(claims.claim("b", Duration::from_secs(60)));
        claims.release("a");
        assert!(claims.claim("a", Duration::from_secs(60)));
    }

    #[test]
    fn expired_claims_are_pruned_and_the_table_stays_bounded() {
        let claims = LocalClaims::default();
        assert!(claims.claim("gone", Duration::ZERO));
        assert!(claims.claim("gone", Duration::from_secs(60)), "an expired claim is free again");
        for i in 0..MAX_LOCAL_CLAIMS + 10 {
            claims.claim(&i.to_string(), Duration::from_secs(60));
        }
        let inner = claims.inner.lock().unwrap();
        assert!(inner.order.len() <= MAX_LOCAL_CLAIMS && inner.held.len() <= MAX_LOCAL_CLAIMS);
    }

    #[tokio::test]
    async fn a_shared_store_that_is_down_falls_back_and_is_counted() {
        let n = NonZeroU32::new(2).unwrap();
        let metrics = Arc::new(Metrics::new());
        let store = Arc::new(SharedStore::new("redis://127.0.0.1:1").unwrap());
        let guard =
            Guard::new(n, NonZeroU32::new(100).unwrap(), metrics.clone()).shared(Some(store));
        assert!(guard.spend_signature("u", None).await.is_ok());
        assert!(guard.spend_signature("u", None).await.is_ok());
        assert!(guard.spend_signature("u", None).await.is_err(), "the local budget holds");
        assert!(guard.claim_verdict("v", Duration::from_secs(60)).await);
        assert!(!guard.claim_verdict("v", Duration::from_secs(60)).await);
        let exported = metrics.encode();
        assert!(exported.contains("shared_store_errors_total{op=\"rate\"} 3"), "{exported}");
        assert!(exported.contains("shared_store_errors_total{op=\"verdict\"} 2"), "{exported}");
    }
}
