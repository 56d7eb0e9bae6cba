//! The dev bucket: when no bucket is configured, an S3-compatible endpoint runs in the same
//! process, on its own loopback port, so that the browser makes the same cross-origin requests
//! (CORS preflight included) that it makes to S3. It checks every form with the policy core's
//! verifier and every part's URL with its presigned-URL verifier, and answers as S3 answers.
//!
//! Its parts: the handlers, one per request kind ([`post`]: a form, `put_part`: one part of a
//! multipart upload, `get`: an object); the [`store`] on disk (objects in `<data>/<bucket>/<key>`,
//! each written whole or not at all), its multipart uploads ([`parts`]), and the one path every
//! body takes to disk ([`intake`]). Every refusal is answered, counted and logged in one place
//! ([`respond`]).

mod get;
pub mod intake;
pub mod parts;
mod post;
mod put_part;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::{Config, DevBucketConfig};
pub use crate::config::{DEV_BUCKET, DEV_REGION};
use crate::logging::clip;
use crate::metrics::Metrics;
use crate::policy::{Bucket, Credentials, S3Error};
pub use store::Store;

pub struct DevBucket {
    /// Its name, region and base URL (e.g. `http://127.0.0.1:3002`).
    pub bucket: Bucket,
    pub credentials: Credentials,
    pub store: Store,
    pub metrics: Arc<Metrics>,
}

impl DevBucket {
    /// The dev bucket ([`DEV_BUCKET`] in [`DEV_REGION`]) served at `endpoint`, taking what is
    /// signed with `credentials`, storing in `store`, counting into `metrics`.
    pub fn new(
        endpoint: String,
        credentials: Credentials,
        store: Store,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            bucket: Bucket::new(DEV_BUCKET, DEV_REGION, Some(endpoint)),
            credentials,
            store,
            metrics,
        }
    }

    /// The credentials of `access_key_id`, if it is the dev bucket's: what the verifiers look
    /// a key up with.
    fn credentials_of(&self, access_key_id: &str) -> Option<Credentials> {
        (access_key_id == self.credentials.access_key_id()).then(|| self.credentials.clone())
    }
}

/// Sets a header from text, skipping a value that cannot be one (stored metadata, say).
pub(crate) fn set_header(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// An S3 error as S3 sends it: its status and an XML body.
pub(crate) fn s3_error(err: S3Error) -> Response {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, [(header::CONTENT_TYPE, "application/xml")], err.to_xml()).into_response()
}

/// How a write (a POST, a part's PUT) to `bucket` is answered: what it stored is counted; a
/// refusal is counted by its code, logged, and answered as S3 answers it.
pub(crate) fn respond(
    dev: &DevBucket,
    bucket: &str,
    result: Result<Response, S3Error>,
) -> Response {
    match result {
        Ok(response) => {
            dev.metrics.dev_stored();
            response
        }
        Err(err) => {
            dev.metrics.dev_refused(err.code);
            tracing::warn!(target: "audit", event = "dev_bucket_refused", bucket = ?clip(bucket), code = err.code, reason = ?clip(&err.message));
            s3_error(err)
        }
    }
}

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

/// The app's own origins, which the dev bucket's CORS rule allows.
fn app_origins(addr: SocketAddr) -> Vec<HeaderValue> {
    let mut origins = vec![format!("http://{addr}")];
    if addr.ip().is_loopback() {
        origins.push(format!("http://localhost:{}", addr.port()));
    }
    origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect()
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

/// Starts the dev bucket on its own port, for the app at `app_addr`. The error says what could
/// not be done.
pub async fn start(
    settings: DevBucketConfig,
    app_addr: SocketAddr,
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
    let dev = Arc::new(DevBucket::new(endpoint, credentials, store, metrics.clone()));
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router(dev, app_origins(app_addr))).await {
            tracing::error!(error = %err, "the dev bucket stopped");
        }
    });
    let files = bucket_dir.display().to_string();
    tracing::info!(post_url = %config.bucket.post_url(), files = %files, "no UPLOAD_BUCKET set: uploads go to the embedded dev bucket");
    // Fine on a developer's machine; an alert (monitoring/alerts.yml) when the app is public.
    metrics.dev_bucket_in_use(!app_addr.ip().is_loopback());
    Ok(Running { config, store: Store::new(&settings.data_dir), files })
}
