//! `GET`/`HEAD /<bucket>/<key>`: stored objects, streamed from disk with the headers they were
//! uploaded with, for previews and download links.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio_util::io::ReaderStream;

use super::{s3_error, DevBucket};
use crate::policy::error;

pub async fn object(State(dev): State<Arc<DevBucket>>, Path((bucket, key)): Path<(String, String)>) -> Response {
    if bucket != dev.bucket {
        return s3_error(error::no_such_bucket(&bucket));
    }
    let (file, meta) = match dev.store.open(&bucket, &key).await {
        Ok(found) => found,
        Err(err) => return s3_error(err),
    };
    let mut response = (StatusCode::OK, Body::from_stream(ReaderStream::new(file))).into_response();
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, &meta.content_type);
    set(header::CONTENT_LENGTH, &meta.size.to_string());
    set(header::ETAG, &meta.etag);
    for (name, value) in &meta.metadata {
        if let Ok(name) = HeaderName::from_bytes(format!("x-amz-meta-{name}").as_bytes()) {
            set(name, value);
        }
    }
    response
}
