//! What a load balancer asks: `/readyz` answers 200 only while this instance can serve (the
//! bucket answers, the shared store answers when one is configured, and it is not shutting
//! down), else 503 with a short reason (the details go to the log: the public may ask too);
//! every response names the instance (`x-upload-instance`). The answer is kept for
//! [`CHECK_EVERY`], so however often it is asked, the bucket and the store are asked at most
//! once in that time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::{extract::State, response::IntoResponse, routing::get, Router};
use http::{HeaderName, HeaderValue, StatusCode};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::shared::SharedStore;
use crate::uploads::Objects;

pub const INSTANCE_HEADER: HeaderName = HeaderName::from_static("x-upload-instance");

/// How long one check's answer is given to every later probe.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Why this instance should get no traffic: what `/readyz` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    ShuttingDown,
    Bucket,
    SharedStore,
}

impl NotReady {
    pub fn as_str(self) -> &'static str {
        match self {
            NotReady::ShuttingDown => "shutting down",
            NotReady::Bucket => "the bucket does not answer",
            NotReady::SharedStore => "the shared store does not answer",
        }
    }
}

/// What `/readyz` checks.
pub struct Readiness {
    objects: Option<Objects>,
    shared: Option<Arc<SharedStore>>,
    draining: AtomicBool,
    /// The last answer and when it was found; the lock also makes concurrent probes share one
    /// check.
    last: tokio::sync::Mutex<Option<(Instant, Result<(), NotReady>)>>,
}

impl Readiness {
    pub fn new(objects: Option<Objects>, shared: Option<Arc<SharedStore>>) -> Self {
        Self { objects, shared, draining: AtomicBool::new(false), last: Default::default() }
    }

    /// From now on `/readyz` says 503: the balancer stops sending new requests here.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// `Ok`, or why this instance should get no traffic: found at most once per
    /// [`CHECK_EVERY`] (draining is seen at once).
    pub async fn check(&self) -> Result<(), NotReady> {
        if self.draining.load(Ordering::SeqCst) {
            return Err(NotReady::ShuttingDown);
        }
        let mut last = self.last.lock().await;
        if let Some((at, answer)) = *last {
            if at.elapsed() < CHECK_EVERY {
                return answer;
            }
        }
        let answer = self.ask().await;
        *last = Some((Instant::now(), answer));
        answer
    }

    /// Asks the bucket and the store; what they said goes to the log.
    async fn ask(&self) -> Result<(), NotReady> {
        if let Some(objects) = &self.objects {
            if let Err(err) = objects.reachable().await {
                tracing::warn!(event = "not_ready", reason = NotReady::Bucket.as_str(), error = %err);
                return Err(NotReady::Bucket);
            }
        }
        if let Some(shared) = &self.shared {
            if let Err(err) = shared.ping().await {
                tracing::warn!(event = "not_ready", reason = NotReady::SharedStore.as_str(), store = shared.address(), error = %err);
                return Err(NotReady::SharedStore);
            }
        }
        Ok(())
    }
}

async fn readyz(State(readiness): State<Arc<Readiness>>) -> impl IntoResponse {
    match readiness.check().await {
        Ok(()) => (StatusCode::OK, "ready".to_owned()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}", why.as_str())),
    }
}

/// `app` with `/readyz`, and every response naming `instance`.
pub fn operable(app: Router, readiness: Arc<Readiness>, instance: &str) -> Router {
    let name =
        HeaderValue::from_str(instance).unwrap_or_else(|_| HeaderValue::from_static("server"));
    app.route("/readyz", get(readyz).with_state(readiness))
        .layer(SetResponseHeaderLayer::overriding(INSTANCE_HEADER, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A "Redis" that takes connections and closes them at once, counting them.
    async fn closing_store() -> (Arc<SharedStore>, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        (Arc::new(SharedStore::new(&url).unwrap()), accepted)
    }

    #[tokio::test]
    async fn probes_share_one_check_in_a_while_and_say_little() {
        let (store, accepted) = closing_store().await;
        let readiness = Readiness::new(None, Some(store));
        assert_eq!(readiness.check().await, Err(NotReady::SharedStore));
        let asked = accepted.load(Ordering::SeqCst);
        assert!(asked > 0);
        for _ in 0..100 {
            assert_eq!(readiness.check().await, Err(NotReady::SharedStore));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), asked, "answered from the last check");
        assert_eq!(NotReady::SharedStore.as_str(), "the shared store does not answer");
        readiness.drain();
        assert_eq!(readiness.check().await, Err(NotReady::ShuttingDown), "at once");
    }

    #[tokio::test]
    async fn a_probe_keeps_the_stores_back_off() {
        let (store, accepted) = closing_store().await;
        let budget =
            crate::shared::Budget { key: "k".into(), interval: Duration::from_secs(1), burst: 1 };
        assert!(store.spend(&[budget]).await.is_err());
        let asked = accepted.load(Ordering::SeqCst);
        // Within the back-off, the probe does not ask the store again.
        let readiness = Readiness::new(None, Some(store));
        assert_eq!(readiness.check().await, Err(NotReady::SharedStore));
        assert_eq!(accepted.load(Ordering::SeqCst), asked);
    }
}
