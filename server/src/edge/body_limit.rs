//! Server functions take a few hundred bytes of arguments. A bigger body is a client's fault:
//! answered `413` before it is read (a declared length) or as soon as it passes the limit
//! (a streamed one), never read to the end, never a server error. So are arguments that do not
//! decode: `400`, not the framework's `500`.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};

use app::wire::UploadError;

/// The largest server-function body: a file name of 1024 bytes, 2 KB of metadata and a receipt
/// (under 4 KB) all fit with room to spare.
pub const MAX_API_BODY: usize = 16 * 1024;

fn too_large() -> Response {
    let error = UploadError::Refused(format!(
        "the request is too large (at most {} KB)",
        MAX_API_BODY / 1024
    ));
    let body = serde_json::to_string(&error).expect("errors serialize");
    // `Connection: close`: whatever the client still sends is not read.
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(header::CONTENT_TYPE, "application/json"), (header::CONNECTION, "close")],
        body,
    )
        .into_response()
}

/// axum middleware for `/api/...`.
pub async fn limit(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_API_BODY as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let mut response = match axum::body::to_bytes(body, MAX_API_BODY).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        // Over the limit (or the client went away): nothing more is read.
        Err(_) => return too_large(),
    };
    // The server functions answer their own errors with the status each means; a 500 comes
    // only from the framework failing to read the arguments: the client's fault.
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}
