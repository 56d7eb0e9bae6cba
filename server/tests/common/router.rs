//! The app as the router tests build it: signing for a made-up Garage bucket with a known
//! secret (which must never show in an answer) and a fixed session key, named instance
//! `test-1`, trusting the proxies `UPLOAD_TRUSTED_PROXIES` names (none by default).

use std::sync::Arc;

use axum::{body::Body, Router};
use leptos::prelude::LeptosOptions;
use server::config::{table, Config};
use server::edge::client::TrustedProxies;
use server::edge::host::SiteHosts;
use server::edge::identity::Sessions;
use server::edge::ready::{operable, Readiness};
use server::seal::SessionKey;
use server::uploads::Uploads;

pub const SECRET: &str = "e2e0f8a1b4c3d2e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d";

pub fn app() -> Router {
    app_with(&[])
}

pub fn app_with(settings: &[(&str, &str)]) -> Router {
    app_and_metrics(settings).0
}

/// The app, and the router of its metrics address.
pub fn app_and_metrics(settings: &[(&str, &str)]) -> (Router, Router) {
    app_serving(settings, LeptosOptions::builder().output_name("s3-uploader").build())
}

/// The app serving the site `options` describe (its static files, hashed names or not).
pub fn app_serving(settings: &[(&str, &str)], options: LeptosOptions) -> (Router, Router) {
    let defaults = [
        ("UPLOAD_BUCKET", "uploads"),
        ("AWS_REGION", "garage"),
        ("AWS_ACCESS_KEY_ID", "GK0123456789abcdef01234567"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:3900"),
        // Most router tests sign made-up files without hashing them; checksums are tested
        // with this set (tests/http.rs).
        ("UPLOAD_CHECKSUM_MAX_BYTES", "0"),
    ];
    // The test's own settings first: the first of a name wins.
    let all: Vec<(&str, &str)> = settings.iter().chain(&defaults).copied().collect();
    let config = Config::from_lookup(table(&all)).unwrap();
    let metrics = Arc::new(server::metrics::Metrics::new());
    let key = Arc::new(SessionKey::from_hex(SESSION_SECRET).unwrap());
    let uploads = Uploads::new(config).with_metrics(metrics.clone()).with_session_key(key.clone());
    let proxies =
        settings.iter().find(|(n, _)| *n == "UPLOAD_TRUSTED_PROXIES").map_or("", |(_, v)| v);
    let proxies = TrustedProxies::parse(proxies).unwrap();
    let auth = Arc::new(server::config::auth::auth(&table(&all)).unwrap());
    let sessions = Sessions { key, proxies, auth };
    let origins =
        settings.iter().find(|(n, _)| *n == "UPLOAD_PUBLIC_ORIGIN").map_or("", |(_, v)| v);
    let hosts = match SiteHosts::parse(origins).unwrap() {
        hosts if hosts.is_empty() => SiteHosts::listening_on(options.site_addr),
        hosts => hosts,
    };
    let app = server::app(options, Arc::new(uploads), Arc::new(sessions), hosts, metrics.clone());
    // No bucket to ask: ready as long as it is not shutting down.
    (operable(app, Arc::new(Readiness::new(None, None)), "test-1"), server::edge::metrics(metrics))
}

const SESSION_SECRET: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

/// How the router tests' app seals cookies and return tokens.
pub fn session_key() -> Sessions {
    Sessions {
        key: Arc::new(SessionKey::from_hex(SESSION_SECRET).unwrap()),
        proxies: TrustedProxies::default(),
        auth: Arc::new(server::auth::Auth::anonymous()),
    }
}

/// A `sign_upload` call with the form `form`, carrying `cookie` when given.
#[allow(dead_code)] // Only the test binaries that sign use it.
pub fn sign_request(form: &str, cookie: Option<&str>) -> http::Request<Body> {
    let mut req = http::Request::post("/api/sign_upload")
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(http::header::ACCEPT, "application/json");
    if let Some(cookie) = cookie {
        req = req.header(http::header::COOKIE, cookie);
    }
    req.body(Body::from(form.to_owned())).unwrap()
}

/// A rendered page's answer and text, within 20 s: a rendering that stalls fails the test with
/// its name instead of hanging the run.
#[allow(dead_code)] // Only the page-rendering test binaries use it.
pub async fn render(app: Router, req: http::Request<Body>) -> (http::response::Parts, String) {
    use tower::ServiceExt;
    let rendered = async {
        let (head, body) = app.oneshot(req).await.unwrap().into_parts();
        (head, body_text(http::Response::new(body)).await)
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), rendered)
        .await
        .expect("the page renders within 20 s")
}

pub async fn body_text(res: http::Response<Body>) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The app over `uploads` (sealing with the router tests' key, serving the default host names),
/// counting into `metrics`.
pub fn app_over(uploads: Uploads, metrics: Arc<server::metrics::Metrics>) -> Router {
    let key = Arc::new(SessionKey::from_hex(SESSION_SECRET).unwrap());
    let uploads = uploads.with_metrics(metrics.clone()).with_session_key(key.clone());
    let sessions = Sessions {
        key,
        proxies: TrustedProxies::default(),
        auth: Arc::new(server::auth::Auth::anonymous()),
    };
    let options = LeptosOptions::builder().output_name("s3-uploader").build();
    let hosts = SiteHosts::listening_on(options.site_addr);
    let app = server::app(options, Arc::new(uploads), Arc::new(sessions), hosts, metrics);
    operable(app, Arc::new(Readiness::new(None, None)), "test-1")
}
