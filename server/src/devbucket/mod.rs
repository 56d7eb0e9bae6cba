//! The dev bucket: when no bucket is configured, an S3-compatible endpoint runs in the same
//! process, on its own loopback port, so that the browser makes the same cross-origin requests
//! (CORS preflight included) that it makes to S3. It checks every form with the policy core's
//! verifier and every part's URL with its presigned-URL verifier, and answers as S3 answers.
//!
//! Its parts: the handlers, one per request kind (`post`: a form, `put_part`: one part of a
//! multipart upload, `put_object`: a whole object, `get`: an object), over the state they share
//! and the one way they answer ([`DevBucket`], in `bucket`: every refused write answered,
//! counted and logged in one place); the [`store`] on disk (objects in `<data>/<bucket>/<key>`,
//! each written whole or not at all), its multipart uploads ([`parts`]), and the one path every
//! body takes to disk ([`intake`]).

mod bucket;
pub mod emulate;
mod get;
pub mod intake;
pub mod parts;
mod post;
mod put_object;
mod put_part;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::edge::host::SiteHosts;

use crate::config::{Config, DevBucketConfig};
pub use crate::config::{DEV_BUCKET, DEV_REGION};
use crate::metrics::Metrics;
pub use bucket::DevBucket;
pub use store::Store;

/// The dev bucket's HTTP surface. `origins` are the app's origins, allowed by CORS.
pub fn router(dev: Arc<DevBucket>, origins: Vec<HeaderValue>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST, Method::PUT, Method::GET, Method::HEAD])
        .allow_headers(tower_http::cors::Any)
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            HeaderName::from_static("x-amz-request-id"),
            HeaderName::from_static("x-amz-checksum-sha256"),
        ])
        .max_age(std::time::Duration::from_secs(600));
    Router::new()
        .route("/{bucket}", post(post::upload))
        .route("/{bucket}/{*key}", get(get::object).put(put_part::upload_part))
        // The body is streamed and the policy bounds it; axum's 2 MB default would cut uploads.
        .layer(DefaultBodyLimit::disable())
        .layer(cors)
        .with_state(dev)
}

/// The app's own origins, which the dev bucket's CORS rule allows: where it listens, and the
/// names it is served under (`UPLOAD_PUBLIC_ORIGIN`: behind a proxy, pages come from there).
fn app_origins(addr: SocketAddr, public: &SiteHosts) -> Vec<HeaderValue> {
    let mut origins = vec![format!("http://{addr}")];
    if addr.ip().is_loopback() {
        origins.push(format!("http://localhost:{}", addr.port()));
    }
    for name in public.names() {
        origins.extend([format!("http://{name}"), format!("https://{name}")]);
    }
    origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect()
}

/// How long an unfinished multipart upload is kept: a day, as `server lifecycle` sets by default
/// on a real bucket.
pub const UNFINISHED_UPLOAD_LIFETIME: std::time::Duration = std::time::Duration::from_secs(86_400);

/// Removes unfinished multipart uploads past [`UNFINISHED_UPLOAD_LIFETIME`], at start and then
/// every hour, as a real bucket's lifecycle rule does.
async fn sweep_unfinished(store: Store) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        store.sweep_multipart(UNFINISHED_UPLOAD_LIFETIME).await;
    }
}

/// A dev bucket that runs: what the upload service needs to sign for it and to check what it
/// stores (`Uploads::for_dev_bucket`).
pub struct Running {
    /// Signing for it; `config.bucket` has its base URL.
    pub config: Config,
    pub store: Store,
    /// Where its files land, for the page to say.
    pub files: String,
}

/// Starts the dev bucket on its own port, for the app at `app_addr` served as `public`. The
/// error says what could not be done.
pub async fn start(
    settings: DevBucketConfig,
    app_addr: SocketAddr,
    public: &SiteHosts,
    metrics: Arc<Metrics>,
) -> Result<Running, String> {
    let addr = &settings.addr;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|err| {
        format!("the dev bucket cannot listen on {addr} (UPLOAD_DEV_BUCKET_ADDR): {err}")
    })?;
    let endpoint = format!("http://{}", listener.local_addr().map_err(|err| err.to_string())?);
    let config = settings.config(endpoint);
    // The bucket exists from the start (and /readyz can say so), not from the first upload.
    let bucket_dir = settings.data_dir.join(&config.bucket.name);
    tokio::fs::create_dir_all(&bucket_dir).await.map_err(|err| {
        format!(
            "the dev bucket cannot create {} (UPLOAD_DEV_DATA_DIR): {err}",
            bucket_dir.display()
        )
    })?;
    let credentials = config.credentials.clone().expect("the dev bucket has its own keys");
    let endpoint = config.bucket.endpoint.clone().expect("the dev bucket has its endpoint");
    let store = Store::new(&settings.data_dir);
    let dev = Arc::new(
        DevBucket::new(endpoint, credentials, store.clone(), metrics.clone())
            .emulating(settings.emulate),
    );
    tokio::spawn(sweep_unfinished(store));
    let origins = app_origins(app_addr, public);
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router(dev, origins)).await {
            tracing::error!(error = %err, "the dev bucket stopped");
        }
    });
    let files = bucket_dir.display().to_string();
    tracing::info!(post_url = %config.bucket.post_url(), files = %files, "no UPLOAD_BUCKET set: uploads go to the embedded dev bucket");
    if let Some(store) = settings.emulate {
        tracing::warn!(
            store = store.name(),
            "the dev bucket answers as this store does (UPLOAD_DEV_EMULATE)"
        );
    }
    // Fine on a developer's machine; an alert (monitoring/alerts.yml) when the app is public.
    metrics.dev_bucket_in_use(!app_addr.ip().is_loopback());
    Ok(Running { config, store: Store::new(&settings.data_dir), files })
}
