//! Who may frame which page. No site may frame this one (clickjacking) but where the operator
//! lets it: `/embed/NAME?origin=ORIGIN`, the embeddable uploader of the profile `NAME`, is
//! served only for an `ORIGIN` that profile may be embedded on (`UPLOAD_EMBED_ORIGINS`, narrowed
//! by the profile's `embed_origins`), with `Content-Security-Policy: frame-ancestors ORIGIN`:
//! exactly that origin, so a page elsewhere cannot frame it, whatever `origin` it claims. Every
//! other answer says `frame-ancestors 'none'` (and the old `X-Frame-Options: DENY`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

use crate::config::Profiles;
use app::rules::origin;

/// Where the embeddable uploader of a profile is served: `/embed/NAME`.
pub const EMBED_PATH: &str = "/embed/";

const NO_FRAMING: HeaderValue = HeaderValue::from_static("frame-ancestors 'none'");
const DENY: HeaderValue = HeaderValue::from_static("DENY");

/// The `origin` query parameter, as an origin: `None` unless there is exactly one (the page
/// reads the one the server checked), and it is an origin.
fn origin_asked(request: &Request) -> Option<String> {
    let query = request.uri().query().unwrap_or_default();
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(query).ok()?;
    let mut asked = pairs.into_iter().filter(|(name, _)| name == "origin");
    match (asked.next(), asked.next()) {
        (Some((_, raw)), None) => origin(&raw),
        _ => None,
    }
}

/// Serves `/embed/NAME` for the origins its profile allows (refusing it, unframeable, for any
/// other), and marks every answer with who may frame it.
pub async fn frame(
    State(profiles): State<Arc<Profiles>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(name) = request.uri().path().strip_prefix(EMBED_PATH) else {
        return unframeable(next.run(request).await);
    };
    let refusal = match (profiles.get(name), origin_asked(&request)) {
        (None, _) => {
            Err((StatusCode::NOT_FOUND, format!("there is no upload profile {name:?} here")))
        }
        (Some(_), None) => Err((
            StatusCode::BAD_REQUEST,
            "say which page frames the uploader, once: /embed/NAME?origin=https://app.example"
                .into(),
        )),
        (Some(profile), Some(origin)) if profile.embeddable_on(&origin) => Ok(origin),
        (Some(_), Some(origin)) => Err((
            StatusCode::FORBIDDEN,
            format!("this uploader may not be embedded on {origin} (UPLOAD_EMBED_ORIGINS)"),
        )),
    };
    match refusal {
        Ok(origin) => {
            let mut response = next.run(request).await;
            let ancestors = HeaderValue::from_str(&format!("frame-ancestors {origin}"))
                .expect("an origin is a header value");
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, ancestors);
            response
        }
        Err((status, message)) => {
            tracing::warn!(event = "embed_refused", status = status.as_u16(), %message);
            unframeable((status, message).into_response())
        }
    }
}

/// No site may frame `response`.
fn unframeable(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, NO_FRAMING);
    headers.insert(header::X_FRAME_OPTIONS, DENY);
    response
}
