//! What a load balancer asks: `/readyz` answers 200 only while this instance can serve (the
//! bucket answers, the shared store answers when one is configured, and it is not shutting
//! down), else 503 with the reason; every response names the instance (`x-upload-instance`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::{extract::State, response::IntoResponse, routing::get, Router};
use http::{HeaderName, HeaderValue, StatusCode};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::shared::SharedStore;
use crate::uploads::Objects;

pub const INSTANCE_HEADER: HeaderName = HeaderName::from_static("x-upload-instance");

/// What `/readyz` checks.
pub struct Readiness {
    objects: Option<Objects>,
    shared: Option<Arc<SharedStore>>,
    draining: AtomicBool,
}

impl Readiness {
    pub fn new(objects: Option<Objects>, shared: Option<Arc<SharedStore>>) -> Self {
        Self { objects, shared, draining: AtomicBool::new(false) }
    }

    /// From now on `/readyz` says 503: the balancer stops sending new requests here.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// `Ok`, or why this instance should get no traffic.
    pub async fn check(&self) -> Result<(), String> {
        if self.draining.load(Ordering::SeqCst) {
            return Err("shutting down".into());
        }
        if let Some(objects) = &self.objects {
            objects
                .reachable()
                .await
                .map_err(|err| format!("the bucket does not answer: {err}"))?;
        }
        if let Some(shared) = &self.shared {
            shared.ping().await.map_err(|err| {
                format!("the shared store ({}) does not answer: {err}", shared.address())
            })?;
        }
        Ok(())
    }
}

async fn readyz(State(readiness): State<Arc<Readiness>>) -> impl IntoResponse {
    match readiness.check().await {
        Ok(()) => (StatusCode::OK, "ready".to_owned()),
        Err(why) => {
            tracing::warn!(event = "not_ready", reason = %why);
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}"))
        }
    }
}

/// `app` with `/readyz`, and every response naming `instance`.
pub fn operable(app: Router, readiness: Arc<Readiness>, instance: &str) -> Router {
    let name =
        HeaderValue::from_str(instance).unwrap_or_else(|_| HeaderValue::from_static("server"));
    app.route("/readyz", get(readyz).with_state(readiness))
        .layer(SetResponseHeaderLayer::overriding(INSTANCE_HEADER, name))
}
