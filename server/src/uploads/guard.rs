//! What stops clients from making the service sign or ask the bucket without end: the signing
//! budgets (per uploader, per client address) and the tallies of what a receipt may still be
//! given. Shared by every instance
//! through the [`SharedStore`] when one is configured; this instance's own memory otherwise, and
//! whenever the shared store fails (each fallback logged and counted, never an error for the
//! client).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::rules::{Profile, DEFAULT_PROFILE};
use app::wire::UploadError;

use crate::metrics::Metrics;
use crate::shared::{Budget, SharedStore};

use super::ratelimit::{
    self, address_keys, per_minute, times, LocalBudgets, FLEET_GUESSES_PER_MINUTE,
    GUESSES_PER_MINUTE,
};

/// Calls that ask the bucket (listing, parts, completing, aborting, confirming) one uploader or
/// address may make a minute, per file it may sign: a file's confirm or completion, a resume's
/// listing, and the page's listing after it (three at most), with room for one retry.
const CALLS_PER_FILE: u32 = 4;

pub struct Guard {
    local: LocalBudgets,
    tallies: LocalTallies,
    shared: Option<Arc<SharedStore>>,
    per_uploader: NonZeroU32,
    per_ip: NonZeroU32,
    metrics: Arc<Metrics>,
}

/// What a budget is spent on: each its own budgets, so that one never starves another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spent {
    /// A signature (a file), or a fetch of credentials.
    Signature,
    /// A call that asks the bucket.
    Call,
    /// A wrong access code.
    Guess,
    /// A receipt or report refused as forged or foreign.
    BadReceipt,
}

impl Spent {
    fn prefix(self) -> &'static str {
        match self {
            Spent::Signature => "s",
            Spent::Call => "k",
            Spent::Guess => "g",
            Spent::BadReceipt => "f",
        }
    }
}

impl Guard {
    /// Budgets of `per_uploader` and `per_ip` signatures a minute (and calls in proportion).
    pub fn new(per_uploader: NonZeroU32, per_ip: NonZeroU32, metrics: Arc<Metrics>) -> Self {
        Self {
            local: LocalBudgets::default(),
            tallies: LocalTallies::default(),
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

    fn fell_back(&self, op: &str, err: &dyn std::fmt::Display) {
        self.metrics.shared_store_error(op);
        tracing::warn!(event = "shared_store_fallback", op, error = %err, "deciding with this instance's own limits");
    }

    /// The budgets `spent` takes from: the uploader's first, then the address's (its /64 and
    /// /48 for IPv6), each `per_uploader` and `per_ip` a minute.
    fn budgets(
        spent: Spent,
        uploader: &str,
        ip: Option<IpAddr>,
        per_uploader: NonZeroU32,
        per_ip: NonZeroU32,
    ) -> Vec<Budget> {
        let tag = spent.prefix();
        let mut budgets = vec![per_minute(format!("{tag}u:{uploader}"), per_uploader)];
        for (key, share) in ip.map(address_keys).unwrap_or_default() {
            budgets.push(per_minute(format!("{tag}ip:{key}"), times(per_ip, share)));
        }
        budgets
    }

    /// Spends one signature (a file, or a fetch of credentials for one) from `uploader`'s and
    /// `ip`'s budgets: `Ok`, or how long to wait first.
    pub async fn spend_signature(
        &self,
        uploader: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), Duration> {
        let (u, a) = (self.per_uploader, self.per_ip);
        self.spend(&Self::budgets(Spent::Signature, uploader, ip, u, a)).await
    }

    /// Spends one file of `profile` for `uploader` at `ip`: from the uploader's budget of that
    /// profile's files a minute (each profile's apart from the others', the default's as before
    /// profiles) and from the address's, which every profile shares: `Ok`, or how long to wait
    /// first.
    pub async fn spend_file(
        &self,
        uploader: &str,
        ip: Option<IpAddr>,
        profile: &Profile,
    ) -> Result<(), Duration> {
        let per_minute = NonZeroU32::new(profile.files_per_minute).unwrap_or(NonZeroU32::MIN);
        let whose = Self::whose(uploader, profile);
        self.spend(&Self::budgets(Spent::Signature, &whose, ip, per_minute, self.per_ip)).await
    }

    /// Spends one of the uploader's files a day of `profile`, where it has such a limit: spent
    /// only for a request that passed every other check, so refusals never cost a day's files.
    pub async fn spend_day(&self, uploader: &str, profile: &Profile) -> Result<(), Duration> {
        match profile.files_per_day.and_then(NonZeroU32::new) {
            Some(per_day) => {
                let whose = Self::whose(uploader, profile);
                self.spend(&[ratelimit::per_day(format!("du:{whose}"), per_day)]).await
            }
            None => Ok(()),
        }
    }

    /// Whose budgets a file of `profile` spends: the uploader's, per profile.
    fn whose(uploader: &str, profile: &Profile) -> String {
        match profile.name.as_str() {
            DEFAULT_PROFILE => uploader.to_owned(),
            name => format!("{uploader}/{name}"),
        }
    }

    /// Spends one call that asks the bucket from `uploader`'s and `ip`'s budgets
    /// ([`CALLS_PER_FILE`] for each file each may sign): `Ok`, or how long to wait first.
    pub async fn spend_call(&self, uploader: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        let (u, a) = (times(self.per_uploader, CALLS_PER_FILE), times(self.per_ip, CALLS_PER_FILE));
        self.spend(&Self::budgets(Spent::Call, uploader, ip, u, a)).await
    }

    /// Spends one wrong access code from `ip`'s (or, without an address, `uploader`'s) budget of
    /// [`GUESSES_PER_MINUTE`] a minute, apart from the signing budgets, then from the fleet's
    /// [`FLEET_GUESSES_PER_MINUTE`]: `Ok`, or how long to wait first.
    pub async fn spend_wrong_code(
        &self,
        uploader: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), Duration> {
        self.spend(&Self::bad_budgets(Spent::Guess, uploader, ip)).await?;
        self.spend(&[Self::fleet_guesses()]).await.inspect_err(|_| {
            self.metrics.guesses_capped();
            tracing::warn!(target: "audit", event = "access_code_fleet_cap", "wrong access codes are coming in faster than the fleet takes them");
        })
    }

    /// Whether a code from `uploader` at `ip` may be compared at all: `Ok` while its budgets of
    /// wrong codes (and the fleet's) have room, else how long to wait. Asked before a code is
    /// compared, right or wrong: a caller past its budget is not told whether a guess was right,
    /// so the budgets bound guessing itself, not just the answers to wrong guesses.
    pub async fn may_try_a_code(&self, uploader: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        let mut budgets = Self::bad_budgets(Spent::Guess, uploader, ip);
        budgets.push(Self::fleet_guesses());
        let wait = match self.room(&budgets).await {
            Ok(()) => return Ok(()),
            Err(wait) => wait,
        };
        // Which budget is out matters only for the alert: asked again, on this rare path.
        let fleet = Self::fleet_guesses();
        if self.room(std::slice::from_ref(&fleet)).await.is_err() {
            self.metrics.guesses_capped();
        }
        Err(wait)
    }

    /// Whether every one of `budgets` has room for one more, spending nothing, in the shared
    /// store or, without one (or when it fails), in this instance's own.
    async fn room(&self, budgets: &[Budget]) -> Result<(), Duration> {
        if let Some(store) = &self.shared {
            match store.room(budgets).await {
                Ok(None) => return Ok(()),
                Ok(Some(wait)) => return Err(wait),
                Err(err) => self.fell_back("rate", &err),
            }
        }
        self.local.room(budgets)
    }

    fn fleet_guesses() -> Budget {
        per_minute("g:fleet".into(), NonZeroU32::new(FLEET_GUESSES_PER_MINUTE).expect("not zero"))
    }

    /// Spends one refused receipt or report (forged, foreign, or about an object that is not
    /// there) from `ip`'s (or `uploader`'s) budget, as wrong access codes are spent.
    pub async fn spend_bad_receipt(
        &self,
        uploader: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), Duration> {
        self.spend_bad(Spent::BadReceipt, uploader, ip).await
    }

    /// Spends one refused receipt or report from the budgets of [`Guard::bad_budgets`].
    async fn spend_bad(
        &self,
        spent: Spent,
        uploader: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), Duration> {
        self.spend(&Self::bad_budgets(spent, uploader, ip)).await
    }

    /// [`GUESSES_PER_MINUTE`] a minute per address (its /64 and /48), or per uploader without
    /// one.
    fn bad_budgets(spent: Spent, uploader: &str, ip: Option<IpAddr>) -> Vec<Budget> {
        let per_minute = NonZeroU32::new(GUESSES_PER_MINUTE).expect("not zero");
        let mut budgets = Self::budgets(spent, uploader, ip, per_minute, per_minute);
        if ip.is_some() {
            // By address only: a client cannot buy more tries with fresh cookies.
            budgets.remove(0);
        }
        budgets
    }

    /// Spends from `budgets` in the shared store, or, without one (or when it fails), from this
    /// instance's own.
    async fn spend(&self, budgets: &[Budget]) -> Result<(), Duration> {
        if let Some(store) = &self.shared {
            match store.spend(budgets).await {
                Ok(None) => return Ok(()),
                Ok(Some(wait)) => return Err(wait),
                Err(err) => self.fell_back("rate", &err),
            }
        }
        self.local.spend(budgets)
    }

    /// Counts `n` more against `name`, which may take `most` in all until `ttl` after its first:
    /// true when that fits (and it is counted), false when it does not (and nothing is).
    pub async fn tally(&self, name: &str, n: u64, most: u64, ttl: Duration) -> bool {
        if let Some(store) = &self.shared {
            match store.tally(&format!("tally:{name}"), n, most, ttl).await {
                Ok(fits) => return fits,
                Err(err) => self.fell_back("tally", &err),
            }
        }
        self.tallies.add(name, n, most, ttl)
    }
}

/// What a client that must wait `wait` is told: the seconds, rounded up (the `Retry-After`).
pub fn retry_after(wait: Duration) -> UploadError {
    UploadError::TooManyRequests {
        retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
    }
}

/// Tallies in this instance's memory: bounded,
/// oldest dropped first, expired ones pruned as new ones arrive (in arrival order, which for one
/// TTL is expiry order: O(1) per tally; a longer-lived one may outlive a shorter one behind it,
/// which only keeps it a little longer).
#[derive(Default)]
struct LocalTallies {
    inner: Mutex<Tallies>,
}

#[derive(Default)]
struct Tallies {
    counts: HashMap<String, (u64, Instant)>,
    order: VecDeque<(Instant, String)>,
}

/// A dropped tally only allows a little more of what it counted: memory stays bounded.
const MAX_LOCAL_TALLIES: usize = 100_000;

impl LocalTallies {
    fn add(&self, name: &str, n: u64, most: u64, ttl: Duration) -> bool {
        let mut tallies = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        while let Some((expires, _)) = tallies.order.front() {
            if *expires > now && tallies.order.len() < MAX_LOCAL_TALLIES {
                break;
            }
            if let Some((expires, old)) = tallies.order.pop_front() {
                // Only the entry it was queued for (a name expired and counted again since has a
                // later expiry of its own).
                if tallies.counts.get(&old).is_some_and(|(_, until)| *until == expires) {
                    tallies.counts.remove(&old);
                }
            }
        }
        let Tallies { counts, order } = &mut *tallies;
        // One that expired behind a longer-lived one, not pruned yet, counts as gone.
        if counts.get(name).is_some_and(|(_, until)| *until <= now) {
            counts.remove(name);
        }
        match counts.get_mut(name) {
            Some((count, _)) if *count + n > most => false,
            Some((count, _)) => {
                *count += n;
                true
            }
            None if n > most => false,
            None => {
                counts.insert(name.to_owned(), (n, now + ttl));
                order.push_back((now + ttl, name.to_owned()));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_takes_up_to_its_most() {
        let tallies = LocalTallies::default();
        let minute = Duration::from_secs(60);
        assert!(tallies.add("a", 1, 1, minute));
        assert!(!tallies.add("a", 1, 1, minute));
        assert!(tallies.add("b", 1, 1, minute));
        assert!(tallies.add("parts", 16, 20, minute));
        assert!(!tallies.add("parts", 16, 20, minute), "32 > 20: refused, and not counted");
        assert!(tallies.add("parts", 4, 20, minute));
        assert!(!tallies.add("big", 21, 20, minute));
    }

    #[test]
    fn expired_tallies_are_pruned_and_the_table_stays_bounded() {
        let tallies = LocalTallies::default();
        assert!(tallies.add("gone", 1, 1, Duration::ZERO));
        assert!(tallies.add("gone", 1, 1, Duration::from_secs(60)), "an expired one is free again");
        for i in 0..MAX_LOCAL_TALLIES + 10 {
            tallies.add(&i.to_string(), 1, 1, Duration::from_secs(60));
        }
        let inner = tallies.inner.lock().unwrap();
        assert!(inner.order.len() <= MAX_LOCAL_TALLIES && inner.counts.len() <= MAX_LOCAL_TALLIES);
    }

    #[tokio::test]
    async fn wrong_codes_are_capped_per_48_and_for_the_whole_fleet() {
        let metrics = Arc::new(Metrics::new());
        let n = NonZeroU32::new(1000).unwrap();
        let guard = Guard::new(n, n, metrics.clone());
        let ip = |s: String| Some(s.parse::<IpAddr>().unwrap());
        // Many /64s of one /48: 10 each, 40 for the /48 together.
        let mut from_one_48 = 0;
        for subnet in 0..20u32 {
            for _ in 0..10 {
                let at = ip(format!("2001:db8:7:{subnet:x}::1"));
                from_one_48 += usize::from(guard.spend_wrong_code("u", at).await.is_ok());
            }
        }
        assert_eq!(from_one_48, 40);
        // Addresses everywhere: 10 each, until the fleet has had its 300 a minute (less the 40).
        let mut taken = 0;
        for a in 0..40u32 {
            for _ in 0..10 {
                let at = ip(format!("198.51.{}.{}", a / 250, a % 250 + 1));
                taken += usize::from(guard.spend_wrong_code("u", at).await.is_ok());
            }
        }
        assert_eq!(taken, usize::try_from(FLEET_GUESSES_PER_MINUTE).unwrap() - 40);
        assert!(metrics.encode().contains("access_code_fleet_capped_total 140"));
        // Past the caps no code is compared, right or wrong: the /48 and the fleet are out.
        assert!(guard.may_try_a_code("u", ip("2001:db8:7:99::1".into())).await.is_err());
        assert!(guard.may_try_a_code("u", ip("203.0.113.9".into())).await.is_err());
    }

    #[tokio::test]
    async fn an_address_past_its_wrong_codes_may_try_no_code_until_it_has_room() {
        let n = NonZeroU32::new(1000).unwrap();
        let guard = Guard::new(n, n, Arc::new(Metrics::new()));
        let at = Some("192.0.2.7".parse::<IpAddr>().unwrap());
        for _ in 0..GUESSES_PER_MINUTE {
            assert!(guard.may_try_a_code("u", at).await.is_ok(), "asking spends nothing");
            assert!(guard.spend_wrong_code("u", at).await.is_ok());
        }
        let wait = guard.spend_wrong_code("u", at).await.unwrap_err();
        let until = guard.may_try_a_code("other uploader", at).await.unwrap_err();
        assert!(until <= wait && until > Duration::ZERO, "{until:?} {wait:?}");
        let elsewhere = Some("192.0.2.8".parse::<IpAddr>().unwrap());
        assert!(guard.may_try_a_code("u", elsewhere).await.is_ok(), "another address");
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
        let exported = metrics.encode();
        assert!(exported.contains("shared_store_errors_total{op=\"rate\"} 3"), "{exported}");
    }
}
