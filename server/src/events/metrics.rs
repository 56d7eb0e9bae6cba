//! The webhooks' metrics (`upload_webhook_*`), registered with the others
//! (`crate::metrics::Metrics`), each by endpoint: events delivered, attempts failed by reason,
//! dead letters, and, from the endpoint's outbox (the fleet's with Redis, so the alerts take the
//! max over instances), how many wait, how long the oldest has, and whether it is disabled.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use prometheus_client::encoding::EncodeLabelSet;

use super::endpoint::Failure;
use crate::state::OutboxStats;

/// Which endpoint (`UPLOAD_WEBHOOK_URL`'s is `default`; a profile's, its name).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Endpoint {
    pub endpoint: String,
}

/// Which endpoint, and why an attempt failed (`upload_webhook_failed_attempts_total`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub endpoint: String,
    pub reason: String,
}

fn delay_histogram() -> Histogram {
    // 10 ms to ~3 h: a healthy receiver's events take milliseconds; retries, hours.
    Histogram::new(exponential_buckets(0.01, 2.5, 14))
}

/// Every series, by endpoint.
#[derive(Clone)]
pub struct WebhookMetrics {
    delivered: Family<Endpoint, Counter>,
    failed: Family<Reason, Counter>,
    dead: Family<Endpoint, Counter>,
    delay: Family<Endpoint, Histogram, fn() -> Histogram>,
    pending: Family<Endpoint, Gauge>,
    oldest: Family<Endpoint, Gauge>,
    dead_letters: Family<Endpoint, Gauge>,
    disabled: Family<Endpoint, Gauge>,
}

impl WebhookMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            delivered: Family::default(),
            failed: Family::default(),
            dead: Family::default(),
            delay: Family::new_with_constructor(delay_histogram),
            pending: Family::default(),
            oldest: Family::default(),
            dead_letters: Family::default(),
            disabled: Family::default(),
        };
        registry.register(
            "upload_webhook_delivered",
            "Events delivered to a webhook endpoint (a 2xx), by endpoint",
            metrics.delivered.clone(),
        );
        registry.register(
            "upload_webhook_failed_attempts",
            "Attempts to deliver an event that failed, by endpoint and reason: status (not 2xx), timeout, unreachable",
            metrics.failed.clone(),
        );
        registry.register(
            "upload_webhook_dead",
            "Events given up after UPLOAD_WEBHOOK_RETRY_SECS (dead letters; server webhooks replay), by endpoint",
            metrics.dead.clone(),
        );
        registry.register(
            "upload_webhook_delay_seconds",
            "From an event's verdict to its delivery, by endpoint",
            metrics.delay.clone(),
        );
        registry.register(
            "upload_webhook_pending",
            "Events in an endpoint's outbox waiting for delivery",
            metrics.pending.clone(),
        );
        registry.register(
            "upload_webhook_oldest_pending_seconds",
            "How long the oldest event waiting for an endpoint has waited (0: none waits)",
            metrics.oldest.clone(),
        );
        registry.register(
            "upload_webhook_dead_letters",
            "An endpoint's events among the dead letters now",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "upload_webhook_endpoint_disabled",
            "1 while the endpoint is disabled (it answered 410 Gone; server webhooks enable --webhook NAME)",
            metrics.disabled.clone(),
        );
        metrics
    }

    /// Every series of `endpoint` at zero, so that each is exported before anything happens
    /// (an alert on a rate needs its zero).
    pub fn endpoint(&self, endpoint: &str) {
        let label = Endpoint { endpoint: endpoint.to_owned() };
        for failure in Failure::ALL {
            let reason = Reason { endpoint: endpoint.to_owned(), reason: failure.as_str().into() };
            drop(self.failed.get_or_create(&reason));
        }
        drop(self.delivered.get_or_create(&label));
        drop(self.dead.get_or_create(&label));
        drop(self.delay.get_or_create(&label));
        self.outbox(endpoint, OutboxStats::default(), 0, false);
    }

    pub fn delivered(&self, endpoint: &str, delay_secs: f64) {
        let label = Endpoint { endpoint: endpoint.to_owned() };
        self.delivered.get_or_create(&label).inc();
        self.delay.get_or_create(&label).observe(delay_secs);
    }

    pub fn failed(&self, endpoint: &str, failure: Failure) {
        let reason = Reason { endpoint: endpoint.to_owned(), reason: failure.as_str().to_owned() };
        self.failed.get_or_create(&reason).inc();
    }

    pub fn dead(&self, endpoint: &str) {
        self.dead.get_or_create(&Endpoint { endpoint: endpoint.to_owned() }).inc();
    }

    pub fn outbox(&self, endpoint: &str, stats: OutboxStats, now_ms: i64, disabled: bool) {
        let label = Endpoint { endpoint: endpoint.to_owned() };
        self.pending.get_or_create(&label).set(i64::try_from(stats.pending).unwrap_or(i64::MAX));
        let oldest = stats.oldest_ms.map_or(0, |oldest| (now_ms - oldest).max(0) / 1000);
        self.oldest.get_or_create(&label).set(oldest);
        let dead = i64::try_from(stats.dead).unwrap_or(i64::MAX);
        self.dead_letters.get_or_create(&label).set(dead);
        self.disabled.get_or_create(&label).set(i64::from(disabled));
    }
}
