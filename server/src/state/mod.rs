//! The little durable state the service keeps: the record of every grant it signed that has no
//! verdict yet (pending uploads, by when each is due), the verdict claims (one verdict per
//! receipt), the log of verdicts, the reconciler's lease, and the outbox of events waiting to be
//! delivered (appended with their verdict, in the same write). In Redis (`UPLOAD_REDIS_URL`),
//! shared by the fleet, when it is configured ([`redis`]); in an embedded store otherwise
//! (redb under `UPLOAD_STATE_DIR`, [`embedded`]), this instance's own. What goes there is what
//! checks an upload (keys, sizes, digests, who), never a secret.
//!
//! The store knows records only as an id, a due time and a body: what a record means is the
//! upload service's (`uploads::pending`).
//!
//! New records are written in batches ([`State::record_later`]): a signature waits for no disk
//! and no round trip; the records gathered over a few milliseconds (50 embedded, 10 for Redis)
//! are written together (a group commit), so a crash loses at most those, as Redis's
//! `appendfsync everysec` loses at most a second of writes.

pub mod embedded;
pub mod redis;
mod types;

pub use types::{
    now_ms, Claim, Conclusion, Entry, Listed, Logged, OutboxStats, Outgoing, Settle, StateError,
    LOG_KEEPS,
};

use std::sync::Arc;
use std::time::Duration;

use crate::shared::SharedStore;

/// The store, in Redis or embedded.
pub enum State {
    Redis(Box<redis::RedisState>),
    Embedded(embedded::Embedded),
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl State {
    /// In Redis, shared through `store`.
    pub fn redis(store: Arc<SharedStore>) -> Self {
        Self::Redis(Box::new(redis::RedisState::new(store)))
    }

    /// Embedded, in `dir` (made if missing); an error names the directory and why.
    pub fn embedded(dir: &std::path::Path) -> Result<Self, String> {
        embedded::Embedded::open(dir).map(Self::Embedded)
    }

    /// Embedded, in memory: for a service that keeps nothing across restarts (tests, `server
    /// sign`).
    pub fn in_memory() -> Self {
        Self::Embedded(embedded::Embedded::in_memory())
    }

    /// Where it is, for the logs.
    pub fn kind(&self) -> &'static str {
        match self {
            State::Redis(_) => "redis",
            State::Embedded(e) if e.is_in_memory() => "memory",
            State::Embedded(_) => "embedded",
        }
    }

    /// Whether several instances share it (and the reconciler needs a lease).
    pub fn shared(&self) -> bool {
        matches!(self, State::Redis(_))
    }

    /// Queues `entry` for the next batch: an error only when the queue is full (the store has
    /// not taken a write for a long while).
    pub fn record_later(&self, entry: Entry) -> Result<(), StateError> {
        match self {
            State::Redis(r) => r.record_later(entry),
            State::Embedded(e) => e.record_later(entry),
        }
    }

    /// Writes `entries` (each replacing the record of its id) and waits until they are stored.
    pub async fn record(&self, entries: Vec<Entry>) -> Result<(), StateError> {
        match self {
            State::Redis(r) => r.record(entries).await,
            State::Embedded(e) => e.record(entries).await,
        }
    }

    /// Waits until every record queued before ([`State::record_later`]) is stored: on
    /// shutdown, and in tests.
    pub async fn flush(&self) -> Result<(), StateError> {
        match self {
            State::Redis(r) => r.flush().await,
            State::Embedded(e) => e.flush().await,
        }
    }

    /// The record `id`, if there is one.
    pub async fn get(&self, id: &str) -> Result<Option<Entry>, StateError> {
        match self {
            State::Redis(r) => r.get(id).await,
            State::Embedded(e) => e.get(id).await,
        }
    }

    /// Up to `max` records due at `now` (Unix seconds), the longest due first.
    pub async fn due(&self, now: i64, max: usize) -> Result<Vec<Entry>, StateError> {
        match self {
            State::Redis(r) => r.due(now, max).await,
            State::Embedded(e) => e.due(now, max).await,
        }
    }

    /// When the record due first is due, and how many are due at `now`.
    pub async fn backlog(&self, now: i64) -> Result<(Option<i64>, u64), StateError> {
        match self {
            State::Redis(r) => r.backlog(now).await,
            State::Embedded(e) => e.backlog(now).await,
        }
    }

    /// Claims `name` for `ttl`, writing `state` in it; or says what its holder wrote.
    pub async fn claim(&self, name: &str, state: &str, ttl: Duration) -> Result<Claim, StateError> {
        match self {
            State::Redis(r) => r.claim(name, state, ttl).await,
            State::Embedded(e) => e.claim(name, state, ttl).await,
        }
    }

    /// Takes over a claim that still holds `from` (a checker known to have stopped), writing
    /// `to` in it for `ttl`: true when taken.
    pub async fn steal(
        &self,
        name: &str,
        from: &str,
        to: &str,
        ttl: Duration,
    ) -> Result<bool, StateError> {
        match self {
            State::Redis(r) => r.steal(name, from, to, ttl).await,
            State::Embedded(e) => e.steal(name, from, to, ttl).await,
        }
    }

    /// Gives a claim up, if it still holds `holding` (the caller's): the check it guarded was
    /// not made.
    pub async fn release(&self, name: &str, holding: &str) -> Result<(), StateError> {
        match self {
            State::Redis(r) => r.release(name, holding).await,
            State::Embedded(e) => e.release(name, holding).await,
        }
    }

    /// Moves records that still exist to their new due time (and body); an ended one stays
    /// ended.
    pub async fn reschedule(&self, entries: Vec<Entry>) -> Result<(), StateError> {
        match self {
            State::Redis(r) => r.reschedule(entries).await,
            State::Embedded(e) => e.reschedule(entries).await,
        }
    }

    /// Writes a verdict (see [`Conclusion`]), all of it or none: false when the claim no longer
    /// holds what the caller wrote in it (nothing is written then).
    pub async fn conclude(&self, conclusion: Conclusion<'_>) -> Result<bool, StateError> {
        match self {
            State::Redis(r) => r.conclude(conclusion).await,
            State::Embedded(e) => e.conclude(conclusion).await,
        }
    }

    /// Takes or renews the reconciler's lease for `holder`, for `ttl`: true while it is theirs.
    /// Embedded, it is always this instance's: no other reads its records.
    pub async fn lease(&self, holder: &str, ttl: Duration) -> Result<bool, StateError> {
        match self {
            State::Redis(r) => r.lease(holder, ttl).await,
            State::Embedded(_) => Ok(true),
        }
    }

    /// Gives the lease up, if `holder` has it (on shutdown: another takes over at once).
    pub async fn give_up_lease(&self, holder: &str) -> Result<(), StateError> {
        match self {
            State::Redis(r) => r.give_up_lease(holder).await,
            State::Embedded(_) => Ok(()),
        }
    }

    /// Appends `lines` to the outbox of each of `endpoints`, due now, all or none (a plain
    /// form's extra objects removed, a replay).
    pub async fn enqueue(
        &self,
        endpoints: &[String],
        lines: Vec<String>,
    ) -> Result<(), StateError> {
        match self {
            State::Redis(r) => r.enqueue(endpoints, lines).await,
            State::Embedded(e) => e.enqueue(endpoints, lines).await,
        }
    }

    /// Takes up to `max` events due from `endpoint`'s outbox, each leased to the caller for
    /// `lease`: due again when it ends unless settled ([`State::settle`]) before.
    pub async fn take(
        &self,
        endpoint: &str,
        lease: Duration,
        max: usize,
    ) -> Result<Vec<Outgoing>, StateError> {
        match self {
            State::Redis(r) => r.outbox(endpoint).take(lease, max).await,
            State::Embedded(e) => e.take(endpoint, lease, max).await,
        }
    }

    /// What became of an event taken from `endpoint`'s outbox.
    pub async fn settle(
        &self,
        endpoint: &str,
        position: &str,
        settle: Settle,
    ) -> Result<(), StateError> {
        match self {
            State::Redis(r) => r.outbox(endpoint).settle(position, settle).await,
            State::Embedded(e) => e.settle(endpoint, position, settle).await,
        }
    }

    /// Up to `max` of `endpoint`'s events, pending or `dead`, oldest first.
    pub async fn outbox(
        &self,
        endpoint: &str,
        dead: bool,
        max: usize,
    ) -> Result<Vec<Listed>, StateError> {
        match self {
            State::Redis(r) => r.outbox(endpoint).outbox(dead, max).await,
            State::Embedded(e) => e.outbox(endpoint, dead, max).await,
        }
    }

    /// Puts one of `endpoint`'s dead letters back in its outbox, due now: false when there is
    /// none at `position`.
    pub async fn revive(&self, endpoint: &str, position: &str) -> Result<bool, StateError> {
        match self {
            State::Redis(r) => r.outbox(endpoint).revive(position).await,
            State::Embedded(e) => e.revive(endpoint, position).await,
        }
    }

    pub async fn outbox_stats(&self, endpoint: &str) -> Result<OutboxStats, StateError> {
        match self {
            State::Redis(r) => r.outbox(endpoint).outbox_stats().await,
            State::Embedded(e) => e.outbox_stats(endpoint).await,
        }
    }

    /// A named flag's value (an endpoint disabled, and why), the fleet's with Redis.
    pub async fn flag(&self, name: &str) -> Result<Option<String>, StateError> {
        match self {
            State::Redis(r) => r.flags().flag(name).await,
            State::Embedded(e) => e.flag(name).await,
        }
    }

    /// Sets a named flag, or clears it (`None`).
    pub async fn set_flag(&self, name: &str, value: Option<&str>) -> Result<(), StateError> {
        match self {
            State::Redis(r) => r.flags().set_flag(name, value).await,
            State::Embedded(e) => e.set_flag(name, value).await,
        }
    }

    /// Up to `max` verdicts from the log, oldest first, after position `after` (from the start
    /// when `None`).
    pub async fn verdicts(
        &self,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<Logged>, StateError> {
        match self {
            State::Redis(r) => r.verdicts(after, max).await,
            State::Embedded(e) => e.verdicts(after, max).await,
        }
    }
}
