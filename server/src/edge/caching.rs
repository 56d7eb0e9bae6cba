//! How long a browser may keep each answer: the wasm, JS and CSS under hashed names for a year
//! (a new build has new names, so a second visit downloads nothing), the same files under
//! fixed names only after asking again, the other static files for a day, and pages and server
//! functions not at all (they carry signed forms, return tokens and links made for one visitor).
//! An answer a cache may keep never sets a cookie (a CDN keeping one would hand one uploader id
//! to every visitor), and a static file, sent compressed or not as the browser asked, says so
//! (`Vary: Accept-Encoding`).

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use leptos::config::LeptosOptions;

const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");
const A_DAY: HeaderValue = HeaderValue::from_static("public, max-age=86400");
const NEVER: HeaderValue = HeaderValue::from_static("no-store");

/// The `Cache-Control` for a request to `path`, given whether the build hashed its file names
/// (cargo-leptos `hash-files`) under `pkg_dir`.
pub fn policy(path: &str, pkg_dir: &str, hashed: bool) -> HeaderValue {
    let in_pkg = path
        .strip_prefix('/')
        .and_then(|rest| rest.strip_prefix(pkg_dir))
        .is_some_and(|rest| rest.starts_with('/'));
    if in_pkg {
        return if hashed { IMMUTABLE } else { REVALIDATE };
    }
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("svg" | "ico" | "png" | "txt") => A_DAY,
        // The hashing worker (public/hash-worker.js): its name stays across builds, so a
        // browser asks each time whether it changed (a deploy that changes it is seen at once).
        Some("js") => REVALIDATE,
        _ => NEVER,
    }
}

/// Where the build put its wasm, JS and CSS, and whether it hashed their names.
#[derive(Clone)]
pub struct Assets {
    pub pkg_dir: Arc<str>,
    pub hashed: bool,
}

impl Assets {
    pub fn of(options: &LeptosOptions) -> Self {
        Self { pkg_dir: options.site_pkg_dir.clone(), hashed: options.hash_files }
    }
}

/// Sets [`policy`] on every successful answer that has no `Cache-Control` of its own; errors
/// are never kept. Then: no `Set-Cookie` on what may be kept, and `Vary` on static files.
pub async fn set(State(assets): State<Assets>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let value = policy(&path, &assets.pkg_dir, assets.hashed);
    let mut response = next.run(request).await;
    let status = response.status();
    let value =
        if status.is_success() || status == StatusCode::NOT_MODIFIED { value } else { NEVER };
    let headers = response.headers_mut();
    headers.entry(header::CACHE_CONTROL).or_insert(value);
    if may_be_kept(headers) {
        headers.remove(header::SET_COOKIE);
    }
    let compressible = policy(&path, &assets.pkg_dir, true) != NEVER;
    if compressible || headers.contains_key(header::CONTENT_ENCODING) {
        vary_on_encoding(headers);
    }
    response
}

/// Whether a cache may keep this answer: anything but `no-store` or `private` (`no-cache` is
/// kept, only checked before use).
fn may_be_kept(headers: &HeaderMap) -> bool {
    let directives = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase());
    !directives.into_iter().any(|d| d == "no-store" || d == "private")
}

/// Adds `Accept-Encoding` to `Vary` unless it is named already.
fn vary_on_encoding(headers: &mut HeaderMap) {
    let named = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|name| name.trim().eq_ignore_ascii_case("accept-encoding") || name.trim() == "*");
    if !named {
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
}

/// Leptos's options, with `hash_files` on when the build left its hash file beside this binary
/// (cargo-leptos `hash-files`): the page then names the hashed wasm, JS and CSS, and browsers
/// may keep them. cargo-leptos says so in `LEPTOS_HASH_FILES` only to the processes it starts;
/// a server started any other way (a service manager, the test scripts) finds out here. An
/// explicit `LEPTOS_HASH_FILES` wins (scripts/run.sh's watch builds with fixed names, beside a
/// hash file an earlier build may have left).
pub fn site_options(mut options: leptos::config::LeptosOptions) -> leptos::config::LeptosOptions {
    if std::env::var_os("LEPTOS_HASH_FILES").is_some() {
        return options;
    }
    let beside_binary = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(options.hash_file.as_ref())));
    if beside_binary.is_some_and(|file| file.is_file()) {
        options.hash_files = true;
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_files_are_kept_a_year_and_pages_never() {
        assert_eq!(policy("/pkg/s3-uploader.3f2a.wasm", "pkg", true), IMMUTABLE);
        assert_eq!(policy("/pkg/s3-uploader.wasm", "pkg", false), REVALIDATE);
        assert_eq!(policy("/favicon.svg", "pkg", true), A_DAY);
        assert_eq!(policy("/hash-worker.js", "pkg", true), REVALIDATE);
        for page in ["/", "/uploaded", "/api/sign_upload", "/pkgs/x.wasm", "/pkg"] {
            assert_eq!(policy(page, "pkg", true), NEVER, "{page}");
        }
    }

    #[test]
    fn only_no_store_and_private_answers_are_kept_by_no_cache() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
            headers
        };
        for kept in ["public, max-age=31536000, immutable", "no-cache", "public, max-age=86400"] {
            assert!(may_be_kept(&with(kept)), "{kept}");
        }
        for not in ["no-store", "private, max-age=60", "No-Store"] {
            assert!(!may_be_kept(&with(not)), "{not}");
        }
        let mut headers = with("no-cache");
        headers.insert(header::VARY, HeaderValue::from_static("Origin, Accept-Encoding"));
        vary_on_encoding(&mut headers);
        assert_eq!(headers.get_all(header::VARY).iter().count(), 1);
    }
}
