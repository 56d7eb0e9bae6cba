//! The dev bucket's state, shared by its handlers (its name and keys, its store, its counters),
//! and how every handler answers: as S3 does, and for a write (a POST, a part) counted and
//! logged once, stored or refused.

use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::emulate::Emulated;
use super::store::Store;
use crate::config::dev_bucket_at;
use crate::logging::clip;
use crate::metrics::Metrics;
use crate::policy::{Bucket, Credentials, S3Error};

pub struct DevBucket {
    /// Its name, region and base URL (e.g. `http://127.0.0.1:3002`).
    pub bucket: Bucket,
    pub credentials: Credentials,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// `UPLOAD_DEV_EMULATE`: the store whose refusals it answers with, if any.
    pub emulated: Option<Emulated>,
}

impl DevBucket {
    /// The dev bucket served at `endpoint` ([`dev_bucket_at`]), taking what is
    /// signed with `credentials`, storing in `store`, counting into `metrics`.
    pub fn new(
        endpoint: String,
        credentials: Credentials,
        store: Store,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { bucket: dev_bucket_at(endpoint), credentials, store, metrics, emulated: None }
    }

    /// Answers as `store` does where it refuses what S3 takes ([`Emulated`]).
    pub fn emulating(mut self, store: Option<Emulated>) -> Self {
        self.emulated = store;
        self
    }

    /// The credentials of `access_key_id`, if it is the dev bucket's: what the verifiers look
    /// a key up with.
    pub(super) fn credentials_of(&self, access_key_id: &str) -> Option<Credentials> {
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
