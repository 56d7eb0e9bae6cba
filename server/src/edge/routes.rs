//! The HTTP surface: the rendered app, its server functions, static files and `/healthz`
//! (alive); [`super::ready::operable`] adds `/readyz` and the instance header. `/metrics` is
//! served elsewhere ([`metrics`]): on an address of its own, not to the public.

use std::sync::Arc;

use app::service::{SignInService, UploadService};
use app::{shell, App};
use axum::{routing::get, Router};
use http::{header, HeaderValue};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::set_header::SetResponseHeaderLayer;

use super::host::{self, HostCheck, SiteHosts};
use super::{body_limit, caching, embed, identity, same_origin};
use crate::metrics::Metrics;
use crate::uploads::Uploads;

/// What the router's handlers share. axum clones a router's state for every request it
/// handles; `LeptosOptions` is a dozen strings (measured: its clone and drop were 4.6% of the
/// server's time under signing load), so it is shared behind one `Arc`, and only the handlers
/// that need the options (pages, static files) take a copy.
#[derive(Clone)]
struct Site(Arc<LeptosOptions>);

impl axum::extract::FromRef<Site> for LeptosOptions {
    fn from_ref(site: &Site) -> Self {
        (*site.0).clone()
    }
}

/// The app's routes, listed once per process. Listing renders the app with every resource
/// held back by a process-wide flag, and a resource first polled while the flag is up never
/// loads (leptos-rs/leptos#4773): a page rendered during a second listing hung forever (seen
/// in tests, which build many routers in one process). One listing, before any router exists,
/// leaves no window.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The whole application; `uploads` is the service the server functions call, `sessions` the
/// key uploader cookies are sealed with (and whose forwarding headers to believe), `hosts` the
/// names the site is served under, `metrics` what the edge counts.
pub fn app(
    options: LeptosOptions,
    uploads: Arc<Uploads>,
    sessions: Arc<identity::Sessions>,
    hosts: SiteHosts,
    metrics: Arc<Metrics>,
) -> Router {
    let routes = route_list();
    let profiles = uploads.config().profiles.clone();
    uploads.serving();
    let uploads: Arc<dyn UploadService> = uploads;
    let sign_in: Arc<dyn SignInService> = Arc::new(crate::auth::session::Desk {
        auth: sessions.auth.clone(),
        key: sessions.key.clone(),
        metrics: metrics.clone(),
    });
    let context = move || {
        provide_context(uploads.clone());
        provide_context(sign_in.clone());
    };
    let host_check =
        Arc::new(HostCheck { hosts, proxies: sessions.proxies.clone(), metrics: metrics.clone() });
    let cross_site_guard = axum::middleware::from_fn_with_state(metrics.clone(), same_origin::only);
    let assets = caching::Assets::of(&options);
    let site = Site(Arc::new(options));
    Router::<Site>::new()
        .route("/healthz", get(|| async { "ok" }))
        .leptos_routes_with_context(&site, routes, context, {
            let options = (*site.0).clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<Site, _>(shell))
        // A path with a `.` or `..` segment names no page and no file: 404 here, before the
        // static-file handler (which answered 503 for it: found by the HTTP fuzz pass).
        .layer(axum::middleware::from_fn(no_dot_segments))
        .layer(axum::middleware::from_fn(no_identity_coding))
        .layer(axum::middleware::from_fn_with_state((sessions, metrics), identity::assign))
        // Before anything reads a server function's body.
        .layer(axum::middleware::from_fn(body_limit::limit))
        // Before anything the app does: a cross-site request is refused here (only the caching
        // and referrer headers, layered outside, still mark its answer).
        .layer(cross_site_guard)
        // Only the site's own names, before anything else looks at the request.
        .layer(axum::middleware::from_fn_with_state(host_check, host::only_own))
        // Hashed assets kept a year, pages never (every answer, refusals included).
        .layer(axum::middleware::from_fn_with_state(assets, caching::set))
        // Pages carry return tokens and view links in URLs: never send them on as a referrer.
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // Who may frame each answer: nobody, but the embeddable uploader's origins.
        .layer(axum::middleware::from_fn_with_state(profiles, embed::frame))
        .with_state(site)
}

async fn no_dot_segments(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if request.uri().path().split('/').any(|segment| segment == "." || segment == "..") {
        return (http::StatusCode::NOT_FOUND, "not found").into_response();
    }
    next.run(request).await
}

/// `Accept-Encoding` without `identity`, for the static-file handler: tower-http's `ServeDir`
/// (with the precompressed copies), asked for a missing file with `identity` among the codings,
/// drops the name's last extension and looks again, so `/pkg/..x` opened `/pkg/.`, a directory
/// it answered 200 with a body it could not send, and `<file>.x` served `<file>` (found by the
/// HTTP fuzz pass). Identity is acceptable whether named or not, so leaving it out changes no
/// other answer.
async fn no_identity_coding(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let value = request.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
    if let Some(value) = value.filter(|v| v.to_ascii_lowercase().contains("identity")) {
        let kept: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|coding| {
                let name = coding.split(';').next().unwrap_or_default().trim();
                !name.is_empty() && !name.eq_ignore_ascii_case("identity")
            })
            .collect();
        match HeaderValue::from_str(&kept.join(", ")) {
            Ok(kept) if !kept.is_empty() => {
                request.headers_mut().insert(header::ACCEPT_ENCODING, kept);
            }
            _ => {
                request.headers_mut().remove(header::ACCEPT_ENCODING);
            }
        }
    }
    next.run(request).await
}

/// `GET /metrics` (OpenMetrics text), for the metrics address (`UPLOAD_METRICS_ADDR`).
pub fn metrics(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || async move {
            (
                [(
                    header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                metrics.encode(),
            )
        }),
    )
}
