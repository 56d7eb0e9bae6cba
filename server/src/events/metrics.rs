//! The webhooks' metrics (`upload_webhook_*`), registered with the others
//! (`crate::metrics::Metrics`): events delivered, attempts failed by reason, dead letters, and,
//! from the outbox (the fleet's with Redis, so the alerts take the max over instances), how many
//! wait, how long the oldest has, and whether the endpoint is disabled.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use prometheus_client::encoding::EncodeLabelSet;

use super::endpoint::Failure;
use crate::state::OutboxStats;

/// Why an attempt failed (`upload_webhook_failed_attempts_total{reason}`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: String,
}

#[derive(Clone)]
pub struct WebhookMetrics {
    delivered: Counter,
    failed: Family<Reason, Counter>,
    dead: Counter,
    delay: Histogram,
    pending: Gauge,
    oldest: Gauge,
    dead_letters: Gauge,
    disabled: Gauge,
}

impl WebhookMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            delivered: Counter::default(),
            failed: Family::default(),
            dead: Counter::default(),
            // 10 ms to ~3 h: a healthy receiver's events take milliseconds; retries, hours.
            delay: Histogram::new(exponential_buckets(0.01, 2.5, 14)),
            pending: Gauge::default(),
            oldest: Gauge::default(),
            dead_letters: Gauge::default(),
            disabled: Gauge::default(),
        };
        registry.register(
            "upload_webhook_delivered",
            "Events delivered to the webhook endpoint (a 2xx)",
            metrics.delivered.clone(),
        );
        registry.register(
            "upload_webhook_failed_attempts",
            "Attempts to deliver an event that failed, by reason: status (not 2xx), timeout, unreachable",
            metrics.failed.clone(),
        );
        for failure in Failure::ALL {
            drop(metrics.failed.get_or_create(&Reason { reason: failure.as_str().to_owned() }));
        }
        registry.register(
            "upload_webhook_dead",
            "Events given up after UPLOAD_WEBHOOK_RETRY_SECS (dead letters; server webhooks replay)",
            metrics.dead.clone(),
        );
        registry.register(
            "upload_webhook_delay_seconds",
            "From an event's verdict to its delivery",
            metrics.delay.clone(),
        );
        registry.register(
            "upload_webhook_pending",
            "Events in the outbox waiting for delivery",
            metrics.pending.clone(),
        );
        registry.register(
            "upload_webhook_oldest_pending_seconds",
            "How long the oldest event waiting for delivery has waited (0: none waits)",
            metrics.oldest.clone(),
        );
        registry.register(
            "upload_webhook_dead_letters",
            "Events among the dead letters now",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "upload_webhook_endpoint_disabled",
            "1 while the webhook endpoint is disabled (it answered 410 Gone; server webhooks enable)",
            metrics.disabled.clone(),
        );
        metrics
    }

    pub fn delivered(&self, delay_secs: f64) {
        self.delivered.inc();
        self.delay.observe(delay_secs);
    }

    pub fn failed(&self, failure: Failure) {
        self.failed.get_or_create(&Reason { reason: failure.as_str().to_owned() }).inc();
    }

    pub fn dead(&self) {
        self.dead.inc();
    }

    pub fn outbox(&self, stats: OutboxStats, now_ms: i64, disabled: bool) {
        self.pending.set(i64::try_from(stats.pending).unwrap_or(i64::MAX));
        self.oldest.set(stats.oldest_ms.map_or(0, |oldest| (now_ms - oldest).max(0) / 1000));
        self.dead_letters.set(i64::try_from(stats.dead).unwrap_or(i64::MAX));
        self.disabled.set(i64::from(disabled));
    }
}
