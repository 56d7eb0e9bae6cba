//! The deliverer: each instance takes what is due from the outbox (the fleet's, with Redis),
//! sends it, and settles it: delivered, tried again later ([`schedule`]), or, past the retry
//! window, a dead letter. Taking leases an event for longer than an attempt can take, so an
//! instance that dies mid-delivery leaves its events to another when the lease ends; the
//! receiver may then see an event twice, with one `webhook-id` (at least once, never lost).
//! Each endpoint has its outbox and its deliverer, so a slow or disabled one holds up only its
//! own events. A 410 disables the endpoint for the whole fleet until `server webhooks enable`;
//! its events wait in its outbox meanwhile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{Notify, Semaphore};

use super::endpoint::{Endpoint, TIMEOUT};
use super::event::{webhook_id, Event};
use super::schedule::{self, Attempted, Next};
use crate::logging::clip;
use crate::metrics::Metrics;
use crate::state::{now_ms, Outgoing, Settle, State};
use crate::uploads::pending::VerdictLine;

/// How long a taken event is the taker's: longer than an attempt can take (each is sent as soon
/// as it is taken), so another instance takes it only from a taker that stopped.
pub const LEASE: Duration = Duration::from_secs(TIMEOUT.as_secs() + 15);
/// Events in flight at once, at most: each taken when a place is free, so a slow receiver holds
/// only its own places.
const AT_ONCE: usize = 16;
/// How often the outbox is looked at when nothing wakes the deliverer (events appended by
/// other instances, retries falling due).
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// How often the outbox's figures (and the endpoint's flag) are read for the metrics.
const STATS_EVERY: Duration = Duration::from_secs(5);

/// The store's flag that says an endpoint is disabled, and why.
pub fn disabled_flag(endpoint: &str) -> String {
    format!("webhook-disabled:{endpoint}")
}

/// One endpoint's deliverer.
pub struct Deliverer {
    pub state: Arc<State>,
    pub endpoint: Arc<Endpoint>,
    pub metrics: Arc<Metrics>,
    /// How long an event is tried before it is a dead letter (`UPLOAD_WEBHOOK_RETRY_SECS`).
    pub window: Duration,
    /// Told when this instance appends an event for the endpoint: it goes at once.
    pub wake: Arc<Notify>,
}

/// A number in `[0, 1)` for the back-off's jitter.
fn jitter() -> f64 {
    f64::from(uuid::Uuid::new_v4().as_u128() as u32) / (f64::from(u32::MAX) + 1.0)
}

/// What the sends in flight share.
struct Shared {
    deliverer: Deliverer,
    client: reqwest::Client,
    /// Set when the endpoint answered 410: sends not yet made are not made.
    gone: AtomicBool,
}

impl Deliverer {
    /// Delivers until the process ends: takes what is due as places free up, and sends each
    /// at once in a task of its own.
    pub async fn run(self) {
        let flag = disabled_flag(&self.endpoint.name);
        self.metrics.webhooks().endpoint(&self.endpoint.name);
        let shared = Arc::new(Shared {
            deliverer: self,
            client: Endpoint::client(),
            gone: AtomicBool::new(false),
        });
        let places = Arc::new(Semaphore::new(AT_ONCE));
        let this = &shared.deliverer;
        let mut disabled = false;
        let mut stats_due = tokio::time::Instant::now();
        loop {
            if shared.gone.swap(false, Ordering::SeqCst) {
                // Every send in flight has finished or seen the flag before this one is taken.
                let _all = places.clone().acquire_many_owned(AT_ONCE as u32).await;
                this.disable(&flag).await;
                disabled = true;
            }
            if tokio::time::Instant::now() >= stats_due {
                stats_due = tokio::time::Instant::now() + STATS_EVERY;
                disabled = this.observe(&flag).await.unwrap_or(disabled);
            }
            if disabled {
                tokio::time::sleep(STATS_EVERY).await;
                continue;
            }
            let free = places.available_permits().max(1);
            let Ok(first) = places.clone().acquire_owned().await else { return };
            let taken = match this.state.take(&this.endpoint.name, LEASE, free).await {
                Ok(taken) => taken,
                Err(err) => {
                    this.metrics.state_error("outbox");
                    tracing::error!(event = "outbox_unreadable", endpoint = %this.endpoint.name, error = %err);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if taken.is_empty() {
                drop(first);
                tokio::select! {
                    () = this.wake.notified() => {}
                    () = tokio::time::sleep(LOOK_EVERY) => {}
                }
                continue;
            }
            let mut first = Some(first);
            for event in taken {
                let place = match first.take() {
                    Some(place) => place,
                    None => places.clone().acquire_owned().await.expect("never closed"),
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    shared.deliverer.deliver(&shared.client, event, &shared.gone).await;
                    drop(place);
                });
            }
        }
    }

    /// Reads the outbox's figures and the endpoint's flag: whether it is disabled (`None` when
    /// the store did not answer).
    async fn observe(&self, flag: &str) -> Option<bool> {
        let disabled = self.state.flag(flag).await.ok()?.is_some();
        let name = &self.endpoint.name;
        let stats = self.state.outbox_stats(name).await.ok()?;
        self.metrics.webhooks().outbox(name, stats, now_ms(), disabled);
        Some(disabled)
    }

    async fn disable(&self, flag: &str) {
        let reason = format!("410 Gone at {}", OffsetDateTime::now_utc().unix_timestamp());
        if let Err(err) = self.state.set_flag(flag, Some(&reason)).await {
            self.metrics.state_error("outbox");
            tracing::error!(event = "outbox_unwritable", error = %err);
        }
        let name = &self.endpoint.name;
        if let Ok(stats) = self.state.outbox_stats(name).await {
            self.metrics.webhooks().outbox(name, stats, now_ms(), true);
        }
        tracing::error!(target: "audit", event = "webhook_endpoint_disabled", endpoint = %self.endpoint.name, url = %self.endpoint.shown(), "the endpoint answered 410 Gone: no event is sent to it until `server webhooks enable --webhook NAME`; its events wait in its outbox");
    }

    /// One attempt at `event`, settled; `gone` is set when the endpoint answers 410 Gone (and
    /// an event taken after that is not sent, but due again at once).
    async fn deliver(&self, client: &reqwest::Client, event: Outgoing, gone: &AtomicBool) {
        if gone.load(Ordering::SeqCst) {
            self.settle(&event, Settle::RetryAt(now_ms())).await;
            return;
        }
        let Ok(line) = serde_json::from_str::<VerdictLine>(&event.line) else {
            tracing::error!(target: "audit", event = "webhook_dead", endpoint = %self.endpoint.name, id = "", position = %event.position, attempts = event.attempt, reason = "the outbox holds a line that is no event", key = "");
            self.settle(&event, Settle::Dead).await;
            return;
        };
        let id = webhook_id(&line);
        let body = Event::of(&line).body();
        let now = now_ms();
        let outcome = self.endpoint.send(client, &id, &body, now / 1000).await;
        let kind = line.verdict.as_str();
        match outcome.attempted {
            Attempted::Delivered => {
                self.settle(&event, Settle::Delivered).await;
                let delay = (now_ms() - event.queued_ms).max(0) as f64 / 1000.0;
                self.metrics.webhooks().delivered(&self.endpoint.name, delay);
                tracing::debug!(
                    event = "webhook_delivered",
                    endpoint = %self.endpoint.name,
                    id,
                    kind,
                    attempt = event.attempt,
                    status = outcome.status
                );
            }
            Attempted::Gone => {
                // Due again at once: it goes when the endpoint is enabled again.
                gone.store(true, Ordering::SeqCst);
                self.settle(&event, Settle::RetryAt(now)).await;
            }
            Attempted::Failed { retry_after } => {
                if let Some(failure) = outcome.failure {
                    self.metrics.webhooks().failed(&self.endpoint.name, failure);
                }
                let reason = outcome.failure.map_or("", |f| f.as_str());
                match schedule::next(
                    event.attempt,
                    event.queued_ms,
                    now,
                    self.window,
                    retry_after,
                    jitter(),
                ) {
                    Next::RetryAt(at) => {
                        tracing::warn!(
                            event = "webhook_failed",
                            endpoint = %self.endpoint.name,
                            id,
                            kind,
                            attempt = event.attempt,
                            status = outcome.status,
                            reason,
                            retry_in_ms = at - now
                        );
                        self.settle(&event, Settle::RetryAt(at)).await;
                    }
                    Next::GiveUp => {
                        tracing::error!(target: "audit", event = "webhook_dead", endpoint = %self.endpoint.name, id, position = %event.position, attempts = event.attempt, reason, key = ?clip(&line.key));
                        self.settle(&event, Settle::Dead).await;
                        self.metrics.webhooks().dead(&self.endpoint.name);
                    }
                }
            }
        }
    }

    async fn settle(&self, event: &Outgoing, settle: Settle) {
        if let Err(err) = self.state.settle(&self.endpoint.name, &event.position, settle).await {
            // Left leased: it is taken again when the lease ends.
            self.metrics.state_error("outbox");
            tracing::error!(event = "outbox_unwritable", endpoint = %self.endpoint.name, position = %event.position, error = %err);
        }
    }
}
