//! Prometheus metrics for monitoring, served at `/metrics`: policies signed, refusals by reason,
//! how long signing takes, confirmations, STS calls, cross-site refusals, shared-store (Redis)
//! fallbacks, and what the dev
//! bucket stored or refused. `monitoring/alerts.yml` and `monitoring/dashboard.json` use them;
//! scripts/test.sh checks that every name they use is exported.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::events::metrics::WebhookMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StsCall {
    pub call: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Code {
    pub code: String,
}

/// What the shared store (Redis) was asked when it failed: `rate` or `verdict`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Op {
    pub op: String,
}

/// A verdict and who gave it (`upload_verdicts_total{verdict,by}`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictBy {
    pub verdict: String,
    pub by: String,
}

/// What a malware scan came to (`uploads_scanned_total{result}`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScanResult {
    pub result: String,
}

/// Every [`ScanResult`]: clean, a signature found, too big to scan (set aside unscanned), or
/// clamd could not be asked or failed (no verdict: tried again).
pub const SCAN_RESULTS: [&str; 4] = ["clean", "infected", "too_big", "failed"];

/// What the durable state was asked when it failed (`upload_state_errors_total{op}`).
pub const STATE_OPS: [&str; 6] = ["record", "claim", "conclude", "get", "backlog", "outbox"];

/// The server functions whose calls a budget may refuse (`upload_calls_limited_total{call}`).
pub const LIMITED_CALLS: [&str; 6] = [
    "sign_parts",
    "list_parts",
    "complete_multipart",
    "abort_multipart",
    "confirm_upload",
    "my_uploads",
];

/// Which server function a budget stopped.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Call {
    pub call: String,
}

/// Where the app is served: `loopback` or `public` (any other address).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Site {
    pub site: String,
}

pub struct Metrics {
    registry: Registry,
    signed: Counter,
    refused: Family<Reason, Counter>,
    signing_seconds: Histogram,
    dev_stored: Counter,
    dev_refused: Family<Code, Counter>,
    confirmed: Counter,
    mismatched: Counter,
    content_refused: Counter,
    promoted: Counter,
    quarantined: Counter,
    promotion_failed: Counter,
    scanned: Family<ScanResult, Counter>,
    sts_calls: Family<StsCall, Counter>,
    cross_site_refused: Counter,
    dev_bucket_in_use: Family<Site, Gauge>,
    shared_store_errors: Family<Op, Counter>,
    receipts_refused: Family<Reason, Counter>,
    calls_limited: Family<Call, Counter>,
    guesses_capped: Counter,
    hosts_refused: Counter,
    users_refused: Family<Reason, Counter>,
    sessions_started: Counter,
    verdicts: Family<VerdictBy, Counter>,
    reconciler_looked: Counter,
    reconciler_removed: Counter,
    reconciler_deferred: Counter,
    reconciler_due: Gauge,
    reconciler_lag: Gauge,
    state_errors: Family<Op, Counter>,
    webhooks: WebhookMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let signed = Counter::default();
        let refused = Family::<Reason, Counter>::default();
        // 1 us to ~16 ms: signing takes microseconds; anything slower is worth seeing.
        let signing_seconds = Histogram::new(exponential_buckets(1e-6, 2.0, 15));
        let dev_stored = Counter::default();
        let dev_refused = Family::<Code, Counter>::default();
        registry.register("uploads_signed", "Upload policies signed", signed.clone());
        registry.register(
            "uploads_refused",
            "Signing requests refused, by reason",
            refused.clone(),
        );
        registry.register(
            "upload_signing_seconds",
            "Time to check and sign one upload",
            signing_seconds.clone(),
        );
        registry.register(
            "dev_bucket_stored",
            "Objects and parts of multipart uploads the dev bucket stored",
            dev_stored.clone(),
        );
        registry.register(
            "dev_bucket_refused",
            "Uploads the dev bucket refused, by S3 error code",
            dev_refused.clone(),
        );
        let confirmed = Counter::default();
        let mismatched = Counter::default();
        let content_refused = Counter::default();
        let (promoted, quarantined) = (Counter::default(), Counter::default());
        let promotion_failed = Counter::default();
        let scanned = Family::<ScanResult, Counter>::default();
        let sts_calls = Family::<StsCall, Counter>::default();
        registry.register(
            "uploads_confirmed",
            "Uploads checked in the bucket and found as signed",
            confirmed.clone(),
        );
        registry.register(
            "uploads_mismatched",
            "Objects in the bucket found different from what was signed (security events)",
            mismatched.clone(),
        );
        registry.register(
            "uploads_content_refused",
            "Files whose first bytes are not the type they were declared (content_check): removed",
            content_refused.clone(),
        );
        registry.register(
            "uploads_promoted",
            "Quarantined uploads that passed every check, copied to their final key",
            promoted.clone(),
        );
        registry.register(
            "uploads_quarantined",
            "Quarantined uploads a check refused: moved to the quarantine prefix, or removed",
            quarantined.clone(),
        );
        registry.register(
            "uploads_promotion_failed",
            "Promotions that failed (copy, or its check); the upload stays staged and is retried",
            promotion_failed.clone(),
        );
        registry.register(
            "uploads_scanned",
            "Malware scans of quarantined uploads by clamd, by result (clean, infected, too_big, failed)",
            scanned.clone(),
        );
        for result in SCAN_RESULTS {
            drop(scanned.get_or_create(&ScanResult { result: result.to_owned() }));
        }
        registry.register(
            "sts_calls",
            "Calls to STS for temporary credentials, by call and outcome",
            sts_calls.clone(),
        );
        // Every STS series exists from the start, at 0: a series that first appears at 1 hides
        // that failure from increase() (and so from the StsFailing alert), and an empty family is
        // not exported at all. Without STS they stay 0.
        for call in ["AssumeRole", "GetFederationToken"] {
            for outcome in ["ok", "error"] {
                // Creating the series is the point; the guard it returns is not needed.
                drop(sts_calls.get_or_create(&StsCall {
                    call: call.to_owned(),
                    outcome: outcome.to_owned(),
                }));
            }
        }
        let cross_site_refused = Counter::default();
        let dev_bucket_in_use = Family::<Site, Gauge>::default();
        registry.register(
            "cross_site_refused",
            "Server-function calls refused as cross-site",
            cross_site_refused.clone(),
        );
        registry.register(
            "dev_bucket_in_use",
            "1 when uploads go to the embedded dev bucket, by where the app is served",
            dev_bucket_in_use.clone(),
        );
        let shared_store_errors = Family::<Op, Counter>::default();
        registry.register(
            "shared_store_errors",
            "Calls to the shared store (Redis) that failed, so this instance fell back to its own limits, by what was asked",
            shared_store_errors.clone(),
        );
        // At 0 from the start, for the same reason as the STS series.
        for op in ["rate", "tally"] {
            drop(shared_store_errors.get_or_create(&Op { op: op.to_owned() }));
        }
        let receipts_refused = Family::<Reason, Counter>::default();
        registry.register(
            "uploads_receipts_refused",
            "Receipts and reports refused as forged, foreign or false (nothing in the bucket differs), by reason",
            receipts_refused.clone(),
        );
        let calls_limited = Family::<Call, Counter>::default();
        registry.register(
            "upload_calls_limited",
            "Calls that would ask the bucket or STS, refused by a budget (429), by server function",
            calls_limited.clone(),
        );
        // Every limited call's series exists from the start, at 0 (an empty family is not
        // exported, and increase() misses a series that first appears at 1).
        for call in LIMITED_CALLS {
            drop(calls_limited.get_or_create(&Call { call: call.to_owned() }));
        }
        let guesses_capped = Counter::default();
        registry.register(
            "access_code_fleet_capped",
            "Access codes refused because the whole fleet's budget of wrong guesses is spent (none is compared then, right or wrong)",
            guesses_capped.clone(),
        );
        let hosts_refused = Counter::default();
        registry.register(
            "hosts_refused",
            "Requests for a host name this site does not serve (421)",
            hosts_refused.clone(),
        );
        let users_refused = Family::<Reason, Counter>::default();
        registry.register(
            "upload_users_refused",
            "Requests that named no user where one is needed (UPLOAD_AUTH=token or proxy), by reason: a token that does not hold, a user header from an untrusted address, none at all",
            users_refused.clone(),
        );
        // Every reason's series at 0 from the start (alert BadTokensBurst uses increase()).
        for reason in app::wire::NoUser::ALL {
            drop(users_refused.get_or_create(&Reason { reason: reason.as_str().to_owned() }));
        }
        let sessions_started = Counter::default();
        registry.register(
            "upload_sessions_started",
            "Tokens exchanged for a session cookie by the page (UPLOAD_AUTH=token)",
            sessions_started.clone(),
        );
        let verdicts = Family::<VerdictBy, Counter>::default();
        registry.register(
            "upload_verdicts",
            "Verdicts on signed grants (verified, mismatched, abandoned, quarantined), by who gave them (browser or reconciler)",
            verdicts.clone(),
        );
        for verdict in ["verified", "mismatched", "abandoned", "quarantined"] {
            for by in ["browser", "reconciler"] {
                let labels = VerdictBy { verdict: verdict.to_owned(), by: by.to_owned() };
                drop(verdicts.get_or_create(&labels));
            }
        }
        let reconciler_looked = Counter::default();
        registry.register(
            "upload_reconciler_looked",
            "Pending grants the reconciler looked at when they fell due",
            reconciler_looked.clone(),
        );
        let reconciler_removed = Counter::default();
        registry.register(
            "upload_reconciler_removed",
            "Objects the reconciler removed: mismatches, and plain forms' files after their first",
            reconciler_removed.clone(),
        );
        let reconciler_deferred = Counter::default();
        registry.register(
            "upload_reconciler_deferred",
            "Looks the reconciler could not finish (the bucket or the store did not answer, a check under way) and left for a minute later",
            reconciler_deferred.clone(),
        );
        let reconciler_due = Gauge::default();
        registry.register(
            "upload_reconciler_due",
            "Pending grants due for a look now",
            reconciler_due.clone(),
        );
        let reconciler_lag = Gauge::default();
        registry.register(
            "upload_reconciler_lag_seconds",
            "How long the longest-due pending grant has waited past its due time (0: none is due)",
            reconciler_lag.clone(),
        );
        let state_errors = Family::<Op, Counter>::default();
        registry.register(
            "upload_state_errors",
            "Calls to the durable state (Redis or the embedded store) that failed, by what was asked",
            state_errors.clone(),
        );
        for op in STATE_OPS {
            drop(state_errors.get_or_create(&Op { op: op.to_owned() }));
        }
        let webhooks = WebhookMetrics::register(&mut registry);
        Self {
            webhooks,
            registry,
            signed,
            refused,
            signing_seconds,
            dev_stored,
            dev_refused,
            confirmed,
            mismatched,
            content_refused,
            promoted,
            quarantined,
            promotion_failed,
            scanned,
            sts_calls,
            cross_site_refused,
            dev_bucket_in_use,
            shared_store_errors,
            receipts_refused,
            calls_limited,
            guesses_capped,
            hosts_refused,
            users_refused,
            sessions_started,
            verdicts,
            reconciler_looked,
            reconciler_removed,
            reconciler_deferred,
            reconciler_due,
            reconciler_lag,
            state_errors,
        }
    }

    /// The webhooks' ([`WebhookMetrics`]).
    pub fn webhooks(&self) -> &WebhookMetrics {
        &self.webhooks
    }

    /// A verdict on a grant, given `by` the browser or the reconciler.
    pub fn verdict(&self, verdict: &str, by: &str) {
        let labels = VerdictBy { verdict: verdict.to_owned(), by: by.to_owned() };
        self.verdicts.get_or_create(&labels).inc();
    }

    pub fn reconciler_looked(&self) {
        self.reconciler_looked.inc();
    }

    /// `n` objects removed by the reconciler.
    pub fn reconciler_removed(&self, n: u64) {
        self.reconciler_removed.inc_by(n);
    }

    pub fn reconciler_later(&self) {
        self.reconciler_deferred.inc();
    }

    /// How many grants are due, and how long the longest due has waited (seconds).
    pub fn reconciler_backlog(&self, due: u64, lag_secs: i64) {
        self.reconciler_due.set(i64::try_from(due).unwrap_or(i64::MAX));
        self.reconciler_lag.set(lag_secs);
    }

    /// A call to the durable state failed.
    pub fn state_error(&self, op: &str) {
        self.state_errors.get_or_create(&Op { op: op.to_owned() }).inc();
    }

    /// Makes the series of these receipt-refusal reasons exist, at 0: an alert's increase()
    /// misses a series that first appears at 1, and an empty family is not exported.
    pub fn receipt_reasons(&self, reasons: impl IntoIterator<Item = &'static str>) {
        for reason in reasons {
            drop(self.receipts_refused.get_or_create(&Reason { reason: reason.to_owned() }));
        }
    }

    /// A receipt or report refused as forged, foreign or false, for `reason`.
    pub fn receipt_refused(&self, reason: &str) {
        self.receipts_refused.get_or_create(&Reason { reason: reason.to_owned() }).inc();
    }

    /// A call of the server function `call` (one of [`LIMITED_CALLS`]) refused by a budget.
    pub fn call_limited(&self, call: &str) {
        self.calls_limited.get_or_create(&Call { call: call.to_owned() }).inc();
    }

    /// A wrong access code refused by the fleet's cap.
    pub fn guesses_capped(&self) {
        self.guesses_capped.inc();
    }

    /// A request for a host this site does not serve.
    pub fn host_refused(&self) {
        self.hosts_refused.inc();
    }

    /// A request that needed a user and named none, for `reason`.
    pub fn user_refused(&self, reason: app::wire::NoUser) {
        self.users_refused.get_or_create(&Reason { reason: reason.as_str().to_owned() }).inc();
    }

    /// A token exchanged for a session.
    pub fn session_started(&self) {
        self.sessions_started.inc();
    }

    /// A call to the shared store failed; the instance decided alone.
    pub fn shared_store_error(&self, op: &str) {
        self.shared_store_errors.get_or_create(&Op { op: op.to_owned() }).inc();
    }

    pub fn signed(&self, seconds: f64) {
        self.signed.inc();
        self.signing_seconds.observe(seconds);
    }

    pub fn refused(&self, reason: &str) {
        self.refused.get_or_create(&Reason { reason: reason.to_owned() }).inc();
    }

    pub fn dev_stored(&self) {
        self.dev_stored.inc();
    }

    pub fn dev_refused(&self, code: &str) {
        self.dev_refused.get_or_create(&Code { code: code.to_owned() }).inc();
    }

    pub fn confirmed(&self) {
        self.confirmed.inc();
    }

    pub fn mismatched(&self) {
        self.mismatched.inc();
    }

    /// A file refused for what its first bytes are (`content_check`).
    pub fn content_refused(&self) {
        self.content_refused.inc();
    }

    /// A staged upload copied to its final key.
    pub fn promoted(&self) {
        self.promoted.inc();
    }

    /// A staged upload a check refused.
    pub fn quarantined(&self) {
        self.quarantined.inc();
    }

    /// A promotion that did not happen (it is tried again).
    pub fn promotion_failed(&self) {
        self.promotion_failed.inc();
    }

    /// A malware scan's result, one of [`SCAN_RESULTS`].
    pub fn scanned(&self, result: &str) {
        self.scanned.get_or_create(&ScanResult { result: result.to_owned() }).inc();
    }

    pub fn sts_call(&self, call: &str, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.sts_calls
            .get_or_create(&StsCall { call: call.to_owned(), outcome: outcome.to_owned() })
            .inc();
    }

    pub fn cross_site_refused(&self) {
        self.cross_site_refused.inc();
    }

    /// Uploads go to the embedded dev bucket, for an app served on a `public` address or not.
    pub fn dev_bucket_in_use(&self, public: bool) {
        let site = if public { "public" } else { "loopback" };
        self.dev_bucket_in_use.get_or_create(&Site { site: site.to_owned() }).set(1);
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_exposition() {
        let metrics = Metrics::new();
        metrics.signed(0.000_003);
        metrics.refused("too_large");
        metrics.refused("too_large");
        metrics.dev_refused("EntityTooLarge");
        metrics.sts_call("AssumeRole", false);
        metrics.confirmed();
        metrics.cross_site_refused();
        metrics.dev_bucket_in_use(true);
        let text = metrics.encode();
        assert!(text.contains("uploads_signed_total 1"), "{text}");
        assert!(text.contains("uploads_refused_total{reason=\"too_large\"} 2"), "{text}");
        assert!(text.contains("upload_signing_seconds_count 1"), "{text}");
        assert!(text.contains("dev_bucket_refused_total{code=\"EntityTooLarge\"} 1"), "{text}");
        assert!(
            text.contains("sts_calls_total{call=\"AssumeRole\",outcome=\"error\"} 1"),
            "{text}"
        );
        assert!(text.contains("uploads_confirmed_total 1"), "{text}");
        assert!(text.contains("cross_site_refused_total 1"), "{text}");
        assert!(
            text.contains("sts_calls_total{call=\"GetFederationToken\",outcome=\"error\"} 0"),
            "{text}"
        );
        assert!(text.contains("dev_bucket_in_use{site=\"public\"} 1"), "{text}");
        // Exported before any budget stops a call, so dashboards and increase() see them.
        for call in LIMITED_CALLS {
            assert!(text.contains(&format!("upload_calls_limited_total{{call=\"{call}\"}} 0")));
        }
    }
}
