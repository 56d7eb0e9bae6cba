//! Server functions answer only the app's own pages: a POST that a browser marks as coming from
//! another site is refused, so no other site can obtain upload policies through a visitor.
//! Clients that send neither `Origin` nor `Sec-Fetch-Site` are not browsers, and so cannot be
//! used for cross-site request forgery; they pass.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::{middleware::Next, response::IntoResponse, response::Response};
use http::{header, Method, StatusCode};

use super::host::normalized;
use crate::metrics::Metrics;

fn cross_site(request: &Request) -> Option<String> {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" {
            return Some(format!("Sec-Fetch-Site: {site}"));
        }
    }
    let origin = headers.get(header::ORIGIN)?.to_str().unwrap_or("invalid");
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    // The host the check in `super::host` let through; compared as browsers write them.
    let same = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|origin_host| normalized(origin_host) == normalized(host));
    (!same).then(|| format!("Origin: {origin}"))
}

/// axum middleware for the server-function routes (`POST /api/...`).
pub async fn only(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    if request.method() == Method::POST && request.uri().path().starts_with("/api/") {
        if let Some(why) = cross_site(&request) {
            metrics.cross_site_refused();
            tracing::warn!(target: "audit", event = "cross_site_refused", path = request.uri().path(), reason = %why);
            return (
                StatusCode::FORBIDDEN,
                "cross-site requests to the upload service are refused",
            )
                .into_response();
        }
    }
    next.run(request).await
}
