//! The dev bucket: when no bucket is configured, an S3-compatible POST endpoint runs in the
//! same process, on its own loopback port, so that the browser makes the same cross-origin
//! POST (CORS preflight included) that it makes to S3. It checks every form with the policy
//! core's verifier and answers as S3 answers. Objects land in `<data>/<bucket>/<key>`.

mod get;
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
use crate::metrics::Metrics;
use crate::policy::{Credentials, S3Error};
pub use store::Store;

pub struct DevBucket {
    pub bucket: String,
    pub region: String,
    pub credentials: Credentials,
    pub store: Store,
    /// Its own base URL, e.g. `http://127.0.0.1:3002`.
    pub endpoint: String,
    pub metrics: Arc<Metrics>,
}

impl DevBucket {
    pub fn object_url(&self, key: &str) -> String {
        object_url(&self.endpoint, &self.bucket, key)
    }
}

/// Path-style URL of an object, each key segment percent-encoded.
pub fn object_url(endpoint: &str, bucket: &str, key: &str) -> String {
    let encoded: Vec<String> = key
        .split('/')
        .map(|segment| {
            serde_urlencoded::to_string([("", segment)]).expect("strings encode")[1..]
                .replace('+', "%20")
        })
        .collect();
    format!("{endpoint}/{bucket}/{}", encoded.join("/"))
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
    pub config: Config,
    pub store: Store,
    /// Its base URL, e.g. `http://127.0.0.1:3002`.
    pub endpoint: String,
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
    let config = settings.config(endpoint.clone());
    // The bucket exists from the start (and /readyz can say so), not from the first upload.
    let bucket_dir = settings.data_dir.join(&config.bucket);
    tokio::fs::create_dir_all(&bucket_dir).await.map_err(|err| {
        format!(
            "the dev bucket cannot create {} (UPLOAD_DEV_DATA_DIR): {err}",
            bucket_dir.display()
        )
    })?;
    let dev = Arc::new(DevBucket {
        bucket: config.bucket.clone(),
        region: config.region.clone(),
        credentials: config.credentials.clone().expect("the dev bucket has its own keys"),
        store: Store::new(&settings.data_dir),
        endpoint: endpoint.clone(),
        metrics: metrics.clone(),
    });
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router(dev, app_origins(app_addr))).await {
            tracing::error!(error = %err, "the dev bucket stopped");
        }
    });
    let files = settings.data_dir.join(&config.bucket).display().to_string();
    tracing::info!(post_url = %config.post_url(), files = %files, "no UPLOAD_BUCKET set: uploads go to the embedded dev bucket");
    // Fine on a developer's machine; an alert (monitoring/alerts.yml) when the app is public.
    metrics.dev_bucket_in_use(!app_addr.ip().is_loopback());
    Ok(Running { config, store: Store::new(&settings.data_dir), endpoint, files })
}
