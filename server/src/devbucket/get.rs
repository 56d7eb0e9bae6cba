//! `GET`/`HEAD /<bucket>/<key>`: stored objects, streamed from disk with the headers they were
//! uploaded with, for previews and download links; what could run script is only downloaded.
//! Staged and quarantined objects are not served.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio_util::io::ReaderStream;

use super::bucket::{s3_error, set_header, DevBucket};
use crate::policy::error;

pub async fn object(
    State(dev): State<Arc<DevBucket>>,
    Path((bucket, key)): Path<(String, String)>,
) -> Response {
    if bucket != dev.bucket.name {
        return s3_error(error::no_such_bucket(&bucket));
    }
    // What waits for its checks, or failed them, is served to no one (as an S3 bucket serves
    // nothing without a presigned link, and the service makes none for these).
    if crate::quarantine::is_held(&key) {
        return s3_error(error::no_such_key());
    }
    let (file, meta) = match dev.store.open(&bucket, &key).await {
        Ok(found) => found,
        Err(err) => return s3_error(err),
    };
    let mut response = (StatusCode::OK, Body::from_stream(ReaderStream::new(file))).into_response();
    let headers = response.headers_mut();
    // The dev bucket is the app's site (cookies ignore ports): nothing uploaded may run script
    // here. Only passive types by name are shown inline, as that type; the rest is a download,
    // sandboxed and never sniffed.
    let name = key.rsplit('/').next().unwrap_or_default();
    match app::rules::inline_type(name) {
        Some(shown_as) => set_header(headers, header::CONTENT_TYPE, shown_as),
        None => {
            set_header(headers, header::CONTENT_TYPE, &meta.content_type);
            set_header(headers, header::CONTENT_DISPOSITION, "attachment");
        }
    }
    set_header(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_header(headers, header::CONTENT_SECURITY_POLICY, "sandbox");
    set_header(headers, header::CONTENT_LENGTH, &meta.size.to_string());
    set_header(headers, header::ETAG, &meta.etag);
    for (name, value) in &meta.metadata {
        if let Ok(name) = HeaderName::from_bytes(format!("x-amz-meta-{name}").as_bytes()) {
            set_header(headers, name, value);
        }
    }
    response
}
